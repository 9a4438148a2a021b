"""The referral API's operations: thin, they read, authorize and call the same selectors and
services as the workspace pages (no rule is written twice).

Errors (``cms.api``): 400 ``invalid`` (details name the fields) or a refusal of the lifecycle
(``outcome_required``, ``bad_reason_code``…); 401 not signed in; 403 not allowed (the wrong
role, ``consent_required``, ``agreement_missing``); 404 a referral the acting organization
neither sent nor received; 409 ``stale_version`` (with the referral as it is now) or
``idempotency_conflict``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Header, Path, Query, Router, Status

from cms.api import ApiError, ErrorOut, Page, page_envelope, page_params
from cms.client_address import client_ip
from network.middleware import TenantRequest
from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.disclosure import disclosure_for
from referrals.errors import IdempotencyConflict, ReferralError, StaleVersion
from referrals.models import Referral
from referrals.selectors.clients import clients_visible
from referrals.selectors.referrals import referrals_listed
from referrals.selectors.sending import send_choices
from referrals.services import transitions
from referrals.services.sending import ConsentGiven, Target, referrals_send_with_consent
from referrals.views.referral import visible_referral

from .auth import acting_organization
from .schemas import (
    MAX_ID,
    ReferralDetail,
    ReferralFilters,
    ReferralSummary,
    SendIn,
    SentOut,
    StaleOut,
    TransitionIn,
)

router = Router(tags=["referrals"])

# The errors every operation can answer.
ANY_ERROR: dict[int, type[ErrorOut]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}
ReferralId = Path(..., ge=1, le=MAX_ID, description="The referral's id.")


def summary(referral: Referral, organization: Organization) -> dict[str, Any]:
    """What either side may know of a referral without client data (``ReferralSummary``)."""
    return {
        "id": referral.pk,
        "direction": "sent" if referral.sender_id == organization.pk else "received",
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


@router.get(
    "/referrals/",
    response={200: Page[ReferralSummary], **ANY_ERROR},
    url_name="referrals",
    operation_id="referral_list",
    summary="List referrals",
)
def referral_list(request: TenantRequest, filters: Query[ReferralFilters]) -> dict[str, Any]:
    """The referrals the acting organization sent (for its clinic staff) or received (for its
    agency staff), newest first, one page at a time. No client data: read one for that."""
    organization = acting_organization(request)
    paging = page_params(filters.page, filters.per_page)
    referrals = referrals_listed(
        user=request.user,
        organization=organization,
        now=timezone.now(),
        direction=filters.direction,
        statuses=filters.status or (),
        category=filters.category or "",
        overdue=filters.overdue,
        updated_after=filters.updated_after,
        sent_from=filters.sent_from,
        sent_to=filters.sent_to,
        order=filters.sort,
    )
    total = referrals.count()
    rows = list(referrals[paging.offset : paging.offset + paging.per_page]) if total else []
    return page_envelope(total, paging, [summary(r, organization) for r in rows])


@router.post(
    "/referrals/",
    response={201: SentOut, **ANY_ERROR, 409: ErrorOut},
    url_name="referrals_send",
    operation_id="referral_send",
    summary="Send referrals, with the client's consent",
)
def referral_send(
    request: TenantRequest,
    payload: SendIn,
    idempotency_key: str = Header(
        ...,
        alias="Idempotency-Key",
        min_length=1,
        max_length=80,
        description="Yours, one per send: the same key again returns the same referrals; "
        "with other content, 409.",
    ),
) -> Status[dict[str, Any]]:
    """Send one client's need to one or more services (one referral each), all or none, as the
    send page does: with the client's consent given now (recorded in the same transaction) or
    one already on file. Refused (403) without consent or a data-sharing agreement."""
    clinic = acting_organization(request)
    if not clinic.sends_referrals or not user_has_org_perm(
        request.user, OrgPerm.SEND_REFERRALS, clinic, checker=request.permission_checker
    ):
        raise PermissionDenied(_("Only a clinic's staff may send referrals."))
    problems: list[dict[str, str]] = []
    if "\x00" in idempotency_key or not idempotency_key.strip():
        message = _("An idempotency key of 1 to 80 characters.")
        problems.append({"field": "Idempotency-Key", "message": message})
    found = (
        clients_visible(user=request.user, organization=clinic).filter(pk=payload.client).first()
    )
    if found is None:
        problems.append({"field": "client", "message": _("No such client of your clinic.")})
    choices = {
        choice.service.pk: choice
        for choice in send_choices(
            user=request.user,
            organization=clinic,
            service_ids=[t.service for t in payload.targets],
        )
    }
    targets = []
    for n, target in enumerate(payload.targets):
        choice = choices.get(target.service)
        if choice is None:
            problems.append(
                {
                    "field": f"targets.{n}.service",
                    "message": _("No such published service in your network's directory."),
                }
            )
            continue
        location = next((loc for loc in choice.locations if loc.pk == target.location), None)
        if target.location is not None and location is None:
            problems.append(
                {
                    "field": f"targets.{n}.location",
                    "message": _("The service is not offered at this location."),
                }
            )
        targets.append(Target(service=choice.service, location=location))
    if problems or found is None:
        raise ApiError(400, "invalid", problems[0]["message"], problems)
    given = None
    if payload.consent is not None:
        given = ConsentGiven(
            method=payload.consent.method,
            whole_network=payload.consent.whole_network,
            attestation=payload.consent.attestation,
            signature=payload.consent.signature,
        )
    try:
        sent = referrals_send_with_consent(
            client=found,
            by=request.user,
            sender=clinic,
            targets=targets,
            categories=payload.categories,
            idempotency_key=idempotency_key,
            consent=given,
            urgency=payload.urgency,
            note=payload.note,
        )
    except IdempotencyConflict as exc:
        raise ApiError(409, exc.code, str(exc)) from exc
    except ReferralError as exc:  # no consent, no agreement: not allowed
        raise ApiError(403, exc.code, str(exc)) from exc
    return Status(201, {"referrals": [summary(r, clinic) for r in sent]})


@router.get(
    "/referrals/{referral_id}/",
    response={200: ReferralDetail, **ANY_ERROR, 404: ErrorOut},
    url_name="referral",
    operation_id="referral_read",
    summary="Read one referral",
)
def referral_read(request: TenantRequest, referral_id: int = ReferralId) -> dict[str, Any]:
    """The referral with its timeline and the client's data its consent and agreement disclose
    to the acting organization now (logged as read). The agency's first read marks it seen."""
    found = visible_referral(request, referral_id)
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
    return {
        **summary(found, organization),
        "status_reason": disclosure.status_reason,
        "outcome_note": disclosure.outcome_note,
        "text_withheld": disclosure.text_withheld,
        "client": disclosure.client,
        "disclosed_fields": sorted(disclosure.fields),
        "withdrawn": disclosure.withdrawn,
        "no_redisclosure": disclosure.no_redisclosure,
        "timeline": [
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
        ],
    }


