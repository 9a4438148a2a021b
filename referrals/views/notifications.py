"""In-app notifications: what the outbox delivered to the signed-in person."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from network.decorators import member_required
from network.middleware import TenantRequest
from referrals.models import Channel, Notification
from referrals.selectors.notifications import unread_notifications
from referrals.services.notifications import notifications_mark_read

PAGE = 50


@require_GET
@member_required
def notification_list(request: TenantRequest) -> HttpResponse:
    """The person's latest in-app notifications, unread first marked."""
    # An in-app notification is there as soon as its change commits; no worker is needed.
    mine = Notification.objects.filter(user=request.user, channel=Channel.IN_APP)
    return render(
        request,
        "referrals/notification_list.html",
        {
            "notifications": list(mine.order_by("-created_at", "-pk")[:PAGE]),
            "unread": unread_notifications(request.user),
        },
    )


@require_POST
@member_required
def notifications_read(request: TenantRequest) -> HttpResponse:
    notifications_mark_read(request.user, at=timezone.now())
    return redirect("referrals:notification_list")
