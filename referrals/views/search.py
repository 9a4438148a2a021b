"""The clinic staff's directory search, to refer a client: the public search in their network,
with a refer action on each hit and the client being referred (``?client=``) kept with it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from network.decorators import member_required
from network.middleware import TenantRequest
from network.permissions import OrgPerm, user_has_org_perm
from referrals.models import Client
from referrals.selectors.clients import clients_visible
from search.pages import search_response


def _referral_client(request: TenantRequest) -> Client | None:
    """The acting clinic's client named by ``?client=`` (the one being referred), if any."""

    value = request.GET.get("client", "")
    if request.organization is None or not value.isdigit():
        return None
    return (
        clients_visible(user=request.user, organization=request.organization)
        .filter(pk=int(value))
        .first()
    )


@require_GET
@member_required
def staff_search(request: TenantRequest) -> HttpResponse:
    """Clinic staff search: the same search in their network, with a refer action on each hit."""
    organization = request.organization
    if organization is None or not user_has_org_perm(
        request.user,
        OrgPerm.SEND_REFERRALS,
        organization,
        checker=request.permission_checker,
    ):
        raise PermissionDenied(gettext("Only clinic staff search to refer clients."))
    return search_response(request, staff=True, referral_client=_referral_client(request))
