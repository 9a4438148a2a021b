"""Benchmark the referral loop's writes: sends and status changes through the services.

    DJANGO_SETTINGS_MODULE=cms.settings.dev .venv/bin/python -m bench.referral_loop \\
        --database-url postgres://postgres@127.0.0.1:5432/postgres [--sends 10000] [--keep]

Builds a throwaway database (``handoff_bench_<pid>`` on the PostgreSQL server, or a temporary
SQLite file without --database-url; the target is for PostgreSQL) with one network: a clinic with
staff, agencies each with a published service, two receiving staff and an active data-sharing
agreement, and clients each with a whole-network consent. Then, timed call by call:

* ``--sends`` referrals through ``network.services.referral_send`` (each a distinct idempotency
  key, clients and agencies in rotation), with the consent and agreement checks, the event and
  the outbox rows for the agency's staff;
* three status changes per referral through ``referral_transition`` (accepted → in progress →
  completed, accepted → on hold → failed, accepted → in progress → cancelled, in rotation: 30,000
  for 10,000 sends), each with the version check, the event and the clinic's notifications.

Sends and changes run in ``--workers`` processes at once (default: one per CPU on PostgreSQL,
as web workers would; one on SQLite), each with its own connection; throughput is calls over the
phase's wall time. Delivery of
the outbox is a Celery worker's job: it is collected during the timed phases and run after them
(timed apart, with the in-memory mail backend). Prints throughput and p50/p95/max per operation
and the target (>= 200 sends/s on PostgreSQL). Exit status 0 whether the target is met
or not (these are figures); 1 if the data came out wrong.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.import_directory import (
    Database,
    bench_start,
    in_throwaway_database,
    note,
    out,
)

TARGET_SENDS_PER_SECOND = 200.0
PATHS: tuple[tuple[tuple[str, dict[str, Any]], ...], ...] = (
    (("accepted", {}), ("in-progress", {}), ("completed", {"outcome": "service-provided"})),
    (
        ("accepted", {}),
        ("on-hold", {"reason": "Waitlist"}),
        ("failed", {"reason": "No slot opened", "outcome": "no-capacity"}),
    ),
    (("accepted", {}), ("in-progress", {}), ("cancelled", {"reason": "Client moved away"})),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.referral_loop", description="Benchmark referral sends and changes."
    )
    parser.add_argument("--sends", type=int, default=10_000, help="referrals to send")
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument(
        "--workers",
        type=int,
        help="processes sending and changing at once (default: one per CPU on PostgreSQL, one "
        "on SQLite, which lets a single writer in and answers the others 'database is locked')",
    )
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = (os.cpu_count() or 1) if args.database_url else 1
    if min(args.sends, args.agencies, args.clients, args.workers) < 1:
        parser.error("--sends, --agencies, --clients and --workers must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return in_throwaway_database(parse_args(argv), "handoff-bench-loop-", run)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Cast:
    """One network's people and organizations."""

    network: Any
    host: str
    clinic: Any
    staff: list[Any]
    agencies: list[Any]
    pages: list[Any]
    agency_staff: dict[int, Any]
    clients: list[Any]


