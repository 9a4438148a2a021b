"""Sending a referral from a search hit: choose the client, the needs, the urgency, a note.

The idempotency key is made when the form is shown, so a double click or a retried POST
returns the referral already sent instead of sending twice.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from consent.selectors import agreement_for
from directory.categories import SDOH_CATEGORIES
from directory.models import Location, ServiceAtLocation, ServicePage

from .. import selectors, services
from ..middleware import TenantRequest
from ..models import Urgency
from ..permissions import OrgPerm, user_has_org_perm
from . import member_required
from .referrals import acting_organization


@require_http_methods(["GET", "POST"])
@member_required
def referral_new(request: TenantRequest) -> HttpResponse:
    clinic = acting_organization(request)
    if not clinic.sends_referrals or not user_has_org_perm(
        request.user, OrgPerm.SEND_REFERRALS, clinic, checker=request.permission_checker
    ):
        raise PermissionDenied(_("Only clinic staff send referrals."))
    data = request.POST if request.method == "POST" else request.GET
    service = _service(request, data.get("service"))
    location = _location(service, data.get("location"))
    try:
        agency = services.agency_of(service)
    except services.ReferralError:  # a listing not linked to an agency organization
        agency = None
    clients = selectors.clients_visible(user=request.user, organization=clinic)
    service_categories = list(service.categories.values_list("code", flat=True))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        client = clients.filter(pk=data.get("client") or 0).first()
        if client is None:
            errors["client"] = [_("Choose the client.")]
        else:
            try:
                referral = services.referral_send(
                    client=client,
                    by=request.user,
                    sender=clinic,
                    service=service,
                    location=location,
                    categories=data.getlist("categories"),
                    urgency=data.get("urgency", Urgency.ROUTINE),
                    note=data.get("note", ""),
                    idempotency_key=data.get("idempotency_key", ""),
                )
            except ValidationError as exc:
                errors = (
                    exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
                )
            except services.ReferralError as exc:
                errors["__all__"] = [str(exc)]
            else:
                messages.success(request, _("Referral sent to %(agency)s.") % {"agency": agency})
                return redirect("network:referral_detail", pk=referral.pk)
    return render(
        request,
        "network/referral_new.html",
        {
            "service": service,
            "location": location,
            "agency": agency,
            "agency_name": agency.name if agency else service.get_parent().title,
            "agreement": agreement_for(agency=agency, clinic=clinic) if agency else None,
            "clients": clients.order_by("last_name", "first_name", "pk"),
            "categories": SDOH_CATEGORIES,
            "checked": set(data.getlist("categories"))
            if request.method == "POST"
            else set(service_categories),
            "urgencies": Urgency.choices,
            "form": data,
            "errors": errors,
            "idempotency_key": data.get("idempotency_key") or uuid.uuid4().hex,
        },
        status=400 if errors else 200,
    )


def _service(request: TenantRequest, value: str | None) -> ServicePage:
    """A published service of the acting network's directory; 404 for anything else."""
    network = request.network
    if network is None or not (value or "").isdigit():
        raise Http404
    service = get_object_or_404(ServicePage.objects.live(), pk=int(value or 0))
    if not service.get_site() or service.get_site().pk != network.site_id:
        raise Http404
    return service


def _location(service: ServicePage, value: str | None) -> Location | None:
    if not (value or "").isdigit():
        return None
    link = (
        ServiceAtLocation.objects.filter(page=service, location_id=int(value or 0))
        .select_related("location")
        .first()
    )
    if link is None:
        raise Http404
    return link.location
