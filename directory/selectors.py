"""Reads of the directory, scoped to a network."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from wagtail.models import Page
from wagtail.query import PageQuerySet

from network.models import Network

from .models import DirectoryIndexPage, LocationPoint


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
