"""Emails to staff: about their own accounts, and the referral outbox (which names referrals
and services, never clients)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from referrals.models import Channel, Notification

from .models import Invitation, InvitationStatus, Membership, User

logger = logging.getLogger(__name__)


def membership_granted_send(*, membership_id: int) -> bool:
    """Tell a person which organization and role they now have; new users get a set-password link.

    Returns False when the membership no longer exists (revoked before delivery).
    """
    membership = (
        Membership.objects.select_related("user", "organization", "network")
        .filter(pk=membership_id)
        .first()
    )
    if membership is None or not membership.user.email:
        return False
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    _account_mail_send(
        membership.user,
        "network/email/membership_granted",
        {"membership": membership, "login_url": base + reverse("login")},
    )
    return True


def invitation_send(*, invitation_id: int) -> bool:
    """Email the invited person how to accept; an account without a password also gets the link
    to choose one. Returns False when the invitation was answered or is gone before delivery."""
    invitation = (
        Invitation.objects.select_related("user", "organization", "network", "invited_by")
        .filter(pk=invitation_id, status=InvitationStatus.PENDING)
        .first()
    )
    if invitation is None or not invitation.user.email or not invitation.user.is_active:
        return False
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    _account_mail_send(
        invitation.user,
        "network/email/invitation",
        {
            "invitation": invitation,
            "inviter": invitation.invited_by,
            "invitations_url": base + reverse("network:invitation_list"),
        },
    )
    return True


def _account_mail_send(user: User, template: str, context: dict[str, object]) -> None:
    """Send ``template`` (``<template>_subject.txt`` and ``<template>.txt``) to ``user`` in their
    language; an account without a password also gets the link to choose one."""
    context = {**context, "user": user, "set_password_url": None}
    if not user.has_usable_password():
        context["set_password_url"] = settings.WAGTAILADMIN_BASE_URL.rstrip("/") + reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"{template}_subject.txt", context)
        body = render_to_string(f"{template}.txt", context)
    send_mail(" ".join(subject.split()), body, None, [user.email])


# --- the referral outbox ---------------------------------------------------------------------

# After this many failures an error is logged for the operators; retries go on every
# RETRY_MAX_SECONDS, because giving up would lose the message when the outage outlasts the backoff.
MAX_ATTEMPTS = 10
RETRY_BASE_SECONDS = 60  # 1, 2, 4 … minutes, capped at RETRY_MAX_SECONDS
RETRY_MAX_SECONDS = 6 * 3600
LOST_AFTER_SECONDS = 120  # a row with no attempt this long after it was written lost its task


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
    """One row, under a row lock so that a task and the sweep never both send it."""
    now = now or timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .select_related("user")
            .filter(pk=notification_id, delivered_at__isnull=True)
            .first()
        )
        if notification is None:
            return False
        try:
            if notification.channel == Channel.EMAIL:
                _email(notification)
        except Exception as exc:
            notification.attempts += 1
            notification.last_error = f"{type(exc).__name__}: {exc}"[:300]
            notification.next_attempt_at = now + retry_delay(notification.attempts)
            notification.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            if notification.attempts == MAX_ATTEMPTS:
                logger.error(
                    "notification %s still undelivered after %s attempts (%s); retrying every %s s",
                    notification.pk,
                    notification.attempts,
                    notification.last_error,
                    RETRY_MAX_SECONDS,
                )
            return False
        notification.attempts += 1
        notification.delivered_at = now
        notification.next_attempt_at = None
        notification.save(update_fields=["attempts", "delivered_at", "next_attempt_at"])
        return True


def notifications_due(*, now: datetime) -> list[int]:
    """Undelivered rows whose retry time has come, or whose delivery task was lost."""
    lost_before = now - timedelta(seconds=LOST_AFTER_SECONDS)
    return list(
        Notification.objects.filter(delivered_at__isnull=True)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(attempts=0, next_attempt_at__isnull=True, created_at__lte=lost_before)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )


def _email(notification: Notification) -> None:
    user = notification.user
    if not user.email or not user.is_active:
        return  # nobody to email any more: the in-app copy stays
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    context = {"notification": notification, "user": user, "url": base + notification.link}
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        body = render_to_string("network/email/referral_notification.txt", context)
    send_mail(notification.subject, body, None, [user.email])
