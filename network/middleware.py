"""Puts the acting tenant on every request: ``request.network``, ``request.organization``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.http.request import split_domain_port
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from wagtail.models import Site
from wagtail.users.models import UserProfile

from cms.generations import generation, generation_bump

from . import two_factor
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


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request (it then wants only the part of the page that changed)."""
    return bool(getattr(request, "htmx", False))


SITE_NETWORKS = "site-networks"  # the generation bumped when a site or a network changes

# (host, port) -> (the generation it was found under, the network or None); per process.
_site_networks: dict[tuple[str, int | None], tuple[str, Network | None]] = {}


def site_network(request: HttpRequest) -> Network | None:
    """The network whose Wagtail site answers this host (the public directory's tenant).

    Kept per process and per host, checked against the ``site-networks`` generation on each
    request (one cache read instead of two queries): a site or network saved anywhere is seen by
    every process's next request. Each request gets its own copy of the network."""
    host = split_domain_port(request.get_host())[0]  # refuses a host ALLOWED_HOSTS refuses
    key = (host, _port_or_none(request))
    current = generation(SITE_NETWORKS)
    kept = _site_networks.get(key)
    if kept is None or kept[0] != current or not current:
        site = Site.find_for_request(request)
        network = None if site is None else Network.objects.filter(site=site).first()
        if len(_site_networks) > 1000:  # hosts are few; a flood of made-up ones is not kept
            _site_networks.clear()
        kept = _site_networks[key] = (current, network)
    return copy.copy(kept[1]) if kept[1] is not None else None


def _port_or_none(request: HttpRequest) -> int | None:
    try:
        return int(request.get_port())
    except (TypeError, ValueError):
        return None


def site_networks_changed(**kwargs: Any) -> None:
    """Signal receiver (``network.apps``): a site or a network was saved or deleted."""
    generation_bump(SITE_NETWORKS)


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
        memberships: list[Membership] = []
        if request.user.is_authenticated:
            memberships = list(memberships_for_user(user=tenant_request.user))
        # The grants on the user's own organizations and networks are known from these
        # memberships (``UserGrantChecker.grants_from``): checking them costs no query.
        tenant_request.permission_checker = SimpleLazyObject(  # type: ignore[assignment]
            lambda: checker_for(tenant_request.user, memberships=memberships)
        )
        membership = active_membership(request, memberships)
        tenant_request.memberships = memberships
        tenant_request.membership = membership
        tenant_request.organization = membership.organization if membership else None
        # Without a membership (anonymous visitors, people not yet added anywhere) the tenant is
        # the network whose site answers this host: the public pages of that network.
        tenant_request.network = membership.network if membership else site_network(request)
        # Every time on every page in the network's zone (due times, timelines, screenings):
        # one clock for the clinic and the agency, whatever the server runs in.
        zone = network_zone(tenant_request.network)
        if zone is None:
            return self.get_response(request)
        if request.path_info.startswith(WAGTAIL_ADMIN_PREFIX):
            wagtail_admin_zone(tenant_request.user, zone)
        with timezone.override(zone):
            return self.get_response(request)


# The Wagtail admin activates each person's own zone (their account's setting, else TIME_ZONE).
WAGTAIL_ADMIN_PREFIX = "/admin/"


def wagtail_admin_zone(user: Any, zone: ZoneInfo) -> None:
    """Who has not chosen a zone in their Wagtail account sees the admin (listing suggestions,
    imports, the dashboard) in the network's zone too, like the workspace: the choice is lent
    to this request's copy of their profile, never saved."""
    if not user.is_authenticated:
        return
    try:
        profile = user.wagtail_userprofile
    except UserProfile.DoesNotExist:
        profile = user.wagtail_userprofile = UserProfile(user=user)
    if not profile.current_time_zone:
        profile.current_time_zone = zone.key


def network_zone(network: Network | None) -> ZoneInfo | None:
    """The network's time zone; None without a network (or with a zone Python does not know)."""
    if network is None or not network.time_zone:
        return None
    try:
        return ZoneInfo(network.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# Paths an unverified admin may still open: signing in and out, the two-factor pages, static
# files and the language switch.
TWO_FACTOR_OPEN_PREFIXES = ("/accounts/", "/i18n/", "/admin/login/", "/admin/logout/")


class TwoFactorMiddleware:
    """Sends a signed-in person who must use two-factor sign-in (``two_factor_required``) to
    verify a code, or to enrol first, before any page of the workspace, the Wagtail admin or
    anything else: a password alone opens nothing but the sign-in pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant_request: TenantRequest = request  # type: ignore[assignment]
        user = tenant_request.user
        if (
            user.is_authenticated
            and not self._is_open(request.path_info)
            # The memberships TenantMiddleware loaded: no query for people who need no code.
            and two_factor.two_factor_due(request=request, memberships=tenant_request.memberships)
            and not user.is_verified()  # type: ignore[attr-defined]
        ):
            name = (
                "two_factor:verify"
                if two_factor.two_factor_enrolled(user=user)
                else "two_factor:setup"
            )
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse(name)}?{query}")
        return self.get_response(request)

    @staticmethod
    def _is_open(path: str) -> bool:
        static = settings.STATIC_URL or "/static/"
        return path.startswith((*TWO_FACTOR_OPEN_PREFIXES, static))


def chosen_network(
    request: HttpRequest, networks: list[Network], data: QueryDict | None = None
) -> Network:
    """The network asked for in ``data`` (the query string by default; 404 if the user does not
    administer it), else the one the user is acting in, else the first."""
    wanted = (request.GET if data is None else data).get("network")
    if wanted:
        for network in networks:
            if str(network.pk) == wanted:
                return network
        raise Http404
    membership = getattr(request, "membership", None)
    for network in networks:
        if membership is not None and network.pk == membership.network_id:
            return network
    return networks[0]
