"""`make prod-smoke`: the production settings run as production runs them, on this machine, with
faults injected, and every promise counted afterwards.

    .venv/bin/python -m prod.smoke [--workdir /tmp/handoff-prod-smoke] [--keep]
        [--image IMAGE [--backup-image IMAGE]]

``--image`` (``make prod-smoke-image``): the same run with gunicorn, the workers, beat and
``migrate`` as containers of an image built from deploy/Containerfile (podman), not processes of
this checkout: what the image holds (its packages from the lock file, the Spanish catalogue,
the static files collected into it, its unprivileged user) is then what is proven.
``--backup-image``: the backup and the restore run from the Containerfile's ``backup`` stage.

Two of everything (``prod.stack``): nginx terminating TLS in front of two gunicorn instances,
two Celery workers and one beat, on a PostgreSQL cluster and a Redis of the smoke's own (the
cluster made with production's roles, deploy/postgres/roles.sh: the app processes connect as
``handoff_app``, which owns nothing, and ``migrate`` as the owner ``handoff``), media on
S3-compatible object storage (moto's server), mail to an SMTP sink (``prod.sink``). The demo
networks are seeded first (with the dev settings: production refuses demo data). Then, over
HTTPS only:

1. plain HTTP is redirected; ``/healthz`` and ``/readyz`` answer (a burst of ``/readyz`` gets
   429s from the proxy beyond a few a second); a static file is served with
   a long cache lifetime; the pages come in Spanish when asked;
2. the referral loop as the real roles: clinic staff add a client, screen her, find a food
   service for her need, send with her verbal consent; the agency's staff find it in their inbox,
   accept and complete it; the clinic's tracker shows it completed; the network admin signs in
   with the password and an authenticator code (a wrong code refused, nothing served before)
   and the dashboard shows the closed-loop rate;
3. faults, under load from wrk (a real HTTP load generator, on the public search and the agency
   inbox) and while referrals are being sent: SIGKILL a Celery worker while notifications are
   being delivered (the supervisor starts it again); restart Redis; stop PostgreSQL for 20 s;
4. a lost update tried: the same referral accepted twice at once: one wins, one is told;
5. afterwards, counted: every email notification delivered exactly once (by its Message-ID:
   a copy is allowed only of a message the killed worker had sent in the moment before the kill
   and could not record, sent again with the same Message-ID once its claim lapsed),
   no referral or timeline event lost, no answer 500 and none hung (the pages answered 503 while
   the database was down), one beat, logs as JSON with request ids and no client data;
6. the app's database role can neither switch off nor empty the audit trail; a backup
   (``deploy/backup.sh``, as the owner) is refused by ``deploy/restore.sh`` for the live
   buckets (not empty), then restored into an empty database and new buckets: it holds every
   referral, and the application's role reads it (the grants came back with the tables);
7. everything stopped cleanly.

The output says each fault injected and what was counted. Exit status 0 when every check
passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import requests
from django_otp.oath import totp
from psycopg import sql

from prod.browser import Person
from prod.sink import SmtpSink
from prod.stack import (
    ROOT,
    WRK_PATHS_SCRIPT,
    ContainerService,
    Stack,
    StackError,
    StackOptions,
    json_lines,
    log_lines,
)

PASSWORD = "handoff-demo"  # noqa: S105 — the demo's, seeded with the dev settings
CLINIC_STAFF = "hum-clinic-staff"
AGENCY_STAFF = "hum-agency-staff"
NETWORK_ADMIN = "hum-network-admin"  # must sign in with a second factor
FOOD_AGENCY = "Redwood Coast Pantry Collective"
POSTGRES_DOWN_SECONDS = 20
HANG_SECONDS = 10  # an answer slower than this counts as a hang
BASH = shutil.which("bash") or "/bin/bash"


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)  # noqa: T201

    def check(self, ok: bool, text: str) -> bool:
        self.say(("ok    " if ok else "FAIL  ") + text)
        if not ok:
            self.failures.append(text)
        return ok


@dataclass
class SmokeClient:
    """The client the smoke adds: her details must never appear in a log."""

    first_name: str
    last_name: str
    phone: str
    date_of_birth: str

    @classmethod
    def make(cls) -> SmokeClient:
        token = secrets.token_hex(3)
        return cls(
            "Quinta", f"Smoke{token}", f"707-555-{secrets.randbelow(9000) + 1000}", "1971-04-05"
        )


def database(stack: Stack) -> psycopg.Connection[Any]:
    return psycopg.connect(stack.env["DATABASE_URL"], autocommit=True, connect_timeout=5)


def scalar(stack: Stack, sql: str, *params: Any) -> Any:
    with database(stack) as connection:
        row = connection.execute(sql, params).fetchone()
        return row[0] if row else None


def signed_in(stack: Stack, username: str) -> Person:
    person = Person(stack.session(), stack.base_url)
    person.sign_in(username, PASSWORD)
    return person


# --- 1. the front door ------------------------------------------------------------------------
def front_door(stack: Stack, report: Report) -> None:
    plain = requests.get(
        f"{stack.http_url}/search/?q=food", allow_redirects=False, timeout=10, proxies={}
    )
    report.check(
        plain.status_code == 301
        and plain.headers.get("Location", "").startswith(f"{stack.base_url}/search/"),
        f"plain HTTP is redirected to HTTPS ({plain.status_code}, {plain.headers.get('Location')})",
    )
    session = stack.session()
    alive = session.get(f"{stack.base_url}/healthz", timeout=10)
    ready = session.get(f"{stack.base_url}/readyz", timeout=10)
    report.check(alive.status_code == 200, f"/healthz answers {alive.status_code}")
    report.check(
        ready.status_code == 200, f"/readyz answers {ready.status_code}: {ready.text[:200]}"
    )
    # Each /readyz asks the database, cache, broker and search: the proxy holds a client to a
    # few a second, so that it cannot be turned into load on all four.
    burst = Counter(
        session.get(f"{stack.base_url}/readyz", timeout=10).status_code for _ in range(40)
    )
    report.check(
        burst[429] > 0 and set(burst) <= {200, 429},
        f"40 /readyz at once through the proxy: {dict(sorted(burst.items()))} (429 beyond a "
        "few a second per client)",
    )
    time.sleep(3)  # the limit's bucket drains before anything else probes
    home = session.get(f"{stack.base_url}/", timeout=10)
    hsts = home.headers.get("Strict-Transport-Security", "")
    report.check(
        home.status_code == 200 and "max-age=" in hsts,
        f"the home page over HTTPS: {home.status_code}, HSTS {hsts!r}",
    )
    static = re.search(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', home.text)
    if report.check(static is not None, "the home page links a static file") and static:
        asset = session.get(stack.base_url + static.group(1), timeout=10)
        report.check(
            asset.status_code == 200 and "max-age" in asset.headers.get("Cache-Control", ""),
            f"static file {static.group(1)}: {asset.status_code}, "
            f"Cache-Control {asset.headers.get('Cache-Control')!r}",
        )
    spanish = session.get(
        f"{stack.base_url}/search/", headers={"Accept-Language": "es"}, timeout=10
    )
    report.check(
        spanish.status_code == 200
        and '<html lang="es"' in spanish.text
        and "Buscar" in spanish.text,
        f"the search page in Spanish ({spanish.status_code}, lang=es, “Buscar”)",
    )


def image_processes(stack: Stack, report: Report, image: str) -> None:
    """With ``--image``: the app processes are the image's, as its own unprivileged user, who
    may write its data directory and nothing of the application."""
    web = stack.services["web-1"]
    if not isinstance(web, ContainerService):
        raise StackError("web-1 is not a container of the image")
    checks = stack.container_exec(
        web,
        [
            "sh",
            "-c",
            'echo "$(id -u) $(pwd)"; test ! -w /app && test ! -w /app/static'
            ' && test -w "$HANDOFF_VAR_DIR" && test -f locale/es/LC_MESSAGES/django.mo'
            " && echo checked",
        ],
    )
    user, _, rest = checks.stdout.partition(" ")
    report.check(
        checks.returncode == 0 and user == "10001" and rest.split() == ["/app", "checked"],
        f"the app runs from the image, as uid {user or '?'} in {rest.split()[:1]}: it cannot "
        "write the application or its static files, only its data directory; the Spanish "
        "catalogue is in the image",
    )
    # The image's own HEALTHCHECK command, run in the web container (gunicorn listens on the
    # smoke's port there, which HANDOFF_HEALTHCHECK_URL tells the check).
    inspected = subprocess.run(  # noqa: S603
        [web.tool, "image", "inspect", "--format", "{{json .Config.Healthcheck}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    test = (json.loads(inspected.stdout or "null") or {}).get("Test") or []
    bind = web.argv[web.argv.index("--bind") + 1]
    health = stack.container_exec(
        web, test[1:], env={"HANDOFF_HEALTHCHECK_URL": f"http://{bind}/healthz"}
    )
    report.check(
        test[:1] == ["CMD"] and health.returncode == 0,
        f"the image's HEALTHCHECK ({' '.join(test[1:3])} …) passes in the web container",
    )


# --- 2. the referral loop ---------------------------------------------------------------------
def client_add(clinic: Person, client: SmokeClient) -> int:
    page = clinic.get("/workspace/clients/new/")
    page = clinic.submit(
        page,
        page.form(action="/clients/new/"),
        {
            "first_name": client.first_name,
            "last_name": client.last_name,
            "date_of_birth": client.date_of_birth,
            "phone": client.phone,
            "postal_code": "95501",
        },
    )
    found = re.search(r"/workspace/clients/(\d+)/$", page.url)
    if found is None:
        raise AssertionError(f"adding the client ended at {page.url}")
    return int(found.group(1))


def food_screening(clinic: Person, client_id: int) -> str:
    """Screens the client positive for food; the address of the search for her needs."""
    page = clinic.get(f"/workspace/clients/{client_id}/screen/")
    # "Often true" to both food questions of the AHC HRSN (LOINC 88122-7, 88123-5).
    result = clinic.submit(
        page,
        page.form(button="Save and see the result"),
        {"q_88122_7": "LA28397-0", "q_88123_5": "LA6729-3"},
    )
    return result.link(r"/workspace/search/\?.*client=")


# A one-page PDF, as a scanner would save the client's signed consent form.
SIGNED_FORM = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def referral_send(clinic: Person, search_url: str, *, signed_form: bool = False) -> int:
    """From the search for the client's needs, a food service of the pantry, with the
    client's verbal consent read from the page (or her signed form, uploaded); the new
    referral's number."""
    search = clinic.get(search_url)
    hits = re.findall(r'<li class="hit".*?</li>', search.text, flags=re.S)
    refer = [
        html.unescape(found.group(1))
        for hit in hits
        if FOOD_AGENCY in hit
        and (found := re.search(r'href="(/workspace/referrals/new/[^"]+)"', hit)) is not None
    ]
    if not refer:
        shown = sorted(
            {a.strip() for hit in hits for a in re.findall(r'class="hit-agency">([^<·]+)', hit)}
        )
        raise AssertionError(
            f"no service of {FOOD_AGENCY} to refer to in the search for the client's needs "
            f"({search.status}, {len(hits)} hits, of {shown})"
        )
    page = clinic.get(refer[0])
    form = page.form(button="Send referral")
    if signed_form:
        sent = clinic.submit(
            page,
            form,
            {"consent": "signed_form"},
            button="Send referral",
            files={"signed_form": ("consent.pdf", SIGNED_FORM, "application/pdf")},
        )
        return _sent_number(sent)
    # Choosing "verbal" shows the words to read (the page asks the server, as htmx does).
    page = clinic.submit(page, form, {"consent": "verbal", "action": "check"})
    form = page.form(button="Send referral")
    sent = clinic.submit(
        page, form, {"consent": "verbal", "verbal_confirmed": "1"}, button="Send referral"
    )
    return _sent_number(sent)


