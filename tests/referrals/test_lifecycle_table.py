"""The referral lifecycle's transition table (``referrals.lifecycle``) against the reference
written out in lifecycle_reference.py: the table itself, what ``allowed_next`` offers, and what
``transition_refusal`` refuses (by property with hypothesis, and by example)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from tests.referrals.lifecycle_reference import (
    DOC_NEXT,
    DOC_OUTCOME,
    DOC_REASON,
    DOC_SET_BY,
    DOC_TERMINAL,
    ERROR,
    STATUSES,
    doc_allowed,
    outcomes,
    reasons,
    sides,
    targets,
    violations,
)

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

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
