"""The referral page as the agency works it: the client's language up front, a clear form for
every change, refusals that say what to fix, and nothing for anyone else."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from consent import services as consent_services
from consent.models import ClientField
from referrals.models import Referral, ReferralEvent
from tests.conftest import act_as
from tests.referrals.factories import Loop, move

pytestmark = pytest.mark.django_db


def page_url(referral: Referral) -> str:
    return reverse("referrals:referral_detail", args=[referral.pk])


def move_url(referral: Referral) -> str:
    return reverse("referrals:referral_transition", args=[referral.pk])


def state(referral: Referral) -> tuple[str, int, int]:
    """Status, version and number of status events: what a refused change must leave alone."""
    fresh = Referral.objects.get(pk=referral.pk)
    return (
        fresh.status,
        fresh.version,
        ReferralEvent.objects.filter(referral=referral, kind="status").count(),
    )


def refused(response) -> str:  # type: ignore[no-untyped-def]
    """The page a refused change leads back to (a plain form's redirect), as text."""
    assert [code for _url, code in response.redirect_chain] == [302]
    assert response.status_code == 200
    return response.content.decode()


def as_agency(client, loop: Loop) -> None:  # type: ignore[no-untyped-def]
    act_as(client, loop.agency_staff, loop.food_agency)


def test_the_agency_sees_the_clients_language_up_front(client, loop):
    referral = loop.send()
    as_agency(client, loop)
    body = client.get(page_url(referral)).content.decode()
    assert 'data-testid="client-language"' in body
    assert "Spanish — Español" in body
    assert "<dd>Spanish — Español</dd>" in body  # and among the disclosed fields, by name


def test_the_language_is_not_shown_when_the_agreement_does_not_let_it_through(client, loop):
    referral = loop.send()
    fields = [f for f in loop.agreements["food"].fields if f != ClientField.PREFERRED_LANGUAGE]
    narrower = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=fields, effective_from=date(2026, 1, 1)
    )
    consent_services.agreement_activate(agreement=narrower, by=loop.admin)
    as_agency(client, loop)
    body = client.get(page_url(referral)).content.decode()
    assert 'data-testid="client-language"' not in body
    assert "Español" not in body
    assert "Maria Lopez" in body  # the other agreed fields still show


def test_a_new_referral_offers_accept_and_decline_with_a_labelled_reason(client, loop):
    referral = loop.send()
    as_agency(client, loop)
    body = client.get(page_url(referral)).content.decode()
    assert [a.to for a in client.get(page_url(referral)).context["next_statuses"]] == [
        "accepted",
        "rejected",
        "cancelled",
    ]
    assert 'data-testid="action-accepted"' in body
    assert '<label for="reason-rejected">Why are you declining?' in body
    # The coded reason is required; the words only for "Other" (checked when posted).
    assert '<label for="reason-code-rejected">Reason for declining</label>' in body
    assert 'id="reason-code-rejected" name="reason_code" required' in body
    assert 'id="reason-rejected" name="reason" rows="2">' in body
    assert ">Decline</button>" in body


def test_accept_start_hold_resume_complete(client, loop):
    referral = loop.send()
    as_agency(client, loop)
    steps = [
        ({"to": "accepted"}, "accepted"),
        ({"to": "in-progress"}, "in-progress"),
        ({"to": "on-hold", "reason": "Waiting for the client's documents"}, "on-hold"),
        ({"to": "in-progress"}, "in-progress"),
        (
            {"to": "completed", "outcome": "service-provided", "outcome_note": "Two boxes"},
            "completed",
        ),
    ]
    for version, (data, status) in enumerate(steps, start=1):
        if status == "in-progress" and version == 4:
            body = client.get(page_url(referral)).content.decode()
            assert ">Resume work</button>" in body
        response = client.post(move_url(referral), {**data, "version": version})
        assert response.status_code == 302, response.content.decode()
        assert Referral.objects.get(pk=referral.pk).status == status
    done = Referral.objects.get(pk=referral.pk)
    assert (done.outcome, done.outcome_note) == ("service-provided", "Two boxes")
    assert client.get(page_url(referral)).context["next_statuses"] == []


def test_decline_without_a_reason_says_so_and_changes_nothing(client, loop):
    referral = loop.send()
    as_agency(client, loop)
    client.get(page_url(referral))
    before = state(referral)
    response = client.post(
        move_url(referral), {"to": "rejected", "reason": "  ", "version": 1}, follow=True
    )
    body = refused(response)
    assert "Nothing was changed." in body
    assert "Say why you are declining" in body
    assert '<details class="action" open>' in body  # the form stays open, with the error in it
    assert state(referral) == before


