"""The feed sync against a live server of this project: another network's directory read through
the real ``/api/hsds/`` and synced into this network, whole or (a page failing) not at all."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from wagtail.models import Site

from directory.feeds.sync import feed_sync_run
from directory.hsds.importing import directory_import
from directory.hsds.reading import read
from directory.models import FeedRun, FeedRunStatus, FeedRunTrigger, HsdsFeed, ServicePage
from tests.directory.factories import SVC, directory_counts, hsds_minimal, hsds_write
from tests.directory.test_feed_sync import sync

SECOND = uuid.UUID("7b0c2d4e-1f3a-4b5c-8d9e-0a1b2c3d4e5f")


@pytest.fixture
def source_url(live_server, tenant_b, tmp_path) -> str:
    """tenant_b's directory (two services), served by the live server as tenant_b's host."""
    tables = hsds_minimal()
    second = {**tables["services"][0], "id": str(SECOND), "name": "Second service"}
    tables["services"].append(second)
    directory_import(network=tenant_b.network, dataset=read(hsds_write(tmp_path / "p", tables)))
    # Wagtail sends an unknown host to the default site: the live server's host and port must be
    # tenant_b's site, or the API would answer for another network.
    port = urlsplit(live_server.url).port
    Site.objects.filter(root_page=tenant_b.network.root_page).update(
        hostname="localhost", port=port
    )
    return f"http://localhost:{port}/api/hsds/"


def _feed(tenant, url: str) -> HsdsFeed:
    return HsdsFeed.objects.create(network=tenant.network, name="Neighbour", url=url, per_page=1)


def _titles(tenant) -> list[str]:
    root = tenant.network.root_page
    return sorted(ServicePage.objects.descendant_of(root).live().values_list("title", flat=True))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_another_networks_directory_is_synced_through_its_api(tenant_a, tenant_b, source_url):
    run = sync(_feed(tenant_a, source_url))
    assert run.status == FeedRunStatus.DONE, run.summary
    assert (run.pages, run.services) == (2, 2)
    assert _titles(tenant_a) == _titles(tenant_b) == ["Grocery boxes", "Second service"]
    copy = ServicePage.objects.descendant_of(tenant_a.network.root_page).get(hsds_id=SVC)
    assert copy.feed_listing.feed.network == tenant_a.network
    again = sync(HsdsFeed.objects.get(network=tenant_a.network))
    assert again.summary == "Nothing changed."


class _PageTwoDown(requests.Session):
    """Stands between the sync and the live server: page 2 answers 503 every time."""

    def get(self, url: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if (kwargs.get("params") or {}).get("page") == 2:
            response = requests.Response()
            response.status_code, response.url, response._content = 503, str(url), b""
            response._content_consumed = True
            return response
        return super().get(url, **kwargs)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_page_failing_on_the_live_server_changes_nothing(
    tenant_a, tenant_b, source_url, settings
):
    settings.HSDS_FEED_RETRIES = 1
    settings.HSDS_FEED_BACKOFF_SECONDS = 0
    before = directory_counts()
    feed = _feed(tenant_a, source_url)
    run = FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.MANUAL)
    run = feed_sync_run(run_id=run.pk, session=_PageTwoDown())
    assert run.status == FeedRunStatus.FAILED
    assert "page 2 answered HTTP 503, 2 time(s)" in run.summary
    assert directory_counts() == before
    assert _titles(tenant_a) == []
