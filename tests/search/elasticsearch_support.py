"""What the Elasticsearch backend's tests share: a fixed instant and network, a document, a
search hit, and a fake cluster over HTTP (the ``cluster`` fixture in conftest.py runs one).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from search.backends.elasticsearch_mapping import document_source
from search.backends.elasticsearch_query import SOURCE_EXCLUDES
from search.models import SearchDocument
from search.query import Near

# Monday 23 November 2026, 10:00 in Los Angeles (PST, UTC-8).
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
NETWORK = SimpleNamespace(pk=7, time_zone="America/Los_Angeles", verification_interval_days=180)
EUREKA = Near(latitude=40.8, longitude=-124.16, label="95501")
UNREACHABLE = "http://127.0.0.1:9"


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


def response_hit(doc: SearchDocument, **extra: Any) -> dict[str, Any]:
    source = {k: v for k, v in document_source(doc).items() if k not in SOURCE_EXCLUDES}
    return {
        "_index": "handoff-services-1",
        "_id": doc.key,
        "_score": 2.5,
        "_source": source,
        **extra,
    }


Responder = Callable[[str, str, bytes], tuple[int, Any]]


@dataclass
class FakeCluster:
    url: str
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    respond: Responder = lambda method, path, raw: (200, {})

    def paths(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _raw in self.requests]


@contextmanager
def fake_cluster() -> Iterator[FakeCluster]:
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
