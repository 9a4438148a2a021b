"""Emails to staff about their own accounts: access granted, invitations."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

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
