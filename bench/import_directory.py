"""Benchmark the HSDS directory import: N synthetic services into a throwaway database.

    DJANGO_SETTINGS_MODULE=cms.settings.dev .venv/bin/python -m bench.import_directory \\
        [--services 20000] [--database-url postgres://user@host:5432/postgres] [--keep]

Without --database-url the database is a fresh SQLite file in a temporary folder; with a
PostgreSQL URL only the server is used: a database ``handoff_bench_<pid>`` is created on it and
dropped at the end (unless --keep). The project's own database is never touched.

Measured: wall time of ``read()`` and of ``directory_import()`` (validation included), services
per second over both, resident memory (sampled every 0.5 s, and at 25/50/75/100 % of the
services), ``ru_maxrss`` before and after, optionally the tracemalloc peak (--tracemalloc; it
slows Python down, so the timings of such a run are not comparable), then an identical re-import
that must report no change.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from directory.hsds.import_writes import ImportReport
    from network.models import Network

TARGET_SERVICES_PER_SECOND = 500
SAMPLE_SECONDS = 0.5
MIB = 1024 * 1024
POSTGRES_SCHEMES = ("postgres", "postgresql")


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def note(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def mib(size: float | None) -> str:
    if size is None:
        return "n/a"
    return f"{size / MIB:,.1f} MiB" if size < 10 * MIB else f"{size / MIB:,.0f} MiB"


# --- memory ------------------------------------------------------------------------------------

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int | None:
    """Current resident set size (Linux /proc/self/statm), None where there is no /proc."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def max_rss_bytes() -> int:
    """The process's high-water resident size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


class RssSampler:
    """Reads the RSS every ``interval`` seconds in a background thread."""

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        value = rss_bytes()
        if value is not None:
            self.samples.append(value)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class ProgressProbe:
    """The importer's progress callback: RSS and elapsed time at 25/50/75/100 %."""

    QUARTERS = (25, 50, 75, 100)

    def __init__(self, started: float, *, label: str, live: bool) -> None:
        self.started = started
        self.label = label
        self.live = live
        self.marks: dict[int, tuple[int, int | None, float]] = {}
        self._next_tenth = 10

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.started
        for pct in self.QUARTERS:
            if pct not in self.marks and done * 100 >= pct * total:
                self.marks[pct] = (done, rss_bytes(), elapsed)
        if self.live and total and done * 100 >= self._next_tenth * total:
            while done * 100 >= self._next_tenth * total:
                self._next_tenth += 10
            note(
                f"  {self.label}: {done:>7}/{total} services  {elapsed:7.1f} s  "
                f"RSS {mib(rss_bytes())}"
            )


# --- the throwaway database ---------------------------------------------------------------------


@dataclass
class Database:
    url: str
    description: str


@contextmanager
def throwaway_database(url: str | None, workdir: Path, *, keep: bool) -> Iterator[Database]:
    """A fresh, empty database: SQLite in ``workdir``, or a new database on a PostgreSQL server."""
    if not url:
        path = workdir / "bench.sqlite3"
        yield Database(url=f"sqlite:///{path}", description=f"sqlite {path}")
        return
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise SystemExit(
            f"--database-url must be a PostgreSQL URL ({'/'.join(POSTGRES_SCHEMES)}://...); "
            "leave it out to benchmark on a temporary SQLite file"
        )
    import psycopg
    from psycopg import sql

    name = f"handoff_bench_{os.getpid()}"
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    target = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    server = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"

    def drop() -> None:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            try:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            except psycopg.errors.SyntaxError:  # PostgreSQL before 13
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
                )

    try:
        yield Database(url=target, description=f"postgresql {name} on {server}")
    finally:
        if keep:
            note(f"kept database {name} on {server} (--keep); drop it with: DROP DATABASE {name};")
        else:
            from django.db import connections

            connections.close_all()
            drop()


# --- one import, measured -----------------------------------------------------------------------


@dataclass
class Measured:
    read_seconds: float
    import_seconds: float
    report: ImportReport
    rss_samples: list[int]
    marks: dict[int, tuple[int, int | None, float]]
    rss_before: int | None
    max_rss_before: int
    max_rss_after: int
    traced_peak: int | None = None
    warnings: list[str] = field(default_factory=list)
    # Wagtail admin search indexing of new pages: a Celery task after commit in production.
    search_index_seconds: float = 0.0
    # The directory search index refresh of the imported services: also a task after commit.
    directory_index_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        return self.read_seconds + self.import_seconds


