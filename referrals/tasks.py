"""Background work of the referral loop; tasks stay thin and call services. (The delivery of
one batch of notifications, queued by the services that write them, is
``referrals.outbox.notifications_deliver_task``.)"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import dashboard_snapshots, outbox
from .services import overdue


@shared_task
def notifications_sweep() -> int:
    """Every minute: deliver outbox rows due for a retry or whose task was lost."""
    now = timezone.now()
    return outbox.notifications_deliver(ids=outbox.notifications_due(now=now), now=now)


@shared_task
def referrals_overdue_sweep() -> dict[str, int]:
    """Every 15 minutes: reminders, escalations and consent expiry on open referrals."""
    return overdue.referrals_overdue_process(now=timezone.now())


@shared_task
def network_dashboards_warm() -> int:
    """Every minute: recompute the dashboard snapshots that changed or are growing old, for the
    networks whose admins opened their dashboard in the last week."""
    return dashboard_snapshots.dashboards_warm(now=timezone.now())
