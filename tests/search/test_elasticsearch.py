"""The Elasticsearch search backend, without a server: the mapping, the request bodies, the bulk
actions, how responses become results, and that a dead or failing cluster means "ask the
database". A small round trip against a real cluster runs only when ELASTICSEARCH_URL is set.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from elasticsearch import BadRequestError, ConnectionError, ConnectionTimeout, helpers

from search.backends import base
from search.backends import elasticsearch as es_backend
from search.backends.elasticsearch import (
    SearchBackend,
    build_index,
    build_search,
    build_suggest,
    document_from_source,
    document_source,
    open_filter,
    results_from_response,
    suggestions_from_response,
)
from search.models import SearchDocument
from search.query import Near, SearchQuery
from search.results import FacetValue
from search.text import synonym_rules

# Monday 23 November 2026, 10:00 in Los Angeles (PST, UTC-8).
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
NETWORK = SimpleNamespace(pk=7, time_zone="America/Los_Angeles", verification_interval_days=180)
EUREKA = Near(latitude=40.8, longitude=-124.16, label="95501")
UNREACHABLE = "http://127.0.0.1:9"

# --- the parts every search body shares --------------------------------------------------------

AGGS = {
    "category": {"terms": {"field": "categories", "size": 50}},
    "type": {"terms": {"field": "service_types", "size": 50}},
    "language": {"terms": {"field": "languages", "size": 50}},
    "fee": {"terms": {"field": "fee_type", "size": 50}},
    "capacity": {"terms": {"field": "capacity", "size": 50}},
}
HIGHLIGHT = {
    "fields": {
        "service_name": {"number_of_fragments": 0},
        "description": {"fragment_size": 220, "number_of_fragments": 1, "no_match_size": 220},
    },
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    "encoder": "html",
    "require_field_match": False,
}
SOURCE = {"excludes": ["names", "body", "openings", "suggest"]}
# 180 days before NOW: older verifications rank lower.
RANK_FUNCTIONS = [
    {"filter": {"term": {"capacity": "waitlist"}}, "weight": 0.8},
    {"filter": {"term": {"capacity": "not-accepting"}}, "weight": 0.5},
    {"filter": {"range": {"verified_at": {"lt": "2026-05-27T18:00:00+00:00"}}}, "weight": 0.8},
    {"filter": {"bool": {"must_not": [{"exists": {"field": "verified_at"}}]}}, "weight": 0.7},
    {"filter": {"term": {"status": "temporarily closed"}}, "weight": 0.5},
]
NETWORK_FILTER = {"term": {"network_id": "7"}}
EUREKA_POINT = {"lat": 40.8, "lon": -124.16}


def text_match(text: str) -> dict[str, Any]:
    return {
        "multi_match": {
            "query": text,
            "fields": ["names^3", "service_name^3", "agency_name^2", "body", "text_all"],
            "fuzziness": "AUTO",
            "operator": "and",
        }
    }


def opening_started(weekday: int, minute: int, day: str) -> dict[str, Any]:
    return {
        "bool": {
            "filter": [
                {
                    "nested": {
                        "path": "openings",
                        "query": {
                            "bool": {
                                "filter": [
                                    {"term": {"openings.start_weekday": weekday}},
                                    {"term": {"openings.minutes": minute}},
                                ]
                            }
                        },
                    }
                }
            ],
            "must_not": [{"term": {"closures": day}}],
        }
    }


def body(
    *,
    must: list[dict[str, Any]],
    filters: list[dict[str, Any]],
    functions: list[dict[str, Any]],
    sort: list[Any],
    start: int = 0,
    size: int = 20,
) -> dict[str, Any]:
    return {
        "query": {
            "function_score": {
                "query": {"bool": {"must": must, "filter": filters}},
                "functions": functions,
                "score_mode": "multiply",
                "boost_mode": "multiply",
            }
        },
        "aggs": AGGS,
        "sort": sort,
        "track_total_hits": True,
        "track_scores": True,
        "from": start,
        "size": size,
        "_source": SOURCE,
        "highlight": HIGHLIGHT,
    }


def make_document(**overrides: Any) -> SearchDocument:
    fields: dict[str, Any] = {
        "key": "11:5",
        "network_id": 7,
        "service_id": 11,
        "agency_id": 3,
        "location_id": 5,
        "service_name": "Eureka Food Bank",
        "agency_name": "Food for People",
        "location_name": "Main warehouse",
        "address": "307 W 14th St, Eureka, CA 95501",
        "city": "Eureka",
        "postal_code": "95501",
        "url": "/services/eureka-food-bank/",
        "description": "Groceries for <everyone> in Humboldt County.",
        "alert": "",
        "status": "active",
        "names": "Eureka Food Bank Food for People Food Insecurity",
        "body": "Groceries for everyone in Humboldt County. Main warehouse Eureka 95501",
        "latitude": 40.79,
        "longitude": -124.15,
        "fee_type": "free",
        "capacity": "accepting",
        "referral_method": "electronic",
        "phone": "(707) 445-3166",
        "minimum_age": 18,
        "maximum_age": None,
        "verified_at": datetime(2026, 10, 1, 12, 30, tzinfo=UTC),
        "categories": ["food-insecurity", "homelessness"],
        "service_types": ["food-pantry"],
        "languages": ["en", "es"],
        # Monday 9-17, and Sunday 22:00 until Monday 02:00 (wraps past the end of the week).
        "hours": [[0, "09:00", "17:00"], [6, "22:00", "02:00"]],
        "closures": [["2026-12-24", "2026-12-26"]],
    }
    fields.update(overrides)
    return SearchDocument(**fields)


# --- the index ---------------------------------------------------------------------------------


def test_the_index_has_folding_stemming_and_search_time_synonyms():
    settings = build_index("handoff-services-20261123").to_dict()["settings"]

    assert settings["number_of_shards"] == 1
    assert settings["max_result_window"] == 25_000  # MAX_PAGE * MAX_PAGE_SIZE can be reached
    assert settings["analysis"] == {
        "analyzer": {
            "handoff_text": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding", "handoff_english_stemmer"],
            },
            "handoff_text_search": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": [
                    "lowercase",
                    "asciifolding",
                    "handoff_synonyms",
                    "handoff_english_stemmer",
                ],
            },
            "handoff_suggest": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding"],
            },
        },
        "filter": {
            "handoff_english_stemmer": {"type": "stemmer", "language": "english"},
            "handoff_synonyms": {"type": "synonym_graph", "synonyms": synonym_rules()},
        },
    }
    assert "food bank, food pantry, food shelf, food closet" in synonym_rules()


def test_the_mapping_pins_what_queries_read_and_what_hits_show():
    mappings = build_index("handoff-services-20261123").to_dict()["mappings"]
    fields = mappings["properties"]
    text = {
        "type": "text",
        "analyzer": "handoff_text",
        "search_analyzer": "handoff_text_search",
    }
    shown = {"type": "keyword", "index": False, "doc_values": False}

    assert mappings["dynamic"] is False
    assert fields["network_id"] == {"type": "keyword"}
    assert fields["key"] == {"type": "keyword"}
    for name in ("service_name", "agency_name", "description", "text_all"):
        assert fields[name] == text, name
    for name in ("names", "body"):
        assert fields[name] == {**text, "copy_to": "text_all"}, name
    for name in (
        "categories",
        "service_types",
        "languages",
        "fee_type",
        "capacity",
        "referral_method",
        "status",
    ):
        assert fields[name] == {"type": "keyword"}, name
    for name in ("location_name", "address", "city", "postal_code", "url", "alert", "phone"):
        assert fields[name] == shown, name
    assert fields["point"] == {"type": "geo_point"}
    assert fields["latitude"] == fields["longitude"] == {"type": "float", "index": False}
    assert fields["minimum_age"] == fields["maximum_age"] == {"type": "integer"}
    assert fields["verified_at"] == {"type": "date"}
    assert fields["service_id"] == {"type": "integer"}
    assert fields["agency_id"] == fields["location_id"] == {"type": "integer", "index": False}
    assert fields["suggest"] == {
        "type": "completion",
        "analyzer": "handoff_suggest",
        "contexts": [{"name": "network", "type": "category"}],
    }
    assert fields["openings"] == {
        "type": "nested",
        "properties": {
            "start_weekday": {"type": "integer"},
            "minutes": {"type": "integer_range"},
        },
    }
    assert fields["closures"] == {"type": "date_range", "format": "yyyy-MM-dd"}
    assert fields["hours"] == {"type": "object", "enabled": False}
    # Every field a hit needs is mapped (dynamic mapping is off).
    assert set(document_source(make_document())) <= set(fields)


# --- documents ---------------------------------------------------------------------------------


def test_a_document_is_indexed_with_its_point_openings_closures_and_suggestions():
    source = document_source(make_document())

    assert source["network_id"] == 7
    assert source["point"] == {"lat": 40.79, "lon": -124.15}
    assert source["verified_at"] == "2026-10-01T12:30:00+00:00"
    assert source["hours"] == [
        {"weekday": 0, "opens": "09:00", "closes": "17:00"},
        {"weekday": 6, "opens": "22:00", "closes": "02:00"},
    ]
    # Minutes of the week; the Sunday night opening is split at the end of the week and both
    # halves keep the weekday it started on.
    assert source["openings"] == [
        {"start_weekday": 0, "minutes": {"gte": 540, "lt": 1020}},
        {"start_weekday": 6, "minutes": {"gte": 0, "lt": 120}},
        {"start_weekday": 6, "minutes": {"gte": 9960, "lt": 10080}},
    ]
    assert source["closures"] == [{"gte": "2026-12-24", "lte": "2026-12-26"}]
    assert source["suggest"] == [
        {"input": ["Eureka Food Bank"], "weight": 2, "contexts": {"network": ["7"]}},
        {
            "input": ["Food Insecurity", "Homelessness"],
            "weight": 3,
            "contexts": {"network": ["7"]},
        },
    ]


def test_a_document_without_a_place_or_categories_has_no_point_and_one_suggestion():
    source = document_source(
        make_document(latitude=None, longitude=None, categories=[], verified_at=None, hours=[])
    )

    assert source["point"] is None
    assert source["verified_at"] is None
    assert source["openings"] == []
    assert source["suggest"] == [
        {"input": ["Eureka Food Bank"], "weight": 2, "contexts": {"network": ["7"]}}
    ]


def test_a_document_comes_back_from_its_source_unchanged():
    original = make_document()
    back = document_from_source(json.loads(json.dumps(document_source(original))))

    for name in (
        "key",
        "network_id",
        "service_id",
        "agency_id",
        "location_id",
        "service_name",
        "agency_name",
        "description",
        "address",
        "url",
        "phone",
        "latitude",
        "longitude",
        "fee_type",
        "capacity",
        "referral_method",
        "minimum_age",
        "maximum_age",
        "verified_at",
        "categories",
        "service_types",
        "languages",
        "hours",
        "closures",
    ):
        assert getattr(back, name) == getattr(original, name), name
    assert back.pk is None


# --- queries -----------------------------------------------------------------------------------


def test_a_plain_text_search():
    search = build_search(SearchQuery(text="food bank"), network=NETWORK, now=NOW)

    assert search._index == ["handoff-services"]
    assert search.to_dict() == body(
        must=[text_match("food bank")],
        filters=[NETWORK_FILTER],
        functions=RANK_FUNCTIONS,
        sort=["_score", {"key": "asc"}],
    )


def test_a_search_with_a_place_every_filter_and_open_now():
    query = SearchQuery(
        text="rent help",
        near=EUREKA,
        radius_miles=5,
        categories=("food-insecurity", "homelessness"),
        service_types=("food-pantry",),
        languages=("es",),
        open_now=True,
        open_at=NOW,
        free_only=True,
        accepting_only=True,
        client_age=67,
        page=3,
        page_size=10,
    )

    search = build_search(query, network=NETWORK, now=NOW, index="handoff-test")

    assert search._index == ["handoff-test"]
    assert search.to_dict() == body(
        must=[text_match("rent help")],
        filters=[
            NETWORK_FILTER,
            {"geo_distance": {"distance": "5mi", "point": EUREKA_POINT}},
            {"terms": {"categories": ["food-insecurity", "homelessness"]}},
            {"terms": {"service_types": ["food-pantry"]}},
            {"terms": {"languages": ["es"]}},
            {"term": {"fee_type": "free"}},
            {"term": {"capacity": "accepting"}},
            {
                "bool": {
                    "filter": [
                        {
                            "bool": {
                                "should": [
                                    {"range": {"minimum_age": {"lte": 67}}},
                                    {"bool": {"must_not": [{"exists": {"field": "minimum_age"}}]}},
                                ],
                                "minimum_should_match": 1,
                            }
                        },
                        {
                            "bool": {
                                "should": [
                                    {"range": {"maximum_age": {"gte": 67}}},
                                    {"bool": {"must_not": [{"exists": {"field": "maximum_age"}}]}},
                                ],
                                "minimum_should_match": 1,
                            }
                        },
                    ]
                }
            },
            # Monday 10:00 local is minute 600; an opening that began today (Monday, not
            # closed) or yesterday (Sunday, not closed) and contains that minute.
            {
                "bool": {
                    "should": [
                        opening_started(0, 600, "2026-11-23"),
                        opening_started(6, 600, "2026-11-22"),
                    ],
                    "minimum_should_match": 1,
                }
            },
        ],
        functions=[
            {
                "gauss": {
                    "point": {"origin": EUREKA_POINT, "scale": "5mi", "offset": "1mi"},
                }
            },
            *RANK_FUNCTIONS,
        ],
        sort=["_score", {"key": "asc"}],
        start=20,
        size=10,
    )


def test_a_search_sorted_by_distance():
    query = SearchQuery(text="shelter", near=EUREKA, radius_miles=10, sort="distance", page=2)

    result = build_search(query, network=NETWORK, now=NOW).to_dict()

    assert result["sort"] == [
        {
            "_geo_distance": {
                "point": EUREKA_POINT,
                "order": "asc",
                "unit": "mi",
                "distance_type": "arc",
            }
        },
        "_score",
        {"key": "asc"},
    ]
    assert result == body(
        must=[text_match("shelter")],
        filters=[
            NETWORK_FILTER,
            {"geo_distance": {"distance": "10mi", "point": EUREKA_POINT}},
        ],
        functions=[
            {"gauss": {"point": {"origin": EUREKA_POINT, "scale": "10mi", "offset": "1mi"}}},
            *RANK_FUNCTIONS,
        ],
        sort=result["sort"],
        start=20,
    )


def test_distance_sort_without_a_place_is_by_relevance():
    result = build_search(SearchQuery(text="shelter", sort="distance"), network=NETWORK, now=NOW)

    assert result.to_dict()["sort"] == ["_score", {"key": "asc"}]


def test_a_category_without_words_matches_everything_in_it():
    query = SearchQuery(categories=("food-insecurity",))

    assert build_search(query, network=NETWORK, now=NOW).to_dict() == body(
        must=[{"match_all": {}}],  # a bool of filters alone would score 0 for every function
        filters=[NETWORK_FILTER, {"terms": {"categories": ["food-insecurity"]}}],
        functions=RANK_FUNCTIONS,
        sort=["_score", {"key": "asc"}],
    )


@pytest.mark.parametrize(
    ("at", "today", "yesterday"),
    [
        # 05:30 UTC on Tuesday is still Monday 21:30 in Los Angeles.
        (datetime(2026, 11, 24, 5, 30, tzinfo=UTC), (0, 1290, "2026-11-23"), (6, "2026-11-22")),
        # Monday 01:00 local: Sunday night's opening, split at the end of the week, is minute 60.
        (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), (0, 60, "2026-11-23"), (6, "2026-11-22")),
        # Sunday 23:30 local (PST): the last hour of the week.
        (datetime(2026, 11, 30, 7, 30, tzinfo=UTC), (6, 10050, "2026-11-29"), (5, "2026-11-28")),
        # Summer time: 16:00 UTC is 09:00 PDT on Wednesday 1 July.
        (datetime(2026, 7, 1, 16, 0, tzinfo=UTC), (2, 3420, "2026-07-01"), (1, "2026-06-30")),
    ],
)
def test_open_now_reads_the_local_minute_of_the_week_and_dates(at, today, yesterday):
    weekday, minute, day = today
    previous_weekday, previous_day = yesterday

    found = open_filter(at, ZoneInfo("America/Los_Angeles")).to_dict()

    assert found == {
        "bool": {
            "should": [
                opening_started(weekday, minute, day),
                opening_started(previous_weekday, minute, previous_day),
            ],
            "minimum_should_match": 1,
        }
    }


def test_open_now_without_an_instant_uses_now():
    with_now = build_search(SearchQuery(open_now=True), network=NETWORK, now=NOW).to_dict()
    explicit = build_search(
        SearchQuery(open_now=True, open_at=NOW), network=NETWORK, now=NOW
    ).to_dict()

    assert with_now == explicit


def test_a_suggestion_request_stays_in_the_network():
    request = build_suggest("foo", network=NETWORK, limit=5, index="handoff-test")

    assert request._index == ["handoff-test"]
    assert request.to_dict() == {
        "size": 0,
        "_source": False,
        "suggest": {
            "names": {
                "prefix": "foo",
                "completion": {
                    "field": "suggest",
                    "size": 5,
                    "skip_duplicates": True,
                    "contexts": {"network": ["7"]},
                },
            }
        },
    }


# --- responses ---------------------------------------------------------------------------------


def response_hit(doc: SearchDocument, **extra: Any) -> dict[str, Any]:
    source = {k: v for k, v in document_source(doc).items() if k not in es_backend.SOURCE_EXCLUDES}
    return {
        "_index": "handoff-services-1",
        "_id": doc.key,
        "_score": 2.5,
        "_source": source,
        **extra,
    }


def test_a_response_becomes_hits_facets_and_a_total():
    query = SearchQuery(
        text="food",
        near=EUREKA,
        radius_miles=10,
        sort="distance",
        categories=("food-insecurity",),
        free_only=True,
    )
    fresh = make_document()
    stale = make_document(
        key="12:0",
        service_id=12,
        location_id=None,
        service_name="Old Pantry",
        verified_at=None,
        hours=[],
        latitude=None,
        longitude=None,
    )
    response = {
        "took": 3,
        "hits": {
            "total": {"value": 42, "relation": "eq"},
            "hits": [
                response_hit(
                    fresh,
                    sort=[0.8, 2.5, "11:5"],
                    highlight={
                        "description": ["<mark>Groceries</mark> for &lt;everyone&gt;"],
                        "service_name": ["Eureka <mark>Food</mark> Bank"],
                    },
                ),
                response_hit(stale, _score=None, sort=[3.25, 1.0, "12:0"]),
            ],
        },
        "aggregations": {
            "category": {"buckets": [{"key": "food-insecurity", "doc_count": 40}]},
            "type": {"buckets": [{"key": "food-pantry", "doc_count": 30}]},
            "language": {"buckets": [{"key": "es", "doc_count": 12}]},
            "fee": {"buckets": [{"key": "free", "doc_count": 42}]},
            "capacity": {
                "buckets": [
                    {"key": "accepting", "doc_count": 39},
                    {"key": "waitlist", "doc_count": 3},
                ]
            },
        },
    }

    results = results_from_response(
        response,
        query,
        network=NETWORK,
        now=NOW,
        type_names={"food-pantry": "Food pantry"},
        took_ms=4.5,
    )

    assert results.backend == "elasticsearch"
    assert results.total == 42
    assert results.took_ms == 4.5
    assert results.query is query
    first, second = results.hits
    assert (first.key, first.service_id, first.location_id) == ("11:5", 11, 5)
    assert first.distance_miles == 0.8  # the sort value, in miles
    assert first.score == 2.5
    assert first.highlights == {
        "description": "<mark>Groceries</mark> for &lt;everyone&gt;",
        "service_name": "Eureka <mark>Food</mark> Bank",
    }
    assert first.stale is False
    assert first.open_status is not None
    assert first.open_status.is_open is True  # Monday 10:00, open 9-17
    assert first.categories == ["food-insecurity", "homelessness"]
    assert (second.key, second.location_id, second.score) == ("12:0", None, 0.0)
    assert second.stale is True  # never verified
    assert second.open_status is None  # no hours listed
    assert results.facets == {
        "category": [FacetValue("food-insecurity", "Food Insecurity", 40, selected=True)],
        "type": [FacetValue("food-pantry", "Food pantry", 30, selected=False)],
        "language": [FacetValue("es", "Spanish", 12, selected=False)],
        "fee": [FacetValue("free", "Free", 42, selected=True)],
        "capacity": [
            FacetValue("accepting", "Accepting clients", 39, selected=False),
            FacetValue("waitlist", "Waitlist", 3, selected=False),
        ],
    }


def test_without_distance_sort_the_distance_is_measured():
    query = SearchQuery(text="food", near=EUREKA, radius_miles=10)
    response = {
        "hits": {"total": {"value": 1, "relation": "eq"}, "hits": [response_hit(make_document())]},
    }

    results = results_from_response(response, query, network=NETWORK, now=NOW, type_names={})

    assert results.hits[0].distance_miles == pytest.approx(0.86, abs=0.01)
    assert results.facets == {
        kind: [] for kind in ("category", "type", "language", "fee", "capacity")
    }


def test_suggestions_tell_categories_from_services_once_each():
    response = {
        "suggest": {
            "names": [
                {
                    "text": "foo",
                    "offset": 0,
                    "length": 3,
                    "options": [
                        {"text": "Food Insecurity", "_id": "1:0", "_score": 3.0},
                        {"text": "Food for People", "_id": "2:0", "_score": 2.0},
                        {"text": "Food for People", "_id": "3:0", "_score": 2.0},
                    ],
                }
            ]
        }
    }

    assert suggestions_from_response(response) == [
        base.Suggestion(label="Food Insecurity", kind="category", value="food-insecurity"),
        base.Suggestion(label="Food for People", kind="service", value="Food for People"),
    ]
    assert suggestions_from_response({}) == []


# --- bulk writes -------------------------------------------------------------------------------


@dataclass
class BulkCall:
    client: Any
    actions: list[dict[str, Any]]
    kwargs: dict[str, Any]


@pytest.fixture
def bulk_calls(monkeypatch) -> list[BulkCall]:
    """Every helpers.bulk call, with its actions; answers that all of them succeeded."""
    calls: list[BulkCall] = []

    def fake_bulk(client, actions, **kwargs):
        calls.append(BulkCall(client, list(actions), kwargs))
        return len(calls[-1].actions), []

    monkeypatch.setattr(helpers, "bulk", fake_bulk)
    return calls


def backend(**params: Any) -> SearchBackend:
    return SearchBackend({"URLS": [UNREACHABLE], "INDEX": "handoff-test", **params})


def test_documents_are_indexed_by_key_into_the_alias(bulk_calls):
    first = make_document()
    second = make_document(key="12:0", service_id=12, location_id=None)
    search = backend()

    search.documents_index([first, second])

    (call,) = bulk_calls
    assert call.client is search.write_client
    assert call.kwargs == {"chunk_size": 500, "raise_on_error": False, "require_alias": True}
    assert call.actions == [
        {
            "_op_type": "index",
            "_index": "handoff-test",
            "_id": "11:5",
            "_source": document_source(first),
        },
        {
            "_op_type": "index",
            "_index": "handoff-test",
            "_id": "12:0",
            "_source": document_source(second),
        },
    ]
    assert call.actions[1]["_source"]["service_id"] == 12
    assert call.actions[1]["_source"]["location_id"] is None


def test_documents_are_deleted_by_key_from_the_alias(bulk_calls):
    backend().documents_delete(["11:5", "12:0"])

    (call,) = bulk_calls
    assert call.kwargs["require_alias"] is True
    assert call.actions == [
        {"_op_type": "delete", "_index": "handoff-test", "_id": "11:5"},
        {"_op_type": "delete", "_index": "handoff-test", "_id": "12:0"},
    ]


def test_deleting_a_document_that_is_not_there_is_fine(monkeypatch):
    gone = {"delete": {"_id": "11:5", "status": 404, "result": "not_found"}}
    monkeypatch.setattr(helpers, "bulk", lambda client, actions, **kwargs: (0, [gone]))

    backend().documents_delete(["11:5"])  # no exception


@pytest.mark.parametrize(
    "failure",
    [
        {"index": {"_id": "11:5", "status": 404, "error": {"type": "index_not_found_exception"}}},
        {"index": {"_id": "11:5", "status": 429, "error": {"type": "es_rejected_execution"}}},
        {"delete": {"_id": "11:5", "status": 404, "error": {"type": "index_not_found_exception"}}},
    ],
)
def test_a_failed_bulk_action_means_unavailable(monkeypatch, failure):
    monkeypatch.setattr(helpers, "bulk", lambda client, actions, **kwargs: (0, [failure]))

    with pytest.raises(base.SearchBackendUnavailable, match="1 action"):
        backend().documents_index([make_document()])


def test_urls_are_required():
    with pytest.raises(es_backend.ImproperlyConfigured, match="URLS"):
        SearchBackend({"URLS": []})


def test_settings_give_the_alias_and_a_fast_failing_client():
    search = SearchBackend({"URLS": [UNREACHABLE], "TIMEOUT": 0.5})

    assert search.alias == "handoff-services"
    assert search.timeout == 0.5
    # Per-request defaults of the 8.x client: queries fail fast, writes may retry.
    assert search.client._request_timeout == 0.5
    assert search.client._max_retries == 0
    assert search.client._retry_on_timeout is False
    assert search.write_client._request_timeout == 30.0
    assert search.write_client._max_retries == 2


# --- a cluster that cannot answer --------------------------------------------------------------


@pytest.fixture
def unreachable() -> SearchBackend:
    return SearchBackend({"URLS": [UNREACHABLE], "INDEX": "handoff-test", "TIMEOUT": 0.5})


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.search(SearchQuery(text="food"), network=NETWORK, now=NOW),
        lambda b: b.suggest("foo", network=NETWORK),
        lambda b: b.documents_index([make_document()]),
        lambda b: b.documents_delete(["11:5"]),
        lambda b: b.rebuild([make_document()], total=1),
    ],
    ids=["search", "suggest", "documents_index", "documents_delete", "rebuild"],
)
def test_an_unreachable_server_means_unavailable(unreachable, call):
    started = time.perf_counter()

    with pytest.raises(base.SearchBackendUnavailable) as raised:
        call(unreachable)

    assert isinstance(raised.value.__cause__, ConnectionError)
    assert time.perf_counter() - started < 5


def test_an_empty_prefix_asks_nothing(unreachable):
    assert unreachable.suggest("   ", network=NETWORK) == []


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_server_that_does_not_answer_in_time_means_unavailable(silent_port):
    search = SearchBackend({"URLS": [f"http://127.0.0.1:{silent_port}"], "TIMEOUT": 0.3})
    started = time.perf_counter()

    with pytest.raises(base.SearchBackendUnavailable) as raised:
        search.search(SearchQuery(text="food"), network=NETWORK, now=NOW)

    assert isinstance(raised.value.__cause__, ConnectionTimeout)
    assert time.perf_counter() - started < 3


# --- a fake cluster over HTTP ------------------------------------------------------------------

Responder = Callable[[str, str, bytes], tuple[int, Any]]


@dataclass
class FakeCluster:
    url: str
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    respond: Responder = lambda method, path, raw: (200, {})

    def paths(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _raw in self.requests]


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    """An HTTP server answering like Elasticsearch with whatever ``respond`` returns."""
    state: dict[str, FakeCluster] = {}

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            fake = state["cluster"]
            fake.requests.append((self.command, path, raw))
            status, payload = fake.respond(self.command, path, raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["cluster"] = FakeCluster(url=f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state["cluster"]
    server.shutdown()
    server.server_close()


def error(status: int, kind: str) -> tuple[int, Any]:
    return status, {"error": {"type": kind, "reason": kind}, "status": status}


@pytest.mark.parametrize(
    "answer",
    [
        error(503, "cluster_block_exception"),
        error(500, "search_phase_execution_exception"),
        error(429, "es_rejected_execution_exception"),
        error(404, "index_not_found_exception"),
    ],
)
def test_a_failing_or_unbuilt_cluster_means_unavailable(cluster, answer):
    cluster.respond = lambda method, path, raw: answer
    search = SearchBackend({"URLS": [cluster.url], "INDEX": "handoff-test"})

    with pytest.raises(base.SearchBackendUnavailable, match="could not search"):
        search.search(SearchQuery(text="food"), network=NETWORK, now=NOW)
    with pytest.raises(base.SearchBackendUnavailable, match="could not suggest"):
        search.suggest("foo", network=NETWORK)


def test_a_bad_request_is_a_bug_not_an_outage(cluster):
    cluster.respond = lambda method, path, raw: error(400, "parsing_exception")
    search = SearchBackend({"URLS": [cluster.url], "INDEX": "handoff-test"})

    with pytest.raises(BadRequestError):
        search.search(SearchQuery(text="food"), network=NETWORK, now=NOW)


def test_a_search_sends_the_built_body_to_the_alias_and_reads_the_answer(cluster):
    doc = make_document()
    cluster.respond = lambda method, path, raw: (
        200,
        {
            "took": 2,
            "hits": {"total": {"value": 1, "relation": "eq"}, "hits": [response_hit(doc)]},
            "aggregations": {"fee": {"buckets": [{"key": "free", "doc_count": 1}]}},
        },
    )
    search = SearchBackend({"URLS": [cluster.url], "INDEX": "handoff-test"})
    query = SearchQuery(text="food bank", page_size=5)

    results = search.search(query, network=NETWORK, now=NOW)

    ((method, path, raw),) = cluster.requests
    assert (method, path) == ("POST", "/handoff-test/_search")
    assert json.loads(raw) == build_search(query, network=NETWORK, now=NOW).to_dict()
    assert [hit.key for hit in results.hits] == ["11:5"]
    assert results.total == 1
    assert results.facets["fee"] == [FacetValue("free", "Free", 1, selected=False)]
    assert results.took_ms > 0


@pytest.mark.django_db
def test_service_type_labels_come_from_the_network(cluster, tenant_a):
    network = tenant_a.network
    cluster.respond = lambda method, path, raw: (
        200,
        {
            "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
            "aggregations": {"type": {"buckets": [{"key": "unknown-type", "doc_count": 2}]}},
        },
    )
    search = SearchBackend({"URLS": [cluster.url], "INDEX": "handoff-test"})

    results = search.search(SearchQuery(service_types=("unknown-type",)), network=network, now=NOW)

    ((_method, _path, raw),) = cluster.requests
    assert json.loads(raw)["query"]["function_score"]["query"]["bool"]["filter"][0] == {
        "term": {"network_id": str(network.pk)}
    }
    # No such term in the network: the code is its own label.
    assert results.facets["type"] == [FacetValue("unknown-type", "unknown-type", 2, selected=True)]


def test_a_suggestion_round_trip(cluster):
    cluster.respond = lambda method, path, raw: (
        200,
        {
            "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
            "suggest": {
                "names": [
                    {
                        "text": "hom",
                        "offset": 0,
                        "length": 3,
                        "options": [{"text": "Homelessness", "_id": "1:0", "_score": 3.0}],
                    }
                ]
            },
        },
    )
    search = SearchBackend({"URLS": [cluster.url], "INDEX": "handoff-test"})

    found = search.suggest("  hom ", network=NETWORK, limit=3)

    ((method, path, raw),) = cluster.requests
    assert (method, path) == ("POST", "/handoff-test/_search")
    assert json.loads(raw) == build_suggest("hom", network=NETWORK, limit=3).to_dict()
    assert found == [base.Suggestion("Homelessness", "category", "homelessness")]


def rebuild_cluster(cluster: FakeCluster, *, bulk_status: int = 201) -> None:
    def respond(method: str, path: str, raw: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/_alias/handoff-test":
            return 200, {"handoff-test-20260101000000000000": {"aliases": {"handoff-test": {}}}}
        if path == "/_bulk":
            lines = [json.loads(line) for line in raw.decode().splitlines() if line]
            items = [
                {"index": {"_id": action["index"]["_id"], "status": bulk_status}}
                for action in lines[::2]
            ]
            return 200, {"took": 1, "errors": bulk_status >= 300, "items": items}
        return 200, {"acknowledged": True}

    cluster.respond = respond


def test_a_rebuild_loads_a_new_index_then_moves_the_alias_in_one_request(cluster):
    rebuild_cluster(cluster)
    search = SearchBackend({"URLS": [cluster.url], "INDEX": "handoff-test"})
    docs = [make_document(key=f"{n}:0", service_id=n) for n in range(1, 1203)]
    progress: list[tuple[int, int]] = []

    search.rebuild(
        iter(docs), total=len(docs), progress=lambda done, total: progress.append((done, total))
    )

    paths = cluster.paths()
    method, created = paths[0]
    new_index = created.lstrip("/")
    assert method == "PUT"
    assert re.fullmatch(r"handoff-test-\d{20}", new_index)
    assert paths[1:] == [
        ("PUT", "/_bulk"),
        ("PUT", "/_bulk"),
        ("PUT", "/_bulk"),
        ("POST", f"/{new_index}/_refresh"),
        ("GET", "/_alias/handoff-test"),
        ("POST", "/_aliases"),
        ("DELETE", "/handoff-test-20260101000000000000"),
    ]
    assert json.loads(cluster.requests[0][2]) == build_index(new_index).to_dict()
    bulk_lines = [
        json.loads(line)
        for _method, path, raw in cluster.requests
        if path == "/_bulk"
        for line in raw.decode().splitlines()
    ]
    assert len(bulk_lines) == 2 * len(docs)
    assert bulk_lines[0] == {"index": {"_index": new_index, "_id": "1:0"}}
    assert bulk_lines[1] == json.loads(json.dumps(document_source(docs[0])))
    assert json.loads(cluster.requests[-2][2]) == {
        "actions": [
            {"remove": {"index": "handoff-test-20260101000000000000", "alias": "handoff-test"}},
            {"add": {"index": new_index, "alias": "handoff-test"}},
        ]
    }
    assert progress == [(500, 1202), (1000, 1202), (1202, 1202)]


def test_a_failed_rebuild_leaves_the_alias_and_removes_the_new_index(cluster):
    rebuild_cluster(cluster, bulk_status=400)
    search = SearchBackend({"URLS": [cluster.url], "INDEX": "handoff-test"})

    with pytest.raises(base.SearchBackendUnavailable, match="load the index"):
        search.rebuild([make_document()], total=1)

    paths = cluster.paths()
    new_index = paths[0][1]
    assert paths[1:] == [("PUT", "/_bulk"), ("DELETE", new_index)]


# --- a real cluster ----------------------------------------------------------------------------

ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "")


@pytest.mark.skipif(
    not ELASTICSEARCH_URL,
    reason="ELASTICSEARCH_URL is not set: no Elasticsearch server to test against",
)
class TestAgainstARealCluster:
    @pytest.fixture
    def search(self) -> Iterator[SearchBackend]:
        alias = f"handoff-test-{uuid.uuid4().hex[:12]}"
        found = SearchBackend({"URLS": [ELASTICSEARCH_URL], "INDEX": alias, "TIMEOUT": 10})
        yield found
        # Wildcard deletes are refused by default (action.destructive_requires_name).
        names = list(found.write_client.indices.get(index=f"{alias}-*").body)
        if names:
            found.write_client.indices.delete(index=names)

    def test_rebuild_search_suggest_and_delete(self, search):
        other_network = make_document(key="99:0", service_id=99, network_id=8)
        far = make_document(key="12:0", service_id=12, latitude=34.05, longitude=-118.24)
        search.rebuild([make_document(), far, other_network], total=3)

        found = search.search(
            SearchQuery(text="fod bank", near=EUREKA, radius_miles=10), network=NETWORK, now=NOW
        )
        assert [hit.key for hit in found.hits] == ["11:5"]  # misspelt, nearby, this network
        assert found.total == 1
        assert "<mark>" in found.hits[0].highlights["service_name"]

        pantry = search.search(SearchQuery(text="food pantry"), network=NETWORK, now=NOW)
        assert {hit.key for hit in pantry.hits} == {"11:5", "12:0"}  # a synonym of food bank

        suggestions = search.suggest("eur", network=NETWORK)
        assert suggestions == [base.Suggestion("Eureka Food Bank", "service", "Eureka Food Bank")]

        search.rebuild([make_document()], total=1)  # the alias moves; the old index goes
        search.documents_delete(["11:5"])
        search.write_client.indices.refresh(index=search.alias)
        assert search.search(SearchQuery(text="food"), network=NETWORK, now=NOW).total == 0
