"""FHIR subscriptions (the R5 backport on R4, backport IG 1.1.0) to the SDOHCC Task topic: what
a system may subscribe to, the notifications written when a referral's Task changes, and their
delivery to the system's rest-hook.

A Task (a referral) changes when it is created or changes status (``timeline.event_add``). Each
change writes one notification per matching subscription in the change's own transaction, with
the subscription's next event number; a task then POSTs it. Notifications of a subscription
are sent in order, each once: a row is sent only after the one before it was delivered, under
row locks (PostgreSQL) so that two workers never send the same row; a failure is retried with
backoff (10 s, 20 s, 40 s … at most an hour) and never given up. A scheduled sweep retries what
is due and sends heartbeats.

A system subscribes only to Tasks its own organization owns (the agency) or requested (the
clinic), and a notification carries ids and numbers only (``id-only`` or ``empty``), never a
resource: the system reads the Task under the API's usual rules.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from network.models import ApiClient, Organization
from referrals.models import (
    FhirNotification,
    FhirNotificationKind,
    FhirPayloadContent,
    FhirSubscription,
    FhirSubscriptionStatus,
    Referral,
    ReferralStatus,
)

logger = logging.getLogger(__name__)

TASK_TOPIC = "http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
SUBSCRIPTION_PROFILE = f"{BACKPORT}/StructureDefinition/backport-subscription"
STATUS_PROFILE = f"{BACKPORT}/StructureDefinition/backport-subscription-status-r4"
NOTIFICATION_PROFILE = f"{BACKPORT}/StructureDefinition/backport-subscription-notification-r4"
FILTER_CRITERIA = f"{BACKPORT}/StructureDefinition/backport-filter-criteria"
PAYLOAD_CONTENT = f"{BACKPORT}/StructureDefinition/backport-payload-content"
HEARTBEAT_PERIOD = f"{BACKPORT}/StructureDefinition/backport-heartbeat-period"
TIMEOUT = f"{BACKPORT}/StructureDefinition/backport-timeout"
MAX_COUNT = f"{BACKPORT}/StructureDefinition/backport-max-count"
STATUS_OPERATION = f"{BACKPORT}/OperationDefinition/backport-subscription-status"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
# Every referral is a Task with this code.
TASK_CODE = "fulfill"
FHIR_JSON = "application/fhir+json"

# Subscriptions that hear of changes (``error`` too: its notifications wait for the retry).
LIVE = (
    FhirSubscriptionStatus.REQUESTED,
    FhirSubscriptionStatus.ACTIVE,
    FhirSubscriptionStatus.ERROR,
)
MAX_PER_CLIENT = 20
TIMEOUT_DEFAULT = 10
TIMEOUT_MAX = 60
HEARTBEAT_MIN = 60  # the sweep runs every minute
HEARTBEAT_MAX = 24 * 3600
MAX_HEADERS = 10
RETRY_BASE_SECONDS = 10  # 10, 20, 40 … seconds, capped at RETRY_MAX_SECONDS
RETRY_MAX_SECONDS = 3600
LOG_AFTER_ATTEMPTS = 10  # an operator hears of a subscriber this long unreachable
BATCH = 50  # notifications of one subscription sent in one go
USER_AGENT = "Handoff FHIR subscriptions"

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
# Headers this server writes itself.
_RESERVED_HEADERS = {"content-type", "content-length", "host", "transfer-encoding", "connection"}
_ORGANIZATION = re.compile(r"(?:^|/)Organization/(\d{1,18})$")
_FILTERS = ("owner", "requester", "status", "code")


# --- what a system subscribes to -------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionTerms:
    """A Subscription as sent, read from FHIR (``referrals.fhir.subscriptions``)."""

    topic: str
    filters: Sequence[str]
    reason: str
    endpoint: str
    headers: Sequence[str] = ()
    content: str = FhirPayloadContent.ID_ONLY
    heartbeat_seconds: int | None = None
    timeout_seconds: int = TIMEOUT_DEFAULT
    end_at: datetime | None = None
    off: bool = False


@dataclass
class _Filters:
    owner: int | None = None
    requester: int | None = None
    statuses: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


def _invalid(element: str, message: str) -> ValidationError:
    return ValidationError({element: message})


def _topic_checked(topic: str) -> str:
    # The topic's canonical may name its version: "…/SubscriptionTopic/Task|2.2.0".
    canonical = topic.strip().split("|", 1)[0]
    if canonical != TASK_TOPIC:
        raise _invalid(
            "Subscription.criteria",
            _("This server offers one topic: %(topic)s.") % {"topic": TASK_TOPIC},
        )
    return canonical


def _organization_id(value: str, name: str) -> int:
    match = _ORGANIZATION.search(value)
    if match is None:
        raise _invalid(
            "Subscription.criteria.extension",
            _("%(name)s must name an organization, e.g. %(name)s=Organization/12.")
            % {"name": name},
        )
    return int(match.group(1))


def _filters_parse(criteria: Sequence[str]) -> _Filters:
    """``Task?owner=Organization/12&status=accepted`` (each criterion ANDed)."""
    found = _Filters()
    statuses: set[str] | None = None
    codes: set[str] | None = None
    element = "Subscription.criteria.extension"
    for text in criteria:
        resource, _mark, query = text.strip().partition("?")
        pairs = parse_qsl(query, keep_blank_values=True)
        if resource != "Task" or not pairs:
            raise _invalid(
                element,
                _("Filter criteria look like Task?owner=Organization/12, not “%(text)s”.")
                % {"text": text[:200]},
            )
        for name, value in pairs:
            if name not in _FILTERS:
                raise _invalid(
                    element,
                    _("The Task topic filters by %(names)s here, not by “%(name)s”.")
                    % {"names": ", ".join(_FILTERS), "name": name[:100]},
                )
            if not value:
                raise _invalid(element, _("Give %(name)s a value.") % {"name": name})
            if name in {"owner", "requester"}:
                pk = _organization_id(value, name)
                if getattr(found, name) not in (None, pk):
                    raise _invalid(
                        element, _("Filter %(name)s by one organization.") % {"name": name}
                    )
                setattr(found, name, pk)
            elif name == "status":
                asked = set(value.split(","))
                unknown = asked - set(ReferralStatus.values)
                if unknown:
                    raise _invalid(
                        element,
                        _("Not a Task status: %(codes)s.") % {"codes": ", ".join(sorted(unknown))},
                    )
                statuses = asked if statuses is None else statuses & asked
            else:
                asked_codes = set()
                for token in value.split(","):
                    system, bar, code = token.rpartition("|")
                    if (bar and system not in {"", TASK_CODE_SYSTEM}) or not code:
                        raise _invalid(
                            element,
                            _("Filter code by %(system)s codes, e.g. code=%(code)s.")
                            % {"system": TASK_CODE_SYSTEM, "code": TASK_CODE},
                        )
                    asked_codes.add(code)
                codes = asked_codes if codes is None else codes & asked_codes
    if statuses is not None:
        if not statuses:
            raise _invalid(element, _("These status filters together match no Task."))
        found.statuses = sorted(statuses)
    if codes is not None:
        if not codes:
            raise _invalid(element, _("These code filters together match no Task."))
        found.codes = sorted(codes)
    return found


def _filters_allowed(filters: _Filters, client: ApiClient) -> None:
    """Only Tasks the system's organization owns or requested: 400 with no such filter, 403
    when it names someone else."""
    own = client.organization_id
    if filters.owner is None and filters.requester is None:
        raise _invalid(
            "Subscription.criteria.extension",
            _(
                "Filter the Tasks your organization owns or requested: "
                "Task?owner=Organization/%(pk)s or Task?requester=Organization/%(pk)s."
            )
            % {"pk": own},
        )
    if own not in (filters.owner, filters.requester):
        raise PermissionDenied(
            _(
                "A system subscribes only to Tasks its organization (Organization/%(pk)s) owns "
                "or requested."
            )
            % {"pk": own}
        )
    other = filters.requester if filters.owner == own else filters.owner
    if (
        other is not None
        and other != own
        and not Organization.objects.filter(pk=other, network_id=client.network_id).exists()
    ):
        raise _invalid(
            "Subscription.criteria.extension",
            _("No Organization/%(pk)s in this network.") % {"pk": other},
        )


def _local_allowed(setting: str) -> bool:
    return bool(settings.DEBUG or getattr(settings, setting, False))


def _address_private(host: str, port: int) -> bool | None:
    """Whether ``host`` resolves to a loopback, private or link-local address (None: it does
    not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    # An IPv6 link-local address comes with its zone ("fe80::1%eth0").
    return any(not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global for info in infos)


def _endpoint_checked(endpoint: str) -> str:
    element = "Subscription.channel.endpoint"
    endpoint = endpoint.strip()
    parts = urlsplit(endpoint)
    schemes = {"https", "http"} if _local_allowed("FHIR_SUBSCRIPTION_ALLOW_HTTP") else {"https"}
    if parts.scheme not in schemes or not parts.hostname or len(endpoint) > 2000:
        raise _invalid(element, _("The endpoint must be an https:// URL."))
    if parts.username or parts.password:
        raise _invalid(element, _("Send credentials in channel.header, not in the URL."))
    if not _local_allowed("FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES"):
        private = _address_private(parts.hostname, parts.port or 443)
        if private is None:
            raise _invalid(
                element,
                _("The endpoint's host %(host)s cannot be found.") % {"host": parts.hostname},
            )
        if private:
            raise _invalid(element, _("The endpoint must be on a public address."))
    return endpoint


def _headers_checked(headers: Sequence[str]) -> list[str]:
    element = "Subscription.channel.header"
    if len(headers) > MAX_HEADERS:
        raise _invalid(element, _("At most %(n)s headers.") % {"n": MAX_HEADERS})
    checked = []
    for text in headers:
        name, colon, value = text.partition(":")
        if (
            not colon
            or not _HEADER_NAME.match(name.strip())
            or any(c in value for c in "\r\n\0")
            or len(text) > 2000
        ):
            raise _invalid(element, _("Write each header as “Name: value”."))
        if name.strip().lower() in _RESERVED_HEADERS:
            raise _invalid(element, _("This server sets %(name)s itself.") % {"name": name.strip()})
        checked.append(f"{name.strip()}: {value.strip()}")
    return checked


def _terms_checked(
    terms: SubscriptionTerms, client: ApiClient, now: datetime
) -> tuple[str, _Filters, str, list[str]]:
    topic = _topic_checked(terms.topic)
    filters = _filters_parse(terms.filters)
    _filters_allowed(filters, client)
    endpoint = _endpoint_checked(terms.endpoint)
    headers = _headers_checked(terms.headers)
    if terms.content not in FhirPayloadContent.values:
        raise _invalid(
            "Subscription.channel.payload",
            _("Notifications carry ids only (id-only) or nothing (empty)."),
        )
    if terms.heartbeat_seconds is not None and not (
        HEARTBEAT_MIN <= terms.heartbeat_seconds <= HEARTBEAT_MAX
    ):
        raise _invalid(
            "Subscription.channel.extension",
            _("A heartbeat period is from %(min)s to %(max)s seconds.")
            % {"min": HEARTBEAT_MIN, "max": HEARTBEAT_MAX},
        )
    if not 1 <= terms.timeout_seconds <= TIMEOUT_MAX:
        raise _invalid(
            "Subscription.channel.extension",
            _("A timeout is from 1 to %(max)s seconds.") % {"max": TIMEOUT_MAX},
        )
    if terms.end_at is not None and terms.end_at <= now:
        raise _invalid("Subscription.end", _("The end must be in the future."))
    reason = terms.reason.strip()
    if not reason or len(reason) > 1000:
        raise _invalid("Subscription.reason", _("Say why, in at most 1,000 characters."))
    return topic, filters, endpoint, headers


def _fields(terms: SubscriptionTerms, client: ApiClient, now: datetime) -> dict[str, Any]:
    topic, filters, endpoint, headers = _terms_checked(terms, client, now)
    return {
        "topic": topic,
        "filters": [f.strip() for f in terms.filters],
        "owner_id": filters.owner,
        "requester_id": filters.requester,
        "statuses": filters.statuses,
        "codes": filters.codes,
        "reason": terms.reason.strip(),
        "end_at": terms.end_at,
        "endpoint": endpoint,
        "headers": headers,
        "content": terms.content,
        "heartbeat_seconds": terms.heartbeat_seconds,
        "timeout_seconds": terms.timeout_seconds,
    }


def _handshake_queue(subscription: FhirSubscription, now: datetime) -> None:
    FhirNotification.objects.create(
        subscription=subscription,
        kind=FhirNotificationKind.HANDSHAKE,
        event_number=subscription.events_since_start,
        created_at=now,
        next_attempt_at=now,
    )
    subscription_id = subscription.pk
    transaction.on_commit(lambda: _delivery_enqueue([subscription_id]))


@transaction.atomic
def fhir_subscription_create(
    *,
    client: ApiClient,
    terms: SubscriptionTerms,
    server_base: str,
    now: datetime | None = None,
) -> FhirSubscription:
    """A subscription of ``client`` (``requested``, its handshake queued; ``off`` if asked so).

    ``server_base`` is the FHIR base URL the system called (notifications name resources
    under it). Raises ValidationError naming the wrong element, PermissionDenied for Tasks of
    other organizations; nothing is written then."""
    now = now or timezone.now()
    fields = _fields(terms, client, now)
    if FhirSubscription.objects.filter(client=client).count() >= MAX_PER_CLIENT:
        raise _invalid(
            "Subscription",
            _("A system may keep %(n)s subscriptions; delete one first.") % {"n": MAX_PER_CLIENT},
        )
    subscription = FhirSubscription.objects.create(
        network_id=client.network_id,
        client=client,
        server_base=server_base,
        status=FhirSubscriptionStatus.OFF if terms.off else FhirSubscriptionStatus.REQUESTED,
        **fields,
    )
    if not terms.off:
        _handshake_queue(subscription, now)
    return subscription


class StaleSubscription(Exception):
    """The subscription changed since the caller read it (``current`` is how it is now)."""

    def __init__(self, current: FhirSubscription) -> None:
        super().__init__(f"Subscription {current.pk} is at version {current.version}")
        self.current = current


@transaction.atomic
def fhir_subscription_update(
    *,
    subscription: FhirSubscription,
    terms: SubscriptionTerms,
    version: int | None = None,
    now: datetime | None = None,
) -> FhirSubscription:
    """Change a subscription (``version``: the one the caller read, else any). Switched off,
    its notifications not yet sent are dropped; switched back on, it starts over with a
    handshake. Raises ValidationError, PermissionDenied, or StaleSubscription."""
    now = now or timezone.now()
    current = FhirSubscription.objects.select_for_update().get(pk=subscription.pk)
    if version is not None and version != current.version:
        raise StaleSubscription(current)
    fields = _fields(terms, current.client, now)
    was_off = current.status == FhirSubscriptionStatus.OFF
    for name, value in fields.items():
        setattr(current, name, value)
    if terms.off:
        current.status = FhirSubscriptionStatus.OFF
        current.error = ""
        FhirNotification.objects.filter(subscription=current, delivered_at__isnull=True).delete()
    elif was_off:
        current.status = FhirSubscriptionStatus.REQUESTED
    current.version += 1
    # Not the event count, nor what delivery writes: those change under their own updates.
    current.save(update_fields=[*fields, "status", "error", "version", "updated_at"])
    if was_off and not terms.off:
        _handshake_queue(current, now)
    return current


@transaction.atomic
def fhir_subscription_delete(*, subscription: FhirSubscription) -> None:
    """Delete a subscription and its notifications not yet sent (or sent)."""
    FhirSubscription.objects.filter(pk=subscription.pk).delete()


# --- what a change writes --------------------------------------------------------------------


def subscriptions_notify(*, referral: Referral, at: datetime) -> list[FhirNotification]:
    """Write one event notification per live subscription that matches ``referral`` as it is
    now (its Task was created or changed status at ``at``), in the caller's transaction, and
    queue their delivery for when it commits. Returns the rows written.

    Only subscriptions of the referral's own organizations match: a system whose organization
    is the agency, subscribed with ``owner`` = it, or whose organization is the clinic,
    subscribed with ``requester`` = it. Event numbers count up by one per subscription: the
    subscriptions are locked while they are taken."""
    with transaction.atomic(savepoint=False):
        candidates = list(
            FhirSubscription.objects.select_for_update(of=("self",))
            .filter(
                network_id=referral.network_id,
                status__in=LIVE,
                client__is_active=True,
            )
            .filter(
                Q(owner_id=referral.agency_id, client__organization_id=referral.agency_id)
                | Q(requester_id=referral.sender_id, client__organization_id=referral.sender_id)
            )
            .filter(Q(owner__isnull=True) | Q(owner_id=referral.agency_id))
            .filter(Q(requester__isnull=True) | Q(requester_id=referral.sender_id))
            .filter(Q(end_at__isnull=True) | Q(end_at__gt=at))
            .order_by("pk")
        )
        matching = [
            s
            for s in candidates
            if (not s.statuses or referral.status in s.statuses)
            and (not s.codes or TASK_CODE in s.codes)
        ]
        if not matching:
            return []
        ids = [s.pk for s in matching]
        FhirSubscription.objects.filter(pk__in=ids).update(
            events_since_start=F("events_since_start") + 1
        )
        rows = FhirNotification.objects.bulk_create(
            [
                FhirNotification(
                    subscription=s,
                    kind=FhirNotificationKind.EVENT,
                    event_number=s.events_since_start + 1,
                    focus=referral,
                    created_at=at,
                    next_attempt_at=at,
                )
                for s in matching
            ]
        )
    transaction.on_commit(lambda: _delivery_enqueue(ids))
    return rows


def _delivery_enqueue(subscription_ids: list[int]) -> None:
    """Queue delivery; if the broker is down the rows wait for the sweep (nothing is lost)."""
    # Imported here: ``tasks`` imports the services whose changes end up calling this module.
    from referrals import tasks

    try:
        tasks.fhir_notifications_deliver_task.delay(subscription_ids)
    except Exception:
        logger.warning(
            "could not queue delivery for FHIR subscriptions %s; the sweep will",
            subscription_ids,
        )


# --- what a notification says ----------------------------------------------------------------


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_parameters(
    *,
    subscription: FhirSubscription,
    kind: str,
    status: str | None = None,
    events_since: int | None = None,
    notification: FhirNotification | None = None,
) -> dict[str, Any]:
    """The backport's subscription-status Parameters (R4): the subscription, its topic, status,
    the notification's type and, for an event, its number, time and focus (``id-only``)."""
    base = subscription.server_base
    id_only = subscription.content == FhirPayloadContent.ID_ONLY
    count = subscription.events_since_start if events_since is None else events_since
    parameter: list[dict[str, Any]] = [
        {
            "name": "subscription",
            "valueReference": {"reference": f"{base}Subscription/{subscription.pk}"},
        },
    ]
    if id_only or kind == "query-status":
        parameter.append({"name": "topic", "valueCanonical": subscription.topic})
    parameter += [
        {"name": "status", "valueCode": status or subscription.status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(count)},
    ]
    if notification is not None and notification.kind == FhirNotificationKind.EVENT:
        part: list[dict[str, Any]] = [
            {"name": "event-number", "valueString": str(notification.event_number)},
            {"name": "timestamp", "valueInstant": _instant(notification.created_at)},
        ]
        if id_only and notification.focus_id is not None:
            part.append(
                {
                    "name": "focus",
                    "valueReference": {"reference": f"{base}Task/{notification.focus_id}"},
                }
            )
        parameter.append({"name": "notification-event", "part": part})
    return {
        "resourceType": "Parameters",
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": parameter,
    }


def notification_bundle(
    *, subscription: FhirSubscription, notification: FhirNotification, status: str, now: datetime
) -> dict[str, Any]:
    """The history Bundle POSTed for one notification: the status Parameters only (an
    ``id-only`` focus is in its ``notification-event``)."""
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": _instant(now),
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": status_parameters(
                    subscription=subscription,
                    kind=notification.kind,
                    status=status,
                    events_since=notification.event_number,
                    notification=notification,
                ),
                "request": {
                    "method": "GET",
                    "url": f"{subscription.server_base}Subscription/{subscription.pk}/$status",
                },
                "response": {"status": "200"},
            }
        ],
    }


