"""The agency portal: the referral inbox and the agency's own listings.

Every action is a plain form; htmx, where the page loads it, only swaps the part that changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory import services as directory_services
from directory.models import CapacityStatus, ServicePage
from referrals.models import Referral

from .. import selectors
from ..forms import ListingSuggestionForm
from ..middleware import TenantRequest
from ..models import Organization
from ..permissions import OrgPerm, user_has_org_perm
from . import member_required
from .referrals import client_ip, language_name

if TYPE_CHECKING:
    from directory.models import AgencyPage

INBOX_PAGE_SIZE = 25
TAB_LABELS = {
    "new": gettext_lazy("New"),
    "overdue": gettext_lazy("Overdue"),
    "in_progress": gettext_lazy("In progress"),
    "waiting": gettext_lazy("Waiting on the client"),
}
CAPACITY_BUTTONS = [
    (CapacityStatus.ACCEPTING, gettext_lazy("Accepting")),
    (CapacityStatus.WAITLIST, gettext_lazy("Waitlist")),
    (CapacityStatus.NOT_ACCEPTING, gettext_lazy("Not accepting")),
]


def is_htmx(request: TenantRequest) -> bool:
    return bool(getattr(request, "htmx", False))


# --- inbox -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    """One referral as an inbox row: its due date, whether that has passed, and the client's
    language when the disclosure shows it ("" otherwise)."""

    referral: Referral
    due_at: datetime | None
    overdue: bool
    language: str


def receiving_organization(request: TenantRequest) -> Organization:
    """The acting organization if the user works the referrals it receives; 403 otherwise."""
    organization = request.organization
    if (
        organization is None
        or not organization.receives_referrals
        or not user_has_org_perm(
            request.user,
            OrgPerm.RECEIVE_REFERRALS,
            organization,
            checker=request.permission_checker,
        )
    ):
        raise PermissionDenied(
            _("The referral inbox is for an agency's staff; switch to your agency to see it.")
        )
    return organization


@require_GET
@member_required
def referral_inbox(request: TenantRequest) -> HttpResponse:
    organization = receiving_organization(request)
    tab = request.GET.get("tab", "")
    if tab not in selectors.INBOX_TABS:
        tab = "new"
    descending = request.GET.get("sort") == "-due"
    now = timezone.now()
    counts = selectors.referral_inbox_counts(user=request.user, organization=organization, now=now)
    referrals = selectors.referral_inbox_tab(
        user=request.user, organization=organization, tab=tab, now=now, descending=descending
    )
    page = Paginator(referrals, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    listed: list[Any] = list(page.object_list)
    languages = selectors.referral_inbox_languages(
        referrals=listed,
        organization=organization,
        user=request.user,
        at=now,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    rows = [
        InboxRow(
            referral=referral,
            due_at=referral.due_at,
            overdue=referral.due_at is not None and referral.due_at < now,
            language=language_name(languages[referral.pk]) if languages.get(referral.pk) else "",
        )
        for referral in listed
    ]
    sort = "-due" if descending else "due"
    context = {
        "tab": tab,
        "tabs": [
            (key, label, counts[key], "?" + urlencode({"tab": key, "sort": sort}))
            for key, label in TAB_LABELS.items()
        ],
        "sort": sort,
        "sort_toggle": "?" + urlencode({"tab": tab, "sort": "due" if descending else "-due"}),
        "page": page,
        "rows": rows,
    }
    if is_htmx(request):
        return render(request, "network/portal/_inbox_list.html", context)
    return render(request, "network/portal/inbox.html", context)


# --- listings --------------------------------------------------------------------------------


def listing_keeper(request: TenantRequest) -> tuple[Organization, AgencyPage | None]:
    """The acting agency and its listing (None when it has none yet), for its staff who keep
    it current; 403 for anyone else."""
    organization = request.organization
    if (
        organization is None
        or not organization.receives_referrals
        or not user_has_org_perm(
            request.user, OrgPerm.UPDATE_CAPACITY, organization, checker=request.permission_checker
        )
    ):
        raise PermissionDenied(
            _("Listings are kept by an agency's staff; switch to your agency to see them.")
        )
    return organization, selectors.agency_listing(user=request.user, organization=organization)


def own_listing(request: TenantRequest) -> tuple[Organization, AgencyPage]:
    organization, listing = listing_keeper(request)
    if listing is None:
        raise Http404(_("Your agency has no directory listing yet."))
    return organization, listing


def listing_is_stale(listing: AgencyPage, interval_days: int, now: datetime) -> bool:
    """Never confirmed, or not within the network's verification interval."""
    verification = getattr(listing, "verification", None)
    if verification is None or verification.last_verified_at is None:
        return True
    return bool(verification.last_verified_at < now - timedelta(days=interval_days))