def cast_build(
    *,
    prefix: str,
    name: str,
    host: str,
    agencies: int,
    clients: int,
    consented_days_ago: int = 1,
) -> Cast:
    """A network with a clinic (5 staff), agencies each with a published service, two receiving
    staff and an active agreement, and clients with whole-network consents (given
    ``consented_days_ago``). The referral loop's and the FHIR benchmarks' cast."""

    from django.utils import timezone
    from django.utils.text import slugify

    from consent import services as consent_services
    from directory.models import AgencyPage, SdohCategory, ServicePage
    from directory.services import directory_index_for
    from network import services
    from network.models import Role, User
    from referrals.services.clients import client_create

    network = services.network_create(name=name, slug=prefix, hostname=host, port=80)
    admin = User.objects.create_user(f"{prefix}-admin", f"admin@{prefix}.invalid", "pw")
    services.membership_grant(user=admin, role=Role.NETWORK_ADMIN, network=network, notify=False)
    clinic = services.organization_create(network=network, name=f"{name} Clinic", kind="clinic")
    staff = []
    for n in range(5):
        user = User.objects.create_user(f"{prefix}-clinic-{n}", f"c{n}@{prefix}.invalid", "pw")
        services.membership_grant(
            user=user, role=Role.CLINIC_STAFF, organization=clinic, notify=False
        )
        staff.append(user)
    index = directory_index_for(network)
    food = SdohCategory.objects.get(code="food-insecurity")
    cast = Cast(network, host, clinic, staff, [], [], {}, [])
    for n in range(agencies):
        agency = services.organization_create(
            network=network, name=f"{name} Agency {n}", kind="agency"
        )
        page = AgencyPage(
            title=agency.name, slug=slugify(agency.name), description="x", organization=agency
        )
        index.add_child(instance=page)
        service = ServicePage(title=f"Food Pantry {n}", slug=f"pantry-{n}", description="Food.")
        page.add_child(instance=service)
        service.categories.set([food])
        service.save()
        user = User.objects.create_user(f"{prefix}-agency-{n}", f"a{n}@{prefix}.invalid", "pw")
        services.membership_grant(
            user=user, role=Role.AGENCY_STAFF, organization=agency, notify=False
        )
        agreement = consent_services.agreement_create(
            by=admin,
            agency=agency,
            fields=["name", "phone", "preferred_language", "note"],
            effective_from=date(2020, 1, 1),
        )
        consent_services.agreement_activate(agreement=agreement, by=admin)
        cast.agencies.append(agency)
        cast.pages.append(service)
        cast.agency_staff[agency.pk] = user
    for n in range(clients):
        client = client_create(
            organization=clinic,
            by=staff[n % len(staff)],
            first_name=f"Client{n}",
            last_name=f"{name.split()[0]}{n}",
            date_of_birth=date(1950 + n % 50, 1 + n % 12, 1 + n % 28),
            phone=f"707-555-{n % 10000:04d}",
            confirm_new=True,
        )
        consent_services.consent_record(
            client=client,
            by=staff[n % len(staff)],
            organization=clinic,
            categories=["food-insecurity"],
            method="verbal",
            attestation="Standard script read.",
            whole_network=True,
            granted_at=timezone.now() - timedelta(days=consented_days_ago),
        )
        cast.clients.append(client)
    return cast


def build(args: argparse.Namespace) -> dict[str, Any]:
    """The network, clinic, agencies with services and agreements, clients with consents."""
    cast = cast_build(
        prefix="bench",
        name="Bench",
        host="bench.localhost",
        agencies=args.agencies,
        clients=args.clients,
    )
    return {
        "network": cast.network,
        "clinic": cast.clinic,
        "staff": cast.staff,
        "agencies": cast.agencies,
        "pages": cast.pages,
        "agency_staff": cast.agency_staff,
        "clients": cast.clients,
    }


_CAST: dict[str, Any] = {}  # built before the worker processes fork


def _send_share(share: tuple[int, int, int]) -> tuple[list[float], list[int], list[int]]:
    """In a worker process: send every ``step``-th referral from ``first``; (milliseconds of
    each call, referral ids, outbox ids)."""
    from django.db import connections

    from referrals.services import notifications
    from referrals.services.sending import referral_send

    first, sends, step = share
    queued: list[int] = []
    notifications.delivery_enqueue = queued.extend  # type: ignore[assignment]
    clinic, staff, clients, pages = (_CAST[k] for k in ("clinic", "staff", "clients", "pages"))
    ms, ids = [], []
    for i in range(first, sends, step):
        t0 = time.perf_counter()
        referral = referral_send(
            client=clients[i % len(clients)],
            by=staff[i % len(staff)],
            sender=clinic,
            service=pages[i % len(pages)],
            categories=["food-insecurity"],
            idempotency_key=f"bench-{i}",
            note="Needs groceries this week.",
        )
        ms.append((time.perf_counter() - t0) * 1000)
        ids.append(referral.pk)
    connections.close_all()
    return ms, ids, queued


def _change_share(part: tuple[int, list[int]]) -> tuple[dict[str, list[float]], list[int]]:
    """In a worker process: apply step ``position`` of each referral's path; (milliseconds per
    status, outbox ids)."""
    from django.db import connections

    from referrals.models import Referral
    from referrals.services import notifications
    from referrals.services.transitions import referral_transition

    position, ids = part
    queued: list[int] = []
    notifications.delivery_enqueue = queued.extend  # type: ignore[assignment]
    referrals = Referral.objects.select_related("agency").in_bulk(ids)
    timings: dict[str, list[float]] = {}
    for pk in ids:
        referral = referrals[pk]
        to, extra = PATHS[pk % len(PATHS)][position]
        user = _CAST["agency_staff"][referral.agency_id]
        t0 = time.perf_counter()
        referral_transition(
            referral=referral,
            to=to,
            by=user,
            organization=referral.agency,
            version=referral.version,
            **extra,
        )
        timings.setdefault(to, []).append((time.perf_counter() - t0) * 1000)
    connections.close_all()
    return timings, queued


