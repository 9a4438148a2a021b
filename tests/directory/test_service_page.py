"""The public service page: phones, places with a map link, hours by weekday, "open now" in the
network's time zone at fixed instants, and "Back to search" that keeps the search."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.models import ServicePage, ServicePhone
from tests.directory.factories import NOW, Spec, directory_build
from tests.network.factories import tenant_make

PANTRY = "/directory/harbor-community-services/weekly-food-pantry/"
HOURS = "/directory/harbor-community-services/weekday-hours/"


@pytest.fixture
def tenant(db):
    tenant = tenant_make("Alpha")
    directory_build(
        tenant.network,
        [
            Spec(
                "Weekly Food Pantry",
                "Groceries.",
                categories=["food-insecurity"],
                hours=[(1, "09:00", "17:00"), (3, "09:00", "17:00")],
            ),
            # Entered Monday, Tuesday, Thursday, Friday, then Wednesday (the order).
            Spec(
                "Weekday Hours",
                "Open on weekdays.",
                hours=[
                    (0, "09:00", "12:00"),
                    (1, "09:00", "12:00"),
                    (3, "09:00", "12:00"),
                    (4, "09:00", "12:00"),
                    (2, "13:00", "16:00"),
                ],
            ),
            Spec(
                "More Hours",
                "More places and hours.",
                places=[(40.80, -124.16), (40.81, -124.17), (40.82, -124.18)],
                hours=[(d, "08:00", "18:00") for d in range(7)],
                agency="Bay Housing Partnership",
            ),
        ],
    )
    return tenant


def host(tenant) -> str:
    return tenant.network.site.hostname


def back_link(html: str) -> str:
    match = re.search(r'<a href="([^"]*)" class="back-to-search">', html)
    assert match, html
    return match.group(1).replace("&amp;", "&")


@pytest.mark.django_db
def test_hours_are_listed_by_weekday(client, tenant):
    html = client.get(HOURS, HTTP_HOST=host(tenant)).content.decode()
    days = re.findall(r"<li>(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) ", html)
    assert days == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


@pytest.mark.django_db
def test_open_now_is_computed_in_the_networks_time_zone(client, tenant):
    # Tuesday 14:00 in Eureka (America/Los_Angeles): open until 17:00.
    with time_machine.travel(NOW, tick=False):
        html = client.get(PANTRY, HTTP_HOST=host(tenant)).content.decode()
    assert "Open now, until 5:00 PM" in html
    # The same instant is 17:00 in New York: closed, opens again Thursday.
    tenant.network.time_zone = "America/New_York"
    tenant.network.save()
    with time_machine.travel(NOW, tick=False):
        html = client.get(PANTRY, HTTP_HOST=host(tenant)).content.decode()
    assert "Closed now, opens Thursday at 9:00 AM" in html


@pytest.mark.django_db
def test_closed_now_says_when_it_opens_today(client, tenant):
    # Tuesday 07:30 in Eureka.
    with time_machine.travel(datetime(2026, 11, 24, 15, 30, tzinfo=UTC), tick=False):
        html = client.get(PANTRY, HTTP_HOST=host(tenant)).content.decode()
    assert "Closed now, opens today at 9:00 AM" in html


@pytest.mark.django_db
def test_the_page_shows_phone_address_and_a_map_link(client, tenant):
    service = ServicePage.objects.get(title="Weekly Food Pantry")
    ServicePhone.objects.create(page=service, number="(707) 555-0199", description="Intake")
    html = client.get(PANTRY, HTTP_HOST=host(tenant)).content.decode()
    assert 'href="tel:(707)555-0199"' in html
    assert "100 Main St, Eureka, CA 95501" in html
    assert "https://www.openstreetmap.org/?mlat=40.80210&amp;mlon=-124.16370" in html


@pytest.mark.django_db
def test_back_to_search_keeps_the_query_from_the_back_parameter(client, tenant):
    html = client.get(
        PANTRY, {"back": "/search/?q=food pantry&near=95501"}, HTTP_HOST=host(tenant)
    ).content.decode()
    assert back_link(html) == "/search/?q=food+pantry&near=95501"
    staff = client.get(PANTRY, {"back": "/workspace/search/?q=rent"}, HTTP_HOST=host(tenant))
    assert back_link(staff.content.decode()) == "/workspace/search/?q=rent"


@pytest.mark.django_db
def test_back_to_search_keeps_the_query_from_a_same_site_referrer(client, tenant):
    html = client.get(
        PANTRY, HTTP_HOST=host(tenant), HTTP_REFERER=f"http://{host(tenant)}/search/?q=pantry"
    ).content.decode()
    assert back_link(html) == "/search/?q=pantry"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/search/?q=x",
        "//evil.example/search/?q=x",
        "/\\evil.example/search/",
        "/admin/?q=x",
        "/search/../admin/",
        "javascript:alert(1)",
    ],
)
def test_back_to_search_never_leads_elsewhere(client, tenant, back):
    html = client.get(PANTRY, {"back": back}, HTTP_HOST=host(tenant)).content.decode()
    assert back_link(html) == "/search/"


@pytest.mark.django_db
def test_a_referrer_from_another_site_is_ignored(client, tenant):
    html = client.get(
        PANTRY, HTTP_HOST=host(tenant), HTTP_REFERER="https://evil.example/search/?q=x"
    ).content.decode()
    assert back_link(html) == "/search/"


@pytest.mark.django_db
def test_the_service_page_query_count_does_not_grow_with_hours_and_places(client, tenant):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(HOURS, HTTP_HOST=host(tenant)).status_code == 200
        return len(captured.captured_queries)

    count()
    small = count()
    url = "/directory/bay-housing-partnership/more-hours/"
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, HTTP_HOST=host(tenant)).status_code == 200
    assert len(captured.captured_queries) == small
