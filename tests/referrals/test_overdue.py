"""The scheduled overdue sweep, run with explicit clocks: reminders before and at the answer
deadline, escalation with other agencies suggested, outcome reminders, consent expiry; each step
once, however often the sweep runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError
from django.utils import timezone

from consent import services as consent_services
from consent.models import Consent
from directory.models import CapacityStatus, Location
from network.models import Role, User
from referrals.models import Channel, EventKind, Notification, Referral
from referrals.services.overdue import referral_alternatives, referrals_overdue_process
from referrals.services.transitions import referral_transition
from referrals.tasks import referrals_overdue_sweep
from tests.directory.factories import CRESCENT_CITY, EUREKA, Spec, directory_build
from tests.referrals.factories import SENT_AT, Loop

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

# SENT_AT is Tuesday 24 November 2026, 10:00 Pacific; the agreements give 16 business hours.
DUE = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # Thursday 10:00 Pacific
SOON = DUE - timedelta(hours=12)  # the last quarter of the 48-hour window
ESCALATE = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)  # 4 business hours later: 14:00 Pacific
NOTHING = dict.fromkeys(("reminded", "due", "escalated", "outcome", "consent"), 0)


@pytest.fixture
def alternatives(loop: Loop) -> None:
    """Other food services: one nearby at another agency (the one to suggest), one 66 miles away,
    one not taking referrals, and a second service of the same agency."""
    directory_build(
        loop.tenant.network,
        [
            Spec(
                "Eastside Groceries",
                "Free groceries.",
                places=[EUREKA],
                categories=["food-insecurity"],
                agency="Eastside Food Co-op",
            ),
            Spec(
                "Del Norte Food Share",
                "Food boxes.",
                places=[CRESCENT_CITY],
                categories=["food-insecurity"],
                agency="Crescent Food Share",
            ),
            Spec(
                "Full Pantry",
                "Closed to new clients.",
                places=[EUREKA],
                categories=["food-insecurity"],
                agency="Full Pantry Inc",
                capacity=CapacityStatus.NOT_ACCEPTING,
            ),
        ],
    )


def sweep(now: datetime) -> dict[str, int]:
    return referrals_overdue_process(now=now)


def timeline(referral: Referral) -> list[tuple[str, str]]:
    return [(e.kind, e.text) for e in referral.events.order_by("at", "pk")]


def told(referral: Referral, kind: str) -> set[tuple[str, str]]:
    return {
        (n.user.username, n.channel)
        for n in Notification.objects.filter(referral=referral, kind=kind).select_related("user")
    }


def both_channels(*users: User) -> set[tuple[str, str]]:
    return {(u.username, c) for u in users for c in (Channel.IN_APP, Channel.EMAIL)}


def agency_staff(loop: Loop) -> tuple[User, User]:
    return loop.agency_staff, loop.tenant.users[Role.AGENCY_ADMIN]


def answer(loop: Loop, referral: Referral, to: str, at: datetime, **kwargs: Any) -> Referral:
    return referral_transition(
        referral=referral,
        to=to,
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=referral.version,
        now=at,
        **kwargs,
    )


# --- the answer deadline ----------------------------------------------------------------------


def test_reminders_then_escalation_each_once(loop, alternatives, monkeypatch):
    referral = loop.send(now=SENT_AT, location=Location.objects.get(page=loop.food.get_parent()))
    assert referral.response_due_at == DUE

    assert sweep(SENT_AT + timedelta(hours=1)) == NOTHING
    assert sweep(SOON - timedelta(minutes=1)) == NOTHING

    # The last quarter of the window: the agency is reminded, once.
    assert sweep(SOON) == {**NOTHING, "reminded": 1}
    assert sweep(SOON) == NOTHING
    assert sweep(DUE - timedelta(minutes=1)) == NOTHING
    assert told(referral, "referral_due_soon") == both_channels(*agency_staff(loop))

    # At the deadline: reminded again, once.
    assert sweep(DUE) == {**NOTHING, "due": 1}
    assert sweep(DUE + timedelta(minutes=15)) == NOTHING
    assert told(referral, "referral_due") == both_channels(*agency_staff(loop))

    # Four business hours past it: the network admin and the sender are told, with alternatives.
    assert sweep(ESCALATE - timedelta(minutes=1)) == NOTHING
    assert sweep(ESCALATE) == {**NOTHING, "escalated": 1}
    assert sweep(ESCALATE) == NOTHING
    assert sweep(ESCALATE + timedelta(days=7)) == NOTHING
    assert told(referral, "referral_overdue") == both_channels(loop.admin, loop.clinic_staff)

    assert timeline(referral)[1:] == [
        (EventKind.REMINDER, "Answer due soon"),
        (EventKind.REMINDER, "Answer due now"),
        (EventKind.ESCALATION, timeline(referral)[3][1]),
    ]
    escalation = timeline(referral)[3][1]
    assert "Eastside Groceries (Eastside Food Co-op)" in escalation
    for not_suggested in ("Harbor Food Pantry", "Rent Help", "Del Norte", "Full Pantry"):
        assert not_suggested not in escalation
    overdue = Notification.objects.filter(kind="referral_overdue", user=loop.clinic_staff).first()
    assert overdue is not None
    assert "Eastside Groceries" in overdue.body
    # Nobody else hears of it: not the housing agency, not the other clinic users.
    assert not Notification.objects.filter(user=loop.users["housing_staff"]).exists()
    # The sweep leaves the referral to the agency: same status, same version.
    referral.refresh_from_db()
    assert (referral.status, referral.version) == ("requested", 1)
    assert (referral.reminded_at, referral.due_reminded_at, referral.escalated_at) == (
        SOON,
        DUE,
        ESCALATE,
    )


def test_alternatives_without_a_chosen_location_are_near_the_services_place(loop, alternatives):
    referral = loop.send(now=SENT_AT)

    hits = referral_alternatives(referral=referral, now=DUE)

    assert [hit.service_name for hit in hits] == ["Eastside Groceries"]


def test_alternatives_for_a_service_without_places_come_from_the_whole_network(loop, alternatives):
    pages = directory_build(
        loop.tenant.network,
        [
            Spec(
                "Groceries by Phone",
                "Orders by phone.",
                places=[],
                categories=["food-insecurity"],
                agency="Phone Food Line",
            )
        ],
    )
    by_phone = pages["Groceries by Phone"]
    agency = by_phone.get_parent().specific.organization
    agreement = consent_services.agreement_create(
        by=loop.admin, agency=agency, fields=["name"], effective_from=date(2026, 1, 1)
    )
    consent_services.agreement_activate(agreement=agreement, by=loop.admin)
    referral = loop.send(service=by_phone, categories=["food-insecurity"], now=SENT_AT)

    hits = referral_alternatives(referral=referral, now=DUE)

    assert sorted(hit.service_name for hit in hits) == [
        "Del Norte Food Share",
        "Eastside Groceries",
        "Harbor Food Pantry",
    ]


def test_escalation_waits_for_business_hours_over_a_weekend(loop, alternatives):
    admin = loop.admin
    quick = consent_services.agreement_create(
        by=admin,
        agency=loop.food_agency,
        fields=["name"],
        effective_from=date(2026, 1, 1),
        response_hours=14,
    )
    consent_services.agreement_activate(agreement=quick, by=admin)
    thursday = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)  # 10:00 Pacific
    referral = loop.send(now=thursday)
    friday_due = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # Friday 16:00 Pacific
    monday_noon = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # 1 h Friday + 3 h Monday
    assert referral.response_due_at == friday_due

    assert sweep(friday_due)["due"] == 1
    assert sweep(datetime(2026, 11, 28, 20, 0, tzinfo=UTC)) == NOTHING  # Saturday noon
    assert sweep(monday_noon - timedelta(minutes=1)) == NOTHING
    assert sweep(monday_noon)["escalated"] == 1


def test_a_sweep_that_first_runs_after_the_deadline_says_due_not_soon(loop):
    referral = loop.send(now=SENT_AT)

    assert sweep(DUE + timedelta(hours=1)) == {**NOTHING, "due": 1}

    assert [text for kind, text in timeline(referral) if kind == EventKind.REMINDER] == [
        "Answer due now"
    ]
    assert told(referral, "referral_due_soon") == set()


def test_the_scheduled_task_does_each_step_once(loop, monkeypatch):
    referral = loop.send(now=SENT_AT)

    def run_task_at(when: datetime) -> dict[str, int]:
        with monkeypatch.context() as patch:
            patch.setattr(timezone, "now", lambda: when)
            return referrals_overdue_sweep.delay().get()

    assert run_task_at(ESCALATE) == {**NOTHING, "due": 1, "escalated": 1}
    assert run_task_at(ESCALATE) == NOTHING
    assert [kind for kind, _text in timeline(referral)] == [
        EventKind.CREATED,
        EventKind.REMINDER,
        EventKind.ESCALATION,
    ]


# --- answered referrals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "extra"), [("accepted", {}), ("rejected", {"reason": "Outside our area"})]
)
def test_an_answered_referral_gets_no_reminder(loop, to, extra):
    referral = loop.send(now=SENT_AT)
    answer(loop, referral, to, SENT_AT + timedelta(hours=2), **extra)

    for when in (SOON, DUE, ESCALATE, ESCALATE + timedelta(days=3)):
        assert sweep(when) == NOTHING
    assert [kind for kind, _text in timeline(Referral.objects.get())] == [
        EventKind.CREATED,
        EventKind.STATUS,
    ]
    assert not Notification.objects.filter(kind__startswith="referral_due").exists()
    assert not Notification.objects.filter(kind="referral_overdue").exists()


def test_an_answer_between_the_reminders_stops_the_rest(loop):
    referral = loop.send(now=SENT_AT)
    assert sweep(SOON)["reminded"] == 1

    answer(loop, referral, "accepted", SOON + timedelta(hours=1))

    assert sweep(DUE) == NOTHING
    assert sweep(ESCALATE) == NOTHING
    assert [text for kind, text in timeline(referral) if kind == EventKind.REMINDER] == [
        "Answer due soon"
    ]


# --- outcomes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("then", [[], ["in-progress"], ["in-progress", "on-hold"]])
def test_outcome_reminder_past_the_agreements_window(loop, then):
    referral = loop.send(now=SENT_AT)
    accepted_at = SENT_AT + timedelta(hours=3)
    referral = answer(loop, referral, "accepted", accepted_at)
    for to in then:
        referral = answer(loop, referral, to, accepted_at, reason="Waitlist")
    outcome_due = accepted_at + timedelta(days=loop.agreements["food"].outcome_days)
    assert referral.outcome_due_at == outcome_due

    assert sweep(outcome_due - timedelta(minutes=1)) == NOTHING
    assert sweep(outcome_due) == {**NOTHING, "outcome": 1}
    assert sweep(outcome_due + timedelta(days=10)) == NOTHING

    assert told(referral, "referral_outcome_overdue") == both_channels(*agency_staff(loop))
    assert timeline(referral)[-1] == (EventKind.REMINDER, "Outcome overdue")


def test_a_closed_referral_owes_no_outcome(loop):
    referral = loop.send(now=SENT_AT)
    referral = answer(loop, referral, "accepted", SENT_AT + timedelta(hours=1))
    answer(loop, referral, "completed", SENT_AT + timedelta(days=2), outcome="service-provided")

    assert sweep(SENT_AT + timedelta(days=60)) == NOTHING


# --- consent expiry ---------------------------------------------------------------------------


def test_consent_expiry_is_recorded_once_on_each_open_referral(loop):
    expires = SENT_AT + timedelta(days=10)
    Consent.objects.filter(pk=loop.consent.pk).update(expires_at=expires)
    open_one = loop.send(now=SENT_AT, key="open")
    answer(loop, open_one, "accepted", SENT_AT + timedelta(hours=1))
    closed = loop.send(service=loop.housing, key="closed", now=SENT_AT)
    referral_transition(
        referral=closed,
        to="rejected",
        by=loop.users["housing_staff"],
        organization=loop.housing_agency,
        version=closed.version,
        reason="Full",
        now=SENT_AT + timedelta(hours=1),
    )

    assert sweep(expires - timedelta(minutes=1)) == NOTHING
    assert sweep(expires) == {**NOTHING, "consent": 1}
    assert sweep(expires) == NOTHING
    assert sweep(expires + timedelta(days=1)) == NOTHING

    assert [k for k, _t in timeline(open_one)].count(EventKind.CONSENT_EXPIRED) == 1
    assert EventKind.CONSENT_EXPIRED not in [k for k, _t in timeline(closed)]
    assert told(open_one, "referral_consent_expired") == both_channels(
        *agency_staff(loop), loop.clinic_staff
    )


def test_a_revoked_consent_is_not_also_reported_expired(loop):
    referral = loop.send(now=SENT_AT)
    consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="Asked")

    assert sweep(loop.consent.expires_at + timedelta(days=1))["consent"] == 0
    kinds = [k for k, _t in timeline(referral)]
    assert kinds.count(EventKind.CONSENT_REVOKED) == 1
    assert EventKind.CONSENT_EXPIRED not in kinds


# --- failures leave the step for the next sweep ----------------------------------------------


def test_a_failed_reminder_is_retried_by_the_next_sweep_and_others_go_on(loop, monkeypatch):
    first = loop.send(now=SENT_AT, key="first")
    second = loop.send(service=loop.housing, key="second", now=SENT_AT)
    real_bulk_create = Notification.objects.bulk_create
    failures = []

    def fails_once(rows, *args, **kwargs):
        if not failures:
            failures.append(rows[0].referral_id)
            raise DatabaseError("could not extend file: No space left on device")
        return real_bulk_create(rows, *args, **kwargs)

    monkeypatch.setattr(Notification.objects, "bulk_create", fails_once)
    assert sweep(SOON) == {**NOTHING, "reminded": 1}
    (failed,) = failures
    assert failed in {first.pk, second.pk}
    # Nothing of the failed step was kept: no claim, no event, no notification.
    failed_referral = Referral.objects.get(pk=failed)
    assert failed_referral.reminded_at is None
    assert EventKind.REMINDER not in [k for k, _t in timeline(failed_referral)]

    assert sweep(SOON + timedelta(minutes=15)) == {**NOTHING, "reminded": 1}
    for referral in (first, second):
        reminders = [t for k, t in timeline(referral) if k == EventKind.REMINDER]
        assert reminders == ["Answer due soon"]
        assert Notification.objects.filter(referral=referral, kind="referral_due_soon").exists()


def test_escalation_goes_out_when_the_directory_search_fails(loop, monkeypatch):
    referral = loop.send(now=SENT_AT)

    def search_down(**kwargs):
        raise ConnectionError("search cluster unreachable")

    monkeypatch.setattr("referrals.services.overdue.service_search", search_down)
    assert sweep(ESCALATE)["escalated"] == 1

    (escalation,) = [t for k, t in timeline(referral) if k == EventKind.ESCALATION]
    assert escalation.startswith("No answer from the agency.")
    assert told(referral, "referral_overdue") == both_channels(loop.admin, loop.clinic_staff)
