"""Benchmark the pages people open all day on a large network: the agency inbox, the clinic
tracker and the network dashboard.

    DJANGO_SETTINGS_MODULE=cms.settings.dev .venv/bin/python -m bench.portal_pages \\
        --database-url postgres://postgres@127.0.0.1:5432/postgres [--referrals 100000] [--keep]

Builds a throwaway database (``handoff_bench_<pid>`` on the PostgreSQL server, or a temporary
SQLite file without --database-url; the target is for PostgreSQL) with the referral benchmark's
network (``bench.referral_loop.build``: a clinic with staff, agencies each with a published
service, receiving staff and an active agreement, clients with whole-network consents), then
writes ``--referrals`` referrals (default 100,000; one agency receives ``--big-agency`` of them,
default a tenth) with ``bulk_create``, not through the services: a million service calls would
take an hour, and these pages only read. The referrals are spread over the last year with the
statuses, timestamps and timeline events the services would have written (answer due two days
after sending, outcome due 30 days after acceptance; young referrals mostly waiting, old ones
mostly closed; some overdue).

Then, signed in with ``django.test.Client`` (the whole request in process: middleware, views,
templates, no network), each page is requested once unmeasured (counting its SQL queries), then
``--requests`` times (default 30) measured:

* the agency inbox (``referrals:referral_inbox``) as staff of the agency with the most referrals;
* the clinic tracker (``referrals:referral_tracker``) as the clinic's staff (it sent them all);
* the network dashboard (``network_dashboard``, default period: 90 days) as the network admin,
  as it is served (the snapshot computed by the unmeasured request, checked against the
  network's changes on every request: ``referrals.dashboard.dashboard_snapshot``);
* "computed": the same page with ``?refresh=1``, computed again on every request (what the
  first visitor after a change, or of a new period, waits for when the warmer has not run);
* the overdue list of the busiest agency (``network_dashboard_overdue``), first page.

A page whose URL does not exist yet is reported "not available". Prints p50/p95/max server time
and queries per request, and the target: p95 under 100 ms for each page on PostgreSQL. Exit
status 0 whether the target is met or not (these are figures); 1 if a page failed. The
database is vacuumed after writing, as autovacuum would have done on a live server. With
REDIS_URL set (``make bench`` sets it, with a Redis database of the benchmark's own, emptied at
the start), the dashboard's snapshots are kept in Redis, as in production.
"""

from __future__ import annotations

import argparse
import cProfile
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.import_directory import (
    Database,
    bench_start,
    in_throwaway_database,
    note,
    out,
)
from bench.referral_loop import build, percentile

TARGET_P95_MS = 100.0
BATCH = 5_000
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# (status, weight) by the referral's age: young ones wait, old ones are mostly closed.
STATUS_MIX: tuple[tuple[timedelta, tuple[tuple[str, int], ...]], ...] = (
    (2 * DAY, (("requested", 70), ("accepted", 20), ("rejected", 10))),
    (
        30 * DAY,
        (
            ("requested", 5),
            ("accepted", 15),
            ("in-progress", 25),
            ("on-hold", 5),
            ("completed", 30),
            ("failed", 5),
            ("rejected", 10),
            ("cancelled", 5),
        ),
    ),
    (
        timedelta.max,
        (
            ("requested", 1),
            ("accepted", 2),
            ("in-progress", 4),
            ("on-hold", 1),
            ("completed", 62),
            ("failed", 10),
            ("rejected", 12),
            ("cancelled", 7),
            ("entered-in-error", 1),
        ),
    ),
)
OUTCOMES = {
    "completed": ("service-provided",) * 7 + ("service-provided-partially",) * 2,
    "failed": ("client-unreachable", "no-capacity", "not-eligible", "client-declined"),
}
SECOND_NEEDS = ("housing-instability", "transportation-insecurity", "utility-insecurity")
# (label, URL name, arguments, query string, who asks). "big" stands for the busiest agency.
PAGES: tuple[tuple[str, str, tuple[str, ...], str, str], ...] = (
    ("agency inbox", "referrals:referral_inbox", (), "", "agency"),
    ("clinic tracker", "referrals:referral_tracker", (), "", "clinic"),
    ("network dashboard", "network_dashboard", (), "", "admin"),
    ("  computed", "network_dashboard", (), "?refresh=1", "admin"),
    ("overdue list", "network_dashboard_overdue", ("big",), "", "admin"),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.portal_pages",
        description="Benchmark the agency inbox, the clinic tracker and the network dashboard.",
    )
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument(
        "--big-agency", type=int, help="referrals of the busiest agency (default: a tenth)"
    )
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=30, help="measured requests per page")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="also write cProfile statistics of each page's measured requests into DIR "
        "(<page>.prof, read with python -m pstats); the figures then include the profiler's cost",
    )
    args = parser.parse_args(argv)
    if min(args.referrals, args.agencies, args.clients, args.requests) < 1:
        parser.error("--referrals, --agencies, --clients and --requests must be at least 1")
    if args.big_agency is None:
        args.big_agency = args.referrals // 10 if args.agencies > 1 else args.referrals
    if not 0 <= args.big_agency <= args.referrals:
        parser.error("--big-agency must be between 0 and --referrals")
    if args.agencies == 1 and args.big_agency != args.referrals:
        parser.error("with one agency, --big-agency is every referral")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return in_throwaway_database(parse_args(argv), "handoff-bench-pages-", run)


