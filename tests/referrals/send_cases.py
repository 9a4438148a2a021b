"""Helpers shared by the send tests (test_send.py, test_send_refusals.py): sending as someone,
the rows a send writes, and who at the receiving agency is told."""

from __future__ import annotations

from typing import Any

from consent.models import AccessLog
from directory.models import ServicePage
from network.models import Role, User
from referrals.models import Notification, Referral, ReferralEvent
from referrals.services.sending import referral_send
from tests.referrals.factories import SENT_AT, Loop


def written() -> dict[str, int]:
    """Row counts of everything a send (or a refused send) could write."""
    return {
        model.__name__: model.objects.count()
        for model in (Referral, ReferralEvent, Notification, AccessLog)
    }


def send_as(
    loop: Loop,
    by: User,
    sender: Any,
    *,
    service: ServicePage | None = None,
    key: str = "k1",
    **kwargs: Any,
) -> Referral:
    kwargs.setdefault("categories", ["food-insecurity"])
    kwargs.setdefault("now", SENT_AT)
    return referral_send(
        client=loop.client,
        by=by,
        sender=sender,
        service=service or loop.food,
        idempotency_key=key,
        **kwargs,
    )


def receiving_staff(loop: Loop) -> set[User]:
    """The food agency's staff who work referrals: the tenant's agency staff and admin."""
    return {loop.agency_staff, loop.tenant.users[Role.AGENCY_ADMIN]}
