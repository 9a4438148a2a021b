"""Background work for the network app; tasks stay thin and call into mail or services."""

from __future__ import annotations

from celery import shared_task

from cms.errors import DATABASE_UNREACHABLE

from . import notifications

# Retried while the mail server or the database cannot be reached: both emails read everything
# they need before sending and write nothing after, so a retry never sends one twice.
RETRIED_ON = (OSError, *DATABASE_UNREACHABLE)


@shared_task(
    bind=True, autoretry_for=RETRIED_ON, retry_backoff=True, retry_kwargs={"max_retries": 8}
)
def membership_notify_granted(self, membership_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Email a person that they were given access; True if an email was sent."""
    return notifications.membership_granted_send(membership_id=membership_id)


@shared_task(
    bind=True, autoretry_for=RETRIED_ON, retry_backoff=True, retry_kwargs={"max_retries": 8}
)
def invitation_notify(self, invitation_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Email a person an invitation to an organization; True if an email was sent."""
    return notifications.invitation_send(invitation_id=invitation_id)
