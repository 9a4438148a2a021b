"""A confidential address (a domestic-violence shelter) is hidden from the public directory,
public search, its map points and search documents, and the HSDS export, while signed-in staff
of the network still see it; the HSDS package carries the flag in an extension column."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from directory.hsds.importing import directory_import
from directory.hsds.reading import read
from directory.hsds.writing import directory_tables, write_json, write_package
from directory.models import AgencyPage, Location, LocationPoint
from network.models import Role
from search.models import SearchDocument
from search.services import search_index_rebuild
from tests.conftest import act_as
from tests.directory.factories import LOC, Spec, directory_build, hsds_minimal, hsds_write
from tests.network.factories import network_make, tenant_make

STREET = "77 Hidden Way"
LAT, LNG = "40.7955", "-124.1625"
SHELTER = "/directory/safe-passage/confidential-shelter/"
AGENCY = "/directory/safe-passage/"


@pytest.fixture
def tenant(db):
    tenant = tenant_make("Alpha")
    directory_build(
        tenant.network,
        [
            Spec(
                "Confidential Shelter",
                "A safe house for survivors.",
                categories=["intimate-partner-violence"],
                agency="Safe Passage",
                places=[(float(LAT), float(LNG))],
                hours=[(d, "00:00", "00:00") for d in range(7)],
            ),
            Spec("Open Pantry", "Food for all.", categories=["food-insecurity"]),
        ],
    )
    location = Location.objects.get(page__title="Safe Passage")
    location.address_1 = STREET
    location.address_confidential = True
    location.save()
    LocationPoint.objects.filter(location=location).update(latitude=LAT, longitude=LNG)
    search_index_rebuild(network=tenant.network)
    return tenant


def host(tenant) -> str:
    return tenant.network.site.hostname


def assert_hidden(text: str) -> None:
    assert STREET not in text
    assert LAT not in text
    assert LNG not in text
    assert "40.7955" not in text
    assert "124.1625" not in text


@pytest.mark.django_db
def test_the_public_service_page_hides_the_street_and_map_point(client, tenant):
    response = client.get(SHELTER, HTTP_HOST=host(tenant))
    assert response.status_code == 200
    html = response.content.decode()
    assert_hidden(html)
    assert "openstreetmap" not in html
    assert "Eureka, CA" in html  # the town only
    assert "The address is confidential" in html


@pytest.mark.django_db
def test_the_public_agency_page_hides_the_street(client, tenant):
    html = client.get(AGENCY, HTTP_HOST=host(tenant)).content.decode()
    assert_hidden(html)
    assert "Eureka, CA" in html


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.CLINIC_STAFF, Role.AGENCY_STAFF])
def test_the_networks_signed_in_staff_see_how_to_reach_it(client, tenant, role):
    user = tenant.users[role.value]
    organization = tenant.clinic if role == Role.CLINIC_STAFF else tenant.agency
    act_as(client, user, organization)
    html = client.get(SHELTER, HTTP_HOST=host(tenant)).content.decode()
    assert STREET in html
    assert "openstreetmap.org/?mlat=40.79550&amp;mlon=-124.16250" in html
    assert "Confidential address: do not share" in html
    assert STREET in client.get(AGENCY, HTTP_HOST=host(tenant)).content.decode()


@pytest.mark.django_db
def test_staff_of_another_network_do_not_see_it(client, tenant):
    other = tenant_make("Bravo")
    act_as(client, other.users[Role.CLINIC_STAFF.value], other.clinic)
    html = client.get(SHELTER, HTTP_HOST=host(tenant)).content.decode()
    assert_hidden(html)


@pytest.mark.django_db
def test_public_search_results_and_map_points_hide_it(client, tenant):
    response = client.get("/search/", {"q": "shelter"}, HTTP_HOST=host(tenant))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Confidential Shelter" in html
    assert_hidden(html)
    found = re.search(r'<script id="search-map-points"[^>]*>(.*?)</script>', html, re.S)
    assert found, "the page carries its map points"
    points = json.loads(found.group(1))
    assert all(p["name"] != "Confidential Shelter" for p in points)


@pytest.mark.django_db
def test_search_documents_hold_no_street_zip_or_point(tenant):
    (document,) = SearchDocument.objects.filter(service__title="Confidential Shelter")
    assert (document.latitude, document.longitude) == (None, None)
    assert document.address == "Eureka, CA"
    assert document.postal_code == ""
    assert STREET not in document.body
    assert "95501" not in document.body
    (pantry,) = SearchDocument.objects.filter(service__title="Open Pantry")
    assert pantry.latitude is not None
    assert "Main St" in pantry.address


@pytest.mark.django_db
def test_the_hsds_export_leaves_the_address_and_point_out(tenant, tmp_path):
    tables = directory_tables(tenant.network)
    (row,) = [r for r in tables["locations"] if r["name"].startswith("Confidential Shelter")]
    assert row.get("latitude") is None
    assert row.get("longitude") is None
    assert row["address_confidential"] is True
    assert all(a["location_id"] != row["id"] for a in tables["addresses"])
    files = write_package(tables, tmp_path / "csv", name="export")
    for path in files:
        assert_hidden(path.read_text(encoding="utf-8"))
    assert_hidden(write_json(tables, tmp_path / "services.json").read_text(encoding="utf-8"))
    # The other listings keep their addresses.
    assert any(a["address_1"] == "100 Main St" for a in tables["addresses"])


@pytest.mark.django_db
def test_the_flag_is_editable_in_the_admin_location_panel():
    names = {
        getattr(panel, "field_name", None)
        for panel in Location.panels  # type: ignore[attr-defined]
    }
    assert "address_confidential" in names


@pytest.mark.django_db
def test_the_import_reads_the_extension_column_and_keeps_the_address_of_an_export(tmp_path):
    network = network_make("Import Network")
    tables = hsds_minimal()
    tables["locations"][0]["address_confidential"] = "true"
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "a", tables)))
    location = Location.objects.get(hsds_id=LOC)
    assert location.address_confidential
    assert location.address_1 == "121 Swan Rd"
    # Its own export, imported again, keeps the address on file (the export leaves it out).
    write_package(directory_tables(network), tmp_path / "export", name="export")
    directory_import(network=network, dataset=read(tmp_path / "export"))
    location.refresh_from_db()
    assert (location.address_1, location.address_confidential) == ("121 Swan Rd", True)
    assert location.latitude == Decimal("41.287")
    # A package without the column leaves the flag as it is; "false" clears it.
    del tables["locations"][0]["address_confidential"]
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "b", tables)))
    assert Location.objects.get(hsds_id=LOC).address_confidential
    tables["locations"][0]["address_confidential"] = "false"
    directory_import(network=network, dataset=read(hsds_write(tmp_path / "c", tables)))
    assert not Location.objects.get(hsds_id=LOC).address_confidential
    assert AgencyPage.objects.count() == 1
