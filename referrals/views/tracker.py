"""The clinic's tracker: every referral it sent, filterable, with status and age at a glance."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from consent.models import AccessPurpose, ClientField
from network import selectors
from network.decorators import member_required
from network.middleware import TenantRequest
from network.permissions import OrgPerm, user_has_org_perm
from referrals.forms import ReferralTrackerForm
from referrals.selectors.tracker import referrals_sent
from referrals.views.clients import clients_seen
from referrals.views.referral import acting_organization

PAGE_SIZE = 25


@require_http_methods(["GET", "POST"])
@member_required
def referral_tracker(request: TenantRequest) -> HttpResponse:
    """Referrals the acting clinic sent, newest first, 25 a page. Filters that cannot be read
    are named above the table (400) and the others still apply.

    The filters are in the address; a client's name is posted (``client_q``), never put in
    it, as on the clients list. ``?client=<id>`` shows one client's referrals."""
    clinic = acting_organization(request)
    if not clinic.sends_referrals or not user_has_org_perm(
        request.user, OrgPerm.SEND_REFERRALS, clinic, checker=request.permission_checker
    ):
        raise PermissionDenied(_("Only clinic staff track the referrals their clinic sent."))
    form = ReferralTrackerForm(
        request.GET or None,
        agencies=selectors.organizations_visible(
            user=request.user, network=clinic.network, kind="agency"
        ),
    )
    valid = form.is_valid() if form.is_bound else True
    filters = form.cleaned_data if form.is_bound else {}
    now = timezone.now()
    client_text = request.POST.get("client_q", "").strip()[:100]
    client_id = request.GET.get("client", "")
    referrals = referrals_sent(
        user=request.user,
        organization=clinic,
        now=now,
        statuses=filters.get("status") or (),
        agency=filters.get("agency"),
        category=filters.get("category") or "",
        overdue=bool(filters.get("overdue")),
        sent_from=filters.get("sent_from"),
        sent_to=filters.get("sent_to"),
        client_text=client_text,
        client_id=int(client_id) if client_id.isdigit() and len(client_id) < 18 else None,
    )
    page_number = request.POST.get("page") if request.method == "POST" else None
    page = Paginator(referrals, PAGE_SIZE).get_page(page_number or request.GET.get("page"))
    clients_seen(
        request,
        clinic,
        purpose=AccessPurpose.TRACKER,
        fields=[ClientField.NAME],
        seen=[(referral.client_id, referral.pk) for referral in page.object_list],
    )
    context = {
        "form": form,
        "page": page,
        "rows": [
            (referral, _age(referral.sent_on, now))  # type: ignore[attr-defined]
            for referral in page.object_list
        ],
        "filtered": (bool(filters) and any(filters.values())) or bool(client_text),
        "client_q": client_text,
        "filters_query": _without_page(request),
        "time_zone": clinic.network.time_zone,  # dates as the clinic reads them
    }
    htmx = bool(request.htmx)  # type: ignore[attr-defined]
    template = "referrals/tracker/_table.html" if htmx else "referrals/tracker/list.html"
    # htmx swaps only successful answers, so the fragment carries its own error messages.
    return render(request, template, context, status=200 if valid or htmx else 400)


def _without_page(request: TenantRequest) -> str:
    """The filters in the address, without the page (a posted search pages itself)."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _age(sent: datetime, now: datetime) -> str:
    """How long ago, in its largest unit ("3 days ago"), or "just now"."""
    if now - sent < timedelta(minutes=1):
        return _("just now")
    return _("%(age)s ago") % {"age": timesince(sent, now, depth=1)}