@dataclass
class Story:
    """What happened to one synthetic referral: its status and each change, in order."""

    status: str
    sent_at: datetime
    steps: list[tuple[str, datetime]]
    responded_at: datetime | None = None
    outcome_due_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str = ""


def story(rng: random.Random, now: datetime) -> Story:
    """A referral sent in the last year, with a status its age makes likely."""
    sent = now - timedelta(seconds=rng.uniform(60, 365 * 86400))
    age = now - sent
    mix = next(choices for limit, choices in STATUS_MIX if age < limit)
    status = rng.choices([s for s, _ in mix], weights=[w for _, w in mix])[0]
    tale = Story(status=status, sent_at=sent, steps=[])

    def at(after: datetime, hours: float) -> datetime:
        return min(now, after + timedelta(hours=hours))

    if status == "requested":
        return tale
    if status == "entered-in-error" or (status == "cancelled" and rng.random() < 0.5):
        tale.closed_at = at(sent, rng.uniform(0.2, 6))
        tale.steps.append((status, tale.closed_at))
        return tale
    tale.responded_at = at(sent, rng.expovariate(1 / 10))
    if status == "rejected":
        tale.closed_at = tale.responded_at
        tale.steps.append((status, tale.closed_at))
        return tale
    tale.steps.append(("accepted", tale.responded_at))
    tale.outcome_due_at = tale.responded_at + 30 * DAY
    if status == "accepted":
        return tale
    working = at(tale.responded_at, rng.uniform(1, 48))
    tale.steps.append(("in-progress", working))
    if status == "in-progress":
        return tale
    if status == "on-hold":
        tale.steps.append((status, at(working, rng.uniform(24, 240))))
        return tale
    tale.closed_at = at(working, rng.uniform(24, 40 * 24))
    tale.steps.append((status, tale.closed_at))
    tale.outcome = rng.choice(OUTCOMES.get(status, ("",)))
    return tale


