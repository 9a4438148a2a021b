"""The search page in a real browser: results update in place, the URL follows, the map shows
the hits, autocomplete offers names, and it still works on a phone-sized screen."""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

import pytest

from tests.directory.factories import STANDARD, directory_build, service_types_make
from tests.e2e.cast import log_in
from tests.e2e.conftest import screenshot


@pytest.fixture
def site(live_server, wagtail_tree, tenant_a) -> str:
    service_types_make(tenant_a.network)
    directory_build(tenant_a.network, STANDARD)
    port = live_server.url.rsplit(":", 1)[1]
    return f"http://{tenant_a.network.site.hostname}:{port}"


@pytest.mark.django_db(transaction=True)
def test_search_updates_in_place_with_a_shareable_url_and_a_map(page, site):
    page.goto(f"{site}/search/")
    page.evaluate("window.__stayed = true")  # gone if the page reloads
    page.fill("#search-q", "pantry")
    page.fill("#search-near", "95501")
    page.press("#search-near", "Enter")
    page.wait_for_url(re.compile(r"near=95501"))
    page.wait_for_selector(".hit-address")
    assert page.evaluate("window.__stayed") is True
    assert page.url.endswith("/search/?q=pantry&near=95501")  # the canonical, shareable URL
    assert page.locator(".hit-title").first.inner_text() == "Weekly Food Pantry"
    assert "mi" in page.locator(".hit-address").first.inner_text()
    # The counts beside the filters follow the results without a reload.
    assert page.inner_text("#count-category-food-insecurity") == "(1)"
    assert page.inner_text("#count-category-homelessness") == "(0)"
    page.wait_for_selector("#search-map[data-markers]:not([data-markers='0'])", state="attached")
    assert page.locator("#search-map .leaflet-interactive").count() >= 1
    screenshot(page, "search-results")

    page.check("input[name=category][value=food-insecurity]")
    page.wait_for_url(re.compile(r"category=food-insecurity"))
    assert page.evaluate("window.__stayed") is True

    # The URL is the search: opening it fresh shows the same results.
    shared = page.url
    page.goto(shared)
    assert page.locator(".hit-title").first.inner_text() == "Weekly Food Pantry"
    assert page.is_checked("input[name=category][value=food-insecurity]")


@pytest.mark.django_db(transaction=True)
def test_autocomplete_offers_service_names(page, site):
    page.goto(f"{site}/search/")
    page.type("#search-q", "shel", delay=30)
    page.wait_for_selector("#search-suggestions option >> nth=1", state="attached")
    options = page.eval_on_selector_all(
        "#search-suggestions option", "els => els.map(e => e.value)"
    )
    assert {"Overnight Shelter Beds", "Family Shelter Rooms"} <= set(options)


@pytest.mark.django_db(transaction=True)
def test_search_works_without_javascript_and_on_a_phone(browser, site):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 800})
    tab = context.new_page()
    tab.goto(f"{site}/search/")
    tab.fill("#search-q", "shelter")
    tab.click("button[type=submit]")
    tab.wait_for_selector(".hit-title")
    assert "q=shelter" in tab.url
    titles = tab.locator(".hit-title").all_inner_texts()
    assert "Family Shelter Rooms" in titles
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing overflows sideways
    screenshot(tab, "search-phone-no-js")
    context.close()


# --- layout (bug 6), the map's tiles and popups (bug 13) ---------------------------------------

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# A one-pixel transparent PNG: what the intercepted tile requests get (nothing leaves the machine).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
# Every part of the filters that sticks out to the right of the filter column's own box, or
# into the results' box, at this size.
OVERLAP = """() => {
  const filters = document.querySelector(".search-filters");
  const results = document.querySelector("#results").getBoundingClientRect();
  const found = [];
  for (const el of [filters, ...filters.querySelectorAll("*")]) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const over = box.right > results.left + 0.5 && box.left < results.right
      && box.bottom > results.top && box.top < results.bottom;
    if (over) found.push(`${el.tagName}.${el.className}: ${box.right} > ${results.left}`);
  }
  return found;
}"""


