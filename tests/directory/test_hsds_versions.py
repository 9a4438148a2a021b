"""Packages as 211s publish them: HSDS 2.0 and 1.x (old file and column names, numeric ids),
wrong or missing datapackage.json, zips with a top folder; HSDS 3.0 nested JSON in every shape;
no length limits HSDS does not have; each problem reported once."""

from __future__ import annotations

import csv
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from directory.hsds import versions
from directory.hsds.importing import directory_import
from directory.hsds.reading import problems_grouped, read, read_json_bytes
from directory.hsds.records import NAMESPACE, REFUSED, InvalidImport
from directory.hsds.versions import ORIGINAL_ID, stable_id
from directory.models import AgencyPage, Location, RequiredDocument, ServicePage
from tests.directory.factories import directory_counts, hsds_minimal, hsds_write
from tests.network.factories import network_make

Files = dict[str, list[dict[str, str]]]


@pytest.fixture
def network(db):
    return network_make("Versions Network")


def _write(folder: Path, files: Files, *, datapackage: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        columns = list(dict.fromkeys(k for row in rows for k in row))
        with (folder / name).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
    if datapackage is not None:
        (folder / "datapackage.json").write_text(json.dumps(datapackage))
    return folder


def hsds_2_files() -> Files:
    """An HSDS 2.0 export the way 211 software writes one: numeric ids, 2.0 names."""
    return {
        "organizations.csv": [
            {
                "id": "1",
                "name": "Orick Food Cupboard",
                "description": "Groceries for Orick families.",
                "url": "www.orickfood.org",
                "email": "help@orickfood.org",
            }
        ],
        "programs.csv": [{"id": "1", "organization_id": "1", "name": "Food", "alternate_name": ""}],
        "services.csv": [
            {
                "id": "1",
                "organization_id": "1",
                "program_id": "1",
                "name": "Grocery boxes",
                "status": "active",
                "url": "orickfood.org/boxes",
                "fees": "None; donations welcome.",
            },
            {"id": "2", "organization_id": "1", "name": "Hot meals", "status": "active"},
        ],
        "locations.csv": [
            {"id": "1", "organization_id": "1", "name": "Pantry", "latitude": "", "longitude": ""}
        ],
        "services_at_location.csv": [
            {"id": "1", "service_id": "1", "location_id": "1", "description": ""},
            {"id": "2", "service_id": "2", "location_id": "1", "description": ""},
        ],
        "physical_addresses.csv": [
            {
                "id": "1",
                "location_id": "1",
                "address_1": "121 Swan Rd",
                "address_2": "Unit 4",
                "address_3": "Back door",
                "city": "Orick",
                "state_province": "CA",
                "postal_code": "95555",
                "country": "US",
            }
        ],
        "postal_addresses.csv": [
            {
                "id": "2",
                "location_id": "1",
                "address_1": "PO Box 9",
                "city": "Orick",
                "state_province": "CA",
                "postal_code": "95555",
                "country": "US",
            }
        ],
        "phones.csv": [
            {"id": "1", "service_id": "1", "number": "707-555-0100", "department": "Front"}
        ],
        "schedules.csv": [
            {
                "id": "1",
                "service_at_location_id": "1",
                "freq": "WEEKLY",
                "byday": "MO,WE",
                "opens_at": "09:00",
                "closes_at": "12:00",
            }
        ],
        "taxonomy_terms.csv": [
            {
                "id": "10",
                "term": "Food",
                "description": "Food",
                "parent_id": "",
                "taxonomy": "AIRS",
            },
            {
                "id": "11",
                "term": "Food pantries",
                "description": "Groceries to take home",
                "parent_id": "10",
                "taxonomy": "AIRS",
            },
        ],
        "service_attributes.csv": [{"id": "1", "service_id": "1", "taxonomy_term_id": "11"}],
        "eligibility.csv": [
            {"id": "1", "service_id": "1", "eligibility": "Orick residents"},
            {"id": "2", "service_id": "1", "eligibility": "adults"},
        ],
        "languages.csv": [{"id": "1", "service_id": "1", "location_id": "", "language": "es"}],
        "service_areas.csv": [
            {"id": "1", "service_id": "1", "service_area": "95555", "description": "Orick"}
        ],
        "accessibility_for_disabilities.csv": [
            {"id": "1", "location_id": "1", "accessibility": "Ramp", "details": "At the back"}
        ],
        "required_documents.csv": [{"id": "1", "service_id": "1", "document": "Photo ID"}],
        "contacts.csv": [
            {"id": "1", "organization_id": "1", "service_id": "1", "name": "Ann", "title": "Lead"}
        ],
        "funding.csv": [{"id": "1", "organization_id": "1", "service_id": "", "source": "County"}],
        "holiday_schedules.csv": [
            {"id": "1", "service_id": "1", "closed": "true", "start_date": "2019-12-24"}
        ],
    }


# The spec's 2.0 template: its name is the same for everyone, its paths are where the spec
# keeps them, not where this export put its files.
TEMPLATE = {
    "name": "human_services_data",
    "version": "2.0.1",
    "resources": [
        {"name": "organization", "path": "hsds/organizations.csv"},
        {"name": "service_at_location", "path": "hsds/services_at_location.csv"},
    ],
}


def _service(original: str, source: str = "") -> ServicePage:
    return ServicePage.objects.get(hsds_id=stable_id(source, "services", original))


@pytest.mark.django_db
def test_hsds_2_package_with_wrong_datapackage_paths_imports_and_reimports_unchanged(
    network, tmp_path
):
    folder = _write(tmp_path / "export", hsds_2_files(), datapackage=TEMPLATE)
    dataset = read(folder)
    assert not dataset.errors, dataset.errors
    report = directory_import(network=network, dataset=dataset)
    assert report.created["service"] == 2

    agency = AgencyPage.objects.get(hsds_id=stable_id("", "organizations", "1"))
    boxes = _service("1")
    assert boxes.get_parent().specific == agency
    # Organization "1" and service "1" are different objects with different UUIDs.
    assert agency.hsds_id != boxes.hsds_id
    assert agency.website == "https://www.orickfood.org"
    assert boxes.url == "https://orickfood.org/boxes"
    assert boxes.fees_description == "None; donations welcome."
    assert boxes.eligibility_description == "Orick residents; adults"
    assert boxes.languages == ["es"]
    assert [a.name for a in boxes.service_areas.all()] == ["95555"]
    assert [d.document for d in boxes.required_documents.all()] == ["Photo ID"]
    assert [p.number for p in boxes.phones.all()] == ["707-555-0100"]
    assert [t.name for t in boxes.service_types.all()] == ["Food pantries"]
    assert boxes.service_types.get().parent.name == "Food"
    hours = sorted((h.weekday, str(h.opens_at)) for h in boxes.hours.all())
    assert hours == [(0, "09:00:00"), (2, "09:00:00")]
    location = Location.objects.get(hsds_id=stable_id("", "locations", "1"))
    assert (location.address_1, location.address_2) == ("121 Swan Rd", "Unit 4, Back door")
    assert location.location_type == "physical"
    assert "Ramp" in location.accessibility

    # The ids as published are kept beside the UUIDs, and the unmapped tables are passed on.
    service_rows = {r[ORIGINAL_ID]: r for r in dataset.rows("services")}
    assert service_rows["1"]["id"] == str(boxes.hsds_id)
    [contact] = dataset.rows("contacts")
    assert contact[ORIGINAL_ID] == "1"
    assert contact["service_id"] == str(boxes.hsds_id)
    assert contact["organization_id"] == str(agency.hsds_id)
    assert dataset.rows("programs")[0]["organization_id"] == str(agency.hsds_id)
    assert dataset.rows("funding")[0]["source"] == "County"

    notes = [str(w) for w in dataset.warnings]
    assert any("organizations.csv, website: 1 web address(es) had no scheme" in n for n in notes)
    assert any(n.startswith("holiday_schedules.csv, -: holiday closures") for n in notes)
    assert any("eligibility.csv, eligibility: 2 row(s)" in n for n in notes)
    assert any("services.csv, id: 2 id(s) of services are not UUIDs" in n for n in notes)
    # Old columns that were mapped are not reported as unknown.
    columns = [n for n in notes if "not an HSDS 3.0 column" in n]
    assert columns == ["phones.csv row 0, department: not an HSDS 3.0 column; ignored"], columns

    before = directory_counts()
    again = directory_import(network=network, dataset=read(folder))
    assert not again.changed, again.summary()
    assert directory_counts() == before


@pytest.mark.django_db
def test_csv_files_below_the_datapackage_or_without_one_are_found(network, tmp_path):
    below = tmp_path / "below"
    _write(below / "data" / "csv", hsds_2_files())
    (below / "datapackage.json").write_text(json.dumps(TEMPLATE))
    dataset = read(below)
    assert not dataset.errors, dataset.errors
    assert len(dataset.rows("services")) == 2
    assert dataset.rows("services")[0]["_source"] == "data/csv/services.csv"

    without = _write(tmp_path / "without", hsds_2_files())
    dataset = read(without)
    assert any("no datapackage.json" in str(w) for w in dataset.warnings)
    report = directory_import(network=network, dataset=dataset)
    assert report.created["service"] == 2


def hsds_1_files() -> Files:
    """An HSDS 1.x export: regular_schedules with weekday numbers and names, taxonomy.csv with
    vocabulary and parent_name, services_taxonomy."""
    files = {
        name: rows
        for name, rows in hsds_2_files().items()
        if name
        not in ("schedules.csv", "taxonomy_terms.csv", "service_attributes.csv", "programs.csv")
    }
    files["services.csv"] = [
        {k: v for k, v in row.items() if k != "program_id"} for row in files["services.csv"]
    ]
    files["regular_schedules.csv"] = [
        {"id": "1", "service_id": "1", "weekday": "1", "opens_at": "09:00", "closes_at": "17:00"},
        {"id": "2", "service_id": "1", "weekday": "3", "opens_at": "09:00", "closes_at": "17:00"},
        {
            "id": "3",
            "service_id": "2",
            "weekday": "Friday",
            "opens_at": "11:30",
            "closes_at": "13:00",
        },
    ]
    files["taxonomy.csv"] = [
        {"id": "10", "name": "Food", "parent_id": "", "parent_name": "", "vocabulary": "AIRS"},
        {
            "id": "11",
            "name": "Food pantries",
            "parent_id": "10",
            "parent_name": "Food",
            "vocabulary": "AIRS",
        },
    ]
    files["services_taxonomy.csv"] = [
        {"id": "1", "service_id": "1", "taxonomy_id": "11", "taxonomy_detail": "primary"}
    ]
    return files


@pytest.mark.django_db
def test_hsds_1_zip_with_a_top_folder_and_no_datapackage_imports_idempotently(network, tmp_path):
    folder = _write(tmp_path / "p", hsds_1_files())
    archive = tmp_path / "211-export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, f"211-export/{path.name}")
        zf.writestr("__MACOSX/211-export/._services.csv", "junk")
    dataset = read(archive, source="211 North Coast")
    assert not dataset.errors, dataset.errors
    report = directory_import(network=network, dataset=dataset)
    assert report.created["service"] == 2
    boxes = _service("1", "211 North Coast")
    hours = sorted((h.weekday, str(h.opens_at), str(h.closes_at)) for h in boxes.hours.all())
    assert hours == [(0, "09:00:00", "17:00:00"), (2, "09:00:00", "17:00:00")]
    meals = _service("2", "211 North Coast")
    assert [(h.weekday, str(h.opens_at)) for h in meals.hours.all()] == [(4, "11:30:00")]
    [term] = boxes.service_types.all()
    assert (term.name, term.taxonomy, term.parent.name) == ("Food pantries", "AIRS", "Food")
    notes = [str(w) for w in dataset.warnings]
    assert any(
        "regular_schedules.csv, weekday: weekday numbers were read as ISO 8601" in n for n in notes
    )
    assert any("no datapackage.json" in n for n in notes)

    again = directory_import(network=network, dataset=read(archive, source="211 North Coast"))
    assert not again.changed, again.summary()


@pytest.mark.django_db
def test_two_sources_with_the_same_numeric_ids_are_kept_apart_by_their_source_key(
    network, tmp_path
):
    folder = _write(tmp_path / "p", hsds_2_files())
    north = read(folder, source="211 North")
    south = read(folder, source="211 South")
    assert north.rows("services")[0]["id"] != south.rows("services")[0]["id"]
    assert (
        read(folder, source="211 North").rows("services")[0]["id"]
        == (north.rows("services")[0]["id"])
    )
    directory_import(network=network, dataset=north)
    directory_import(network=network, dataset=south)
    assert AgencyPage.objects.filter(title="Orick Food Cupboard").count() == 2
    # A package's own datapackage name keys it when no source is given.
    named = _write(tmp_path / "named", hsds_2_files(), datapackage={"name": "humboldt-211"})
    assert read(named).rows("services")[0]["id"] == str(stable_id("humboldt-211", "services", "1"))


def test_stable_ids_use_the_project_namespace():
    assert versions.NAMESPACE == NAMESPACE
    assert stable_id("", "services", "1") == stable_id("", "services", "1")
    assert stable_id("", "services", "1") != stable_id("", "organizations", "1")
    assert stable_id("a", "services", "1") != stable_id("b", "services", "1")


# --- HSDS 3.0 nested JSON, written for these tests -------------------------------------------

ORG = "a1f0c7de-0000-4000-8000-000000000001"
SVC = "a1f0c7de-0000-4000-8000-000000000002"
SAL = "a1f0c7de-0000-4000-8000-000000000003"
LOC = "a1f0c7de-0000-4000-8000-000000000004"
TERM = "a1f0c7de-0000-4000-8000-000000000005"
TAXONOMY = "a1f0c7de-0000-4000-8000-000000000006"


def _uid(n: int) -> str:
    return str(uuid.UUID(int=0xB2000000_0000_4000_8000_000000000000 + n))


def nested_location() -> dict[str, Any]:
    return {
        "id": LOC,
        "location_type": "physical",
        "name": "Civic Center",
        "latitude": 40.8,
        "longitude": -124.16,
        "addresses": [
            {
                "id": _uid(1),
                "address_1": "531 K St",
                "city": "Eureka",
                "state_province": "CA",
                "postal_code": "95501",
                "country": "US",
                "address_type": "physical",
            }
        ],
        "accessibility": [{"id": _uid(2), "description": "Step-free entrance"}],
        "contacts": [{"id": _uid(3), "name": "Front desk"}],
    }


def nested_organization(*, with_services: bool = False) -> dict[str, Any]:
    organization: dict[str, Any] = {
        "id": ORG,
        "name": "Eureka Counselling",
        "description": "Counselling for Humboldt County.",
        "website": "eurekacounselling.org",
        "funding": [{"id": _uid(4), "source": "State grant"}],
        "organization_identifiers": [
            {"id": _uid(5), "identifier_type": "EIN", "identifier": "12-3456789"}
        ],
        "programs": [{"id": _uid(6), "name": "Wellbeing", "description": "Programme"}],
        "phones": [{"id": _uid(7), "number": "707-555-0111"}],
    }
    if with_services:
        organization["locations"] = [nested_location()]
        organization["services"] = [
            {
                **{k: v for k, v in nested_service().items() if k != "organization"},
                "service_at_locations": [{"id": SAL, "location_id": LOC}],
            }
        ]
    return organization


def nested_service() -> dict[str, Any]:
    return {
        "id": SVC,
        "name": "Community counselling",
        "status": "active",
        "description": "Talk to someone.",
        "organization": nested_organization(),
        "program": {"id": _uid(6), "name": "Wellbeing", "description": "Programme"},
        "phones": [
            {"id": _uid(8), "number": "707-555-0112", "languages": [{"id": _uid(9), "code": "es"}]}
        ],
        "languages": [{"id": _uid(10), "name": "Spanish", "code": "es"}],
        "contacts": [{"id": _uid(11), "name": "Intake", "email": "intake@example.org"}],
        "required_documents": [{"id": _uid(12), "document": "Proof of address " + "x" * 262}],
        "attributes": [
            {
                "id": _uid(13),
                "taxonomy_term": {
                    "id": TERM,
                    "name": "Counselling",
                    "description": "Talking therapies",
                    "taxonomy_detail": {
                        "id": TAXONOMY,
                        "name": "Local services",
                        "description": "Our own taxonomy",
                    },
                },
            }
        ],
        "metadata": [
            {
                "id": _uid(14),
                "last_action_date": "2024-01-02",
                "last_action_type": "update",
                "field_name": "name",
                "previous_value": "Counselling",
                "replacement_value": "Community counselling",
                "updated_by": "Ann",
            }
        ],
        "service_at_locations": [
            {
                "id": SAL,
                "location": nested_location(),
                "schedules": [
                    {
                        "id": _uid(15),
                        "freq": "WEEKLY",
                        "byday": "TU,TH",
                        "opens_at": "10:00",
                        "closes_at": "18:00",
                    }
                ],
            }
        ],
    }


def _check_nested_import(network, dataset, label: str) -> None:
    assert not dataset.errors, (label, dataset.errors)
    report = directory_import(network=network, dataset=dataset)
    assert report.created["service"] == 1, label
    service = ServicePage.objects.get(hsds_id=SVC)
    assert service.get_parent().specific.hsds_id == uuid.UUID(ORG)
    assert [str(s.location.hsds_id) for s in service.service_locations.all()] == [LOC]
    assert [str(t.hsds_id) for t in service.service_types.all()] == [TERM]
    [document] = RequiredDocument.objects.filter(page=service)
    assert len(document.document) == 279  # HSDS has no limit; neither does Handoff
    again = directory_import(network=network, dataset=dataset)
    assert not again.changed, (label, again.summary())


@pytest.mark.django_db
def test_a_nested_service_object_imports_with_its_ids(network):
    dataset = read_json_bytes(json.dumps(nested_service()).encode(), name="service_full.json")
    _check_nested_import(network, dataset, "service")
    assert AgencyPage.objects.get(hsds_id=ORG).website == "https://eurekacounselling.org"
    # What Handoff does not model is passed on to be kept in hsds_extra.
    assert {r["id"] for r in dataset.rows("contacts")} == {_uid(3), _uid(11)}
    assert dataset.rows("funding")[0]["organization_id"] == ORG
    assert dataset.rows("organization_identifiers")[0]["organization_id"] == ORG
    assert dataset.rows("programs")[0]["organization_id"] == ORG
    assert dataset.rows("services")[0]["program_id"] == _uid(6)
    [meta] = dataset.rows("metadata")
    assert (meta["resource_id"], meta["resource_type"]) == (SVC, "service")
    phone_language = next(r for r in dataset.rows("languages") if r["id"] == _uid(9))
    assert phone_language["phone_id"] == _uid(8)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("label", "document"),
    [
        ("list", lambda: [nested_service()]),
        (
            "page envelope",
            lambda: {"total_items": 1, "page_number": 1, "contents": [nested_service()]},
        ),
        ("organization", lambda: nested_organization(with_services=True)),
        (
            "service at location",
            lambda: {
                "id": SAL,
                "service": {
                    k: v for k, v in nested_service().items() if k != "service_at_locations"
                },
                "location": nested_location(),
            },
        ),
    ],
)
def test_every_published_json_shape_reads_into_the_same_tables(network, label, document):
    dataset = read_json_bytes(json.dumps(document()).encode(), name=f"{label}.json")
    _check_nested_import(network, dataset, label)


