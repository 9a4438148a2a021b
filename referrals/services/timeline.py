"""The referral's append-only timeline."""

from __future__ import annotations

from datetime import datetime

from network.models import (
    Organization,
    User,
)
from referrals.models import (
    Referral,
    ReferralEvent,
)


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
    return ReferralEvent.objects.create(
        referral=referral,
        kind=kind,
        at=at,
        actor=actor,
        organization=organization,
        from_status=from_status,
        to_status=to_status,
        text=text,
    )
