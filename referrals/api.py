"""A JSON API over the referral loop for the acting organization (session authentication,
CSRF-protected like every form): list, send, read one, change status.

Every response about a received referral carries only what ``disclosure_for`` allows.

A decline (``"to": "rejected"``) or a failure (``"failed"``) carries ``reason_code``, one of
``ReasonCode`` (``not-eligible``, ``no-capacity``, ``client-unreachable``, ``client-declined``,
``duplicate``, ``other``); ``reason`` (free text) is then optional, except with ``other``. An
unknown code, a code on any other change, or an empty one answers 400 (``bad_reason_code``,
``reason_code_required``). A client written before coded reasons, which sends ``reason`` without
``reason_code``, keeps working: its decline or failure is coded ``other``. Every referral's
summary carries ``reason_code`` ("" unless declined or failed).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consent.models import ConsentMethod
from directory.models import Location, ServicePage
from network.decorators import member_required
from network.middleware import TenantRequest
from referrals.disclosure import disclosure_for
from referrals.errors import IdempotencyConflict, ReferralError, StaleVersion
from referrals.models import Referral, ReferralStatus
from referrals.selectors.clients import clients_visible
from referrals.selectors.referrals import referrals_visible
from referrals.services import transitions
from referrals.services.sending import ConsentGiven, Target, referrals_send_with_consent
from referrals.views.referral import acting_organization, client_ip, visible_referral

LIST_LIMIT = 100


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def _error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, **extra}, status=status)


def summary(referral: Referral) -> dict[str, Any]:
    """What either side may know of a referral without client data: no free text either (the
    reason and outcome note may name the client; the detail carries them as disclosed)."""
    return _json(
        {
            "id": referral.pk,
            "status": referral.status,
            "outcome": referral.outcome,
            "reason_code": referral.reason_code,
            "version": referral.version,
            "service": {"id": referral.service_id, "name": referral.service_name},
            "location_id": referral.location_id,
            "sender": {"id": referral.sender_id, "name": referral.sender.name},
            "agency": {"id": referral.agency_id, "name": referral.agency.name},
            "categories": referral.categories,
            "urgency": referral.urgency,
            "created_at": referral.created_at,
            "updated_at": referral.updated_at,
            "response_due_at": referral.response_due_at,
            "outcome_due_at": referral.outcome_due_at,
            "closed_at": referral.closed_at,
        }
    )


def _body(request: TenantRequest) -> dict[str, Any]:
    # A form post's body was already read as form fields; the API speaks JSON only.
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise ValidationError("Send a JSON object with Content-Type: application/json.")
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"The request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.")
    return body


# The largest id a database key holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def _id(value: Any, field: str, *, what: str) -> int | None:
    """``value`` as an object id (None when absent); ValidationError on ``field`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationError({field: [f"The {what} is given by its id, a positive integer."]})
    return value


def _text(body: dict[str, Any], field: str) -> str:
    """A string member of the body ("" when absent or null); ValidationError otherwise."""
    value = body.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: ["A string."]})
    if "\x00" in value:
        raise ValidationError({field: ["It cannot contain null characters."]})
    return value


def _codes(body: dict[str, Any], field: str) -> list[str]:
    """A list of strings (empty when absent or null); ValidationError otherwise."""
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({field: ["A list of codes (strings)."]})
    if any("\x00" in v for v in value):
        raise ValidationError({field: ["The codes cannot contain null characters."]})
    return value


def _consent_given(body: dict[str, Any]) -> ConsentGiven | None:
    """The client's consent given with the send (``consent``: an object), or None: verbal
    (``attestation``: what the client was told and agreed to, in the staff member's words) or a
    typed electronic ``signature``; to the agencies sent to, or ``whole_network``. A signed
    form is uploaded on the send page."""
    value = body.get("consent")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(
            {"consent": ["An object: method, and attestation or signature, and whole_network."]}
        )
    method = _text(value, "method")
    if method not in (ConsentMethod.VERBAL, ConsentMethod.ELECTRONIC):
        raise ValidationError(
            {
                "consent": [
                    "The method is verbal or electronic; a signed form is uploaded on the send "
                    "page."
                ]
            }
        )
    whole_network = value.get("whole_network", False)
    if not isinstance(whole_network, bool):
        raise ValidationError({"consent": ["whole_network is true or false."]})
    return ConsentGiven(
        method=method,
        whole_network=whole_network,
        attestation=_text(value, "attestation"),
        signature=_text(value, "signature"),
    )


def _validation(exc: ValidationError) -> JsonResponse:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return JsonResponse({"error": "invalid", "errors": errors}, status=400)


@require_http_methods(["GET", "POST"])
@member_required
def referrals(request: TenantRequest) -> HttpResponse:
    if request.method == "POST":
        return _send(request)
    organization = acting_organization(request)
    qs = referrals_visible(user=request.user, organization=organization)
    status = request.GET.get("status")
    if status:
        if status not in ReferralStatus.values:
            return _error(
                400,
                "invalid",
                f"Unknown status; one of: {', '.join(ReferralStatus.values)}.",
                errors={"status": ["Unknown status."]},
            )
        qs = qs.filter(status=status)
    rows = list(qs.select_related("sender", "agency").order_by("-created_at", "-pk")[:LIST_LIMIT])
    return JsonResponse({"results": [summary(r) for r in rows]})


def _send(request: TenantRequest) -> HttpResponse:
    organization = acting_organization(request)
    key = request.headers.get("Idempotency-Key", "")
    try:
        body = _body(request)
        if "\x00" in key:
            raise ValidationError({"idempotency_key": ["It cannot contain null characters."]})
        client_id = _id(body.get("client"), "client", what="client")
        client = (
            clients_visible(user=request.user, organization=organization)
            .filter(pk=client_id)
            .first()
            if client_id is not None
            else None
        )
        if client is None:
            raise ValidationError({"client": ["No such client of your clinic."]})
        given = body.get("targets")
        if given is not None and not isinstance(given, list):
            raise ValidationError({"targets": ["A list of targets."]})
        targets = []
        for target in given or []:
            if not isinstance(target, dict):
                raise ValidationError({"targets": ["Each target is an object."]})
            service_id = _id(target.get("service"), "targets", what="service")
            service = ServicePage.objects.live().filter(pk=service_id).first()
            if service is None:
                raise ValidationError({"targets": [f"No such service: {service_id}."]})
            location = None
            location_id = _id(target.get("location"), "targets", what="location")
            if location_id is not None:
                location = Location.objects.filter(pk=location_id).first()
                if location is None:
                    raise ValidationError({"targets": ["No such location."]})
            targets.append(Target(service=service, location=location))
        sent = referrals_send_with_consent(
            client=client,
            by=request.user,
            sender=organization,
            targets=targets,
            categories=_codes(body, "categories"),
            idempotency_key=key,
            consent=_consent_given(body),
            urgency=_text(body, "urgency") or "routine",
            note=_text(body, "note"),
        )
    except ValidationError as exc:
        return _validation(exc)
    except ReferralError as exc:
        return _error(403 if not isinstance(exc, IdempotencyConflict) else 409, exc.code, str(exc))
    except PermissionDenied as exc:
        return _error(403, "forbidden", str(exc) or "Not allowed.")
    return JsonResponse({"results": [summary(r) for r in sent]}, status=201)


@require_GET
@member_required
def referral(request: TenantRequest, pk: int) -> HttpResponse:
    found = visible_referral(request, pk)
    organization = acting_organization(request)
    if organization.pk == found.agency_id:
        transitions.referral_viewed(referral=found, by=request.user, organization=organization)
    # The client's fields and every free text come from the disclosure, never from the referral.
    disclosure = disclosure_for(
        found,
        organization,
        user=request.user,
        purpose="api",
        ip_address=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    events = [
        {
            "kind": entry.event.kind,
            "at": entry.event.at,
            "organization": entry.event.organization.name if entry.event.organization else None,
            "from_status": entry.event.from_status,
            "to_status": entry.event.to_status,
            "text": entry.text,
            "text_withheld": entry.withheld,
        }
        for entry in disclosure.timeline
    ]
    return JsonResponse(
        {
            **summary(found),
            "status_reason": disclosure.status_reason,
            "outcome_note": disclosure.outcome_note,
            "text_withheld": disclosure.text_withheld,
            "client": _json(disclosure.client),
            "disclosed_fields": sorted(disclosure.fields),
            "withdrawn": disclosure.withdrawn,
            "no_redisclosure": disclosure.no_redisclosure,
            "timeline": _json(events),
        }
    )


@require_POST
@member_required
def referral_transition(request: TenantRequest, pk: int) -> HttpResponse:
    try:
        found = visible_referral(request, pk)
    except Http404:
        return _error(404, "not_found", "No such referral.")
    try:
        body = _body(request)
        version = body.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or abs(version) > MAX_ID:
            raise ValidationError({"version": ["The version you read, as an integer."]})
        changed = transitions.referral_transition(
            referral=found,
            to=_text(body, "to"),
            by=request.user,
            organization=acting_organization(request),
            version=version,
            reason=_text(body, "reason"),
            outcome=_text(body, "outcome"),
            outcome_note=_text(body, "outcome_note"),
            # Absent (an older client's free-text-only decline or failure): coded "other".
            reason_code=_text(body, "reason_code") if body.get("reason_code") is not None else None,
        )
    except ValidationError as exc:
        return _validation(exc)
    except StaleVersion as exc:
        return _error(409, exc.code, str(exc), referral=summary(exc.current))
    except ReferralError as exc:
        return _error(400, exc.code, str(exc))
    except PermissionDenied as exc:
        return _error(403, "forbidden", str(exc) or "Not allowed.")
    return JsonResponse(summary(changed))
