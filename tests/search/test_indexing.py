"""Every change to a listing reaches the index after the transaction commits, through a task."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from demo.networks import directory_dataset
from directory import services as directory_services
from directory.hsds import importing as directory_importing
from directory.models import Location, ServiceAtLocation, ServicePage
from network import services as network_services
from search.models import SearchDocument, SearchTag, SearchTerm
from tests.directory.factories import NOW, STANDARD, directory_build
from tests.search.recording_backend import SearchBackend as Recording

WITH_RECORDING = override_settings(
    HANDOFF_SEARCH_BACKENDS={
        "default": {"BACKEND": "search.backends.database"},
        "copy": {"BACKEND": "tests.search.recording_backend"},
    }
)


def documents(service: ServicePage) -> list[SearchDocument]:
    return list(SearchDocument.objects.filter(service=service).order_by("key"))


@pytest.fixture
def pantry(tenant_a) -> ServicePage:
    return directory_build(tenant_a.network, STANDARD[:1])["Weekly Food Pantry"]


@pytest.mark.django_db
def test_publishing_reaches_the_index_only_after_commit(pantry, django_capture_on_commit_callbacks):
    pantry.title = "Weekly Food Pantry and Produce"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pantry.save_revision().publish()
        assert documents(pantry)[0].service_name == "Weekly Food Pantry"
    assert callbacks  # the refresh is queued for after the commit
    for callback in callbacks:
        callback()
    assert documents(pantry)[0].service_name == "Weekly Food Pantry and Produce"


@pytest.mark.django_db
def test_unpublishing_a_service_or_its_agency_removes_it(
    tenant_a, pantry, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        pantry.unpublish()
    assert documents(pantry) == []
    with django_capture_on_commit_callbacks(execute=True):
        pantry.save_revision().publish()
    assert len(documents(pantry)) == 1
    agency = pantry.get_parent()
    with django_capture_on_commit_callbacks(execute=True):
        agency.unpublish()
    assert documents(pantry) == []


@pytest.mark.django_db
def test_capacity_change_is_indexed(tenant_a, pantry, django_capture_on_commit_callbacks):
    admin = tenant_a.users["network_admin"]
    with django_capture_on_commit_callbacks(execute=True):
        directory_services.capacity_update(service=pantry, status="waitlist", by=admin)
    assert documents(pantry)[0].capacity == "waitlist"
    assert SearchTag.objects.filter(document__service=pantry, kind="capacity").get().value == (
        "waitlist"
    )


@pytest.mark.django_db
def test_confirming_a_listing_refreshes_its_freshness(
    tenant_a, pantry, django_capture_on_commit_callbacks
):
    before = documents(pantry)[0].verified_at
    with django_capture_on_commit_callbacks(execute=True):
        directory_services.listing_confirm(
            page=pantry.get_parent().specific, by=tenant_a.users["agency_admin"]
        )
    assert documents(pantry)[0].verified_at > before


@pytest.mark.django_db
def test_a_geocoded_location_gets_its_point(tenant_a, pantry, django_capture_on_commit_callbacks):
    agency = pantry.get_parent().specific
    location = Location.objects.create(
        page=agency, name="Annex", address_1="1 F St", city="Eureka", postal_code="95501"
    )
    ServiceAtLocation.objects.create(page=pantry, location=location)
    with django_capture_on_commit_callbacks(execute=True):
        directory_services.location_points_refresh(locations=[location])
    annex = SearchDocument.objects.get(service=pantry, location=location)
    assert annex.latitude == pytest.approx(40.80, abs=0.1)
    assert annex.longitude == pytest.approx(-124.16, abs=0.1)


@pytest.mark.django_db
def test_an_agency_switched_off_leaves_search(tenant_a, pantry, django_capture_on_commit_callbacks):
    organization = pantry.get_parent().specific.organization
    with django_capture_on_commit_callbacks(execute=True):
        network_services.organization_update(organization=organization, is_active=False)
    assert documents(pantry) == []


@pytest.mark.django_db
def test_renaming_a_service_type_reindexes_its_services(
    tenant_a, django_capture_on_commit_callbacks
):
    from tests.directory.factories import service_types_make

    service_types_make(tenant_a.network)
    pantry = directory_build(tenant_a.network, STANDARD[:1])["Weekly Food Pantry"]
    term = pantry.service_types.get()
    term.name = "Grocery shelf"
    with django_capture_on_commit_callbacks(execute=True):
        term.save()
    assert "Grocery shelf" in SearchDocument.objects.get(service=pantry).names


@pytest.mark.django_db
@WITH_RECORDING
def test_other_backends_get_copies_and_deletions(
    tenant_a, pantry, django_capture_on_commit_callbacks
):
    Recording.reset()
    with django_capture_on_commit_callbacks(execute=True):
        directory_services.capacity_update(
            service=pantry, status="waitlist", by=tenant_a.users["network_admin"]
        )
    assert Recording.indexed == [documents(pantry)[0].key]
    key = documents(pantry)[0].key
    with django_capture_on_commit_callbacks(execute=True):
        pantry.delete()
    assert SearchDocument.objects.filter(key=key).count() == 0
    assert Recording.deleted == [key]


@pytest.mark.django_db
@WITH_RECORDING
def test_an_outage_of_another_backend_keeps_the_database_index_current(tenant_a, pantry):
    from search import services as search_services
    from search import tasks
    from search.backends import SearchBackendUnavailable

    Recording.reset(down=True)
    directory_services.capacity_update(
        service=pantry, status="not-accepting", by=tenant_a.users["network_admin"]
    )
    search_services.search_documents_refresh(service_ids=[pantry.pk])
    assert documents(pantry)[0].capacity == "not-accepting"
    with pytest.raises(SearchBackendUnavailable):
        search_services.search_documents_push(service_ids=[pantry.pk], removed_keys=[])
    # The push task retries with backoff until the backend is back.
    assert SearchBackendUnavailable in tasks.search_documents_push.autoretry_for
    Recording.reset()
    search_services.search_documents_push(service_ids=[pantry.pk], removed_keys=[])
    assert Recording.indexed == [documents(pantry)[0].key]


@pytest.mark.django_db
def test_import_indexes_the_directory_and_its_vocabulary(
    tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        directory_importing.directory_import(
            network=tenant_a.network, dataset=directory_dataset("del-norte")
        )
    assert SearchDocument.objects.filter(network=tenant_a.network).count() == 17
    assert SearchTerm.objects.filter(network=tenant_a.network, word="pantry").exists()


@pytest.mark.django_db
def test_search_reindex_rebuilds_with_progress(tenant_a, tenant_b, pantry):
    SearchDocument.objects.all().delete()
    out = StringIO()
    call_command("search_reindex", stdout=out)
    assert SearchDocument.objects.filter(service=pantry).count() == 1
    text = out.getvalue()
    assert f"{tenant_a.network.slug}: services [{'#' * 40}] 1/1" in text
    assert f"{tenant_a.network.slug}: 1 documents in the database index" in text
    assert "Search index rebuilt." in text
    with pytest.raises(CommandError, match="No network with slug 'nowhere'"):
        call_command("search_reindex", network="nowhere", stdout=StringIO())


@pytest.mark.django_db
@WITH_RECORDING
def test_search_reindex_of_one_network_sends_every_network_to_a_shared_index(
    tenant_a, tenant_b, pantry
):
    theirs = directory_build(tenant_b.network, STANDARD[1:2])["Emergency Rental Assistance"]
    Recording.reset()
    call_command("search_reindex", network=tenant_a.network.slug, stdout=StringIO())
    assert sorted(Recording.indexed) == sorted([documents(pantry)[0].key, documents(theirs)[0].key])


@pytest.mark.django_db
def test_a_refresh_between_ranking_and_reading_the_page_loses_no_hit(tenant_a, pantry):
    """The page is ranked in one statement and its documents read in a second; a refresh of
    a service on the page may commit in between (it writes its rows afresh). The hit is still
    on the page, as the refresh wrote it."""
    from search import services as search_services
    from search.backends.database import SearchBackend as Database
    from search.query import SearchQuery

    ranked = Database._evaluate

    def refreshed_meanwhile(*args, **kwargs):
        found = ranked(*args, **kwargs)
        directory_services.capacity_update(
            service=pantry, status="waitlist", by=tenant_a.users["network_admin"]
        )
        search_services.search_documents_refresh(service_ids=[pantry.pk])
        return found

    before = documents(pantry)[0].pk
    backend = Database({})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Database, "_evaluate", staticmethod(refreshed_meanwhile))
        results = backend.search(SearchQuery(text="pantry"), network=tenant_a.network, now=NOW)
    assert documents(pantry)[0].pk != before  # the rows were written afresh
    assert results.total == 1
    assert [(hit.service_name, hit.capacity) for hit in results.hits] == [
        ("Weekly Food Pantry", "waitlist")
    ]


@pytest.mark.django_db
def test_a_refresh_that_meets_a_database_outage_runs_again(tenant_a, pantry):
    """A refresh is queued once, when the change commits; if the database is unreachable when
    a worker runs it, it is retried (with backoff) rather than dropped."""
    from django.db import OperationalError

    from search import services as search_services
    from search import tasks

    real = search_services.search_documents_refresh
    calls: list[list[int]] = []

    def down_once(*, service_ids):
        calls.append(list(service_ids))
        if len(calls) == 1:
            raise OperationalError("connection failed: the server is starting up")
        return real(service_ids=service_ids)

    SearchDocument.objects.filter(service=pantry).delete()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search_services, "search_documents_refresh", down_once)
        # (throw=False: an eager retry runs the task again at once, as a worker would later.)
        outcome = tasks.search_documents_refresh.apply(args=[[pantry.pk]], throw=False)
    assert calls == [[pantry.pk], [pantry.pk]]
    assert outcome.successful()
    assert outcome.result == 1
    assert len(documents(pantry)) == 1