def referrals_write(args: argparse.Namespace, cast: dict[str, Any]) -> dict[str, int]:
    """``args.referrals`` referrals and their timelines with bulk_create; counts per status."""
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from consent.models import Consent, DataSharingAgreement
    from referrals.lifecycle import REASON_REQUIRED
    from referrals.models import EventKind, Referral, ReferralEvent

    rng = random.Random(args.seed)  # noqa: S311 - synthetic data, reproducible on purpose
    now = timezone.now()
    agencies, pages, clients = cast["agencies"], cast["pages"], cast["clients"]
    staff, clinic, network = cast["staff"], cast["clinic"], cast["network"]
    agreements = dict(
        DataSharingAgreement.objects.filter(status="active").values_list("agency_id", "pk")
    )
    consents = dict(Consent.objects.values_list("client_id", "pk"))
    users = {agency.pk: cast["agency_staff"][agency.pk] for agency in agencies}
    statuses: dict[str, int] = {}
    written = 0
    while written < args.referrals:
        size = min(BATCH, args.referrals - written)
        referrals, stories = [], []
        for i in range(written, written + size):
            # The first agency receives the first --big-agency referrals; the others the rest.
            if i < args.big_agency or len(agencies) == 1:
                k = 0
            else:
                k = 1 + (i - args.big_agency) % (len(agencies) - 1)
            tale = story(rng, now)
            needs = ["food-insecurity"]
            if rng.random() < 0.2:
                needs.append(rng.choice(SECOND_NEEDS))
            client = clients[i % len(clients)]
            referrals.append(
                Referral(
                    network=network,
                    client=client,
                    sender=clinic,
                    sent_by=staff[i % len(staff)],
                    agency=agencies[k],
                    service=pages[k],
                    service_name=pages[k].title,
                    categories=sorted(needs),
                    consent_id=consents[client.pk],
                    agreement_id=agreements[agencies[k].pk],
                    status=tale.status,
                    status_reason="Bench reason" if tale.status in REASON_REQUIRED else "",
                    outcome=tale.outcome,
                    response_due_at=tale.sent_at + 2 * DAY,
                    outcome_due_at=tale.outcome_due_at,
                    idempotency_key=f"bench-page-{i}",
                    version=1 + len(tale.steps),
                    sent_at=tale.sent_at,
                    responded_at=tale.responded_at,
                    closed_at=tale.closed_at,
                )
            )
            stories.append(tale)
            statuses[tale.status] = statuses.get(tale.status, 0) + 1
        with transaction.atomic():
            Referral.objects.bulk_create(referrals)
            events = []
            for referral, tale in zip(referrals, stories, strict=True):
                events.append(
                    ReferralEvent(
                        referral=referral,
                        kind=EventKind.CREATED,
                        at=tale.sent_at,
                        actor=referral.sent_by,
                        organization=clinic,
                        to_status="requested",
                    )
                )
                before = "requested"
                for to, at in tale.steps:
                    by_clinic = to in {"entered-in-error"} or (
                        to == "cancelled" and tale.responded_at is None
                    )
                    events.append(
                        ReferralEvent(
                            referral=referral,
                            kind=EventKind.STATUS,
                            at=at,
                            actor=referral.sent_by if by_clinic else users[referral.agency_id],
                            organization=clinic if by_clinic else referral.agency,
                            from_status=before,
                            to_status=to,
                        )
                    )
                    before = to
            ReferralEvent.objects.bulk_create(events, batch_size=BATCH)
        written += size
        if not args.quiet:
            note(f"  {written:,}/{args.referrals:,} referrals written")
    # bulk_create stamps created_at with the time of writing; a sent referral was created then.
    Referral.objects.update(created_at=F("sent_at"), updated_at=F("sent_at"))
    return statuses


