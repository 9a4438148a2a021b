"""What every page's header shows of the referral loop: the signed-in person's unread count."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.http import HttpRequest

from .models import Channel, Notification


def notifications(request: HttpRequest) -> dict[str, Any]:
    """``unread_notifications``: how many in-app notifications the signed-in person has not read.

    A callable the template calls (once, cached) only where the header shows it, so a page
    without the header (htmx partials, JSON, files) and anonymous visitors cost no query.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def unread() -> int:
        return Notification.objects.filter(
            user=user, channel=Channel.IN_APP, read_at__isnull=True
        ).count()

    count: Callable[[], int] = unread
    return {"unread_notifications": count}
