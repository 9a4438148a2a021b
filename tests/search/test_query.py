"""The search query model: URL parameters in, a validated query out, and back to a URL."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.geocoding import GeocodeResult, GeocodingUnavailable
from search.query import (
    CATEGORY_CODES,
    DEFAULT_PAGE_SIZE,
    DEFAULT_RADIUS_MILES,
    Near,
    SearchQuery,
    parse_search,
)

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
EUREKA = GeocodeResult(
    latitude=40.80, longitude=-124.16, label="Eureka, CA 95501", precision="zip", provider="test"
)


def fake_geocoder(text: str) -> GeocodeResult | None:
    return EUREKA if "95501" in text or "eureka" in text.lower() else None


def parse(query_string: str, **kwargs):
    return parse_search(QueryDict(query_string), now=NOW, geocoder=fake_geocoder, **kwargs)


def test_a_full_search_is_read():
    parsed = parse(
        "q=food+bank&near=95501&radius=5&category=food-insecurity&category=homelessness"
        "&language=es,en&open_now=1&free=1&accepting=on&age=67&sort=distance&page=2",
        service_type_codes=["pantry"],
    )
    assert parsed.errors == {}
    query = parsed.query
    assert query.text == "food bank"
    assert query.near == Near(40.80, -124.16, "95501")
    assert query.radius_miles == 5
    assert query.categories == ("food-insecurity", "homelessness")
    assert query.languages == ("en", "es")
    assert (query.open_now, query.open_at) == (True, NOW)
    assert (query.free_only, query.accepting_only, query.client_age) == (True, True, 67)
    assert (query.sort, query.page, query.offset) == ("distance", 2, DEFAULT_PAGE_SIZE)


def test_empty_search_is_empty():
    parsed = parse("")
    assert parsed.errors == {}
    assert parsed.query.is_empty
    assert parsed.query == SearchQuery()


def test_near_accepts_coordinates_without_geocoding():
    def refuse(text):
        raise AssertionError("coordinates must not be geocoded")

    parsed = parse_search(QueryDict("near=40.8665,-124.0828"), now=NOW, geocoder=refuse)
    assert parsed.query.near == Near(40.8665, -124.0828, "40.8665,-124.0828")
    assert parsed.query.radius_miles == DEFAULT_RADIUS_MILES


def test_an_address_with_commas_stays_whole():
    parsed = parse(urlencode({"near": "2200 Harrison Ave, Eureka, CA 95501"}))
    assert parsed.query.near.label == "2200 Harrison Ave, Eureka, CA 95501"


@pytest.mark.parametrize(
    ("query_string", "field", "message"),
    [
        ("near=Atlantis", "near", "We could not find “Atlantis”. Try a ZIP code."),
        ("near=95501&radius=ten", "radius", "The distance must be a number of miles"),
        ("near=95501&radius=900", "radius", "The distance must be a number of miles"),
        ("near=95501&radius=nan", "radius", "The distance must be a number of miles"),
        ("radius=5", "radius", "A distance needs a place to measure from."),
        ("category=food&category=food-insecurity", "category", "Unknown category: food."),
        ("type=pantry,shelter", "type", "Unknown service type: shelter."),
        ("language=Atlantean", "language", "Not a language we know: Atlantean."),
        ("age=-3", "age", "The age must be a whole number of years."),
        ("age=200", "age", "The age must be a whole number of years."),
        ("sort=distance", "sort", "Sorting by distance needs a place"),
        ("sort=price", "sort", "Results can be sorted by relevance or distance."),
        ("page=0", "page", "Page must be a whole number from 1 to 500."),
        ("page=abc", "page", "Page must be a whole number from 1 to 500."),
        ("page_size=1000", "page_size", "Page size must be a whole number from 1 to 50."),
    ],
)
def test_bad_parameters_are_explained_and_dropped(query_string, field, message):
    parsed = parse(query_string, service_type_codes=["pantry"])
    assert parsed.errors[field].startswith(message), parsed.errors
    query = parsed.query
    assert "food" not in query.categories
    assert "shelter" not in query.service_types
    assert query.page >= 1
    assert query.page_size <= 50
    assert query.sort == "relevance" or query.near is not None


@pytest.mark.parametrize(
    ("typed", "codes"),
    [
        ("Spanish", ("es",)),
        ("español", ("es",)),
        ("hmong", ("hmn",)),
        ("Hmong,english", ("en", "hmn")),
        ("spa", ("es",)),
        ("es", ("es",)),
    ],
)
def test_the_language_filter_takes_a_name_or_a_code(typed, codes):
    parsed = parse(f"language={typed}")
    assert parsed.query.languages == codes
    assert not parsed.errors
    assert ("language", codes[0]) in parsed.query.to_params()  # the URL keeps the code


def test_valid_values_survive_next_to_bad_ones():
    parsed = parse("category=food-insecurity,made-up&language=es,Atlantean")
    assert parsed.query.categories == ("food-insecurity",)
    assert parsed.query.languages == ("es",)
    assert set(parsed.errors) == {"category", "language"}


def test_geocoder_outage_is_a_message_not_an_error_page():
    def down(text):
        raise GeocodingUnavailable("timeout")

    parsed = parse_search(QueryDict("near=95501&q=rent"), now=NOW, geocoder=down)
    assert parsed.query.near is None
    assert parsed.query.text == "rent"
    assert "cannot be looked up right now" in parsed.errors["near"]


def test_long_text_is_cut_with_a_message():
    parsed = parse(urlencode({"q": "x" * 500}))
    assert len(parsed.query.text) == 200
    assert "first 200 characters" in parsed.errors["q"]


def test_plain_dicts_work_too():
    parsed = parse_search(
        {"q": "  rent   help ", "category": ["housing-instability"]},
        now=NOW,
        geocoder=fake_geocoder,
    )
    assert (parsed.query.text, parsed.query.categories) == ("rent help", ("housing-instability",))


queries = st.builds(
    SearchQuery,
    text=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40
    ).map(lambda t: " ".join(t.split())),
    near=st.one_of(st.none(), st.just(Near(40.80, -124.16, "95501"))),
    categories=st.lists(st.sampled_from(sorted(CATEGORY_CODES)), unique=True, max_size=3).map(
        lambda v: tuple(sorted(v))
    ),
    languages=st.lists(st.sampled_from(["en", "es", "hmn", "lo"]), unique=True, max_size=3).map(
        lambda v: tuple(sorted(v))
    ),
    free_only=st.booleans(),
    accepting_only=st.booleans(),
    client_age=st.one_of(st.none(), st.integers(0, 130)),
    page=st.integers(1, 500),
    page_size=st.integers(1, 50),
)


@settings(max_examples=200, deadline=None)
@given(query=queries, radius=st.integers(1, 250), by_distance=st.booleans())
def test_every_query_round_trips_through_its_url(query, radius, by_distance):
    if query.near is not None:
        query = SearchQuery(
            **{
                **query.__dict__,
                "radius_miles": float(radius),
                "sort": "distance" if by_distance else "relevance",
            }
        )
    url = urlencode(query.to_params())
    parsed = parse(url)
    assert parsed.errors == {}
    assert parsed.query == query


def test_open_at_a_given_local_time():
    from zoneinfo import ZoneInfo

    eureka = ZoneInfo("America/Los_Angeles")
    parsed = parse_search(QueryDict("open_at=2026-11-24T18:30"), now=NOW, tz=eureka)
    assert parsed.errors == {}
    query = parsed.query
    assert query.open_now
    assert query.open_at == datetime(2026, 11, 24, 18, 30, tzinfo=eureka)
    assert query.to_params() == [("open_at", "2026-11-24T18:30")]
    bad = parse_search(QueryDict("open_at=tomorrow&open_now=1"), now=NOW, tz=eureka)
    assert "open_at" in bad.errors
    assert (bad.query.open_now, bad.query.open_at, bad.query.open_at_label) == (True, NOW, "")
