"""Load test of the hot pages: the public search, the agency inbox and the clinic tracker.

    DJANGO_SETTINGS_MODULE=cms.settings.dev .venv/bin/python -m bench.http_load \\
        --database-url postgres://postgres@127.0.0.1:5432/postgres [--workers 4] [--duration 30]

Builds one network in a throwaway database (``handoff_bench_<pid>``) with the other benchmarks'
builders: the referral benchmarks' cast (``bench.referral_loop.build``), ``--referrals``
referrals written as ``bench.portal_pages`` writes them, and ``--services`` synthetic HSDS
services imported and indexed as ``bench.search_directory`` does. Then the request paths: at
least ``--queries`` distinct public searches drawn from the search benchmark's query mix, and
as many distinct inbox and tracker pages (tab, order, filters, page), so that no cached whole
page can stand in for speed.

Two ways to measure:

* ``--in-process``: every path once through ``django.test.Client`` (middleware, view,
  templates; no network), the CPU time and wall time of each request (mean, p50, p95), after
  a warm-up pass over the same paths; with ``--profile-dir DIR --label NAME`` also a
  pyinstrument profile of each page (``DIR/<page>-<NAME>.txt``, taken on a separate pass).
* by default, over HTTP: the production stack (``prod.stack.Stack``: gunicorn with
  ``--workers`` workers behind nginx with TLS, Redis) driven by wrk (``-c 20 -t 2``), each
  request the next path of the page's list (``prod/wrk_paths.lua``), ``--duration`` seconds
  per page after ``--warmup`` seconds, in ``--rounds`` rounds (each round every page in turn);
  each round's requests/s, p50/p95/p99 latency and non-2xx answers, the CPU per request in
  every kind of process, and PASS/MISS against the targets on each page's median round: at
  least 80 requests/s with p95 under 400 ms.

  Rounds, because one run says little on a shared machine: the same page, measured first in
  three runs of the same stack, moved between 92 and 108 requests/s, and a page measured after
  the others tends to come out slower than alone. Interleaving the pages over rounds spreads
  that drift over all of them, and the median round is not the luckiest or the unluckiest.

Exit status 0 whether or not the targets are met (these are figures); 1 if a page answered
something else than 200 or the data came out wrong.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.import_directory import (
    Database,
    bench_start,
    in_throwaway_database,
    note,
    out,
    refuse_unless_throwaway,
)
from bench.process_cpu import KINDS, CpuSplit, cpu_split, cpu_sum, snapshot
from bench.referral_loop import percentile

TARGET_RPS = 80.0
TARGET_P95_MS = 400.0
PAGES = ("search", "inbox", "tracker")
INBOX_PAGE_SIZE = 25  # referrals.views.inbox.INBOX_PAGE_SIZE (the views module needs Django)


# --- options -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http_load",
        description="Load test of the public search, the agency inbox and the clinic tracker.",
    )
    parser.add_argument("--services", type=int, default=20_000, help="directory services")
    parser.add_argument(
        "--service-locations",
        type=int,
        help="service-at-location pairs, 1-2x --services (default 1.5x)",
    )
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--agencies", type=int, default=50, help="agencies receiving referrals")
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument(
        "--queries", type=int, default=1_000, help="distinct request paths per page (at least)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (required)")
    parser.add_argument(
        "--reuse-database",
        metavar="NAME",
        help="measure on a database kept by an earlier run (--keep) instead of building one",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--in-process", action="store_true", help="measure in process, not over HTTP"
    )
    parser.add_argument(
        "--pages", default=",".join(PAGES), help=f"pages to measure (default {','.join(PAGES)})"
    )
    parser.add_argument("--profile-dir", type=Path, help="with --in-process: write profiles here")
    parser.add_argument("--label", default="now", help="the profiles' suffix (before, after)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--duration", type=int, default=20, help="seconds of load per page and round"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="times each page is measured, the pages in turn"
    )
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up per page")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url is required: the figures are for PostgreSQL")
    if args.service_locations is None:
        args.service_locations = args.services * 3 // 2
    if not args.services <= args.service_locations <= 2 * args.services:
        parser.error("--service-locations must be from --services to twice --services")
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    if args.reuse_database and not args.reuse_database.startswith("handoff_bench_"):
        parser.error("--reuse-database must name a benchmark's database (handoff_bench_...)")
    args.pages = [page.strip() for page in args.pages.split(",") if page.strip()]
    if set(args.pages) - set(PAGES):
        parser.error(f"--pages: choose among {', '.join(PAGES)}")
    args.big_agency = args.referrals // 10  # what bench.portal_pages writes by default
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["ELASTICSEARCH_URL"] = ""  # the database backend answers, as in the search bench
    # The cache is Redis, as in production (a database of the benchmark's own, emptied).
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    if args.reuse_database:
        return _on_kept_database(args)
    return in_throwaway_database(args, "handoff-bench-http-", run)


def _on_kept_database(args: argparse.Namespace) -> int:
    """Measure again on a database an earlier run kept (no data built)."""
    import tempfile
    from urllib.parse import urlsplit, urlunsplit

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cms.settings.dev")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    workdir = Path(tempfile.mkdtemp(prefix="handoff-bench-http-"))
    (workdir / "var").mkdir()
    os.environ.setdefault("HANDOFF_VAR_DIR", str(workdir / "var"))
    parts = urlsplit(args.database_url)
    url = urlunsplit(parts._replace(path=f"/{args.reuse_database}"))
    os.environ["DATABASE_URL"] = url
    return run(args, workdir, Database(url=url, description=f"kept {args.reuse_database}"))


# --- data ----------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the requests need: the network's host, who signs in, and each page's paths."""

    host: str
    agency_user: str
    clinic_user: str
    password: str
    login_path: str
    paths: dict[str, list[str]] = field(default_factory=dict)


