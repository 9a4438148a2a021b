"""Production settings refuse to start without real secrets, and pass Django's deploy checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from cms.settings.base import env_bool
from tests.cms.support import ROOT, STRONG_KEY, manage_run


@pytest.mark.parametrize("key", ["", "short", "django-insecure-" + "a" * 60, "a" * 80])
def test_production_refuses_weak_or_missing_secret_key(key):
    result = manage_run(
        ["check"],
        SECRET_KEY=key,
        ALLOWED_HOSTS="x.org",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        WAGTAILADMIN_BASE_URL="https://x.org",
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_missing_hosts_and_broker():
    no_hosts = manage_run(
        ["check"],
        SECRET_KEY=STRONG_KEY,
        CELERY_BROKER_URL="redis://x:6379/0",
        WAGTAILADMIN_BASE_URL="https://x.org",
    )
    assert "ALLOWED_HOSTS" in no_hosts.stderr
    assert no_hosts.returncode != 0
    no_broker = manage_run(
        ["check"],
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="x.org",
        WAGTAILADMIN_BASE_URL="https://x.org",
    )
    assert "CELERY_BROKER_URL" in no_broker.stderr
    assert no_broker.returncode != 0


def test_production_passes_check_deploy():
    result = manage_run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="handoff.example.org",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        WAGTAILADMIN_BASE_URL="https://handoff.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("base_url", ["", "handoff.example.org", "https://"])
def test_production_refuses_to_start_without_the_public_base_url(base_url):
    """Links in emails would otherwise point at http://127.0.0.1:8000."""
    result = manage_run(
        ["check"],
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="handoff.example.org",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        WAGTAILADMIN_BASE_URL=base_url,
    )
    assert result.returncode != 0
    assert "WAGTAILADMIN_BASE_URL must be" in result.stderr


def test_development_links_follow_the_port_the_demo_serves_on():
    """`make demo PORT=8123` passes PORT (and HANDOFF_HOST) to the dev settings."""
    env = {k: v for k, v in os.environ.items() if k != "WAGTAILADMIN_BASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="cms.settings.dev", PORT="8123", HANDOFF_HOST="localhost")
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.WAGTAILADMIN_BASE_URL)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "http://localhost:8123"


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


# What reads a variable: the settings' helpers (env_str, env_int…) and os.environ.
VARIABLE_READ = re.compile(
    r"\b(?:env_(?:str|int|bool|float|list)|environ\.get|getenv)\(\s*\"([A-Z][A-Z0-9_]+)\""
)


def test_every_variable_the_settings_read_is_documented():
    sources = [
        *sorted((ROOT / "cms" / "settings").glob("*.py")),
        ROOT / "cms" / "object_storage.py",
        ROOT / "cms" / "sentry.py",
        ROOT / "deploy" / "gunicorn.conf.py",
    ]
    read = {name for path in sources for name in VARIABLE_READ.findall(path.read_text())}
    documented = set(
        re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "deploy" / "environment.md").read_text())
    )
    assert {"SECRET_KEY", "HSDS_FEED_STALE_MINUTES", "GUNICORN_WORKERS"} <= read
    assert sorted(read - documented) == []
