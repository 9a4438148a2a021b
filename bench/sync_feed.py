"""Benchmark an HSDS feed sync: N services read page by page from an HSDS API on this machine and
applied to a network's directory, in a throwaway database.

    DJANGO_SETTINGS_MODULE=cms.settings.dev .venv/bin/python -m bench.sync_feed \\
        [--services 20000] [--per-page 100] [--database-url postgres://user@host:5432/postgres]

The feed's services are the synthetic package of ``bench.hsds_package``, imported into a source
network and turned into nested HSDS service objects by the exporter
(``directory.hsds.writing.nested_services``); their pages are made once, then served from memory
by a small HTTP server in a thread. Measured: ``feed_sync_run`` into a second network (every page
fetched over HTTP, merged, validated and imported in one transaction, listings marked), then the
same sync again (nothing changed), and the fetch alone. Search indexing, a worker task after
commit in production, is collected and left out, as in ``bench.import_directory``.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.import_directory import (
    TARGET_SERVICES_PER_SECOND,
    Database,
    bench_start,
    in_throwaway_database,
    mib,
    out,
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=20_000)
    parser.add_argument("--services-per-agency", type=int, default=5)
    parser.add_argument("--per-page", type=int, default=100, help="the feed's page size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.services < 1 or not 1 <= args.per_page <= 1000:
        parser.error("--services must be at least 1 and --per-page from 1 to 1000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return in_throwaway_database(parse_args(argv), "handoff-bench-feed-", run)


def feed_pages(services: list[dict[str, Any]], per_page: int) -> dict[int, bytes]:
    """The feed's pages in the HSDS envelope, as the bytes the server answers."""
    total = len(services)
    count = max(1, math.ceil(total / per_page))
    pages = {}
    for number in range(1, count + 1):
        contents = services[(number - 1) * per_page : number * per_page]
        envelope = {
            "total_items": total,
            "total_pages": count,
            "page_number": number,
            "size": len(contents),
            "first_page": number == 1,
            "last_page": number == count,
            "empty": not contents,
            "contents": contents,
        }
        pages[number] = json.dumps(envelope, default=str).encode()
    return pages


@contextmanager
def served(pages: dict[int, bytes]) -> Iterator[str]:
    """Serve ``pages`` at ``/services?page=N`` on a free local port; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real API behind a proxy

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            body = pages.get(int(query.get("page", ["1"])[0]), b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _left_out(ids: list[int]) -> None:
    """Stands in for a task queued after commit that the benchmark does not time."""


def run(args: argparse.Namespace, workdir: Path, database: Database) -> int:
    import django

    django.setup()

    from bench.hsds_package import write_package
    from directory import followup_tasks
    from directory.feeds.client import feed_fetch
    from directory.feeds.sync import feed_source, feed_sync_run
    from directory.hsds.importing import directory_import
    from directory.hsds.reading import read
    from directory.hsds.writing import directory_tables, nested_services
    from directory.models import FeedListing, FeedRun, FeedRunTrigger, HsdsFeed, ServicePage
    from network.services import network_create
    from search import tasks as search_tasks

    bench_start("HSDS feed sync", database, workdir)
    source = network_create(name="Feed Source", slug="source", hostname="source.localhost", port=80)
    follower = network_create(
        name="Follower", slug="follower", hostname="follow.localhost", port=80
    )

    # Search indexing after commit is a worker's job in production: left out of the timing.
    followup_tasks.pages_search_index.delay = _left_out  # type: ignore[method-assign,assignment]
    search_tasks.search_documents_refresh.delay = _left_out  # type: ignore[method-assign,assignment]

    started = time.perf_counter()
    package = workdir / "package"
    write_package(
        package,
        services=args.services,
        services_per_agency=args.services_per_agency,
        seed=args.seed,
    )
    directory_import(network=source, dataset=read(package))
    services = nested_services(directory_tables(source))
    pages = feed_pages(services, args.per_page)
    size = sum(len(body) for body in pages.values())
    out(
        f"feed: {len(services):,} services in {len(pages)} pages of {args.per_page} "
        f"({mib(size)} of JSON), made in {time.perf_counter() - started:.1f} s"
    )

    with served(pages) as url:
        feed = HsdsFeed.objects.create(network=follower, name="Bench feed", url=url)

        def sync() -> tuple[float, FeedRun]:
            run = FeedRun.objects.create(feed=feed, trigger=FeedRunTrigger.MANUAL)
            began = time.perf_counter()
            done = feed_sync_run(run_id=run.pk)
            return time.perf_counter() - began, done

        first_seconds, first = sync()
        again_seconds, again = sync()
        began = time.perf_counter()
        fetched = feed_fetch(feed_source(feed))
        fetch_seconds = time.perf_counter() - began

    stored = ServicePage.objects.descendant_of(follower.root_page).count()
    marked = FeedListing.objects.filter(feed=feed).count()
    rate = len(services) / first_seconds
    verdict = "ok" if rate >= TARGET_SERVICES_PER_SECOND else "BELOW TARGET"
    out("")
    out(
        f"first sync: {first_seconds:.1f} s -> {rate:,.0f} services/s "
        f"(target >= {TARGET_SERVICES_PER_SECOND}: {verdict}); status {first.status}; "
        f"{first.skipped} problem(s) left out, {first.repaired} repair(s); "
        f"{stored:,} services stored, {marked:,} listings marked"
    )
    out(f"  {first.summary[:300]}")
    out(
        f"second sync (no changes): {again_seconds:.1f} s -> "
        f"{len(services) / again_seconds:,.0f} services/s; {again.summary[:80]}"
    )
    out(
        f"fetch alone: {fetch_seconds:.1f} s for {fetched.page_count} pages "
        f"({mib(fetched.bytes_read)}), {fetched.services:,} services"
    )
    ok = (
        first.status == "done"
        and again.status == "done"
        and stored == len(services)
        and again.summary == "Nothing changed."
    )
    if not ok:
        out("ERROR: the sync did not store every service, or the second sync changed data")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
