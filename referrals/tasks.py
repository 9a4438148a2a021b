"""Background work of the referral loop; tasks stay thin and call services. (The delivery of
one batch of notifications, queued by the services that write them, is
``referrals.outbox.notifications_deliver_task``; FHIR subscription notifications are queued to
``fhir_notifications_deliver_task`` below by ``referrals.services.subscriptions``.)"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import dashboard_snapshots, outbox
from .services import overdue
from .services import subscriptions as fhir_subscriptions


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


@shared_task(name="referrals.tasks.fhir_notifications_deliver")
def fhir_notifications_deliver_task(subscription_ids: list[int]) -> int:
    """Send the FHIR subscription notifications a change queued (failures wait for the sweep)."""
    return fhir_subscriptions.fhir_notifications_deliver(subscription_ids=subscription_ids)


@shared_task
def fhir_subscriptions_sweep() -> int:
    """Every minute: queue the heartbeats due, then send every FHIR subscription's notifications
    due (retries whose time has come, rows whose task was lost, the heartbeats)."""
    now = timezone.now()
    fhir_subscriptions.fhir_heartbeats_queue(now=now)
    return fhir_subscriptions.fhir_notifications_deliver(
        subscription_ids=fhir_subscriptions.fhir_subscriptions_due(now=now), now=now
    )
