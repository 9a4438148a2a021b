"""Refer elsewhere: from a referral the agency declined or could not complete, the clinic is
offered the other services the overdue sweep would suggest (same needs, nearby, accepting, at
other agencies), each starting a send for the same client and needs, prefilled."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from network.decorators import member_required
from network.middleware import TenantRequest
from network.permissions import OrgPerm, user_has_org_perm
from referrals.models import Referral, ReferralStatus
from referrals.services.overdue import referral_alternatives
from referrals.views.clients import category_labels, refer_url
from referrals.views.referral import acting_organization, visible_referral

logger = logging.getLogger(__name__)

# The referrals that ended without the service: the clinic looks for another.
REFER_ELSEWHERE_FROM = frozenset({ReferralStatus.REJECTED, ReferralStatus.FAILED})


@require_GET
@member_required
def referral_elsewhere(request: TenantRequest, pk: int) -> HttpResponse:
    referral = visible_referral(request, pk)
    clinic = acting_organization(request)
    if referral.sender_id != clinic.pk or not user_has_org_perm(
        request.user, OrgPerm.SEND_REFERRALS, clinic, checker=request.permission_checker
    ):
        raise PermissionDenied(_("Only the clinic that sent the referral refers elsewhere."))
    if referral.status not in REFER_ELSEWHERE_FROM:
        messages.info(
            request,
            _("Only a referral that was declined or could not be completed is sent elsewhere."),
        )
        return redirect("referrals:referral_detail", pk=referral.pk)
    try:
        hits = referral_alternatives(referral=referral, now=timezone.now())
    except Exception:  # the search is down: the page still offers the search itself
        logger.exception("no alternatives for referral %s: the search failed", referral.pk)
        hits = []
    rows = [{"hit": hit, "send_url": _send_url(referral, hit)} for hit in hits]
    return render(
        request,
        "referrals/clinic/refer_elsewhere.html",
        {
            "referral": referral,
            "rows": rows,
            "needs": category_labels(referral.categories),
            "search_url": refer_url(client=referral.client, categories=referral.categories),
        },
    )


def _send_url(referral: Referral, hit: Any) -> str:
    """The send page for this service, for the same client and needs."""
    params: list[tuple[str, Any]] = [("service", hit.service_id)]
    if hit.location_id:
        params.append(("location", hit.location_id))
    params.append(("client", referral.client_id))
    params += [("categories", code) for code in referral.categories]
    return f"{reverse('referrals:referral_new')}?{urlencode(params)}"
