"""What every page's header shows of the referral loop: the signed-in person's unread count."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.http import HttpRequest

from .selectors.notifications import unread_notifications


def notifications(request: HttpRequest) -> dict[str, Any]:
    """``unread_notifications``: how many in-app notifications the signed-in person has not read.

    A callable the template calls (once, cached) only where the header shows it, so a page
    without the header (htmx partials, JSON, files) and anonymous visitors cost nothing; the
    count itself is kept in the cache until a notification is added or read.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def unread() -> int:
        return unread_notifications(user)

    count: Callable[[], int] = unread
    return {"unread_notifications": count}
