"""Elasticsearch responses without a server: how a search response becomes hits, facets and a
total, and a completion response becomes suggestions.
"""

from __future__ import annotations

import pytest

from search.backends import base
from search.backends.elasticsearch_response import results_from_response, suggestions_from_response
from search.query import SearchQuery
from search.results import FacetValue
from tests.search.elasticsearch_support import EUREKA, NETWORK, NOW, make_document, response_hit


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
        "category": [FacetValue("food-insecurity", "Food", 40, selected=True)],
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
        base.Suggestion(label="Food", kind="category", value="food-insecurity"),
        base.Suggestion(label="Food for People", kind="service", value="Food for People"),
    ]
    assert suggestions_from_response({}) == []
