"""Delivering the notifications outbox: each row once, under a row lock; a failure is recorded
and retried with backoff, never given up. The texts name referrals and services, never clients.

The delivery task is defined here, beside what it runs, rather than in ``tasks``: the services
that write the outbox queue it, and ``tasks`` (the scheduled sweeps) imports those services."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from network.middleware import network_zone
from referrals.models import Channel, Notification

logger = logging.getLogger(__name__)

# After this many failures an error is logged for the operators; retries go on every
# RETRY_MAX_SECONDS, because giving up would lose the message when the outage outlasts the backoff.
MAX_ATTEMPTS = 10
RETRY_BASE_SECONDS = 60  # 1, 2, 4 … minutes, capped at RETRY_MAX_SECONDS
RETRY_MAX_SECONDS = 6 * 3600


def retry_delay(attempts: int) -> timedelta:
    doublings = min(max(attempts - 1, 0), 30)  # past the cap anyway; keeps the number small
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2**doublings, RETRY_MAX_SECONDS))


def notifications_deliver(*, ids: Iterable[int], now: datetime | None = None) -> int:
    """Deliver these outbox rows if still undelivered; a failure is recorded and retried later
    with backoff. How many were delivered now."""
    delivered = 0
    for notification_id in ids:
        delivered += notification_deliver(notification_id=notification_id, now=now)
    return delivered


def notification_deliver(*, notification_id: int, now: datetime | None = None) -> bool:
    """One row: claimed, sent, then marked delivered, each step its own short transaction.

    The claim (``sending_since``) is committed before the mail server is spoken to, so a send is
    never inside a database transaction: were PostgreSQL to stop in the middle, the message the
    mail server took would otherwise be rolled back to undelivered and sent again. Once the mail
    server has answered 250, marking the row is retried until the database answers. A claim left
    behind (the worker died between the claim and the mark) is taken again after
    ``claim_abandoned_after()``; the one case that sends twice is a worker killed in the moment
    between the mail server's 250 and its own commit, and the copy carries the same Message-ID.
    """
    now = now or timezone.now()
    notification = _claim(notification_id, now)
    if notification is None:
        return False
    mailer = get_connection()
    try:
        try:
            if notification.channel == Channel.EMAIL:
                _email(notification, mailer)
        except Exception as exc:
            _record_failure(notification, exc, now)
            return False
        # Marked while the conversation is still open: the mail server's goodbye (QUIT) comes
        # after the commit, so neither its round trip nor an error in it lies between the 250
        # and the mark.
        _mark_delivered(notification.pk, now)
        return True
    finally:
        _goodbye(mailer, notification.pk)


def _goodbye(mailer: BaseEmailBackend, notification_id: int) -> None:
    """Close the conversation. The delivery's outcome (sent, or failed and to be retried) is
    recorded already, so a failure here changes nothing."""
    try:
        mailer.close()
    except Exception as exc:
        logger.warning(
            "notification %s: closing the mail connection failed (%s); its delivery stands as "
            "recorded",
            notification_id,
            type(exc).__name__,
        )


def claim_abandoned_after() -> timedelta:
    """How old a claim must be before another worker takes the row again
    (``HANDOFF_OUTBOX_CLAIM_LAPSE_SECONDS``): longer than a send and than a database outage a
    worker waits out to mark what it sent, so a live worker's claim is never taken."""
    return timedelta(seconds=settings.HANDOFF_OUTBOX_CLAIM_LAPSE_SECONDS)


def _claim(notification_id: int, now: datetime) -> Notification | None:
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user", "referral__network")
            .filter(pk=notification_id, delivered_at__isnull=True)
            .filter(
                Q(sending_since__isnull=True) | Q(sending_since__lte=now - claim_abandoned_after())
            )
            .first()
        )
        if notification is None:
            return None
        if notification.sending_since is not None:
            logger.warning(
                "notification %s: the worker that claimed it at %s did not finish; sending again "
                "(the copy carries the same Message-ID)",
                notification.pk,
                notification.sending_since.isoformat(),
            )
        notification.sending_since = now
        notification.save(update_fields=["sending_since"])
    return notification


