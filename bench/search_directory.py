"""Benchmark directory search: the database backend against two baselines, on one large network.

    DJANGO_SETTINGS_MODULE=cms.settings.dev .venv/bin/python -m bench.search_directory \\
        --database-url postgres://postgres@127.0.0.1:5432/postgres [--services 100000] [--keep]

Builds a throwaway database the way ``bench.import_directory`` does (a database
``handoff_bench_<pid>`` on the PostgreSQL server, or a temporary SQLite file without
--database-url; the targets are for PostgreSQL), imports synthetic HSDS packages into one network
(California ZIPs; each package at most 25,000 services, under the reader's 50 MB file limit), builds
the search index and Wagtail's own index, then runs a fixed, seeded mix of realistic queries (a need
in words, a ZIP centroid and a radius, and filters) three ways:

* database: ``search.selectors.service_search`` with the database backend (the one under test);
* naive ORM: ``icontains`` on title and description, the other filters in the ORM or in Python,
  distance in Python;
* Wagtail: ``ServicePage.objects...search()`` on Wagtail's database search backend with its filter
  fields, the other filters and the distance in Python.

Every way answers one page of 20 services-at-locations and the total. Each runs the whole mix once
to warm up, then once measured; p50/p95/max/mean and the ratios are printed with the targets
(p95 < 30 ms on PostgreSQL, 10x faster than the naive ORM, 3x faster than Wagtail). The exit status
is 0 whether targets are met or not (these are figures, not tests); 1 if the data came out wrong, 2
if a package could not be imported.

The query mix and the three ways to answer it are in ``bench.search_directory_queries``; timing
them and the printed report in ``bench.search_directory_report``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.import_directory import (
    Database,
    in_throwaway_database,
    measured_import,
    mib,
    note,
    out,
    refuse_unless_throwaway,
)
from bench.search_directory_queries import (
    FIXED_NOW,
    database_runner,
    describe_mix,
    naive_runner,
    query_mix,
    wagtail_runner,
)
from bench.search_directory_report import measure, report

if TYPE_CHECKING:
    from directory.models import DirectoryIndexPage
    from network.models import Network

PACKAGE_SERVICES = 25_000  # per package: attributes.csv stays well under the 50 MB read limit


# --- options -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search_directory",
        description="Benchmark directory search (database backend vs. two baselines).",
    )
    parser.add_argument("--services", type=int, default=100_000, help="services to generate")
    parser.add_argument(
        "--service-locations",
        type=int,
        default=150_000,
        help="target number of service-at-location pairs (search hits); 1-2x --services",
    )
    parser.add_argument("--queries", type=int, default=200, help="queries in the mix")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL; a database handoff_bench_<pid> is created on it "
        "(default: a temporary SQLite file; the targets are for PostgreSQL)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and the temporary folder"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.services < 1 or args.queries < 1:
        parser.error("--services and --queries must be at least 1")
    if not args.services <= args.service_locations <= 2 * args.services:
        parser.error("--service-locations must be from --services to twice --services")
    if -(-args.services // PACKAGE_SERVICES) > 100:
        parser.error(f"at most {100 * PACKAGE_SERVICES} services")
    return args


def location_shares(services: int, service_locations: int) -> tuple[float, float]:
    """(share of agencies with two locations, share of their services offered at both).

    Pairs per service average 1 + product; the generator's defaults (0.5, 0.3) stay when they
    fit, otherwise both grow together.
    """
    extra = service_locations / services - 1
    two = min(1.0, max(0.5, math.sqrt(extra)))
    return two, min(1.0, extra / two)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ["ELASTICSEARCH_URL"] = ""  # the database backend answers, never Elasticsearch
    return in_throwaway_database(parse_args(argv), "handoff-search-bench-", run)


# --- data ----------------------------------------------------------------------------------------


@dataclass
class Built:
    """What the data phase produced and how long each part took (seconds)."""

    generate: float = 0.0
    read: float = 0.0
    write: float = 0.0
    wagtail_index: float = 0.0
    search_index: float = 0.0
    analyze: float = 0.0
    search_refresh: float = 0.0  # the index refresh each import queues (a worker task)
    package_lines: list[str] = field(default_factory=list)


def build_data(
    args: argparse.Namespace, network: Network, workdir: Path, built: Built
) -> int | None:
    """Generate and import the packages; None when done, else the exit status."""
    from bench.hsds_package import write_package
    from directory.hsds.reading import MAX_FILE_BYTES
    from directory.hsds.records import InvalidImport

    two, both = location_shares(args.services, args.service_locations)
    sizes = [PACKAGE_SERVICES] * (args.services // PACKAGE_SERVICES)
    if args.services % PACKAGE_SERVICES:
        sizes.append(args.services % PACKAGE_SERVICES)
    out(
        f"packages: {len(sizes)} ({' + '.join(f'{n:,}' for n in sizes)} services), "
        f"agencies with 2 locations {two:.0%}, their services at both {both:.0%} "
        f"(expected {1 + two * both:.2f} locations per service)"
    )
    for number, services in enumerate(sizes):
        seed = args.seed * 100 + number  # ids are uuid5 over the seed: no package shares one
        folder = workdir / f"package-{number}"
        started = time.perf_counter()
        counts = write_package(
            folder,
            services=services,
            seed=seed,
            two_location_share=two,
            both_locations_share=both,
        )
        built.generate += time.perf_counter() - started
        files = {p.name: p.stat().st_size for p in folder.iterdir()}
        largest = max(files, key=lambda name: files[name])
        if files[largest] > MAX_FILE_BYTES:
            out(f"{largest} is {mib(files[largest])}, over the reader's {mib(MAX_FILE_BYTES)}")
            return 2
        try:
            measured = measured_import(
                network, folder, label=f"package {number + 1}", trace=False, live=not args.quiet
            )
        except InvalidImport as exc:
            out(f"package {number + 1} did not validate: {exc}")
            for problem in exc.problems[:20]:
                out(f"  {problem}")
            return 2
        built.read += measured.read_seconds
        built.write += measured.import_seconds
        built.wagtail_index += measured.search_index_seconds
        built.search_refresh += measured.directory_index_seconds
        built.package_lines.append(
            f"  package {number + 1}: seed {seed}, {counts['services']:,} services, "
            f"{counts['organizations']:,} agencies, {counts['locations']:,} locations, "
            f"{counts['service_at_location']:,} service_at_location; "
            f"{mib(sum(files.values()))} (largest {largest} {mib(files[largest])}); "
            f"read {measured.read_seconds:.1f} s, import {measured.import_seconds:.1f} s, "
            f"Wagtail index {measured.search_index_seconds:.1f} s, "
            f"search index refresh {measured.directory_index_seconds:.1f} s"
        )
        if not args.quiet:
            note(built.package_lines[-1].strip())
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return None


def wagtail_index_complete(index: DirectoryIndexPage) -> tuple[int, float]:
    """ServicePage rows in Wagtail's index; pages missing from it are indexed now (timed)."""
    from django.contrib.contenttypes.models import ContentType
    from wagtail.search.models import IndexEntry

    from directory import followup_tasks as tasks
    from directory.models import ServicePage

    content_type = ContentType.objects.get_for_model(ServicePage)
    indexed = set(
        IndexEntry.objects.filter(content_type=content_type).values_list("object_id", flat=True)
    )
    pages = ServicePage.objects.descendant_of(index).values_list("pk", flat=True)
    missing = [pk for pk in pages if str(pk) not in indexed]
    started = time.perf_counter()
    if missing:
        tasks.pages_search_index(missing)
    return (
        IndexEntry.objects.filter(content_type=content_type).count(),
        time.perf_counter() - started if missing else 0.0,
    )


