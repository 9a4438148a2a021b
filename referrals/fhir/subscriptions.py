"""Subscription (backport-subscription, the R5 topic-based backport on R4, IG 1.1.0) to the
SDOHCC Task topic, and ``Subscription/{id}/$status``.

How a posted Subscription reads:

* ``criteria`` is the topic ``http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task``;
  its ``backport-filter-criteria`` extensions (ANDed) filter by ``owner``, ``requester``,
  ``status`` and ``code``, and one of them must be ``owner=Organization/<own organization>`` or
  ``requester=Organization/<own organization>``: a system hears only of its own referrals
  (another organization's is 403);
* ``channel.type`` ``rest-hook``; ``channel.endpoint`` an https:// URL on a public address
  (settings ``FHIR_SUBSCRIPTION_ALLOW_HTTP`` and ``FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES``
  relax that for tests and the demo); ``channel.header`` "Name: value" headers to send;
* ``channel.payload`` ``application/fhir+json`` with ``backport-payload-content`` ``id-only``
  or ``empty`` (``full-resource`` is refused: a notification never carries a resource);
* ``channel`` extensions ``backport-heartbeat-period`` (60 s to a day) and ``backport-timeout``
  (1 to 60 s, default 10); ``backport-max-count`` is taken (one event a notification);
* ``status`` ``off`` switches it off; anything else asks for it (``requested``, then
  ``active`` once the handshake is delivered, ``error`` while deliveries fail).

A system sees, changes and deletes only its own subscriptions (another's id is 404).
The rules and the delivery are ``referrals.services.subscriptions``'.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext as _
from fhir.resources.R4B.subscription import Subscription as SubscriptionModel
from ninja import Body, Header, Router

from referrals.models import FhirPayloadContent, FhirSubscription, FhirSubscriptionStatus
from referrals.services.subscriptions import (
    FHIR_JSON,
    FILTER_CRITERIA,
    HEARTBEAT_PERIOD,
    MAX_COUNT,
    PAYLOAD_CONTENT,
    SUBSCRIPTION_PROFILE,
    TIMEOUT,
    TIMEOUT_DEFAULT,
    StaleSubscription,
    SubscriptionTerms,
    fhir_subscription_create,
    fhir_subscription_delete,
    fhir_subscription_update,
    status_parameters,
)

from .base import (
    ERRORS,
    FHIR_PATH,
    FhirRequest,
    OutcomeOut,
    Resource,
    compact,
    created_response,
    fhir_error,
    fhir_response,
    instant,
    meta,
    required,
    resource_read,
    scope_required,
    searchset,
)
from .search import ids_param, page_of, tokens_param

router = Router(tags=["subscriptions"])

_ID = re.compile(r"^\d{1,18}$")
_IF_MATCH = re.compile(r'\s*(?:W/)?"(\d{1,9})"\s*')


def subscription_shape(subscription: FhirSubscription) -> dict[str, Any]:
    """A subscription as backport-subscription (its headers too: they are the system's own)."""
    channel_extensions = [{"url": TIMEOUT, "valueUnsignedInt": subscription.timeout_seconds}]
    if subscription.heartbeat_seconds is not None:
        channel_extensions.insert(
            0, {"url": HEARTBEAT_PERIOD, "valueUnsignedInt": subscription.heartbeat_seconds}
        )
    return compact(
        {
            "resourceType": "Subscription",
            "id": str(subscription.pk),
            "meta": meta(subscription.version, subscription.updated_at, SUBSCRIPTION_PROFILE),
            "status": subscription.status,
            "end": instant(subscription.end_at),
            "reason": subscription.reason,
            "criteria": subscription.topic,
            "_criteria": {
                "extension": [
                    {"url": FILTER_CRITERIA, "valueString": text} for text in subscription.filters
                ]
            },
            "error": subscription.error
            if subscription.status == FhirSubscriptionStatus.ERROR
            else None,
            "channel": {
                "extension": channel_extensions,
                "type": "rest-hook",
                "endpoint": subscription.endpoint,
                "payload": FHIR_JSON,
                "_payload": {
                    "extension": [{"url": PAYLOAD_CONTENT, "valueCode": subscription.content}]
                },
                "header": list(subscription.headers),
            },
        }
    )


def subscriptions_own(request: FhirRequest) -> QuerySet[FhirSubscription]:
    """The signed-in system's own subscriptions."""
    return FhirSubscription.objects.filter(
        client=request.smart.client, network_id=request.smart.client.network_id
    )


def _one(request: FhirRequest, subscription_id: str) -> FhirSubscription:
    found = (
        subscriptions_own(request).filter(pk=int(subscription_id)).first()
        if _ID.match(subscription_id)
        else None
    )
    if found is None:
        raise fhir_error(404, "not_found", _("No such resource here."))
    return found


def _extension_value(extensions: Any, url: str, kind: str, element: str) -> Any:
    """The value of the one extension ``url`` among ``extensions`` (None when absent)."""
    found = [e for e in extensions or [] if e.url == url]
    if not found:
        return None
    value = getattr(found[-1], kind, None)
    if value is None:
        raise fhir_error(
            400, "invalid", _("%(url)s takes a %(kind)s.") % {"url": url, "kind": kind}, element
        )
    return value


def _terms(payload: dict[str, Any]) -> tuple[SubscriptionModel, SubscriptionTerms]:
    """A posted Subscription as the service's terms; 400 naming what is not offered here."""
    wanted = resource_read(SubscriptionModel, payload, "Subscription")
    criteria_ext = wanted.criteria__ext.extension if wanted.criteria__ext is not None else []
    filters = []
    for n, extension in enumerate(criteria_ext or []):
        if extension.url != FILTER_CRITERIA:
            continue
        if not extension.valueString:
            raise fhir_error(
                400,
                "invalid",
                _("A filter criterion is a valueString, e.g. Task?owner=Organization/12."),
                f"Subscription.criteria.extension[{n}]",
            )
        filters.append(extension.valueString)
    channel = wanted.channel
    if channel.type != "rest-hook":
        raise fhir_error(
            400,
            "invalid",
            _("This server notifies by rest-hook only."),
            "Subscription.channel.type",
        )
    endpoint = required(channel.endpoint, "Subscription.channel.endpoint")
    if channel.payload != FHIR_JSON:
        raise fhir_error(
            400,
            "invalid",
            _("Notifications are sent as %(type)s.") % {"type": FHIR_JSON},
            "Subscription.channel.payload",
        )
    payload_ext = channel.payload__ext.extension if channel.payload__ext is not None else []
    content = _extension_value(
        payload_ext, PAYLOAD_CONTENT, "valueCode", "Subscription.channel.payload"
    )
    if content not in FhirPayloadContent.values:
        raise fhir_error(
            400,
            "invalid",
            _(
                "Say what a notification carries with the %(url)s extension: id-only or empty "
                "(never full-resource here: read the Task after a notification)."
            )
            % {"url": PAYLOAD_CONTENT},
            "Subscription.channel.payload",
        )
    heartbeat = _extension_value(
        channel.extension, HEARTBEAT_PERIOD, "valueUnsignedInt", "Subscription.channel.extension"
    )
    timeout = _extension_value(
        channel.extension, TIMEOUT, "valueUnsignedInt", "Subscription.channel.extension"
    )
    _extension_value(
        channel.extension, MAX_COUNT, "valuePositiveInt", "Subscription.channel.extension"
    )
    end = wanted.end
    if end is not None and end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return wanted, SubscriptionTerms(
        topic=wanted.criteria,
        filters=filters,
        reason=wanted.reason,
        endpoint=endpoint,
        headers=list(channel.header or []),
        content=content,
        heartbeat_seconds=heartbeat,
        timeout_seconds=TIMEOUT_DEFAULT if timeout is None else timeout,
        end_at=end,
        off=wanted.status == FhirSubscriptionStatus.OFF,
    )


@router.post(
    "/Subscription",
    response={201: Resource, **ERRORS},
    url_name="subscription_create",
    operation_id="subscription_create",
    summary="Subscribe to changes of the Tasks your organization owns or requested",
)
def subscription_create(request: FhirRequest, payload: Body[dict[str, Any]]) -> HttpResponse:
    """Stored ``requested``; a handshake is POSTed to the endpoint, and the subscription turns
    ``active`` when it is delivered (``error`` while it fails: it is retried)."""
    scope_required(request, "Subscription", "c")
    _wanted, terms = _terms(payload)
    subscription = fhir_subscription_create(
        client=request.smart.client,
        terms=terms,
        server_base=request.build_absolute_uri(FHIR_PATH),
    )
    return created_response(request, subscription_shape(subscription))


@router.get(
    "/Subscription/{subscription_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="subscription_read",
    operation_id="subscription_read",
    summary="Read one of your subscriptions",
)
def subscription_read(request: FhirRequest, subscription_id: str) -> HttpResponse:
    scope_required(request, "Subscription", "r")
    return fhir_response(request, subscription_shape(_one(request, subscription_id)))


@router.put(
    "/Subscription/{subscription_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut, 412: OutcomeOut},
    url_name="subscription_update",
    operation_id="subscription_update",
    summary="Change or switch off (status off) one of your subscriptions",
)
def subscription_update(
    request: FhirRequest,
    subscription_id: str,
    payload: Body[dict[str, Any]],
    if_match: str | None = Header(None, alias="If-Match"),
) -> HttpResponse:
    """The whole Subscription again. ``status: off`` stops it (what was not yet sent is
    dropped); back from ``off`` it starts over with a handshake. With ``If-Match`` a stale
    version is 412."""
    scope_required(request, "Subscription", "u")
    subscription = _one(request, subscription_id)
    wanted, terms = _terms(payload)
    if wanted.id is not None and wanted.id != subscription_id:
        raise fhir_error(
            400, "invalid", _("The Subscription's id is not the one in the URL."), "Subscription.id"
        )
    version = None
    if if_match:
        match = _IF_MATCH.fullmatch(if_match)
        if match is None:
            raise fhir_error(412, "version_required", _('If-Match: W/"<versionId>".'), "If-Match")
        version = int(match.group(1))
    try:
        changed = fhir_subscription_update(subscription=subscription, terms=terms, version=version)
    except StaleSubscription as exc:
        raise fhir_error(
            412,
            "stale_version",
            _("The Subscription changed since you read it (it is at version %(version)s).")
            % {"version": exc.current.version},
            "If-Match",
        ) from exc
    return fhir_response(request, subscription_shape(changed))


@router.delete(
    "/Subscription/{subscription_id}",
    response={204: None, **ERRORS, 404: OutcomeOut},
    url_name="subscription_delete",
    operation_id="subscription_delete",
    summary="Delete one of your subscriptions",
)
def subscription_delete(request: FhirRequest, subscription_id: str) -> HttpResponse:
    scope_required(request, "Subscription", "d")
    fhir_subscription_delete(subscription=_one(request, subscription_id))
    return HttpResponse(status=204)


@router.get(
    "/Subscription",
    response={200: Resource, **ERRORS},
    url_name="subscription_search",
    operation_id="subscription_search",
    summary="Search your subscriptions (_id, status, url)",
)
def subscription_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "Subscription", "s")
    subscriptions = subscriptions_own(request)
    ids = ids_param(request.GET, "_id")
    if ids:
        subscriptions = subscriptions.filter(pk__in=ids)
    statuses = set(tokens_param(request.GET, "status"))
    if statuses - set(FhirSubscriptionStatus.values):
        raise fhir_error(
            400, "invalid", _("A subscription is requested, active, error or off."), "status"
        )
    if statuses:
        subscriptions = subscriptions.filter(status__in=statuses)
    urls = [u.strip() for u in request.GET.getlist("url") if u.strip()]
    if urls:
        subscriptions = subscriptions.filter(endpoint__in=urls)
    page = page_of(request, subscriptions.order_by("pk"))
    return searchset(
        request, [subscription_shape(s) for s in page.rows], page.total, next_url=page.next_url
    )


@router.get(
    "/Subscription/{subscription_id}/$status",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="subscription_status",
    operation_id="subscription_status",
    summary="A subscription's status and events so far ($status)",
)
def subscription_status(request: FhirRequest, subscription_id: str) -> dict[str, Any]:
    """A searchset Bundle holding the subscription's status Parameters (``query-status``)."""
    scope_required(request, "Subscription", "r")
    subscription = _one(request, subscription_id)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "link": [{"relation": "self", "url": request.build_absolute_uri()}],
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": status_parameters(subscription=subscription, kind="query-status"),
                "search": {"mode": "match"},
            }
        ],
    }