def _sent_number(sent: Any) -> int:
    numbers = [int(n) for n in re.findall(r"/workspace/referrals/(\d+)/", sent.text)]
    if not numbers:
        raise AssertionError(f"sending ended at {sent.url} without a referral")
    return max(numbers)


def private_objects(stack: Stack, report: Report) -> None:
    """The signed form is an object in the private bucket, encrypted, and nobody without the
    keys reads it."""
    env = stack.env
    s3 = stack.s3_client()
    bucket = env["AWS_PRIVATE_BUCKET_NAME"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    forms = [key for key in keys if key.endswith(".pdf")]
    if not report.check(bool(forms), f"the signed form is in the private bucket ({forms})"):
        return
    head = s3.head_object(Bucket=bucket, Key=forms[0])
    anonymous = requests.get(f"{env['AWS_S3_ENDPOINT_URL']}/{bucket}/{forms[0]}", timeout=10)
    report.check(
        head.get("ServerSideEncryption") == "AES256" and anonymous.status_code == 403,
        f"it is encrypted ({head.get('ServerSideEncryption')}) and an anonymous GET is refused "
        f"({anonymous.status_code})",
    )


def referral_loop(stack: Stack, report: Report, client: SmokeClient) -> int:
    clinic = signed_in(stack, CLINIC_STAFF)
    report.say(f"{CLINIC_STAFF} signed in over HTTPS")
    client_id = client_add(clinic, client)
    search_url = food_screening(clinic, client_id)
    report.say(f"client #{client_id} added and screened: positive for food")
    number = referral_send(clinic, search_url, signed_form=True)
    report.say(f"referral #{number} sent to {FOOD_AGENCY} with the client's signed consent form")
    private_objects(stack, report)

    agency = signed_in(stack, AGENCY_STAFF)
    inbox = agency.get("/workspace/inbox/")
    report.check(
        f"/workspace/referrals/{number}/" in inbox.text,
        f"{AGENCY_STAFF} finds referral #{number} in the inbox",
    )
    page = agency.get(f"/workspace/referrals/{number}/")
    report.check(
        client.last_name in page.text and client.date_of_birth[:4] not in page.text,
        "the agency sees the client's name (agreed) and not her birth date (not agreed)",
    )
    page = agency.submit(page, page.form(button="Accept"), button="Accept")
    page = agency.submit(
        page,
        page.form(button="Mark completed"),
        {"outcome": "service-provided", "outcome_note": "Food boxes for two weeks."},
        button="Mark completed",
    )
    status = scalar(stack, "SELECT status FROM referrals_referral WHERE id = %s", number)
    report.check(status == "completed", f"referral #{number} accepted and completed ({status})")
    tracker = clinic.get("/workspace/referrals/sent/?status=completed")
    report.check(
        f"/workspace/referrals/{number}/" in tracker.text,
        f"the clinic's tracker shows #{number} completed: the loop is closed",
    )
    return client_id


def network_admin(stack: Stack, report: Report) -> None:
    """The network admin signs in with the password and then the code of the authenticator
    app (the demo's key, read from the device as the app holds it); the dashboard counts the
    closed loop."""
    admin = Person(stack.session(), stack.base_url)
    page = admin.sign_in(NETWORK_ADMIN, PASSWORD)
    report.check(
        "/accounts/two-factor/verify/" in page.url,
        f"{NETWORK_ADMIN}: after the password, the code is asked ({urlsplit(page.url).path})",
    )
    held = admin.get("/admin/dashboard/")
    report.check(
        "/accounts/two-factor/verify/" in held.url,
        "without the code the network dashboard is not served (sent to the code form)",
    )
    wrong = admin.submit(page, page.form(button="Verify"), {"code": "000000"}, expect=400)
    report.check(
        "/accounts/two-factor/verify/" in wrong.url, "a wrong code is refused (400) over HTTPS"
    )
    with database(stack) as connection:
        device = connection.execute(
            "SELECT d.key, d.step, d.t0, d.digits FROM otp_totp_totpdevice d "
            "JOIN network_user u ON u.id = d.user_id WHERE u.username = %s AND d.confirmed",
            (NETWORK_ADMIN,),
        ).fetchone()
    if not report.check(device is not None, f"{NETWORK_ADMIN} has an authenticator") or not device:
        return
    key, step, t0, digits = device
    time.sleep(1.5)  # after a wrong code the device refuses every code for a second (throttle)
    # What the authenticator app shows now (django-otp's RFC 6238, as the server checks it).
    code = f"{totp(bytes.fromhex(key), step=step, t0=t0, digits=digits):0{digits}d}"
    page = admin.submit(wrong, wrong.form(button="Verify"), {"code": code})
    report.check(
        "/accounts/two-factor/verify/" not in page.url,
        f"{NETWORK_ADMIN} signed in with the authenticator's code ({urlsplit(page.url).path})",
    )
    dashboard = admin.get("/admin/dashboard/")
    report.check(
        "/admin/dashboard/" in dashboard.url and "Closed-loop rate" in dashboard.text,
        "the network dashboard shows the closed-loop rate to the verified network admin",
    )


# --- 3. load and faults -----------------------------------------------------------------------


@contextmanager
def wrk_load(stack: Stack, cookie: str, seconds: int) -> Iterator[dict[str, Any]]:
    """wrk on the public search (varied queries) and the agency inbox, for ``seconds``."""
    wrk = shutil.which("wrk")
    result: dict[str, Any] = {}
    if wrk is None:
        raise AssertionError("wrk is not installed (Debian package wrk)")
    folder = Path(tempfile.mkdtemp(dir=stack.workdir))
    words = ["food", "rent", "rides", "pantry", "housing", "clinic", "legal", "jobs", "heat"]
    paths = [f"/search/?q={w}&near=955{n:02d}" for w in words for n in range(10)]
    paths += [f"/workspace/inbox/?page={n}" for n in (1, 2)] * 10
    (folder / "paths.txt").write_text("\n".join(paths) + "\n")
    env = {**os.environ, "HTTP_LOAD_PATHS": str(folder / "paths.txt"), "HTTP_LOAD_COOKIE": cookie}
    process = subprocess.Popen(  # noqa: S603
        [
            wrk,
            "-t2",
            "-c8",
            f"-d{seconds}s",
            f"--timeout={HANG_SECONDS}s",
            "-s",
            str(WRK_PATHS_SCRIPT),
            stack.base_url,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield result
    finally:
        output, _ = process.communicate(timeout=seconds + 60)
        found = re.search(r"HTTP_LOAD_JSON (\{.*\})", output)
        result.update(json.loads(found.group(1)) if found else {"error": output[-500:]})
        for name in ("p50", "p99", "max"):
            if f"{name}_us" in result:
                result[f"{name}_ms"] = round(result[f"{name}_us"] / 1000, 1)


class Prober(threading.Thread):
    """Asks a few pages over and over, recording each answer's status and time."""

    def __init__(self, stack: Stack, person: Person, paths: list[str]) -> None:
        super().__init__(daemon=True)
        self.person = person
        self.base_url = stack.base_url
        self.paths = paths
        self.answers: list[tuple[float, str, int, float]] = []  # (at, path, status, seconds)
        self.halt = threading.Event()

    def run(self) -> None:
        index = 0
        while not self.halt.is_set():
            path = self.paths[index % len(self.paths)]
            index += 1
            started = time.monotonic()
            try:
                status = self.person.session.get(
                    self.base_url + path, timeout=HANG_SECONDS, allow_redirects=False
                ).status_code
            except requests.RequestException:
                status = 0  # no answer in time, or the connection failed
            self.answers.append((started, path, status, time.monotonic() - started))
            time.sleep(0.05)


def sends_in_background(
    stack: Stack, count: int, search_url: str
) -> tuple[threading.Thread, list[int], list[str]]:
    """Clinic staff send ``count`` referrals one after another in a thread (each writes email
    notifications to the agency's people); the numbers sent and any errors."""
    sent: list[int] = []
    errors: list[str] = []

    def work() -> None:
        clinic = signed_in(stack, CLINIC_STAFF)
        for _ in range(count):
            try:
                sent.append(referral_send(clinic, search_url))
            except Exception as exc:  # a send refused during a fault is counted, not fatal
                errors.append(f"{type(exc).__name__}: {exc}"[:400])

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, sent, errors


def undelivered_emails(stack: Stack) -> int:
    return int(
        scalar(
            stack,
            "SELECT count(*) FROM referrals_notification WHERE channel = 'email' "
            "AND delivered_at IS NULL",
        )
    )


@dataclass(frozen=True)
class Kill:
    """A worker killed with SIGKILL: when (``time.monotonic()`` just before the signal was
    sent) and how many deliveries its pool could have had in flight."""

    at: float
    in_flight: int


# The outbox marks a row in the moment after the mail server's 250 (referrals/outbox.py); a
# worker killed in that moment has sent a message it has not recorded, and its claim lapses and
# the message goes again with the same Message-ID: SMTP cannot be told "I already have it". A
# copy counts as that case only if its first copy was taken this close before the kill.
KILL_WINDOW_SECONDS = 1.0
# A claim is taken just before its conversation with the mail server: a copy sent again once the
# claim lapsed may follow the first by the lapse less that conversation (well under this).
CONVERSATION_SECONDS = 5.0


def faults(stack: Stack, report: Report, client_id: int) -> tuple[list[int], Kill]:
    """Every fault, under load; the referrals sent meanwhile, and the worker's kill."""
    clinic = signed_in(stack, CLINIC_STAFF)
    agency = signed_in(stack, AGENCY_STAFF)
    search_url = f"/workspace/search/?category=food-insecurity&near=95501&client={client_id}"
    cookie = "; ".join(f"{c.name}={c.value}" for c in agency.session.cookies)
    sent: list[int] = []
    errors: list[str] = []
    prober = Prober(stack, agency, ["/search/?q=food", "/workspace/inbox/", "/healthz", "/readyz"])
    prober.start()
    down: tuple[float, float] = (0.0, 0.0)
    with wrk_load(stack, cookie, seconds=95) as load:
        # (a) SIGKILL a worker while it delivers the notifications of a burst of sends.
        thread, burst, burst_errors = sends_in_background(stack, 10, search_url)
        deadline = time.monotonic() + 60
        pending = 0
        while time.monotonic() < deadline:
            pending = undelivered_emails(stack) if len(burst) >= 3 else 0
            if pending >= 2:  # the workers are in the middle of delivering
                break
            time.sleep(0.1)
        worker = stack.services["worker-1"]
        killed_at = worker.kill(signal.SIGKILL)
        kill = Kill(
            at=killed_at if killed_at is not None else time.monotonic(),
            in_flight=stack.options.celery_concurrency,
        )
        report.say(
            f"FAULT  SIGKILL worker-1 (pid {worker.pid}) after {len(burst)} of 10 sends, "
            f"{pending} email(s) waiting for delivery"
        )
        thread.join(120)
        sent += burst
        errors += burst_errors
        report.check(
            worker.restarts >= 1 and worker.alive,
            f"worker-1 was started again by the supervisor (restarts: {worker.restarts})",
        )

        # (b) Restart Redis (broker and cache) while referrals are being sent.
        thread, burst, burst_errors = sends_in_background(stack, 6, search_url)
        time.sleep(1)
        stack.redis_restart()
        report.say("FAULT  Redis stopped (SIGTERM) and started again during 6 sends")
        thread.join(120)
        sent += burst
        errors += burst_errors

        # (c) PostgreSQL down for 20 s under load.
        time.sleep(2)
        if stack.postgres is None:
            raise AssertionError("the smoke needs a PostgreSQL cluster of its own")
        stack.postgres.stop()
        # From when the stop has finished to when the start begins, nothing is served from
        # the database (answers are judged by that window only if they fit in it whole).
        down = (time.monotonic(), 0.0)
        report.say(f"FAULT  PostgreSQL stopped for {POSTGRES_DOWN_SECONDS} s under load")
        time.sleep(POSTGRES_DOWN_SECONDS)
        down = (down[0], time.monotonic())
        stack.postgres.start()
        report.say("       PostgreSQL started again")
        recovered = time.monotonic()
        while not stack.ready() and time.monotonic() - recovered < 60:
            time.sleep(0.5)
        report.check(
            stack.ready(),
            f"/readyz is 200 again {time.monotonic() - recovered:.1f} s after PostgreSQL came back",
        )
        thread, burst, burst_errors = sends_in_background(stack, 4, search_url)
        thread.join(120)
        sent += burst
        errors += burst_errors
    prober.halt.set()
    prober.join(HANG_SECONDS + 5)
    del clinic

    report.check(
        not errors, f"{len(sent)} referrals sent during the faults; refused: {errors or 'none'}"
    )
    statuses = load.get("statuses", {})
    report.say(
        f"wrk (8 connections, 95 s, public search and the agency inbox): {load.get('requests')} "
        f"requests, statuses {statuses}, timeouts {load.get('timeouts')}, p50 "
        f"{load.get('p50_ms')} ms, p99 {load.get('p99_ms')} ms, max {load.get('max_ms')} ms"
    )
    report.check(
        "error" not in load and not (set(statuses) - {"200", "503"}) and not load.get("timeouts"),
        "under load through every fault, every answer was 200 or 503: no 500, no hang",
    )
    # Asked after the stop had finished and answered before the start began.
    during = [a for a in prober.answers if down[0] <= a[0] and a[0] + a[3] <= down[1]]
    by_status = Counter((path, status) for _at, path, status, _s in during)
    slowest = max((s for *_x, s in prober.answers), default=0.0)
    report.say(f"answers while PostgreSQL was down: {dict(by_status)}; slowest {slowest:.2f} s")
    report.check(
        bool(during)
        and all(status == 503 for _at, path, status, _s in during if path != "/healthz")
        and all(status == 200 for _at, path, status, _s in during if path == "/healthz"),
        "while PostgreSQL was down: pages and /readyz answered 503, /healthz 200",
    )
    report.check(
        all(
            status in {200, 503}
            for *_x, status, _s in [(a[0], a[1], a[2], a[3]) for a in prober.answers]
        )
        and slowest < HANG_SECONDS,
        f"{len(prober.answers)} probe answers over the faults: only 200 and 503, none hung",
    )
    return sent, kill


# --- 4. a lost update tried -------------------------------------------------------------------
def lost_update(stack: Stack, report: Report, number: int) -> None:
    """Two of the agency's sessions accept the same version of the referral at the same time."""
    people = [signed_in(stack, AGENCY_STAFF) for _ in range(2)]
    pages = [person.get(f"/workspace/referrals/{number}/") for person in people]
    answers: list[int] = []
    barrier = threading.Barrier(2)

    def accept(person: Person, page: Any) -> None:
        form = page.form(button="Accept")
        barrier.wait()
        try:
            person.submit(page, form, button="Accept")
            answers.append(200)
        except AssertionError as exc:
            found = re.search(r": (\d{3}), expected", str(exc))
            answers.append(int(found.group(1)) if found else 0)

    threads = [
        threading.Thread(target=accept, args=(p, page))
        for p, page in zip(people, pages, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    version = scalar(stack, "SELECT version FROM referrals_referral WHERE id = %s", number)
    accepted = scalar(
        stack,
        "SELECT count(*) FROM referrals_referralevent "
        "WHERE referral_id = %s AND kind = 'status' AND to_status = 'accepted'",
        number,
    )
    report.check(
        sorted(answers) == [200, 409] and version == 2 and accepted == 1,
        f"the same referral accepted twice at once: answers {sorted(answers)}, version {version}, "
        f"{accepted} acceptance recorded (one wins, the other is told it changed)",
    )


# --- 5. counted afterwards --------------------------------------------------------------------
def copies_explained(copies: list[float], kill: Kill, claim_lapse: float) -> tuple[bool, str]:
    """Whether the copies of one message (when the mail server took each) are the one case the
    outbox sends twice, and why: two copies, the first taken just before the worker was killed,
    the second only after that claim had lapsed (no live worker's claim was taken)."""
    first, *again = sorted(copies)
    before_kill = kill.at - first
    if len(again) != 1:
        return False, f"{len(copies)} copies"
    if before_kill < 0:
        return False, f"its first copy was taken {-before_kill:.2f} s after the kill"
    if before_kill > KILL_WINDOW_SECONDS:
        return False, f"its first copy was taken {before_kill:.2f} s before the kill"
    if again[0] - first < claim_lapse - CONVERSATION_SECONDS:
        return False, f"sent again {again[0] - first:.1f} s later, before its claim lapsed"
    return True, (
        f"its first copy was taken {before_kill:.3f} s before worker-1 was killed, too soon "
        f"for the worker to record it; sent again once its claim lapsed, "
        f"{again[0] - first:.1f} s later, with the same Message-ID"
    )


def notifications_counted(stack: Stack, report: Report, sink: SmtpSink, kill: Kill) -> None:
    deadline = time.monotonic() + 240
    while undelivered_emails(stack) and time.monotonic() < deadline:
        time.sleep(2)
    with database(stack) as connection:
        rows = connection.execute(
            "SELECT n.id, u.email FROM referrals_notification n "
            "JOIN network_user u ON u.id = n.user_id "
            "WHERE n.channel = 'email' AND u.email <> '' AND u.is_active"
        ).fetchall()
    undelivered = undelivered_emails(stack)
    expected = {f"<notification-{pk}@127.0.0.1>": email for pk, email in rows}
    received = Counter(m.message_id for m in sink.messages)
    missing = sorted(set(expected) - set(received))
    unknown = sorted(set(received) - set(expected))
    twice = {k: n for k, n in received.items() if n > 1}
    wrong_recipient = [
        m.message_id
        for m in sink.messages
        if m.message_id in expected and m.recipients != (expected[m.message_id],)
    ]
    report.say(
        f"email notifications: {len(expected)} written, {sum(received.values())} messages "
        f"received by the SMTP sink, {len(missing)} missing, {len(twice)} duplicated, "
        f"{len(unknown)} unknown, {undelivered} undelivered "
        "in the outbox"
    )
    report.check(
        not missing and not unknown and not wrong_recipient and bool(expected),
        "every email notification was delivered, to its recipient",
    )
    lapse = float(stack.options.extra_env["HANDOFF_OUTBOX_CLAIM_LAPSE_SECONDS"])
    explained = 0
    for message_id in sorted(twice):
        copies = [m.at for m in sink.messages if m.message_id == message_id]
        ok, why = copies_explained(copies, kill, lapse)
        explained += ok
        times = ", ".join(f"{at - report.started:.1f}s" for at in copies)
        report.say(f"  {message_id} received {twice[message_id]} times, at {times}: {why}")
    if not twice:
        report.check(True, "every email notification was delivered exactly once")
    else:
        report.check(
            explained == len(twice) <= kill.in_flight,
            f"every email notification was delivered exactly once, except {len(twice)} whose "
            f"worker was killed between the mail server's 250 and its own commit (at most "
            f"{kill.in_flight}: one per delivery it had in flight)",
        )


def nothing_lost(stack: Stack, report: Report, sent: list[int], client_id: int) -> None:
    with database(stack) as connection:
        found = connection.execute(
            "SELECT r.id, r.status, count(e.id) FROM referrals_referral r "
            "LEFT JOIN referrals_referralevent e ON e.referral_id = r.id "
            "WHERE r.client_id = %s GROUP BY r.id, r.status",
            (client_id,),
        ).fetchall()
    by_id = {row[0]: (row[1], row[2]) for row in found}
    lost = [n for n in sent if n not in by_id]
    no_event = [n for n, (_status, events) in by_id.items() if events == 0]
    report.check(
        not lost and not no_event and len(set(sent)) == len(sent),
        f"no referral lost: {len(sent)} sent during the faults, all {len(by_id)} of the client's "
        f"referrals in the database, each with its timeline ({sum(e for _s, e in by_id.values())} "
        "events)",
    )


def audit_trail_held(stack: Stack, report: Report) -> None:
    """The app's database role cannot undo the audit trail: it does not own the tables, so it
    can neither switch their append-only triggers off nor empty them."""
    if stack.owner_database_url == stack.env["DATABASE_URL"]:
        report.say("audit trail: the app and migrate share a database role here (not checked)")
        return
    refused = []
    for statement in (
        "ALTER TABLE consent_accesslog DISABLE TRIGGER ALL",
        "TRUNCATE referrals_referralevent",
        "DELETE FROM consent_accesslog",
    ):
        with database(stack) as connection:
            try:
                connection.execute(statement)
            except psycopg.Error as error:
                refused.append(type(error).__name__)
            else:
                refused.append("")
    report.check(
        all(refused),
        "the app's role (handoff_app) cannot switch off or empty the audit trail: "
        + ", ".join(name or "ALLOWED" for name in refused),
    )


def one_beat(stack: Stack, report: Report) -> None:
    beats = [s for s in stack.services if s.startswith("beat")]
    lines = log_lines(stack)
    sweeps = sum(
        "referrals.tasks.notifications_sweep" in line and "received" in line.lower()
        for name, content in lines.items()
        if name.startswith("worker")
        for line in content
    )
    minutes = (time.monotonic() - stack.served_at) / 60
    report.check(
        len(beats) == 1 and 0 < sweeps <= minutes + 2,
        f"one beat: the every-minute outbox sweep ran {sweeps} times in {minutes:.1f} minutes",
    )


def logs_checked(stack: Stack, report: Report, client: SmokeClient) -> None:
    lines = log_lines(stack)
    secrets_found = [
        (name, value)
        for name, content in lines.items()
        for value in (client.last_name, client.phone, client.date_of_birth)
        if any(value in line for line in content)
    ]
    report.check(
        not secrets_found,
        f"no client data in {sum(len(c) for c in lines.values())} log lines of "
        f"{len(lines)} processes{': ' + str(secrets_found) if secrets_found else ''}",
    )
    web = json_lines(
        [line for name, content in lines.items() if name.startswith("web") for line in content]
    )
    with_id = [r for r in web if r.get("request_id")]
    access = json_lines(lines.get("nginx-access.log", []))
    report.check(
        bool(with_id) and bool(access) and all(r.get("request_id") for r in access),
        f"JSON logs: {len(web)} from gunicorn/Django ({len(with_id)} with a request id), "
        f"{len(access)} access-log lines from nginx, each with its request id",
    )


# --- 6. backup and restore --------------------------------------------------------------------
def empty_buckets(stack: Stack) -> dict[str, str]:
    """Two new, empty buckets to restore into, as the settings name them."""
    names = {
        "AWS_STORAGE_BUCKET_NAME": "handoff-restored-media",
        "AWS_PRIVATE_BUCKET_NAME": "handoff-restored-private",
    }
    stack.private_buckets_make(*names.values())
    return names


def backup_restored(stack: Stack, report: Report, backup_image: str | None = None) -> None:
    """deploy/backup.sh, then deploy/restore.sh into an empty database: from this checkout, or
    with ``backup_image`` as the backup job runs them (the image's ``backup`` stage, with its
    own PostgreSQL client tools), writing into the data directory its user may write."""

    def script(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        if backup_image:
            return stack.image_command(
                name, [f"deploy/{name}.sh", *args], image=backup_image, env=env
            )
        return subprocess.run(  # noqa: S603
            [BASH, str(ROOT / "deploy" / f"{name}.sh"), *args],
            env=env,
            capture_output=True,
            text=True,
        )

    if backup_image:
        backups = Path(stack.env["HANDOFF_VAR_DIR"]) / "backups"
        report.say(f"backup and restore with the image {backup_image}")
    else:
        backups = stack.workdir / "backups"
    # Backups and restores connect as the tables' owner (compose's backup service does too).
    env = {**stack.env, "BACKUP_DIR": str(backups), "DATABASE_URL": stack.owner_database_url}
    backup = script("backup", env=env)
    if not report.check(
        backup.returncode == 0,
        f"deploy/backup.sh: {backup.stdout.strip()[-300:] or backup.stderr[-300:]}",
    ):
        return
    made = sorted(p for p in backups.iterdir() if p.is_dir())
    saved = list((made[-1] / "objects").rglob("*.pdf")) if made else []
    report.check(bool(saved), f"the backup holds the signed form ({len(saved)} PDF)")
    owner = urlsplit(stack.owner_database_url).username or "postgres"
    with psycopg.connect(stack.admin_database_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE DATABASE handoff_restored OWNER {}").format(sql.Identifier(owner))
        )
    with database(stack) as connection:
        referrals = {
            row[0]: row[1]
            for row in connection.execute(
                "SELECT r.id, count(e.id) FROM referrals_referral r LEFT JOIN "
                "referrals_referralevent e ON e.referral_id = r.id GROUP BY r.id"
            ).fetchall()
        }
    restored_url = stack.owner_database_url.rsplit("/", 1)[0] + "/handoff_restored"
    restore_env = {**env, "DATABASE_URL": restored_url}
    # Into the live buckets: refused before the database is touched (they hold objects).
    into_live = script("restore", str(made[-1]), env=restore_env)
    report.check(
        into_live.returncode == 1 and "is not empty" in into_live.stderr,
        "deploy/restore.sh refuses the live buckets, which are not empty: "
        + (into_live.stderr.strip()[-200:] or f"exit {into_live.returncode}"),
    )
    restore_env.update(empty_buckets(stack))
    restore = script("restore", str(made[-1]), env=restore_env)
    if not report.check(
        restore.returncode == 0,
        "deploy/restore.sh into an empty database and empty buckets: "
        + (restore.stdout.strip()[-300:] or restore.stderr[-300:]),
    ):
        return
    objects = re.search(r"objects restored: (\d+)", restore.stdout)
    report.check(
        objects is not None and int(objects.group(1)) >= len(saved) > 0,
        f"the files went back to object storage ({objects.group(0) if objects else '?'})",
    )
    # Read as the application's role: the restored tables grant it what they granted before.
    app_restored_url = stack.env["DATABASE_URL"].rsplit("/", 1)[0] + "/handoff_restored"
    with psycopg.connect(app_restored_url, autocommit=True) as connection:
        back = {
            row[0]: row[1]
            for row in connection.execute(
                "SELECT r.id, count(e.id) FROM referrals_referral r LEFT JOIN "
                "referrals_referralevent e ON e.referral_id = r.id GROUP BY r.id"
            ).fetchall()
        }
    report.check(
        back == referrals and bool(referrals),
        f"the restored database holds every referral ({len(back)} of {len(referrals)}) with "
        f"every timeline event ({sum(back.values())} of {sum(referrals.values())})",
    )


# --- the run ----------------------------------------------------------------------------------
def smoke(workdir: Path, image: str | None = None, backup_image: str | None = None) -> Report:
    report = Report()
    client = SmokeClient.make()
    options = StackOptions(
        workdir=workdir,
        web_instances=2,
        gunicorn_workers=2,
        celery_workers=2,
        celery_concurrency=2,
        https_port=0,
        # A delivery task lost with a worker is picked up by the sweep after 20 s (not 2 min).
        extra_env={
            "HANDOFF_OUTBOX_LOST_AFTER_SECONDS": "20",
            "HANDOFF_OUTBOX_CLAIM_LAPSE_SECONDS": "60",
            "GUNICORN_TIMEOUT": "30",
        },
        image=image,
    )
    # A slow mail server (0.3 s a recipient), so that a worker is killed mid-conversation.
    with SmtpSink(delay=0.3) as sink:
        options.smtp_port = sink.port
        stack = Stack(options)
        with stack:
            report.say("seeding the demo networks (dev settings; production refuses demo data)")
            stack.manage("seed_demo", "--port", str(stack.https_port), settings="cms.settings.dev")
            stack.serve()
            if image:
                image_processes(stack, report, image)
            front_door(stack, report)
            client_id = referral_loop(stack, report, client)
            network_admin(stack, report)
            sent, kill = faults(stack, report, client_id)
            if sent:
                lost_update(stack, report, sent[-1])
            notifications_counted(stack, report, sink, kill)
            nothing_lost(stack, report, sent, client_id)
            one_beat(stack, report)
            audit_trail_held(stack, report)
            backup_restored(stack, report, backup_image)
        report.check(
            all(stack.stopped_cleanly.values()),
            f"everything stopped cleanly on SIGTERM: {stack.stopped_cleanly}",
        )
        logs_checked(stack, report, client)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Under the system's temporary directory: the postgres user must reach its cluster there
    # (a checkout under /root would not let it through).
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "handoff-prod-smoke"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--image",
        help="run gunicorn, the workers, beat and migrate from this image of deploy/Containerfile "
        "(podman), not from this checkout",
    )
    parser.add_argument(
        "--backup-image",
        help="run deploy/backup.sh and restore.sh from this image (the Containerfile's backup "
        "stage), not from this checkout",
    )
    args = parser.parse_args(argv)
    # A stopped run still stops every server it started (the stack's exit runs on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = smoke(args.workdir, image=args.image, backup_image=args.backup_image)
    if not args.keep and not report.failures:
        shutil.rmtree(args.workdir, ignore_errors=True)
    if report.failures:
        report.say(
            f"prod-smoke FAILED: {len(report.failures)} check(s); logs in {args.workdir}/logs"
        )
        for failure in report.failures:
            report.say(f"  - {failure}")
        return 1
    report.say("prod-smoke passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
