"""Concurrent writers on PostgreSQL: two people updating one referral, a send retried while the
first attempt is still running, two overlapping sweeps. Each thread has its own connection and
commits for real; a barrier makes both read the same state before either writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse

from consent.models import Consent
from network import services
from network.models import Role, User
from referrals.errors import StaleVersion, TransitionNotAllowed
from referrals.models import EventKind, Notification, Referral, ReferralEvent
from referrals.services.overdue import referrals_overdue_process
from referrals.services.transitions import referral_transition
from tests.network.factories import UserFactory, tenant_make
from tests.referrals.factories import SENT_AT, Loop, loop_make

pytestmark = [
    pytest.mark.usefixtures("clock_before_sent_at"),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=(
            "concurrency tests need PostgreSQL (row locks, truly concurrent connections); "
            f"this run uses {connection.vendor}, which serializes every writer. "
            "Set DATABASE_URL=postgres://... to run them."
        ),
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROUNDS = 5


@pytest.fixture
def loop(transactional_db: None) -> Loop:
    """The shared cast, built in each test (these tests commit, so no cast is kept for the
    module), with two intake workers at the food agency, the people who race."""
    loop = loop_make(tenant_make("Alpha"))
    for name in ("intake-a", "intake-b"):
        user = UserFactory(username=f"{loop.tenant.network.slug}-{name}")
        services.membership_grant(
            user=user, role=Role.AGENCY_STAFF, organization=loop.food_agency, notify=False
        )
        loop.users[name] = user
    return loop


def race(*actions: Callable[[threading.Barrier], Any]) -> list[Any]:
    """Run each action in its own thread (its own database connection); what each returned or
    raised."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[threading.Barrier], Any]) -> None:
        try:
            results[index] = action(barrier)
        except Exception as exc:  # the caller inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a racing thread hung"
    return results


# --- two updates of one referral --------------------------------------------------------------


def transition_after_reading(
    loop: Loop, pk: int, user: User, to: str, **kwargs: Any
) -> Callable[[threading.Barrier], Any]:
    def act(barrier: threading.Barrier) -> Referral:
        seen = Referral.objects.get(pk=pk)
        barrier.wait(timeout=30)  # both have read the same version
        return referral_transition(
            referral=seen,
            to=to,
            by=user,
            organization=loop.food_agency,
            version=seen.version,
            **kwargs,
        )

    return act


def test_two_agency_users_update_one_referral_exactly_one_wins(loop):
    intake_a, intake_b = loop.users["intake-a"], loop.users["intake-b"]
    for round_ in range(ROUNDS):
        referral = loop.send(key=f"race-{round_}")
        events_before = ReferralEvent.objects.filter(referral=referral).count()
        wanted = {intake_a.pk: "accepted", intake_b.pk: "rejected"}

        results = race(
            transition_after_reading(loop, referral.pk, intake_a, "accepted"),
            transition_after_reading(loop, referral.pk, intake_b, "rejected", reason="Full"),
        )

        won = [r for r in results if isinstance(r, Referral)]
        lost = [r for r in results if isinstance(r, StaleVersion)]
        assert (len(won), len(lost)) == (1, 1), results
        (winner,) = won
        (stale,) = lost
        referral.refresh_from_db()
        assert referral.version == 2
        assert referral.status == winner.status
        # The loser is told the state that beat it.
        assert (stale.current.status, stale.current.version) == (referral.status, 2)
        # Exactly one more event, the winner's; nothing of the loser's.
        events = ReferralEvent.objects.filter(referral=referral).order_by("pk")
        assert events.count() == events_before + 1
        last = events.last()
        assert last is not None
        assert (last.kind, last.to_status) == (EventKind.STATUS, referral.status)
        assert wanted[last.actor_id] == referral.status
        kinds = set(Notification.objects.filter(referral=referral).values_list("kind", flat=True))
        assert kinds == {"referral_received", f"referral_{referral.status}"}


def test_the_loser_retrying_on_the_current_version_is_judged_on_the_current_state(loop):
    intake_a, intake_b = loop.users["intake-a"], loop.users["intake-b"]
    referral = loop.send(key="race-retry")

    results = race(
        transition_after_reading(loop, referral.pk, intake_a, "accepted"),
        transition_after_reading(loop, referral.pk, intake_b, "rejected", reason="Full"),
    )
    (stale,) = [r for r in results if isinstance(r, StaleVersion)]
    loser = intake_b if stale.current.status == "accepted" else intake_a
    retry = "rejected" if loser == intake_b else "accepted"

    with pytest.raises(TransitionNotAllowed):
        referral_transition(
            referral=stale.current,
            to=retry,
            by=loser,
            organization=loop.food_agency,
            version=stale.current.version,
            reason="Full",
        )
    referral.refresh_from_db()
    assert (referral.status, referral.version) == (stale.current.status, 2)
    assert ReferralEvent.objects.filter(referral=referral).count() == 2


