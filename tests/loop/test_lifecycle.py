"""The referral lifecycle: the transition table against the reference, and every status change
through ``referral_transition`` (property-based with hypothesis, and by example).

The expectations are written out again here from ``reference/referral-lifecycle.md`` so that the
table is checked against the document, not against itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from referrals.errors import StaleVersion, TransitionNotAllowed
from referrals.lifecycle import (
    OUTCOME_REQUIRED,
    REASON_REQUIRED,
    SET_BY,
    TERMINAL,
    TRANSITIONS,
    Side,
    allowed_next,
    transition_refusal,
)
from referrals.models import (
    EventKind,
    Notification,
    Referral,
    ReferralEvent,
    ReferralOutcome,
    ReferralStatus,
)
from referrals.services.transitions import referral_transition
from tests.conftest import act_as
from tests.loop.conftest import Loop

# --- the reference, written out -------------------------------------------------------------

STATUSES: tuple[str, ...] = tuple(ReferralStatus.values)
ERROR = "entered-in-error"
DOC_NEXT: dict[str, frozenset[str]] = {
    "draft": frozenset({"requested", "cancelled"}),
    "requested": frozenset({"accepted", "rejected", "cancelled"}),
    "accepted": frozenset({"in-progress", "on-hold", "completed", "failed", "cancelled"}),
    "in-progress": frozenset({"on-hold", "completed", "failed", "cancelled"}),
    "on-hold": frozenset({"in-progress", "completed", "failed", "cancelled"}),
}
DOC_TERMINAL = frozenset({"rejected", "failed", "cancelled", "completed", ERROR})
DOC_SET_BY: dict[str, frozenset[str]] = {
    "draft": frozenset({"sender"}),
    "requested": frozenset({"sender"}),
    "accepted": frozenset({"recipient"}),
    "rejected": frozenset({"recipient"}),
    "in-progress": frozenset({"recipient"}),
    "on-hold": frozenset({"recipient"}),
    "completed": frozenset({"recipient"}),
    "failed": frozenset({"recipient"}),
    "cancelled": frozenset({"sender", "recipient"}),
    ERROR: frozenset({"sender"}),
}
DOC_REASON = frozenset({"rejected", "cancelled", "on-hold", "failed"})
DOC_OUTCOME = frozenset({"completed", "failed"})
OUTCOMES = frozenset(ReferralOutcome.values)


def violations(status: str, to: str, side: str, reason: str, outcome: str) -> set[str]:
    """Every rule of the reference that this change breaks (empty: it must be accepted)."""
    if to not in STATUSES:
        return {"unknown_status"}
    broken: set[str] = set()
    if status in DOC_TERMINAL:
        broken.add("terminal")
    elif to not in DOC_NEXT[status] and to != ERROR:
        broken.add("not_allowed")
    if side not in DOC_SET_BY[to]:
        broken.add("wrong_side")
    if to in DOC_REASON and not reason.strip():
        broken.add("reason_required")
    if to in DOC_OUTCOME and not outcome:
        broken.add("outcome_required")
    if outcome and (to not in DOC_OUTCOME or outcome not in OUTCOMES):
        broken.add("bad_outcome")  # checked by the service, not by the table
    return broken


def doc_allowed(status: str, side: str) -> frozenset[str]:
    return frozenset(
        to
        for to in STATUSES
        if not (violations(status, to, side, "a reason", "service-provided") - {"bad_outcome"})
    )


sides = st.sampled_from([Side.SENDER, Side.RECIPIENT])
targets = st.sampled_from([*STATUSES, "reopened"])
reasons = st.sampled_from(["", "   ", "Waitlist until March"])
outcomes = st.sampled_from(["", "service-provided", "no-capacity", "made-up-outcome"])


# --- the table ------------------------------------------------------------------------------


def test_table_is_the_reference():
    for status in STATUSES:
        assert TRANSITIONS[status] == DOC_NEXT.get(status, frozenset()), status
    assert TERMINAL == DOC_TERMINAL
    assert {s for s in STATUSES if not TRANSITIONS[s]} == DOC_TERMINAL
    for status in STATUSES:
        if status != "draft":  # nobody moves a referral back to draft
            assert {str(side) for side in SET_BY[status]} == DOC_SET_BY[status], status
    assert REASON_REQUIRED == DOC_REASON
    assert OUTCOME_REQUIRED == DOC_OUTCOME


def test_every_status_is_reachable_and_every_open_one_can_close():
    reached, frontier = {"draft"}, ["draft"]
    while frontier:
        status = frontier.pop()
        for side in Side:
            for to in allowed_next(status, side):
                if to not in reached:
                    reached.add(to)
                    frontier.append(to)
    assert reached == set(STATUSES)
    for status in set(STATUSES) - DOC_TERMINAL:
        assert allowed_next(status, Side.RECIPIENT) & DOC_TERMINAL or (
            allowed_next(status, Side.SENDER) & DOC_TERMINAL
        ), status


@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("status", STATUSES)
def test_allowed_next_is_exactly_what_transition_refusal_lets_through(status, side):
    # The referral page offers allowed_next as buttons: each must work, and none be missing.
    accepted = {
        to
        for to in STATUSES
        if transition_refusal(status, to, side, reason="why", outcome="service-provided") is None
    }
    assert allowed_next(status, side) == accepted == doc_allowed(status, side)


@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("status", sorted(DOC_TERMINAL))
def test_terminal_statuses_offer_nothing(status, side):
    assert allowed_next(status, side) == frozenset()


@given(status=st.sampled_from(STATUSES), to=targets, side=sides, reason=reasons, outcome=outcomes)
def test_transition_refusal_refuses_exactly_what_the_reference_forbids(
    status, to, side, reason, outcome
):
    broken = violations(status, to, side, reason, outcome) - {"bad_outcome"}
    refusal = transition_refusal(status, to, side, reason=reason, outcome=outcome)
    if broken:
        assert refusal is not None
        assert refusal.code in broken
        assert refusal.message
    else:
        assert refusal is None


@given(
    start=st.sampled_from(STATUSES),
    steps=st.lists(st.tuples(sides, targets, reasons, outcomes), max_size=30),
)
def test_walks_over_the_table_never_leave_it(start, steps):
    status = start
    for side, to, reason, outcome in steps:
        refusal = transition_refusal(status, to, side, reason=reason, outcome=outcome)
        if status in DOC_TERMINAL:
            assert refusal is not None
            assert refusal.code in {"terminal", "unknown_status"}
            continue
        if refusal is None:
            assert to in DOC_NEXT[status] or to == ERROR
            assert str(side) in DOC_SET_BY[to]
            status = to


@pytest.mark.parametrize(
    ("status", "to", "side", "reason", "outcome", "code"),
    [
        ("requested", "reopened", Side.RECIPIENT, "", "", "unknown_status"),
        ("requested", "", Side.SENDER, "", "", "unknown_status"),
        ("completed", "in-progress", Side.RECIPIENT, "", "", "terminal"),
        ("rejected", "accepted", Side.RECIPIENT, "", "", "terminal"),
        ("cancelled", "cancelled", Side.SENDER, "again", "", "terminal"),
        ("entered-in-error", ERROR, Side.SENDER, "", "", "terminal"),
        ("failed", ERROR, Side.SENDER, "", "", "terminal"),
        ("requested", "completed", Side.RECIPIENT, "", "service-provided", "not_allowed"),
        ("requested", "in-progress", Side.RECIPIENT, "", "", "not_allowed"),
        ("accepted", "requested", Side.SENDER, "", "", "not_allowed"),
        ("on-hold", "accepted", Side.RECIPIENT, "", "", "not_allowed"),
        ("accepted", "draft", Side.SENDER, "", "", "not_allowed"),
        ("requested", "accepted", Side.SENDER, "", "", "wrong_side"),
        ("accepted", "completed", Side.SENDER, "", "service-provided", "wrong_side"),
        ("in-progress", ERROR, Side.RECIPIENT, "", "", "wrong_side"),
        ("draft", "requested", Side.RECIPIENT, "", "", "wrong_side"),
        ("requested", "rejected", Side.RECIPIENT, "", "", "reason_required"),
        ("requested", "rejected", Side.RECIPIENT, " \t\n", "", "reason_required"),
        ("accepted", "on-hold", Side.RECIPIENT, "", "", "reason_required"),
        ("requested", "cancelled", Side.SENDER, "", "", "reason_required"),
        ("in-progress", "failed", Side.RECIPIENT, "", "no-capacity", "reason_required"),
        ("accepted", "completed", Side.RECIPIENT, "", "", "outcome_required"),
        ("on-hold", "failed", Side.RECIPIENT, "No funds left", "", "outcome_required"),
    ],
)
def test_transition_refusal_codes(status, to, side, reason, outcome, code):
    refusal = transition_refusal(status, to, side, reason=reason, outcome=outcome)
    assert refusal is not None
    assert refusal.code == code
    assert refusal.message


@pytest.mark.parametrize(
    ("status", "to", "side", "reason", "outcome"),
    [
        ("draft", "requested", Side.SENDER, "", ""),
        ("requested", "accepted", Side.RECIPIENT, "", ""),
        ("requested", "rejected", Side.RECIPIENT, "Outside our area", ""),
        ("requested", "cancelled", Side.SENDER, "Sent by mistake", ""),
        ("accepted", "cancelled", Side.RECIPIENT, "Client moved", ""),
        ("on-hold", "failed", Side.RECIPIENT, "No funds", "no-capacity"),
        ("in-progress", "completed", Side.RECIPIENT, "", "service-provided"),
        ("requested", ERROR, Side.SENDER, "", ""),
        ("draft", ERROR, Side.SENDER, "", ""),
    ],
)
def test_transition_refusal_lets_allowed_changes_through(status, to, side, reason, outcome):
    assert transition_refusal(status, to, side, reason=reason, outcome=outcome) is None


# --- the service, by property ---------------------------------------------------------------


def actor(loop: Loop, side: Side) -> dict[str, Any]:
    if side == Side.SENDER:
        return {"by": loop.clinic_staff, "organization": loop.clinic}
    return {"by": loop.agency_staff, "organization": loop.food_agency}


Snapshot = tuple[dict[str, Any], list[int], list[int]]


def snapshot(referral: Referral) -> Snapshot:
    """The referral's row, its events and its notifications, to compare before and after."""
    row = Referral.objects.filter(pk=referral.pk).values().get()
    events = list(ReferralEvent.objects.filter(referral=referral).values_list("pk", flat=True))
    notes = list(Notification.objects.filter(referral=referral).values_list("pk", flat=True))
    return row, sorted(events), sorted(notes)


def assert_unchanged(referral: Referral, before: Snapshot) -> None:
    assert snapshot(referral) == before


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


def transition(loop: Loop, referral: Referral, to: str, side: Side, **kwargs: Any) -> Referral:
    kwargs.setdefault("version", referral.version)
    return referral_transition(referral=referral, to=to, **actor(loop, side), **kwargs)


def refused(loop: Loop, referral: Referral, to: str, side: Side, **kwargs: Any) -> str:
    before = snapshot(referral)
    with pytest.raises(TransitionNotAllowed) as caught:
        transition(loop, referral, to, side, **kwargs)
    assert_unchanged(referral, before)
    return caught.value.code


def walk(loop: Loop, referral: Referral, steps: Iterable[tuple[str, Side, dict]]) -> Referral:
    for to, side, kwargs in steps:
        referral = transition(loop, referral, to, side, **kwargs)
    return referral


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


# --- the same rules over HTTP ---------------------------------------------------------------


def test_api_answers_a_stale_version_with_409_and_the_current_state(client, loop):
    referral = loop.send()
    transition(loop, referral, "accepted", Side.RECIPIENT)
    act_as(client, loop.agency_staff, loop.food_agency)
    url = reverse("referrals:api_referral_transition", args=[referral.pk])
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
