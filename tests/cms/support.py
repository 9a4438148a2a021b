"""Running ``manage.py`` as production does, in a subprocess with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3y-" + "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm_NbVcXz-PoIuYtReWq" * 2


def manage_run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "CELERY_BROKER_URL",
            "REDIS_URL",
            "WAGTAILADMIN_BASE_URL",
        }
    }
    clean.update(DJANGO_SETTINGS_MODULE="cms.settings.production", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
