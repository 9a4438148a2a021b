"""Production settings refuse to start without real secrets, and pass Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cms.settings.base import env_bool

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3y-" + "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm_NbVcXz-PoIuYtReWq" * 2


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "CELERY_BROKER_URL", "REDIS_URL"}
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


@pytest.mark.parametrize("key", ["", "short", "django-insecure-" + "a" * 60, "a" * 80])
def test_production_refuses_weak_or_missing_secret_key(key):
    result = _run(
        ["check"],
        SECRET_KEY=key,
        ALLOWED_HOSTS="x.org",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_missing_hosts_and_broker():
    no_hosts = _run(["check"], SECRET_KEY=STRONG_KEY, CELERY_BROKER_URL="redis://x:6379/0")
    assert "ALLOWED_HOSTS" in no_hosts.stderr
    assert no_hosts.returncode != 0
    no_broker = _run(["check"], SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="x.org")
    assert "CELERY_BROKER_URL" in no_broker.stderr
    assert no_broker.returncode != 0


def test_production_passes_check_deploy():
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="handoff.example.org",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_boolean_environment_values_are_checked(monkeypatch):
    monkeypatch.setenv("HANDOFF_FLAG", "yes")
    assert env_bool("HANDOFF_FLAG", False) is True
    monkeypatch.setenv("HANDOFF_FLAG", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="HANDOFF_FLAG must be a boolean"):
        env_bool("HANDOFF_FLAG", False)


def test_numbers_from_the_environment_are_checked(monkeypatch):
    from cms.settings.base import env_float

    monkeypatch.setenv("ELASTICSEARCH_TIMEOUT", "1.5")
    assert env_float("ELASTICSEARCH_TIMEOUT", 2.0) == 1.5
    monkeypatch.setenv("ELASTICSEARCH_TIMEOUT", "")
    assert env_float("ELASTICSEARCH_TIMEOUT", 2.0) == 2.0
    monkeypatch.setenv("ELASTICSEARCH_TIMEOUT", "soon")
    with pytest.raises(ImproperlyConfigured, match="ELASTICSEARCH_TIMEOUT must be a number"):
        env_float("ELASTICSEARCH_TIMEOUT", 2.0)