def measured_import(
    network: Network, package: Path, *, label: str, trace: bool, live: bool
) -> Measured:
    from directory import followup_tasks
    from directory.hsds.importing import directory_import
    from directory.hsds.reading import read
    from search import tasks as search_tasks

    # The import queues search indexing (Wagtail's, and the directory search index) for a
    # worker after commit; collect it here and time it separately, as production runs it in
    # another process.
    queued: list[list[int]] = []
    refreshes: list[list[int]] = []
    real_delay = followup_tasks.pages_search_index.delay
    real_refresh = search_tasks.search_documents_refresh.delay
    followup_tasks.pages_search_index.delay = queued.append  # type: ignore[method-assign,assignment]
    search_tasks.search_documents_refresh.delay = refreshes.append  # type: ignore[method-assign,assignment]
    gc.collect()
    rss_before, max_rss_before = rss_bytes(), max_rss_bytes()
    traced_peak = None
    with RssSampler() as sampler:
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        dataset = read(package)
        read_done = time.perf_counter()
        probe = ProgressProbe(read_done, label=label, live=live)
        report = directory_import(network=network, dataset=dataset, progress=probe)
        finished = time.perf_counter()
        if trace:
            traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        del dataset
    followup_tasks.pages_search_index.delay = real_delay  # type: ignore[method-assign]
    search_tasks.search_documents_refresh.delay = real_refresh  # type: ignore[method-assign]
    index_started = time.perf_counter()
    for ids in queued:
        followup_tasks.pages_search_index(ids)
    search_index_seconds = time.perf_counter() - index_started
    refresh_started = time.perf_counter()
    for ids in refreshes:
        search_tasks.search_documents_refresh(ids)
    directory_index_seconds = time.perf_counter() - refresh_started
    return Measured(
        read_seconds=read_done - started,
        import_seconds=finished - read_done,
        report=report,
        rss_samples=sampler.samples,
        marks=probe.marks,
        rss_before=rss_before,
        max_rss_before=max_rss_before,
        max_rss_after=max_rss_bytes(),
        traced_peak=traced_peak,
        warnings=[str(w) for w in report.warnings],
        search_index_seconds=search_index_seconds,
        directory_index_seconds=directory_index_seconds,
    )


