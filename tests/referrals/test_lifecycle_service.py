"""Every status change through ``referral_transition``: by property (a hypothesis state machine
driving one referral from both sides, modelled on the reference) and by example (sides, reasons
and outcomes, terminal statuses, stale versions, organizations off the referral)."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import PermissionDenied
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from referrals.errors import StaleVersion, TransitionNotAllowed
from referrals.lifecycle import Side
from referrals.models import EventKind, Notification, Referral, ReferralEvent
from referrals.services.transitions import referral_transition
from tests.referrals.factories import Loop
from tests.referrals.lifecycle_reference import (
    DOC_NEXT,
    DOC_OUTCOME,
    DOC_TERMINAL,
    ERROR,
    OUTCOMES,
    STATUSES,
    doc_allowed,
    outcomes,
    reasons,
    sides,
    targets,
    violations,
)
from tests.referrals.lifecycle_steps import (
    actor,
    assert_unchanged,
    refused,
    snapshot,
    transition,
    walk,
)

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

# --- the service, by property ---------------------------------------------------------------


class ReferralLifecycle(RuleBasedStateMachine):
    """One referral, sent fresh for each example, driven by both sides through the service; the
    model (status, version, accepted changes) follows the reference."""

    loop: Loop
    accepted: list[str]  # every change the service took, across examples
    keys = itertools.count()

    @initialize()
    def send(self) -> None:
        self.referral = self.loop.send(key=f"machine-{next(self.keys)}")
        self.status = "requested"
        self.version = 1
        self.path = ["requested"]

    def attempt(self, side: Side, to: str, reason: str, outcome: str) -> None:
        before = snapshot(self.referral)
        held = (self.referral.status, self.referral.version)
        broken = violations(self.status, to, str(side), reason, outcome)
        who = actor(self.loop, side)

        def call() -> None:
            referral_transition(
                referral=self.referral,
                to=to,
                version=self.version,
                reason=reason,
                outcome=outcome,
                outcome_note="Seen twice" if outcome else "",
                **who,
            )

        if broken:
            with pytest.raises(TransitionNotAllowed) as caught:
                call()
            assert caught.value.code in broken
            if self.status in DOC_TERMINAL and to in STATUSES:
                assert caught.value.code == "terminal"
            assert_unchanged(self.referral, before)
            assert (self.referral.status, self.referral.version) == held
            return
        call()  # accepted: the reference forbids none of it
        row, events, notifications = snapshot(self.referral)
        assert row["status"] == to == self.referral.status
        assert row["version"] == self.version + 1 == self.referral.version
        assert row["status_reason"] == reason.strip()
        if to in DOC_OUTCOME:
            assert row["outcome"] == outcome
        if to in DOC_TERMINAL:
            assert row["closed_at"] is not None
        new = [pk for pk in events if pk not in before[1]]
        assert len(events) == len(before[1]) + 1
        assert len(new) == 1
        event = ReferralEvent.objects.get(pk=new[0])
        assert (event.kind, event.from_status, event.to_status) == (
            EventKind.STATUS,
            self.status,
            to,
        )
        assert (event.actor, event.organization) == (who["by"], who["organization"])
        # The other side hears of it: that is the closed loop.
        told = set(
            Notification.objects.filter(pk__in=set(notifications) - set(before[2])).values_list(
                "user_id", flat=True
            )
        )
        assert told
        assert who["by"].pk not in told
        if side == Side.RECIPIENT:
            assert self.loop.clinic_staff.pk in told
        self.status, self.version = to, self.version + 1
        self.path.append(to)
        self.accepted.append(to)

    @rule(side=sides, to=targets, reason=reasons, outcome=outcomes)
    def anything(self, side: Side, to: str, reason: str, outcome: str) -> None:
        self.attempt(side, to, reason, outcome)

    @rule(data=st.data())
    def along_the_table(self, data: st.DataObject) -> None:
        options = [(side, to) for side in Side for to in sorted(doc_allowed(self.status, side))]
        # Open statuses come first and weigh more, so that walks get past the first answer.
        weighted = [(s, to) for s, to in options if to not in DOC_TERMINAL] * 4 + options
        side, to = data.draw(st.sampled_from(weighted or [(Side.SENDER, "accepted")]))
        reason = data.draw(st.sampled_from(["Client asked to wait", "Client asked to wait", ""]))
        outcome = ""
        if to in DOC_OUTCOME:
            outcome = data.draw(st.sampled_from([*sorted(OUTCOMES), ""]))
        self.attempt(side, to, reason, outcome)

    @rule(side=sides, to=targets, offset=st.sampled_from([-1, 1, 2, 40]))
    def stale(self, side: Side, to: str, offset: int) -> None:
        before = snapshot(self.referral)
        with pytest.raises(StaleVersion) as caught:
            referral_transition(
                referral=self.referral,
                to=to,
                version=self.version + offset,
                reason="Because",
                outcome="service-provided" if to in DOC_OUTCOME else "",
                **actor(self.loop, side),
            )
        current = caught.value.current
        assert (current.pk, current.status, current.version) == (
            self.referral.pk,
            self.status,
            self.version,
        )
        assert caught.value.code == "stale_version"
        assert_unchanged(self.referral, before)

    @invariant()
    def stored_as_modelled(self) -> None:
        row = Referral.objects.values("status", "version").get(pk=self.referral.pk)
        assert row == {"status": self.status, "version": self.version}
        assert self.version == len(self.path)

    @invariant()
    def timeline_is_the_path(self) -> None:
        events = list(
            ReferralEvent.objects.filter(referral=self.referral)
            .order_by("pk")
            .values_list("kind", "from_status", "to_status")
        )
        assert events[0] == (EventKind.CREATED, "", "requested")
        changes = [(f, t) for kind, f, t in events[1:] if kind == EventKind.STATUS]
        assert len(changes) == len(events) - 1
        assert [t for _f, t in changes] == self.path[1:]
        assert [f for f, _t in changes] == self.path[:-1]
        for before, after in zip(self.path, self.path[1:], strict=False):
            assert before not in DOC_TERMINAL
            assert after in DOC_NEXT[before] or after == ERROR


def test_calls_through_the_service_follow_the_table(loop):
    machine = type("Machine", (ReferralLifecycle,), {"loop": loop, "accepted": []})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=14,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # Not vacuous: the walks got past the first answer, not only refusals.
    assert len(machine.accepted) >= 10
    assert "accepted" in machine.accepted


# --- the service, by example ----------------------------------------------------------------


def test_sender_cannot_accept_or_finish(loop):
    referral = loop.send()
    assert refused(loop, referral, "accepted", Side.SENDER) == "wrong_side"
    assert refused(loop, referral, "rejected", Side.SENDER, reason="No") == "wrong_side"
    referral = transition(loop, referral, "accepted", Side.RECIPIENT)
    assert (
        refused(loop, referral, "completed", Side.SENDER, outcome="service-provided")
        == "wrong_side"
    )


def test_recipient_cannot_mark_entered_in_error_but_sender_can(loop):
    referral = transition(loop, loop.send(), "accepted", Side.RECIPIENT)
    assert refused(loop, referral, ERROR, Side.RECIPIENT) == "wrong_side"
    referral = transition(loop, referral, ERROR, Side.SENDER)
    assert referral.status == ERROR
    # Kept for audit, with its whole history, and never changed again.
    assert list(referral.events.order_by("pk").values_list("to_status", flat=True)) == [
        "requested",
        "accepted",
        ERROR,
    ]
    assert refused(loop, referral, "cancelled", Side.SENDER, reason="Oops") == "terminal"
    with pytest.raises(ValueError, match="never deleted"):
        referral.delete()


def test_either_side_may_cancel_with_a_reason(loop):
    referral = loop.send()
    assert refused(loop, referral, "cancelled", Side.SENDER) == "reason_required"
    referral = transition(loop, referral, "cancelled", Side.SENDER, reason=" Sent twice ")
    assert (referral.status, referral.status_reason) == ("cancelled", "Sent twice")
    other = transition(loop, loop.send(key="k2"), "accepted", Side.RECIPIENT)
    other = transition(loop, other, "cancelled", Side.RECIPIENT, reason="Client moved away")
    assert other.status == "cancelled"


@pytest.mark.parametrize(
    ("path", "to", "kwargs", "code"),
    [
        ([], "rejected", {}, "reason_required"),
        ([], "rejected", {"reason": "   "}, "reason_required"),
        (["accepted"], "on-hold", {}, "reason_required"),
        (["accepted"], "completed", {}, "outcome_required"),
        (["accepted"], "completed", {"outcome": "all-good"}, "bad_outcome"),
        (["accepted"], "failed", {"outcome": "no-capacity"}, "reason_required"),
        (["accepted"], "failed", {"reason": "No funds"}, "outcome_required"),
        (
            ["accepted", "in-progress"],
            "on-hold",
            {"reason": "Wait", "outcome": "no-capacity"},
            "bad_outcome",
        ),
        ([], "accepted", {"outcome": "service-provided"}, "bad_outcome"),
    ],
)
def test_reason_and_outcome_requirements(loop, path, to, kwargs, code):
    referral = walk(loop, loop.send(), [(p, Side.RECIPIENT, {}) for p in path])
    assert refused(loop, referral, to, Side.RECIPIENT, **kwargs) == code


def test_completed_and_failed_keep_their_outcome(loop):
    done = walk(loop, loop.send(), [("accepted", Side.RECIPIENT, {})])
    done = transition(
        loop,
        done,
        "completed",
        Side.RECIPIENT,
        outcome="service-provided-partially",
        outcome_note="Two of three bags",
    )
    done.refresh_from_db()
    assert (done.status, done.outcome, done.outcome_note) == (
        "completed",
        "service-provided-partially",
        "Two of three bags",
    )
    assert done.closed_at is not None
    failed = walk(loop, loop.send(key="k2"), [("accepted", Side.RECIPIENT, {})])
    failed = transition(
        loop,
        failed,
        "failed",
        Side.RECIPIENT,
        reason="Phone disconnected",
        outcome="client-unreachable",
    )
    failed.refresh_from_db()
    assert (failed.status, failed.status_reason, failed.outcome) == (
        "failed",
        "Phone disconnected",
        "client-unreachable",
    )


@pytest.mark.parametrize(
    ("path", "to", "side", "kwargs"),
    [
        ([("rejected", {"reason": "Full"})], "accepted", Side.RECIPIENT, {}),
        (
            [("accepted", {}), ("completed", {"outcome": "service-provided"})],
            "in-progress",
            Side.RECIPIENT,
            {},
        ),
        (
            [("accepted", {}), ("completed", {"outcome": "service-provided"})],
            ERROR,
            Side.SENDER,
            {},
        ),
        (
            [("accepted", {}), ("failed", {"reason": "x", "outcome": "not-eligible"})],
            "cancelled",
            Side.SENDER,
            {"reason": "Closing"},
        ),
    ],
)
def test_terminal_stays_terminal(loop, path, to, side, kwargs):
    referral = walk(loop, loop.send(), [(p, Side.RECIPIENT, kw) for p, kw in path])
    assert refused(loop, referral, to, side, **kwargs) == "terminal"


def test_stale_version_carries_the_current_state_and_changes_nothing(loop):
    referral = loop.send()
    first_read = Referral.objects.get(pk=referral.pk)
    second_read = Referral.objects.get(pk=referral.pk)
    transition(loop, first_read, "accepted", Side.RECIPIENT)
    before = snapshot(referral)
    with pytest.raises(StaleVersion) as caught:
        transition(loop, second_read, "rejected", Side.RECIPIENT, reason="Full")
    assert caught.value.current.status == "accepted"
    assert caught.value.current.version == 2
    assert "Accepted" in str(caught.value)
    assert_unchanged(referral, before)
    # A version from the future is as stale as one from the past.
    with pytest.raises(StaleVersion):
        transition(loop, second_read, "in-progress", Side.RECIPIENT, version=3)
    assert_unchanged(referral, before)


def test_an_organization_off_the_referral_cannot_change_it(loop):
    referral = loop.send()
    before = snapshot(referral)
    with pytest.raises(PermissionDenied):
        referral_transition(
            referral=referral,
            to="accepted",
            by=loop.users["housing_staff"],
            organization=loop.housing_agency,
            version=1,
        )
    with pytest.raises(PermissionDenied):  # the right person acting for the wrong organization
        referral_transition(
            referral=referral,
            to="accepted",
            by=loop.agency_staff,
            organization=loop.tenant.agency,
            version=1,
        )
    assert_unchanged(referral, before)
