"""The lifecycle's rules over HTTP: the API and the referral page answer a stale change with 409
and the current state, and the page offers only the changes the service accepts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from referrals.lifecycle import Side
from referrals.models import Referral
from tests.conftest import act_as
from tests.referrals.lifecycle_reference import ERROR
from tests.referrals.lifecycle_steps import assert_unchanged, snapshot, transition, walk

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

# --- the same rules over HTTP ---------------------------------------------------------------


def test_api_answers_a_stale_version_with_409_and_the_current_state(client, loop):
    referral = loop.send()
    transition(loop, referral, "accepted", Side.RECIPIENT)
    act_as(client, loop.agency_staff, loop.food_agency)
    url = reverse("referrals:api:referral_transition", args=[referral.pk])
    response = client.post(
        url, {"to": "rejected", "reason": "Full", "version": 1}, content_type="application/json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "stale_version"
    assert (body["referral"]["status"], body["referral"]["version"]) == ("accepted", 2)
    refused_response = client.post(
        url, {"to": "completed", "version": 2}, content_type="application/json"
    )
    assert refused_response.status_code == 400
    assert refused_response.json()["error"] == "outcome_required"
    assert Referral.objects.values_list("status", "version").get(pk=referral.pk) == ("accepted", 2)


def test_referral_page_answers_a_stale_change_with_409_and_the_current_state(client, loop):
    referral = loop.send()
    transition(loop, referral, "accepted", Side.RECIPIENT)
    act_as(client, loop.agency_staff, loop.food_agency)
    client.get(reverse("referrals:referral_detail", args=[referral.pk]))  # opened once: on record
    before = snapshot(referral)
    response = client.post(
        reverse("referrals:referral_transition", args=[referral.pk]),
        {"to": "rejected", "reason": "Full", "version": 1},
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Someone else changed this referral" in body
    assert '<strong data-testid="status">Accepted</strong>' in body
    assert 'name="version" value="2"' in body  # the forms now carry the current version
    assert_unchanged(referral, before)


def test_referral_page_offers_only_changes_the_service_accepts(client, loop):
    referral = walk(
        loop,
        loop.send(),
        [
            ("accepted", Side.RECIPIENT, {}),
            ("completed", Side.RECIPIENT, {"outcome": "service-provided"}),
        ],
    )
    act_as(client, loop.clinic_staff, loop.clinic)
    page = client.get(reverse("referrals:referral_detail", args=[referral.pk]))
    assert page.status_code == 200
    assert page.context["next_statuses"] == []
    assert 'name="to"' not in page.content.decode()
    # And on an open referral the sender is offered exactly cancel and entered-in-error.
    open_referral = loop.send(key="k2")
    page = client.get(reverse("referrals:referral_detail", args=[open_referral.pk]))
    assert [row[0] for row in page.context["next_statuses"]] == ["cancelled", ERROR]
