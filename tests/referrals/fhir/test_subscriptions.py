"""FHIR subscriptions (the R5 backport on R4) to the SDOHCC Task topic: create, read, search,
``$status``, switch off and delete; the refusals; the notifications a referral's changes write
(only for the subscribers of its own organizations, numbered in order); and their delivery to
a rest-hook on this machine, in order and each once, through failures and retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.subscription import Subscription

from referrals.models import (
    FhirNotification,
    FhirNotificationKind,
    FhirSubscription,
    Referral,
)
from referrals.services.subscriptions import (
    HEARTBEAT_PERIOD,
    STATUS_PROFILE,
    TASK_TOPIC,
    TIMEOUT,
    fhir_heartbeats_queue,
    fhir_notifications_deliver,
    fhir_subscriptions_due,
    subscriptions_notify,
)
from referrals.services.transitions import referral_message
from tests.processes import served
from tests.referrals.factories import Loop, move
from tests.referrals.fhir.resources import subscription
from tests.referrals.fhir.support import FHIR_JSON, Ehr, ehr_make, instant_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_endpoints(settings: Any) -> None:
    """The test endpoints are http:// on 127.0.0.1."""
    settings.FHIR_SUBSCRIPTION_ALLOW_HTTP = True
    settings.FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES = True


# --- a rest-hook on this machine -------------------------------------------------------------


@dataclass
class Hook:
    """A rest-hook endpoint: answers 500 to the first ``failures`` POSTs, then 200."""

    url: str = ""
    failures: int = 0
    attempts: int = 0
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)

    def kinds(self) -> list[tuple[str, str]]:
        """(type, events-since) of each notification received, in order."""
        return [
            (
                params["type"]["valueCode"],
                params["events-since-subscription-start"]["valueString"],
            )
            for params in (_parameters(bundle) for _headers, bundle in self.received)
        ]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                state.attempts += 1
                failing = state.attempts <= state.failures
                if not failing:
                    state.received.append((dict(self.headers), json.loads(body)))
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    with served(server):
        yield state


# --- helpers ---------------------------------------------------------------------------------


def subscribe(ehr: Ehr, endpoint: str, *criteria: str, **kwargs: Any) -> FhirSubscription:
    answer = ehr.post("Subscription", subscription(endpoint, *criteria, **kwargs))
    assert answer.status_code == 201, answer.content
    return FhirSubscription.objects.get(pk=int(answer.json()["id"]))


def owner(ehr: Ehr) -> str:
    return f"Task?owner=Organization/{ehr.client.organization_id}"


def requester(ehr: Ehr) -> str:
    return f"Task?requester=Organization/{ehr.client.organization_id}"


def _parameters(bundle: dict[str, Any]) -> dict[str, Any]:
    """The status Parameters of a notification Bundle, by parameter name."""
    params = bundle["entry"][0]["resource"]
    return {p["name"]: p for p in params["parameter"]}


def valid_notification(bundle: dict[str, Any]) -> dict[str, Any]:
    Bundle.model_validate(bundle)
    assert bundle["type"] == "history"
    assert bundle["timestamp"]
    first = bundle["entry"][0]
    Parameters.model_validate(first["resource"])
    assert first["resource"]["meta"]["profile"] == [STATUS_PROFILE]
    for entry in bundle["entry"]:
        assert entry["request"]["method"]
        assert entry["request"]["url"]
    return _parameters(bundle)