@pytest.mark.django_db
def test_problems_in_json_name_the_file_and_the_json_path(network):
    service = nested_service()
    service["service_at_locations"][0]["location"]["latitude"] = "north"
    service["phones"][0]["number"] = ""
    dataset = read_json_bytes(json.dumps([service]).encode(), name="feed.json")
    with pytest.raises(InvalidImport) as err:
        directory_import(network=network, dataset=dataset)
    messages = [str(p) for p in err.value.problems]
    # Coordinates that are no place are a repair (dropped, geocoded), reported by path too.
    repairs = [(f.file, f.field, f.problem) for f in err.value.findings if f.action != REFUSED]
    assert repairs == [
        ("feed.json $[0].service_at_locations[0].location", "latitude", "'north' is not a number")
    ]
    assert "feed.json $[0].phones[0], number: is required" in messages, messages
    assert not any(".csv" in m for m in messages), messages


@pytest.mark.django_db
def test_names_longer_than_a_page_title_are_kept_whole(network, tmp_path):
    tables = hsds_minimal()
    long_name = "Grocery boxes for families " + "and neighbours " * 20
    tables["services"][0]["name"] = long_name
    tables["locations"][0]["name"] = "L" * 300
    dataset = read(hsds_write(tmp_path / "p", tables))
    directory_import(network=network, dataset=dataset)
    service = ServicePage.objects.get()
    assert len(service.title) == 255
    assert service.title.endswith("…")
    assert dataset.rows("services")[0]["x_full_name"] == long_name.strip()
    assert any("the whole name is kept for export" in str(w) for w in dataset.warnings)
    assert Location.objects.get().name == "L" * 300