def staff_sign_in(tab, site: str, tenant) -> None:  # type: ignore[no-untyped-def]
    log_in(tab, site, tenant.users["clinic_staff"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/search/", "/workspace/search/"])
def test_filters_never_overlap_the_results_at_1280(browser, site, tenant_a, path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    if path.startswith("/workspace/"):
        staff_sign_in(tab, site, tenant_a)
    tab.goto(f"{site}{path}?q=pantry&near=95501&open_now=1")
    tab.wait_for_selector(".result-count")
    assert tab.evaluate(OVERLAP) == []
    filters = tab.locator(".search-filters").bounding_box()
    results = tab.locator("#results").bounding_box()
    assert filters["x"] + filters["width"] <= results["x"]  # side by side
    assert tab.locator(".filters-toggle").is_hidden()  # no button on a wide screen
    assert tab.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(tab, f"search-1280{path.replace('/', '-').rstrip('-')}")
    context.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/search/", "/workspace/search/"])
def test_on_a_phone_the_results_come_first_and_the_filters_wait_behind_a_button(
    browser, site, tenant_a, path
):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    tab = context.new_page()
    if path.startswith("/workspace/"):
        staff_sign_in(tab, site, tenant_a)
    tab.goto(f"{site}{path}?q=pantry&near=95501")
    tab.wait_for_selector(".hit-title")
    assert tab.evaluate("document.documentElement.scrollWidth") <= 375
    button = tab.get_by_role("button", name="Filters")
    assert button.get_attribute("aria-expanded") == "false"
    assert tab.locator("#search-filters").is_hidden()
    assert button.bounding_box()["y"] < tab.locator(".hit-title").first.bounding_box()["y"]
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    assert tab.locator("#search-filters").is_visible()
    assert tab.evaluate("document.documentElement.scrollWidth") <= 375
    tab.check("input[name=free]")  # a filter still searches again in place
    tab.wait_for_url(re.compile(r"free=1"))
    assert tab.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(tab, f"search-375-filters-open{path.replace('/', '-').rstrip('-')}")
    button.click()
    assert tab.locator("#search-filters").is_hidden()
    context.close()


def route_tiles(tab) -> list[str]:  # type: ignore[no-untyped-def]
    """Every request to a host other than the live server is answered here, never sent."""
    asked: list[str] = []

    def answer(route) -> None:  # type: ignore[no-untyped-def]
        asked.append(route.request.url)
        if route.request.url.startswith("https://tile.openstreetmap.org/"):
            route.fulfill(status=200, content_type="image/png", body=PNG)
        else:
            route.abort()

    tab.route(re.compile(r"^https?://(?!([a-z0-9-]+\.)*localhost[:/]|127\.0\.0\.1[:/])"), answer)
    return asked


@pytest.mark.django_db(transaction=True)
def test_the_map_shows_openstreetmap_tiles_with_attribution_and_popups(page, site, settings):
    settings.SEARCH_MAP_TILES = True
    settings.SEARCH_MAP_TILE_URL = OSM_TILES
    asked = route_tiles(page)
    page.goto(f"{site}/search/?q=pantry&near=95501")
    page.wait_for_selector("#search-map img.leaflet-tile-loaded", state="attached")
    assert asked
    assert all(u.startswith("https://tile.openstreetmap.org/") for u in asked)
    credit = page.locator(
        ".leaflet-control-attribution a[href='https://www.openstreetmap.org/copyright']"
    )
    assert credit.inner_text() == "OpenStreetMap"
    assert "OpenStreetMap contributors" in page.inner_text(".leaflet-control-attribution")
    page.locator("#search-map path.leaflet-interactive").first.click()
    link = page.locator(".leaflet-popup-content .map-popup a")
    link.wait_for()
    assert link.inner_text() in page.locator(".hit-title").all_inner_texts()
    assert link.get_attribute("href")
    screenshot(page, "search-map-tiles-popup")


@pytest.mark.django_db(transaction=True)
def test_tiles_switched_off_ask_no_tile_server_and_the_list_works(page, site, settings):
    settings.SEARCH_MAP_TILES = False
    asked = route_tiles(page)
    page.goto(f"{site}/search/?q=pantry&near=95501")
    page.wait_for_selector("#search-map[data-markers]:not([data-markers='0'])", state="attached")
    assert page.locator(".hit-title").first.inner_text() == "Weekly Food Pantry"
    assert page.locator("#search-map img.leaflet-tile").count() == 0
    assert asked == []


@pytest.mark.django_db(transaction=True)
def test_typing_then_pressing_enter_searches_once(page, site):
    """Enter in the search box is both a change (which searches, as a filter does) and a
    submit: two requests for the same words, the second swapping the results under the pointer.
    Only one is sent (cms/static/js/search-once.js)."""
    page.goto(f"{site}/search/")
    searches: list[str] = []
    page.on(
        "request",
        lambda request: (
            searches.append(request.url) if urlsplit(request.url).path == "/search/" else None
        ),
    )
    page.locator("#search-q").press_sequentially("pantry")
    page.locator("#search-q").press("Enter")
    page.wait_for_url(re.compile(r"q=pantry"))
    page.wait_for_selector(".hit-title")
    page.wait_for_timeout(1_000)  # twice the typing pause (hx-trigger ... delay:500ms)
    assert len(searches) == 1, searches
    assert page.locator(".hit-title").first.inner_text() == "Weekly Food Pantry"
    # Typing something else still searches, after the pause.
    page.locator("#search-q").press_sequentially(" weekly")
    page.wait_for_url(re.compile(r"q=pantry\+weekly"))
    assert len(searches) == 2, searches
