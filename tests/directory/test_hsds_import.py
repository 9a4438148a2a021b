"""HSDS 3.0 import and export: lossless round trips, idempotence, and every bad input refused."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from wagtail.models import Page

from demo.networks import directory_dataset
from directory.hsds.importing import directory_import
from directory.hsds.reading import MAX_FILE_BYTES, ReadError, read
from directory.hsds.records import InvalidImport
from directory.hsds.writing import directory_tables, write_json, write_package
from directory.models import AgencyPage, Location, ServicePage, TaxonomyTerm
from tests.directory.factories import LOC, ORG, SVC, directory_counts, hsds_minimal, hsds_write
from tests.network.factories import network_make

CONTACT = "55555555-5555-4555-8555-555555555555"


@pytest.fixture
def network(db):
    return network_make("Import Network")


@pytest.mark.django_db
def test_minimal_package_imports_every_mapped_field(network, tmp_path):
    report = directory_import(
        network=network, dataset=read(hsds_write(tmp_path / "p", hsds_minimal()))
    )
    assert report.created["service"] == 1
    service = ServicePage.objects.get(hsds_id=SVC)
    agency = AgencyPage.objects.get(hsds_id=ORG)
    assert service.get_parent().specific == agency
    assert agency.organization.network == network
    assert agency.organization.receives_referrals
    assert service.minimum_age == 18
    assert [c.code for c in service.categories.all()] == ["food-insecurity"]
    hours = sorted((h.weekday, str(h.opens_at), str(h.closes_at)) for h in service.hours.all())
    assert hours == [(0, "09:00:00", "12:30:00"), (2, "09:00:00", "12:30:00")]
    location = Location.objects.get(hsds_id=LOC)
    assert sorted(location.hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]
    assert (location.city, str(location.latitude)) == ("Orick", "41.287000")
    assert service.capacity.status == "accepting"


@pytest.mark.django_db
def test_reimport_changes_nothing_and_updates_what_changed(network, tmp_path):
    tables = hsds_minimal()
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "a", tables)))
    before = directory_counts()
    again = directory_import(network=network, dataset=read(hsds_write(tmp_path / "b", tables)))
    assert not again.changed, again.summary()
    assert directory_counts() == before
    tables["services"][0]["name"] = "Grocery boxes (weekly)"
    tables["schedules"][0]["byday"] = "MO"
    changed = directory_import(network=network, dataset=read(hsds_write(tmp_path / "c", tables)))
    assert changed.updated["service"] == 1
    assert changed.deleted["hours"] == 1
    assert ServicePage.objects.get(hsds_id=SVC).title == "Grocery boxes (weekly)"


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_round_trip_is_lossless(network, tmp_path, fmt):
    directory_import(network=network, dataset=directory_dataset("del-norte"))
    first = directory_tables(network)
    if fmt == "csv":
        source = tmp_path / "export"
        write_package(first, source, name="first")
    else:
        source = write_json(first, tmp_path / "export" / "services.json")
    second_network = network_make("Round Trip Network")
    directory_import(network=second_network, dataset=read(source))
    second = directory_tables(second_network)
    assert set(first) == set(second)
    for table in first:

        def normal(rows):
            # last_modified is when each network published its copy, not data that travels.
            return sorted(
                json.dumps(
                    {k: v for k, v in r.items() if k != "last_modified"},
                    sort_keys=True,
                    default=str,
                )
                for r in rows
            )

        assert normal(first[table]) == normal(second[table]), table
    assert len(first["services"]) == len(directory_dataset("del-norte").rows("services"))


@pytest.mark.django_db
def test_minimal_package_round_trips_with_location_hours(network, tmp_path):
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "p", hsds_minimal())))
    first = directory_tables(network)
    assert any(row.get("location_id") == LOC for row in first["schedules"])
    write_package(first, tmp_path / "export", name="first")
    other = network_make("Location Hours Network")
    directory_import(network=other, dataset=read(tmp_path / "export"))
    second = directory_tables(other)
    for table in first:
        key = lambda rows: sorted(  # noqa: E731
            json.dumps(
                {k: v for k, v in r.items() if k != "last_modified"}, sort_keys=True, default=str
            )
            for r in rows
        )
        assert key(first[table]) == key(second[table]), table


@pytest.mark.django_db
def test_zip_package_and_unknown_columns_and_files(network, tmp_path):
    tables = hsds_minimal()
    tables["services"][0]["favourite_colour"] = "green"
    folder = hsds_write(
        tmp_path / "p",
        tables,
        extra={"contacts.csv": f"id,service_id,name\n{CONTACT},{SVC},Ann\n", "notes.csv": "x\n"},
    )
    archive = tmp_path / "package.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, f"export/{path.name}")
    dataset = read(archive)
    messages = [str(w) for w in dataset.warnings]
    assert "services.csv row 0, favourite_colour: not an HSDS 3.0 column; ignored" in messages
    assert not any("contacts.csv" in m for m in messages)  # kept for hsds_extra, not ignored
    assert [(r["id"], r["service_id"], r["name"]) for r in dataset.rows("contacts")] == [
        (CONTACT, SVC, "Ann")
    ]
    assert any("notes.csv" in m and "unknown file" in m for m in messages)
    directory_import(network=network, dataset=dataset)
    assert ServicePage.objects.filter(hsds_id=SVC).exists()


def _problems(network, folder: Path) -> list[str]:
    before = directory_counts()
    with pytest.raises(InvalidImport) as err:
        directory_import(network=network, dataset=read(folder))
    assert directory_counts() == before, "an invalid import wrote something"
    return [str(p) for p in err.value.problems]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda t: t["services"][0].update(minimum_age="ten"),
            "services.csv row 1, minimum_age: 'ten' is not a whole number",
        ),
        (
            lambda t: t["services"][0].update(status="open"),
            "services.csv row 1, status: 'open' is not one of",
        ),
        (
            lambda t: t["services"][0].update(organization_id=str(uuid.uuid4())),
            "services.csv row 1, organization_id: no organization with id",
        ),
        (
            lambda t: t["services"].append(dict(t["services"][0])),
            "services.csv row 2, id: " + SVC + " appears twice",
        ),
        (
            lambda t: t["service_at_location"][0].update(location_id=str(uuid.uuid4())),
            "service_at_location.csv row 1, location_id: no location with id",
        ),
        (
            lambda t: t["schedules"][0].update(opens_at="25:00"),
            "schedules.csv row 1, opens_at: '25:00' is not a time of day",
        ),
        (
            lambda t: t["schedules"][0].update(byday="Monday"),
            "schedules.csv row 1, byday: 'Monday' is not a list of days",
        ),
        (
            lambda t: t["organizations"][0].update(name=""),
            "organizations.csv row 1, name: is required",
        ),
        (
            lambda t: t["attributes"][0].update(taxonomy_term_id=str(uuid.uuid4())),
            "attributes.csv row 1, taxonomy_term_id: no taxonomy term with id",
        ),
    ],
)
def test_bad_values_are_located_and_nothing_is_written(network, tmp_path, mutate, expected):
    tables = hsds_minimal()
    mutate(tables)
    problems = _problems(network, hsds_write(tmp_path / "p", tables))
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.django_db
def test_every_problem_is_reported_at_once(network, tmp_path):
    tables = hsds_minimal()
    tables["services"][0].update(minimum_age="-4", email="nobody")
    tables["schedules"][0].update(opens_at="25:00")
    problems = _problems(network, hsds_write(tmp_path / "p", tables))
    assert len(problems) >= 3
    assert {p.split(",")[1].split(":")[0].strip() for p in problems} >= {
        "minimum_age",
        "email",
        "opens_at",
    }


@pytest.mark.django_db
def test_malformed_csv_is_reported_with_its_row(network, tmp_path):
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    with (folder / "services.csv").open("a") as handle:
        handle.write('"unterminated,quote\n')
    problems = _problems(network, folder)
    assert any(p.startswith("services.csv row") for p in problems), problems


@pytest.mark.django_db
def test_wrong_cell_count_is_reported(network, tmp_path):
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    with (folder / "organizations.csv").open("a") as handle:
        handle.write("a,b,c,d,e,f,g,h,i,j,k,l,m,n\n")
    problems = _problems(network, folder)
    assert any("organizations.csv row 2" in p and "cells" in p for p in problems), problems


@pytest.mark.django_db
def test_unreadable_inputs_are_refused_clearly(network, tmp_path):
    with pytest.raises(ReadError, match=r"no HSDS files found"):
        read(tmp_path)
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.seek(MAX_FILE_BYTES + 1)
        handle.write(b"]")
    with pytest.raises(ReadError, match=r"larger than the 50 MB"):
        read(big)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReadError, match="not valid JSON"):
        read(bad)
    with pytest.raises(ReadError, match="no such file"):
        read(tmp_path / "missing.zip")


@pytest.mark.django_db
def test_big_csv_inside_a_package_is_refused(network, tmp_path):
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    with (folder / "services.csv").open("r+b") as handle:  # append mode would ignore seek()
        handle.seek(MAX_FILE_BYTES + 1)
        handle.write(b"\n")
    with pytest.raises(ReadError, match=r"services\.csv"):
        read(folder)


@pytest.mark.django_db
def test_service_types_keep_their_tree(network, tmp_path):
    tables = hsds_minimal()
    parent, child = str(uuid.uuid4()), str(uuid.uuid4())
    tables["taxonomy_terms"] = [
        {
            "id": parent,
            "code": "food",
            "name": "Food",
            "description": "Food",
            "taxonomy": "Service types",
        },
        {
            "id": child,
            "code": "pantry",
            "name": "Food pantry",
            "description": "Pantries",
            "parent_id": parent,
            "taxonomy": "Service types",
        },
    ]
    from directory.hsds.records import handoff_taxonomies

    tables["taxonomy_terms"] += handoff_taxonomies()[1]
    tables["attributes"].append(
        {
            "id": str(uuid.uuid4()),
            "link_id": SVC,
            "link_entity": "service",
            "taxonomy_term_id": child,
        }
    )
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "p", tables)))
    term = TaxonomyTerm.objects.get(hsds_id=child)
    assert term.parent.hsds_id == uuid.UUID(parent)
    assert term.network == network
    assert list(ServicePage.objects.get(hsds_id=SVC).service_types.all()) == [term]


@pytest.mark.django_db
def test_commands_import_export_and_report_errors(network, tmp_path):
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    out = io.StringIO()
    call_command("hsds_import", str(folder), "--network", network.slug, stdout=out)
    assert "service: 1 created" in out.getvalue()
    call_command("hsds_import", str(folder), "--network", network.slug, stdout=out)
    assert "Nothing changed" in out.getvalue()
    call_command("hsds_export", str(tmp_path / "out"), "--network", network.slug, stdout=out)
    assert (tmp_path / "out" / "services.csv").exists()
    bad = hsds_minimal()
    bad["services"][0]["status"] = "open"
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "hsds_import",
            str(hsds_write(tmp_path / "bad", bad)),
            "--network",
            network.slug,
            stdout=out,
            stderr=err,
        )
    assert "services.csv row 1, status" in err.getvalue()
    with pytest.raises(CommandError, match="No network"):
        call_command("hsds_import", str(folder), "--network", "nowhere")


@pytest.mark.django_db
def test_json_of_nested_services_imports(network, tmp_path):
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "p", hsds_minimal())))
    path = write_json(directory_tables(network), tmp_path / "x" / "services.json")
    data = json.loads(path.read_text())
    assert data[0]["organization"]["name"] == "Orick Food Cupboard"
    assert data[0]["service_at_locations"][0]["location"]["addresses"][0]["city"] == "Orick"
    other = network_make("JSON Network")
    directory_import(network=other, dataset=read(path))
    assert ServicePage.objects.filter(hsds_id=SVC).count() == 2


@pytest.mark.django_db
def test_exports_validate_against_hsds_3_schemas(network, tmp_path):
    from directory.hsds.validation import errors_only, validate_service_object, validate_table_rows
    from directory.hsds.writing import nested_services

    directory_import(network=network, dataset=directory_dataset("del-norte"))
    folder = tmp_path / "package"
    write_package(directory_tables(network), folder, name="check")
    checked = 0
    for path in folder.glob("*.csv"):
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        messages = validate_table_rows(path.stem, rows)
        assert messages == [], (path.name, messages[:5])
        checked += len(rows)
    assert checked > 100
    package = json.loads((folder / "datapackage.json").read_text())
    assert {r["path"] for r in package["resources"]} == {p.name for p in folder.glob("*.csv")}
    services = json.loads(json.dumps(nested_services(directory_tables(network)), default=str))
    problems = [m for s in services for m in errors_only(validate_service_object(s))]
    assert problems == []
    assert len(services) == 17


@pytest.mark.django_db
def test_a_service_that_changed_organization_moves_to_its_new_agency(network, tmp_path):
    tables = hsds_minimal()
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "a", tables)))
    new_org = "55555555-5555-4555-8555-555555555555"
    tables["organizations"].append(
        {
            "id": new_org,
            "name": "Orick Family Resource Center",
            "description": "Now runs the boxes.",
        }
    )
    tables["locations"][0]["organization_id"] = new_org
    tables["services"][0]["organization_id"] = new_org
    report = directory_import(network=network, dataset=read(hsds_write(tmp_path / "b", tables)))
    assert report.updated["service"] == 1
    service = ServicePage.objects.get(hsds_id=SVC)
    new_agency = AgencyPage.objects.get(hsds_id=new_org)
    assert service.get_parent().pk == new_agency.pk
    assert Location.objects.get(hsds_id=LOC).page_id == new_agency.pk
    # The tree's bookkeeping stays right: every page's child count matches its children.
    for page in Page.objects.all():
        assert page.numchild == page.get_children().count(), page
    again = directory_import(network=network, dataset=read(hsds_write(tmp_path / "c", tables)))
    assert not again.changed, again.summary()


@pytest.mark.django_db
def test_a_phone_of_a_service_at_a_location_is_reported_not_silently_dropped(tmp_path):
    tables = hsds_minimal()
    sal = tables["service_at_location"][0]["id"]
    tables["phones"] = [
        {"id": str(uuid.uuid4()), "service_id": SVC, "number": "707-555-0100"},
        {"id": str(uuid.uuid4()), "service_at_location_id": sal, "number": "707-555-0199"},
    ]
    report = directory_import(network=network_make(), dataset=read(hsds_write(tmp_path, tables)))
    notes = [str(w) for w in report.warnings]
    assert notes == [
        "phones.csv row 2, service_at_location_id: phone of a service at a location; not "
        "mapped, ignored"
    ]
    service = ServicePage.objects.get(hsds_id=SVC)
    assert [p.number for p in service.phones.all()] == ["707-555-0100"]


POSTAL = "66666666-6666-4666-8666-666666666666"


def _postal(location_id: str = LOC) -> dict[str, str]:
    return {
        "id": POSTAL,
        "location_id": location_id,
        "attention": "Intake desk",
        "address_1": "PO Box 12",
        "city": "Orick",
        "state_province": "CA",
        "postal_code": "95555",
        "country": "us",
        "address_type": "postal",
    }


def _addresses(network) -> list[dict]:
    rows = directory_tables(network).get("addresses", [])
    return sorted(
        ({k: v for k, v in row.items() if v not in ("", None)} for row in rows),
        key=lambda row: row["address_type"],
    )


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_second_address_is_kept_and_given_back(network, tmp_path, fmt):
    """A postal address beside the street one: the street address fills the location (map,
    search), the postal one is kept whole and exported after it; re-importing changes
    nothing, and it travels to another network."""
    tables = hsds_minimal()
    tables["addresses"].insert(0, _postal())  # listed first: the physical one still wins
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "p", tables)))
    location = Location.objects.get(hsds_id=LOC)
    assert (location.address_1, location.postal_code) == ("121 Swan Rd", "95555")
    physical, postal = _addresses(network)
    assert physical["address_1"] == "121 Swan Rd"
    assert physical["address_type"] == "physical"
    assert postal == {
        **_postal(),
        "country": "US",
    }
    again = directory_import(network=network, dataset=read(hsds_write(tmp_path / "q", tables)))
    assert not again.changed, again.summary()

    exported = directory_tables(network)
    if fmt == "csv":
        source = write_package(exported, tmp_path / "export", name="first")[-1].parent
    else:
        source = write_json(exported, tmp_path / "services.json")
    copy = network_make("Copy Network")
    directory_import(network=copy, dataset=read(source))
    assert _addresses(copy) == _addresses(network)


@pytest.mark.django_db
def test_a_location_with_only_a_postal_address_keeps_its_type(network, tmp_path):
    tables = hsds_minimal()
    tables["addresses"] = [_postal()]
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "p", tables)))
    assert Location.objects.get(hsds_id=LOC).address_1 == "PO Box 12"
    [address] = _addresses(network)
    assert address["address_type"] == "postal"
    assert address["attention"] == "Intake desk"


@pytest.mark.django_db
def test_a_confidential_location_shows_none_of_its_addresses(network, tmp_path):
    tables = hsds_minimal()
    tables["addresses"].append(_postal())
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "p", tables)))
    Location.objects.filter(hsds_id=LOC).update(address_confidential=True)
    assert _addresses(network) == []
