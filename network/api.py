"""A JSON API over the referral loop for the acting organization (session authentication,
CSRF-protected like every form): list, send, read one, change status.

Every response about a received referral carries only what ``disclosure_for`` allows.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consent.disclosure import disclosure_for

from . import selectors, services
from .middleware import TenantRequest
from .models import Referral
from .views import member_required
from .views.referrals import acting_organization, client_ip, visible_referral

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
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"The request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.")
    return body


def _validation(exc: ValidationError) -> JsonResponse:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return JsonResponse({"error": "invalid", "errors": errors}, status=400)


@require_http_methods(["GET", "POST"])
@member_required
def referrals(request: TenantRequest) -> HttpResponse:
    if request.method == "POST":
        return _send(request)
    organization = acting_organization(request)
    qs = selectors.referrals_visible(user=request.user, organization=organization)
    status = request.GET.get("status")
    if status:
        qs = qs.filter(status=status)
    rows = list(qs.select_related("sender", "agency").order_by("-created_at", "-pk")[:LIST_LIMIT])
    return JsonResponse({"results": [summary(r) for r in rows]})


def _send(request: TenantRequest) -> HttpResponse:
    from directory.models import Location, ServicePage

    organization = acting_organization(request)
    key = request.headers.get("Idempotency-Key", "")
    try:
        body = _body(request)
        client_id = body.get("client")
        client = (
            selectors.clients_visible(user=request.user, organization=organization)
            .filter(pk=client_id)
            .first()
            if isinstance(client_id, int)
            else None
        )
        if client is None:
            raise ValidationError({"client": ["No such client of your clinic."]})
        targets = []
        for target in body.get("targets") or []:
            if not isinstance(target, dict):
                raise ValidationError({"targets": ["Each target is an object."]})
            service = ServicePage.objects.live().filter(pk=target.get("service")).first()
            if service is None:
                raise ValidationError({"targets": [f"No such service: {target.get('service')}."]})
            location = None
            if target.get("location") is not None:
                location = Location.objects.filter(pk=target["location"]).first()
                if location is None:
                    raise ValidationError({"targets": ["No such location."]})
            targets.append(services.Target(service=service, location=location))
        sent = services.referrals_send(
            client=client,
            by=request.user,
            sender=organization,
            targets=targets,
            categories=list(body.get("categories") or []),
            idempotency_key=key,
            urgency=str(body.get("urgency") or "routine"),
            note=str(body.get("note") or ""),
        )
    except ValidationError as exc:
        return _validation(exc)
    except services.ReferralError as exc:
        return _error(
            403 if not isinstance(exc, services.IdempotencyConflict) else 409, exc.code, str(exc)
        )
    except PermissionDenied as exc:
        return _error(403, "forbidden", str(exc) or "Not allowed.")
    return JsonResponse({"results": [summary(r) for r in sent]}, status=201)


@require_GET
@member_required
def referral(request: TenantRequest, pk: int) -> HttpResponse:
    found = visible_referral(request, pk)
    organization = acting_organization(request)
    if organization.pk == found.agency_id:
        services.referral_viewed(referral=found, by=request.user, organization=organization)
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
        if not isinstance(version, int):
            raise ValidationError({"version": ["The version you read, as an integer."]})
        changed = services.referral_transition(
            referral=found,
            to=str(body.get("to") or ""),
            by=request.user,
            organization=acting_organization(request),
            version=version,
            reason=str(body.get("reason") or ""),
            outcome=str(body.get("outcome") or ""),
            outcome_note=str(body.get("outcome_note") or ""),
        )
    except ValidationError as exc:
        return _validation(exc)
    except services.StaleVersion as exc:
        return _error(409, exc.code, str(exc), referral=summary(exc.current))
    except services.ReferralError as exc:
        return _error(400, exc.code, str(exc))
    except PermissionDenied as exc:
        return _error(403, "forbidden", str(exc) or "Not allowed.")
    return JsonResponse(summary(changed))
