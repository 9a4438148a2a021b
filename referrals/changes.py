"""Whether a network's referrals changed: a token every send and change through the services
renews when it commits, for what is kept in the cache until then (the dashboard's snapshots,
the inbox's and the tracker's counts); and whether a person's in-app notifications did (their
unread count)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import uuid4

from cms.generations import generation, generation_bump, generations_bump
from network.models import Organization
from referrals.models import Referral


def _generation_name(network_id: int) -> str:
    return f"network-dashboard-changed:{network_id}"


def dashboard_changed(network_id: int) -> None:
    """Call inside the transaction that writes a referral: when it commits, the network's
    dashboard snapshots stop being served."""
    generation_bump(_generation_name(network_id))


def referrals_changed_token(network_id: int) -> str:
    """A token that changes whenever a referral of the network is sent or changed through the
    services (whatever the writers' clocks say), for what else is kept until then."""
    return generation(_generation_name(network_id))


def referrals_changed_stamp(network_id: int, **side: Organization) -> str:
    """A text that changes whenever a referral of one side (``agency=`` or ``sender=``) changes:
    the network's token (every send and change through the services, whatever the writers'
    clocks) and that side's latest ``updated_at`` (one probe of the index on ``(side,
    updated_at)``, for any other writer). What is kept under it is never older than the
    referrals; while the cache cannot be reached, no two calls give the same stamp."""
    latest = (
        Referral.objects.filter(**side)
        .order_by("-updated_at")
        .values_list("updated_at", flat=True)
        .first()
    )
    stamp = latest.isoformat() if latest else "-"
    # While the cache cannot be reached there is no token, and nothing may be kept under the
    # stamp: each call is then a stamp of its own.
    token = referrals_changed_token(network_id) or f"unkept-{uuid4().hex}"
    return f"{token}:{stamp}"


def notifications_generation(user_id: int) -> str:
    """The generation a person's in-app notifications renew (their unread count is kept under
    it: ``referrals.selectors.notifications.unread_notifications``)."""
    return f"notifications:{user_id}"


def notifications_changed(user_ids: Iterable[int]) -> None:
    """Call inside the transaction that adds in-app notifications for these people, or marks
    theirs read: when it commits, what is kept of their notifications is out of date."""
    generations_bump(notifications_generation(user_id) for user_id in user_ids)
