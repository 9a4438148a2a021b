"""The referral loop between an EHR and the portal, over HTTP against the live server.

An EHR (this test, signing its own SMART Backend Services assertions) subscribes to the Tasks
its clinic requests, with a rest-hook that is a small HTTP server in the test; it posts a
patient, a screening, a consent, then a transaction with a ServiceRequest and its Task. The
agency's staff accept and complete the referral in the portal, in Chromium. The rest-hook hears
of each change (a handshake, then one event notification per change, numbered in order); on each
one the EHR reads ``Task?_id=…&_include=Task:focus&_include=Task:output`` and, once the Task is
completed, finds the Procedure and reads it.

The same with the rest-hook answering 503 to its first attempts: the sweep (the scheduled
retry, called here with its clock moved past each backoff) delivers every notification once,
in order, and the EHR then reads the completed Task on each of them.

The rest-hook answers at once and the EHR reads after (on the test's own thread), as a
subscriber should: a notification is delivered inside the request that made the change.
Screenshots land in test-artifacts/fhir-loop-<case>-*.png.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.parameters import Parameters

from referrals.models import FhirNotification, FhirNotificationKind, Referral
from referrals.services.subscriptions import (
    STATUS_PROFILE,
    TASK_TOPIC,
    USER_AGENT,
    fhir_notifications_deliver,
    fhir_subscriptions_due,
)
from tests.e2e.cast import Cast
from tests.e2e.conftest import screenshot
from tests.e2e.walk import signed_in
from tests.e2e.words import words
from tests.processes import served
from tests.referrals.fhir.resources import (
    consent,
    patient,
    screening,
    service_request,
    subscription,
    task,
    valid,
)
from tests.referrals.fhir.support import (
    ALL_SCOPES,
    ASSERTION_TYPE,
    FHIR,
    FHIR_JSON,
    TOKEN_PATH,
    Ehr,
    ehr_make,
    instant_of,
)

# What the EHR's rest-hook wants on every notification (sent as the subscription's header).
HOOK_AUTHORIZATION = "Bearer e2e-hook-secret"
SERVICE = "Harbor Food Pantry"  # the food agency's service (tests.referrals.factories)
OUTCOME_NOTE = "Groceries picked up on Tuesday."


@pytest.fixture(autouse=True)
def local_endpoints(settings: Any) -> None:
    """The rest-hook is http:// on 127.0.0.1 (the live server runs in this process: it reads
    the same settings)."""
    settings.FHIR_SUBSCRIPTION_ALLOW_HTTP = True
    settings.FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES = True


# --- the EHR's rest-hook ---------------------------------------------------------------------


@dataclass
class Hook:
    """A rest-hook: answers 503 to its first ``failures`` POSTs, 401 without the EHR's secret,
    else 200, and keeps what it accepted."""

    url: str = ""
    failures: int = 0
    answers: list[int] = field(default_factory=list)  # the status of every POST, in order
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(
        self, count: int, timeout: float = 10.0
    ) -> list[tuple[dict[str, str], dict[str, Any]]]:
        """The first ``count`` notifications accepted, their headers and Bundles (waiting up
        to ``timeout`` s for them)."""
        with self.changed:
            arrived = self.changed.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"{len(self.received)} notifications arrived, not {count}"
            return self.received[:count]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.changed:
                if self.headers.get("Authorization") != HOOK_AUTHORIZATION:
                    answer = 401
                elif len(state.answers) < state.failures:
                    answer = 503  # down for maintenance
                else:
                    answer = 200
                    state.received.append((dict(self.headers), json.loads(body)))
                state.answers.append(answer)
                state.changed.notify_all()
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/fhir-hook"
    with served(server):
        yield state


# --- the EHR's client ------------------------------------------------------------------------


@dataclass
class HttpEhr:
    """The EHR over real HTTP: its registration and key (``Ehr``, whose ``host`` is the
    network's host and port), calling the live server at ``address`` under that Host."""

    ehr: Ehr
    address: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str = ""

    def sign_in(self) -> HttpEhr:
        """Read where the token endpoint is, sign an assertion for it, trade it for a token."""
        found = self.session.get(
            f"{self.address}{FHIR}.well-known/smart-configuration",
            headers={"Host": self.ehr.host},
            timeout=30,
        )
        assert found.status_code == 200, found.text
        token_url = found.json()["token_endpoint"]
        assert token_url == f"http://{self.ehr.host}{TOKEN_PATH}"
        answer = self.session.post(
            f"{self.address}{TOKEN_PATH}",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.ehr.assertion(aud=token_url),
                "scope": ALL_SCOPES,
            },
            headers={"Host": self.ehr.host},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["token_type"] == "bearer"
        assert set(body["scope"].split()) == set(ALL_SCOPES.split())
        self.token = body["access_token"]
        return self

    def call(
        self, method: str, path: str, resource: dict[str, Any] | None = None
    ) -> requests.Response:
        headers = {
            "Host": self.ehr.host,
            "Accept": FHIR_JSON,
            "Authorization": f"Bearer {self.token}",
        }
        data = None
        if resource is not None:
            headers["Content-Type"] = FHIR_JSON
            data = json.dumps(resource)
        url = self.address + (path if path.startswith("/") else FHIR + path)
        return self.session.request(method, url, data=data, headers=headers, timeout=30)

    def made(self, path: str, resource: dict[str, Any], status: int = 201) -> dict[str, Any]:
        answer = self.call("POST", path, resource)
        assert answer.status_code == status, answer.text
        assert answer.headers["Content-Type"].startswith(FHIR_JSON)
        return valid(answer.json())

    def read(self, path: str) -> dict[str, Any]:
        answer = self.call("GET", path)
        assert answer.status_code == 200, answer.text
        return valid(answer.json())


# --- what a notification says, and what the EHR does on it -----------------------------------


@dataclass(frozen=True)
class Notice:
    kind: str  # handshake, event-notification
    number: int  # the event number (events so far, for a handshake)
    status: str  # the subscription's status the notification reports
    task: str | None  # "Task/<id>", relative to the server's base


def notice_read(
    headers: dict[str, str], bundle: dict[str, Any], base: str, subscription_id: str
) -> Notice:
    """A notification Bundle checked as the backport's R4 notification."""
    assert headers["Content-Type"] == FHIR_JSON
    assert headers["User-Agent"] == USER_AGENT
    Bundle.model_validate(bundle)
    assert bundle["type"] == "history"
    status = bundle["entry"][0]["resource"]
    Parameters.model_validate(status)
    assert status["meta"]["profile"] == [STATUS_PROFILE]
    params = {p["name"]: p for p in status["parameter"]}
    assert params["subscription"]["valueReference"]["reference"] == (
        f"{base}Subscription/{subscription_id}"
    )
    assert params["topic"]["valueCanonical"] == TASK_TOPIC
    kind = params["type"]["valueCode"]
    if kind == "handshake":
        assert "notification-event" not in params
        return Notice(
            kind,
            int(params["events-since-subscription-start"]["valueString"]),
            params["status"]["valueCode"],
            None,
        )
    parts = {p["name"]: p for p in params["notification-event"]["part"]}
    focus = parts["focus"]["valueReference"]["reference"]
    assert focus.startswith(f"{base}Task/"), focus
    assert parts["timestamp"]["valueInstant"]
    return Notice(
        kind,
        int(parts["event-number"]["valueString"]),
        params["status"]["valueCode"],
        focus.removeprefix(base),
    )


def task_followed(ehr: HttpEhr, notice: Notice) -> dict[str, Any]:
    """What the EHR does on an event: read the Task with its ServiceRequest and its Procedure;
    the search Bundle's resources by type (one each)."""
    assert notice.task is not None
    task_id = notice.task.removeprefix("Task/")
    bundle = ehr.read(f"Task?_id={task_id}&_include=Task:focus&_include=Task:output")
    assert bundle["type"] == "searchset"
    found: dict[str, Any] = {}
    for entry in bundle["entry"]:
        kind = entry["resource"]["resourceType"]
        assert kind not in found, f"two {kind}s in {bundle}"
        assert entry["search"]["mode"] == ("match" if kind == "Task" else "include")
        found[kind] = entry["resource"]
    assert found["Task"]["id"] == task_id
    assert found["Task"]["focus"]["reference"] == f"ServiceRequest/{found['ServiceRequest']['id']}"
    return found


# --- the loop --------------------------------------------------------------------------------


def transaction_of(*entries: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": url, "resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for url, r in entries
        ],
    }


