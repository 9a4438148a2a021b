"""Puts the acting tenant on every request: ``request.network``, ``request.organization``."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject
from wagtail.models import Site

from .models import Membership, Network, Organization, User
from .permissions import ObjectPermissionChecker, checker_for
from .selectors import memberships_for_user

ACTIVE_MEMBERSHIP_SESSION_KEY = "handoff_active_membership"


class TenantRequest(HttpRequest):
    """What ``TenantMiddleware`` adds to every request (for type checking views)."""

    user: User
    network: Network | None
    organization: Organization | None
    membership: Membership | None
    memberships: list[Membership]
    permission_checker: ObjectPermissionChecker


def site_network(request: HttpRequest) -> Network | None:
    """The network whose Wagtail site answers this host (the public directory's tenant)."""
    site = Site.find_for_request(request)
    if site is None:
        return None
    return Network.objects.filter(site=site).first()


def _last_used_first(membership: Membership) -> tuple[bool, float, float, int]:
    used = membership.last_used_at
    return (
        used is None,
        -used.timestamp() if used else 0.0,
        membership.created_at.timestamp() if membership.created_at else 0.0,
        membership.pk,
    )


def active_membership(request: HttpRequest, memberships: list[Membership]) -> Membership | None:
    """The membership chosen in this session, else the one the person last chose to act as (never
    chosen: the oldest); None without memberships.

    Never "the first by name": a membership added later must not silently become where a person
    works (and where the clients they create belong).
    """
    chosen = request.session.get(ACTIVE_MEMBERSHIP_SESSION_KEY)
    for membership in memberships:
        if membership.pk == chosen:
            return membership
    return min(memberships, key=_last_used_first) if memberships else None


class TenantMiddleware:
    """Sets the acting membership, organization and network.

    Signed-in members act in the network of their active membership (they switch between
    memberships); everybody else sees the network of the site they are visiting. Nothing here is
    lazy: ``request.network is None`` must mean what it says.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant_request: TenantRequest = request  # type: ignore[assignment]
        tenant_request.permission_checker = SimpleLazyObject(  # type: ignore[assignment]
            lambda: checker_for(tenant_request.user)
        )
        memberships: list[Membership] = []
        if request.user.is_authenticated:
            memberships = list(memberships_for_user(user=tenant_request.user))
        membership = active_membership(request, memberships)
        tenant_request.memberships = memberships
        tenant_request.membership = membership
        tenant_request.organization = membership.organization if membership else None
        # Without a membership (anonymous visitors, people not yet added anywhere) the tenant is
        # the network whose site answers this host: the public pages of that network.
        tenant_request.network = membership.network if membership else site_network(request)
        return self.get_response(request)
