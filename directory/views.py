"""Directory pages outside Wagtail: the no-password listing check an agency gets by email."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from wagtail.models import Page

from . import services
from .models import ServicePage


@require_http_methods(["GET", "POST"])
def listing_verify(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm the listing is current (no password), or go and update it (moderated)."""
    try:
        agency, user = services.verification_token_read(token)
    except services.VerificationLinkInvalid as exc:
        return render(
            request,
            "directory/listing_verify_invalid.html",
            {"reason": str(exc)},
            status=410 if exc.expired else 404,
        )
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "confirm":
            services.listing_confirm(page=agency, by=user)
            return render(request, "directory/listing_verify_done.html", {"agency": agency})
        if action == "update":
            # Changes are made in the editor, signed in; they go to network-admin review.
            return redirect(reverse("wagtailadmin_pages:edit", args=[agency.pk]))
        return render(
            request,
            "directory/listing_verify.html",
            {
                "agency": agency,
                "services": _services(agency),
                "error": _("Choose one of the two buttons."),
            },
            status=400,
        )
    return render(
        request, "directory/listing_verify.html", {"agency": agency, "services": _services(agency)}
    )


def _services(agency: Page) -> list[ServicePage]:
    return list(
        ServicePage.objects.child_of(agency).live().order_by("title").prefetch_related("categories")
    )