# --- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, database: Database) -> int:
    import django

    django.setup()

    import wagtail
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from directory.models import Location, ServiceAtLocation, ServicePage
    from directory.services import directory_index_for
    from network.services import network_create
    from search.backends import get_search_backend
    from search.models import SearchDocument, SearchOpening, SearchTag
    from search.services import search_index_rebuild

    refuse_unless_throwaway(settings.DATABASES["default"], workdir)
    live = not args.quiet
    postgres = connection.vendor == "postgresql"

    out("== Handoff directory search benchmark ==")
    out(f"database: {database.description}")
    server = ""
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server = f"postgresql {cursor.fetchone()[0]}, "
    out(
        f"{server}python {platform.python_version()}, django {django.get_version()}, "
        f"wagtail {wagtail.__version__}, {os.cpu_count()} CPU(s), DEBUG={settings.DEBUG}, "
        f"search backend {get_search_backend().name}, "
        f"Wagtail search {settings.WAGTAILSEARCH_BACKENDS['default']['BACKEND']}"
    )
    if not postgres:
        out("note: SQLite run; the targets are for PostgreSQL")

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    out(f"migrate: {time.perf_counter() - started:.1f} s")
    network = network_create(
        name="Bench Network", slug="bench", hostname="bench.localhost", port=80
    )

    # --- data ------------------------------------------------------------------------------------
    built = Built()
    failed = build_data(args, network, workdir, built)
    if failed is not None:
        return failed
    index = directory_index_for(network)
    for line in built.package_lines:
        out(line)
    wagtail_rows, wagtail_extra = wagtail_index_complete(index)
    built.wagtail_index += wagtail_extra
    started = time.perf_counter()
    documents = search_index_rebuild(network=network)
    built.search_index = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if postgres else "ANALYZE")
    built.analyze = time.perf_counter() - started

    stored = {
        "services": ServicePage.objects.descendant_of(index).count(),
        "locations": Location.objects.filter(page__path__startswith=index.path).count(),
        "service_at_location": ServiceAtLocation.objects.filter(
            page__path__startswith=index.path
        ).count(),
        "search documents": SearchDocument.objects.filter(network=network).count(),
        "search tags": SearchTag.objects.filter(document__network=network).count(),
        "search openings": SearchOpening.objects.filter(document__network=network).count(),
        "Wagtail index entries (ServicePage)": wagtail_rows,
    }
    out("data: " + ", ".join(f"{name} {n:,}" for name, n in stored.items()))
    if postgres:
        out(f"search index on disk: {index_sizes(SearchDocument._meta.db_table)}")
    out(
        f"build: generate {built.generate:.1f} s, import {built.read + built.write:.1f} s "
        f"(read {built.read:.1f} s + write {built.write:.1f} s, "
        f"{args.services / (built.read + built.write):,.0f} services/s), "
        f"Wagtail index {built.wagtail_index:.1f} s"
        + (f" (of which {wagtail_extra:.1f} s completing it)" if wagtail_extra else "")
        + f", search index refresh queued by the imports {built.search_refresh:.1f} s, "
        f"search index rebuild {built.search_index:.1f} s ({documents:,} documents), "
        f"{'VACUUM ANALYZE' if postgres else 'ANALYZE'} {built.analyze:.1f} s"
    )
    problems = []
    if stored["services"] != args.services:
        problems.append(f"{stored['services']} services stored, {args.services} generated")
    if wagtail_rows < stored["services"]:
        problems.append(f"Wagtail's index holds {wagtail_rows} of {stored['services']} services")
    if documents == 0:
        problems.append("the search index is empty")
    if problems:
        for problem in problems:
            out(f"ERROR: {problem}")
        return 1

    # --- queries ---------------------------------------------------------------------------------
    zips_in_use = sorted(
        Location.objects.filter(page__path__startswith=index.path, point__isnull=False)
        .values_list("postal_code", flat=True)
        .distinct()
    )
    queries = query_mix(args.queries, args.seed, zips_in_use)
    out(f"query mix: {describe_mix(queries)}")
    out(f"fixed now / open_at: {FIXED_NOW.isoformat()} (Wednesday 10:30 in {network.time_zone})")
    if live:
        note("running the query mix (warm-up pass, then measured pass, per way)")
    database_ms = measure("database", database_runner(network), queries, live=live, count_sql=True)
    naive_ms = measure("naive ORM", naive_runner(network, index), queries, live=live)
    wagtail_ms = measure("Wagtail", wagtail_runner(network, index), queries, live=live)
    return report(database_ms, naive_ms, wagtail_ms, queries, postgres=postgres)


def index_sizes(table: str) -> str:
    """Heap, TOAST and index sizes of the index table (PostgreSQL)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_relation_size(c.oid)), "
            "pg_size_pretty(COALESCE(pg_relation_size(c.reltoastrelid), 0)), "
            "pg_size_pretty(pg_indexes_size(c.oid)) FROM pg_class c WHERE c.oid = %s::regclass",
            [table],
        )
        heap, toast, indexes = cursor.fetchone()
    return f"table {heap}, TOAST {toast}, indexes {indexes}"


if __name__ == "__main__":
    raise SystemExit(main())
