"""Coded decline and failure reasons: required for a decline or a failure (the words only for
"other"), applied by the one transition service, written on the timeline in words, shown to the
clinic, and taken by the JSON API (an older free-text-only decline is coded "other")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from referrals.errors import TransitionNotAllowed
from referrals.lifecycle import reason_code_refusal, transition_refusal
from referrals.models import Notification, Referral, ReferralEvent
from referrals.services.transitions import referral_transition
from tests.conftest import act_as
from tests.referrals.factories import Loop, move

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")


def page_url(referral: Referral) -> str:
    return reverse("referrals:referral_detail", args=[referral.pk])


def move_url(referral: Referral) -> str:
    return reverse("referrals:referral_transition", args=[referral.pk])


def api_url(referral: Referral) -> str:
    return reverse("referrals:api:referral_transition", args=[referral.pk])


def last_status_text(referral: Referral) -> str:
    return ReferralEvent.objects.filter(referral=referral, kind="status").latest("at", "pk").text


def decline(loop: Loop, referral: Referral, **kwargs) -> Referral:  # type: ignore[no-untyped-def]
    referral.refresh_from_db()
    return referral_transition(
        referral=referral,
        to="rejected",
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=referral.version,
        **kwargs,
    )


# --- the rule -------------------------------------------------------------------------------


def test_the_lifecycle_asks_a_code_for_a_decline_or_failure_and_none_elsewhere():
    assert reason_code_refusal("rejected", "no-capacity") is None
    assert reason_code_refusal("failed", "client-unreachable") is None
    assert reason_code_refusal("rejected", "").code == "reason_code_required"  # type: ignore[union-attr]
    assert reason_code_refusal("failed", "made-up").code == "bad_reason_code"  # type: ignore[union-attr]
    assert reason_code_refusal("on-hold", "no-capacity").code == "bad_reason_code"  # type: ignore[union-attr]
    assert reason_code_refusal("accepted", "") is None
    # A code stands for the words, except "other".
    assert transition_refusal("requested", "rejected", "recipient", reason_code="duplicate") is None
    other = transition_refusal("requested", "rejected", "recipient", reason_code="other")
    assert other is not None
    assert other.code == "reason_required"
    # Callers that do not code reasons keep the old rule.
    legacy = transition_refusal("requested", "rejected", "recipient")
    assert legacy is not None
    assert legacy.code == "reason_required"


# --- the service ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_coded_decline_needs_no_words_and_is_written_in_words(loop):
    referral = loop.send()
    done = decline(loop, referral, reason_code="no-capacity")
    assert (done.status, done.reason_code, done.status_reason) == ("rejected", "no-capacity", "")
    assert last_status_text(referral) == "No capacity"
    body = Notification.objects.filter(referral=referral, kind="referral_rejected").first()
    assert body is not None
    assert "Reason: No capacity." in body.body


@pytest.mark.django_db
def test_other_needs_words_and_keeps_them_after_the_label(loop):
    referral = loop.send()
    with pytest.raises(TransitionNotAllowed) as refused:
        decline(loop, referral, reason_code="other", reason="  ")
    assert refused.value.code == "reason_required"
    assert Referral.objects.get(pk=referral.pk).status == "requested"
    done = decline(loop, referral, reason_code="other", reason="Outside our county")
    assert (done.reason_code, done.status_reason) == ("other", "Outside our county")
    assert last_status_text(referral) == "Other — Outside our county"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "expected"),
    [("", "reason_code_required"), ("made-up", "bad_reason_code")],
)
def test_a_missing_or_unknown_code_is_refused_and_changes_nothing(loop, code, expected):
    referral = loop.send()
    with pytest.raises(TransitionNotAllowed) as refused:
        decline(loop, referral, reason_code=code, reason="Full")
    assert refused.value.code == expected
    assert Referral.objects.values_list("status", "version").get(pk=referral.pk) == (
        "requested",
        1,
    )


@pytest.mark.django_db
def test_a_code_on_another_change_is_refused(loop):
    referral = loop.send()
    with pytest.raises(TransitionNotAllowed) as refused:
        referral_transition(
            referral=referral,
            to="accepted",
            by=loop.agency_staff,
            organization=loop.food_agency,
            version=1,
            reason_code="no-capacity",
        )
    assert refused.value.code == "bad_reason_code"


@pytest.mark.django_db
def test_a_caller_that_does_not_code_reasons_declines_as_other(loop):
    referral = loop.send()
    move(referral, "rejected", loop.agency_staff, loop.food_agency, reason="Outside our area")
    referral.refresh_from_db()
    assert (referral.reason_code, referral.status_reason) == ("other", "Outside our area")
    # Other changes carry no code.
    held = loop.send(key="held")
    move(held, "accepted", loop.agency_staff, loop.food_agency)
    move(held, "on-hold", loop.agency_staff, loop.food_agency, reason="Waiting for papers")
    held.refresh_from_db()
    assert held.reason_code == ""


@pytest.mark.django_db
def test_a_failure_carries_outcome_code_and_words_on_the_timeline(loop):
    referral = loop.send()
    move(referral, "accepted", loop.agency_staff, loop.food_agency)
    move(
        referral,
        "failed",
        loop.agency_staff,
        loop.food_agency,
        outcome="client-unreachable",
        outcome_note="Phone disconnected",
        reason_code="client-unreachable",
    )
    referral.refresh_from_db()
    assert (referral.status, referral.reason_code) == ("failed", "client-unreachable")
    assert last_status_text(referral) == (
        "Client could not be reached — Could not reach the client — Phone disconnected"
    )


# --- the referral page -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_decline_form_asks_a_coded_reason_and_the_clinic_sees_it(client, loop):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(page_url(referral)).content.decode()
    assert 'name="reason_code" required' in body
    for label in ("Not eligible", "No capacity", "Could not reach the client", "Duplicate"):
        assert label in body
    response = client.post(
        move_url(referral),
        {"to": "rejected", "reason_code": "not-eligible", "reason": "", "version": 1},
    )
    assert response.status_code == 302
    assert Referral.objects.get(pk=referral.pk).reason_code == "not-eligible"
    act_as(client, loop.clinic_staff, loop.clinic)
    clinic_page = client.get(page_url(referral)).content.decode()
    assert '<strong data-testid="reason-code">Not eligible</strong>' in clinic_page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"reason_code": ""}, "Choose a reason from the list"),
        ({"reason_code": "made-up"}, "Choose one of the reasons in the list."),
        ({"reason_code": "other", "reason": " "}, "You chose “Other”"),
    ],
)
def test_the_decline_form_refuses_bad_input_and_keeps_the_form_open(client, loop, posted, message):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    response = client.post(
        move_url(referral), {"to": "rejected", "version": 1, **posted}, follow=True
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was changed." in body
    assert message in body
    assert '<details class="action" open>' in body
    if posted["reason_code"] == "other":
        assert '<option value="other" selected>' in body  # kept for the second try
    assert Referral.objects.get(pk=referral.pk).status == "requested"


@pytest.mark.django_db
def test_the_fail_form_asks_a_coded_reason(client, loop):
    referral = loop.send()
    move(referral, "accepted", loop.agency_staff, loop.food_agency)
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(page_url(referral)).content.decode()
    assert 'id="reason-code-failed" name="reason_code" required' in body
    response = client.post(
        move_url(referral),
        {"to": "failed", "outcome": "no-capacity", "reason_code": "no-capacity", "version": 2},
    )
    assert response.status_code == 302
    assert Referral.objects.get(pk=referral.pk).reason_code == "no-capacity"


# --- the JSON API ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_takes_a_code_and_reports_it(client, loop):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    response = client.post(
        api_url(referral),
        {"to": "rejected", "reason_code": "duplicate", "version": 1},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["reason_code"] == "duplicate"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        ({"reason_code": "made-up", "reason": "Full"}, "bad_reason_code", "not a reason code"),
        ({"reason_code": "", "reason": "Full"}, "reason_code_required", "coded reason"),
        ({"reason_code": "other"}, "reason_required", "reason is required"),
        ({"reason_code": 7}, "invalid", ""),
    ],
)
def test_the_api_answers_bad_codes_with_400(client, loop, body, error, words):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    response = client.post(
        api_url(referral), {"to": "rejected", "version": 1, **body}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == error
    if words:
        assert words in response.json()["message"]
    assert Referral.objects.get(pk=referral.pk).status == "requested"


@pytest.mark.django_db
def test_the_apis_older_free_text_decline_is_coded_other(client, loop):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    response = client.post(
        api_url(referral),
        {"to": "rejected", "reason": "Full", "version": 1},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["reason_code"] == "other"
