"""The three ways bench.search_directory answers a query: the database backend under test, a
naive ORM baseline and Wagtail's own search."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.search_queries import FIXED_NOW, PAGE_SIZE

if TYPE_CHECKING:
    from directory.models import DirectoryIndexPage, ServicePage
    from network.models import Network
    from search.query import SearchQuery


@dataclass
class Answer:
    total: int
    keys: list[tuple[int, int | None]]  # (service id, location id) of the page of hits
    queries: int = 0  # SQL queries, where counted (in the warm-up pass)
    sql_ms: float = 0.0  # their time, as the database driver saw it
    captured_ms: float = 0.0  # the whole search's time in that pass


Runner = Callable[["SearchQuery"], Answer]
EARTH_RADIUS_MILES = 3958.7613  # as search.backends.database: same distances, same radius edge


def haversine_miles(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle miles: the formula the database backend runs in SQL, here in Python."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(a))


def database_runner(network: Network) -> Runner:
    from search.selectors import service_search

    def answer(query: SearchQuery) -> Answer:
        results = service_search(network=network, query=query, now=FIXED_NOW)
        if results.backend != "database":
            raise RuntimeError(f"answered by {results.backend!r}, not the database backend")
        return Answer(results.total, [(h.service_id, h.location_id) for h in results.hits])

    return answer


def _python_filters(
    services: list[ServicePage], query: SearchQuery, network: Network, *, categories: bool
) -> list[tuple[float, int, ServicePage, int]]:
    """(distance, order, service, location id) of the pairs that pass the filters done in Python.

    Capacity (no row: accepting), languages of the service or the location, open now at the
    location, and the radius; ``categories`` too when the caller could not filter on them.
    """
    from directory.models import CapacityStatus
    from directory.models.services import service_open_status

    near = query.near
    radius = query.radius_miles or 10.0
    wanted_languages = set(query.languages)
    wanted_categories = set(query.categories)
    found = []
    for order, service in enumerate(services):
        if query.accepting_only:
            capacity = getattr(service, "capacity", None)
            if capacity is not None and capacity.status != CapacityStatus.ACCEPTING:
                continue
        if (
            categories
            and wanted_categories
            and not wanted_categories & {c.code for c in service.categories.all()}
        ):
            continue
        for site in service.service_locations.all():
            location = site.location
            if wanted_languages:
                spoken = {code.lower() for code in [*service.languages, *location.languages]}
                if not wanted_languages & spoken:
                    continue
            distance = 0.0
            if near is not None:
                point = getattr(location, "point", None)
                if point is None or point.latitude is None or point.longitude is None:
                    continue
                distance = haversine_miles(
                    near.latitude, near.longitude, point.latitude, point.longitude
                )
                if distance > radius:
                    continue
            if query.open_now and query.open_at is not None:
                status = service_open_status(
                    service=service, network=network, at=query.open_at, location=location
                )
                if not status.is_open:
                    continue
            found.append((distance, order, service, location.pk))
    return found


def _service_queryset(index: DirectoryIndexPage, query: SearchQuery) -> Any:
    """Live, searchable services of the network's directory, with what the Python filters read."""
    from django.db.models import Prefetch

    from directory.models import ServiceAtLocation, ServicePage
    from search.documents import SEARCHABLE_STATUSES

    prefetch: list[Any] = [
        Prefetch(
            "service_locations",
            queryset=ServiceAtLocation.objects.select_related("location__point"),
        )
    ]
    if query.open_now:
        prefetch += ["hours", "closures"]
    return (
        ServicePage.objects.live()
        .descendant_of(index)
        .filter(status__in=SEARCHABLE_STATUSES)
        .select_related("capacity")
        .prefetch_related(*prefetch)
    )


def _age_filter(age: int) -> tuple[Any, Any]:
    from django.db.models import Q

    return (
        Q(minimum_age__isnull=True) | Q(minimum_age__lte=age),
        Q(maximum_age__isnull=True) | Q(maximum_age__gte=age),
    )


def naive_runner(network: Network, index: DirectoryIndexPage) -> Runner:
    """Baseline (a): what one would write first with the ORM, no index of its own."""
    from django.db.models import Q

    from directory.models import FeeType

    def answer(query: SearchQuery) -> Answer:
        qs = _service_queryset(index, query)
        for word in query.text.lower().split():
            qs = qs.filter(Q(title__icontains=word) | Q(description__icontains=word))
        if query.categories:
            qs = qs.filter(categories__code__in=query.categories).distinct()
        if query.free_only:
            qs = qs.filter(fee_type=FeeType.FREE)
        if query.client_age is not None:
            qs = qs.filter(*_age_filter(query.client_age))
        found = _python_filters(list(qs), query, network, categories=False)
        found.sort(key=lambda row: (row[0], row[2].title, row[2].pk, row[3]))
        return Answer(len(found), [(s.pk, loc) for _, _, s, loc in found[:PAGE_SIZE]])

    return answer


def wagtail_runner(network: Network, index: DirectoryIndexPage) -> Runner:
    """Baseline (b): Wagtail's database search backend, filtered on ServicePage's FilterFields."""
    from directory.models import FeeType

    def answer(query: SearchQuery) -> Answer:
        qs = _service_queryset(index, query)
        if query.categories:
            qs = qs.prefetch_related("categories")
        if query.free_only:
            qs = qs.filter(fee_type=FeeType.FREE)
        if query.client_age is not None:
            qs = qs.filter(*_age_filter(query.client_age))
        services = list(qs.search(query.text, operator="and", backend="default"))
        found = _python_filters(services, query, network, categories=True)
        found.sort(key=lambda row: (row[1], row[0], row[3]))  # Wagtail's relevance, then distance
        return Answer(len(found), [(s.pk, loc) for _, _, s, loc in found[:PAGE_SIZE]])

    return answer