def act_as(client: Any, user: Any, organization: Any) -> None:
    """Sign the test client in as ``user`` acting for ``organization`` (None: network admin)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from network.middleware import ACTIVE_MEMBERSHIP_SESSION_KEY
    from network.models import Membership
    from network.two_factor import two_factor_required

    client.force_login(user)
    session = client.session
    session[ACTIVE_MEMBERSHIP_SESSION_KEY] = Membership.objects.get(
        user=user, organization=organization
    ).pk
    if two_factor_required(user=user):  # admins: a session verified with an authenticator
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="bench", defaults={"confirmed": True}
        )
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@dataclass
class PageResult:
    label: str
    status: str  # "ok", "not available" or what went wrong
    ms: list[float]
    queries: int = 0


def page_measure(
    label: str,
    url_name: str,
    url_args: Sequence[Any],
    query: str,
    client: Any,
    requests: int,
    profile: Path | None = None,
) -> PageResult:
    from django.db import connection
    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse(url_name, args=url_args) + query
    except NoReverseMatch:
        return PageResult(label, "not available", [])
    queries = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    try:
        # Counted with an execute wrapper: Django empties its query log when a request starts.
        with connection.execute_wrapper(count):
            response = client.get(url)
        if response.status_code != 200:
            return PageResult(label, f"HTTP {response.status_code} at {url}", [])
        ms = []
        profiler = cProfile.Profile() if profile else None
        for _ in range(requests):
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            response = client.get(url)
            if profiler:
                profiler.disable()
            ms.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                return PageResult(label, f"HTTP {response.status_code} at {url}", ms)
        if profiler and profile:
            profile.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(profile / f"{label.strip().replace(' ', '-')}.prof")
    except Exception as exc:  # a page still being built elsewhere: report, measure the rest
        return PageResult(label, f"failed: {type(exc).__name__}: {exc}"[:200], [])
    return PageResult(label, "ok", ms, queries)


def run(args: argparse.Namespace, workdir: Path, database: Database) -> int:
    import django

    django.setup()

    from django.db import connection
    from django.test import Client

    from network.models import Role
    from referrals.models import Referral, ReferralEvent

    bench_start("portal pages", database, workdir)
    from django.conf import settings
    from django.core.cache import cache

    # The dashboard's snapshots live in the cache: Redis in production (REDIS_URL; make bench
    # gives this benchmark a database of its own, emptied here), else process memory.
    out(f"cache: {str(settings.CACHES['default']['BACKEND']).rsplit('.', 1)[-1]}")
    cache.clear()
    started = time.perf_counter()
    cast = build(args)
    out(
        f"setup: {args.agencies} agencies, {args.clients:,} clients with consents: "
        f"{time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    statuses = referrals_write(args, cast)
    if connection.vendor == "postgresql":
        # Writing in bulk, then rewriting every referral's created_at, leaves dead rows and
        # pages not yet marked all-visible; on a live server autovacuum has long since cleaned
        # up (and the dashboard's index-only scans rely on it). Vacuum to measure that state.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    stored = Referral.objects.count()
    events = ReferralEvent.objects.count()
    out(
        f"referrals: {stored:,} ({args.big_agency:,} to {cast['agencies'][0].name}), "
        f"{events:,} events, written in {time.perf_counter() - started:.1f} s"
    )
    out("statuses: " + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items())))

    from network.models import User

    big = cast["agencies"][0]
    signed_in = {
        "agency": (cast["agency_staff"][big.pk], big),
        "clinic": (cast["staff"][0], cast["clinic"]),
        "admin": (User.objects.get(memberships__role=Role.NETWORK_ADMIN), None),
    }
    results = []
    for label, url_name, url_args, query, who in PAGES:
        if not args.quiet:
            note(f"requesting the {label.strip()} {args.requests} times")
        client = Client()
        act_as(client, *signed_in[who])
        arguments = [big.pk if arg == "big" else arg for arg in url_args]
        results.append(
            page_measure(
                label, url_name, arguments, query, client, args.requests, profile=args.profile
            )
        )

    out("")
    out(f"{'page':<18} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
    failed = False
    for result in results:
        if result.status != "ok":
            out(f"{result.label:<18} {result.status}")
            failed = failed or result.status != "not available"
            continue
        ms = result.ms
        out(
            f"{result.label:<18} {len(ms):>8} {statistics.median(ms):>8.1f} "
            f"{percentile(ms, 95):>8.1f} {max(ms):>8.1f} {result.queries:>8}"
        )
    scope = (
        "" if connection.vendor == "postgresql" else " (SQLite run; the target is for PostgreSQL)"
    )
    for result in results:
        if result.status == "ok":
            p95 = percentile(result.ms, 95)
            verdict = "PASS" if p95 < TARGET_P95_MS else "MISS"
            out(f"target{scope}: {verdict} {result.label} p95 {p95:.1f} ms < {TARGET_P95_MS:.0f}")
    if stored != args.referrals:
        out(f"ERROR: {stored:,} referrals stored for {args.referrals:,}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
