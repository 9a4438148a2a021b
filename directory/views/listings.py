"""The agency portal's listing pages: the agency's services with their capacity (one click to
change), confirming the listing is current, and suggesting a change to the network's admins."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory import services as directory_services
from directory.listing_forms import ListingSuggestionForm
from directory.models import CapacityStatus, ServicePage
from directory.selectors import agency_listing, agency_listing_services
from network.decorators import member_required
from network.middleware import TenantRequest, is_htmx
from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm

if TYPE_CHECKING:
    from directory.models import AgencyPage


CAPACITY_BUTTONS = [
    (CapacityStatus.ACCEPTING, gettext_lazy("Accepting")),
    (CapacityStatus.WAITLIST, gettext_lazy("Waitlist")),
    (CapacityStatus.NOT_ACCEPTING, gettext_lazy("Not accepting")),
]


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
    return organization, agency_listing(user=request.user, organization=organization)


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
    services = list(agency_listing_services(listing=listing)) if listing else []
    return render(
        request,
        "directory/portal/listings.html",
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
    service = get_object_or_404(agency_listing_services(listing=listing), pk=pk)
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
                "directory/portal/_service_row.html",
                service_row(service, error=error),
                status=400,
            )
        messages.error(request, error)
        return redirect("directory:agency_listings")
    service.capacity = capacity
    if is_htmx(request):
        return render(
            request, "directory/portal/_service_row.html", service_row(service, saved=True)
        )
    messages.success(
        request,
        _("%(service)s: %(status)s.")
        % {"service": service.title, "status": capacity.get_status_display()},
    )
    return redirect("directory:agency_listings")


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
    return redirect("directory:agency_listings")


@require_http_methods(["GET", "POST"])
@member_required
def listing_suggest(request: TenantRequest) -> HttpResponse:
    organization, listing = own_listing(request)
    pages: list[tuple[int, str]] = [
        (listing.pk, _("%(agency)s (the agency)") % {"agency": listing.title})
    ]
    by_pk: dict[int, Any] = {listing.pk: listing}
    for service in agency_listing_services(listing=listing):
        pages.append((service.pk, service.title))
        by_pk[service.pk] = service
    if request.method == "GET":
        initial = {"page": request.GET.get("page", listing.pk)}
        form = ListingSuggestionForm(pages=pages, initial=initial)
        return render(request, "directory/portal/listing_suggest.html", {"form": form})
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
            return redirect("directory:agency_listings")
    return render(request, "directory/portal/listing_suggest.html", {"form": form}, status=400)
