"""Writing to Elasticsearch: documents indexed and deleted by key through the alias in bulk,
and a rebuild that loads a new index behind the alias (over a fake cluster).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from elasticsearch import helpers

from search.backends import base
from search.backends.elasticsearch import SearchBackend
from search.backends.elasticsearch_mapping import build_index, document_source
from tests.search.elasticsearch_support import UNREACHABLE, FakeCluster, make_document


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


# --- rebuilds behind the alias -------------------------------------------------------------------


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