def api_client(user: User) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def api_transition_after_reading(
    http: HttpClient, pk: int, body: dict[str, Any]
) -> Callable[[threading.Barrier], Any]:
    def act(barrier: threading.Barrier) -> Any:
        listed = http.get(reverse("referrals:api:referrals"))
        assert listed.status_code == 200
        (row,) = [r for r in listed.json()["contents"] if r["id"] == pk]
        barrier.wait(timeout=30)
        return http.post(
            reverse("referrals:api:referral_transition", args=[pk]),
            data=json.dumps({**body, "version": row["version"]}),
            content_type="application/json",
        )

    return act


def test_two_agency_users_through_the_api_one_gets_409_with_the_current_state(loop):
    clients = [api_client(loop.users["intake-a"]), api_client(loop.users["intake-b"])]
    for round_ in range(ROUNDS):
        referral = loop.send(key=f"api-race-{round_}")

        responses = race(
            api_transition_after_reading(clients[0], referral.pk, {"to": "accepted"}),
            api_transition_after_reading(
                clients[1], referral.pk, {"to": "rejected", "reason": "Full"}
            ),
        )

        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], [r.content for r in responses]
        ok = next(r.json() for r in responses if r.status_code == 200)
        conflict = next(r.json() for r in responses if r.status_code == 409)
        referral.refresh_from_db()
        assert (ok["status"], ok["version"]) == (referral.status, 2)
        assert conflict["error"] == "stale_version"
        assert (conflict["referral"]["status"], conflict["referral"]["version"]) == (
            referral.status,
            2,
        )
        assert ReferralEvent.objects.filter(referral=referral).count() == 2


# --- a send retried while the first is still running ------------------------------------------


def send_after_barrier(loop: Loop, key: str) -> Callable[[threading.Barrier], Any]:
    def act(barrier: threading.Barrier) -> Referral:
        barrier.wait(timeout=30)
        return loop.send(key=key)

    return act


def test_the_same_key_sent_twice_at_once_makes_one_referral(loop):
    receivers = set(
        User.objects.filter(
            organizationuserobjectpermission__content_object=loop.food_agency,
            organizationuserobjectpermission__permission__codename="receive_referrals",
        )
    )
    for round_ in range(ROUNDS):
        key = f"double-click-{round_}"

        results = race(send_after_barrier(loop, key), send_after_barrier(loop, key))

        assert all(isinstance(r, Referral) for r in results), results
        assert results[0].pk == results[1].pk
        referral = Referral.objects.get(idempotency_key=key)
        assert referral.events.count() == 1
        told = Notification.objects.filter(referral=referral)
        assert told.count() == 2 * len(receivers)
        assert {n.user for n in told} == receivers
    assert Referral.objects.count() == ROUNDS


def test_the_same_key_posted_twice_at_once_makes_one_referral(loop):
    clients = [api_client(loop.clinic_staff), api_client(loop.clinic_staff)]

    def post(http: HttpClient) -> Callable[[threading.Barrier], Any]:
        def act(barrier: threading.Barrier) -> Any:
            barrier.wait(timeout=30)
            return http.post(
                reverse("referrals:api:referrals"),
                data=json.dumps(
                    {
                        "client": loop.client.pk,
                        "targets": [{"service": loop.food.pk}, {"service": loop.housing.pk}],
                        "categories": ["food-insecurity", "housing-instability"],
                    }
                ),
                content_type="application/json",
                headers={"Idempotency-Key": "posted-twice"},
            )

        return act

    responses = race(post(clients[0]), post(clients[1]))

    assert [r.status_code for r in responses] == [201, 201], [r.content for r in responses]
    ids = [sorted(row["id"] for row in r.json()["referrals"]) for r in responses]
    assert ids[0] == ids[1]
    assert Referral.objects.count() == 2
    assert ReferralEvent.objects.count() == 2


# --- overlapping sweeps -----------------------------------------------------------------------


def test_two_overlapping_overdue_sweeps_take_each_step_once(loop):
    expires = SENT_AT + timedelta(days=40)
    Consent.objects.filter(pk=loop.consent.pk).update(expires_at=expires)
    waiting = [loop.send(key=f"waiting-{n}", now=SENT_AT) for n in range(4)]
    accepted = loop.send(service=loop.housing, key="accepted", now=SENT_AT)
    referral_transition(
        referral=accepted,
        to="accepted",
        by=loop.users["housing_staff"],
        organization=loop.housing_agency,
        version=1,
        now=SENT_AT + timedelta(hours=1),
    )
    now = expires + timedelta(days=1)

    def sweep(barrier: threading.Barrier) -> dict[str, int]:
        barrier.wait(timeout=30)
        return referrals_overdue_process(now=now)

    results = race(sweep, sweep)

    assert all(isinstance(r, dict) for r in results), results
    total = {step: results[0][step] + results[1][step] for step in results[0]}
    assert total == {"reminded": 0, "due": 4, "escalated": 4, "outcome": 1, "consent": 5}
    for referral in [*waiting, accepted]:
        kinds = list(referral.events.values_list("kind", flat=True))
        assert kinds.count(EventKind.CONSENT_EXPIRED) == 1
        if referral in waiting:
            assert kinds.count(EventKind.REMINDER) == 1
            assert kinds.count(EventKind.ESCALATION) == 1
        else:
            assert kinds.count(EventKind.REMINDER) == 1  # the outcome reminder
    assert referrals_overdue_process(now=now) == dict.fromkeys(total, 0)
