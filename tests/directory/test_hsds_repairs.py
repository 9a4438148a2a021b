"""HSDS import: skip-invalid (every valid record in, the rest reported), safe repairs in both
modes, the CSV report, one transaction, and what HSDS has that Handoff does not model."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from directory.hsds import importing
from directory.hsds.importing import directory_import
from directory.hsds.reading import read
from directory.hsds.records import (
    COORDINATES_DROPPED,
    COORDINATES_GEOCODED,
    MADE_TOP_LEVEL,
    RECORD_SKIPPED,
    REFUSED,
    REPORT_COLUMNS,
    ROW_DROPPED,
    TAXONOMY_DROPPED,
    InvalidImport,
    handoff_taxonomies,
)
from directory.models import (
    AgencyPage,
    GeocodeStatus,
    Location,
    LocationPoint,
    RequiredDocument,
    ServiceHours,
    ServicePage,
    TaxonomyTerm,
)
from tests.directory.factories import (
    LOC,
    ORG,
    SAL,
    SVC,
    directory_counts,
    hsds_minimal,
    hsds_write,
)
from tests.network.factories import network_make

ORG2 = "6f1c2d3e-0000-4000-8000-000000000002"
SVC2 = "6f1c2d3e-0000-4000-8000-000000000003"
LOC2 = "6f1c2d3e-0000-4000-8000-000000000004"
SVC3 = "6f1c2d3e-0000-4000-8000-000000000005"
TERM = "6f1c2d3e-0000-4000-8000-000000000006"
MISSING = "6f1c2d3e-0000-4000-8000-00000000dead"


@pytest.fixture
def network(db):
    return network_make("Repairs Network")


def _import(network, folder: Path, **options):
    return directory_import(network=network, dataset=read(folder), **options)


def _lines(report) -> list[tuple]:
    return [(f.file, f.row, f.field, f.action) for f in report.findings]


def _two_agencies() -> dict[str, list[dict[str, str]]]:
    """The minimal package plus a second agency whose row is invalid, with a service and a
    location of its own (its dependents)."""
    tables = hsds_minimal()
    tables["organizations"].append({"id": ORG2, "name": "", "description": "No name."})
    tables["services"].append(
        {"id": SVC2, "organization_id": ORG2, "name": "Rides", "status": "active"}
    )
    tables["locations"].append(
        {"id": LOC2, "organization_id": ORG2, "name": "Depot", "location_type": "physical"}
    )
    tables["phones"] = [{"id": str(uuid.uuid4()), "service_id": SVC2, "number": "555-0100"}]
    return tables


# --- skip-invalid: every problem kind, dependents, nothing half-imported -------------------------


@pytest.mark.django_db
def test_strict_refuses_what_skip_invalid_imports_with_a_report(network, tmp_path):
    folder = hsds_write(tmp_path / "p", _two_agencies())
    before = directory_counts()
    with pytest.raises(InvalidImport) as err:
        _import(network, folder)
    assert directory_counts() == before
    assert [str(p) for p in err.value.problems] == ["organizations.csv row 2, name: is required"]
    assert {f.action for f in err.value.findings} == {REFUSED}

    report = _import(network, folder, skip_invalid=True)
    assert report.created["service"] == 1
    assert ServicePage.objects.filter(hsds_id=SVC).exists()
    assert not ServicePage.objects.filter(hsds_id=SVC2).exists()
    assert not AgencyPage.objects.filter(hsds_id=ORG2).exists()
    assert not Location.objects.filter(hsds_id=LOC2).exists()
    lines = _lines(report)
    assert ("organizations.csv", 2, "name", RECORD_SKIPPED) in lines
    assert ("services.csv", 2, "organization_id", RECORD_SKIPPED) in lines
    assert ("phones.csv", 1, "service_id", ROW_DROPPED) in lines
    problems = {f.file: f.problem for f in report.findings}
    assert problems["services.csv"] == "its organization (organizations.csv row 2) was skipped"
    assert problems["phones.csv"] == "its service (services.csv row 2) was skipped"
    # The location of the skipped organization is named by no service: skipped, reported.
    assert ("locations.csv", 2, "organization_id", RECORD_SKIPPED) in lines


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "line", "kept_service"),
    [
        # an invalid cell of a service skips the whole service (never half-imported)
        (
            lambda t: t["services"][0].update(minimum_age="ten"),
            ("services.csv", 1, "minimum_age", RECORD_SKIPPED),
            False,
        ),
        # an invalid schedule is an optional part: dropped, the service is imported without it
        (
            lambda t: t["schedules"][0].update(opens_at="25:00"),
            ("schedules.csv", 1, "opens_at", ROW_DROPPED),
            True,
        ),
        (
            lambda t: t["schedules"][0].update(service_at_location_id=MISSING),
            ("schedules.csv", 1, "service_at_location_id", ROW_DROPPED),
            True,
        ),
        (
            lambda t: t["service_at_location"][0].update(location_id=MISSING),
            ("service_at_location.csv", 1, "location_id", ROW_DROPPED),
            True,
        ),
        (
            lambda t: t["attributes"][0].update(taxonomy_term_id=MISSING),
            ("attributes.csv", 1, "taxonomy_term_id", ROW_DROPPED),
            True,
        ),
        (
            lambda t: t["services"].append(dict(t["services"][0], name="Copy")),
            ("services.csv", 2, "id", ROW_DROPPED),
            True,
        ),
        (
            lambda t: t.setdefault("required_documents", []).append(
                {"id": str(uuid.uuid4()), "service_id": SVC, "document": ""}
            ),
            ("required_documents.csv", 1, "document", ROW_DROPPED),
            True,
        ),
        (
            lambda t: t.setdefault("languages", []).append(
                {"id": str(uuid.uuid4()), "service_id": SVC, "code": "Spanish"}
            ),
            ("languages.csv", 1, "code", ROW_DROPPED),
            True,
        ),
    ],
)
def test_each_problem_kind_is_skipped_and_reported(network, tmp_path, mutate, line, kept_service):
    tables = hsds_minimal()
    mutate(tables)
    folder = hsds_write(tmp_path / "p", tables)
    with pytest.raises(InvalidImport):
        _import(network, folder)
    report = _import(network, folder, skip_invalid=True)
    assert line in _lines(report)
    assert all(f.action in (RECORD_SKIPPED, ROW_DROPPED) for f in report.findings)
    assert ServicePage.objects.filter(hsds_id=SVC).exists() == kept_service
    assert AgencyPage.objects.filter(hsds_id=ORG).exists()


@pytest.mark.django_db
def test_a_skipped_service_leaves_no_part_behind(network, tmp_path):
    tables = hsds_minimal()
    tables["services"][0]["status"] = "open"
    report = _import(network, hsds_write(tmp_path / "p", tables), skip_invalid=True)
    assert not ServicePage.objects.exists()
    assert not ServiceHours.objects.exists()
    lines = _lines(report)
    # Its place, its hours there and its category are dependents: each reported.
    assert ("service_at_location.csv", 1, "service_id", ROW_DROPPED) in lines
    assert ("schedules.csv", 1, "service_at_location_id", ROW_DROPPED) in lines
    assert ("attributes.csv", 1, "link_id", ROW_DROPPED) in lines
    # The location keeps its own hours: it does not depend on the service.
    assert Location.objects.get(hsds_id=LOC).hours.count() == 5


@pytest.mark.django_db
def test_a_skipped_row_keeps_the_stored_copy(network, tmp_path):
    tables = hsds_minimal()
    tables["required_documents"] = [
        {"id": str(uuid.uuid4()), "service_id": SVC, "document": "Photo ID"}
    ]
    _import(network, hsds_write(tmp_path / "a", tables))
    tables["required_documents"][0]["uri"] = "not a web address"
    tables["schedules"][0]["byday"] = "Monday"
    report = _import(network, hsds_write(tmp_path / "b", tables), skip_invalid=True)
    assert not report.deleted, report.summary()
    assert RequiredDocument.objects.get().document == "Photo ID"
    assert ServiceHours.objects.count() == 2


@pytest.mark.django_db
def test_unreadable_row_is_dropped_but_an_unreadable_file_refuses(network, tmp_path):
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    with (folder / "services.csv").open("a") as handle:
        handle.write("only-one-cell\n")
    report = _import(network, folder, skip_invalid=True)
    assert ("services.csv", 2, "name", RECORD_SKIPPED) in _lines(report)
    (folder / "organizations.csv").write_bytes(b"id,name\n\xff\xfe,bad\n")
    (folder / "services.csv").unlink()
    with pytest.raises(InvalidImport) as err:
        _import(network, folder, skip_invalid=True)
    assert "not UTF-8" in str(err.value.problems[0])


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failure_in_the_middle_leaves_the_directory_as_it_was(network, tmp_path, monkeypatch):
    tables = hsds_minimal()
    _import(network, hsds_write(tmp_path / "a", tables))
    before = directory_counts()
    titles = list(ServicePage.objects.values_list("title", flat=True))
    tables["services"][0]["name"] = "Renamed"
    tables["services"].append(
        {"id": SVC3, "organization_id": ORG, "name": "New one", "status": "bogus"}
    )
    tables["organizations"].append({"id": ORG2, "name": "Second", "description": "Second."})

    def boom(self, groups):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(importing._Importer, "_services", boom)
    with pytest.raises(RuntimeError):
        _import(network, hsds_write(tmp_path / "b", tables), skip_invalid=True)
    assert directory_counts() == before
    assert list(ServicePage.objects.values_list("title", flat=True)) == titles
    assert not AgencyPage.objects.filter(hsds_id=ORG2).exists()


# --- safe repairs, in both modes -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [("100", "-124.05", "latitude"), ("41.2", "200", "longitude"), ("0", "0", "latitude"),
     ("41.2", "", "longitude"), ("north", "-124.05", "latitude")],
)  # fmt: skip
def test_coordinates_that_are_no_place_are_dropped_and_geocoded(
    network, tmp_path, latitude, longitude, field
):
    tables = hsds_minimal()
    tables["locations"][0].update(latitude=latitude, longitude=longitude)
    report = _import(network, hsds_write(tmp_path / "p", tables))  # strict: a repair, not refused
    assert (("locations.csv", 1, field, COORDINATES_GEOCODED)) in _lines(report)
    location = Location.objects.get(hsds_id=LOC)
    assert (location.latitude, location.longitude) == (None, None)
    point = LocationPoint.objects.get(location=location)
    assert point.status != GeocodeStatus.MANUAL  # placed from the address, not typed


@pytest.mark.django_db
def test_coordinates_of_a_location_without_address_are_dropped_and_said_so(network, tmp_path):
    tables = hsds_minimal()
    tables["addresses"] = []
    tables["locations"][0].update(latitude="-95", location_type="virtual")
    report = _import(network, hsds_write(tmp_path / "p", tables))
    assert ("locations.csv", 1, "latitude", COORDINATES_DROPPED) in _lines(report)


@pytest.mark.django_db
def test_term_with_missing_parent_and_taxonomy_is_kept_top_level(network, tmp_path):
    tables = hsds_minimal()
    tables["taxonomy_terms"] = [
        *handoff_taxonomies()[1],
        {
            "id": TERM,
            "code": "counselling",
            "name": "Counselling",
            "description": "Talking therapies",
            "parent_id": MISSING,
            "taxonomy": "Open Eligibility",
            "taxonomy_id": MISSING,
        },
    ]
    tables["attributes"].append(
        {
            "id": str(uuid.uuid4()),
            "link_id": SVC,
            "link_entity": "service",
            "taxonomy_term_id": TERM,
        }
    )
    report = _import(network, hsds_write(tmp_path / "p", tables))
    lines, row = _lines(report), len(handoff_taxonomies()[1]) + 1
    assert ("taxonomy_terms.csv", row, "parent_id", MADE_TOP_LEVEL) in lines
    assert ("taxonomy_terms.csv", row, "taxonomy_id", TAXONOMY_DROPPED) in lines
    term = TaxonomyTerm.objects.get(hsds_id=TERM)
    assert (term.parent, term.taxonomy) == (None, "Open Eligibility")
    assert list(ServicePage.objects.get(hsds_id=SVC).service_types.all()) == [term]


@pytest.mark.django_db
def test_location_with_missing_organization_joins_its_services_organization(network, tmp_path):
    tables = hsds_minimal()
    tables["locations"][0]["organization_id"] = MISSING
    report = _import(network, hsds_write(tmp_path / "p", tables))
    finding = next(f for f in report.findings if f.field == "organization_id")
    assert finding.problem == f"no organization with id {MISSING}"
    assert "joins 'Orick Food Cupboard'" in finding.action
    location = Location.objects.get(hsds_id=LOC)
    assert location.page.specific.hsds_id == uuid.UUID(ORG)
    assert ServicePage.objects.get(hsds_id=SVC).service_locations.get().location == location


@pytest.mark.django_db
def test_location_with_missing_organization_and_no_service_is_skipped(network, tmp_path):
    tables = hsds_minimal()
    tables["locations"].append(
        {"id": LOC2, "organization_id": MISSING, "name": "Nowhere", "location_type": "physical"}
    )
    folder = hsds_write(tmp_path / "p", tables)
    with pytest.raises(InvalidImport) as err:
        _import(network, folder)
    assert "no service is offered at the location" in str(err.value.problems[0])
    report = _import(network, folder, skip_invalid=True)
    assert ("locations.csv", 2, "organization_id", RECORD_SKIPPED) in _lines(report)
    assert not Location.objects.filter(hsds_id=LOC2).exists()


# --- the report: command and CSV -----------------------------------------------------------------


@pytest.mark.django_db
def test_command_skip_invalid_writes_the_csv_report(network, tmp_path, capsys):
    folder = hsds_write(tmp_path / "p", _two_agencies())
    report_file = tmp_path / "report.csv"
    with pytest.raises(CommandError, match=r"1 problem\(s\) found; nothing was imported"):
        call_command("hsds_import", str(folder), network=network.slug, report=str(report_file))
    with report_file.open(newline="") as stream:
        refused = list(csv.reader(stream))
    assert (
        refused[0] == list(REPORT_COLUMNS) == ["file", "row", "field", "problem", "what was done"]
    )
    assert refused[1] == ["organizations.csv", "2", "name", "is required", REFUSED]
    assert not ServicePage.objects.exists()

    call_command(
        "hsds_import", str(folder), network=network.slug, skip_invalid=True, report=str(report_file)
    )
    out = capsys.readouterr().out
    assert "service: 1 created" in out
    with report_file.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {(r["file"], r["row"], r["what was done"]) for r in rows} >= {
        ("organizations.csv", "2", RECORD_SKIPPED),
        ("services.csv", "2", RECORD_SKIPPED),
        ("phones.csv", "1", ROW_DROPPED),
    }
    assert all(set(r) == set(REPORT_COLUMNS) for r in rows)


@pytest.mark.django_db
def test_command_report_folder_must_exist(network, tmp_path):
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    with pytest.raises(CommandError, match="no such folder"):
        call_command(
            "hsds_import", str(folder), network=network.slug, report=str(tmp_path / "no" / "r.csv")
        )


# --- what HSDS has and Handoff does not model ----------------------------------------------------


def _with_extras() -> dict[str, list[dict[str, str]]]:
    tables = hsds_minimal()
    tables["organizations"][0].update(
        logo="https://example.org/logo.png", uri="https://example.org"
    )
    tables["services"][0].update(
        program_id="6f1c2d3e-0000-4000-8000-0000000000a1",
        accreditations="State licensed",
        assured_date="2024-05-01",
        last_modified="2024-05-02T10:00:00Z",
    )
    tables["locations"][0].update(external_identifier="W3W", external_identifier_type="what3words")
    tables["contacts"] = [
        {"id": "6f1c2d3e-0000-4000-8000-0000000000c1", "service_id": SVC, "name": "Ann Desk"},
        {"id": "6f1c2d3e-0000-4000-8000-0000000000c2", "organization_id": ORG, "name": "Bo Lead"},
    ]
    tables["programs"] = [
        {
            "id": "6f1c2d3e-0000-4000-8000-0000000000a1",
            "organization_id": ORG,
            "name": "Food security",
            "description": "Everything about food.",
        }
    ]
    tables["funding"] = [
        {"id": "6f1c2d3e-0000-4000-8000-0000000000f1", "service_id": SVC, "source": "County"}
    ]
    tables["organization_identifiers"] = [
        {
            "id": "6f1c2d3e-0000-4000-8000-0000000000e1",
            "organization_id": ORG,
            "identifier_type": "EIN",
            "identifier": "12-3456789",
        }
    ]
    tables["accessibility"] = [
        {"id": "6f1c2d3e-0000-4000-8000-0000000000b1", "location_id": LOC, "description": "Ramp"}
    ]
    tables["metadata"] = [
        {
            "id": "6f1c2d3e-0000-4000-8000-0000000000d1",
            "resource_id": SVC,
            "resource_type": "service",
            "last_action_date": "2024-05-02",
            "last_action_type": "update",
        }
    ]
    return tables


@pytest.mark.django_db
def test_what_handoff_does_not_model_is_kept_in_hsds_extra(network, tmp_path):
    report = _import(network, hsds_write(tmp_path / "p", _with_extras()))
    assert not report.findings
    agency = AgencyPage.objects.get(hsds_id=ORG)
    service = ServicePage.objects.get(hsds_id=SVC)
    location = Location.objects.get(hsds_id=LOC)
    assert agency.hsds_extra["logo"] == "https://example.org/logo.png"
    assert [c["name"] for c in agency.hsds_extra["contacts"]] == ["Bo Lead"]
    assert agency.hsds_extra["programs"][0]["name"] == "Food security"
    assert agency.hsds_extra["organization_identifiers"][0]["identifier"] == "12-3456789"
    assert [c["name"] for c in service.hsds_extra["contacts"]] == ["Ann Desk"]
    assert service.hsds_extra["program"]["name"] == "Food security"
    assert service.hsds_extra["funding"] == [
        {"id": "6f1c2d3e-0000-4000-8000-0000000000f1", "service_id": SVC, "source": "County"}
    ]
    assert service.hsds_extra["accreditations"] == "State licensed"
    assert service.hsds_extra["metadata"][0]["last_action_type"] == "update"
    assert location.hsds_extra["external_identifier_type"] == "what3words"
    assert location.hsds_extra["accessibility"][0]["description"] == "Ramp"
    assert location.accessibility == "Ramp"  # the field Handoff has is filled too
    assert not {"name", "id", "description"} & set(agency.hsds_extra)


@pytest.mark.django_db
def test_reimport_with_extras_changes_nothing_and_keeps_handoffs_own_keys(network, tmp_path):
    tables = _with_extras()
    _import(network, hsds_write(tmp_path / "a", tables))
    ServicePage.objects.filter(hsds_id=SVC).update(hsds_extra={
        **ServicePage.objects.get(hsds_id=SVC).hsds_extra, "x_original_id": "svc-1"
    })  # fmt: skip
    before = directory_counts()
    again = _import(network, hsds_write(tmp_path / "b", tables))
    assert not again.changed, again.summary()
    assert directory_counts() == before
    assert ServicePage.objects.get(hsds_id=SVC).hsds_extra["x_original_id"] == "svc-1"
    tables["funding"][0]["source"] = "State"
    changed = _import(network, hsds_write(tmp_path / "c", tables))
    assert changed.updated["service"] == 1
    assert ServicePage.objects.get(hsds_id=SVC).hsds_extra["funding"][0]["source"] == "State"


@pytest.mark.django_db
def test_extra_rows_of_missing_records_are_reported(network, tmp_path):
    tables = _with_extras()
    tables["contacts"].append({"id": str(uuid.uuid4()), "service_id": MISSING, "name": "Nobody"})
    folder = hsds_write(tmp_path / "p", tables)
    with pytest.raises(InvalidImport) as err:
        _import(network, folder)
    assert str(err.value.problems[0]).startswith("contacts.csv row 3, service_id: no service")
    report = _import(network, folder, skip_invalid=True)
    assert ("contacts.csv", 3, "service_id", ROW_DROPPED) in _lines(report)


@pytest.mark.django_db
def test_nested_json_keeps_its_extras(network, tmp_path):
    import json

    service = {
        "id": SVC,
        "name": "Grocery boxes",
        "status": "active",
        "accreditations": "State licensed",
        "contacts": [{"id": str(uuid.uuid4()), "name": "Ann Desk"}],
        "funding": [{"id": str(uuid.uuid4()), "source": "County"}],
        "organization": {
            "id": ORG,
            "name": "Orick Food Cupboard",
            "description": "Groceries.",
            "organization_identifiers": [
                {"id": str(uuid.uuid4()), "identifier_type": "EIN", "identifier": "1"}
            ],
        },
        "service_at_locations": [
            {
                "id": SAL,
                "location": {
                    "id": LOC,
                    "location_type": "physical",
                    "accessibility": [{"id": str(uuid.uuid4()), "description": "Ramp"}],
                },
            }
        ],
    }
    path = tmp_path / "services.json"
    path.write_text(json.dumps([service]))
    _import(network, path)
    stored = ServicePage.objects.get(hsds_id=SVC).hsds_extra
    # Kept as published, with the owner's id HSDS tables give them.
    assert stored["contacts"] == [{**c, "service_id": SVC} for c in service["contacts"]]
    assert stored["funding"] == [{**f, "service_id": SVC} for f in service["funding"]]
    assert AgencyPage.objects.get(hsds_id=ORG).hsds_extra["organization_identifiers"]
    assert Location.objects.get(hsds_id=LOC).accessibility == "Ramp"
    assert not _import(network, path).changed