@pytest.mark.django_db
def test_each_problem_is_reported_once_and_grouped_for_reading(network, tmp_path):
    tables = hsds_minimal()
    base = tables["services"][0]
    tables["services"] = [
        {**base, "id": str(uuid.uuid4()), "status": "", "organization_id": str(uuid.uuid4())}
        for _ in range(40)
    ]
    tables["service_at_location"] = []
    tables["attributes"] = []
    with pytest.raises(InvalidImport) as err:
        directory_import(network=network, dataset=read(hsds_write(tmp_path / "p", tables)))
    problems = err.value.problems
    keys = [(p.file, p.row, p.field, p.message) for p in problems]
    assert len(keys) == len(set(keys)), "a problem was reported twice"
    groups = {(g.first.field, g.count) for g in problems_grouped(problems)}
    assert ("status", 40) in groups
    assert ("organization_id", 40) in groups
    text = [str(g) for g in problems_grouped(problems)]
    assert any(
        t.startswith("services.csv, status: is required (40 times; rows 1, 2, 3, 4, 5, ...)")
        for t in text
    ), text


@pytest.mark.django_db
def test_rows_without_their_trailing_empty_cells_read_as_empty_and_a_bad_descriptor_is_noted(
    tmp_path,
):
    folder = _write(tmp_path / "p", hsds_2_files())
    (folder / "datapackage.json").write_text("../../datapackage.json")  # a link, as in the spec
    with (folder / "organizations.csv").open("a") as handle:
        handle.write("2,Second food bank,Soup\n")  # no email or url cells
    dataset = read(folder)
    assert not dataset.errors, dataset.errors
    second = next(r for r in dataset.rows("organizations") if r[ORIGINAL_ID] == "2")
    assert (second["description"], second["email"]) == ("Soup", "")
    notes = [str(w) for w in dataset.warnings]
    assert (
        "organizations.csv, -: 1 row(s) have fewer cells than the header; the missing cells "
        "were read as empty" in notes
    ), notes
    assert any(n.startswith("datapackage.json, -: not valid JSON") for n in notes), notes