@router.post(
    "/referrals/{referral_id}/transition/",
    response={200: ReferralSummary, **ANY_ERROR, 404: ErrorOut, 409: StaleOut},
    url_name="referral_transition",
    operation_id="referral_transition",
    summary="Change a referral's status",
)
def referral_transition(
    request: TenantRequest, payload: TransitionIn, referral_id: int = ReferralId
) -> Status[dict[str, Any]]:
    """One change of the lifecycle table, by the side allowed to make it: 400 with the
    lifecycle's code when the table, the side, a missing reason or outcome refuse it; 409 with
    the referral as it is now when ``version`` is not the one you read."""
    found = visible_referral(request, referral_id)
    organization = acting_organization(request)
    try:
        changed = transitions.referral_transition(
            referral=found,
            to=payload.to,
            by=request.user,
            organization=organization,
            version=payload.version,
            reason=payload.reason,
            outcome=payload.outcome,
            outcome_note=payload.outcome_note,
            # Absent (an older client's free-text-only decline or failure): coded "other".
            reason_code=payload.reason_code,
        )
    except StaleVersion as exc:
        current = Referral.objects.select_related("sender", "agency").get(pk=exc.current.pk)
        return Status(
            409,
            {"error": exc.code, "message": str(exc), "referral": summary(current, organization)},
        )
    except ReferralError as exc:
        raise ApiError(400, exc.code, str(exc)) from exc
    return Status(200, summary(changed, organization))
