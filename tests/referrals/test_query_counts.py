"""The referral list API and the referral page cost the same queries for any number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from referrals.services.transitions import referral_message
from tests.conftest import act_as

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

LIST = reverse("referrals:api:referrals")


def _queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("side", ["clinic", "agency"])
def test_referral_list_api_does_not_grow_with_referrals(client, loop, side):
    if side == "clinic":
        act_as(client, loop.clinic_staff, loop.clinic)
    else:
        act_as(client, loop.agency_staff, loop.food_agency)
    loop.send(key="first")
    few = _queries(client, LIST)
    for n in range(12):
        loop.send(key=f"more-{n}", service=loop.housing if n % 2 else loop.food)
    many = _queries(client, LIST)
    assert many == few
    assert len(client.get(LIST).json()["contents"]) == (13 if side == "clinic" else 7)


@pytest.mark.django_db
def test_referral_page_does_not_grow_with_its_timeline(client, loop):
    referral = loop.send()
    act_as(client, loop.clinic_staff, loop.clinic)
    url = reverse("referrals:referral_detail", args=[referral.pk])
    client.get(url)  # the first view writes its log row; its reloads within minutes do not
    few = _queries(client, url)
    for n in range(10):
        referral_message(
            referral=referral, by=loop.clinic_staff, organization=loop.clinic, text=f"Note {n}"
        )
    assert _queries(client, url) == few
