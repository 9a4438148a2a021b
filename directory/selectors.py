"""Reads of the directory, scoped to a network."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from django.db.models import Model, Q, QuerySet
from wagtail.models import Page
from wagtail.query import PageQuerySet

from network.models import Network, Organization
from network.permissions import OrgPerm, user_has_org_perm

from .models import AgencyPage, DirectoryIndexPage, LocationPoint, ServicePage

if TYPE_CHECKING:
    from network.models import User

JobT = TypeVar("JobT", bound=Model)
# The statuses a background job (an uploaded import, a feed's sync) has until it is over.
JOB_UNFINISHED = ("queued", "running")


def network_roots() -> dict[str, tuple[Network, Page]]:
    """Every network with its site's root page, by the root page's tree path (one query)."""
    networks = Network.objects.select_related("site__root_page")
    return {n.site.root_page.path: (n, n.site.root_page) for n in networks}


def directory_pages(*, network: Network) -> PageQuerySet:
    """Every page of the network's directory (agencies and services)."""
    index = DirectoryIndexPage.objects.child_of(network.root_page).first()
    if index is None:
        return Page.objects.none()
    return Page.objects.descendant_of(index)


def job_unfinished(*, jobs: QuerySet[JobT], now: datetime, stale_minutes: int) -> JobT | None:
    """The latest of ``jobs`` (imports, or a feed's syncs) still queued or running, if any; one
    created more than ``stale_minutes`` before ``now`` no longer counts: its worker died."""
    since = now - timedelta(minutes=stale_minutes)
    return (
        jobs.filter(status__in=JOB_UNFINISHED, created_at__gte=since)
        .order_by("-created_at")
        .first()
    )


def listings_stale(*, network: Network, now: datetime) -> QuerySet[Page]:
    """Live agency and service pages not confirmed within the network's verification interval."""
    cutoff = now - timedelta(days=network.verification_interval_days)
    return (
        directory_pages(network=network)
        .live()
        .filter(
            Q(verification__isnull=True)
            | Q(verification__last_verified_at__isnull=True)
            | Q(verification__last_verified_at__lt=cutoff)
        )
        .select_related("verification", "content_type")
        .order_by("path")
    )


def locations_unplaced(*, network: Network) -> QuerySet[LocationPoint]:
    """Map points of the network's locations that are waiting or failed to be placed."""
    pages = directory_pages(network=network)
    return (
        LocationPoint.objects.filter(
            location__page__in=pages.values("pk"), status__in=["pending", "failed"]
        )
        .select_related("location", "location__page")
        .order_by("location__page__title", "location__name")
    )


def agency_listing(*, user: User, organization: Organization) -> AgencyPage | None:
    """The organization's directory listing, for its staff who keep it current (those who
    update capacity); None for anyone else or when it has no listing."""

    if not organization.receives_referrals or not user_has_org_perm(
        user, OrgPerm.UPDATE_CAPACITY, organization
    ):
        return None
    return (
        AgencyPage.objects.filter(organization=organization)
        .select_related("verification__verified_by")
        .first()
    )


def agency_listing_services(*, listing: AgencyPage) -> QuerySet[ServicePage]:
    """The services under a listing ``agency_listing`` returned, by title, each with its
    capacity."""

    return (
        ServicePage.objects.child_of(listing)
        .select_related("capacity__updated_by")
        .order_by("title", "pk")
    )
