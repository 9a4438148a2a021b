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
