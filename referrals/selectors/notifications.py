"""A person's in-app notifications: how many are unread (every page's header shows it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cms.generations import kept_for
from referrals.changes import notifications_generation
from referrals.models import Channel, Notification

if TYPE_CHECKING:
    from network.models import User

# How long an unread count is kept at most (a notification added or read renews it at once).
UNREAD_KEPT_SECONDS = 300


def unread_notifications(user: User) -> int:
    """How many in-app notifications ``user`` has not read, kept in the cache until one is
    added or read (``referrals.changes.notifications_changed``): a page's header costs one read
    of the cache, not a count over the person's notifications."""
    return kept_for(
        notifications_generation(user.pk),
        f"unread-notifications:{user.pk}",
        lambda: Notification.objects.filter(
            user=user, channel=Channel.IN_APP, read_at__isnull=True
        ).count(),
        UNREAD_KEPT_SECONDS,
    )
