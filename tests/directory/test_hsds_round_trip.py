"""Import → API → sync into another network → export, field by field.

A HSDS 3.0 package of our own fills every field Handoff maps (and what it keeps unmodelled in
``hsds_extra``); network A imports it and serves it at ``/api/hsds/`` on a live server; network B
follows A's API with a feed; B's export (the export writer's package) must give back every value
of the package, under the same ids. What cannot come back by design is asserted as such.
"""

from __future__ import annotations

import csv
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from wagtail.models import Site

from directory.hsds.importing import directory_import
from directory.hsds.reading import read
from directory.hsds.records import handoff_taxonomies, well_known_term_id
from directory.hsds.serializing import derived_id, network_taxonomy_id
from directory.hsds.writing import directory_tables, write_package
from directory.models import FeedRunStatus, HsdsFeed, Location, ServicePage, TaxonomyTerm
from tests.directory.factories import hsds_write
from tests.directory.hsds_schemas import errors
from tests.directory.test_feed_sync import sync

Tables = dict[str, list[dict[str, str]]]
NS = uuid.UUID("0d7c3a51-92b4-4e0f-b1a8-3f6e2c9d4b70")


def ident(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


ORG, SVC, SVC2 = ident("org"), ident("svc"), ident("svc2")
LOC, SHELTER = ident("loc"), ident("shelter")
SAL, SAL2 = ident("sal"), ident("sal2")
TAXONOMY, PARENT, CHILD = ident("taxonomy"), ident("term", "parent"), ident("term", "child")


def _term(taxonomy: str, code: str) -> str:
    return str(well_known_term_id(taxonomy, code))


def package_tables() -> Tables:
    """Every field Handoff maps, each filled with a value of its own."""
    taxonomies, terms = handoff_taxonomies()
    return {
        "organizations": [
            {
                "id": ORG,
                "name": "Klamath River Mutual Aid",
                "alternate_name": "KRMA",
                "description": "Neighbours helping neighbours along the river.",
                "email": "hello@krma.example.org",
                "website": "https://krma.example.org",
                "tax_status": "501(c)(3)",
                "tax_id": "94-1234567",
                "year_incorporated": "1987",
                "legal_status": "Nonprofit corporation",
                "logo": "https://krma.example.org/logo.png",
                "uri": "https://registry.example.org/orgs/krma",
            }
        ],
        "organization_identifiers": [
            {
                "id": ident("orgid"),
                "organization_id": ORG,
                "identifier_scheme": "US-EIN",
                "identifier_type": "Employer Identification Number",
                "identifier": "941234567",
            }
        ],
        "programs": [
            {
                "id": ident("program"),
                "organization_id": ORG,
                "name": "River Pantry Program",
                "alternate_name": "RPP",
                "description": "Food along the river.",
            }
        ],
        "funding": [
            {"id": ident("fund", "org"), "organization_id": ORG, "source": "County grant"},
            {"id": ident("fund", "svc"), "service_id": SVC, "source": "Private donors"},
        ],
        "contacts": [
            {
                "id": ident("contact", "org"),
                "organization_id": ORG,
                "name": "Rosa Vega",
                "title": "Director",
                "department": "Administration",
                "email": "rosa@krma.example.org",
            },
            {
                "id": ident("contact", "svc"),
                "service_id": SVC,
                "name": "Tom Reyes",
                "title": "Pantry lead",
                "email": "tom@krma.example.org",
            },
            {
                "id": ident("contact", "loc"),
                "location_id": LOC,
                "name": "Front desk",
                "department": "Reception",
            },
        ],
        "metadata": [
            {
                "id": ident("meta", kind),
                "resource_id": resource,
                "resource_type": kind,
                "last_action_date": "2024-03-05",
                "last_action_type": "update",
                "field_name": "name",
                "previous_value": "Old name",
                "replacement_value": "New name",
                "updated_by": "Data team",
            }
            for kind, resource in (("organization", ORG), ("service", SVC), ("location", LOC))
        ],
        "urls": [
            {
                "id": ident("url", "org"),
                "organization_id": ORG,
                "label": "Annual report",
                "url": "https://krma.example.org/report",
            },
            {
                "id": ident("url", "svc"),
                "service_id": SVC,
                "label": "Menu",
                "url": "https://krma.example.org/menu",
            },
        ],
        "services": [
            {
                "id": SVC,
                "organization_id": ORG,
                "program_id": ident("program"),
                "name": "River Pantry",
                "alternate_name": "The Pantry",
                "description": "Groceries and fresh produce every week.",
                "url": "https://krma.example.org/pantry",
                "email": "pantry@krma.example.org",
                "status": "active",
                "interpretation_services": "Spanish and Hmong volunteers on Tuesdays.",
                "application_process": "Walk in with proof of address.",
                "fees_description": "A donation of 2 dollars is welcome.",
                "wait_time": "About 15 minutes.",
                "accreditations": "Regional food bank partner",
                "eligibility_description": "Households in the river district.",
                "minimum_age": "16",
                "maximum_age": "99",
                "assured_date": "2024-02-01",
                "assurer_email": "audit@krma.example.org",
                "licenses": "County food handling permit",
                "alert": "Closed on the first Monday of each month.",
                "last_modified": "2024-02-01T10:00:00Z",
            },
            {
                "id": SVC2,
                "organization_id": ORG,
                "name": "Safe Nights",
                "description": "Beds for people leaving violence.",
                "status": "active",
            },
        ],
        "locations": [
            {
                "id": LOC,
                "organization_id": ORG,
                "location_type": "physical",
                "url": "https://krma.example.org/visit",
                "name": "River Hall",
                "alternate_name": "The Hall",
                "description": "The green hall by the bridge.",
                "transportation": "Bus 7 stops at the bridge.",
                "latitude": "41.5207",
                "longitude": "-124.0373",
                "external_identifier": "RH-01",
                "external_identifier_type": "County site code",
            },
            {
                "id": SHELTER,
                "organization_id": ORG,
                "location_type": "physical",
                "name": "Safe house",
                "description": "Its address is given on the phone.",
                "latitude": "41.5301",
                "longitude": "-124.0411",
                "address_confidential": "true",
            },
        ],
        "addresses": [
            {
                "id": ident("address", "loc"),
                "location_id": LOC,
                "attention": "Care of the front desk",
                "address_1": "4 Bridge Rd",
                "address_2": "Back door",
                "city": "Klamath",
                "region": "Del Norte County",
                "state_province": "CA",
                "postal_code": "95548",
                "country": "US",
                "address_type": "physical",
            },
            {
                "id": ident("address", "shelter"),
                "location_id": SHELTER,
                "address_1": "9 Hidden Ln",
                "city": "Klamath",
                "state_province": "CA",
                "postal_code": "95548",
                "country": "US",
                "address_type": "physical",
            },
        ],
        "accessibility": [
            {
                "id": ident("access"),
                "location_id": LOC,
                "description": "Step-free entrance on the river side.",
                "details": "Ramp at 1:12; the door opens automatically.",
                "url": "https://krma.example.org/access",
            }
        ],
        "service_at_location": [
            {
                "id": SAL,
                "service_id": SVC,
                "location_id": LOC,
                "description": "The pantry is in the hall's kitchen.",
            },
            {"id": SAL2, "service_id": SVC2, "location_id": SHELTER},
        ],
        "phones": [
            {
                "id": ident("phone", "org"),
                "organization_id": ORG,
                "number": "707-555-0142",
                "type": "voice",
                "description": "Main office",
            },
            {
                "id": ident("phone", "loc"),
                "location_id": LOC,
                "number": "707-555-0143",
                "extension": "12",
                "type": "fax",
                "description": "Hall fax",
            },
            {
                "id": ident("phone", "svc"),
                "service_id": SVC,
                "number": "707-555-0144",
                "type": "text",
                "description": "Text the pantry",
            },
            {
                "id": ident("phone", "contact"),
                "contact_id": ident("contact", "svc"),
                "number": "707-555-0145",
                "extension": "3",
                "type": "cell",
                "description": "Tom's mobile",
            },
        ],
        "schedules": [
            {
                "id": ident("schedule", "svc"),
                "service_id": SVC,
                "valid_from": "2024-01-01",
                "valid_to": "2030-12-31",
                "dtstart": "2024-01-01",
                "timezone": "-8",
                "until": "2030-12-31",
                "wkst": "MO",
                "freq": "WEEKLY",
                "interval": "1",
                "byday": "MO,WE",
                "opens_at": "09:00:00",
                "closes_at": "12:30:00",
                "description": "Pantry hours",
                "schedule_link": "https://krma.example.org/calendar",
                "attending_type": "In person",
                "notes": "Bring a bag.",
            },
            {
                "id": ident("schedule", "sal"),
                "service_at_location_id": SAL,
                "freq": "WEEKLY",
                "byday": "FR",
                "opens_at": "14:00:00",
                "closes_at": "16:00:00",
                "description": "Produce at the hall",
                "count": "40",
            },
            {
                "id": ident("schedule", "loc"),
                "location_id": LOC,
                "freq": "WEEKLY",
                "byday": "MO,TU,WE,TH,FR",
                "opens_at": "08:00:00",
                "closes_at": "17:00:00",
                "description": "Hall open",
                "notes": "Closed on county holidays.",
            },
        ],
        "languages": [
            {"id": ident("language", "svc", "en"), "service_id": SVC, "code": "en"},
            {
                "id": ident("language", "svc", "es"),
                "service_id": SVC,
                "name": "Spanish",
                "code": "es",
                "note": "Tuesdays only.",
            },
            {"id": ident("language", "loc", "hmn"), "location_id": LOC, "code": "hmn"},
        ],
        "service_areas": [
            {
                "id": ident("area"),
                "service_id": SVC,
                "name": "Lower Klamath",
                "description": "From the mouth to the bridge.",
                "extent": "Klamath, Requa and Klamath Glen",
                "extent_type": "text",
                "uri": "https://krma.example.org/area",
            }
        ],
        "cost_options": [
            {
                "id": ident("cost"),
                "service_id": SVC,
                "valid_from": "2024-01-01",
                "valid_to": "2025-12-31",
                "option": "Delivery",
                "currency": "USD",
                "amount": "5.5",
                "amount_description": "Per box delivered.",
            }
        ],
        "required_documents": [
            {
                "id": ident("document"),
                "service_id": SVC,
                "document": "Proof of address",
                "uri": "https://krma.example.org/documents",
            }
        ],
        "taxonomies": [
            *taxonomies,
            {
                "id": TAXONOMY,
                "name": "River services",
                "description": "How the river district names its services.",
                "uri": "https://krma.example.org/taxonomy",
                "version": "2",
            },
        ],
        "taxonomy_terms": [
            *terms,
            {
                "id": PARENT,
                "code": "river-food",
                "name": "Food",
                "description": "Anything to eat.",
                "taxonomy_id": TAXONOMY,
            },
            {
                "id": CHILD,
                "code": "river-pantry",
                "name": "Pantry",
                "description": "Groceries to take home.",
                "parent_id": PARENT,
                "language": "en",
                "taxonomy_id": TAXONOMY,
                "term_uri": "https://krma.example.org/taxonomy/pantry",
            },
        ],
        "attributes": [
            _attribute("sdoh", SVC, _term("sdohcc", "food-insecurity")),
            _attribute("fee", SVC, _term("fee", "sliding-scale")),
            _attribute("referral", SVC, _term("referral", "contact-directly")),
            _attribute("parent", SVC, PARENT),
            {**_attribute("child", SVC, CHILD), "value": "weekly"},
            _attribute("fee", SVC2, _term("fee", "free")),
            _attribute("referral", SVC2, _term("referral", "electronic")),
        ],
    }


def _attribute(name: str, service: str, term: str) -> dict[str, str]:
    return {
        "id": ident("attribute", service, name),
        "link_id": service,
        "link_entity": "service",
        "taxonomy_term_id": term,
    }


# --- comparing ------------------------------------------------------------------------------------


def _same(value: str) -> Any:
    """A cell as the value it stands for: numbers by value, booleans by truth, text as is."""
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return Decimal(value)
    except InvalidOperation:
        return value


def _read_package(folder: Path) -> Tables:
    tables: Tables = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            tables[path.stem] = list(csv.DictReader(handle))
    return tables


def differences(original: Tables, exported: Tables) -> set[tuple[str, str, str]]:
    """(table, id, field) of every value of the original the export does not give back, as it
    was, in the row of the same id; (table, id, "") for a row the export lacks."""
    found: set[tuple[str, str, str]] = set()
    for table, rows in original.items():
        by_id = {row["id"]: row for row in exported.get(table, [])}
        for row in rows:
            copy = by_id.get(row["id"])
            if copy is None:
                found.add((table, row["id"], ""))
                continue
            for column, value in row.items():
                if value and _same(value) != _same(copy.get(column) or ""):
                    found.add((table, row["id"], column))
    return found


# What cannot come back, by design: a confidential address and its map point are never
# published (the API and the export leave them out), so a network following the API never has
# them; a service's ``last_modified`` says when the exporting network last published it.
BY_DESIGN = {
    ("addresses", ident("address", "shelter"), ""),
    ("locations", SHELTER, "latitude"),
    ("locations", SHELTER, "longitude"),
    ("services", SVC, "last_modified"),
}


def _without_last_modified(tables: Tables) -> Tables:
    return {
        table: [{k: v for k, v in row.items() if k != "last_modified"} for row in rows]
        for table, rows in tables.items()
    }


# --- the round trip -------------------------------------------------------------------------------


def _serve(tenant: Any, live_server: Any) -> str:
    """Serve ``tenant``'s directory at the live server's address (Wagtail sends an unknown host
    to the default site: the live server's host and port must be the tenant's site)."""
    port = urlsplit(live_server.url).port
    Site.objects.filter(root_page=tenant.network.root_page).update(hostname="localhost", port=port)
    return f"http://localhost:{port}/api/hsds/"


def _exported(tenant: Any, folder: Path) -> Tables:
    write_package(directory_tables(tenant.network), folder, name="round-trip")
    return _read_package(folder)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_mapped_field_survives_import_api_sync_and_export(
    tenant_a, tenant_b, live_server, tmp_path
):
    original = package_tables()
    package = hsds_write(tmp_path / "package", original, with_terms=False)
    directory_import(network=tenant_a.network, dataset=read(package))
    url = _serve(tenant_a, live_server)
    feed = HsdsFeed.objects.create(network=tenant_b.network, name="Upriver", url=url, per_page=1)

    run = sync(feed)

    assert run.status == FeedRunStatus.DONE, (run.summary, run.problems)
    assert (run.pages, run.services) == (2, 2)
    exported = _exported(tenant_b, tmp_path / "export")
    assert differences(original, exported) == BY_DESIGN
    published = {row["id"]: row["last_modified"] for row in exported["services"]}
    page = ServicePage.objects.get(hsds_id=SVC, path__startswith=_index_path(tenant_b))
    assert published[SVC] == page.last_published_at.isoformat().replace("+00:00", "Z")
    # The confidential location came through without its address or map point, and says why.
    (shelter,) = (row for row in exported["locations"] if row["id"] == SHELTER)
    assert (shelter["latitude"], shelter["longitude"]) == ("", "")
    assert _same(shelter["address_confidential"]) is True
    copy = Location.objects.get(hsds_id=SHELTER, page__path__startswith=_index_path(tenant_b))
    assert copy.address_confidential
    assert (copy.address_1, copy.latitude) == ("", None)
    # What B serves of it is HSDS 3.0 (kept properties typed as the schema says).
    services = directory_tables(tenant_b.network).services
    assert [e for service in services for e in errors("service", service)] == []
    # B's export of the copy is what A's export of the import is (nothing added on the way).
    source = _exported(tenant_a, tmp_path / "source")
    assert _without_last_modified(exported) == _without_last_modified(source)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_syncing_the_round_trip_again_changes_nothing(tenant_a, tenant_b, live_server, tmp_path):
    package = hsds_write(tmp_path / "package", package_tables(), with_terms=False)
    directory_import(network=tenant_a.network, dataset=read(package))
    url = _serve(tenant_a, live_server)
    feed = HsdsFeed.objects.create(network=tenant_b.network, name="Upriver", url=url, per_page=1)
    first = sync(feed)
    assert first.status == FeedRunStatus.DONE, (first.summary, first.problems)
    before = _exported(tenant_b, tmp_path / "first")

    again = sync(HsdsFeed.objects.get(pk=feed.pk))

    assert again.status == FeedRunStatus.DONE
    assert again.summary == "Nothing changed."
    assert _exported(tenant_b, tmp_path / "again") == before
    # A's own import, done again, changes nothing either.
    report = directory_import(network=tenant_a.network, dataset=read(package))
    assert not report.changed


def _index_path(tenant: Any) -> str:
    return str(tenant.network.root_page.path)


@pytest.mark.django_db
def test_what_the_network_changed_goes_out_under_ids_of_its_own(tenant_a, tmp_path):
    """The source's objects go back out only while they still say what the network has."""
    package = hsds_write(tmp_path / "package", package_tables(), with_terms=False)
    directory_import(network=tenant_a.network, dataset=read(package))
    index = _index_path(tenant_a)
    Location.objects.filter(hsds_id=LOC, page__path__startswith=index).update(
        accessibility="A lift to every floor."
    )
    TaxonomyTerm.objects.filter(network=tenant_a.network).update(taxonomy="Our services")

    exported = _exported(tenant_a, tmp_path / "export")

    (access,) = exported["accessibility"]
    assert access["id"] == derived_id("accessibility", LOC)
    assert access["description"] == "A lift to every floor."
    (taxonomy,) = (t for t in exported["taxonomies"] if t["name"] == "Our services")
    assert taxonomy["id"] == network_taxonomy_id(tenant_a.network, "Our services")
    assert TAXONOMY not in {t["id"] for t in exported["taxonomies"]}
    terms = {t["id"]: t for t in exported["taxonomy_terms"]}
    assert terms[CHILD]["taxonomy_id"] == taxonomy["id"]
    assert terms[CHILD]["term_uri"] == "https://krma.example.org/taxonomy/pantry"
