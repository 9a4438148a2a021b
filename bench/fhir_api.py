"""Benchmark the FHIR R4 API on a large network: Task polling (``Task?owner=…&_lastUpdated=gt…``)
with SMART Backend Services tokens, and the delivery of subscription notifications.

    DJANGO_SETTINGS_MODULE=cms.settings.dev .venv/bin/python -m bench.fhir_api \\
        --database-url postgres://postgres@127.0.0.1:5432/postgres [--tasks 100000] [--keep]

Builds a throwaway database (``handoff_bench_<pid>`` on the PostgreSQL server, or a temporary
SQLite file without --database-url; the targets are for PostgreSQL) with two networks. The
measured one has a clinic with staff, ``--agencies`` agencies each with a published service,
receiving staff and an active data-sharing agreement, and ``--clients`` clients with
whole-network consents; the other network has a clinic, three agencies and tasks of its own, so
that a tenancy filter that leaks shows up. ``--tasks`` referrals (default 100,000; the first
agency receives ``--big-agency`` of them, default a tenth) and ``--other-tasks`` in the other
network are written with COPY (``cms.bulk.rows_insert``), not through the services: statuses,
versions, timestamps and timeline events as the services would have written them over the last
year (``bench.portal_pages.story``), a few drafts. Then ``VACUUM ANALYZE``.

1. **Polling.** The busiest agency's system (an ``ApiClient`` with its own RSA key, registered
   with ``api_client_register``) signs in through the token endpoint with a signed client
   assertion, then ``--requests`` times each, interleaved, through ``django.test.Client`` (the
   whole request in process: middleware, django-ninja, the bearer check, JSON rendering):

   * ``Task?owner=Organization/<agency>&_lastUpdated=gt<t>`` with ``t`` just before one of the
     agency's 0 to 50 latest changes (a poll that finds a page of recent changes, or nothing);
   * ``Task?owner=…&_count=50`` (the first page, oldest change first, and the total);
   * ``Task?owner=…&_count=50&_offset=<n>`` (a page anywhere, as ``next`` links give them).

   Each answer is checked against the data (total, ids in order, owner). Printed: p50/p95/max
   per kind, SQL queries and SQL time per request, the token endpoint's time, and (unless
   --quiet) for one poll, the first page and the deepest page: each SQL statement with its
   time, and ``EXPLAIN ANALYZE`` of those on referrals (the count and the page). Tenancy:
   the other network's system is refused at this network's address, and another organization's
   tasks are not found.
2. **Notifications.** ``--subscriptions`` subscriptions (default 10) posted through the FHIR API:
   one by the clinic's EHR (``requester`` = the clinic) and one by each of the first agencies'
   systems (``owner`` = the agency), their rest-hooks on a ``ThreadingHTTPServer`` in a process
   of its own (127.0.0.1, HTTP/1.1 keep-alive, answers 200 at once, counts every notification
   it receives). After the handshakes, each delivery round applies ``--changes`` status
   changes (``referral_transition``, timed) to the subscribed agencies' open referrals, each
   writing two notifications (the agency's and the clinic's) in its transaction, then delivers
   them, timed until every one is delivered, in one of two ways:

   * ``tasks``: the delivery tasks the changes queued (one per change, naming its two
     subscriptions), run as a Celery worker runs them (``fhir_notifications_deliver``, the
     database connection closed after each task, as with the default CONN_MAX_AGE of 0), then
     whatever is left drained as the sweep would;
   * ``sweep``: ``fhir_notifications_deliver`` over all the subscriptions, again and again
     until nothing is left (what the function itself sustains on a backlog);
   * ``steady``: each change's task run (in the worker process) as soon as the change commits,
     as when a worker keeps up; the time is the sum of the tasks' times in the worker.

   ``tasks`` and ``sweep`` in one worker process, then (PostgreSQL) in ``--workers`` (default
   2); ``steady`` in one. Every notification must be received exactly once.

Exit status 0 whatever the figures (they are figures, not tests), 1 if data or an answer came
out wrong.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import json
import logging
import math
import multiprocessing
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.import_directory import (
    Database,
    bench_start,
    in_throwaway_database,
    note,
    out,
)
from bench.portal_pages import OUTCOMES, SECOND_NEEDS, story
from bench.referral_loop import Cast, cast_build, percentile

TARGET_P95_MS = 50.0
TARGET_NOTIFICATIONS_PER_SECOND = 100.0
COPY_ROWS = 10_000
PAGE = 50
FHIR = "/fhir/r4/"
FHIR_JSON = "application/fhir+json"
TOKEN_PATH = f"{FHIR}auth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPES = "system/Task.rs system/ServiceRequest.rs system/Procedure.rs system/Subscription.cruds"
# A token lives five minutes (network.smart.TOKEN_LIFETIME): a new one after four.
TOKEN_REFRESH_SECONDS = 240
DRAFT_SHARE = 0.005
URGENT_SHARE = 0.1
# The agency's next status in the notification phase (open referrals only).
NEXT_STATUS: dict[str, tuple[str, str]] = {
    "requested": ("accepted", ""),
    "accepted": ("in-progress", ""),
    "in-progress": ("on-hold", "Waitlist"),
    "on-hold": ("in-progress", ""),
}
KINDS = ("since", "first", "offset")
KIND_LABELS = {
    "since": "_lastUpdated=gt<t>",
    "first": "_count=50",
    "offset": "_count=50&_offset=n",
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fhir_api",
        description="Benchmark FHIR Task polling and subscription notifications.",
    )
    parser.add_argument("--tasks", type=int, default=100_000, help="referrals in the network")
    parser.add_argument(
        "--big-agency", type=int, help="tasks of the polling agency (default: a tenth)"
    )
    parser.add_argument(
        "--other-tasks", type=int, help="tasks in the other network (default: a twentieth)"
    )
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=300, help="measured requests per kind")
    parser.add_argument(
        "--subscriptions",
        type=int,
        help="the clinic's and one per agency system (default 10, at most --agencies + 1)",
    )
    parser.add_argument(
        "--changes",
        type=int,
        default=1_000,
        help="status changes per delivery round (each writes two notifications)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="delivery processes of the second round"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, no EXPLAIN")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="also write cProfile statistics of each kind's measured requests into DIR "
        "(<kind>.prof, read with python -m pstats); the figures then include the profiler's cost",
    )
    args = parser.parse_args(argv)
    if args.big_agency is None:
        args.big_agency = args.tasks // 10
    if args.other_tasks is None:
        args.other_tasks = args.tasks // 20
    if args.subscriptions is None:
        args.subscriptions = min(10, args.agencies + 1)
    if min(args.tasks, args.agencies, args.clients, args.requests, args.changes) < 1:
        parser.error("--tasks, --agencies, --clients, --requests and --changes must be >= 1")
    if args.agencies < 2 or not 0 < args.big_agency <= args.tasks:
        parser.error("--agencies must be at least 2 and --big-agency between 1 and --tasks")
    if not 2 <= args.subscriptions <= args.agencies + 1:
        parser.error("--subscriptions: from 2 (the clinic and one agency) to --agencies + 1")
    if args.workers < 1 or args.other_tasks < 0:
        parser.error("--workers must be at least 1 and --other-tasks not negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return in_throwaway_database(parse_args(argv), "handoff-bench-fhir-", run)


# --- the networks --------------------------------------------------------------------------------


def tasks_write(
    cast: Cast, *, count: int, big: int, first_id: int, rng: random.Random, quiet: bool
) -> Counter[str]:
    """``count`` referrals of ``cast``'s network (ids from ``first_id``; the first agency
    receives ``big`` of them) and their timelines, with COPY; the count per status."""
    from django.db import transaction
    from django.utils import timezone

    from cms.bulk import rows_insert
    from consent.models import Consent, DataSharingAgreement
    from referrals.lifecycle import REASON_REQUIRED
    from referrals.models import EventKind, ReasonCode, Referral, ReferralEvent

    now = timezone.now()
    agreements = dict(
        DataSharingAgreement.objects.filter(agency__in=cast.agencies, status="active").values_list(
            "agency_id", "pk"
        )
    )
    consents = dict(Consent.objects.filter(client__in=cast.clients).values_list("client_id", "pk"))
    referral_fields = list(Referral._meta.concrete_fields)  # the id too: events name it
    codes = [c for c in ReasonCode.values if c != ReasonCode.OTHER]
    statuses: Counter[str] = Counter()
    agencies, pages = cast.agencies, cast.pages
    written = 0
    while written < count:
        size = min(COPY_ROWS, count - written)
        referrals: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for i in range(written, written + size):
            k = 0 if i < big else 1 + (i - big) % (len(agencies) - 1)
            agency, page = agencies[k], pages[k]
            client = cast.clients[i % len(cast.clients)]
            sender_user = cast.staff[i % len(cast.staff)]
            pk = first_id + i
            needs = ["food-insecurity"]
            if rng.random() < 0.2:
                needs.append(rng.choice(SECOND_NEEDS))
            row: dict[str, Any] = {
                "id": pk,
                "network_id": cast.network.pk,
                "client_id": client.pk,
                "sender_id": cast.clinic.pk,
                "sent_by_id": sender_user.pk,
                "agency_id": agency.pk,
                "service_id": page.pk,
                "service_name": page.title,
                "categories": sorted(needs),
                "urgency": "urgent" if rng.random() < URGENT_SHARE else "routine",
                "note": "Needs groceries this week.",
                "consent_id": consents[client.pk],
                "agreement_id": agreements[agency.pk],
                "idempotency_key": f"bench-fhir-{pk}",
            }
            if rng.random() < DRAFT_SHARE:
                # A draft the clinic has not sent: never the agency's (the owner's search
                # must leave it out).
                made = now - timedelta(seconds=rng.uniform(60, 365 * 86400))
                row.update(status="draft", version=1, created_at=made, updated_at=made)
                referrals.append(row)
                statuses["draft"] += 1
                continue
            tale = story(rng, now)
            last = max([tale.sent_at, *(at for _to, at in tale.steps)])
            row.update(
                status=tale.status,
                status_reason="Bench reason" if tale.status in REASON_REQUIRED else "",
                reason_code=rng.choice(codes) if tale.status in {"rejected", "failed"} else "",
                outcome=tale.outcome
                or (rng.choice(OUTCOMES["failed"]) if tale.status == "failed" else ""),
                response_due_at=tale.sent_at + timedelta(days=2),
                outcome_due_at=tale.outcome_due_at,
                version=1 + len(tale.steps),
                created_at=tale.sent_at,
                updated_at=last,
                sent_at=tale.sent_at,
                responded_at=tale.responded_at,
                closed_at=tale.closed_at,
            )
            referrals.append(row)
            statuses[tale.status] += 1
            events.append(
                {
                    "referral_id": pk,
                    "kind": EventKind.CREATED,
                    "at": tale.sent_at,
                    "actor_id": sender_user.pk,
                    "organization_id": cast.clinic.pk,
                    "to_status": "requested",
                }
            )
            before = "requested"
            for to, at in tale.steps:
                by_clinic = to == "entered-in-error" or (
                    to == "cancelled" and tale.responded_at is None
                )
                events.append(
                    {
                        "referral_id": pk,
                        "kind": EventKind.STATUS,
                        "at": at,
                        "actor_id": (sender_user if by_clinic else cast.agency_staff[agency.pk]).pk,
                        "organization_id": (cast.clinic if by_clinic else agency).pk,
                        "from_status": before,
                        "to_status": to,
                    }
                )
                before = to
        with transaction.atomic():
            rows_insert(Referral, referrals, fields=referral_fields)
            rows_insert(ReferralEvent, events)
        written += size
        if not quiet:
            note(f"  {cast.network.slug}: {written:,}/{count:,} tasks written")
    return statuses


def sequences_reset() -> None:
    """The referral ids were given: the next ones the services write must follow them."""
    from django.core.management.color import no_style
    from django.db import connection

    from referrals.models import Referral

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Referral]):
            cursor.execute(sql)


# --- systems and their tokens ----------------------------------------------------------------


@dataclass
class System:
    """A registered system (its private key kept here) calling one network's host."""

    client: Any
    private_key: Any
    kid: str
    host: str
    http: Any
    token: str = ""
    signed_at: float = 0.0

    def assertion(self) -> str:
        import jwt

        now = datetime.now(UTC)
        claims = {
            "iss": self.client.client_id,
            "sub": self.client.client_id,
            "aud": f"http://{self.host}{TOKEN_PATH}",
            "exp": int((now + timedelta(minutes=4)).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.private_key, algorithm="RS384", headers={"kid": self.kid})

    def sign_in(self) -> float:
        """A new token through the token endpoint; the milliseconds it took."""
        started = time.perf_counter()
        answer = self.http.post(
            TOKEN_PATH,
            {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion(),
                "scope": SCOPES,
            },
            HTTP_HOST=self.host,
        )
        took = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"token endpoint: HTTP {answer.status_code} {answer.content!r}")
        self.token = answer.json()["access_token"]
        self.signed_at = time.monotonic()
        return took

    def fresh(self) -> None:
        if not self.token or time.monotonic() - self.signed_at > TOKEN_REFRESH_SECONDS:
            self.sign_in()

    def get(self, path: str) -> Any:
        self.fresh()
        return self.http.get(path, HTTP_HOST=self.host, HTTP_AUTHORIZATION=f"Bearer {self.token}")

    def post(self, path: str, resource: dict[str, Any]) -> Any:
        self.fresh()
        return self.http.post(
            path,
            json.dumps(resource),
            content_type=FHIR_JSON,
            HTTP_HOST=self.host,
            HTTP_AUTHORIZATION=f"Bearer {self.token}",
        )


