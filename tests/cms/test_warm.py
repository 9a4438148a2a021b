"""cms.warm: what a web process builds before it serves (gunicorn's master runs it once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cms.warm import project_templates, warm


def test_the_project_templates_are_its_own_not_its_packages():
    names = set(project_templates())
    assert {"base.html", "referrals/portal/inbox.html", "search/search.html"} <= names
    base = Path(settings.BASE_DIR)
    own = {
        path.relative_to(folder).as_posix()
        for folder in base.glob("*/templates")
        for path in folder.rglob("*")
        if path.is_file()
    }
    assert names <= own  # nothing of Wagtail's or Django's own templates
    assert "wagtailadmin/base.html" not in names


@pytest.mark.django_db
def test_warm_compiles_every_template_and_reads_no_database():
    with CaptureQueriesContext(connection) as captured:
        compiled = warm()
    assert captured.captured_queries == []
    assert compiled == len(list(project_templates()))
    assert compiled > 100
