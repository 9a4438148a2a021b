"""Referral pages for both sides: the referral as the acting organization may see it, its
timeline, and the status changes and messages the acting side may make."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from consent.disclosure import disclosure_for
from consent.models import ClientField

from .. import selectors, services
from ..lifecycle import OUTCOME_REQUIRED, REASON_REQUIRED, Side, allowed_next
from ..middleware import TenantRequest
from ..models import Organization, Referral, ReferralOutcome, ReferralStatus
from . import member_required


def acting_organization(request: TenantRequest) -> Organization:
    if request.organization is None:
        raise PermissionDenied(_("Choose one of your organizations first."))
    return request.organization


def visible_referral(request: TenantRequest, pk: int) -> Referral:
    """The referral if the acting organization sent or received it; 404 for anyone else
    (network admins too: they act for no organization)."""
    if request.organization is None:
        raise Http404
    organization = request.organization
    return get_object_or_404(
        selectors.referrals_visible(user=request.user, organization=organization).select_related(
            "client", "sender", "agency", "consent__network", "agreement", "sent_by"
        ),
        pk=pk,
    )


def client_ip(request: TenantRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@require_GET
@member_required
def referral_detail(request: TenantRequest, pk: int) -> HttpResponse:
    return detail_response(request, visible_referral(request, pk))


def detail_response(request: TenantRequest, referral: Referral, status: int = 200) -> HttpResponse:
    """The referral page as the acting organization may see it (also the answer to a stale
    change, with 409, so the person sees what changed)."""
    organization = acting_organization(request)
    side = Side.SENDER if organization.pk == referral.sender_id else Side.RECIPIENT
    disclosure = disclosure_for(
        referral,
        organization,
        user=request.user,
        purpose="view",
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    if side == Side.RECIPIENT:
        services.referral_viewed(referral=referral, by=request.user, organization=organization)
    labels = dict(ClientField.choices)
    return render(
        request,
        "network/referral_detail.html",
        {
            "referral": referral,
            "side": side.value,
            "disclosure": disclosure,
            "client_rows": [(labels[code], value) for code, value in disclosure.client.items()],
            "timeline": selectors.referral_timeline(referral=referral),
            "next_statuses": [
                (to, ReferralStatus(to).label, to in REASON_REQUIRED, to in OUTCOME_REQUIRED)
                for to in sorted(allowed_next(referral.status, side))
            ],
            "outcomes": ReferralOutcome.choices,
        },
        status=status,
    )


@require_POST
@member_required
def referral_transition(request: TenantRequest, pk: int) -> HttpResponse:
    referral = visible_referral(request, pk)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        messages.error(request, _("The form was incomplete; reload the page and retry."))
        return redirect("network:referral_detail", pk=pk)
    try:
        services.referral_transition(
            referral=referral,
            to=request.POST.get("to", ""),
            by=request.user,
            organization=acting_organization(request),
            version=version,
            reason=request.POST.get("reason", ""),
            outcome=request.POST.get("outcome", ""),
            outcome_note=request.POST.get("outcome_note", ""),
        )
    except services.StaleVersion as exc:
        messages.error(request, str(exc))
        # Rendered from the current row, not the stale copy this request read.
        return detail_response(request, visible_referral(request, pk), status=409)
    except services.ReferralError as exc:
        messages.error(request, str(exc))
        return redirect("network:referral_detail", pk=pk)
    messages.success(
        request,
        _("The referral is now %(status)s.")
        % {"status": ReferralStatus(referral.status).label.lower()},
    )
    return redirect("network:referral_detail", pk=pk)


@require_POST
@member_required
def referral_message(request: TenantRequest, pk: int) -> HttpResponse:
    referral = visible_referral(request, pk)
    try:
        services.referral_message(
            referral=referral,
            by=request.user,
            organization=acting_organization(request),
            text=request.POST.get("text", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Message sent."))
    return redirect("network:referral_detail", pk=pk)
