"""A small round trip against a real Elasticsearch cluster; runs only when ELASTICSEARCH_URL
is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from search.backends import base
from search.backends.elasticsearch import SearchBackend
from search.query import SearchQuery
from tests.search.elasticsearch_support import EUREKA, NETWORK, NOW, make_document

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
