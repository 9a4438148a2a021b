"""A dead, slow, failing or unbuilt Elasticsearch cluster means "ask the database"
(``SearchBackendUnavailable``); a bad request is a bug and is raised as it is.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, ConnectionError, ConnectionTimeout

from search.backends import base
from search.backends.elasticsearch import SearchBackend
from search.query import SearchQuery
from tests.search.elasticsearch_support import NETWORK, NOW, UNREACHABLE, make_document


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


# --- a cluster that answers with an error ------------------------------------------------------


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