def data_build(args: argparse.Namespace, workdir: Path) -> int | None:
    """The cast, the referrals and the directory, in one network; None when done, else the
    exit status."""
    from django.db import connection

    from bench.portal_pages import referrals_write
    from bench.referral_loop import build
    from bench.search_directory import Built, build_data
    from referrals.models import Referral
    from search.services import search_index_rebuild

    started = time.perf_counter()
    cast = build(args)
    out(f"cast: {args.agencies} agencies, {args.clients:,} clients: {_since(started)}")
    started = time.perf_counter()
    referrals_write(args, cast)
    out(f"referrals: {Referral.objects.count():,} written in {_since(started)}")
    started = time.perf_counter()
    built = Built()
    failed = build_data(args, cast["network"], workdir, built)
    if failed is not None:
        return failed
    documents = search_index_rebuild(network=cast["network"])
    out(f"directory: {args.services:,} services, {documents:,} search documents: {_since(started)}")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return None


def load_plan(args: argparse.Namespace) -> Load:
    """The host, the users and every page's paths, from the network in the database."""
    from django.urls import reverse
    from django.utils import timezone

    from bench.search_directory_queries import query_mix
    from directory.models import Location
    from directory.services import directory_index_for
    from network.models import Network, Organization, User
    from referrals.selectors.inbox import referral_inbox_counts

    network = Network.objects.get(slug="bench")
    host = "bench.localhost"
    clinic = Organization.objects.get(network=network, kind="clinic")
    agencies = list(
        Organization.objects.filter(network=network, kind="agency")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    big_agency = agencies[0]  # bench.portal_pages writes the busiest agency's referrals first
    agency_user = User.objects.get(memberships__organization_id=big_agency)
    clinic_user = User.objects.filter(memberships__organization=clinic).order_by("pk")[0]
    rng = random.Random(args.seed)  # noqa: S311 - reproducible on purpose
    paths: dict[str, list[str]] = {}

    # Public searches: the search benchmark's mix, every one a different URL.
    index = directory_index_for(network)
    zips = sorted(
        Location.objects.filter(page__path__startswith=index.path, point__isnull=False)
        .values_list("postal_code", flat=True)
        .distinct()
    )
    search = reverse("search:public")
    seen: dict[str, None] = {}
    draw = args.queries
    while len(seen) < args.queries:
        for query in query_mix(draw, args.seed, zips):
            seen[f"{search}?{urlencode(query.to_params())}"] = None
        draw *= 2
    paths["search"] = list(seen)[: max(args.queries, 1)]

    # The inbox: tab, order and a page that exists, mostly the first few (as people page).
    inbox = reverse("referrals:referral_inbox")
    counts = referral_inbox_counts(
        user=agency_user, organization=Organization.objects.get(pk=big_agency), now=timezone.now()
    )
    combos = [
        (tab, sort, page)
        for tab, count in counts.items()
        for sort in ("due", "-due")
        for page in range(1, max(1, math.ceil(count / INBOX_PAGE_SIZE)) + 1)
    ]
    rng.shuffle(combos)
    combos.sort(key=lambda combo: combo[2] > 10)  # early pages first, deep ones to fill
    paths["inbox"] = [
        f"{inbox}?{urlencode({'tab': tab, 'sort': sort, **({'page': page} if page > 1 else {})})}"
        for tab, sort, page in combos[: args.queries]
    ]

    # The tracker: its filters drawn at random, and a page among the first few.
    tracker = reverse("referrals:referral_tracker")
    statuses = ("requested", "accepted", "in-progress", "completed", "rejected", "failed")
    needs = ("food-insecurity", "housing-instability", "transportation-insecurity")
    seen = {}
    while len(seen) < args.queries:
        params: list[tuple[str, Any]] = []
        if rng.random() < 0.4:
            params += [("status", s) for s in rng.sample(statuses, rng.choice((1, 1, 2)))]
        if rng.random() < 0.3:
            params.append(("agency", rng.choice(agencies)))
        if rng.random() < 0.2:
            params.append(("category", rng.choice(needs)))
        if rng.random() < 0.15:
            params.append(("overdue", "on"))
        if rng.random() < 0.2:
            start = timezone.localdate() - timedelta(days=rng.randrange(30, 360))
            params.append(("sent_from", start.isoformat()))
            params.append(("sent_to", (start + timedelta(days=30)).isoformat()))
        page = min(int(rng.expovariate(1 / 3)) + 1, 40)
        if page > 1:
            params.append(("page", page))
        seen[f"{tracker}?{urlencode(params)}" if params else tracker] = None
    paths["tracker"] = list(seen)
    return Load(
        host=host,
        agency_user=agency_user.username,
        clinic_user=clinic_user.username,
        password="pw",  # noqa: S106 - bench.referral_loop.cast_build's synthetic users
        login_path=reverse("login"),
        paths=paths,
    )


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


# --- in process ----------------------------------------------------------------------------------


@dataclass
class Timed:
    page: str
    cpu_ms: list[float]
    wall_ms: list[float]
    statuses: dict[int, int]


def signed_in_client(load: Load, page: str) -> Any:
    """A test client for ``page``: anonymous for the search, else the staff who opens it."""
    from django.test import Client

    from bench.portal_pages import act_as
    from network.models import Membership, User

    client = Client(HTTP_HOST=load.host)
    if page != "search":
        user = User.objects.get(username=load.agency_user if page == "inbox" else load.clinic_user)
        act_as(client, user, Membership.objects.get(user=user).organization)
    return client


def in_process(args: argparse.Namespace, load: Load) -> int:
    """Time every path of each page in process (after a warm-up pass), and profile each page."""
    from django.conf import settings

    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    results = []
    for page in args.pages:
        client = signed_in_client(load, page)
        paths = load.paths[page]

        def get(path: str, client: Any = client) -> int:
            return int(client.get(path, secure=secure).status_code)

        if not args.quiet:
            note(f"{page}: warm-up pass over {len(paths)} paths")
        for path in paths:
            get(path)
        timed = Timed(page, [], [], {})
        if not args.quiet:
            note(f"{page}: measured pass")
        for path in paths:
            cpu, wall = time.process_time(), time.perf_counter()
            status = get(path)
            timed.cpu_ms.append((time.process_time() - cpu) * 1000)
            timed.wall_ms.append((time.perf_counter() - wall) * 1000)
            timed.statuses[status] = timed.statuses.get(status, 0) + 1
        results.append(timed)
        if args.profile_dir:
            profile_page(args, page, paths[:300], get)
    out("")
    out(f"in process, {len(load.paths[args.pages[0]]):,} distinct paths per page (warm):")
    out(
        f"{'page':<9} {'cpu mean':>9} {'cpu p50':>8} {'cpu p95':>8} "
        f"{'wall mean':>10} {'wall p50':>9} {'wall p95':>9}  answers"
    )
    failed = False
    for timed in results:
        out(
            f"{timed.page:<9} {statistics.fmean(timed.cpu_ms):>9.1f} "
            f"{statistics.median(timed.cpu_ms):>8.1f} {percentile(timed.cpu_ms, 95):>8.1f} "
            f"{statistics.fmean(timed.wall_ms):>10.1f} {statistics.median(timed.wall_ms):>9.1f} "
            f"{percentile(timed.wall_ms, 95):>9.1f}  "
            + ", ".join(f"{k}: {v}" for k, v in sorted(timed.statuses.items()))
        )
        failed = failed or set(timed.statuses) != {200}
    return 1 if failed else 0


def profile_page(args: argparse.Namespace, page: str, paths: list[str], get: Any) -> None:
    """A pyinstrument profile of ``paths`` (a pass of its own: the timings stay unprofiled)."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for path in paths:
        get(path)
    profiler.stop()
    args.profile_dir.mkdir(parents=True, exist_ok=True)
    target = args.profile_dir / f"{page}-{args.label}.txt"
    target.write_text(
        f"# {page}: {len(paths)} requests in process (python -m bench.http_load --in-process), "
        f"pyinstrument, sampling every 0.5 ms\n"
        + profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)
    )
    out(f"profile: {target}")


# --- over HTTP ----------------------------------------------------------------------------------


# The wrk script the production smoke uses too.
LUA_SCRIPT = Path(__file__).resolve().parents[1] / "prod" / "wrk_paths.lua"


@dataclass
class Measured:
    """One page's wrk run."""

    page: str
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    socket_errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    problem: str = ""
    cpu: CpuSplit | None = None  # where the CPU went during the run (bench.process_cpu)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def not_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))


def session_cookie(stack: Any, load: Load, username: str) -> str:
    """Sign ``username`` in through the proxy (HTTPS, the sign-in form with its CSRF token), as a
    browser does; the cookies to send with every request."""
    import re

    import requests

    session = requests.Session()
    session.headers["Host"] = load.host
    login = f"{stack.base_url}{load.login_path}"
    # verify on each call: a session's own is overridden by REQUESTS_CA_BUNDLE if that is set
    page = session.get(login, timeout=30, verify=str(stack.ca_file))
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise SystemExit("the sign-in page has no CSRF token")
    answer = session.post(
        login,
        data={"csrfmiddlewaretoken": token[1], "username": username, "password": load.password},
        headers={"Referer": f"https://{load.host}{load.login_path}"},
        allow_redirects=False,
        timeout=30,
        verify=str(stack.ca_file),
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"signing {username} in failed: HTTP {answer.status_code}")
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def wrk_run(
    args: argparse.Namespace,
    stack: Any,
    load: Load,
    *,
    paths_file: Path,
    cookie: str,
    seconds: int,
    offset: int,
) -> Measured:
    """wrk against ``stack`` for ``seconds``: the JSON its script's done() prints, parsed."""
    import json
    import shutil
    import subprocess

    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    command = [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        stack.base_url,
    ]
    env = {
        **os.environ,
        "HTTP_LOAD_PATHS": str(paths_file),
        "HTTP_LOAD_HOST": load.host,
        "HTTP_LOAD_COOKIE": cookie,
        "HTTP_LOAD_OFFSET": str(offset),
    }
    before = snapshot()
    done = subprocess.run(  # noqa: S603 - wrk, arguments of our own
        command, env=env, capture_output=True, text=True, timeout=seconds + 60
    )
    measured = Measured(paths_file.stem, cpu=cpu_split(before, snapshot()))
    line = next((x for x in done.stdout.splitlines() if x.startswith("HTTP_LOAD_JSON ")), None)
    if done.returncode != 0 or line is None:
        measured.problem = f"wrk failed ({done.returncode}): {done.stderr[-500:]}"
        return measured
    figures = json.loads(line.removeprefix("HTTP_LOAD_JSON "))
    measured.requests = figures["requests"]
    measured.seconds = figures["duration_us"] / 1e6
    measured.p50_ms = figures["p50_us"] / 1000
    measured.p95_ms = figures["p95_us"] / 1000
    measured.p99_ms = figures["p99_us"] / 1000
    measured.max_ms = figures["max_us"] / 1000
    measured.socket_errors = figures["socket_errors"]
    measured.statuses = figures["statuses"]
    return measured


def http_load(args: argparse.Namespace, load: Load, workdir: Path, database: Database) -> int:
    """The production stack on the benchmark's database, each page loaded with wrk."""
    import shutil

    from prod.stack import Stack, StackOptions

    if shutil.which("wrk") is None and not Path("/usr/bin/wrk").exists():
        raise SystemExit("wrk is not installed (Debian package wrk)")
    options = StackOptions(
        workdir=workdir / "stack",
        web_instances=1,
        gunicorn_workers=args.workers,
        celery_workers=1,
        celery_concurrency=1,
        beat=False,
        database_url=database.url,
        redis_url=None,  # a Redis of the stack's own, as production has
        object_storage=False,
        https_port=0,
        extra_env={"ALLOWED_HOSTS": f"127.0.0.1,localhost,{load.host}", "LOG_LEVEL": "WARNING"},
        quiet=args.quiet,
    )
    runs: dict[str, list[Measured]] = {page: [] for page in args.pages}
    with Stack(options) as stack:
        stack.serve()
        out(
            f"stack: nginx (TLS) -> gunicorn x {args.workers} workers, Redis, PostgreSQL; "
            f"wrk -t{args.threads} -c{args.connections}; {args.rounds} round(s), each page "
            f"{args.warmup} s warm-up and {args.duration} s measured in each"
        )
        cookies: dict[str, str] = {}
        for page in args.pages:
            (workdir / f"{page}.paths").write_text("\n".join(load.paths[page]) + "\n")
            cookies[page] = ""
            if page != "search":
                user = load.agency_user if page == "inbox" else load.clinic_user
                cookies[page] = session_cookie(stack, load, user)
        for number, page in rounds_order(args.pages, args.rounds):
            paths_file = workdir / f"{page}.paths"
            if not args.quiet:
                note(
                    f"{page}, round {number}: warm-up {args.warmup} s, "
                    f"then {args.duration} s measured"
                )
            half = len(load.paths[page]) // 2
            if args.warmup > 0:
                wrk_run(
                    args,
                    stack,
                    load,
                    paths_file=paths_file,
                    cookie=cookies[page],
                    seconds=args.warmup,
                    offset=half,
                )
            measured = wrk_run(
                args,
                stack,
                load,
                paths_file=paths_file,
                cookie=cookies[page],
                seconds=args.duration,
                offset=0,
            )
            runs[page].append(measured)
            if not args.quiet:
                note(
                    f"{page}, round {number}: {measured.rps:.1f} requests/s, "
                    f"p95 {measured.p95_ms:.0f} ms, answers {measured.statuses} {measured.problem}"
                )
        restarts = {name: s.restarts for name, s in stack.services.items() if s.restarts}
    failed = rounds_report(runs)
    if restarts:
        out(f"processes started again during the run: {restarts}")
    cpu_report(runs)
    verdicts_report(runs)
    return 1 if failed else 0


def rounds_order(pages: Sequence[str], rounds: int) -> list[tuple[int, str]]:
    """(round, page) in the order they are measured: every page in turn, round after round."""
    return [(number, page) for number in range(1, rounds + 1) for page in pages]


def median_round(measured: Sequence[Measured]) -> Measured:
    """The round whose requests/s is the median (the lower of the two middle ones for an even
    number of rounds); a round that failed is never the median of rounds that did not."""
    usable = [m for m in measured if not m.problem] or list(measured)
    ordered = sorted(usable, key=lambda m: m.rps)
    return ordered[(len(ordered) - 1) // 2]


def meets_target(measured: Measured) -> bool:
    return (
        not measured.problem
        and measured.rps >= TARGET_RPS
        and measured.p95_ms < TARGET_P95_MS
        and not measured.not_2xx
        and not measured.socket_errors
    )


def rounds_report(runs: dict[str, list[Measured]]) -> bool:
    """Every round's figures, then each page's median round; whether anything failed (wrk, a
    non-2xx answer, a socket error)."""
    failed = False
    out("")
    out(
        f"{'page':<9} {'round':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'non-2xx':>8} {'socket errors':>14}"
    )
    for page, measured in runs.items():
        for number, m in enumerate(measured, start=1):
            if m.problem:
                out(f"{page:<9} {number:>5} {m.problem}")
                failed = True
                continue
            out(
                f"{page:<9} {number:>5} {m.requests:>8} {m.rps:>7.1f} {m.p50_ms:>7.0f} "
                f"{m.p95_ms:>7.0f} {m.p99_ms:>7.0f} {m.max_ms:>7.0f} {m.not_2xx:>8} "
                f"{m.socket_errors:>14}"
            )
            if m.not_2xx or m.socket_errors:
                out(f"  answers by status: {m.statuses}")
                failed = True
    out("")
    out("median round of each page (requests/s of every round in brackets):")
    for page, measured in runs.items():
        m = median_round(measured)
        every = ", ".join(f"{r.rps:.1f}" for r in measured)
        out(
            f"{page:<9} {m.rps:>7.1f} requests/s, p50 {m.p50_ms:.0f} ms, "
            f"p95 {m.p95_ms:.0f} ms [{every}]"
        )
    return failed


def cpu_report(runs: dict[str, list[Measured]]) -> None:
    """Each page's CPU per request in every kind of process over all its rounds, and how busy
    the cores were: with every core busy, requests/s is the cores' time divided by the total."""
    totals = []
    for page, measured in runs.items():
        counted = [(m.cpu, m) for m in measured if m.cpu and m.requests and not m.problem]
        if counted:
            split = cpu_sum([(cpu, m.seconds) for cpu, m in counted])
            totals.append((page, split, sum(m.requests for _cpu, m in counted)))
    if not totals:
        return
    cores = os.cpu_count() or 1
    out("")
    out(
        "CPU per request, ms (user + system of every process, from /proc, during the measured "
        f"runs; {TARGET_RPS:.0f} requests/s on {cores} cores leaves "
        f"{cores * 1000 / TARGET_RPS:.1f} ms a request):"
    )
    out(f"{'page':<9} " + " ".join(f"{kind:>10}" for kind in (*KINDS, "total")) + "  cores busy")
    for page, split, requests in totals:
        per_request = split.per_request_ms(requests)
        out(
            f"{page:<9} "
            + " ".join(f"{per_request[kind]:>10.1f}" for kind in (*KINDS, "total"))
            + f"  {split.busy_share:>10.0%}"
        )


def verdicts_report(runs: dict[str, list[Measured]]) -> None:
    """PASS or MISS for each page, on its median round."""
    for page, measured in runs.items():
        m = median_round(measured)
        verdict = "PASS" if meets_target(m) else "MISS"
        met = sum(meets_target(r) for r in measured)
        out(
            f"target: {verdict} {page} {m.rps:.1f} requests/s >= {TARGET_RPS:.0f}, "
            f"p95 {m.p95_ms:.0f} ms < {TARGET_P95_MS:.0f} (median of {len(measured)} "
            f"round(s); {met} of {len(measured)} met both)"
        )


# --- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, database: Database) -> int:
    import django

    django.setup()

    from django.conf import settings
    from django.core.cache import cache

    refuse_unless_throwaway(settings.DATABASES["default"], workdir)
    if args.reuse_database:
        out(f"== Handoff HTTP load benchmark == (database: {database.description})")
    else:
        bench_start("HTTP load", database, workdir)
        failed = data_build(args, workdir)
        if failed is not None:
            return failed
    cache.clear()  # the benchmark's own Redis database: no fragment from another run
    load = load_plan(args)
    out(
        "paths: "
        + ", ".join(f"{page} {len(set(paths)):,} distinct" for page, paths in load.paths.items())
    )
    if args.in_process:
        return in_process(args, load)
    return http_load(args, load, workdir, database)


if __name__ == "__main__":
    raise SystemExit(main())