@require_GET
@member_required
def agency_listings(request: TenantRequest) -> HttpResponse:
    organization, listing = listing_keeper(request)
    services = list(selectors.agency_listing_services(listing=listing)) if listing else []
    return render(
        request,
        "network/portal/listings.html",
        {
            "organization": organization,
            "listing": listing,
            "verification": getattr(listing, "verification", None) if listing else None,
            "stale": listing is not None
            and listing_is_stale(
                listing, organization.network.verification_interval_days, timezone.now()
            ),
            "services": services,
            "capacity_buttons": CAPACITY_BUTTONS,
        },
    )


def service_row(service: ServicePage, *, saved: bool = False, error: str = "") -> dict[str, Any]:
    return {
        "service": service,
        "capacity_buttons": CAPACITY_BUTTONS,
        "saved": saved,
        "error": error,
    }


@require_POST
@member_required
def capacity_update(request: TenantRequest, pk: int) -> HttpResponse:
    _organization, listing = own_listing(request)
    service = get_object_or_404(selectors.agency_listing_services(listing=listing), pk=pk)
    status = request.POST.get("status", "")
    try:
        capacity = directory_services.capacity_update(
            service=service, status=status, note=request.POST.get("note", "")[:300], by=request.user
        )
    except ValidationError:
        error = _("Choose accepting, waitlist or not accepting; nothing was changed.")
        if is_htmx(request):
            return render(
                request,
                "network/portal/_service_row.html",
                service_row(service, error=error),
                status=400,
            )
        messages.error(request, error)
        return redirect("network:agency_listings")
    service.capacity = capacity
    if is_htmx(request):
        return render(request, "network/portal/_service_row.html", service_row(service, saved=True))
    messages.success(
        request,
        _("%(service)s: %(status)s.")
        % {"service": service.title, "status": capacity.get_status_display()},
    )
    return redirect("network:agency_listings")


@require_POST
@member_required
def listing_confirm(request: TenantRequest) -> HttpResponse:
    _organization, listing = own_listing(request)
    pages = directory_services.listing_confirm(page=listing, by=request.user)
    services = pages - 1
    messages.success(
        request,
        ngettext(
            "Thank you: your listing and its %(count)d service are marked as current.",
            "Thank you: your listing and its %(count)d services are marked as current.",
            services,
        )
        % {"count": services},
    )
    return redirect("network:agency_listings")


@require_http_methods(["GET", "POST"])
@member_required
def listing_suggest(request: TenantRequest) -> HttpResponse:
    organization, listing = own_listing(request)
    pages: list[tuple[int, str]] = [
        (listing.pk, _("%(agency)s (the agency)") % {"agency": listing.title})
    ]
    by_pk: dict[int, Any] = {listing.pk: listing}
    for service in selectors.agency_listing_services(listing=listing):
        pages.append((service.pk, service.title))
        by_pk[service.pk] = service
    if request.method == "GET":
        initial = {"page": request.GET.get("page", listing.pk)}
        form = ListingSuggestionForm(pages=pages, initial=initial)
        return render(request, "network/portal/listing_suggest.html", {"form": form})
    form = ListingSuggestionForm(request.POST, pages=pages)
    if form.is_valid():
        data = form.cleaned_data
        try:
            directory_services.listing_suggestion_create(
                page=by_pk[data["page"]],
                organization=organization,
                by=request.user,
                text=data["text"],
                field_name=data["field_name"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("Thank you: the network's admins will review your suggestion."),
            )
            return redirect("network:agency_listings")
    return render(request, "network/portal/listing_suggest.html", {"form": form}, status=400)


urlpatterns: list[URLPattern] = [
    path("inbox/", referral_inbox, name="referral_inbox"),
    path("listings/", agency_listings, name="agency_listings"),
    path("listings/confirm/", listing_confirm, name="listing_confirm"),
    path("listings/suggest/", listing_suggest, name="listing_suggest"),
    path("listings/services/<int:pk>/capacity/", capacity_update, name="capacity_update"),
]
