"""HSDS feeds in the Wagtail admin: the network's admins only, another network's feeds not found,
the API key never shown back, "Sync now", the syncs and their CSV reports, the listing's mark."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from directory.feeds.sync import feed_sync_run
from directory.models import (
    FeedListing,
    FeedRun,
    FeedRunStatus,
    FeedRunTrigger,
    HsdsFeed,
    ServicePage,
)
from tests.directory.feeds import FeedServer, feed_served, feed_service, ident
from tests.network.factories import Tenant

pytestmark = pytest.mark.django_db

KEY = "k3y-never-shown"


def snippet_url(action: str, *args: object) -> str:
    return reverse(f"wagtailsnippets_directory_hsdsfeed:{action}", args=args)


def feed_make(
    tenant: Tenant, name: str = "County 211", url: str = "https://211.example.org/api/hsds/"
) -> HsdsFeed:
    return HsdsFeed.objects.create(network=tenant.network, name=name, url=url, api_key=KEY)


def run_make(feed: HsdsFeed) -> FeedRun:
    return FeedRun.objects.create(
        feed=feed,
        trigger=FeedRunTrigger.SCHEDULE,
        status=FeedRunStatus.FAILED,
        summary="1 problem(s) found in the feed; nothing was changed.",
        problems=[["page 2", 3, "name", "=required", "refused: nothing changed"]],
        findings=[["page 1 $[0]", 1, "email", "Secret finding", "record skipped"]],
        skipped=1,
        unpublished=[[42, "Old service"]],
    )


def test_admins_list_and_open_only_their_networks_feeds(client, tenant_a, tenant_b):
    ours, theirs = feed_make(tenant_a, "Ours"), feed_make(tenant_b, "Theirs")
    their_run = run_make(theirs)
    client.force_login(tenant_a.users["network_admin"])
    body = client.get(snippet_url("list")).content.decode()
    assert "Ours" in body
    assert "Theirs" not in body
    assert reverse("directory_admin:feed_runs", args=[ours.pk]) in body
    assert client.get(snippet_url("edit", ours.pk)).status_code == 200
    for url in (
        snippet_url("edit", theirs.pk),
        snippet_url("delete", theirs.pk),
        reverse("directory_admin:feed_runs", args=[theirs.pk]),
        reverse("directory_admin:feed_run", args=[their_run.pk]),
        reverse("directory_admin:feed_run_report", args=[their_run.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Secret finding" not in response.content
    assert (
        client.post(reverse("directory_admin:feed_sync_now", args=[theirs.pk])).status_code == 404
    )
    assert not theirs.runs.exclude(pk=their_run.pk).exists()


@pytest.mark.parametrize("role", ["agency_admin", "agency_staff", "clinic_admin", "clinic_staff"])
def test_other_roles_reach_no_feed(client, tenant_a, role):
    feed = feed_make(tenant_a)
    run = run_make(feed)
    client.force_login(tenant_a.users[role])
    for url in (
        snippet_url("list"),
        snippet_url("edit", feed.pk),
        reverse("directory_admin:feed_runs", args=[feed.pk]),
        reverse("directory_admin:feed_run", args=[run.pk]),
        reverse("directory_admin:feed_run_report", args=[run.pk]),
    ):
        response = client.get(url)
        assert response.status_code in {302, 403, 404}, (url, response.status_code)
        assert KEY.encode() not in response.content
        assert b"Old service" not in response.content
        assert b"Secret finding" not in response.content
    client.post(reverse("directory_admin:feed_sync_now", args=[feed.pk]))
    assert feed.runs.count() == 1


def test_the_api_key_is_set_kept_and_cleared_but_never_shown(client, tenant_a, tenant_b):
    client.force_login(tenant_a.users["network_admin"])
    form = {
        "network": tenant_a.network.pk,
        "name": "County 211",
        "url": "https://211.example.org/api/hsds/",
        "new_api_key": KEY,
        "api_key_header": "X-Api-Key",
        "per_page": "100",
        "sync_every_hours": "24",
        "active": "on",
    }
    response = client.post(snippet_url("add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    feed = HsdsFeed.objects.get()
    assert (feed.api_key, feed.network, feed.created_by) == (
        KEY,
        tenant_a.network,
        tenant_a.users["network_admin"],
    )
    page = client.get(snippet_url("edit", feed.pk)).content.decode()
    assert KEY not in page
    assert "A key is set (not shown)" in page
    assert 'type="password" name="new_api_key"' in page
    assert 'name="api_key"' not in page
    client.post(snippet_url("edit", feed.pk), {**form, "new_api_key": "", "name": "Renamed"})
    feed.refresh_from_db()
    assert (feed.name, feed.api_key) == ("Renamed", KEY)
    client.post(snippet_url("edit", feed.pk), {**form, "new_api_key": "", "api_key_clear": "on"})
    feed.refresh_from_db()
    assert feed.api_key == ""
    # Another network cannot be chosen; bad values are form errors, not server errors.
    bad = client.post(
        snippet_url("add"),
        {
            **form,
            "network": tenant_b.network.pk,
            "url": "ftp://x",
            "per_page": "0",
            "api_key_header": "X Api: Key",
        },
    )
    assert bad.status_code == 200
    errors = bad.context["form"].errors
    assert set(errors) >= {"network", "url", "per_page", "api_key_header"}
    assert HsdsFeed.objects.count() == 1


def test_sync_now_runs_the_sync_and_the_report_downloads(
    client, tenant_a, django_capture_on_commit_callbacks
):
    client.force_login(tenant_a.users["network_admin"])
    with feed_served(FeedServer([feed_service(n) for n in range(3)], api_key=KEY)) as server:
        feed = HsdsFeed.objects.create(
            network=tenant_a.network, name="Live", url=server.url, api_key=KEY
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("directory_admin:feed_sync_now", args=[feed.pk]))
    assert response.status_code == 302
    run = feed.runs.get()
    assert run.status == FeedRunStatus.DONE, run.summary
    assert run.requested_by == tenant_a.users["network_admin"]
    runs_page = client.get(reverse("directory_admin:feed_runs", args=[feed.pk])).content.decode()
    assert "Synced" in runs_page
    assert reverse("directory_admin:feed_run_report", args=[run.pk]) in runs_page
    assert KEY not in runs_page
    detail = client.get(reverse("directory_admin:feed_run", args=[run.pk])).content.decode()
    assert "service: 3 created" in detail


def test_the_report_lists_problems_and_unpublished_listings_as_csv(client, tenant_a):
    run = run_make(feed_make(tenant_a))
    client.force_login(tenant_a.users["network_admin"])
    response = client.get(reverse("directory_admin:feed_run_report", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["file", "row", "field", "problem", "what was done"],
        ["page 2", "3", "name", "'=required", "refused: nothing changed"],
        ["page 1 $[0]", "1", "email", "Secret finding", "record skipped"],
        ["", "", "", "Old service (page 42)", "unpublished: no longer in the feed"],
    ]


def test_the_feed_list_costs_the_same_queries_for_more_feeds(client, tenant_a):
    client.force_login(tenant_a.users["network_admin"])

    def cost() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(snippet_url("list")).status_code == 200
        return len(captured.captured_queries)

    run_make(feed_make(tenant_a, "One", "https://one.example.org/"))
    few = cost()
    for n in range(5):
        run_make(feed_make(tenant_a, f"More {n}", f"https://more{n}.example.org/"))
    assert cost() == few


def test_the_runs_page_costs_the_same_queries_for_more_runs(client, tenant_a):
    feed = feed_make(tenant_a)
    client.force_login(tenant_a.users["network_admin"])
    url = reverse("directory_admin:feed_runs", args=[feed.pk])
    run_make(feed)

    def cost() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    few = cost()
    for _ in range(5):
        FeedRun.objects.create(
            feed=feed, trigger=FeedRunTrigger.MANUAL, requested_by=tenant_a.users["network_admin"]
        )
    assert cost() == few


def test_a_listing_from_a_feed_says_so_in_the_editor_and_on_its_page(client, tenant_a):
    with feed_served(FeedServer([feed_service(0)])) as server:
        feed = HsdsFeed.objects.create(network=tenant_a.network, name="County 211", url=server.url)
        run = FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.MANUAL)
        assert feed_sync_run(run_id=run.pk).status == FeedRunStatus.DONE
    service = ServicePage.objects.get(hsds_id=ident("svc", 0))
    client.force_login(tenant_a.users["network_admin"])
    editor = client.get(reverse("wagtailadmin_pages:edit", args=[service.pk])).content.decode()
    assert "This listing comes from the feed “County 211”" in editor


def test_the_public_pages_name_the_feed_a_listing_comes_from(client, tenant_a):
    with feed_served(FeedServer([feed_service(0), feed_service(1)])) as server:
        feed = HsdsFeed.objects.create(network=tenant_a.network, name="County 211", url=server.url)
        run = FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.MANUAL)
        assert feed_sync_run(run_id=run.pk).status == FeedRunStatus.DONE
    service = ServicePage.objects.get(hsds_id=ident("svc", 0))
    site = tenant_a.network.site
    for page in (service, service.get_parent()):
        body = client.get(page.get_url(), HTTP_HOST=site.hostname).content.decode()
        assert "This listing comes from County 211." in body


def test_a_sync_leaves_invalid_records_out_and_its_report_counts_and_lists_them(
    client, tenant_a, tenant_b
):
    services = [feed_service(n) for n in range(6)]
    services[5]["name"], services[5]["status"] = "", "closed-for-ever"
    location = services[0]["service_at_locations"][0]["location"]
    location["latitude"], location["longitude"] = 0, 0
    with feed_served(FeedServer(services)) as server:
        feed = HsdsFeed.objects.create(
            network=tenant_a.network, name="County 211", url=server.url, per_page=4
        )
        run = FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.MANUAL)
        run = feed_sync_run(run_id=run.pk)
    assert run.status == FeedRunStatus.DONE, run.summary
    assert (run.skipped, run.repaired) == (4, 1)
    client.force_login(tenant_a.users["network_admin"])
    runs_page = client.get(reverse("directory_admin:feed_runs", args=[feed.pk])).content.decode()
    assert "Left out" in runs_page
    assert "<td>4</td><td>1</td>" in runs_page
    detail = client.get(reverse("directory_admin:feed_run", args=[run.pk])).content.decode()
    assert "4 problems left a record or part of one out;" in detail
    assert "1 safe repair made." in detail
    assert "closed-for-ever" in detail
    response = client.get(reverse("directory_admin:feed_run_report", args=[run.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["file", "row", "field", "problem", "what was done"]
    actions = [row[4] for row in rows[1:]]
    assert actions.count("record skipped") == 2
    assert actions.count("row dropped") == 2
    assert "coordinates dropped; the location is placed from its address" in actions
    # Another network's admin reaches neither the run nor its report.
    client.force_login(tenant_b.users["network_admin"])
    for name in ("directory_admin:feed_run", "directory_admin:feed_run_report"):
        response = client.get(reverse(name, args=[run.pk]))
        assert response.status_code == 404
        assert b"closed-for-ever" not in response.content


def test_deleting_a_feed_keeps_its_listings_and_removes_their_mark(client, tenant_a, tenant_b):
    services = [feed_service(n) for n in range(3)]
    with feed_served(FeedServer(services)) as server:
        feed = HsdsFeed.objects.create(network=tenant_a.network, name="County 211", url=server.url)
        assert (
            feed_sync_run(
                run_id=FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.MANUAL).pk
            ).status
            == FeedRunStatus.DONE
        )
        del services[2]
        gone = feed_sync_run(
            run_id=FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.MANUAL).pk
        )
    assert {title for _, title in gone.unpublished} == {"Service 2"}
    kept = ServicePage.objects.get(hsds_id=ident("svc", 0))
    # Another network's admin can neither see the confirmation nor delete.
    client.force_login(tenant_b.users["network_admin"])
    assert client.get(snippet_url("delete", feed.pk)).status_code == 404
    assert client.post(snippet_url("delete", feed.pk)).status_code == 404
    assert HsdsFeed.objects.filter(pk=feed.pk).exists()
    client.force_login(tenant_a.users["network_admin"])
    confirm = client.get(snippet_url("delete", feed.pk)).content.decode()
    assert "The listings that came from it stay in the directory as they are" in confirm
    assert client.post(snippet_url("delete", feed.pk)).status_code == 302
    assert not HsdsFeed.objects.filter(pk=feed.pk).exists()
    assert not FeedRun.objects.filter(feed_id=feed.pk).exists()
    assert not FeedListing.objects.exists()
    root = tenant_a.network.root_page
    pages = ServicePage.objects.descendant_of(root)
    assert sorted(pages.live().values_list("title", flat=True)) == ["Service 0", "Service 1"]
    assert not pages.get(hsds_id=ident("svc", 2)).live  # the feed's unpublishing stays
    editor = client.get(reverse("wagtailadmin_pages:edit", args=[kept.pk])).content.decode()
    assert "This listing comes from" not in editor
    site = tenant_a.network.site
    public = client.get(kept.get_url(), HTTP_HOST=site.hostname).content.decode()
    assert "Service 0" in public
    assert "This listing comes from" not in public
