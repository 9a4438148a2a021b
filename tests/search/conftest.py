"""A small directory with known services, places and hours, for every search test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils.text import slugify

from directory import services as directory_services
from directory.models import (
    AgencyPage,
    CapacityStatus,
    ListingVerification,
    Location,
    SdohCategory,
    ServiceAtLocation,
    ServiceCapacity,
    ServiceClosure,
    ServiceHours,
    ServicePage,
    TaxonomyTerm,
)
from network.models import Network
from search.services import search_index_rebuild
from tests.conftest import Tenant, module_world, tenant_make, world_copy
from tests.factories import organization_make
from tests.search.elasticsearch_support import FakeCluster, fake_cluster

# A Tuesday afternoon in Eureka (America/Los_Angeles): 2026-11-24 14:00 local.
NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
EUREKA = (40.8021, -124.1637)
ARCATA = (40.8665, -124.0828)  # about 5.9 miles from Eureka
FORTUNA = (40.5982, -124.1573)  # about 14 miles from Eureka
CRESCENT_CITY = (41.7558, -124.2026)  # about 66 miles from Eureka


@dataclass
class Spec:
    """One service of the test directory, at one or more places."""

    title: str
    description: str
    places: list[tuple[float, float]] = field(default_factory=lambda: [EUREKA])
    categories: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=lambda: ["en"])
    fee_type: str = "free"
    capacity: str = CapacityStatus.ACCEPTING
    minimum_age: int | None = None
    maximum_age: int | None = None
    hours: list[tuple[int, str, str]] = field(default_factory=list)
    closures: list[tuple[date, date]] = field(default_factory=list)
    verified_days_ago: int | None = 10
    agency: str = "Harbor Community Services"


def directory_build(network: Network, specs: list[Spec]) -> dict[str, ServicePage]:
    """Agencies, locations and services as published pages, then the search index."""
    index = directory_services.directory_index_for(network)
    agencies: dict[str, AgencyPage] = {}
    pages: dict[str, ServicePage] = {}
    for spec in specs:
        agency = agencies.get(spec.agency)
        if agency is None:
            org = organization_make(network, "agency", name=spec.agency)
            agency = AgencyPage(
                title=spec.agency,
                slug=slugify(spec.agency),
                description=f"{spec.agency} serves the county.",
                organization=org,
            )
            index.add_child(instance=agency)
            agencies[spec.agency] = agency
        service = ServicePage(
            title=spec.title,
            slug=slugify(spec.title),
            description=spec.description,
            languages=spec.languages,
            fee_type=spec.fee_type,
            fees_description="" if spec.fee_type == "free" else "Ask about fees.",
            minimum_age=spec.minimum_age,
            maximum_age=spec.maximum_age,
        )
        agency.add_child(instance=service)
        service.categories.set(SdohCategory.objects.filter(code__in=spec.categories))
        service.service_types.set(TaxonomyTerm.objects.filter(network=network, code__in=spec.types))
        service.save()  # parental many-to-many links are written on save
        for n, (lat, lng) in enumerate(spec.places):
            location = Location.objects.create(
                page=agency,
                name=f"{spec.title} site {n + 1}",
                address_1=f"{100 + n} Main St",
                city="Eureka",
                state_province="CA",
                postal_code="95501",
                latitude=lat,
                longitude=lng,
            )
            directory_services.location_points_refresh(locations=[location])
            ServiceAtLocation.objects.create(page=service, location=location)
        for weekday, opens, closes in spec.hours:
            ServiceHours.objects.create(
                page=service,
                weekday=weekday,
                opens_at=time.fromisoformat(opens),
                closes_at=time.fromisoformat(closes),
            )
        for start, end in spec.closures:
            ServiceClosure.objects.create(page=service, start_date=start, end_date=end)
        ServiceCapacity.objects.update_or_create(
            service=service, defaults={"status": spec.capacity}
        )
        if spec.verified_days_ago is not None:
            ListingVerification.objects.create(
                page=service, last_verified_at=NOW - timedelta(days=spec.verified_days_ago)
            )
        pages[spec.title] = service
    search_index_rebuild(network=network)
    return pages


STANDARD = [
    Spec(
        "Weekly Food Pantry",
        "Groceries, produce and bread once a week for any household.",
        categories=["food-insecurity"],
        types=["pantry"],
        languages=["en", "es"],
        hours=[(1, "09:00", "17:00"), (3, "09:00", "17:00")],
    ),
    Spec(
        "Emergency Rental Assistance",
        "One-time help with past-due rent for tenants facing eviction.",
        places=[ARCATA],
        categories=["housing-instability"],
        fee_type="free",
        minimum_age=18,
        hours=[(0, "08:00", "16:00")],
        agency="Bay Housing Partnership",
    ),
    Spec(
        "Overnight Shelter Beds",
        "Low-barrier <b>beds</b> for adults, every night.",
        places=[FORTUNA],
        categories=["homelessness"],
        minimum_age=18,
        hours=[(d, "19:00", "07:00") for d in range(7)],
        capacity=CapacityStatus.NOT_ACCEPTING,
        agency="Waterfront Night Shelter",
    ),
    Spec(
        "Family Shelter Rooms",
        "Private rooms and beds for families with children.",
        places=[FORTUNA],
        categories=["homelessness"],
        hours=[(d, "00:00", "00:00") for d in range(7)],
        agency="Waterfront Night Shelter",
    ),
    Spec(
        "Senior Meals",
        "Hot lunch for adults 60 and older, weekdays at noon.",
        categories=["food-insecurity", "social-connection"],
        languages=["en", "hmn"],
        fee_type="sliding-scale",
        minimum_age=60,
        hours=[(d, "11:30", "13:00") for d in range(5)],
        verified_days_ago=400,
        agency="Aging Well Center",
    ),
    Spec(
        "Del Norte Food Share",
        "Emergency food boxes and a pantry in Crescent City.",
        places=[CRESCENT_CITY],
        categories=["food-insecurity"],
        types=["pantry"],
        agency="Crescent Food Share",
    ),
    Spec(
        "Bus Pass Program",
        "Free transit passes for medical appointments and job interviews.",
        places=[EUREKA, ARCATA],
        categories=["transportation-insecurity"],
        languages=["en", "es"],
        hours=[(d, "09:00", "17:00") for d in range(5)],
        agency="Redwood Transit Help",
    ),
]


def service_types_make(network: Network) -> None:
    food = TaxonomyTerm.objects.create(network=network, code="food", name="Food")
    TaxonomyTerm.objects.create(network=network, code="pantry", name="Food pantry", parent=food)


def directory_make(tenant: Tenant) -> dict[str, ServicePage]:
    service_types_make(tenant.network)
    return directory_build(tenant.network, STANDARD)


def other_directory_make(tenant: Tenant) -> dict[str, ServicePage]:
    """Tenant B lists services with the same names: none may ever reach tenant A's search."""
    service_types_make(tenant.network)
    return directory_build(
        tenant.network,
        [
            Spec("Weekly Food Pantry", "Bravo's own pantry.", categories=["food-insecurity"]),
            Spec(
                "Bravo Rental Assistance",
                "Rent help in Bravo.",
                categories=["housing-instability"],
            ),
        ],
    )


