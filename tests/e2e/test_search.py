"""The search page in a real browser: results update in place, the URL follows, the map shows
the hits, autocomplete offers names, and it still works on a phone-sized screen."""

from __future__ import annotations

import re

import pytest

from tests.directory.factories import STANDARD, directory_build, service_types_make
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
