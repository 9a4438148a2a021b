"""An HSDS 3.0 API of our own for the feed tests: nested service objects, served in pages in the
reference's envelope by a small HTTP server on this machine, which can be told to fail."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.processes import served

NS = uuid.UUID("6f1e3f0e-5a43-4f3a-9a36-8d6a3c1c0f00")


def ident(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


def feed_service(n: int, *, org: int | None = None, name: str | None = None) -> dict[str, Any]:
    """Service ``n`` of organization ``org`` (n // 3 unless given), nested as the API returns it."""
    org = n // 3 if org is None else org
    location = {
        "id": ident("loc", org),
        "name": f"Office {org}",
        "location_type": "physical",
        "latitude": round(40.8 + org / 1000, 6),
        "longitude": -124.16,
        "addresses": [
            {
                "id": ident("addr", org),
                "address_1": f"{100 + org} Main St",
                "city": "Eureka",
                "state_province": "CA",
                "postal_code": "95501",
                "country": "US",
                "address_type": "physical",
            }
        ],
    }
    return {
        "id": ident("svc", n),
        "name": name or f"Service {n}",
        "description": f"What service {n} offers.",
        "status": "active",
        "organization": {
            "id": ident("org", org),
            "name": f"Agency {org}",
            "description": f"Agency {org} of the feed.",
        },
        "service_at_locations": [{"id": ident("sal", n), "location": location}],
        "phones": [{"id": ident("phone", n), "number": "707-555-0100"}],
    }


@dataclass
class FeedServer:
    """Serves ``services`` at ``/api/hsds/services`` in pages; ``failures`` maps a page number
    to the statuses its next requests answer (then it answers normally); ``broken`` maps a page
    number to the body it answers instead of the page."""

    services: list[dict[str, Any]]
    api_key: str = ""
    api_key_header: str = "X-Api-Key"
    failures: dict[int, list[int]] = field(default_factory=dict)
    broken: dict[int, bytes] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def page(self, number: int, per_page: int) -> dict[str, Any]:
        total = len(self.services)
        pages = max(1, math.ceil(total / per_page))
        contents = self.services[(number - 1) * per_page : number * per_page]
        return {
            "total_items": total,
            "total_pages": pages,
            "page_number": number,
            "size": len(contents),
            "first_page": number == 1,
            "last_page": number >= pages,
            "empty": not contents,
            "contents": contents,
        }


@contextmanager
def feed_served(server: FeedServer) -> Iterator[FeedServer]:
    """Run ``server`` on a free port of 127.0.0.1 while the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            server.requests.append((parts.path, dict(self.headers)))
            if parts.path != "/api/hsds/services":
                return self._answer(404, b'{"error": "not found"}')
            if server.api_key and self.headers.get(server.api_key_header) != server.api_key:
                return self._answer(401, b'{"error": "unauthorized"}')
            number = int(query.get("page", "1"))
            pending = server.failures.get(number)
            if pending:
                return self._answer(pending.pop(0), b'{"error": "unavailable"}')
            if number in server.broken:
                return self._answer(200, server.broken[number])
            body = json.dumps(server.page(number, int(query.get("per_page", "50"))))
            return self._answer(200, body.encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/api/hsds/"
    with served(httpd):
        yield server
