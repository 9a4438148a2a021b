"""A feed's changes to listings it delivered before: published at once (the default), or held as a
revision submitted to the network's listing review, the live listing unchanged until approved."""

from __future__ import annotations

import pytest
from wagtail.models import Revision

from directory.models import FeedRunStatus, ServicePage
from tests.directory.feeds import FeedServer, feed_served, feed_service, ident
from tests.directory.test_feed_sync import feed_make, sync


def service(n: int) -> ServicePage:
    return ServicePage.objects.get(hsds_id=ident("svc", n))


@pytest.mark.django_db
def test_changes_are_published_at_once_by_default(tenant_a):
    services = [feed_service(n) for n in range(3)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server)
        assert not feed.hold_changes
        sync(feed)
        services[1] = feed_service(1, name="Renamed service")
        run = sync(feed)
    assert run.status == FeedRunStatus.DONE, run.summary
    assert run.held == []
    page = service(1)
    assert (page.title, page.live, page.has_unpublished_changes) == ("Renamed service", True, False)
    assert page.workflow_in_progress is False


@pytest.mark.django_db
def test_held_changes_wait_for_review_and_the_live_listing_stays(tenant_a, superuser):
    services = [feed_service(n) for n in range(3)]
    with feed_served(FeedServer(services)) as server:
        feed = feed_make(tenant_a, server, hold_changes=True)
        first = sync(feed)
        assert first.held == []  # new listings are published at once
        services[1] = feed_service(1, name="Renamed service")
        services[2]["phones"][0]["number"] = "707-555-0199"
        services[2]["service_at_locations"] = []  # and a child row leaves
        run = sync(feed)
        assert run.status == FeedRunStatus.DONE, run.summary
        held = service(1), service(2)
        assert sorted(title for _, title in run.held) == ["Renamed service", "Service 2"]
        assert "2 listing(s) the feed changed are held for review" in run.summary
        # Readers still see what was published; the change waits as the latest revision.
        assert held[0].title == "Service 1"
        assert list(held[1].phones.values_list("number", flat=True)) == ["707-555-0100"]
        assert held[1].service_locations.count() == 1
        for page in held:
            assert page.live
            assert page.has_unpublished_changes
            assert page.workflow_in_progress
        assert held[0].get_latest_revision().as_object().title == "Renamed service"
        untouched = service(0)
        assert not untouched.has_unpublished_changes
        assert not untouched.workflow_in_progress
        # The same change in the next sync is not submitted again, and stays held.
        revisions = Revision.objects.count()
        again = sync(feed)
        assert again.status == FeedRunStatus.DONE, again.summary
        assert Revision.objects.count() == revisions
        assert service(1).title == "Service 1"
    # A moderator approves: the feed's version goes live.
    state = service(1).current_workflow_state
    state.current_task_state.specific.approve(user=superuser)
    page = service(1)
    assert (page.title, page.has_unpublished_changes) == ("Renamed service", False)
    assert not page.workflow_in_progress


@pytest.mark.django_db
def test_held_changes_touch_only_this_network(tenant_a, tenant_b):
    services = [feed_service(n) for n in range(3)]
    with feed_served(FeedServer(services)) as server:
        feed_a = feed_make(tenant_a, server, hold_changes=True)
        feed_b = feed_make(tenant_b, server)
        sync(feed_a), sync(feed_b)
        services[0] = feed_service(0, name="Renamed service")
        held, published = sync(feed_a), sync(feed_b)
    assert [title for _, title in held.held] == ["Renamed service"]
    assert published.held == []
    root_a, root_b = tenant_a.network.root_page, tenant_b.network.root_page
    page_a = ServicePage.objects.descendant_of(root_a).get(hsds_id=ident("svc", 0))
    page_b = ServicePage.objects.descendant_of(root_b).get(hsds_id=ident("svc", 0))
    assert (page_a.title, page_a.workflow_in_progress) == ("Service 0", True)
    assert (page_b.title, page_b.workflow_in_progress) == ("Renamed service", False)
