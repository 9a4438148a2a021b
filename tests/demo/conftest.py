"""The demo's tests write what ``seed_demo`` leaves in the var directory (the demo EHR's
credentials) to a temporary one, never over a developer's ``var/demo-ehr.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def var_dir_temporary(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
