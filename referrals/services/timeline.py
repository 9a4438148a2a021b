"""The referral's append-only timeline."""

from __future__ import annotations

from datetime import datetime

from network.models import (
    Organization,
    User,
)
from referrals.models import (
    EventKind,
    Referral,
    ReferralEvent,
)
from referrals.services.subscriptions import subscriptions_notify

# The events that change the referral's FHIR Task (created, or a new status): its subscribers
# hear of them.
_TASK_CHANGES = frozenset({EventKind.CREATED, EventKind.STATUS})


def event_add(
    referral: Referral,
    kind: str,
    *,
    at: datetime,
    actor: User | None,
    organization: Organization | None,
    from_status: str = "",
    to_status: str = "",
    text: str = "",
) -> ReferralEvent:
    event = ReferralEvent.objects.create(
        referral=referral,
        kind=kind,
        at=at,
        actor=actor,
        organization=organization,
        from_status=from_status,
        to_status=to_status,
        text=text,
    )
    if kind in _TASK_CHANGES:
        subscriptions_notify(referral=referral, at=at)
    return event
