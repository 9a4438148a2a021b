"""Steps of the lifecycle tests through ``referral_transition``: who acts for each side, a
referral's rows before and after (a refused change must leave them as they were), and a change
made, refused or walked along a path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from referrals.errors import TransitionNotAllowed
from referrals.lifecycle import Side
from referrals.models import Notification, Referral, ReferralEvent
from referrals.services.transitions import referral_transition
from tests.referrals.factories import Loop


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
