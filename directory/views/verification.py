"""Directory pages outside Wagtail: the no-password listing check an agency gets by email.

The emailed link carries a token in its path. It answers once, with a redirect to the token-free
``/listings/verify/`` after putting the token in the session, so the token reaches access logs,
browser history of later pages and Referer headers at most on that first hop.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from wagtail.models import Page

from directory import services, verification_links
from directory.models import ServicePage
from network.middleware import site_network

SESSION_KEY = "directory_listing_verify"


def _refused(request: HttpRequest, exc: verification_links.VerificationLinkInvalid) -> HttpResponse:
    response = render(
        request,
        "directory/listing_verify_invalid.html",
        {"reason": str(exc)},
        status=410 if exc.gone else 404,
    )
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def listing_verify_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: check it on this network's site, keep its token in the session, and move
    on to the token-free page."""
    try:
        verification_links.verification_token_read(token, network=site_network(request))
    except verification_links.VerificationLinkInvalid as exc:
        return _refused(request, exc)
    request.session[SESSION_KEY] = token
    response = redirect("directory:listing_verify")
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET", "POST"])
def listing_verify(request: HttpRequest) -> HttpResponse:
    """Confirm the listing is current (no password; uses the link up), or go and update it
    (signed in, moderated)."""
    token = request.session.get(SESSION_KEY)
    network = site_network(request)
    if not isinstance(token, str):
        return _refused(
            request,
            verification_links.VerificationLinkInvalid(_("Open the link from your email again.")),
        )
    try:
        agency, _user = verification_links.verification_token_read(token, network=network)
    except verification_links.VerificationLinkInvalid as exc:
        request.session.pop(SESSION_KEY, None)
        return _refused(request, exc)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "confirm":
            try:
                agency = services.listing_confirm_by_link(token=token, network=network)
            except verification_links.VerificationLinkInvalid as exc:
                return _refused(request, exc)
            finally:
                request.session.pop(SESSION_KEY, None)
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