# --- delivery --------------------------------------------------------------------------------


# An endpoint's answer at most this long is read (and its connection kept for the next one).
SHORT_ANSWER_BYTES = 64 * 1024


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failure a notification is tried again."""
    doublings = min(max(attempts - 1, 0), 20)
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2**doublings, RETRY_MAX_SECONDS))


def _post(session: requests.Session, subscription: FhirSubscription, body: bytes) -> str:
    """POST one Bundle; "" when the endpoint answered 2xx, else why not (no client data)."""
    headers = {"User-Agent": USER_AGENT, "Accept": FHIR_JSON}
    for text in subscription.headers:
        name, _colon, value = text.partition(":")
        headers[name.strip()] = value.strip()
    headers["Content-Type"] = FHIR_JSON
    try:
        with session.post(
            subscription.endpoint,
            data=body,
            headers=headers,
            timeout=subscription.timeout_seconds,
            allow_redirects=False,
            stream=True,  # a long answer is never read
        ) as response:
            # A short answer is read whole, so that the connection goes back to the pool and
            # the next notification to this endpoint does not open (and handshake) another.
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) <= SHORT_ANSWER_BYTES:
                response.content  # noqa: B018 - read for its side effect
            if 200 <= response.status_code < 300:
                return ""
            return f"HTTP {response.status_code}"
    except requests.Timeout:
        return "timed out"
    except requests.ConnectionError:
        return "could not connect"
    except requests.RequestException as exc:
        return type(exc).__name__


def _endpoint_refused(subscription: FhirSubscription) -> str:
    """Why the endpoint may not be called now ("" if it may): checked again at each delivery,
    as a host's address can change after it was accepted."""
    if _local_allowed("FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES"):
        return ""
    parts = urlsplit(subscription.endpoint)
    private = _address_private(parts.hostname or "", parts.port or 443)
    if private is None:
        return "host not found"
    return "private address" if private else ""