def run(args: argparse.Namespace, workdir: Path, database: Database) -> int:
    import django

    django.setup()

    from django.core import mail
    from django.db import connection, connections

    from referrals.models import Notification, Referral, ReferralEvent
    from referrals.outbox import notifications_deliver

    bench_start("referral loop", database, workdir)
    live = not args.quiet
    started = time.perf_counter()
    cast = build(args)
    out(
        f"setup: {args.agencies} agencies (each a service, 2 receiving staff, an agreement), "
        f"{args.clients:,} clients with consents, 5 clinic staff: "
        f"{time.perf_counter() - started:.1f} s"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    # Sends and changes run in --workers processes (web workers, one per core by default), each
    # with its own connection; the outbox ids are collected for delivery after timing.
    _CAST.update(cast)
    workers = max(1, args.workers)
    if live:
        note(f"sending {args.sends:,} referrals from {workers} process(es)")
    connections.close_all()
    context = multiprocessing.get_context("fork")
    queued: list[int] = []
    with context.Pool(workers) as pool:
        wall = time.perf_counter()
        shares = pool.map(_send_share, [(w, args.sends, workers) for w in range(workers)])
        send_wall = time.perf_counter() - wall
        send_ms = [ms for share in shares for ms in share[0]]
        sent_ids = sorted(pk for share in shares for pk in share[1])
        queued += [pk for share in shares for pk in share[2]]
        by_step: dict[str, list[float]] = {}
        if live:
            note(f"applying {3 * len(sent_ids):,} status changes")
        wall = time.perf_counter()
        for position in range(3):
            parts = [(position, sent_ids[w::workers]) for w in range(workers)]
            for timings, ids in pool.map(_change_share, parts):
                for to, ms in timings.items():
                    by_step.setdefault(to, []).extend(ms)
                queued += ids
            if live:
                note(f"  changes {position + 1}/3 done")
        change_wall = time.perf_counter() - wall

    mail.outbox = []
    wall = time.perf_counter()
    delivered = notifications_deliver(ids=queued)
    deliver_wall = time.perf_counter() - wall

    # --- check and report ------------------------------------------------------------------
    changes = sum(len(v) for v in by_step.values())
    stored = {
        "referrals": Referral.objects.count(),
        "events": ReferralEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "undelivered": Notification.objects.filter(delivered_at__isnull=True).count(),
        "emails": len(mail.outbox),
    }
    out("stored: " + ", ".join(f"{k} {v:,}" for k, v in stored.items()))
    problems = []
    if stored["referrals"] != args.sends:
        problems.append(f"{stored['referrals']} referrals for {args.sends} sends")
    if stored["events"] != args.sends + changes:
        problems.append(f"{stored['events']} events, expected {args.sends + changes}")
    if stored["undelivered"]:
        problems.append(f"{stored['undelivered']} notifications undelivered")
    out("")
    out(f"{'operation':<14} {'calls':>7} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    rows = [("send", send_ms, args.sends / send_wall)]
    rows += [(f"→ {to}", ms, workers * len(ms) / sum(ms) * 1000) for to, ms in by_step.items()]
    for label, ms, rate in rows:
        out(
            f"{label:<14} {len(ms):>7,} {rate:>8,.0f} {statistics.median(ms):>8.2f} "
            f"{percentile(ms, 95):>8.2f} {max(ms):>8.2f}"
        )
    all_changes = [v for ms in by_step.values() for v in ms]
    out(
        f"all changes: {changes:,} in {change_wall:.1f} s ({changes / change_wall:,.0f}/s), "
        f"p95 {percentile(all_changes, 95):.2f} ms"
    )
    out(
        f"outbox delivery (a worker's job, run after): {delivered:,} rows in {deliver_wall:.1f} s "
        f"({delivered / deliver_wall if deliver_wall else 0:,.0f}/s), {len(mail.outbox):,} emails"
    )
    rate = args.sends / send_wall
    scope = (
        "" if connection.vendor == "postgresql" else " (SQLite run; the target is for PostgreSQL)"
    )
    verdict = "PASS" if rate >= TARGET_SENDS_PER_SECOND else "MISS"
    out(f"target{scope}: {verdict} {rate:,.0f} sends/s >= {TARGET_SENDS_PER_SECOND:.0f}")
    for problem in problems:
        out(f"ERROR: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