def _record_failure(notification: Notification, exc: Exception, now: datetime) -> None:
    notification.attempts += 1
    notification.last_error = f"{type(exc).__name__}: {exc}"[:300]
    notification.next_attempt_at = now + retry_delay(notification.attempts)
    notification.sending_since = None
    # Not retried if the database is down too: the claim then lapses and the sweep sends it.
    notification.save(update_fields=["attempts", "last_error", "next_attempt_at", "sending_since"])
    if notification.attempts == MAX_ATTEMPTS:
        logger.error(
            "notification %s still undelivered after %s attempts (%s); retrying every %s s",
            notification.pk,
            notification.attempts,
            notification.last_error,
            RETRY_MAX_SECONDS,
        )


# While the database is unreachable after a message went out, marking it is retried this often,
# for most of the claim's life (it lapses after claim_abandoned_after()): when the database
# comes back this worker marks the row within a fifth of a second, long before the claim lapses.
MARK_RETRY_SECONDS = 0.2


def _mark_delivered(notification_id: int, now: datetime) -> None:
    give_up_at = time.monotonic() + claim_abandoned_after().total_seconds() * 0.8
    while True:
        try:
            Notification.objects.filter(pk=notification_id).update(
                attempts=F("attempts") + 1,
                delivered_at=now,
                next_attempt_at=None,
                sending_since=None,
            )
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() >= give_up_at:
                logger.error(
                    "notification %s was sent but could not be marked delivered: the database "
                    "is unreachable; it will be sent again once its claim lapses",
                    notification_id,
                )
                raise
            if not connection.in_atomic_block:
                connection.close()  # the next try opens a new one
            time.sleep(MARK_RETRY_SECONDS)


def notifications_due(*, now: datetime) -> list[int]:
    """Undelivered rows whose retry time has come, or whose delivery task was lost."""
    lost_before = now - timedelta(seconds=settings.HANDOFF_OUTBOX_LOST_AFTER_SECONDS)
    return list(
        Notification.objects.filter(delivered_at__isnull=True)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(attempts=0, next_attempt_at__isnull=True, created_at__lte=lost_before)
            | Q(sending_since__lte=now - claim_abandoned_after())
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )


def _email(notification: Notification, mailer: BaseEmailBackend) -> None:
    """Send over ``mailer``, opened here and left open: the caller marks, then closes it."""
    user = notification.user
    if not user.email or not user.is_active:
        return  # nobody to email any more: the in-app copy stays
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    context = {"notification": notification, "user": user, "url": base + notification.link}
    # In the reader's language, times in the referral's network's zone (as on its pages).
    referral = notification.referral
    zone = network_zone(referral.network if referral is not None else None)
    with (
        translation.override(user.preferred_language or settings.LANGUAGE_CODE),
        timezone.override(zone or timezone.get_current_timezone()),
    ):
        body = render_to_string("referrals/email/referral_notification.txt", context)
    # One Message-ID per outbox row: were a worker to die between the mail server's answer and
    # its own commit, the copy sent again carries the same ID, and mail systems drop it.
    message_id = f"<notification-{notification.pk}@{urlsplit(base).hostname or 'handoff'}>"
    mailer.open()
    EmailMessage(
        notification.subject,
        body,
        None,
        [user.email],
        headers={"Message-ID": message_id},
        connection=mailer,
    ).send()


@shared_task(name="referrals.tasks.notifications_deliver")
def notifications_deliver_task(ids: list[int]) -> int:
    """Deliver outbox rows written by a referral change; failures wait for the sweep."""
    return notifications_deliver(ids=ids)


def delivery_enqueue(ids: list[int]) -> None:
    """Queue delivery; if the broker is down the rows wait for the sweep (nothing is lost)."""
    try:
        notifications_deliver_task.delay(ids)
    except Exception:
        logger.warning("could not queue delivery of notifications %s; the sweep will", ids)
