"""The Elasticsearch backend's client: what the settings give, and searches and suggestions
sent to the alias of a fake cluster over HTTP and read back.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from search.backends import base
from search.backends.elasticsearch import SearchBackend
from search.backends.elasticsearch_query import build_search, build_suggest
from search.query import SearchQuery
from search.results import FacetValue
from tests.search.elasticsearch_support import (
    NETWORK,
    NOW,
    UNREACHABLE,
    make_document,
    response_hit,
)


def test_urls_are_required():
    with pytest.raises(ImproperlyConfigured, match="URLS"):
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


# --- a fake cluster over HTTP ------------------------------------------------------------------


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
    assert found == [base.Suggestion("Shelter", "category", "homelessness")]
