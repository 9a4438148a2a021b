"""While the database cannot be reached, every page answers 503 with Retry-After and a short
page (not 500, not a hang); a programming error still answers 500."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError, ProgrammingError, connection
from django.test import Client as HttpClient
from django.urls import reverse

from tests.conftest import act_as
from tests.network.factories import Tenant

ENSURE_CONNECTION = "django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection"


@pytest.fixture
def http() -> HttpClient:
    """A client that gets the error pages a browser would (not the exception re-raised)."""
    return HttpClient(raise_request_exception=False)


@pytest.fixture
def database_down() -> Iterator[None]:
    """Every query fails as when PostgreSQL is unreachable (a connection refused)."""
    error = OperationalError('connection to server at "db.internal" port 5432 failed: refused')
    with mock.patch(ENSURE_CONNECTION, side_effect=error):
        yield


def _assert_unavailable(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert "Handoff is briefly unavailable" in body
    assert "db.internal" not in body  # the error itself stays in the logs


@pytest.mark.django_db
def test_a_workspace_page_answers_503_while_the_database_is_down(http, tenant_a: Tenant):
    act_as(http, tenant_a.users["clinic_staff"], tenant_a.clinic)
    host = tenant_a.network.site.hostname
    assert http.get(reverse("network:workspace"), HTTP_HOST=host).status_code == 200
    with mock.patch(
        ENSURE_CONNECTION, side_effect=OperationalError("server closed the connection")
    ):
        response = http.get(reverse("network:workspace"), HTTP_HOST=host)
    _assert_unavailable(response)


@pytest.mark.django_db
def test_the_public_search_answers_503_while_the_database_is_down(
    http, tenant_a: Tenant, database_down
):
    response = http.get(
        reverse("search:public"), {"q": "food"}, HTTP_HOST=tenant_a.network.site.hostname
    )
    _assert_unavailable(response)


@pytest.mark.django_db
def test_a_broken_connection_answers_503_too(http, tenant_a: Tenant):
    with mock.patch(ENSURE_CONNECTION, side_effect=InterfaceError("connection already closed")):
        response = http.get(reverse("login"), HTTP_HOST=tenant_a.network.site.hostname)
    _assert_unavailable(response)


@pytest.mark.django_db
def test_a_programming_error_still_answers_500(http, tenant_a: Tenant):
    with mock.patch(ENSURE_CONNECTION, side_effect=ProgrammingError("no such column")):
        response = http.get(reverse("search:public"), HTTP_HOST=tenant_a.network.site.hostname)
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert b"briefly unavailable" not in response.content


def test_postgresql_connections_give_up_within_seconds():
    """A database that does not answer fails the request quickly (then 503), never hangs it."""
    options = connection.settings_dict.get("OPTIONS", {})
    if connection.vendor == "postgresql":
        assert 0 < options["connect_timeout"] <= 10
    else:
        assert "connect_timeout" not in options  # sqlite3.connect() would refuse it