def fhir_notifications_deliver(
    *,
    subscription_ids: Iterable[int],
    now: datetime | None = None,
    session: requests.Session | None = None,
) -> int:
    """Send the queued notifications of these subscriptions, each subscription's in order, as
    far as its endpoint takes them: the first failure is recorded (retried after a backoff) and
    stops that subscription's sending until then. How many were delivered."""
    http = session if session is not None else _process_session()
    delivered = 0
    for subscription_id in sorted(set(subscription_ids)):
        delivered += _subscription_deliver(subscription_id, now or timezone.now(), http)
    return delivered


# The process's session, with the id of the process that made it.
_SESSION: tuple[int, requests.Session] | None = None


def _process_session() -> requests.Session:
    """One HTTP session per worker process: its pooled connections to the endpoints (and their
    TLS sessions) serve every delivery the process makes. A process forked from one that had a
    session makes its own: two processes reading answers from one socket would mix them up."""
    global _SESSION
    if _SESSION is None or _SESSION[0] != os.getpid():
        _SESSION = (os.getpid(), requests.Session())
    return _SESSION[1]


def _subscription_deliver(subscription_id: int, now: datetime, session: requests.Session) -> int:
    with transaction.atomic():
        subscription = (
            FhirSubscription.objects.filter(pk=subscription_id, status__in=LIVE)
            .filter(client__is_active=True)
            .first()
        )
        if subscription is None:
            return 0
        # Locked, and skipped when another worker holds them: a row is sent by one worker.
        rows = list(
            FhirNotification.objects.select_for_update(skip_locked=True)
            .filter(subscription_id=subscription_id, delivered_at__isnull=True)
            .order_by("pk")[:BATCH]
        )
        if not rows or rows[0].next_attempt_at > now:
            return 0  # nothing queued, or the oldest waits for its retry: the rest wait behind it
        if FhirNotification.objects.filter(
            subscription_id=subscription_id, delivered_at__isnull=True, pk__lt=rows[0].pk
        ).exists():
            return 0  # another worker is sending the ones before: it sends these after them
        status = subscription.status
        sent: list[FhirNotification] = []
        error = _endpoint_refused(subscription)
        failed = rows[0] if error else None
        for row in [] if error else rows:
            bundle = notification_bundle(
                subscription=subscription, notification=row, status=status, now=now
            )
            error = _post(session, subscription, json.dumps(bundle).encode())
            if error:
                failed = row
                break
            sent.append(row)
            status = FhirSubscriptionStatus.ACTIVE
        if sent:
            FhirNotification.objects.filter(pk__in=[r.pk for r in sent]).update(
                delivered_at=now, attempts=F("attempts") + 1, last_error=""
            )
        if failed is not None:
            failed.attempts += 1
            failed.last_error = error[:200]
            failed.next_attempt_at = now + retry_delay(failed.attempts)
            failed.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            status = FhirSubscriptionStatus.ERROR
            if failed.attempts == LOG_AFTER_ATTEMPTS:
                logger.error(
                    "FHIR subscription %s: notification %s undelivered after %s attempts (%s); "
                    "retrying every %s s",
                    subscription_id,
                    failed.pk,
                    failed.attempts,
                    failed.last_error,
                    RETRY_MAX_SECONDS,
                )
    # The subscription's row is written after the rows' transaction: holding both locks at
    # once, in the other order than a change of the subscription takes them, could deadlock.
    changes: dict[str, Any] = {"error": "" if failed is None else error[:200]}
    if sent:
        changes["last_sent_at"] = now
    if any(r.kind == FhirNotificationKind.HEARTBEAT for r in sent):
        changes["last_heartbeat_at"] = now
    if status != subscription.status:
        changes.update(status=status, version=F("version") + 1, updated_at=now)
    # Not over a switch-off made meanwhile.
    FhirSubscription.objects.filter(pk=subscription_id, status__in=LIVE).update(**changes)
    return len(sent)


