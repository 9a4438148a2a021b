"""Bug 11: one page view and its reloads (the page again after a message or a status change,
an htmx partial of it) log one disclosure per person, referral and purpose; a later view, a view
that shows more, another purpose or another person each log their own."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from consent.models import AccessLog
from referrals.disclosure import DISCLOSURE_LOG_WINDOW
from referrals.models import Referral
from referrals.services.transitions import referral_message
from tests.conftest import act_as

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = [pytest.mark.usefixtures("clock_before_sent_at"), pytest.mark.django_db]


def page_url(referral: Referral) -> str:
    return reverse("referrals:referral_detail", args=[referral.pk])


def views(referral: Referral, **filters) -> int:  # type: ignore[no-untyped-def]
    return AccessLog.objects.filter(referral=referral, purpose="view", **filters).count()


def test_a_view_and_two_partial_reloads_log_one_row_and_a_later_view_another(client, loop):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert client.get(page_url(referral)).status_code == 200
    with time_machine.travel(start + timedelta(seconds=20), tick=False):
        reload = client.get(page_url(referral), headers={"HX-Request": "true"})
        assert reload.status_code == 200
    with time_machine.travel(start + timedelta(seconds=50), tick=False):
        # A message, and the page again after it (the plain form's redirect).
        response = client.post(
            reverse("referrals:referral_message", args=[referral.pk]),
            {"text": "We will call tomorrow."},
            follow=True,
        )
        assert response.status_code == 200
    assert views(referral, user=loop.agency_staff) == 1
    with time_machine.travel(start + DISCLOSURE_LOG_WINDOW + timedelta(minutes=1), tick=False):
        client.get(page_url(referral))
    assert views(referral, user=loop.agency_staff) == 2


def test_a_reload_that_shows_more_is_logged(client, loop):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get(page_url(referral))
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        # The clinic writes: the agency's next view shows the clinic's message too.
        referral_message(
            referral=referral, by=loop.clinic_staff, organization=loop.clinic, text="Call her"
        )
        client.get(page_url(referral))
    rows = list(AccessLog.objects.filter(referral=referral, purpose="view").order_by("pk"))
    assert len(rows) == 2
    assert "messages" in rows[1].fields
    assert "messages" not in rows[0].fields


def test_another_person_or_purpose_within_the_window_is_logged(client, loop):
    referral = loop.send()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        act_as(client, loop.agency_staff, loop.food_agency)
        client.get(page_url(referral))
        client.get(reverse("referrals:referral_print", args=[referral.pk]))
        client.get(reverse("referrals:api:referral", args=[referral.pk]))
        act_as(client, loop.clinic_staff, loop.clinic)
        client.get(page_url(referral))
    purposes = sorted(
        AccessLog.objects.filter(referral=referral).values_list("purpose", "organization_id")
    )
    assert purposes == sorted(
        [
            ("view", loop.food_agency.pk),
            ("print", loop.food_agency.pk),
            ("api", loop.food_agency.pk),
            ("view", loop.clinic.pk),
        ]
    )