def refused(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"].startswith(FHIR_JSON)
    body = answer.json()
    OperationOutcome.model_validate(body)
    return body


def events(sub: FhirSubscription) -> list[tuple[int, int | None]]:
    """(event number, Task id) of the subscription's event notifications, in order."""
    return list(
        FhirNotification.objects.filter(subscription=sub, kind=FhirNotificationKind.EVENT)
        .order_by("pk")
        .values_list("event_number", "focus_id")
    )


def deliver(*subs: FhirSubscription, now: Any = None) -> int:
    return fhir_notifications_deliver(
        subscription_ids=[s.pk for s in subs], now=now or timezone.now()
    )


@pytest.fixture
def agency_ehr(loop: Loop) -> Ehr:
    """The food agency's case system (the owner of the loop's referrals)."""
    return ehr_make(loop.food_agency, name="Food agency system").sign_in()


@pytest.fixture
def clinic_ehr(loop: Loop) -> Ehr:
    """The clinic's EHR (the requester of the loop's referrals)."""
    return ehr_make(loop.clinic, name="Clinic EHR").sign_in()


# --- the Subscription resource ---------------------------------------------------------------


def test_create_read_search_status_switch_off_and_delete(
    agency_ehr: Ehr, clinic_ehr: Ehr, hook: Hook
) -> None:
    answer = agency_ehr.post(
        "Subscription",
        subscription(hook.url, owner(agency_ehr), "Task?status=accepted,completed", heartbeat=120),
    )
    assert answer.status_code == 201, answer.content
    created = answer.json()
    Subscription.model_validate(created)
    assert created["status"] == "requested"
    assert created["criteria"] == TASK_TOPIC
    assert answer["Location"] == f"Subscription/{created['id']}/_history/1"
    assert answer["ETag"] == 'W/"1"'
    sub = FhirSubscription.objects.get(pk=int(created["id"]))
    assert sub.owner_id == agency_ehr.client.organization_id
    assert sub.statuses == ["accepted", "completed"]
    (handshake,) = FhirNotification.objects.filter(subscription=sub)
    assert (handshake.kind, handshake.event_number, handshake.delivered_at) == (
        "handshake",
        0,
        None,
    )

    read = agency_ehr.get(f"Subscription/{sub.pk}")
    assert read.status_code == 200
    assert Subscription.model_validate(read.json()).id == str(sub.pk)
    channel = read.json()["channel"]
    assert {"url": HEARTBEAT_PERIOD, "valueUnsignedInt": 120} in channel["extension"]
    assert channel["_payload"]["extension"][0]["valueCode"] == "id-only"

    # Another system's subscription is neither listed nor readable, nor changeable.
    theirs = subscribe(clinic_ehr, hook.url, requester(clinic_ehr))
    found = agency_ehr.get("Subscription")
    assert found.status_code == 200
    Bundle.model_validate(found.json())
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [str(sub.pk)]
    assert refused(agency_ehr.get(f"Subscription/{theirs.pk}"), 404)
    assert refused(agency_ehr.get(f"Subscription/{theirs.pk}/$status"), 404)
    assert refused(
        agency_ehr.http.delete(f"/fhir/r4/Subscription/{theirs.pk}", **agency_ehr.headers()), 404
    )
    assert FhirSubscription.objects.filter(pk=theirs.pk).exists()

    status = agency_ehr.get(f"Subscription/{sub.pk}/$status")
    assert status.status_code == 200
    bundle = status.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    Parameters.model_validate(bundle["entry"][0]["resource"])
    params = _parameters(bundle)
    assert params["type"]["valueCode"] == "query-status"
    assert params["status"]["valueCode"] == "requested"
    assert params["events-since-subscription-start"]["valueString"] == "0"
    assert params["subscription"]["valueReference"]["reference"].endswith(
        f"/fhir/r4/Subscription/{sub.pk}"
    )

    # Switched off: status off, what was waiting is dropped; found by status.
    body = {**read.json(), "status": "off"}
    off = agency_ehr.put(f"Subscription/{sub.pk}", body, HTTP_IF_MATCH='W/"1"')
    assert off.status_code == 200, off.content
    Subscription.model_validate(off.json())
    assert off.json()["status"] == "off"
    assert off.json()["meta"]["versionId"] == "2"
    assert not FhirNotification.objects.filter(subscription=sub).exists()
    stale = agency_ehr.put(f"Subscription/{sub.pk}", body, HTTP_IF_MATCH='W/"1"')
    refused(stale, 412)
    by_status = agency_ehr.get("Subscription?status=off").json()
    assert [e["resource"]["id"] for e in by_status["entry"]] == [str(sub.pk)]
    assert agency_ehr.get("Subscription?status=active").json()["total"] == 0

    # Back on: it starts over with a handshake.
    again = agency_ehr.put(f"Subscription/{sub.pk}", {**body, "status": "requested"})
    assert again.json()["status"] == "requested"
    assert FhirNotification.objects.get(subscription=sub).kind == "handshake"

    deleted = agency_ehr.http.delete(f"/fhir/r4/Subscription/{sub.pk}", **agency_ehr.headers())
    assert deleted.status_code == 204
    refused(agency_ehr.get(f"Subscription/{sub.pk}"), 404)
    assert not FhirNotification.objects.filter(subscription_id=sub.pk).exists()


def channel(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``body`` with these elements of its channel changed (None: removed)."""
    merged = {**body["channel"], **changes}
    return {**body, "channel": {k: v for k, v in merged.items() if v is not None}}


def yesterday() -> str:
    return instant_of(timezone.now() - timedelta(days=1))


SERVICE_REQUEST_TOPIC = "http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Servicerequest"
# (status, the Subscription posted: from the endpoint, the EHR and the loop)
REFUSALS: dict[str, tuple[int, Any]] = {
    "another topic": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr), criteria=SERVICE_REQUEST_TOPIC),
    ),
    "no filter": (400, lambda url, ehr, loop: subscription(url)),
    "another organization's Tasks": (
        403,
        lambda url, ehr, loop: subscription(
            url, f"Task?owner=Organization/{loop.housing_agency.pk}"
        ),
    ),
    "another organization as requester": (
        403,
        lambda url, ehr, loop: subscription(url, f"Task?requester=Organization/{loop.clinic.pk}"),
    ),
    "another network's organization beside its own": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr), "Task?requester=Organization/999999"),
    ),
    "a filter this topic does not have": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr) + "&patient=Patient/1"),
    ),
    "a status that is not a Task's": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr), "Task?status=open"),
    ),
    "full-resource": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr), content="full-resource"),
    ),
    "no payload content": (
        400,
        lambda url, ehr, loop: channel(subscription(url, owner(ehr)), _payload=None),
    ),
    "xml": (
        400,
        lambda url, ehr, loop: channel(
            subscription(url, owner(ehr)), payload="application/fhir+xml"
        ),
    ),
    "email": (400, lambda url, ehr, loop: channel(subscription(url, owner(ehr)), type="email")),
    "a header this server sets": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr), headers=("Content-Type: text/plain",)),
    ),
    "a header split over lines": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr), headers=("X-A: b\r\nX-B: c",)),
    ),
    "a heartbeat of a second": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr), heartbeat=1),
    ),
    "a timeout of five minutes": (
        400,
        lambda url, ehr, loop: channel(
            subscription(url, owner(ehr)),
            extension=[{"url": TIMEOUT, "valueUnsignedInt": 300}],
        ),
    ),
    "an end in the past": (
        400,
        lambda url, ehr, loop: subscription(url, owner(ehr), end=yesterday()),
    ),
    "not a Subscription": (400, lambda url, ehr, loop: {"resourceType": "Task"}),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_what_is_not_offered_is_refused_and_nothing_is_written(
    loop: Loop, agency_ehr: Ehr, hook: Hook, case: str
) -> None:
    status, build = REFUSALS[case]
    body = refused(agency_ehr.post("Subscription", build(hook.url, agency_ehr, loop)), status)
    assert body["issue"][0]["code"] == ("forbidden" if status == 403 else "invalid")
    assert not FhirSubscription.objects.exists()
    assert not FhirNotification.objects.exists()


def test_an_http_endpoint_or_a_private_address_is_refused_in_production(
    agency_ehr: Ehr, settings: Any
) -> None:
    settings.FHIR_SUBSCRIPTION_ALLOW_HTTP = False
    settings.FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES = False
    settings.DEBUG = False
    plain = refused(
        agency_ehr.post(
            "Subscription", subscription("http://ehr.example.org/hook", owner(agency_ehr))
        ),
        400,
    )
    assert plain["issue"][0]["expression"] == ["Subscription.channel.endpoint"]
    for url in (
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://user:pw@ehr.example.org/",
    ):
        refused(agency_ehr.post("Subscription", subscription(url, owner(agency_ehr))), 400)
    assert not FhirSubscription.objects.exists()


def test_without_the_subscription_scope_it_is_403(loop: Loop, hook: Hook) -> None:
    ehr = ehr_make(loop.food_agency, name="Reader").sign_in("system/Task.rs system/Subscription.rs")
    refused(ehr.post("Subscription", subscription(hook.url, owner(ehr))), 403)
    assert not FhirSubscription.objects.exists()


# --- what a referral's changes write ---------------------------------------------------------


def test_a_referrals_changes_reach_only_its_own_organizations_subscribers(
    loop: Loop, other_loop: Loop, agency_ehr: Ehr, clinic_ehr: Ehr, hook: Hook
) -> None:
    housing_ehr = ehr_make(loop.housing_agency, name="Housing system").sign_in()
    elsewhere = ehr_make(other_loop.clinic, name="Other network EHR").sign_in()
    agency_sub = subscribe(agency_ehr, hook.url, owner(agency_ehr))
    clinic_sub = subscribe(clinic_ehr, hook.url, requester(clinic_ehr))
    closed_only = subscribe(clinic_ehr, hook.url, requester(clinic_ehr), "Task?status=completed")
    housing_sub = subscribe(housing_ehr, hook.url, owner(housing_ehr))
    other_sub = subscribe(elsewhere, hook.url, requester(elsewhere))

    food = loop.send()
    move(food, "accepted", loop.agency_staff, loop.food_agency)
    referral_message(referral=food, by=loop.clinic_staff, organization=loop.clinic, text="Hi")
    housing = loop.send(loop.housing, key="k2")

    assert events(agency_sub) == [(1, food.pk), (2, food.pk)]
    assert events(clinic_sub) == [(1, food.pk), (2, food.pk), (3, housing.pk)]
    assert events(housing_sub) == [(1, housing.pk)]
    assert events(closed_only) == []
    assert events(other_sub) == []
    for sub in (agency_sub, clinic_sub, housing_sub, closed_only):
        sub.refresh_from_db()
        assert sub.events_since_start == len(events(sub))

    move(food, "in-progress", loop.agency_staff, loop.food_agency)
    move(food, "completed", loop.agency_staff, loop.food_agency, outcome="service-provided")
    assert [n for n, _task in events(closed_only)] == [1]
    # Each subscriber is told only of the Tasks its organization owns or requested.
    told = {
        sub.client.organization_id: {task for _n, task in events(sub)}
        for sub in (agency_sub, clinic_sub, housing_sub)
    }
    referrals = Referral.objects.filter(pk__in={t for tasks in told.values() for t in tasks})
    for organization, tasks in told.items():
        for referral in referrals.filter(pk__in=tasks):
            assert organization in (referral.agency_id, referral.sender_id)


def test_narrower_filters_are_taken_and_matched(loop: Loop, agency_ehr: Ehr, hook: Hook) -> None:
    task_code = "http://hl7.org/fhir/CodeSystem/task-code|fulfill"
    from_clinic = subscribe(
        agency_ehr,
        hook.url,
        f"{owner(agency_ehr)}&requester=Organization/{loop.clinic.pk}&code={task_code}",
    )
    other_code = subscribe(agency_ehr, hook.url, owner(agency_ehr), "Task?code=make-contact")
    referral = loop.send()
    assert events(from_clinic) == [(1, referral.pk)]
    assert events(other_code) == []


def test_a_switched_off_subscription_or_system_hears_nothing(
    loop: Loop, agency_ehr: Ehr, hook: Hook
) -> None:
    sub = subscribe(agency_ehr, hook.url, owner(agency_ehr))
    agency_ehr.client.is_active = False
    agency_ehr.client.save()
    loop.send()
    assert events(sub) == []
    assert fhir_subscriptions_due(now=timezone.now() + timedelta(hours=1)) == []


# --- delivery --------------------------------------------------------------------------------


def test_the_endpoint_gets_the_handshake_then_each_event_as_a_notification_bundle(
    loop: Loop, agency_ehr: Ehr, hook: Hook
) -> None:
    sub = subscribe(
        agency_ehr, hook.url, owner(agency_ehr), headers=("Authorization: Bearer s3cret",)
    )
    referral = loop.send()
    move(referral, "accepted", loop.agency_staff, loop.food_agency)

    assert deliver(sub) == 3
    assert hook.kinds() == [
        ("handshake", "0"),
        ("event-notification", "1"),
        ("event-notification", "2"),
    ]
    base = f"http://{agency_ehr.host}/fhir/r4/"
    for number, (headers, bundle) in enumerate(hook.received):
        assert headers["Content-Type"] == FHIR_JSON
        assert headers["Authorization"] == "Bearer s3cret"
        params = valid_notification(bundle)
        assert (
            params["subscription"]["valueReference"]["reference"] == f"{base}Subscription/{sub.pk}"
        )
        assert params["topic"]["valueCanonical"] == TASK_TOPIC
        if number == 0:
            assert params["status"]["valueCode"] == "requested"
            assert "notification-event" not in params
            continue
        assert params["status"]["valueCode"] == "active"
        parts = {p["name"]: p for p in params["notification-event"]["part"]}
        assert parts["event-number"]["valueString"] == str(number)
        assert parts["focus"]["valueReference"]["reference"] == f"{base}Task/{referral.pk}"
        assert parts["timestamp"]["valueInstant"]
    sub.refresh_from_db()
    assert sub.status == "active"
    assert sub.last_sent_at is not None
    assert not FhirNotification.objects.filter(subscription=sub, delivered_at__isnull=True).exists()
    # Delivered once: nothing more to send.
    assert deliver(sub, now=timezone.now() + timedelta(hours=2)) == 0
    assert len(hook.received) == 3
    # $status now says active, with the events so far.
    params = _parameters(agency_ehr.get(f"Subscription/{sub.pk}/$status").json())
    assert params["status"]["valueCode"] == "active"
    assert params["events-since-subscription-start"]["valueString"] == "2"


def test_an_empty_payload_names_no_task(loop: Loop, agency_ehr: Ehr, hook: Hook) -> None:
    sub = subscribe(agency_ehr, hook.url, owner(agency_ehr), content="empty")
    loop.send()
    assert deliver(sub) == 2
    params = valid_notification(hook.received[1][1])
    assert "topic" not in params
    parts = {p["name"] for p in params["notification-event"]["part"]}
    assert parts == {"event-number", "timestamp"}


def test_a_failing_endpoint_gets_every_notification_once_in_order_after_retries(
    loop: Loop, agency_ehr: Ehr, hook: Hook
) -> None:
    hook.failures = 3
    sub = subscribe(agency_ehr, hook.url, owner(agency_ehr))
    referral = loop.send()
    move(referral, "accepted", loop.agency_staff, loop.food_agency)
    now = timezone.now()

    def sweep(at: Any) -> int:
        return fhir_notifications_deliver(subscription_ids=fhir_subscriptions_due(now=at), now=at)

    waits = []
    for attempt in (1, 2, 3):
        assert sweep(now) == 0
        assert hook.attempts == attempt
        head = FhirNotification.objects.filter(subscription=sub).order_by("pk").first()
        assert head is not None
        assert head.kind == "handshake"
        assert head.attempts == attempt
        assert head.last_error == "HTTP 500"
        waits.append(head.next_attempt_at - now)
        sub.refresh_from_db()
        assert sub.status == "error"
        assert sub.error == "HTTP 500"
        # Before its retry time, nothing is sent (the events wait behind the handshake).
        assert sweep(now + waits[-1] - timedelta(seconds=1)) == 0
        assert hook.attempts == attempt
        now += waits[-1]
    assert waits == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40)]

    assert sweep(now) == 3
    assert hook.kinds() == [
        ("handshake", "0"),
        ("event-notification", "1"),
        ("event-notification", "2"),
    ]
    sub.refresh_from_db()
    assert (sub.status, sub.error) == ("active", "")
    assert sweep(now + timedelta(hours=3)) == 0
    assert len(hook.received) == 3


def test_backoff_is_capped_at_an_hour_and_never_gives_up(
    loop: Loop, agency_ehr: Ehr, hook: Hook
) -> None:
    hook.failures = 1000
    sub = subscribe(agency_ehr, hook.url, owner(agency_ehr))
    now = timezone.now()
    for _attempt in range(12):
        deliver(sub, now=now)
        head = FhirNotification.objects.get(subscription=sub)
        now = head.next_attempt_at
    assert head.next_attempt_at - timedelta(hours=1) <= now
    assert head.attempts == 12
    assert fhir_subscriptions_due(now=now) == [sub.pk]


def test_heartbeats_when_nothing_was_sent_for_the_period(
    loop: Loop, agency_ehr: Ehr, hook: Hook
) -> None:
    sub = subscribe(agency_ehr, hook.url, owner(agency_ehr), heartbeat=60)
    now = timezone.now()
    assert fhir_heartbeats_queue(now=now + timedelta(minutes=5)) == []  # not active yet
    deliver(sub, now=now)
    assert fhir_heartbeats_queue(now=now + timedelta(seconds=59)) == []
    assert fhir_heartbeats_queue(now=now + timedelta(seconds=60)) == [sub.pk]
    assert fhir_heartbeats_queue(now=now + timedelta(seconds=90)) == []  # one is waiting
    assert deliver(sub, now=now + timedelta(seconds=61)) == 1
    params = valid_notification(hook.received[-1][1])
    assert params["type"]["valueCode"] == "heartbeat"
    assert params["status"]["valueCode"] == "active"
    sub.refresh_from_db()
    assert sub.last_heartbeat_at == now + timedelta(seconds=61)


def test_a_created_subscription_is_handshaken_once_its_transaction_commits(
    agency_ehr: Ehr, hook: Hook, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sub = subscribe(agency_ehr, hook.url, owner(agency_ehr))
    assert len(callbacks) == 1
    # Eager Celery in tests: the queued task ran and delivered the handshake.
    assert hook.kinds() == [("handshake", "0")]
    sub.refresh_from_db()
    assert sub.status == "active"


def test_delivery_queries_do_not_grow_with_the_notifications_sent(
    loop: Loop, agency_ehr: Ehr, hook: Hook
) -> None:
    sub = subscribe(agency_ehr, hook.url, owner(agency_ehr))
    referral = loop.send()
    deliver(sub)

    def cost(n: int) -> int:
        for _ in range(n):
            subscriptions_notify(referral=referral, at=timezone.now())
        with CaptureQueriesContext(connection) as captured:
            assert deliver(sub) == n
        return len(captured.captured_queries)

    assert cost(2) == cost(12)


def test_the_sweep_is_scheduled_every_minute() -> None:
    (entry,) = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "referrals.tasks.fhir_subscriptions_sweep"
    ]
    assert str(entry["schedule"].minute) == str(set(range(60)))
