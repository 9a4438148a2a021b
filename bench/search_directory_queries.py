"""The directory search benchmark's query mix, and the three ways it answers each query.

``query_mix`` draws a fixed, seeded mix of realistic queries (a need in words, a ZIP centroid
and a radius, and filters); ``database_runner``, ``naive_runner`` and ``wagtail_runner`` each
answer one with a page of 20 services-at-locations and the total (see ``bench.search_directory``).
Django models are imported inside the functions: the entry point sets Django up first.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from directory.models import DirectoryIndexPage, ServicePage
    from network.models import Network
    from search.query import SearchQuery

PAGE_SIZE = 20
# A Wednesday, 10:30 in California: most weekday services are open, overnight shelters are not.
FIXED_NOW = datetime(2025, 6, 11, 17, 30, tzinfo=UTC)
RADII = (5.0, 10.0, 10.0, 15.0, 25.0)
AGES = (8, 16, 30, 45, 70)
# (what people type, categories a person looking for it would tick). Words the generator writes
# into service names, descriptions and agency names (directly or through search.text.SYNONYMS),
# a few rarer needs, and two misspellings (the database backend corrects them).
NEEDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("food pantry", ("food-insecurity",)),
    ("food bank", ("food-insecurity",)),
    ("groceries", ("food-insecurity", "material-hardship")),
    ("meals", ("food-insecurity", "social-connection")),
    ("hot meals for seniors", ("food-insecurity",)),
    ("calfresh", ("food-insecurity", "financial-insecurity")),
    ("rent help", ("housing-instability",)),
    ("eviction", ("housing-instability",)),
    ("security deposit", ("housing-instability",)),
    ("shelter", ("homelessness",)),
    ("homeless", ("homelessness",)),
    ("family shelter", ("homelessness",)),
    ("showers", ("homelessness",)),
    ("bus pass", ("transportation-insecurity",)),
    ("medical rides", ("transportation-insecurity",)),
    ("utility assistance", ("utility-insecurity",)),
    ("water bill", ("utility-insecurity",)),
    ("tax preparation", ("financial-insecurity",)),
    ("emergency cash", ("financial-insecurity",)),
    ("clothing", ("material-hardship",)),
    ("diapers", ("material-hardship",)),
    ("furniture", ("material-hardship",)),
    ("domestic violence", ("intimate-partner-violence",)),
    ("legal aid", ("housing-instability", "elder-abuse", "incarceration-status")),
    ("job training", ("employment-status",)),
    ("resume help", ("employment-status",)),
    ("ged classes", ("educational-attainment",)),
    ("esl classes", ("educational-attainment", "language-access")),
    ("veterans benefits", ("veteran-status",)),
    ("counseling", ("stress",)),
    ("support groups", ("stress", "social-connection")),
    ("medi-cal", ("health-insurance-coverage-status",)),
    ("prescription help", ("medical-cost-burden",)),
    ("computer classes", ("digital-literacy", "digital-access")),
    ("internet", ("digital-access",)),
    ("expungement", ("incarceration-status",)),
    ("case management", ("sdoh-category-unspecified",)),
    ("child care", ("educational-attainment",)),
    ("food pantyr", ("food-insecurity",)),
    ("rnet help", ("housing-instability",)),
)
LANGUAGE_CHOICES = (("es", 60), ("zh", 10), ("vi", 10), ("tl", 8), ("ko", 6), ("hmn", 6))


# --- the query mix -------------------------------------------------------------------------------


def query_mix(count: int, seed: int, zips_in_use: list[str]) -> list[SearchQuery]:
    """``count`` queries, the same for the same seed and data."""
    from bench.hsds_package import load_zips
    from search.query import Near, SearchQuery

    centroids = {z.code: (z.lat, z.lng) for z in load_zips("CA")}
    rng = random.Random(seed)  # noqa: S311 - reproducible on purpose
    codes, weights = zip(*LANGUAGE_CHOICES, strict=True)
    queries = []
    for _ in range(count):
        text, categories = rng.choice(NEEDS)
        code = rng.choice(zips_in_use)
        lat, lng = centroids[code]
        category = rng.random() < 0.5
        language = rng.random() < 0.3
        free = rng.random() < 0.3
        accepting = rng.random() < 0.2
        open_now = rng.random() < 0.3
        age = rng.random() < 0.2
        queries.append(
            SearchQuery(
                text=text,
                near=Near(latitude=lat, longitude=lng, label=code),
                radius_miles=rng.choice(RADII),
                categories=(rng.choice(categories),) if category else (),
                languages=(rng.choices(codes, weights)[0],) if language else (),
                free_only=free,
                accepting_only=accepting,
                open_now=open_now,
                open_at=FIXED_NOW if open_now else None,
                client_age=rng.choice(AGES) if age else None,
                page_size=PAGE_SIZE,
            )
        )
    return queries


def describe_mix(queries: list[SearchQuery]) -> str:
    n = len(queries)
    parts = {
        "category": sum(bool(q.categories) for q in queries),
        "language": sum(bool(q.languages) for q in queries),
        "free": sum(q.free_only for q in queries),
        "accepting": sum(q.accepting_only for q in queries),
        "open now": sum(q.open_now for q in queries),
        "age": sum(q.client_age is not None for q in queries),
    }
    radii = Counter(q.radius_miles for q in queries)
    return (
        f"{n} queries over {len({q.text for q in queries})} needs; filters: "
        + ", ".join(f"{name} {k / n:.0%}" for name, k in parts.items())
        + "; radius "
        + ", ".join(f"{r:g} mi x{k}" for r, k in sorted(radii.items()))
    )


# --- the three ways to answer a query ------------------------------------------------------------


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
