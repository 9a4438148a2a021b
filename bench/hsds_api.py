"""Benchmark the HSDS 3.0 API: ``/api/hsds/services?full_service=true&per_page=50`` on a network
of N services (default 100,000), through Django's whole request cycle (middleware, URL routing,
the API's rate limit, ETag and CORS wrapper) with the test client.

    DJANGO_SETTINGS_MODULE=cms.settings.dev .venv/bin/python -m bench.hsds_api \\
        --database-url postgres://postgres@127.0.0.1:5432/postgres [--services 100000]

The data: synthetic HSDS packages (``bench.hsds_package``, at most 25,000 services each) imported
with ``directory_import``; the search indexing an import queues for a worker is skipped (the API
does not read it). Then ``VACUUM ANALYZE``, a warm-up pass, and ``--requests`` measured GETs of
pages spread over the whole list (seeded), each timed from the request to the last byte.
Printed: p50, p95, max and mean (ms), SQL queries per request, and PASS/MISS for the target
(p95 under 50 ms on PostgreSQL). Exit status 0 whatever the figures (they are figures, not
tests), 1 if an answer is wrong, 2 if a package could not be imported.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.import_directory import (
    Database,
    bench_start,
    in_throwaway_database,
    note,
    out,
)

PACKAGE_SERVICES = 25_000
TARGET_P95_MS = 50.0
PER_PAGE = 50


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ["ELASTICSEARCH_URL"] = ""
    return in_throwaway_database(parse_args(argv), "handoff-hsds-api-bench-", run)


def build(args: argparse.Namespace, network: object, workdir: Path) -> int | None:
    from bench.hsds_package import write_package
    from directory import followup_tasks
    from directory.hsds.importing import directory_import
    from directory.hsds.reading import read
    from directory.hsds.records import InvalidImport
    from search import tasks as search_tasks

    # The API reads none of the search indexes an import queues for a worker: skip them.
    followup_tasks.pages_search_index.delay = lambda *a, **k: None  # type: ignore[method-assign,assignment]
    search_tasks.search_documents_refresh.delay = lambda *a, **k: None  # type: ignore[method-assign,assignment]
    sizes = [PACKAGE_SERVICES] * (args.services // PACKAGE_SERVICES)
    if args.services % PACKAGE_SERVICES:
        sizes.append(args.services % PACKAGE_SERVICES)
    for number, services in enumerate(sizes):
        folder = workdir / f"package-{number}"
        started = time.perf_counter()
        write_package(folder, services=services, seed=args.seed * 100 + number)
        generated = time.perf_counter()
        try:
            directory_import(network=network, dataset=read(folder))  # type: ignore[arg-type]
        except InvalidImport as exc:
            out(f"package {number + 1} did not validate: {exc}")
            return 2
        out(
            f"package {number + 1}: {services:,} services, generated in "
            f"{generated - started:.1f} s, read and imported in "
            f"{time.perf_counter() - generated:.1f} s"
        )
    return None


def run(args: argparse.Namespace, workdir: Path, database: Database) -> int:
    import django

    django.setup()
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from directory.hsds.selectors import published_services
    from directory.models import ServiceDocument
    from network.services import network_create

    bench_start("HSDS API", database, workdir)
    network = network_create(
        name="Bench Network", slug="bench", hostname="bench.localhost", port=80
    )
    started = time.perf_counter()
    failed = build(args, network, workdir)
    if failed is not None:
        return failed
    out(f"data: {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    total = published_services(network=network).count()
    out(f"published services: {total:,}")
    if total != args.services:
        out(f"expected {args.services:,} services")
        return 1
    stored = ServiceDocument.objects.filter(network=network).count()
    if stored != total:
        out(f"{stored:,} stored HSDS documents for {total:,} published services")
        return 1
    pages = (total + PER_PAGE - 1) // PER_PAGE
    rng = random.Random(args.seed)  # noqa: S311 - reproducible page choice, not secrets
    wanted = [rng.randint(1, pages) for _ in range(args.requests)]
    client = Client(HTTP_HOST="bench.localhost")
    url = "/api/hsds/services"
    timings: list[float] = []
    query_counts: set[int] = set()
    with override_settings(ALLOWED_HOSTS=["*"], HSDS_API_RATE_LIMIT={"requests": 0}):
        for page in wanted[: min(20, len(wanted))]:  # warm-up
            client.get(url, {"full_service": "true", "per_page": str(PER_PAGE), "page": str(page)})
        for page in wanted:
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(
                    url, {"full_service": "true", "per_page": str(PER_PAGE), "page": str(page)}
                )
                body = response.content
                timings.append((time.perf_counter() - started) * 1000)
            query_counts.add(len(captured))
            if response.status_code != 200:
                out(f"page {page}: HTTP {response.status_code} {body[:200]!r}")
                return 1
            data = response.json()
            expected = PER_PAGE if page < pages else total - (pages - 1) * PER_PAGE
            if data["size"] != expected or data["total_items"] != total:
                out(f"page {page}: size {data['size']}, total {data['total_items']}")
                return 1
    timings.sort()
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    out(
        f"/services?full_service=true&per_page={PER_PAGE}, {len(timings)} requests over "
        f"{pages:,} pages: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, "
        f"max {timings[-1]:.1f} ms, mean {statistics.fmean(timings):.1f} ms; "
        f"SQL queries per request {sorted(query_counts)}; "
        f"body {len(body) / 1024:.0f} KiB"
    )
    ids = [
        str(i)
        for i in ServiceDocument.objects.filter(network=network).values_list("hsds_id", flat=True)
    ]
    one: list[float] = []
    with override_settings(ALLOWED_HOSTS=["*"], HSDS_API_RATE_LIMIT={"requests": 0}):
        for hsds_id in rng.sample(ids, min(args.requests, len(ids))):
            started = time.perf_counter()
            response = client.get(f"{url}/{hsds_id}")
            one.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                out(f"service {hsds_id}: HTTP {response.status_code}")
                return 1
    one.sort()
    out(
        f"/services/{{id}}, {len(one)} requests: p50 {statistics.median(one):.1f} ms, "
        f"p95 {one[max(0, int(len(one) * 0.95) - 1)]:.1f} ms, max {one[-1]:.1f} ms"
    )
    verdict = "PASS" if p95 < TARGET_P95_MS else "MISS"
    out(f"target p95 < {TARGET_P95_MS:.0f} ms: {verdict}")
    if not args.quiet:
        note("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
