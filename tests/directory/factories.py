"""A test directory with known services, places, hours and capacity: each ``Spec`` becomes an
agency page, a service page and its locations, built as an admin would (pages published,
verification and capacity set)."""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from django.utils.text import slugify
from wagtail.models import Page
from wagtail.signal_handlers import disable_reference_index_auto_update

from directory import services as directory_services
from directory.hsds.records import handoff_taxonomies, well_known_term_id
from directory.hsds.stored import service_documents_rebuild
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
from tests.network.factories import Tenant, organization_make

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
    """Agencies, locations and services as published pages, then the search index and the
    stored HSDS documents (the pages are written directly, without publishing signals).

    Without Wagtail's reference index (what the admin's "usage" pages list): keeping it up to
    date on every save was a third of the time of building a directory, and no test of these
    directories reads it (the isolation walks' worlds, which do, are built with it)."""
    with disable_reference_index_auto_update():
        return _directory_build(network, specs)


def _directory_build(network: Network, specs: list[Spec]) -> dict[str, ServicePage]:
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
    service_documents_rebuild(network=network)
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


# --- HSDS packages on disk -----------------------------------------------------------------------

# The ids of the minimal package's records.
ORG = "11111111-1111-4111-8111-111111111111"
LOC = "22222222-2222-4222-8222-222222222222"
SVC = "33333333-3333-4333-8333-333333333333"
SAL = "44444444-4444-4444-8444-444444444444"


def hsds_minimal() -> dict[str, list[dict[str, str]]]:
    """A small valid package: one agency, one location, one service with hours and a category."""
    return {
        "organizations": [
            {
                "id": ORG,
                "name": "Orick Food Cupboard",
                "description": "Groceries for Orick families.",
            }
        ],
        "locations": [
            {
                "id": LOC,
                "organization_id": ORG,
                "name": "Main",
                "location_type": "physical",
                "latitude": "41.2870",
                "longitude": "-124.0590",
            }
        ],
        "addresses": [
            {
                "id": str(uuid.uuid4()),
                "location_id": LOC,
                "address_1": "121 Swan Rd",
                "city": "Orick",
                "state_province": "CA",
                "postal_code": "95555",
                "country": "US",
                "address_type": "physical",
            }
        ],
        "services": [
            {
                "id": SVC,
                "organization_id": ORG,
                "name": "Grocery boxes",
                "status": "active",
                "description": "Weekly boxes.",
                "minimum_age": "18",
            }
        ],
        "service_at_location": [{"id": SAL, "service_id": SVC, "location_id": LOC}],
        "schedules": [
            {
                "id": str(uuid.uuid4()),
                "service_at_location_id": SAL,
                "freq": "WEEKLY",
                "byday": "MO,WE",
                "opens_at": "09:00",
                "closes_at": "12:30",
            },
            {
                "id": str(uuid.uuid4()),
                "location_id": LOC,
                "freq": "WEEKLY",
                "byday": "MO,TU,WE,TH,FR",
                "opens_at": "08:30",
                "closes_at": "17:00",
            },
        ],
        "attributes": [
            {
                "id": str(uuid.uuid4()),
                "link_id": SVC,
                "link_entity": "service",
                "taxonomy_term_id": str(well_known_term_id("sdohcc", "food-insecurity")),
            }
        ],
    }


def hsds_write(
    folder: Path,
    tables: dict[str, list[dict[str, str]]],
    *,
    with_terms: bool = True,
    extra: dict[str, str] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tables = dict(tables)
    if with_terms:
        taxonomies, terms = handoff_taxonomies()
        tables.setdefault("taxonomies", taxonomies)
        tables.setdefault("taxonomy_terms", terms)
    for table, rows in tables.items():
        columns = list(dict.fromkeys(k for row in rows for k in row))
        with (folder / f"{table}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    (folder / "datapackage.json").write_text(json.dumps({"resources": []}))
    return folder


def directory_counts() -> tuple[int, ...]:
    return (
        Page.objects.count(),
        Location.objects.count(),
        ServiceHours.objects.count(),
        TaxonomyTerm.objects.count(),
    )
