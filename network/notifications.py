"""Emails to staff about their own accounts (never about clients)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .models import Membership


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
    user = membership.user
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    context = {
        "user": user,
        "membership": membership,
        "login_url": base + reverse("login"),
        "set_password_url": None,
    }
    if not user.has_usable_password():
        context["set_password_url"] = base + reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        subject = render_to_string("network/email/membership_granted_subject.txt", context)
        body = render_to_string("network/email/membership_granted.txt", context)
    send_mail(" ".join(subject.split()), body, None, [user.email])
    return True