@dataclass
class Directories:
    """Networks A and B, each with its standard services."""

    alpha: Tenant
    bravo: Tenant
    alpha_services: dict[str, ServicePage]
    bravo_services: dict[str, ServicePage]


def _directories_build() -> Directories:
    alpha, bravo = tenant_make("Alpha"), tenant_make("Bravo")
    return Directories(alpha, bravo, directory_make(alpha), other_directory_make(bravo))


@pytest.fixture(scope="module", autouse=True)
def directories_kept(request: pytest.FixtureRequest) -> Iterator[Directories | None]:
    """In a module marked ``kept_directories`` (tests that read the directories), both are
    built once for the module (``module_world``) and ``tenant_a``, ``tenant_b``,
    ``directory`` and ``other_directory`` are this test's copy of them."""
    if request.node.get_closest_marker("kept_directories") is None:
        yield None
        return
    yield from module_world(request, _directories_build)


@pytest.fixture
def directories(directories_kept: Directories | None, db: None) -> Directories | None:
    return None if directories_kept is None else world_copy(directories_kept)


@pytest.fixture
def tenant_a(directories: Directories | None) -> Tenant:
    return tenant_make("Alpha") if directories is None else directories.alpha


@pytest.fixture
def tenant_b(directories: Directories | None) -> Tenant:
    return tenant_make("Bravo") if directories is None else directories.bravo


@pytest.fixture
def directory(directories: Directories | None, tenant_a: Tenant) -> dict[str, ServicePage]:
    return directory_make(tenant_a) if directories is None else directories.alpha_services


@pytest.fixture
def other_directory(directories: Directories | None, tenant_b: Tenant) -> dict[str, ServicePage]:
    return other_directory_make(tenant_b) if directories is None else directories.bravo_services


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    """A fake Elasticsearch cluster over HTTP (``elasticsearch_support.fake_cluster``), for the
    Elasticsearch backend's tests."""
    with fake_cluster() as found:
        yield found
