"""Elasticsearch request bodies without a server: the search (full text, every filter, open
now, ranking, sorting, facets, highlights) and the completion request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from search.backends.elasticsearch_query import build_search, build_suggest, open_filter
from search.query import SearchQuery
from tests.search.elasticsearch_support import EUREKA, NETWORK, NOW

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
    text: str = "",
) -> dict[str, Any]:
    found = {
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
    if text:  # every text search asks for a "Did you mean" correction
        found["suggest"] = {"did_you_mean": {"text": text, "phrase": DID_YOU_MEAN}}
    return found


# The phrase suggester: corrections from the unstemmed words, kept when they find a service of
# the network.
DID_YOU_MEAN = {
    "field": "spelling",
    "size": 1,
    "max_errors": 2,
    "direct_generator": [
        {"field": "spelling", "suggest_mode": "missing", "min_word_length": 3, "prefix_length": 1}
    ],
    "collate": {
        "query": {
            "source": {
                "bool": {
                    "filter": [
                        {"term": {"network_id": "{{network}}"}},
                        {"match": {"spelling": {"query": "{{suggestion}}", "operator": "and"}}},
                    ]
                }
            }
        },
        "params": {"network": "7"},
        "prune": False,
    },
}


# --- queries -----------------------------------------------------------------------------------


def test_a_plain_text_search():
    search = build_search(SearchQuery(text="pantry hours"), network=NETWORK, now=NOW)

    assert search._index == ["handoff-services"]
    assert search.to_dict() == body(
        must=[text_match("pantry hours")],
        filters=[NETWORK_FILTER],
        functions=RANK_FUNCTIONS,
        sort=["_score", {"key": "asc"}],
        text="pantry hours",
    )


@pytest.mark.parametrize(
    ("text", "typed", "needs"),
    [
        ("comida", "groceries", ["food-insecurity"]),  # the line's first phrase; ES expands it
        ("food stamps", "food stamps", ["food-insecurity"]),
        ("vivienda", "housing", ["housing-instability", "inadequate-housing"]),
        ("ride to doctor", "ride doctor", ["transportation-insecurity"]),
        ("rent help", "rent help", ["housing-instability"]),
    ],
)
def test_a_phrase_that_names_a_need_also_finds_that_needs_services(text, typed, needs):
    result = build_search(SearchQuery(text=text), network=NETWORK, now=NOW).to_dict()

    assert result == body(
        must=[
            {
                "bool": {
                    "should": [text_match(typed), {"terms": {"categories": needs}}],
                    "minimum_should_match": 1,
                }
            }
        ],
        filters=[NETWORK_FILTER],
        functions=RANK_FUNCTIONS,
        sort=["_score", {"key": "asc"}],
        text=text,
    )


def test_each_word_of_a_query_with_a_need_must_still_match():
    result = build_search(SearchQuery(text="comida arcata"), network=NETWORK, now=NOW).to_dict()

    assert result["query"]["function_score"]["query"]["bool"]["must"] == [
        {
            "bool": {
                "should": [text_match("groceries"), {"terms": {"categories": ["food-insecurity"]}}],
                "minimum_should_match": 1,
            }
        },
        text_match("arcata"),
    ]


def test_a_search_without_words_asks_for_no_correction():
    result = build_search(SearchQuery(free_only=True), network=NETWORK, now=NOW).to_dict()
    assert "suggest" not in result


def test_a_search_with_a_place_every_filter_and_open_now():
    query = SearchQuery(
        text="pantry",
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
        must=[text_match("pantry")],
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
        text="pantry",
    )


def test_a_search_sorted_by_distance():
    query = SearchQuery(text="beds", near=EUREKA, radius_miles=10, sort="distance", page=2)

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
        must=[text_match("beds")],
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
        text="beds",
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
