"""One behaviour suite for every search backend.

The database backend always runs (on SQLite or PostgreSQL, whichever the suite runs on). The
Elasticsearch backend runs when ELASTICSEARCH_URL points at a server; otherwise it is skipped
with that reason (its query bodies and mappings are pinned in test_elasticsearch_query.py and
test_elasticsearch_mapping.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.utils.module_loading import import_string

from directory.geocoding import distance_miles
from network.models import Network
from search.backends import SearchBackend
from search.models import SearchDocument
from search.query import Near, SearchQuery
from search.results import SearchResults
from tests.directory.factories import ARCATA, CRESCENT_CITY, EUREKA, FORTUNA, NOW

Search = Callable[..., SearchResults]
ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "")
# Searches only read: both networks' directories are built once for the module.
pytestmark = pytest.mark.kept_directories


def _backend(name: str) -> SearchBackend:
    if name == "database":
        return import_string("search.backends.database.SearchBackend")({})
    backend = import_string("search.backends.elasticsearch.SearchBackend")(
        {"URLS": [ELASTICSEARCH_URL], "INDEX": f"handoff-test-{uuid.uuid4().hex[:8]}"}
    )
    documents = list(SearchDocument.objects.order_by("key"))
    backend.rebuild(documents, total=len(documents))
    return backend


@pytest.fixture(params=["database", "elasticsearch"])
def backend(request, directory, other_directory) -> SearchBackend:
    if request.param == "elasticsearch" and not ELASTICSEARCH_URL:
        pytest.skip("ELASTICSEARCH_URL is not set: no Elasticsearch server to test against")
    return _backend(request.param)


@pytest.fixture
def search(backend, tenant_a) -> Search:
    def run(network: Network | None = None, now: datetime = NOW, **fields) -> SearchResults:
        return backend.search(SearchQuery(**fields), network=network or tenant_a.network, now=now)

    return run


def names(results: SearchResults) -> list[str]:
    return [hit.service_name for hit in results.hits]


def near(point: tuple[float, float], label: str = "here") -> Near:
    return Near(latitude=point[0], longitude=point[1], label=label)


@pytest.mark.django_db
class TestText:
    def test_words_in_the_name_or_description_find_a_service(self, search):
        assert names(search(text="pantry"))[0] == "Weekly Food Pantry"
        assert "Emergency Rental Assistance" in names(search(text="eviction"))

    def test_every_word_must_match(self, search):
        assert names(search(text="shelter families")) == ["Family Shelter Rooms"]
        assert search(text="shelter zebra").total == 0

    def test_synonyms_food_bank_finds_the_food_pantry(self, search):
        assert "Weekly Food Pantry" in names(search(text="food bank"))

    def test_synonyms_rent_help_finds_rental_assistance(self, search):
        assert names(search(text="rent help"))[0] == "Emergency Rental Assistance"

    def test_a_misspelt_word_still_finds_results(self, search):
        results = search(text="foood pantry")
        assert "Weekly Food Pantry" in names(results)
        assert search(text="shleter").total >= 2

    @pytest.mark.parametrize(
        ("typed", "found"),
        [
            ("comida", "Weekly Food Pantry"),
            ("food stamps", "Weekly Food Pantry"),
            ("banco de comida", "Weekly Food Pantry"),
            ("vivienda", "Emergency Rental Assistance"),
            ("ayuda con la renta", "Emergency Rental Assistance"),
            ("ride to doctor", "Bus Pass Program"),
            ("transporte al médico", "Bus Pass Program"),
            ("albergue", "Family Shelter Rooms"),
        ],
    )
    def test_spanish_and_plain_phrases_find_the_needs_they_name(self, search, typed, found):
        results = search(text=typed)
        assert found in names(results), (typed, names(results))

    def test_a_short_misspelling_gets_a_did_you_mean(self, search, backend):
        if backend.name != "database":
            pytest.skip("Elasticsearch's phrase suggester is pinned in test_elasticsearch_query")
        results = search(text="fod pantry")
        assert results.did_you_mean == "food pantry"
        assert "Weekly Food Pantry" in names(search(text=results.did_you_mean))

    def test_words_the_listings_use_get_no_did_you_mean(self, search):
        assert search(text="food pantry").did_you_mean == ""
        assert search(text="comida").did_you_mean == ""
        # a longer misspelling is searched for as corrected, with no question asked
        corrected = search(text="foood pantry")
        assert corrected.did_you_mean == ""
        assert corrected.corrections == {"foood": "food"}

    def test_highlights_mark_the_words_and_escape_the_listing(self, search):
        hit = search(text="beds adults").hits[0]
        assert hit.service_name == "Overnight Shelter Beds"
        assert "<mark>" in hit.highlights["description"]
        assert "&lt;b&gt;" in hit.highlights["description"]  # the listing's own markup, escaped
        assert "<b>" not in hit.highlights["description"]

    def test_results_never_include_another_network(self, search, tenant_b):
        ours = search(text="pantry")
        assert all("Bravo" not in h.agency_name for h in ours.hits)
        assert search(text="bravo").total == 0
        theirs = search(network=tenant_b.network, text="pantry")
        assert names(theirs) == ["Weekly Food Pantry"]
        assert theirs.hits[0].agency_id != ours.hits[0].agency_id


@pytest.mark.django_db
class TestPlace:
    def test_radius_keeps_only_places_within_it_with_distances(self, search):
        results = search(near=near(EUREKA), radius_miles=10)
        assert results.total == 5  # Eureka (3 services) and Arcata (2)
        for hit in results.hits:
            assert hit.distance_miles is not None
            assert hit.distance_miles <= 10
            expected = distance_miles(EUREKA, (hit.latitude, hit.longitude))
            assert hit.distance_miles == pytest.approx(expected, rel=0.01, abs=0.05)

    def test_a_wider_radius_reaches_further_places(self, search):
        assert search(near=near(EUREKA), radius_miles=20).total == 7
        assert search(near=near(EUREKA), radius_miles=100).total == 8

    def test_sort_by_distance(self, search):
        results = search(near=near(ARCATA), radius_miles=100, sort="distance")
        distances = [hit.distance_miles for hit in results.hits]
        assert distances == sorted(distances)
        assert results.hits[-1].latitude == pytest.approx(CRESCENT_CITY[0])

    def test_a_service_at_two_places_is_two_hits(self, search):
        results = search(text="bus pass", near=near(EUREKA), radius_miles=10)
        assert names(results) == ["Bus Pass Program", "Bus Pass Program"]
        assert results.hits[0].distance_miles < results.hits[1].distance_miles

    def test_closeness_counts_in_relevance(self, search):
        results = search(text="shelter", near=near(FORTUNA), radius_miles=50)
        assert {h.service_name for h in results.hits} == {
            "Overnight Shelter Beds",
            "Family Shelter Rooms",
        }


@pytest.mark.django_db
class TestFilters:
    def test_category(self, search):
        assert set(names(search(categories=("homelessness",)))) == {
            "Overnight Shelter Beds",
            "Family Shelter Rooms",
        }

    def test_service_type_and_its_parent(self, search):
        pantries = {"Weekly Food Pantry", "Del Norte Food Share"}
        assert set(names(search(service_types=("pantry",)))) == pantries
        assert set(names(search(service_types=("food",)))) == pantries

    def test_language(self, search):
        assert set(names(search(languages=("hmn",)))) == {"Senior Meals"}
        assert set(names(search(languages=("es",)))) == {"Weekly Food Pantry", "Bus Pass Program"}

    def test_free_only(self, search):
        assert "Senior Meals" not in names(search(free_only=True, page_size=50))
        assert search(free_only=True).total == 7

    def test_accepting_only(self, search):
        assert "Overnight Shelter Beds" not in names(search(accepting_only=True, page_size=50))
        assert search(accepting_only=True).total == 7

    def test_client_age(self, search):
        assert "Senior Meals" not in names(search(client_age=40, page_size=50))
        assert "Senior Meals" in names(search(client_age=67, page_size=50))
        assert "Emergency Rental Assistance" not in names(search(client_age=16, page_size=50))

    def test_open_now(self, search):
        # Tuesday 14:00 in Eureka: the pantry and bus passes (weekdays 9-5) and the family
        # shelter (24 hours) are open; the overnight shelter and Monday-only rent help are not.
        results = search(open_now=True, open_at=NOW, page_size=50)
        assert set(names(results)) == {
            "Weekly Food Pantry",
            "Family Shelter Rooms",
            "Bus Pass Program",
        }
        assert all(hit.open_status and hit.open_status.is_open for hit in results.hits)

    def test_open_overnight_past_midnight(self, search):
        wednesday_3am = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
        results = search(open_now=True, open_at=wednesday_3am, page_size=50)
        assert set(names(results)) == {"Overnight Shelter Beds", "Family Shelter Rooms"}

    def test_filters_combine(self, search):
        results = search(
            text="food",
            near=near(EUREKA),
            radius_miles=10,
            categories=("food-insecurity",),
            languages=("es",),
            free_only=True,
            open_now=True,
            open_at=NOW,
        )
        assert names(results) == ["Weekly Food Pantry"]


@pytest.mark.django_db
class TestRanking:
    def test_not_accepting_ranks_lower_but_is_not_hidden(self, search):
        # Same need, same place, same freshness: only capacity differs.
        results = search(categories=("homelessness",))
        assert names(results) == ["Family Shelter Rooms", "Overnight Shelter Beds"]
        assert results.hits[1].capacity == "not-accepting"
        assert "Overnight Shelter Beds" in names(search(text="shelter"))

    def test_stale_listings_are_flagged_and_rank_lower(self, search):
        results = search(categories=("food-insecurity",), page_size=50)
        stale = {h.service_name: h.stale for h in results.hits}
        assert stale["Senior Meals"] is True
        assert stale["Weekly Food Pantry"] is False
        assert names(results)[-1] == "Senior Meals"


@pytest.mark.django_db
class TestResults:
    def test_facets_count_the_whole_result_set(self, search):
        results = search(categories=("food-insecurity",), page_size=1)
        assert results.total == 3
        assert len(results.hits) == 1
        counts = {f.value: f.count for f in results.facets["category"]}
        assert counts == {"food-insecurity": 3, "social-connection": 1}
        selected = [f.value for f in results.facets["category"] if f.selected]
        assert selected == ["food-insecurity"]
        assert {f.value: f.count for f in results.facets["fee"]} == {"free": 2, "sliding-scale": 1}
        assert {f.value: f.count for f in results.facets["language"]} == {
            "en": 3,
            "es": 1,
            "hmn": 1,
        }
        assert {f.value: f.count for f in results.facets["capacity"]} == {"accepting": 3}
        assert {f.label for f in results.facets["type"]} == {"Food", "Food pantry"}

    def test_pages(self, search):
        first = search(page_size=4)
        second = search(page_size=4, page=2)
        third = search(page_size=3, page=3)
        assert first.total == second.total == third.total == 8
        assert (len(first.hits), len(second.hits), len(third.hits)) == (4, 4, 2)
        keys = [h.key for r in (first, second) for h in r.hits]
        assert len(set(keys)) == 8
        assert (first.pages, first.has_next, second.has_next) == (2, True, False)

    def test_the_result_says_which_backend_answered_and_how_fast(self, search, backend):
        results = search(text="pantry")
        assert results.backend == backend.name
        assert results.took_ms > 0

    def test_hit_shows_what_a_person_needs(self, search):
        hit = search(text="weekly pantry").hits[0]
        assert hit.agency_name == "Harbor Community Services"
        assert hit.address.startswith("100 Main St")
        assert hit.url.endswith("/weekly-food-pantry/")
        assert hit.category_labels == ["Food"]
        assert hit.fee_label == "Free"
        assert hit.capacity_label == "Accepting clients"
        assert hit.takes_electronic_referrals


@pytest.mark.django_db
def test_suggestions_complete_service_names_and_categories(backend, tenant_a):
    found = backend.suggest("shel", network=tenant_a.network)
    assert {s.label for s in found if s.kind == "service"} >= {
        "Overnight Shelter Beds",
        "Family Shelter Rooms",
    }
    categories = backend.suggest("hous", network=tenant_a.network)
    assert ("category", "housing-instability") in {(s.kind, s.value) for s in categories}
    assert backend.suggest("x", network=tenant_a.network) == []


@pytest.mark.django_db
def test_dates_are_aware(directory):
    assert all(d.verified_at.tzinfo is not None for d in SearchDocument.objects.all())
