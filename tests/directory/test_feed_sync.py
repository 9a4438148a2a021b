"""Syncing a network's directory from an HSDS API feed: whole feeds only, nothing half-applied,
this feed's vanished listings unpublished (never another's), the API key sent and never shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from wagtail.models import Page

from directory import tasks
from directory.feeds import runs as feed_runs
from directory.feeds.services import feed_sync_request
from directory.feeds.sync import feed_sync_run
from directory.hsds.importing import directory_import
from directory.hsds.reading import read
from directory.models import (
    AgencyPage,
    DirectoryImport,
    DirectoryImportStatus,
    FeedListing,
    FeedRun,
    FeedRunStatus,
    FeedRunTrigger,
    HsdsFeed,
    ServicePage,
)
from tests.directory.factories import SVC, directory_counts, hsds_minimal, hsds_write
from tests.directory.feeds import FeedServer, feed_served, feed_service, ident
from tests.network.factories import Tenant

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def feed_make(tenant: Tenant, server: FeedServer, **values: object) -> HsdsFeed:
    return HsdsFeed.objects.create(
        network=tenant.network,
        name="County 211",
        url=server.url,
        api_key=server.api_key,
        per_page=values.pop("per_page", 4),
        **values,
    )


def sync(feed: HsdsFeed) -> FeedRun:
    run = FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.MANUAL)
    return feed_sync_run(run_id=run.pk)


def live_titles(tenant: Tenant) -> list[str]:
    root = tenant.network.root_page
    return sorted(ServicePage.objects.descendant_of(root).live().values_list("title", flat=True))


@pytest.mark.django_db
def test_a_feed_of_several_pages_is_imported_and_marked(tenant_a):
    services = [feed_service(n) for n in range(10)]
    with feed_served(FeedServer(services, api_key="s3cret-key")) as server:
        feed = feed_make(tenant_a, server)
        run = sync(feed)
    assert run.status == FeedRunStatus.DONE, run.summary
    assert (run.pages, run.services) == (3, 10)
    assert live_titles(tenant_a) == sorted(f"Service {n}" for n in range(10))
    # Every page asked with full services, the page size, and the key in its header.
    paths = {path for path, _ in server.requests}
    assert paths == {"/api/hsds/services"}
    assert all(headers.get("X-Api-Key") == "s3cret-key" for _, headers in server.requests)
    pages = FeedListing.objects.filter(feed=feed)
    assert pages.filter(page__in=ServicePage.objects.all()).count() == 10
    assert pages.filter(page__in=AgencyPage.objects.all()).count() == 4  # agencies 0..3
    assert "service: 10 created" in run.summary
    assert "s3cret-key" not in run.summary + str(run.problems) + str(run.warnings)


@pytest.mark.django_db
def test_a_second_sync_of_the_same_feed_changes_nothing(tenant_a):
    with feed_served(FeedServer([feed_service(n) for n in range(6)])) as server:
        feed = feed_make(tenant_a, server)
        sync(feed)
        before = directory_counts()
        again = sync(feed)
    assert again.status == FeedRunStatus.DONE
    assert again.summary == "Nothing changed."
    assert directory_counts() == before


@pytest.mark.django_db
def test_a_changed_service_is_updated(tenant_a):
    services = [feed_service(n) for n in range(3)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        sync(feed)
        services[1] = feed_service(1, name="Renamed service")
        run = sync(feed)
    assert run.status == FeedRunStatus.DONE
    assert "service: 0 created, 1 updated" in run.summary
    assert ServicePage.objects.get(hsds_id=ident("svc", 1)).title == "Renamed service"


@pytest.mark.django_db
def test_services_gone_from_the_feed_are_unpublished_and_only_those(tenant_a, tmp_path):
    # A listing imported from a file into the same network never came from the feed.
    directory_import(
        network=tenant_a.network, dataset=read(hsds_write(tmp_path / "p", hsds_minimal()))
    )
    services = [feed_service(n) for n in range(6)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        sync(feed)
        del services[4:]  # services 4 and 5 (agency 1's last, agency 2 whole) leave the feed
        run = sync(feed)
        assert run.status == FeedRunStatus.DONE, run.summary
        gone = {title for _, title in run.unpublished}
        assert gone == {"Service 4", "Service 5"}
        assert "2 listing(s) no longer in the feed were unpublished" in run.summary
        assert live_titles(tenant_a) == sorted(
            ["Grocery boxes", *(f"Service {n}" for n in range(4))]
        )
        assert ServicePage.objects.get(hsds_id=SVC).live  # the file's listing is untouched
        # A listing a person unpublished stays unpublished when it comes back; one the feed
        # unpublished is published again.
        ServicePage.objects.get(hsds_id=ident("svc", 0)).unpublish()
        services[:] = [feed_service(n) for n in range(6)]
        back = sync(feed)
    assert back.status == FeedRunStatus.DONE, back.summary
    assert {title for _, title in back.republished} == {"Service 4", "Service 5"}
    assert "Service 0" not in live_titles(tenant_a)
    assert {"Service 4", "Service 5"} <= set(live_titles(tenant_a))


@pytest.mark.django_db
def test_an_organization_gone_from_the_feed_is_unpublished_with_its_services(tenant_a):
    services = [feed_service(n) for n in range(6)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        sync(feed)
        del services[3:]  # agency 1 (services 3, 4, 5) leaves
        run = sync(feed)
    assert {title for _, title in run.unpublished} == {
        "Agency 1",
        "Service 3",
        "Service 4",
        "Service 5",
    }
    assert not AgencyPage.objects.get(hsds_id=ident("org", 1)).live


@pytest.mark.django_db
def test_a_feed_that_goes_down_mid_sync_changes_nothing(tenant_a, settings):
    settings.HSDS_FEED_RETRIES = 2
    services = [feed_service(n) for n in range(12)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        sync(feed)
        before = directory_counts()
        live_before = live_titles(tenant_a)
        services[0] = feed_service(0, name="Changed on page one")
        del services[5:]  # and services disappear, which would unpublish them
        services += [feed_service(n) for n in range(40, 45)]
        server.failures[2] = [503, 503, 503]  # page 2 never answers
        run = sync(feed)
    assert run.status == FeedRunStatus.FAILED
    assert "page 2 answered HTTP 503, 3 time(s)" in run.summary
    assert run.problems == [["", None, "", run.summary, "refused: nothing changed"]]
    page_two = [p for p, _ in server.requests[-4:]]
    assert len(page_two) == 4  # page 1 once, page 2 three times
    assert directory_counts() == before
    assert live_titles(tenant_a) == live_before
    assert ServicePage.objects.get(hsds_id=ident("svc", 0)).title == "Service 0"


@pytest.mark.django_db
def test_a_page_that_fails_once_is_tried_again(tenant_a):
    with feed_served(FeedServer([feed_service(n) for n in range(8)])) as server:
        server.failures[2] = [503]
        run = sync(feed_make(tenant_a, server))
    assert run.status == FeedRunStatus.DONE, run.summary
    assert run.services == 8


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>maintenance</html>", "Page 2 is not valid JSON"),
        (b'{"items": []}', "Page 2 is not an HSDS page"),
        (
            b'{"total_items": 8, "total_pages": 2, "page_number": 1, "contents": []}',
            "Page 2 came back as page 1",
        ),
        (
            b'{"total_items": 9, "total_pages": 2, "page_number": 2, "contents": []}',
            "The feed changed while it was read",
        ),
    ],
)
def test_a_malformed_page_changes_nothing(tenant_a, body, reason):
    services = [feed_service(n) for n in range(8)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        server.broken[2] = body
        run = sync(feed)
    assert run.status == FeedRunStatus.FAILED
    assert reason in run.summary
    assert not ServicePage.objects.descendant_of(tenant_a.network.root_page).exists()


@pytest.mark.django_db
def test_pages_that_hold_fewer_services_than_announced_change_nothing(tenant_a):
    services = [feed_service(n) for n in range(8)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        server.broken[2] = (
            b'{"total_items": 8, "total_pages": 2, "page_number": 2, "last_page": true,'
            b' "contents": []}'
        )
        run = sync(feed)
    assert run.status == FeedRunStatus.FAILED
    assert "announced 8 services but its pages held 4" in run.summary


@pytest.mark.django_db
def test_invalid_services_are_left_out_and_reported_and_the_rest_is_imported(tenant_a):
    services = [feed_service(n) for n in range(6)]
    services[5]["name"] = ""
    services[5]["status"] = "closed-for-ever"
    with feed_served(FeedServer(services)) as server:
        run = sync(feed_make(tenant_a, server))
    assert run.status == FeedRunStatus.DONE, run.summary
    assert live_titles(tenant_a) == sorted(f"Service {n}" for n in range(5))
    assert not ServicePage.objects.filter(hsds_id=ident("svc", 5)).exists()
    # Where each problem is (page 2, its second service), and what was done about it.
    lines = {(file, row, name, action) for file, row, name, _problem, action in run.findings}
    assert ("page 2 $[1]", 2, "name", "record skipped") in lines
    assert ("page 2 $[1]", 2, "status", "record skipped") in lines
    # Its parts go with it: the place it is offered at and its phone.
    parts = [(name, problem, action) for _f, _r, name, problem, action in run.findings[2:]]
    assert parts == [
        ("service_id", "its service (page 2 row 2) was skipped", "row dropped"),
        ("service_id", "its service (page 2 row 2) was skipped", "row dropped"),
    ]
    assert (run.skipped, run.repaired) == (4, 0)
    assert run.problems == []
    assert "4 problem(s) left a record or part of one out; 0 safe repair(s)" in run.summary


@pytest.mark.django_db
def test_safe_repairs_are_made_and_reported(tenant_a):
    services = [feed_service(n) for n in range(3)]
    location = services[0]["service_at_locations"][0]["location"]
    location["latitude"], location["longitude"] = 0, 0
    with feed_served(FeedServer(services)) as server:
        run = sync(feed_make(tenant_a, server))
    assert run.status == FeedRunStatus.DONE, run.summary
    assert len(live_titles(tenant_a)) == 3
    assert (run.skipped, run.repaired) == (0, 1)
    [(_file, _row, name, problem, action)] = run.findings
    assert (name, problem) == ("latitude", "0,0 is not a place")
    assert action == "coordinates dropped; the location is placed from its address"


@pytest.mark.django_db
def test_a_listing_the_feed_still_lists_is_kept_when_its_copy_is_invalid(tenant_a):
    services = [feed_service(n) for n in range(6)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        sync(feed)
        services[1]["name"] = ""  # still listed, but invalid this time
        for n in (3, 4, 5):  # agency 1 is invalid: all of its services are left out with it
            services[n]["organization"]["description"] = ""
        del services[2]  # and service 2 has really gone
        run = sync(feed)
        assert run.status == FeedRunStatus.DONE, run.summary
        assert {title for _, title in run.unpublished} == {"Service 2"}
        assert live_titles(tenant_a) == [
            "Service 0",
            "Service 1",
            "Service 3",
            "Service 4",
            "Service 5",
        ]
        assert AgencyPage.objects.get(hsds_id=ident("org", 1)).live
        assert FeedListing.objects.filter(feed=feed, last_seen_run=run).count() == 7
        # Left out again while the feed had unpublished it: it stays unpublished until a valid
        # copy comes back.
        services.insert(2, {**feed_service(2), "name": ""})
        again = sync(feed)
        assert again.republished == []
        assert "Service 2" not in live_titles(tenant_a)
        services[:] = [feed_service(n) for n in range(6)]
        valid = sync(feed)
    assert {title for _, title in valid.republished} == {"Service 2"}
    assert live_titles(tenant_a) == sorted(f"Service {n}" for n in range(6))
    assert (valid.skipped, valid.findings) == (0, [])


@pytest.mark.django_db
def test_a_feed_that_cannot_be_read_as_a_whole_changes_nothing(tenant_a):
    services = [feed_service(n) for n in range(6)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        server.broken[2] = json.dumps(
            {**server.page(2, 4), "contents": ["not an object", 42]}
        ).encode()
        run = sync(feed)
    assert run.status == FeedRunStatus.FAILED
    assert run.summary.endswith("problem(s) found in the feed; nothing was changed.")
    assert ["page 2", None, "", "no HSDS objects in the file", "refused: nothing changed"] in (
        run.problems
    )
    assert not ServicePage.objects.descendant_of(tenant_a.network.root_page).exists()


@pytest.mark.django_db
def test_an_empty_feed_unpublishes_nothing(tenant_a):
    services = [feed_service(n) for n in range(3)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        sync(feed)
        services.clear()
        run = sync(feed)
    assert run.status == FeedRunStatus.FAILED
    assert "lists no services" in run.summary
    assert len(live_titles(tenant_a)) == 3


@pytest.mark.django_db
def test_a_wrong_api_key_fails_without_showing_the_key(tenant_a):
    with feed_served(FeedServer([feed_service(0)], api_key="the-right-key")) as server:
        feed = feed_make(tenant_a, server)
        feed.api_key = "a-wrong-key"
        feed.save()
        run = sync(feed)
    assert run.status == FeedRunStatus.FAILED
    assert run.summary == "Page 1 answered HTTP 401 (check the API key)."
    assert "a-wrong-key" not in str(run.problems)


@pytest.mark.django_db
def test_the_key_goes_in_the_header_the_feed_names(tenant_a):
    server = FeedServer([feed_service(0)], api_key="k", api_key_header="Authorization")
    with feed_served(server):
        feed = feed_make(tenant_a, server, api_key_header="Authorization")
        run = sync(feed)
    assert run.status == FeedRunStatus.DONE, run.summary


@pytest.mark.django_db
@override_settings(HSDS_FEED_ALLOW_PRIVATE_ADDRESSES=False)
def test_a_feed_on_a_private_address_is_refused(tenant_a):
    with feed_served(FeedServer([feed_service(0)])) as server:
        run = sync(feed_make(tenant_a, server))
    assert run.status == FeedRunStatus.FAILED
    assert "private network" in run.summary
    assert server.requests == []


@pytest.mark.django_db
def test_another_network_is_never_touched(tenant_a, tenant_b):
    # Both networks follow feeds with the same HSDS ids: each keeps its own listings.
    services = [feed_service(n) for n in range(4)]
    with feed_served(FeedServer(services)) as server:
        feed_b = feed_make(tenant_b, server)
        sync(feed_b)
        feed_a = HsdsFeed.objects.create(network=tenant_a.network, name="A", url=server.url)
        sync(feed_a)
        del services[2:]
        run = sync(feed_a)
    assert {title for _, title in run.unpublished} == {"Service 2", "Service 3", "Agency 1"}
    assert len(live_titles(tenant_b)) == 4
    assert len(live_titles(tenant_a)) == 2
    b_pages = Page.objects.descendant_of(tenant_b.network.root_page)
    assert set(FeedListing.objects.filter(page__in=b_pages).values_list("feed", flat=True)) == {
        feed_b.pk
    }


@pytest.mark.django_db
def test_sync_now_queues_one_run_at_a_time_for_the_networks_admins(
    tenant_a, tenant_b, django_capture_on_commit_callbacks
):
    admin = tenant_a.users["network_admin"]
    with feed_served(FeedServer([feed_service(0)])) as server:
        feed = feed_make(tenant_a, server)
        with django_capture_on_commit_callbacks(execute=True):  # the task runs after commit
            run = feed_sync_request(feed=feed, by=admin, now=datetime.now(UTC))
    run.refresh_from_db()
    assert run.status == FeedRunStatus.DONE
    assert run.requested_by == admin
    FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.SCHEDULE)
    with pytest.raises(feed_runs.SyncRunning):
        feed_sync_request(feed=feed, by=admin, now=datetime.now(UTC))
    for role in ("network_admin", "agency_admin", "clinic_staff"):
        user = tenant_b.users[role] if role == "network_admin" else tenant_a.users[role]
        with pytest.raises(PermissionDenied):
            feed_sync_request(feed=feed, by=user, now=datetime.now(UTC))


@pytest.mark.django_db
def test_the_schedule_syncs_the_feeds_that_are_due(tenant_a):
    with feed_served(FeedServer([feed_service(0)])) as server:
        due = feed_make(tenant_a, server, sync_every_hours=6)
        manual = HsdsFeed.objects.create(
            network=tenant_a.network, name="Manual", url=server.url + "x/", sync_every_hours=0
        )
        paused = HsdsFeed.objects.create(
            network=tenant_a.network, name="Paused", url=server.url + "y/", active=False
        )
        with time_machine.travel(NOW, tick=False):
            assert tasks.hsds_feeds_sync_due() == 1
            assert tasks.hsds_feeds_sync_due() == 0  # next one in six hours
        due.refresh_from_db()
        assert due.next_sync_at == NOW + timedelta(hours=6)
        with time_machine.travel(NOW + timedelta(hours=6), tick=False):
            assert tasks.hsds_feeds_sync_due() == 1
    assert not manual.runs.exists()
    assert not paused.runs.exists()
    assert list(due.runs.values_list("status", flat=True)) == ["done", "done"]


@pytest.mark.django_db
def test_a_sync_unfinished_for_too_long_no_longer_blocks_the_next(tenant_a, settings):
    with feed_served(FeedServer([feed_service(0)])) as server:
        feed = feed_make(tenant_a, server)
    stuck = FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.SCHEDULE)
    later = stuck.created_at + timedelta(minutes=settings.HSDS_FEED_STALE_MINUTES - 1)
    with pytest.raises(feed_runs.SyncRunning):
        feed_runs.feed_run_create(feed=feed, trigger=FeedRunTrigger.MANUAL, by=None, now=later)
    stale = stuck.created_at + timedelta(minutes=settings.HSDS_FEED_STALE_MINUTES + 1)
    run = feed_runs.feed_run_create(feed=feed, trigger=FeedRunTrigger.MANUAL, by=None, now=stale)
    assert run.pk != stuck.pk


@pytest.mark.django_db
def test_imports_and_syncs_whose_worker_was_lost_are_marked_failed(tenant_a, settings):
    """Every ten minutes beat asks: a job still queued or running past its stale time had its
    worker die under it (its transaction went too); it is marked failed, with the reason, instead
    of showing "running" forever. Younger and finished jobs are left alone."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.HSDS_IMPORT_STALE_MINUTES, settings.HSDS_FEED_STALE_MINUTES = 30, 60
    with feed_served(FeedServer([feed_service(0)])) as server:
        feed = feed_make(tenant_a, server)
    sync = FeedRun.objects.create(feed=feed, trigger="schedule", status=FeedRunStatus.RUNNING)

    def job(name: str, status: str) -> DirectoryImport:
        return DirectoryImport.objects.create(
            network=tenant_a.network,
            original_name=name,
            upload=SimpleUploadedFile(name, b"x"),
            status=status,
        )

    running, queued, done, younger = (
        job("running.zip", DirectoryImportStatus.RUNNING),
        job("queued.zip", DirectoryImportStatus.QUEUED),
        job("done.zip", DirectoryImportStatus.DONE),
        job("younger.zip", DirectoryImportStatus.RUNNING),
    )
    start = sync.created_at
    for made in (sync, running, queued, done):
        type(made).objects.filter(pk=made.pk).update(created_at=start)
    DirectoryImport.objects.filter(pk=younger.pk).update(created_at=start + timedelta(minutes=20))
    assert "directory.tasks.jobs_abandoned_close" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }

    def statuses() -> list[str]:
        jobs = DirectoryImport.objects.order_by("original_name")
        return [sync.status] + [j.status for j in jobs]

    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert tasks.jobs_abandoned_close() == 0
    at = start + timedelta(minutes=31)
    with time_machine.travel(at, tick=False):
        assert tasks.jobs_abandoned_close() == 2
    sync.refresh_from_db()
    # done, queued, running, younger (by name); the sync first
    assert statuses() == ["running", "done", "failed", "failed", "running"]
    lost = DirectoryImport.objects.get(pk=running.pk)
    assert lost.finished_at == at
    assert "the process running it was lost" in lost.summary
    assert "upload the file again" in lost.summary
    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        assert tasks.jobs_abandoned_close() == 2  # the sync, and the younger import
    sync.refresh_from_db()
    assert statuses() == ["failed", "done", "failed", "failed", "failed"]
    assert "Nothing was changed" in sync.summary