# --- the run -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.import_directory",
        description="Benchmark the HSDS directory import on a throwaway database.",
    )
    parser.add_argument("--services", type=int, default=20_000, help="services to generate")
    parser.add_argument("--services-per-agency", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL; a database handoff_bench_<pid> is created on it "
        "(default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and the temporary folder"
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also measure the peak of Python allocations (slows the import down)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.services < 1 or args.services_per_agency < 1:
        parser.error("--services and --services-per-agency must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return in_throwaway_database(parse_args(argv), "handoff-bench-", run)


def in_throwaway_database(
    args: argparse.Namespace,
    prefix: str,
    run: Callable[[argparse.Namespace, Path, Database], int],
) -> int:
    """Run a benchmark in a temporary folder against a database made for it (and dropped), with
    the settings every benchmark measures under."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cms.settings.dev")
    # Production runs without DEBUG; with it Django also keeps every query's SQL and timing.
    os.environ.setdefault("DEBUG", "false")
    # Wagtail logs every page it creates at INFO; thousands of such lines would drown the summary.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Mail is kept in memory: a benchmark sends thousands of notifications to nobody.
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        (workdir / "var").mkdir()
        os.environ["HANDOFF_VAR_DIR"] = str(workdir / "var")
        with throwaway_database(args.database_url, workdir, keep=args.keep) as database:
            os.environ["DATABASE_URL"] = database.url
            return run(args, workdir, database)
    finally:
        if args.keep:
            note(f"kept {workdir} (--keep)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def refuse_unless_throwaway(configured: Mapping[str, Any], workdir: Path) -> None:
    """Stop unless the configured database is one a benchmark created (never real data)."""
    if configured["ENGINE"].endswith("sqlite3"):
        throwaway = Path(configured["NAME"]).resolve().is_relative_to(workdir.resolve())
    else:
        throwaway = str(configured["NAME"]).startswith("handoff_bench_")
    if not throwaway:
        raise SystemExit(f"refusing to run on {configured['NAME']}: not a throwaway database")


def bench_start(title: str, database: Database, workdir: Path) -> None:
    """What every benchmark does first: refuse a real database, say where and on what it runs,
    and migrate (timed)."""
    import django
    import wagtail
    from django.conf import settings
    from django.core.management import call_command

    refuse_unless_throwaway(settings.DATABASES["default"], workdir)
    out(f"== Handoff {title} benchmark ==")
    out(f"database: {database.description}")
    out(
        f"python {platform.python_version()}, django {django.get_version()}, "
        f"wagtail {wagtail.__version__}, {os.cpu_count()} CPU(s), DEBUG={settings.DEBUG}"
    )
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    out(f"migrate: {time.perf_counter() - started:.1f} s")


def run(args: argparse.Namespace, workdir: Path, database: Database) -> int:
    import django

    django.setup()

    from bench.hsds_package import write_package
    from directory.hsds.reading import MAX_FILE_BYTES
    from directory.hsds.records import InvalidImport
    from directory.models import AgencyPage, Location, ServiceHours, ServicePage
    from network.services import network_create

    bench_start("directory import", database, workdir)
    network = network_create(
        name="Bench Network", slug="bench", hostname="bench.localhost", port=80
    )

    package = workdir / "package"
    started = time.perf_counter()
    counts = write_package(
        package,
        services=args.services,
        services_per_agency=args.services_per_agency,
        seed=args.seed,
    )
    generated = time.perf_counter() - started
    sizes = {p.name: p.stat().st_size for p in package.iterdir()}
    out(
        f"package: {sum(counts.values()):,} rows in {len(sizes)} files, "
        f"{mib(sum(sizes.values()))}, generated in {generated:.1f} s"
    )
    too_big = [f"{name} ({mib(size)})" for name, size in sizes.items() if size > MAX_FILE_BYTES]
    if too_big:
        out(f"files over the importer's {mib(MAX_FILE_BYTES)} limit: {', '.join(too_big)}")
        out("use fewer services (or raise directory.hsds.reading.MAX_FILE_BYTES)")
        return 2
    if args.tracemalloc:
        out("tracemalloc is on: timings are slower than a normal run")

    try:
        first = measured_import(
            network, package, label="import", trace=args.tracemalloc, live=not args.quiet
        )
    except InvalidImport as exc:
        out(f"the package did not validate: {exc}")
        for problem in exc.problems[:20]:
            out(f"  {problem}")
        return 2
    stored = {
        "agencies": AgencyPage.objects.count(),
        "locations": Location.objects.count(),
        "services": ServicePage.objects.count(),
        "hours": ServiceHours.objects.count(),
    }
    second = measured_import(network, package, label="re-import", trace=False, live=not args.quiet)

    # --- summary --------------------------------------------------------------------------------
    services = counts["services"]
    rate = services / first.total_seconds if first.total_seconds else float("inf")
    verdict = "ok" if rate >= TARGET_SERVICES_PER_SECOND else "BELOW TARGET"
    out("")
    out(
        f"services: {services}  agencies: {counts['organizations']}  "
        f"locations: {counts['locations']}  (stored: {stored['services']} services, "
        f"{stored['agencies']} agencies, {stored['locations']} locations, "
        f"{stored['hours']} weekly hours)"
    )
    out(
        f"read: {first.read_seconds:.1f} s   import: {first.import_seconds:.1f} s   "
        f"total: {first.total_seconds:.1f} s   -> {rate:,.0f} services/s "
        f"(target >= {TARGET_SERVICES_PER_SECOND}: {verdict})"
    )
    traced = mib(first.traced_peak) if first.traced_peak is not None else "off (use --tracemalloc)"
    out(
        f"peak python alloc (tracemalloc): {traced}   max RSS: {mib(first.max_rss_after)} "
        f"(before the import: {mib(first.max_rss_before)})"
    )
    out(
        f"search indexing of the new pages (a worker task after commit): "
        f"{first.search_index_seconds:.1f} s (Wagtail admin search), "
        f"{first.directory_index_seconds:.1f} s (directory search index)"
    )
    out(f"RSS during the import: {_rss_range(first)}")
    out(f"RSS at 25/50/75/100%: {_quarters(first)}")
    out(f"created: {_counter(first.report.created)}")
    if first.warnings:
        out(f"warnings: {len(first.warnings)} (first: {first.warnings[0]})")
    changed = second.report.changed
    out(
        f"re-import (no changes): {second.total_seconds:.1f} s "
        f"(read {second.read_seconds:.1f} s, import {second.import_seconds:.1f} s, "
        f"{services / second.total_seconds:,.0f} services/s), changed={changed}"
    )
    out(f"RSS during the re-import: {_rss_range(second)}; max RSS {mib(second.max_rss_after)}")
    ok = stored["services"] == services and not changed
    if stored["services"] != services:
        out(f"ERROR: {stored['services']} services stored, expected {services}")
    if changed:
        out(
            "ERROR: the re-import changed data: created "
            f"{_counter(second.report.created)}; updated {_counter(second.report.updated)}; "
            f"deleted {_counter(second.report.deleted)}"
        )
    return 0 if ok else 1


def _rss_range(measured: Measured) -> str:
    samples = measured.rss_samples
    if not samples:
        return "n/a (no /proc/self/statm)"
    return (
        f"min {mib(min(samples))}, max {mib(max(samples))} "
        f"({len(samples)} samples every {SAMPLE_SECONDS} s; before it {mib(measured.rss_before)})"
    )


def _quarters(measured: Measured) -> str:
    cells = []
    for pct in ProgressProbe.QUARTERS:
        mark = measured.marks.get(pct)
        cells.append("n/a" if mark is None else f"{mib(mark[1])} @ {mark[2]:.1f} s")
    return " / ".join(cells)


def _counter(counter: Any) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(counter.items())) or "nothing"


if __name__ == "__main__":
    raise SystemExit(main())