def fhir_subscriptions_due(*, now: datetime) -> list[int]:
    """Subscriptions with a notification due: never tried (its task lost or still coming) or
    waiting for a retry whose time has come."""
    return list(
        FhirNotification.objects.filter(
            delivered_at__isnull=True,
            next_attempt_at__lte=now,
            subscription__status__in=LIVE,
            subscription__client__is_active=True,
        )
        .order_by("subscription_id")
        .values_list("subscription_id", flat=True)
        .distinct()[:1000]
    )


def fhir_heartbeats_queue(*, now: datetime) -> list[int]:
    """Queue a heartbeat for each active subscription with a heartbeat period that has had
    nothing sent for that long and has nothing waiting; the subscriptions' ids."""
    waiting = FhirNotification.objects.filter(
        subscription=OuterRef("pk"), delivered_at__isnull=True
    )
    candidates = (
        FhirSubscription.objects.filter(
            status=FhirSubscriptionStatus.ACTIVE,
            heartbeat_seconds__isnull=False,
            client__is_active=True,
        )
        .filter(~Exists(waiting))
        .only("pk", "heartbeat_seconds", "last_sent_at", "created_at", "events_since_start")
    )
    due = [
        s
        for s in candidates
        if s.heartbeat_seconds is not None
        and now - (s.last_sent_at or s.created_at) >= timedelta(seconds=s.heartbeat_seconds)
    ]
    FhirNotification.objects.bulk_create(
        [
            FhirNotification(
                subscription=s,
                kind=FhirNotificationKind.HEARTBEAT,
                event_number=s.events_since_start,
                created_at=now,
                next_attempt_at=now,
            )
            for s in due
        ]
    )
    return [s.pk for s in due]