def test_complete_without_an_outcome_says_so_and_changes_nothing(client, loop):
    referral = loop.send()
    move(referral, "accepted", loop.agency_staff, loop.food_agency)
    as_agency(client, loop)
    before = state(referral)
    response = client.post(move_url(referral), {"to": "completed", "version": 2}, follow=True)
    assert "Choose an outcome" in refused(response)
    assert state(referral) == before
    bogus = client.post(
        move_url(referral), {"to": "completed", "outcome": "made-up", "version": 2}, follow=True
    )
    assert "Choose one of the outcomes in the list." in refused(bogus)
    assert state(referral) == before


def test_fail_needs_an_outcome_and_a_reason(client, loop):
    referral = loop.send()
    move(referral, "accepted", loop.agency_staff, loop.food_agency)
    as_agency(client, loop)
    no_reason = client.post(
        move_url(referral),
        {"to": "failed", "outcome": "client-unreachable", "version": 2},
        follow=True,
    )
    body = refused(no_reason)
    assert "Say what happened" in body
    # The outcome chosen is kept for the second try, in that form only.
    assert body.count('<option value="client-unreachable" selected>') == 1
    # Shown once: reloading the page shows it without the refusal.
    assert "Say what happened" not in client.get(page_url(referral)).content.decode()
    response = client.post(
        move_url(referral),
        {"to": "failed", "outcome": "client-unreachable", "reason": "Three calls", "version": 2},
    )
    assert response.status_code == 302
    assert Referral.objects.get(pk=referral.pk).status == "failed"


def test_a_stale_form_gets_409_explaining_someone_else_changed_it(client, loop):
    referral = loop.send()
    as_agency(client, loop)
    client.get(page_url(referral))
    move(referral, "accepted", loop.agency_staff, loop.food_agency)  # a colleague, meanwhile
    before = state(referral)
    response = client.post(move_url(referral), {"to": "rejected", "reason": "Full", "version": 1})
    assert response.status_code == 409
    body = response.content.decode()
    assert "Your change was not saved." in body
    assert "Someone else changed this referral" in body
    assert 'name="version" value="2"' in body
    assert state(referral) == before


def test_a_change_the_referral_no_longer_allows_is_refused_plainly(client, loop):
    referral = loop.send()
    as_agency(client, loop)
    response = client.post(move_url(referral), {"to": "completed", "version": 1}, follow=True)
    assert "This change is not possible now: the referral is requested." in refused(response)
    missing_version = client.post(move_url(referral), {"to": "accepted"}, follow=True)
    assert "The form was incomplete" in refused(missing_version)
    assert Referral.objects.get(pk=referral.pk).status == "requested"


def test_messages_go_to_the_sender(client, loop):
    referral = loop.send()
    as_agency(client, loop)
    body = client.get(page_url(referral)).content.decode()
    assert f"Message to {loop.clinic.name}" in body
    response = client.post(
        reverse("referrals:referral_message", args=[referral.pk]), {"text": "Call us back"}
    )
    assert response.status_code == 302
    assert ReferralEvent.objects.filter(referral=referral, kind="message").count() == 1


# --- who may act on it -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["other agency", "network admin", "other network"])
def test_nobody_else_sees_or_changes_the_referral(client, loop, other_loop, who):
    referral = loop.send()
    if who == "other agency":
        act_as(client, loop.users["housing_staff"], loop.housing_agency)
    elif who == "network admin":
        act_as(client, loop.admin)
    else:
        act_as(client, other_loop.agency_staff, other_loop.food_agency)
    before = state(referral)
    page = client.get(page_url(referral))
    assert page.status_code == 404
    assert "Maria" not in page.content.decode()
    assert client.post(move_url(referral), {"to": "accepted", "version": 1}).status_code == 404
    assert state(referral) == before


def test_the_clinic_cannot_accept_its_own_referral(client, loop):
    referral = loop.send()
    act_as(client, loop.clinic_staff, loop.clinic)
    before = state(referral)
    response = client.post(move_url(referral), {"to": "accepted", "version": 1}, follow=True)
    assert "This change is for the other side of the referral to make." in refused(response)
    assert state(referral) == before
