"""The stored HSDS documents the HSDS API serves: written in the transaction of every publish,
unpublish, edit, move, delete and import, so that no stale document is ever served."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.hsds import documents, selectors
from directory.hsds.importing import directory_import
from directory.hsds.reading import read
from directory.models import AgencyPage, ServiceDocument, ServicePage
from tests.directory.factories import (
    STANDARD,
    SVC,
    directory_build,
    directory_make,
    hsds_minimal,
    hsds_write,
)
from tests.network.factories import tenant_make

API = "/api/hsds"


@pytest.fixture
def alpha(db):
    tenant = tenant_make("Alpha")
    directory_build(tenant.network, STANDARD)
    return tenant


def _get(client, tenant, path, **params):
    response = client.get(f"{API}{path}", params, HTTP_HOST=tenant.network.site.hostname)
    return response.status_code, (response.json() if response.content else None)


def _served(client, tenant) -> dict[str, dict]:
    status, body = _get(client, tenant, "/services", full="true", per_page=100)
    assert status == 200
    return {s["id"]: s for s in body["contents"]}


def assert_fresh(client, tenant) -> None:
    """What the API serves is exactly what the serializer builds from the live pages now."""
    network = tenant.network
    live = list(selectors.published_services(network=network).only("pk", "path"))
    built = documents.service_objects(live, network=network, full=True)
    listed = documents.service_objects(live, network=network, full=False)
    assert _served(client, tenant) == {s["id"]: s for s in built}
    _status, body = _get(client, tenant, "/services", per_page=100)
    assert body["contents"] == listed
    assert ServiceDocument.objects.filter(network=network).count() == len(live)


def _publish(page):
    page.save_revision().publish()


def test_documents_match_the_serializer(client, alpha):
    assert ServiceDocument.objects.filter(network=alpha.network).count() == len(STANDARD)
    assert_fresh(client, alpha)


def test_publishing_an_edit_rewrites_the_document(client, alpha):
    page = ServicePage.objects.get(title="Senior Meals")
    page.title = "Senior Lunches"
    page.description = "Hot lunches on weekdays."
    page.save_revision()  # a draft is not served
    _status, body = _get(client, alpha, f"/services/{page.hsds_id}")
    assert body["name"] == "Senior Meals"
    page.get_latest_revision().publish()
    _status, body = _get(client, alpha, f"/services/{page.hsds_id}")
    assert (body["name"], body["description"]) == ("Senior Lunches", "Hot lunches on weekdays.")
    assert_fresh(client, alpha)


def test_unpublished_and_deleted_services_are_not_served(client, alpha):
    meals = ServicePage.objects.get(title="Senior Meals")
    meals.unpublish()
    assert _get(client, alpha, f"/services/{meals.hsds_id}")[0] == 404
    pantry = ServicePage.objects.get(title="Weekly Food Pantry")
    pantry_id = pantry.hsds_id
    pantry.delete()
    assert _get(client, alpha, f"/services/{pantry_id}")[0] == 404
    served = _served(client, alpha)
    assert str(meals.hsds_id) not in served
    assert str(pantry_id) not in served
    assert_fresh(client, alpha)
    _publish(ServicePage.objects.get(pk=meals.pk))
    assert _get(client, alpha, f"/services/{meals.hsds_id}")[0] == 200


def test_an_unpublished_agency_takes_its_services_out(client, alpha):
    shelter = AgencyPage.objects.get(title="Waterfront Night Shelter")
    ids = [str(s.hsds_id) for s in ServicePage.objects.child_of(shelter)]
    assert len(ids) == 2
    shelter.unpublish()  # its services stay live pages, but are not published any more
    assert not set(ids) & set(_served(client, alpha))
    assert all(_get(client, alpha, f"/services/{i}")[0] == 404 for i in ids)
    assert_fresh(client, alpha)
    _publish(AgencyPage.objects.get(pk=shelter.pk))
    assert set(ids) <= set(_served(client, alpha))


def test_an_agency_edit_reaches_every_service_it_nests_in(client, alpha):
    shelter = AgencyPage.objects.get(title="Waterfront Night Shelter")
    shelter.title = "Waterfront Shelter"
    _publish(shelter)
    for service in ServicePage.objects.child_of(shelter):
        _status, body = _get(client, alpha, f"/services/{service.hsds_id}")
        assert body["organization"]["name"] == "Waterfront Shelter"
    assert_fresh(client, alpha)


def test_a_location_made_confidential_loses_its_address_in_every_document(client, alpha):
    agency = AgencyPage.objects.get(title="Harbor Community Services")
    service = ServicePage.objects.child_of(agency).first()
    street = "12 Harbor Lane"
    locations = list(agency.locations.all())
    for location in locations:
        location.address_1 = street
    agency.locations = locations
    _publish(agency)
    _status, before = _get(client, alpha, f"/services/{service.hsds_id}")
    assert before["organization"]["locations"][0]["addresses"][0]["address_1"] == street
    agency = AgencyPage.objects.get(pk=agency.pk)
    locations = list(agency.locations.all())
    for location in locations:
        location.address_confidential = True
    agency.locations = locations
    _publish(agency)
    _status, after = _get(client, alpha, f"/services/{service.hsds_id}")
    text = json.dumps(after) + json.dumps(_get(client, alpha, "/services", full="true")[1])
    assert street not in text
    assert after["organization"]["locations"][0]["address_confidential"] is True
    assert_fresh(client, alpha)


def test_a_moved_service_follows_its_new_agency(client, alpha):
    meals = ServicePage.objects.get(title="Senior Meals")
    harbor = AgencyPage.objects.get(title="Harbor Community Services")
    meals.move(harbor, pos="last-child")
    _status, body = _get(client, alpha, f"/services/{meals.hsds_id}")
    assert body["organization_id"] == str(harbor.hsds_id)
    assert_fresh(client, alpha)


def test_an_import_writes_and_updates_documents(client, db, tmp_path):
    tenant = tenant_make("Importers")
    tables = hsds_minimal()
    directory_import(network=tenant.network, dataset=read(hsds_write(tmp_path / "a", tables)))
    assert _get(client, tenant, f"/services/{SVC}")[1]["name"] == tables["services"][0]["name"]
    tables["services"][0]["name"] = "Grocery boxes (weekly)"
    directory_import(network=tenant.network, dataset=read(hsds_write(tmp_path / "b", tables)))
    assert _get(client, tenant, f"/services/{SVC}")[1]["name"] == "Grocery boxes (weekly)"
    assert_fresh(client, tenant)


def test_the_rebuild_command_touches_only_the_network_named(client, alpha, db):
    bravo = tenant_make("Bravo")
    directory_build(bravo.network, STANDARD[:1])
    ServiceDocument.objects.all().delete()
    call_command("hsds_documents_rebuild", "--network", bravo.network.slug, verbosity=0)
    assert ServiceDocument.objects.filter(network=alpha.network).count() == 0
    assert ServiceDocument.objects.filter(network=bravo.network).count() == 1
    call_command("hsds_documents_rebuild", verbosity=0)
    assert_fresh(client, alpha)
    assert_fresh(client, bravo)
    # The same service ids never reach the other network.
    assert not set(_served(client, alpha)) & set(_served(client, bravo))


def test_a_page_of_stored_services_costs_the_same_queries_for_more_rows(client, alpha):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert _get(client, alpha, "/services", full="true")[0] == 200
        return len(captured)

    few = queries()
    directory_build(
        alpha.network,
        [type(STANDARD[0])(f"Extra service {n}", "More.", agency="Extra") for n in range(6)],
    )
    assert queries() == few


def test_a_renamed_network_s_documents_follow_once_the_rename_commits(
    client, db, django_capture_on_commit_callbacks
):
    alpha = tenant_make("Alpha")
    directory_make(alpha)  # with the network's own service types

    def descriptions() -> set[str]:
        found = set()
        for document in ServiceDocument.objects.filter(network=alpha.network):
            for attribute in json.loads(document.full)["attributes"]:
                detail = attribute["taxonomy_term"]["taxonomy_detail"]
                if detail["name"] == "Service types":
                    found.add(detail["description"])
        return found

    assert descriptions() == {"Alpha Network: Service types"}
    network = alpha.network
    network.name, network.slug = "Alpha Valley Network", "alpha-valley"
    with django_capture_on_commit_callbacks(execute=True) as queued:
        network.save()
    assert len(renames(queued)) == 1
    assert descriptions() == {"Alpha Valley Network: Service types"}
    assert_fresh(client, alpha)
    # Saving it unchanged queues no rewrite (only the host→network generation's bump).
    with django_capture_on_commit_callbacks(execute=True) as queued:
        network.save()
    assert renames(queued) == []


def renames(queued: list[Callable[[], object]]) -> list[Callable[[], object]]:
    """The on-commit work of ``hsds_documents_network_renamed`` among ``queued``."""
    return [q for q in queued if q.__qualname__.startswith("hsds_documents_network_renamed.")]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="column compression is PostgreSQL's (TOAST)"
)
def test_documents_are_compressed_with_lz4_where_the_server_has_it(alpha):
    """The documents' JSON texts are written compressed with LZ4 (migration 0018), and read
    back whole."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
        if cursor.fetchone() is None:
            pytest.skip("this PostgreSQL server was built without LZ4")
        cursor.execute(
            "SELECT attname, attcompression FROM pg_attribute "
            "WHERE attrelid = 'directory_servicedocument'::regclass "
            "AND attname IN ('full', 'summary') ORDER BY attname"
        )
        assert cursor.fetchall() == [("full", "l"), ("summary", "l")]
        # A value long enough to be compressed (over TOAST's 2 kB threshold) says LZ4.
        document = ServiceDocument.objects.filter(network=alpha.network).first()
        long_text = json.dumps({"description": "a pantry open on weekdays " * 400})
        ServiceDocument.objects.filter(pk=document.pk).update(full=long_text)
        cursor.execute(
            'SELECT pg_column_compression("full") FROM directory_servicedocument '
            "WHERE service_id = %s",
            [document.pk],
        )
        assert cursor.fetchone() == ("lz4",)
    assert ServiceDocument.objects.get(pk=document.pk).full == long_text
