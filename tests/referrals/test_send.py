"""Sending a referral: what one send writes, how retries with one idempotency key stay one
referral (through the service and the API), the all-or-none send to several agencies, and the
business-hours clock the due dates run on.

The refusals (consent, agreement, bad input, wrong roles) are in test_send_refusals.py; the client
duplicate check and screening in test_send_clients.py."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from consent import services as consent_services
from network import services
from network.models import Role
from referrals.deadlines import business_hours_after
from referrals.errors import AgreementMissing, ConsentRequired, IdempotencyConflict
from referrals.models import Channel, Client, EventKind, Notification, Referral, ReferralStatus
from referrals.services.clients import client_create
from referrals.services.sending import Target, referral_send, referrals_send
from referrals.services.transitions import referral_transition
from tests.network.factories import UserFactory, organization_make
from tests.referrals.factories import SENT_AT, Loop
from tests.referrals.send_cases import receiving_staff, send_as, written

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

PACIFIC = ZoneInfo("America/Los_Angeles")
# SENT_AT is Tuesday 10:00 Pacific; 16 business hours later is Thursday 10:00 Pacific.
DUE_16H = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


# --- one send ---------------------------------------------------------------------------------


def test_send_writes_the_referral_its_created_event_and_the_agency_outbox(
    loop, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        referral = loop.send(now=SENT_AT, note="Needs groceries this week.", urgency="urgent")

    assert Referral.objects.count() == 1
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REQUESTED
    assert (referral.client, referral.sender, referral.sent_by) == (
        loop.client,
        loop.clinic,
        loop.clinic_staff,
    )
    assert (referral.agency, referral.service_id, referral.service_name) == (
        loop.food_agency,
        loop.food.pk,
        "Harbor Food Pantry",
    )
    assert referral.categories == ["food-insecurity"]
    assert (referral.urgency, referral.note) == ("urgent", "Needs groceries this week.")
    assert referral.consent == loop.consent
    assert referral.agreement == loop.agreements["food"]
    assert referral.version == 1
    assert referral.sent_at == SENT_AT
    assert referral.response_due_at == DUE_16H
    assert referral.outcome_due_at is None

    (event,) = referral.events.all()
    assert (event.kind, event.actor, event.organization) == (
        EventKind.CREATED,
        loop.clinic_staff,
        loop.clinic,
    )
    assert (event.at, event.to_status) == (SENT_AT, ReferralStatus.REQUESTED)

    rows = list(Notification.objects.all())
    assert sorted((n.user.username, n.channel) for n in rows) == sorted(
        (user.username, channel)
        for user in receiving_staff(loop)
        for channel in (Channel.IN_APP, Channel.EMAIL)
    )
    assert {(n.referral_id, n.kind) for n in rows} == {(referral.pk, "referral_received")}
    assert {n.link for n in rows} == {reverse("referrals:referral_detail", args=[referral.pk])}
    # Delivered after commit: both in-app rows and one email per receiving staff member.
    assert all(n.delivered_at is not None for n in rows)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in receiving_staff(loop))


def test_due_date_follows_the_agreement_in_force(loop):
    admin = loop.admin
    quicker = consent_services.agreement_create(
        by=admin,
        agency=loop.food_agency,
        fields=["name"],
        effective_from=date(2026, 1, 1),
        response_hours=4,
        outcome_days=10,
    )
    quicker = consent_services.agreement_activate(agreement=quicker, by=admin)

    referral = loop.send(now=SENT_AT)

    assert referral.agreement == quicker
    # Tuesday 10:00 + 4 business hours = Tuesday 14:00 Pacific.
    assert referral.response_due_at == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    accepted = referral_transition(
        referral=referral,
        to="accepted",
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=1,
        now=SENT_AT + timedelta(hours=1),
    )
    assert accepted.outcome_due_at == SENT_AT + timedelta(hours=1, days=10)


# --- idempotency ------------------------------------------------------------------------------


def test_ten_retries_with_one_key_make_one_referral_and_one_set_of_notifications(
    loop, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = [loop.send(key="retry-1", now=SENT_AT) for _ in range(10)]

    assert {r.pk for r in sent} == {sent[0].pk}
    assert written() == {"Referral": 1, "ReferralEvent": 1, "Notification": 4, "AccessLog": 0}
    assert len(mail.outbox) == 2


def test_the_same_key_for_another_client_or_service_is_a_conflict(loop):
    loop.send(key="k1", now=SENT_AT)
    other = client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Ana",
        last_name="Reyes",
        date_of_birth=date(1990, 1, 2),
    )
    before = written()

    with pytest.raises(IdempotencyConflict):
        referral_send(
            client=other,
            by=loop.clinic_staff,
            sender=loop.clinic,
            service=loop.food,
            categories=["food-insecurity"],
            idempotency_key="k1",
            now=SENT_AT,
        )
    with pytest.raises(IdempotencyConflict):
        loop.send(service=loop.housing, key="k1", now=SENT_AT)

    assert written() == before


def test_keys_are_per_sender(loop):
    """Another clinic's identical key is its own, never an answer with this clinic's referral."""
    clinic2 = organization_make(loop.tenant.network, "clinic", name="Second Clinic")
    staff2 = UserFactory(username="second-clinic-staff")
    services.membership_grant(
        user=staff2, role=Role.CLINIC_STAFF, organization=clinic2, notify=False
    )
    first = loop.send(key="shared-key", now=SENT_AT)

    # The other clinic cannot borrow this clinic's client by reusing the key.
    with pytest.raises(PermissionDenied):
        send_as(loop, staff2, clinic2, key="shared-key")
    assert list(Referral.objects.values_list("pk", flat=True)) == [first.pk]


def api_send(http, loop: Loop, key: str | None, client: Client | None = None, **body: Any):
    payload = {
        "client": (client or loop.client).pk,
        "targets": [{"service": loop.food.pk}],
        "categories": ["food-insecurity"],
        **body,
    }
    headers = {"Idempotency-Key": key} if key is not None else {}
    return http.post(
        reverse("referrals:api:referrals"),
        data=json.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


def test_ten_retried_posts_with_one_idempotency_key_make_one_referral(
    loop, client, django_capture_on_commit_callbacks
):
    client.force_login(loop.clinic_staff)

    with django_capture_on_commit_callbacks(execute=True):
        responses = [api_send(client, loop, "api-retry-1") for _ in range(10)]

    assert [r.status_code for r in responses] == [201] * 10
    ids = {r.json()["referrals"][0]["id"] for r in responses}
    assert len(ids) == 1
    assert written() == {"Referral": 1, "ReferralEvent": 1, "Notification": 4, "AccessLog": 0}
    assert len(mail.outbox) == 2
    assert Referral.objects.get().pk == ids.pop()


def test_the_api_answers_409_for_a_key_used_for_another_client(loop, client):
    client.force_login(loop.clinic_staff)
    other = client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Ana",
        last_name="Reyes",
        date_of_birth=date(1990, 1, 2),
    )
    assert api_send(client, loop, "api-key").status_code == 201
    before = written()

    response = api_send(client, loop, "api-key", client=other)

    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert written() == before


@pytest.mark.parametrize("key", [None, "", "   "])
def test_the_api_refuses_a_send_without_an_idempotency_key(loop, client, key):
    client.force_login(loop.clinic_staff)

    response = api_send(client, loop, key)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert [d["field"] for d in response.json()["details"]] == ["Idempotency-Key"]
    assert written() == {"Referral": 0, "ReferralEvent": 0, "Notification": 0, "AccessLog": 0}


# --- several agencies at once -----------------------------------------------------------------


def test_one_need_sent_to_two_agencies_at_once(loop, django_capture_on_commit_callbacks):
    targets = [Target(service=loop.food), Target(service=loop.housing)]
    housing_staff = loop.users["housing_staff"]

    with django_capture_on_commit_callbacks(execute=True):
        sent = referrals_send(
            client=loop.client,
            by=loop.clinic_staff,
            sender=loop.clinic,
            targets=targets,
            categories=["food-insecurity", "housing-instability"],
            idempotency_key="both",
            now=SENT_AT,
        )
        again = referrals_send(
            client=loop.client,
            by=loop.clinic_staff,
            sender=loop.clinic,
            targets=targets,
            categories=["food-insecurity", "housing-instability"],
            idempotency_key="both",
            now=SENT_AT,
        )

    assert [r.agency for r in sent] == [loop.food_agency, loop.housing_agency]
    assert [r.pk for r in again] == [r.pk for r in sent]
    assert [r.agreement for r in sent] == [loop.agreements["food"], loop.agreements["housing"]]
    assert written() == {"Referral": 2, "ReferralEvent": 2, "Notification": 6, "AccessLog": 0}
    told = {(n.referral_id, n.user) for n in Notification.objects.all()}
    assert told == {(sent[0].pk, u) for u in receiving_staff(loop)} | {(sent[1].pk, housing_staff)}
    assert len(mail.outbox) == 3


@pytest.mark.parametrize(
    "refuse_second",
    ["no_agreement", "no_consent", "unpublished"],
)
def test_several_agencies_all_or_none(loop, django_capture_on_commit_callbacks, refuse_second):
    if refuse_second == "no_agreement":
        consent_services.agreement_terminate(agreement=loop.agreements["housing"], by=loop.admin)
        expected: type[Exception] = AgreementMissing
    elif refuse_second == "no_consent":
        consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="x")
        consent_services.consent_record(
            client=loop.client,
            by=loop.clinic_staff,
            organization=loop.clinic,
            categories=["food-insecurity", "housing-instability"],
            method="verbal",
            attestation="Script read.",
            recipients=[loop.food_agency],
            granted_at=SENT_AT - timedelta(days=1),
        )
        expected = ConsentRequired
    else:
        loop.housing.unpublish()
        expected = ValidationError
    before = written()

    targets = [Target(service=loop.food), Target(service=loop.housing)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(expected):
        referrals_send(
            client=loop.client,
            by=loop.clinic_staff,
            sender=loop.clinic,
            targets=targets,
            categories=["food-insecurity", "housing-instability"],
            idempotency_key="both",
            now=SENT_AT,
        )

    assert written() == before
    assert callbacks == []
    assert mail.outbox == []


# --- the business-hours clock -----------------------------------------------------------------


def pacific(*args: int) -> datetime:
    return datetime(*args, tzinfo=PACIFIC)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Friday evening + 16 h: Monday and Tuesday, due Tuesday 17:00.
        (pacific(2026, 11, 20, 19, 30), 16, pacific(2026, 11, 24, 17, 0)),
        # Within the day; to the minute.
        (pacific(2026, 11, 24, 10, 15), 3, pacific(2026, 11, 24, 13, 15)),
        # Spilling over into the next morning.
        (pacific(2026, 11, 24, 15, 0), 4, pacific(2026, 11, 25, 11, 0)),
        # Before opening: the clock starts at 9:00.
        (pacific(2026, 11, 24, 6, 0), 2, pacific(2026, 11, 24, 11, 0)),
        # On the weekend: starts Monday 9:00.
        (pacific(2026, 11, 22, 12, 0), 8, pacific(2026, 11, 23, 17, 0)),
        # Exactly at closing: nothing left today.
        (pacific(2026, 11, 24, 17, 0), 1, pacific(2026, 11, 25, 10, 0)),
        # Fourteen business days (the agreements' ceiling) = 112 hours.
        (pacific(2026, 11, 2, 9, 0), 112, pacific(2026, 11, 19, 17, 0)),
    ],
)
def test_business_hours_after(start, hours, due):
    found = business_hours_after(start.astimezone(UTC), hours, PACIFIC)

    assert found == due
    assert found.tzinfo == UTC  # answered in the caller's time zone


def test_business_hours_across_the_end_of_daylight_saving_time():
    # Friday 30 October 2026 15:00 PDT (UTC-7); clocks go back on Sunday 1 November.
    start = pacific(2026, 10, 30, 15, 0)
    due = business_hours_after(start.astimezone(UTC), 4, PACIFIC)

    assert due == pacific(2026, 11, 2, 11, 0)  # Monday 11:00 PST
    assert due == datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def test_business_hours_across_the_start_of_daylight_saving_time():
    # Friday 6 March 2026 16:00 PST (UTC-8); clocks go forward on Sunday 8 March.
    start = pacific(2026, 3, 6, 16, 0)
    due = business_hours_after(start.astimezone(UTC), 2, PACIFIC)

    assert due == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # Monday 10:00 PDT


def test_zero_business_hours():
    inside = pacific(2026, 11, 24, 10, 0)
    friday_evening = pacific(2026, 11, 20, 19, 0)

    assert business_hours_after(inside, 0, PACIFIC) == inside
    # Outside business hours, zero hours is the next opening.
    assert business_hours_after(friday_evening, 0, PACIFIC) == pacific(2026, 11, 23, 9, 0)
    with pytest.raises(ValueError, match="negative"):
        business_hours_after(inside, -1, PACIFIC)
