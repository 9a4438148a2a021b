"""The referral lifecycle as ``reference/referral-lifecycle.md`` writes it, written out again here
so that the transition table (``referrals.lifecycle``) is checked against the document, not
against itself: the statuses, who sets each, which need a reason or an outcome, every rule a
change breaks (``violations``), and the hypothesis strategies the lifecycle tests draw from."""

from __future__ import annotations

from hypothesis import strategies as st

from referrals.lifecycle import Side
from referrals.models import ReferralOutcome, ReferralStatus

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
