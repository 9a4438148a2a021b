"""The clinic prints a client's accounting of disclosures; nobody else can read it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from network.models import Role
from referrals.disclosure import DISCLOSURE_LOG_WINDOW, disclosure_for
from tests.conftest import cold_queries

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")


def _url(loop) -> str:
    return reverse("referrals:client_disclosures", args=[loop.client.pk])


def _view_as_agency(loop, referral, times: int) -> None:
    """``times`` views by the agency, each in a view window of its own (a reload within one
    logs no new row)."""
    start = timezone.now() - times * (DISCLOSURE_LOG_WINDOW + timedelta(minutes=1))
    for n in range(times):
        disclosure_for(
            referral,
            loop.food_agency,
            user=loop.agency_staff,
            ip_address="10.0.0.7",
            at=start + n * (DISCLOSURE_LOG_WINDOW + timedelta(minutes=1)),
        )


@pytest.mark.django_db
def test_accounting_lists_every_disclosure(client, loop):
    referral = loop.send()
    _view_as_agency(loop, referral, 2)
    client.force_login(loop.clinic_staff)
    response = client.get(_url(loop))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count(loop.food_agency.name) >= 2
    assert "Name, Referral note, Phone, Preferred language" in body  # the agreed fields
    assert f"#{referral.pk}" in body


@pytest.mark.django_db
def test_accounting_query_count_does_not_grow(client, loop, django_assert_max_num_queries):
    referral = loop.send()
    client.force_login(loop.clinic_staff)
    _view_as_agency(loop, referral, 1)
    with cold_queries() as few:
        client.get(_url(loop))
    _view_as_agency(loop, referral, 15)
    with cold_queries() as many:
        client.get(_url(loop))
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENCY_STAFF, Role.AGENCY_ADMIN, Role.NETWORK_ADMIN])
def test_other_roles_cannot_read_the_accounting(client, loop, role):
    referral = loop.send()
    _view_as_agency(loop, referral, 1)
    client.force_login(loop.tenant.users[role])
    response = client.get(_url(loop))
    assert response.status_code in {403, 404}
    assert loop.client.last_name not in response.content.decode()


@pytest.mark.django_db
def test_another_clinic_cannot_read_the_accounting(client, loop, other_loop):
    client.force_login(other_loop.clinic_staff)
    assert client.get(_url(loop)).status_code == 404