_KEY: list[tuple[Any, dict[str, Any]]] = []


def system_register(organization: Any, *, name: str, host: str) -> System:
    """An ``ApiClient`` of ``organization`` with a real RSA key (one per run, each client its
    own kid), as a network admin registers it."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.test import Client
    from jwt.algorithms import RSAAlgorithm

    from network.models import ApiClientRole
    from network.smart import api_client_register

    if not _KEY:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _KEY.append((private, json.loads(RSAAlgorithm.to_jwk(private.public_key()))))
    private, public = _KEY[0]
    kid = f"rs384-{uuid.uuid4().hex[:8]}"
    client = api_client_register(
        network=organization.network,
        organization=organization,
        name=name,
        role=ApiClientRole.CLINIC if organization.sends_referrals else ApiClientRole.AGENCY,
        jwks={"keys": [{**public, "kid": kid, "alg": "RS384", "use": "sig"}]},
        scopes=SCOPES.split(),
        by=None,
    )
    return System(client=client, private_key=private, kid=kid, host=host, http=Client())


# --- polling ---------------------------------------------------------------------------------


@dataclass
class Measured:
    ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    queries: Counter[int] = field(default_factory=Counter)
    rows: list[int] = field(default_factory=list)


@dataclass
class Ask:
    """One request and what it must answer."""

    kind: str
    path: str
    total: int
    ids: list[int]
    offset: int = 0


def instant_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def asks_make(
    agency_id: int, changes: list[tuple[datetime, int]], requests: int, rng: random.Random
) -> list[Ask]:
    """``requests`` asks of each kind, interleaved, with their expected answers (``changes``:
    the agency's visible tasks as (updated_at, id), oldest change first)."""
    times = [at for at, _pk in changes]
    ids = [pk for _at, pk in changes]
    base = f"{FHIR}Task?owner=Organization/{agency_id}"
    asks = []
    for _ in range(requests):
        # A poll after the k-th latest change (at the second, as meta.lastUpdated gives it);
        # k = -1: after the latest, nothing new.
        k = rng.randint(-1, PAGE)
        if k < 0 or not changes:
            t = (times[-1] if times else datetime.now(UTC)).replace(microsecond=0)
            t += timedelta(seconds=1)
        else:
            t = times[max(0, len(times) - 1 - k)].replace(microsecond=0)
        first = bisect.bisect_right(times, t)
        query = urlencode({"_lastUpdated": f"gt{instant_text(t)}"})
        asks.append(Ask("since", f"{base}&{query}", len(ids) - first, ids[first : first + PAGE]))
        asks.append(Ask("first", f"{base}&_count={PAGE}", len(ids), ids[:PAGE]))
        offset = PAGE * rng.randrange(max(1, math.ceil(len(ids) / PAGE)))
        asks.append(
            Ask(
                "offset",
                f"{base}&_count={PAGE}&_offset={offset}",
                len(ids),
                ids[offset : offset + PAGE],
                offset,
            )
        )
    return asks


def answer_problem(ask: Ask, response: Any, agency_id: int) -> str:
    """What is wrong with an answer ("" if nothing)."""
    if response.status_code != 200:
        return f"{ask.path}: HTTP {response.status_code} {response.content[:300]!r}"
    bundle = response.json()
    entries = [e["resource"] for e in bundle.get("entry", [])]
    got = [int(r["id"]) for r in entries]
    if bundle.get("total") != ask.total or got != ask.ids:
        return (
            f"{ask.path}: total {bundle.get('total')} (expected {ask.total}), "
            f"{len(got)} ids (expected {len(ask.ids)}), same order: {got == ask.ids}"
        )
    owners = {r.get("owner", {}).get("reference") for r in entries}
    if entries and owners != {f"Organization/{agency_id}"}:
        return f"{ask.path}: owners {sorted(map(str, owners))}"
    return ""


class SqlMeter:
    """Counts the SQL statements of a request and the time spent in them (an execute wrapper:
    Django empties its own query log when a request starts); keeps the statements if asked."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.keep = False
        self.statements: list[tuple[str, Any, float]] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.count += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - started
            self.seconds += took
            if self.keep:
                self.statements.append((sql, params, took * 1000))

    def reset(self) -> None:
        self.count, self.seconds, self.statements = 0, 0.0, []


def polling_measure(
    system: System, asks: list[Ask], agency_id: int, profile: Path | None
) -> tuple[dict[str, Measured], list[str]]:
    from django.db import connection

    meter = SqlMeter()
    results = {kind: Measured() for kind in KINDS}
    profilers = {kind: cProfile.Profile() for kind in KINDS} if profile else {}
    problems: list[str] = []
    with connection.execute_wrapper(meter):
        for ask in asks[: 3 * min(20, len(asks) // 3)]:  # warm-up
            system.get(ask.path)
        for ask in asks:
            system.fresh()  # a new token is not part of a search's time
            meter.reset()
            profiler = profilers.get(ask.kind)
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            response = system.get(ask.path)
            _body = response.content
            if profiler:
                profiler.disable()
            took = (time.perf_counter() - started) * 1000
            measured = results[ask.kind]
            measured.ms.append(took)
            measured.sql_ms.append(meter.seconds * 1000)
            measured.queries[meter.count] += 1
            measured.rows.append(len(ask.ids))
            problem = answer_problem(ask, response, agency_id)
            if problem and len(problems) < 10:
                problems.append(problem)
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
        for kind, profiler in profilers.items():
            profiler.dump_stats(profile / f"task-{kind}.prof")
    return results, problems


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    return repr(value)


def _shown(sql: str, params: Any) -> str:
    shown = sql % tuple(_literal(p) for p in params or ())
    if shown.startswith("SELECT ") and " FROM " in shown and "COUNT(" not in shown:
        columns = shown[7 : shown.index(" FROM ")].count(", ") + 1
        shown = f"SELECT <{columns} columns>{shown[shown.index(' FROM ') :]}"  # noqa: S608 - printed
    return shown


def explain(system: System, path: str) -> None:
    """The statements of one request (with their time, as the request saw it), then EXPLAIN
    ANALYZE of those on referrals."""
    from django.db import connection

    meter = SqlMeter()
    meter.keep = True
    system.fresh()
    with connection.execute_wrapper(meter):
        system.get(path)
    out(f"SQL of {path}:")
    for sql, params, ms in meter.statements:
        out(f"  {ms:6.2f} ms  {_shown(sql, params)[:160]}")
    out("EXPLAIN (ANALYZE, BUFFERS) of the statements on referrals:")
    for sql, params, _ms in meter.statements:
        if "referrals_referral" not in sql:
            continue
        out(f"  {_shown(sql, params)}")
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            for (line,) in cursor.fetchall():
                out(f"    {line}")


# --- the subscriber ------------------------------------------------------------------------------


def subscriber_serve(conn: Any) -> None:
    """In a process of its own: rest-hooks answering 200 at once, counting what they receive as
    (path, subscription id, type, event number); answers "counts" on ``conn``, stops on "stop"."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions use it

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            try:
                parameters = json.loads(body)["entry"][0]["resource"]["parameter"]
                named = {p["name"]: p for p in parameters}
                subscription = named["subscription"]["valueReference"]["reference"]
                number = named["events-since-subscription-start"]["valueString"]
                for part in named.get("notification-event", {}).get("part", []):
                    if part["name"] == "event-number":
                        number = part["valueString"]
                key = (
                    self.path,
                    subscription.rsplit("/", 1)[-1],
                    named["type"]["valueCode"],
                    number,
                )
            except (KeyError, IndexError, TypeError, ValueError):
                key = (self.path, "?", "unreadable", "")
            with lock:
                counts[key] += 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn.send(server.server_port)
    while conn.recv() == "counts":
        with lock:
            conn.send(dict(counts))
    server.shutdown()
    server.server_close()


@dataclass
class Round:
    # "tasks": the tasks the changes queued, run after them, then drained; "sweep": drained
    # only; "steady": each change's task run as soon as it commits (a worker keeping up).
    mode: str
    workers: int
    changes: int
    change_ms: list[float]
    tasks: int
    empty_tasks: int  # tasks that found nothing left to send
    notifications: int
    seconds: float
    drained_passes: int


def _delivery_task(subscription_ids: list[int]) -> int:
    """In a worker process: one queued delivery task, as Celery runs it (the connection closed
    after it: CONN_MAX_AGE is 0 unless the deployment sets it)."""
    from django.db import close_old_connections

    from referrals.services.subscriptions import fhir_notifications_deliver

    try:
        return fhir_notifications_deliver(subscription_ids=subscription_ids)
    finally:
        close_old_connections()


def _delivery_task_timed(subscription_ids: list[int]) -> tuple[int, float]:
    """``_delivery_task``, timed in the worker (seconds)."""
    started = time.perf_counter()
    sent = _delivery_task(subscription_ids)
    return sent, time.perf_counter() - started


def _drain(subscription_ids: list[int]) -> tuple[int, int]:
    """In a worker process: what the sweep does, until nothing is left (delivered, passes)."""
    from django.db import connections

    from referrals.models import FhirNotification
    from referrals.services.subscriptions import fhir_notifications_deliver

    delivered = passes = 0
    waiting = FhirNotification.objects.filter(
        subscription_id__in=subscription_ids, delivered_at__isnull=True
    )
    while waiting.exists():
        passes += 1
        sent = fhir_notifications_deliver(subscription_ids=subscription_ids)
        delivered += sent
        if not sent:
            if waiting.filter(attempts__gt=0).exists():
                break  # a failure: reported by the caller
            time.sleep(0.002)  # the other worker is sending those
    connections.close_all()
    return delivered, passes


def changes_apply(
    cast: Cast, agencies: list[Any], changes: int, after: Callable[[], None] | None = None
) -> list[float]:
    """``changes`` status changes of the subscribed agencies' open referrals, latest first, each
    through ``referral_transition`` (timed; ``after`` is called after each, not timed)."""
    from referrals.models import Referral
    from referrals.services.transitions import referral_transition

    open_ones = list(
        Referral.objects.filter(agency__in=agencies, status__in=list(NEXT_STATUS))
        .select_related("agency")
        .order_by("-updated_at", "-pk")[:changes]
    )
    if not open_ones:
        raise RuntimeError("no open referral of the subscribed agencies to change")
    ms = []
    for i in range(changes):
        referral = open_ones[i % len(open_ones)]
        to, reason = NEXT_STATUS[referral.status]
        started = time.perf_counter()
        referral_transition(
            referral=referral,
            to=to,
            by=cast.agency_staff[referral.agency_id],
            organization=referral.agency,
            version=referral.version,
            reason=reason,
        )
        ms.append((time.perf_counter() - started) * 1000)
        if after is not None:
            after()
    return ms


def delivery_round(
    *,
    cast: Cast,
    agencies: list[Any],
    subscription_ids: list[int],
    changes: int,
    mode: str,
    workers: int,
    queued: list[list[int]],
    live: bool,
) -> Round:
    from django.db import connections

    from referrals.models import FhirNotification

    queued.clear()
    before = FhirNotification.objects.filter(delivered_at__isnull=True).count()
    connections.close_all()
    context = multiprocessing.get_context("fork")
    by_task: list[int] = []
    steady_seconds = 0.0
    with context.Pool(workers) as pool:
        pool.map(abs, range(workers))  # the workers are up before the clock starts

        def deliver_now() -> None:
            # A worker keeping up: the change's task runs as soon as the change commits.
            nonlocal steady_seconds
            while queued:
                sent, took = pool.apply(_delivery_task_timed, (queued.pop(0),))
                by_task.append(sent)
                steady_seconds += took

        if live:
            note(f"applying {changes:,} status changes (each writes its notifications)")
        change_ms = changes_apply(
            cast, agencies, changes, after=deliver_now if mode == "steady" else None
        )
        tasks = list(queued) if mode == "tasks" else []
        waiting = FhirNotification.objects.filter(delivered_at__isnull=True).count() - before
        if live and waiting:
            note(f"delivering {waiting:,} notifications ({mode}, {workers} process(es))")
        started = time.perf_counter()
        by_task += pool.imap_unordered(_delivery_task, tasks, chunksize=1)
        drained = pool.map(_drain, [subscription_ids] * workers)
        seconds = time.perf_counter() - started + steady_seconds
    sent = sum(by_task) + sum(d for d, _passes in drained)
    return Round(
        mode=mode,
        workers=workers,
        changes=changes,
        change_ms=change_ms,
        tasks=len(by_task),
        empty_tasks=by_task.count(0),
        notifications=sent,
        seconds=seconds,
        drained_passes=sum(p for _d, p in drained),
    )


# --- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, database: Database) -> int:
    import django

    django.setup()

    from django.db import connection, connections
    from django.test.utils import override_settings

    from referrals.services import notifications
    from referrals.services import subscriptions as subscription_services

    bench_start("FHIR API", database, workdir)
    live = not args.quiet
    postgres = connection.vendor == "postgresql"
    # The rest-hooks are http:// on 127.0.0.1 (allowed for tests and the demo only); the
    # tenancy check asks at two hosts.
    overrides = override_settings(
        ALLOWED_HOSTS=["*"],
        FHIR_SUBSCRIPTION_ALLOW_HTTP=True,
        FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES=True,
    )
    overrides.enable()
    # Delivery is a worker's job: the tasks a change queues are collected and run later, as
    # Celery would; the people's notifications (email) are left in their outbox.
    queued: list[list[int]] = []
    subscription_services._delivery_enqueue = queued.append  # type: ignore[assignment]
    ignored: list[int] = []
    notifications.delivery_enqueue = ignored.extend  # type: ignore[assignment]
    problems: list[str] = []
    try:
        return _run(args, live, postgres, queued, problems)
    finally:
        overrides.disable()
        connections.close_all()


def _run(
    args: argparse.Namespace,
    live: bool,
    postgres: bool,
    queued: list[list[int]],
    problems: list[str],
) -> int:
    from django.db import connection, connections
    from django.db.models import Max

    from referrals.models import FhirNotification, FhirSubscription, Referral

    rng = random.Random(args.seed)  # noqa: S311 - synthetic data, reproducible on purpose
    started = time.perf_counter()
    main_cast = cast_build(
        prefix="bench",
        name="Bench Network",
        host="bench.localhost",
        agencies=args.agencies,
        clients=args.clients,
        consented_days_ago=400,
    )
    other = cast_build(
        prefix="other",
        name="Other Network",
        host="other.localhost",
        agencies=3,
        clients=max(10, args.clients // 20),
        consented_days_ago=400,
    )
    out(
        f"setup: {args.agencies} agencies, {args.clients:,} clients with consents (and a second "
        f"network: 3 agencies, {len(other.clients)} clients): {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    statuses = tasks_write(
        main_cast, count=args.tasks, big=args.big_agency, first_id=1, rng=rng, quiet=args.quiet
    )
    tasks_write(
        other,
        count=args.other_tasks,
        big=args.other_tasks // 3,
        first_id=args.tasks + 1,
        rng=rng,
        quiet=args.quiet,
    )
    sequences_reset()
    written = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if postgres else "ANALYZE")
    out(
        f"tasks: {args.tasks:,} in the network ({args.big_agency:,} to the polling agency), "
        f"{args.other_tasks:,} in the other network: written in {written:.1f} s, "
        f"VACUUM ANALYZE {time.perf_counter() - started:.1f} s"
    )
    out("statuses: " + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items())))
    stored = Referral.objects.filter(network=main_cast.network).count()
    stored_other = Referral.objects.filter(network=other.network).count()
    if (stored, stored_other) != (args.tasks, args.other_tasks):
        out(f"ERROR: {stored:,} + {stored_other:,} referrals stored")
        return 1

    # --- 1. polling --------------------------------------------------------------------------
    big = main_cast.agencies[0]
    system = system_register(big, name="Bench agency system", host=main_cast.host)
    token_ms = [system.sign_in() for _ in range(21)][1:]
    changes = list(
        Referral.objects.filter(agency=big)
        .exclude(status="draft")
        .order_by("updated_at", "pk")
        .values_list("updated_at", "pk")
    )
    asks = asks_make(big.pk, changes, args.requests, rng)
    if live:
        note(f"polling: {len(asks):,} requests ({args.requests} of each kind, interleaved)")
    results, answer_problems = polling_measure(system, asks, big.pk, args.profile)
    problems += answer_problems

    # Tenancy: the other network's system at this network's host; another owner's tasks.
    outsider = system_register(other.agencies[0], name="Other agency system", host=other.host)
    outsider.sign_in()
    outsider.host = main_cast.host
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)  # the 401 below is expected
    try:
        refused = outsider.get(f"{FHIR}Task?owner=Organization/{other.agencies[0].pk}")
    finally:
        request_log.setLevel(level)
    if refused.status_code != 401:
        problems.append(f"another network's token at this host: HTTP {refused.status_code}")
    for foreign in (other.agencies[0], main_cast.agencies[1]):
        answer = system.get(f"{FHIR}Task?owner=Organization/{foreign.pk}")
        if answer.status_code != 200 or answer.json().get("total") != 0:
            problems.append(
                f"Task?owner=Organization/{foreign.pk} ({foreign.name}): "
                f"HTTP {answer.status_code}, total {answer.json().get('total')}"
            )

    out("")
    out(
        f"polling agency: {big.name}, {len(changes):,} visible tasks; token endpoint "
        f"(assertion checked, token stored): p50 {statistics.median(token_ms):.1f} ms, "
        f"max {max(token_ms):.1f} ms"
    )
    out(
        f"{'Task?owner=…&':<22} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'mean':>6} {'SQL p50':>8} {'SQL p95':>8} {'queries':>8} {'rows':>6}"
    )
    for kind in KINDS:
        measured = results[kind]
        ms, sql = measured.ms, measured.sql_ms
        queries = "/".join(str(q) for q in sorted(measured.queries))
        out(
            f"{KIND_LABELS[kind]:<22} {len(ms):>8} {statistics.median(ms):>7.1f} "
            f"{percentile(ms, 95):>7.1f} {max(ms):>7.1f} {statistics.fmean(ms):>6.1f} "
            f"{statistics.median(sql):>8.1f} {percentile(sql, 95):>8.1f} {queries:>8} "
            f"{min(measured.rows)}-{max(measured.rows)}"
        )
    if live and postgres:
        out("")
        since = [a for a in asks if a.kind == "since"]
        explain(system, next((a for a in since if len(a.ids) == PAGE), since[0]).path)
        explain(system, next(a.path for a in asks if a.kind == "first"))
        explain(system, max((a for a in asks if a.kind == "offset"), key=lambda a: a.offset).path)

    # --- 2. notifications ----------------------------------------------------------------------
    out("")
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    connections.close_all()
    subscriber = context.Process(target=subscriber_serve, args=(child_end,), daemon=True)
    subscriber.start()
    port = parent_end.recv()
    try:
        subscribed = main_cast.agencies[: args.subscriptions - 1]
        subscribers = [
            system_register(main_cast.clinic, name="Bench clinic EHR", host=main_cast.host)
        ] + [
            system
            if agency.pk == big.pk
            else system_register(agency, name=f"{agency.name} system", host=main_cast.host)
            for agency in subscribed
        ]
        subscription_ids = []
        for n, who in enumerate(subscribers):
            role = "requester" if n == 0 else "owner"
            answer = who.post(
                f"{FHIR}Subscription",
                subscription_body(
                    f"http://127.0.0.1:{port}/hook/{n}",
                    f"Task?{role}=Organization/{who.client.organization_id}",
                ),
            )
            if answer.status_code != 201:
                out(f"ERROR: Subscription: HTTP {answer.status_code} {answer.content[:300]!r}")
                return 1
            subscription_ids.append(int(answer.json()["id"]))
        # The handshakes, not timed: then the subscriptions are active.
        handshakes = sum(_delivery_task(ids) for ids in queued)
        connections.close_all()
        out(
            f"subscriptions: {len(subscription_ids)} (the clinic's EHR: requester; "
            f"{len(subscribed)} agency systems: owner), {handshakes} handshakes delivered, "
            f"rest-hooks on 127.0.0.1:{port} in another process"
        )
        plan = [("tasks", 1), ("sweep", 1), ("steady", 1)]
        if postgres and args.workers > 1:
            plan += [("tasks", args.workers), ("sweep", args.workers)]
        rounds = [
            delivery_round(
                cast=main_cast,
                agencies=subscribed,
                subscription_ids=subscription_ids,
                changes=args.changes,
                mode=mode,
                workers=workers,
                queued=queued,
                live=live,
            )
            for mode, workers in plan
        ]
        parent_end.send("counts")
        received: dict[tuple[str, str, str, str], int] = parent_end.recv()
    finally:
        parent_end.send("stop")
        subscriber.join(timeout=10)

    endpoints = {
        s.pk: urlsplit(s.endpoint).path
        for s in FhirSubscription.objects.filter(pk__in=subscription_ids)
    }
    expected = {
        (endpoints[sub], str(sub), kind, str(number))
        for sub, kind, number in FhirNotification.objects.filter(
            subscription_id__in=subscription_ids
        ).values_list("subscription_id", "kind", "event_number")
    }
    undelivered = FhirNotification.objects.filter(delivered_at__isnull=True).count()
    twice = sum(1 for n in received.values() if n > 1)
    missing = len(expected - set(received))
    unexpected = len(set(received) - expected)
    events = FhirNotification.objects.filter(
        subscription_id__in=subscription_ids, kind="event-notification"
    )
    per_subscription = Counter(events.values_list("subscription_id", flat=True))
    out(
        f"notifications: {events.count():,} events written (per subscription: "
        f"{min(per_subscription.values()):,} to {max(per_subscription.values()):,}), "
        f"{sum(received.values()):,} POSTs received for {len(expected):,} notifications: "
        f"{missing} missing, {twice} received more than once, {unexpected} unknown, "
        f"{undelivered} undelivered"
    )
    if missing or twice or unexpected or undelivered:
        problems.append(
            f"notifications: {missing} missing, {twice} more than once, {unexpected} unknown, "
            f"{undelivered} undelivered"
        )
    last = (
        FhirSubscription.objects.filter(pk__in=subscription_ids)
        .exclude(status="active")
        .aggregate(Max("pk"))["pk__max"]
    )
    if last is not None:
        problems.append(f"subscription {last} is not active after delivery")
    out(
        f"{'delivery':<18} {'changes':>7} {'change p50':>10} {'p95 ms':>7} {'tasks':>6} "
        f"{'empty':>6} {'delivered':>9} {'seconds':>8} {'per s':>7} {'passes':>6}"
    )
    for done in rounds:
        rate = done.notifications / done.seconds if done.seconds else float("inf")
        out(
            f"{f'{done.mode}, {done.workers} process(es)':<18} {done.changes:>7,} "
            f"{statistics.median(done.change_ms):>10.1f} {percentile(done.change_ms, 95):>7.1f} "
            f"{done.tasks:>6,} {done.empty_tasks:>6,} {done.notifications:>9,} "
            f"{done.seconds:>8.2f} {rate:>7,.0f} "
            f"{done.drained_passes:>6}"
        )

    # --- targets ---------------------------------------------------------------------------------
    out("")
    scope = "" if postgres else " (SQLite run; the targets are for PostgreSQL)"
    p95 = percentile(results["since"].ms, 95)
    verdict = "PASS" if p95 < TARGET_P95_MS else "MISS"
    out(
        f"target{scope}: {verdict} Task?owner=…&_lastUpdated=gt… p95 {p95:.1f} ms < "
        f"{TARGET_P95_MS:.0f} ms with {args.tasks:,} tasks"
    )
    for done in rounds:
        rate = done.notifications / done.seconds if done.seconds else float("inf")
        verdict = "PASS" if rate >= TARGET_NOTIFICATIONS_PER_SECOND else "MISS"
        out(
            f"target{scope}: {verdict} {rate:,.0f} notifications/s >= "
            f"{TARGET_NOTIFICATIONS_PER_SECOND:.0f} ({done.mode}, {done.workers} process(es))"
        )
    for problem in problems:
        out(f"ERROR: {problem}")
    return 1 if problems else 0


def subscription_body(endpoint: str, criteria: str) -> dict[str, Any]:
    """A backport Subscription to the SDOHCC Task topic, as an EHR posts it."""
    from referrals.services.subscriptions import (
        FILTER_CRITERIA,
        PAYLOAD_CONTENT,
        TASK_TOPIC,
        TIMEOUT,
    )

    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Referral updates for our system",
        "criteria": TASK_TOPIC,
        "_criteria": {"extension": [{"url": FILTER_CRITERIA, "valueString": criteria}]},
        "channel": {
            "extension": [{"url": TIMEOUT, "valueUnsignedInt": 5}],
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": FHIR_JSON,
            "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]},
        },
    }


if __name__ == "__main__":
    raise SystemExit(main())
