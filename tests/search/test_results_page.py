"""What the results page says to the person searching: "Did you mean", tips when nothing
matches (with each filter's remove link), language names, the agency named once, and a map with
OpenStreetMap's tiles unless they are switched off."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import date

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from cms.settings import base as base_settings
from referrals.services.clients import client_create
from tests.directory.factories import Spec, directory_build

pytestmark = pytest.mark.kept_directories

PUBLIC = "/search/"
STAFF = "/workspace/search/"
OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def host(tenant) -> str:
    return tenant.network.site.hostname


def get(client, tenant, params, url=PUBLIC, **headers) -> str:
    page = client.get(url, params, HTTP_HOST=host(tenant), **headers)
    assert page.status_code == 200
    return page.content.decode()


def links(html: str, css_class: str) -> list[tuple[str, str]]:
    """(href, text) of the links inside the element with ``css_class``."""
    block = re.search(rf'class="{css_class}"[^>]*>(.*?)</(?:ul|p)>', html, re.S)
    assert block, css_class
    return [
        (html_lib.unescape(href), re.sub(r"<[^>]+>", "", text))
        for href, text in re.findall(r'<a[^>]*href="([^"]*)"[^>]*>(.*?)</a>', block.group(1))
    ]


@pytest.mark.django_db
def test_a_short_misspelling_offers_did_you_mean_as_a_link(client, tenant_a, directory):
    html = get(client, tenant_a, {"q": "fod pantry", "near": "95501"})
    assert "0 services found" in html  # "fod" is not a word of the listings
    ((href, text),) = links(html, "did-you-mean")
    assert text == "food pantry"
    assert href == "/search/?q=food+pantry&near=95501"
    assert "Weekly Food Pantry" in get(client, tenant_a, {"q": "food pantry", "near": "95501"})


@pytest.mark.django_db
def test_a_correct_search_asks_nothing(client, tenant_a, directory):
    html = get(client, tenant_a, {"q": "food pantry"})
    assert "did-you-mean" not in html
    assert "no-results" not in html


@pytest.mark.django_db
def test_the_staff_search_keeps_the_client_in_did_you_mean(client, tenant_a, directory):
    staff = tenant_a.users["clinic_staff"]
    client.force_login(staff)
    person = client_create(
        organization=tenant_a.clinic,
        by=staff,
        first_name="Ana",
        last_name="Ruiz",
        date_of_birth=date(1980, 1, 2),
    )
    html = get(client, tenant_a, {"q": "fod", "client": person.pk}, url=STAFF)
    ((href, text),) = links(html, "did-you-mean")
    assert text == "food"
    assert href == f"/workspace/search/?q=food&client={person.pk}"


@pytest.mark.django_db
def test_nothing_found_gives_tips_and_a_remove_link_per_filter(client, tenant_a, directory):
    html = get(
        client,
        tenant_a,
        {"q": "beds", "near": "95501", "radius": "2", "free": "1", "language": "hmn"},
    )
    assert "0 services found" in html
    assert "Check the spelling" in html
    removes = {text: href for href, text in links(html, "active-filters")}
    assert removes == {
        "Remove “Speaks Hmong”": "/search/?q=beds&near=95501&radius=2&free=1",
        "Remove “Free”": "/search/?q=beds&near=95501&radius=2&language=hmn",
        "Remove “Near 95501”": "/search/?q=beds&language=hmn&free=1",
    }
    wider = html_lib.unescape(re.search(r'class="wider" href="([^"]*)"', html).group(1))
    assert wider == "/search/?q=beds&near=95501&radius=5&language=hmn&free=1"
    needs = [href for href, _text in links(html, "browse-needs")]
    assert "/search/?category=food-insecurity" in needs
    assert "/search/?category=veteran-status" not in needs  # only needs the network's services meet


@pytest.mark.django_db
def test_zero_results_page_has_a_constant_query_count(client, tenant_a, directory):
    def count() -> int:
        # Cold each time: the needs the network meets (kept under the index's generation) are
        # read again, so the two counts compare the same work.
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            get(client, tenant_a, {"q": "zebra", "category": "homelessness", "free": "1"})
        return len(queries)

    before = count()
    directory_build(
        tenant_a.network,
        [
            Spec(f"Shelter {n}", "Beds.", categories=["homelessness"], agency=f"A{n}")
            for n in range(12)
        ],
    )
    assert count() == before


@pytest.mark.django_db
def test_languages_show_by_name_and_the_filter_takes_a_name(client, tenant_a, directory):
    html = get(client, tenant_a, {"q": "senior meals"})
    meta = re.search(r'class="hit-meta">(.*?)</p>', html, re.S).group(1)
    assert "Languages: English, Hmong" in meta
    assert "hmn" not in meta
    named = get(client, tenant_a, {"language": "hmong"})
    assert re.findall(r'class="hit-title">(?:<a[^>]*>)?([^<]*)', named) == ["Senior Meals"]
    assert 'name="language" type="text" value="Hmong"' in named  # shown back by name
    spanish = get(client, tenant_a, {"language": "español"}, HTTP_ACCEPT_LANGUAGE="es")
    assert "Weekly Food Pantry" in spanish


@pytest.mark.django_db
def test_an_unknown_language_is_a_message_not_an_error(client, tenant_a, directory):
    html = get(client, tenant_a, {"q": "pantry", "language": "Atlantean"})
    assert 'data-field="language"' in html
    assert "Not a language we know: Atlantean." in html
    assert "Weekly Food Pantry" in html  # the rest of the search runs


@pytest.mark.django_db
def test_the_agency_is_not_repeated_when_the_service_has_its_name(client, tenant_a):
    directory_build(
        tenant_a.network,
        [
            Spec(
                "Orick Meal Share",
                "Boxes.",
                categories=["food-insecurity"],
                agency="Orick Meal Share",
            )
        ],
    )
    html = get(client, tenant_a, {"q": "orick"})
    hit = re.search(r'<li class="hit".*?</li>\s*(?=<li class="hit"|</ol>)', html, re.S).group(0)
    assert hit.count("Orick Meal Share") == 1
    assert 'class="hit-agency"' in hit  # the place is still named
    points = json.loads(re.search(r'id="search-map-points"[^>]*>(.*?)</script>', html).group(1))
    assert points[0]["agency"] == ""


def map_box(html: str) -> dict[str, str]:
    tag = re.search(r'<div id="search-map"[^>]*>', html).group(0)
    return {k: html_lib.unescape(v) for k, v in re.findall(r'data-(\w+)="([^"]*)"', tag)}


# With the database like its neighbours: pytest-django runs database-free tests last, after the
# transactional ones have emptied the database the module's kept directories are built in.
@pytest.mark.django_db
def test_openstreetmap_tiles_and_their_attribution_are_the_default():
    assert base_settings.SEARCH_MAP_TILES is True
    assert base_settings.SEARCH_MAP_TILE_URL == OSM
    text = re.sub(r"<[^>]+>", "", html_lib.unescape(base_settings.SEARCH_MAP_ATTRIBUTION))
    assert text == "© OpenStreetMap contributors"
    assert 'href="https://www.openstreetmap.org/copyright"' in base_settings.SEARCH_MAP_ATTRIBUTION
    images = base_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"]
    assert "https://tile.openstreetmap.org" in images


@pytest.mark.django_db
@override_settings(SEARCH_MAP_TILES=True, SEARCH_MAP_TILE_URL=OSM)
def test_the_map_names_its_tiles_and_each_point_links_to_its_service(client, tenant_a, directory):
    html = get(client, tenant_a, {"q": "pantry", "near": "95501"})
    box = map_box(html)
    assert box["tiles"] == OSM
    assert "OpenStreetMap</a> contributors" in box["attribution"]
    points = json.loads(re.search(r'id="search-map-points"[^>]*>(.*?)</script>', html).group(1))
    pantry = next(p for p in points if p["name"] == "Weekly Food Pantry")
    assert pantry["url"].endswith("/")
    assert pantry["url"] in html  # the same page the hit's title links to


@pytest.mark.django_db
@override_settings(SEARCH_MAP_TILES=False)
def test_tiles_switched_off_leave_the_map_without_a_tile_server(client, tenant_a, directory):
    html = get(client, tenant_a, {"q": "pantry", "near": "95501"})
    assert map_box(html)["tiles"] == ""
    assert "tile.openstreetmap.org" not in html
    assert "Weekly Food Pantry" in html  # the list works the same
