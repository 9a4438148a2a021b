"""The referral lifecycle in one table: which status may follow which, set by which side, and
what each change must carry. ``services.referral_transition`` is the only code that applies it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from referrals.models import ReferralStatus as S


class Side(enum.StrEnum):
    SENDER = "sender"
    RECIPIENT = "recipient"


TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.REQUESTED, S.CANCELLED}),
    S.REQUESTED: frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.ON_HOLD, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.ON_HOLD, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.REJECTED: frozenset(),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.ENTERED_IN_ERROR: frozenset(),
}
# Any open status may be marked entered-in-error by the sender; terminal ones stay as they are.
ANY_TO_ERROR = S.ENTERED_IN_ERROR

TERMINAL: frozenset[str] = frozenset(
    {S.REJECTED, S.COMPLETED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR}
)
# Accepted and not finished: an outcome is owed.
OUTCOME_OWED: frozenset[str] = frozenset({S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})

SET_BY: dict[str, frozenset[Side]] = {
    S.REQUESTED: frozenset({Side.SENDER}),
    S.ACCEPTED: frozenset({Side.RECIPIENT}),
    S.REJECTED: frozenset({Side.RECIPIENT}),
    S.IN_PROGRESS: frozenset({Side.RECIPIENT}),
    S.ON_HOLD: frozenset({Side.RECIPIENT}),
    S.COMPLETED: frozenset({Side.RECIPIENT}),
    S.FAILED: frozenset({Side.RECIPIENT}),
    S.CANCELLED: frozenset({Side.SENDER, Side.RECIPIENT}),
    S.ENTERED_IN_ERROR: frozenset({Side.SENDER}),
}
REASON_REQUIRED: frozenset[str] = frozenset({S.REJECTED, S.CANCELLED, S.ON_HOLD, S.FAILED})
OUTCOME_REQUIRED: frozenset[str] = frozenset({S.COMPLETED, S.FAILED})


@dataclass(frozen=True)
class Refusal:
    """Why a change is not allowed, for the caller to show."""

    code: str
    message: str


def allowed_next(status: str, side: Side) -> frozenset[str]:
    """Statuses ``side`` may move a referral in ``status`` to (what ``transition_refusal``
    lets through)."""
    if status in TERMINAL:
        return frozenset()
    following = set(TRANSITIONS[status]) | {ANY_TO_ERROR}
    return frozenset(to for to in following if side in SET_BY[to])


def transition_refusal(
    status: str, to: str, side: Side, *, reason: str = "", outcome: str = ""
) -> Refusal | None:
    """None when ``side`` may move ``status`` to ``to`` with this reason and outcome."""
    if to not in TRANSITIONS:
        return Refusal("unknown_status", f"“{to}” is not a referral status.")
    if status in TERMINAL:
        return Refusal("terminal", f"The referral is {status}; it cannot change any more.")
    if to not in TRANSITIONS[status] and to != ANY_TO_ERROR:
        return Refusal("not_allowed", f"A {status} referral cannot become {to}.")
    if side not in SET_BY[to]:
        who = " or ".join(sorted(SET_BY[to]))
        return Refusal("wrong_side", f"Only the {who} may mark a referral {to}.")
    if to in REASON_REQUIRED and not reason.strip():
        return Refusal("reason_required", f"A reason is required to mark a referral {to}.")
    if to in OUTCOME_REQUIRED and not outcome:
        return Refusal("outcome_required", f"An outcome is required to mark a referral {to}.")
    return None
