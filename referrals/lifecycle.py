"""The referral lifecycle in one table: which status may follow which, set by which side, and
what each change must carry. ``services.referral_transition`` is the only code that applies it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from referrals.models import TERMINAL_STATUSES, ReasonCode
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

# Rejected, completed, failed, cancelled, entered in error (a query's IN list takes the tuple).
TERMINAL: frozenset[str] = frozenset(TERMINAL_STATUSES)
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
# A decline or a failure carries a coded reason (``Referral.reason_code``, counted by the
# dashboard); the free-text reason is then optional, except for "other".
REASON_CODE_REQUIRED: frozenset[str] = frozenset({S.REJECTED, S.FAILED})


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
    status: str,
    to: str,
    side: Side,
    *,
    reason: str = "",
    outcome: str = "",
    reason_code: str | None = None,
) -> Refusal | None:
    """None when ``side`` may move ``status`` to ``to`` with this reason and outcome.

    ``reason_code`` None is a caller that does not code reasons (it is not checked); else it is
    required for ``REASON_CODE_REQUIRED`` and stands for the free text unless it is "other"."""
    if to not in TRANSITIONS:
        return Refusal("unknown_status", f"“{to}” is not a referral status.")
    if status in TERMINAL:
        return Refusal("terminal", f"The referral is {status}; it cannot change any more.")
    if to not in TRANSITIONS[status] and to != ANY_TO_ERROR:
        return Refusal("not_allowed", f"A {status} referral cannot become {to}.")
    if side not in SET_BY[to]:
        who = " or ".join(sorted(SET_BY[to]))
        return Refusal("wrong_side", f"Only the {who} may mark a referral {to}.")
    if reason_code is not None:
        refusal = reason_code_refusal(to, reason_code)
        if refusal is not None:
            return refusal
    coded = to in REASON_CODE_REQUIRED and reason_code not in (None, "", ReasonCode.OTHER)
    if to in REASON_REQUIRED and not reason.strip() and not coded:
        return Refusal("reason_required", f"A reason is required to mark a referral {to}.")
    if to in OUTCOME_REQUIRED and not outcome:
        return Refusal("outcome_required", f"An outcome is required to mark a referral {to}.")
    return None


def reason_code_refusal(to: str, reason_code: str) -> Refusal | None:
    """None when ``reason_code`` fits a change to ``to``: one of ``ReasonCode`` for a decline or
    a failure, none for any other change."""
    if to not in REASON_CODE_REQUIRED:
        if reason_code:
            return Refusal(
                "bad_reason_code", f"A change to {to} takes no coded reason ({reason_code!r})."
            )
        return None
    if not reason_code:
        return Refusal(
            "reason_code_required", f"A coded reason is required to mark a referral {to}."
        )
    if reason_code not in ReasonCode.values:
        return Refusal(
            "bad_reason_code",
            f"“{reason_code}” is not a reason code; one of: {', '.join(ReasonCode.values)}.",
        )
    return None


def reason_code_given(to: str, reason_code: str | None, reason: str) -> str | None:
    """The coded reason of a caller that may not code it (``reason_code`` None: the API's and
    older callers' free-text-only decline or failure): "other" when it gave words, so that every
    declined or failed referral has a code; else what was given."""
    if reason_code is None and to in REASON_CODE_REQUIRED and reason.strip():
        return ReasonCode.OTHER
    return reason_code
