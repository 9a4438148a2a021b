"""Emails to agency staff about their listings."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from network.models import Network, User

from .models import AgencyPage
from .verification_links import VERIFY_LINK_DAYS, verification_token_make


def listing_verification_email(*, page_id: int, user_id: int) -> bool:
    """Send the confirm-or-update link; False if the listing or person is gone."""
    page = (
        AgencyPage.objects.filter(pk=page_id).select_related("organization__network__site").first()
    )
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if page is None or user is None or not user.email:
        return False
    network = page.organization.network if page.organization else None
    if network is None:
        return False
    token = verification_token_make(page=page, user=user)
    context = {
        "page": page,
        "user": user,
        "days": VERIFY_LINK_DAYS,
        "url": _site_url(network) + reverse("directory:listing_verify_link", args=[token]),
    }
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        subject = render_to_string("directory/email/verify_subject.txt", context)
        body = render_to_string("directory/email/verify.txt", context)
    send_mail(" ".join(subject.split()), body, None, [user.email])
    return True


def _site_url(network: Network) -> str:
    """The network's own site (the link works there only), with the deployment's scheme."""
    scheme = urlsplit(settings.WAGTAILADMIN_BASE_URL).scheme or "https"
    site = network.site
    port = "" if site.port in {80, 443} else f":{site.port}"
    return f"{scheme}://{site.hostname}{port}"
