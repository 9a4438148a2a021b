"""Who may see a listing's confidential address: signed-in staff of the listing's network.

A location whose address is confidential (a domestic-violence shelter) shows only its town to
the public; the network's own staff (clinic and agency staff, network admins) still see the
street address and the map point, so that they can get a client there safely.
"""

from __future__ import annotations

from django.http import HttpRequest

from network.models import Network


def sees_confidential_addresses(*, request: HttpRequest, network: Network | None) -> bool:
    """Whether the person asking is signed in with a membership in ``network`` (no query: the
    tenant middleware has loaded the memberships)."""
    user = getattr(request, "user", None)
    if network is None or user is None or not user.is_authenticated or not user.is_active:
        return False
    memberships = getattr(request, "memberships", None) or []
    return any(m.network_id == network.pk for m in memberships)