@pytest.mark.parametrize("failures", [0, 3], ids=["endpoint-up", "endpoint-down-3-attempts"])
@pytest.mark.django_db(transaction=True)
def test_an_ehr_referral_closed_in_the_portal_is_heard_and_read_back(  # type: ignore[no-untyped-def]
    browser, live_server, site: str, cast: Cast, hook: Hook, failures: int
) -> None:
    hook.failures = failures
    shot = f"fhir-loop-{'up' if failures == 0 else f'down-{failures}'}"
    t = words("en")
    host = urlsplit(site).netloc  # the network's host, on the live server's port
    base = f"http://{host}{FHIR}"
    ehr = HttpEhr(
        ehr_make(cast.clinic, name="Clinic EHR", host=host),
        address=f"http://{urlsplit(live_server.url).netloc}",
    ).sign_in()
    followed: list[tuple[Notice, dict[str, Any]]] = []

    def heard(count: int) -> list[Notice]:
        """The first ``count`` notifications, read; the EHR follows each event it had not."""
        notices = [
            notice_read(headers, bundle, base, subscription_id)
            for headers, bundle in hook.wait_for(count)
        ]
        for notice in notices[len(followed) + 1 :]:  # the handshake is not followed
            followed.append((notice, task_followed(ehr, notice)))
        return notices

    # (1) The EHR subscribes to the Tasks its clinic requests; the handshake is sent at once.
    created = ehr.made(
        "Subscription",
        subscription(
            hook.url,
            f"Task?requester=Organization/{cast.clinic.pk}",
            headers=(f"Authorization: {HOOK_AUTHORIZATION}",),
        ),
    )
    subscription_id = created["id"]
    assert created["status"] == "requested"
    current = ehr.read(f"Subscription/{subscription_id}")
    if failures:
        assert hook.answers == [503]
        assert (current["status"], current["error"]) == ("error", "HTTP 503")
    else:
        assert heard(1) == [Notice("handshake", 0, "requested", None)]
        assert current["status"] == "active"

    # (2) A patient, a screening, a consent for the food agency, then the referral as a
    # transaction: the ServiceRequest (supported by the consent) and its Task.
    subject = f"Patient/{ehr.made('Patient', patient(mrn='E2E-1'))['id']}"
    answered = ehr.made("QuestionnaireResponse", screening(subject, instant_of(timezone.now())))
    assert answered["subject"] == {"reference": subject}
    agreed = ehr.made("Consent", consent(subject, [cast.food_agency.pk], ["food-insecurity"]))
    sent = ehr.made(
        "",
        transaction_of(
            (
                "urn:uuid:sr",
                service_request(
                    subject,
                    cast.food.pk,
                    ["food-insecurity"],
                    f"Consent/{agreed['id']}",
                    note="Call after 5pm",
                ),
            ),
            (
                "urn:uuid:task",
                task(
                    "urn:uuid:sr",
                    subject,
                    cast.clinic.pk,
                    cast.food_agency.pk,
                    instant_of(timezone.now()),
                ),
            ),
        ),
        status=200,
    )
    assert sent["type"] == "transaction-response"
    made = {e["resource"]["resourceType"]: e["resource"] for e in sent["entry"]}
    assert set(made) == {"ServiceRequest", "Task"}
    task_id = made["Task"]["id"]
    assert made["Task"]["status"] == "requested"
    referral = Referral.objects.get(pk=task_id)
    assert (referral.sender_id, referral.agency_id) == (cast.clinic.pk, cast.food_agency.pk)
    assert referral.consent_id == int(agreed["id"])
    if not failures:
        assert heard(2)[1] == Notice("event-notification", 1, "active", f"Task/{task_id}")

    # (3) The agency's staff open it from their inbox, accept it, then complete it.
    with signed_in(browser, site, cast.food_staff, viewport={"width": 1280, "height": 900}) as page:
        page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Inbox")).click()
        page.get_by_role("row").filter(has_text=SERVICE).get_by_role(
            "link", name=f"#{task_id}", exact=True
        ).click()
        page.get_by_role("heading", level=1, name=SERVICE).wait_for()
        # The patient the EHR posted, as the agency's agreement discloses her.
        assert "Ana Reyes" in page.get_by_role("region", name=t("Client")).inner_text()
        done = t("The referral is now %(status)s.", status="%s")
        page.get_by_role("button", name=t("Accept")).click()
        page.get_by_text(done % t("Accepted").lower()).wait_for()
        assert page.get_by_test_id("status").inner_text() == t("Accepted")
        screenshot(page, f"{shot}-1-accepted")
        if not failures:
            assert heard(3)[2] == Notice("event-notification", 2, "active", f"Task/{task_id}")

        complete = page.locator("details").filter(
            has=page.locator("summary", has_text=t("Mark completed"))
        )
        complete.locator("summary").click()
        complete.get_by_label(t("How did it end?")).select_option(label=t("Service provided"))
        complete.get_by_label(t("Outcome note (optional)")).fill(OUTCOME_NOTE)
        complete.get_by_role("button", name=t("Mark completed")).click()
        page.get_by_text(done % t("Completed").lower()).wait_for()
        assert page.get_by_test_id("status").inner_text() == t("Completed")
        screenshot(page, f"{shot}-2-completed")
    if not failures:
        assert heard(4)[3] == Notice("event-notification", 3, "active", f"Task/{task_id}")

    if failures:
        # Down for the whole loop: the handshake's retry waits at least 10 + 20 + 40 s after
        # its first attempt (every change meanwhile only queues its event behind it), so every
        # attempt so far was refused and nothing arrived.
        assert hook.answers == [503] * len(hook.answers)
        assert 1 <= len(hook.answers) <= failures
        assert hook.received == []
        assert ehr.read(f"Subscription/{subscription_id}")["status"] == "error"
        # The scheduled sweep, run with its clock past each backoff (at most an hour).
        now = timezone.now()
        sweeps = 0
        while fhir_subscriptions_due(now=now + timedelta(hours=2)):
            sweeps += 1
            assert sweeps <= failures + 1, f"still undelivered: {hook.answers}"
            now += timedelta(hours=2)
            fhir_notifications_deliver(subscription_ids=fhir_subscriptions_due(now=now), now=now)
        # Another sweep much later sends nothing again.
        now += timedelta(days=1)
        assert fhir_notifications_deliver(subscription_ids=[int(subscription_id)], now=now) == 0
        assert hook.answers == [503] * failures + [200] * 4
        notices = heard(4)
        # The handshake reports the status the subscription was in when it got through.
        assert notices[0] == Notice("handshake", 0, "error", None)
        head = FhirNotification.objects.get(
            subscription_id=subscription_id, kind=FhirNotificationKind.HANDSHAKE
        )
        assert (head.attempts, head.last_error) == (failures + 1, "")

    # Every notification arrived once, in order: the handshake, then created, accepted and
    # completed, numbered 1, 2, 3, each naming the Task.
    notices = heard(4)
    assert len(hook.received) == 4
    assert [(n.kind, n.number) for n in notices] == [
        ("handshake", 0),
        ("event-notification", 1),
        ("event-notification", 2),
        ("event-notification", 3),
    ]
    assert {n.task for n in notices[1:]} == {f"Task/{task_id}"}
    assert {n.status for n in notices[1:]} == {"active"}
    assert not FhirNotification.objects.filter(
        subscription_id=subscription_id, delivered_at__isnull=True
    ).exists()
    current = ehr.read(f"Subscription/{subscription_id}")
    assert (current["status"], current.get("error")) == ("active", None)

    # What the EHR read on each event: live, the Task as each change left it; after the
    # outage, the completed Task each time.
    seen = [read["Task"]["status"] for _notice, read in followed]
    assert seen == (["requested", "accepted", "completed"] if not failures else ["completed"] * 3)
    for _notice, read in followed:
        assert read["ServiceRequest"]["supportingInfo"] == [
            {"reference": f"Consent/{agreed['id']}"}
        ]
        assert ("Procedure" in read) == (read["Task"]["status"] == "completed")
    final = followed[-1][1]
    assert final["Task"]["output"][0]["valueReference"] == {"reference": f"Procedure/{task_id}"}
    assert final["Task"]["businessStatus"]["coding"][0]["code"] == "service-provided"
    assert final["Procedure"]["status"] == "completed"
    procedure = ehr.read(f"Procedure/{task_id}")
    assert procedure["status"] == "completed"
    assert procedure["subject"] == {"reference": subject}
    assert procedure["outcome"]["coding"][0]["code"] == "service-provided"
    assert procedure["note"] == [{"text": OUTCOME_NOTE}]
