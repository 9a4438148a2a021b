"""Background work for the network app; tasks stay thin and call into mail or services."""

from __future__ import annotations

from celery import shared_task

from . import notifications


@shared_task(
    bind=True, autoretry_for=(OSError,), retry_backoff=True, retry_kwargs={"max_retries": 8}
)
def membership_notify_granted(self, membership_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Email a person that they were given access; True if an email was sent."""
    return notifications.membership_granted_send(membership_id=membership_id)


@shared_task(
    bind=True, autoretry_for=(OSError,), retry_backoff=True, retry_kwargs={"max_retries": 8}
)
def invitation_notify(self, invitation_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Email a person an invitation to an organization; True if an email was sent."""
    return notifications.invitation_send(invitation_id=invitation_id)


@shared_task
def notifications_deliver(ids: list[int]) -> int:
    """Deliver outbox rows written by a referral change; failures wait for the sweep."""
    return notifications.notifications_deliver(ids=ids)


@shared_task
def notifications_sweep() -> int:
    """Every minute: deliver outbox rows due for a retry or whose task was lost."""
    from django.utils import timezone

    now = timezone.now()
    return notifications.notifications_deliver(
        ids=notifications.notifications_due(now=now), now=now
    )


@shared_task
def referrals_overdue_sweep() -> dict[str, int]:
    """Every 15 minutes: reminders, escalations and consent expiry on open referrals."""
    from django.utils import timezone

    from . import services

    return services.referrals_overdue_process(now=timezone.now())


@shared_task
def network_dashboards_warm() -> int:
    """Every minute: recompute the dashboard snapshots that changed or are growing old, for the
    networks whose admins opened their dashboard in the last week."""
    from django.utils import timezone

    from . import dashboard

    return dashboard.dashboards_warm(now=timezone.now())
