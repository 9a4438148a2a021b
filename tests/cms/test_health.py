"""Probes: /healthz says the process runs (and touches nothing), /readyz that the database,
cache, broker and search answer; both on any Host and over plain HTTP, before the checks that
would refuse an orchestrator's probe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from cms import health
from tests.cms.support import STRONG_KEY, manage_run

POD_ADDRESS = "10.42.7.19:8000"


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """The Celery app's broker, for the duration (as a worker's settings would name it)."""
    from cms.celery import app

    saved = app.conf.broker_url
    app.conf.update(broker_url=url)
    try:
        yield
    finally:
        app.conf.update(broker_url=saved)


@pytest.mark.django_db
def test_healthz_answers_ok_and_touches_nothing(client):
    from django.db import connection

    with (
        CaptureQueriesContext(connection) as queries,
        mock.patch.object(health, "readiness") as readiness,
    ):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Cache-Control"] == "no-store"
    assert len(queries) == 0
    readiness.assert_not_called()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.django_db
def test_probes_answer_on_an_unknown_host_over_plain_http(client, path):
    """An orchestrator probes with the pod's address as Host: not in ALLOWED_HOSTS, no network's
    site, no HTTPS. The probe still gets its answer, not a 400 or a redirect."""
    with override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["handoff.example.org"]):
        response = client.get(path, HTTP_HOST=POD_ADDRESS)
    assert response.status_code == 200
    with override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["handoff.example.org"]):
        other = client.get("/search/", HTTP_HOST=POD_ADDRESS)
    assert other.status_code == 400  # everything else is still refused on that host


@pytest.mark.django_db
def test_readyz_reports_each_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "status": "ok",
        # Eager tasks (the test settings): no broker; no ELASTICSEARCH_URL: no search server.
        "checks": {
            "database": "ok",
            "cache": "ok",
            "broker": "skipped",
            "elasticsearch": "skipped",
        },
    }


class _BrokenCache:
    def set(self, *args: object, **kwargs: object) -> None:
        raise ConnectionError("redis://:s3cret-password@cache.internal:6379/0 refused")


@pytest.mark.django_db
def test_a_failing_cache_makes_readyz_503_naming_it_and_nothing_else(client):
    with mock.patch.object(health, "caches", {"default": _BrokenCache()}):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"] == "failed"
    assert body["checks"]["database"] == "ok"
    assert b"s3cret" not in response.content
    assert b"cache.internal" not in response.content


@pytest.mark.django_db
def test_readyz_checks_only_what_check_names(client):
    """The web pods' readiness probe asks for the database alone: a cache, broker or search
    outage (which every pod shares and serves through) must not take every pod out at once."""
    with mock.patch.object(health, "caches", {"default": _BrokenCache()}):
        only_database = client.get("/readyz", {"check": "database"})
        everything = client.get("/readyz")
    assert only_database.status_code == 200
    assert json.loads(only_database.content) == {"status": "ok", "checks": {"database": "ok"}}
    assert everything.status_code == 503  # without ?check=, the cache is asked as before
    assert json.loads(everything.content)["checks"]["cache"] == "failed"


@pytest.mark.django_db
def test_readyz_check_takes_several_names_in_either_form(client):
    listed = client.get("/readyz?check=cache,database")
    repeated = client.get("/readyz?check=database&check=cache")
    for response in (listed, repeated):
        assert response.status_code == 200
        assert json.loads(response.content)["checks"] == {"database": "ok", "cache": "ok"}


@pytest.mark.parametrize("query", ["check=databse", "check=", "check=,", "check=database,%00"])
@pytest.mark.django_db
def test_readyz_refuses_a_check_it_does_not_have_with_400(client, query):
    with mock.patch.object(health, "readiness") as readiness:
        response = client.get(f"/readyz?{query}", HTTP_HOST=POD_ADDRESS)
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["status"] == "bad request"
    assert "database, cache, broker, elasticsearch" in body["message"]
    assert "databse" not in body["message"]  # what was asked is not repeated
    assert response["Cache-Control"] == "no-store"
    readiness.assert_not_called()


@pytest.mark.django_db
def test_an_unreachable_broker_makes_readyz_503(client, settings):
    """With real workers (not eager), the broker is asked, briefly; a closed port fails it."""
    from tests.processes import free_port

    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at(f"redis://:s3cret-password@127.0.0.1:{free_port()}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["checks"]["broker"] == "failed"
    assert body["checks"]["cache"] == "ok"
    assert b"s3cret" not in response.content


@pytest.mark.django_db
def test_a_reachable_broker_is_ok(client, settings):
    """The local Redis the test settings name (CI starts one)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at(settings.CELERY_BROKER_URL):
        response = client.get("/readyz")
    assert json.loads(response.content)["checks"]["broker"] == "ok"


@pytest.mark.django_db
def test_an_unreachable_database_or_search_makes_readyz_503(client, settings):
    from tests.processes import free_port

    settings.ELASTICSEARCH_URL = f"http://127.0.0.1:{free_port()}"
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection",
        side_effect=OperationalError("could not connect to server at db.internal"),
    ):
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = json.loads(response.content)["checks"]
    assert checks["database"] == "failed"
    assert checks["elasticsearch"] == "failed"
    assert b"db.internal" not in response.content


def test_probes_come_first_and_are_exempt_from_the_https_redirect():
    from django.conf import settings

    assert settings.MIDDLEWARE.index("cms.health.HealthMiddleware") < min(
        settings.MIDDLEWARE.index(name)
        for name in (
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "network.middleware.TenantMiddleware",
        )
    )


def test_production_exempts_the_probes_from_the_https_redirect():
    """In the production settings: the probes are exempt from SECURE_SSL_REDIRECT (should the
    middleware ever move), and WhiteNoise still comes right after SecurityMiddleware."""
    result = manage_run(
        [
            "shell",
            "-c",
            "import re; from django.conf import settings as s; "
            "print(all(any(re.search(p, path) for p in s.SECURE_REDIRECT_EXEMPT) "
            "for path in ('healthz', 'readyz'))); "
            "i = s.MIDDLEWARE.index('django.middleware.security.SecurityMiddleware'); "
            "print(s.MIDDLEWARE[i + 1]); print(s.MIDDLEWARE[:2])",
        ],
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="handoff.example.org",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        WAGTAILADMIN_BASE_URL="https://handoff.example.org",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()[-3:]
    assert lines[0] == "True"
    assert lines[1] == "whitenoise.middleware.WhiteNoiseMiddleware"
    assert lines[2] == "['cms.request_id.RequestIdMiddleware', 'cms.health.HealthMiddleware']"
