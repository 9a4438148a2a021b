"""Consent (SDOHCC-Consent): the client's permission to share, recorded and revoked with the
page's own services (``consent_record``, ``consent_revoke``) and their rules.

How a posted Consent reads (elements the guide leaves open are Handoff's choices):

* ``patient`` → the clinic's client; ``category`` must include ``v3-ActCode#IDSCL``;
* the recipients are ``provision.actor`` with role ``IRCP`` (Organization references of the
  network); the needs covered are ``provision.code`` (SDOH category codes). A sensitive need
  (interpersonal safety, or one the network marks sensitive) is shared only with those named
  recipients, as on the page;
* ``provision.period.end`` is when it ends (else the network's default length);
* ``sourceAttachment``: the signed form (PDF, PNG or JPEG, base64 ``data``), or ``text/plain``
  data holding the words read to the client (a verbal consent, attested);
* ``policyRule`` ``hipaa-auth`` (the default) or ``cfr-part2`` (42 CFR Part 2).

A PUT with ``status: inactive`` revokes it (the reason from the ``Handoff-Reason`` header, else
a fixed one); nothing else of a Consent changes after it is recorded. Only the client's clinic
reads its consents: a consent names every need it covers, sensitive ones with other recipients
too, so an agency learns only what its referral's disclosure allows.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from fhir.resources.R4B.consent import Consent as ConsentModel
from ninja import Body, Router

from cms.categories import SDOHCC_SYSTEM
from consent.models import Consent, ConsentMethod, ConsentPolicy
from consent.services import consent_record, consent_revoke
from network.models import Organization
from referrals.selectors.clients import clients_visible

from .base import (
    ERRORS,
    SDOHCC,
    FhirRequest,
    OutcomeOut,
    Resource,
    coding_codes,
    compact,
    created_response,
    fhir_error,
    fhir_response,
    instant,
    meta,
    organization_of,
    reference,
    reference_id,
    references_resolved,
    required,
    resource_read,
    scope_required,
    searchset,
)
from .search import ids_param, page_of, reference_param, tokens_param

router = Router(tags=["consents"])

CONSENT_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-Consent"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
POLICY_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentpolicycodes"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_POLICIES = {"hipaa-auth": ConsentPolicy.HIPAA, "cfr-part2": ConsentPolicy.PART_2}
_POLICY_CODES = {v: k for k, v in _POLICIES.items()}
_ID = re.compile(r"^\d{1,18}$")
MAX_FORM_BYTES = 10 * 1024 * 1024


def consent_status(consent: Consent) -> str:
    return "active" if consent.is_active() else "inactive"


def consent_shape(consent: Consent) -> dict[str, Any]:
    """A recorded consent as SDOHCC-Consent (no copy of the form: its name and type)."""
    source: dict[str, Any] = {"title": str(ConsentMethod(consent.method).label)}
    if consent.method == ConsentMethod.SIGNED_FORM:
        source = {"title": consent.signed_form_name or "consent-form"}
    actors = [
        {
            "role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
            "reference": reference("Organization", org.pk, org.name),
        }
        for org in consent.recipients.all()
    ]
    return compact(
        {
            "resourceType": "Consent",
            "id": str(consent.pk),
            "meta": meta(
                2 if consent.revoked_at else 1,
                consent.revoked_at or consent.created_at,
                CONSENT_PROFILE,
            ),
            "status": consent_status(consent),
            "scope": {"coding": [{"system": SCOPE_SYSTEM, "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": ACT_CODE, "code": "IDSCL"}]}],
            "patient": reference("Patient", consent.client_id),
            "dateTime": instant(consent.granted_at),
            "organization": [reference("Organization", consent.recorded_for_id)],
            "sourceAttachment": source,
            "policyRule": {
                "coding": [
                    {"system": POLICY_SYSTEM, "code": _POLICY_CODES[ConsentPolicy(consent.policy)]}
                ]
            },
            "provision": {
                "type": "permit",
                "period": {
                    "start": instant(consent.granted_at),
                    "end": instant(consent.expires_at),
                },
                "actor": actors,
                "code": [
                    {"coding": [{"system": SDOHCC_SYSTEM, "code": code}]}
                    for code in consent.categories
                ],
            },
        }
    )


def consents_readable(request: FhirRequest) -> QuerySet[Consent]:
    """Consents of the clinic's own clients; none for anyone else. A consent names every need
    and recipient it covers (a sensitive need shared with another organization too): an agency
    learns what it may through its referral's disclosure, never from the consent itself."""
    clients = clients_visible(user=request.user, organization=organization_of(request))
    return Consent.objects.filter(client__in=clients).prefetch_related("recipients")


def _one(request: FhirRequest, consent_id: str) -> Consent:
    found = (
        consents_readable(request).filter(pk=int(consent_id)).first()
        if _ID.match(consent_id)
        else None
    )
    if found is None:
        raise fhir_error(404, "not_found", _("No such resource here."))
    return found


def _source(wanted: ConsentModel) -> dict[str, Any]:
    """How it was given, from ``sourceAttachment``: a signed form or the words read."""
    attachment = wanted.sourceAttachment
    if attachment is None:
        raise fhir_error(
            400,
            "invalid",
            _("Send the signed form, or the words read to the client, as sourceAttachment."),
            "Consent.sourceAttachment",
        )
    raw = attachment.data
    if raw is None:
        raise fhir_error(
            400, "invalid", _("sourceAttachment.data is required."), "Consent.sourceAttachment.data"
        )
    # The FHIR models decode base64Binary already; text is decoded here.
    try:
        content = raw if isinstance(raw, bytes) else base64.b64decode(str(raw), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise fhir_error(
            400,
            "invalid",
            _("sourceAttachment.data is not base64."),
            "Consent.sourceAttachment.data",
        ) from exc
    if len(content) > MAX_FORM_BYTES:
        raise fhir_error(
            400, "invalid", _("The form is larger than 10 MB."), "Consent.sourceAttachment.data"
        )
    kind = (attachment.contentType or "").split(";")[0].strip()
    if kind == "text/plain":
        try:
            words = content.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise fhir_error(
                400,
                "invalid",
                _("The words read must be UTF-8 text."),
                "Consent.sourceAttachment.data",
            ) from exc
        return {"method": ConsentMethod.VERBAL, "attestation": words}
    if kind in {"application/pdf", "image/png", "image/jpeg"}:
        name = attachment.title or "consent-form"
        return {
            "method": ConsentMethod.SIGNED_FORM,
            "signed_form": SimpleUploadedFile(name, content, content_type=kind),
        }
    raise fhir_error(
        400,
        "invalid",
        _("sourceAttachment.contentType: application/pdf, image/png, image/jpeg or text/plain."),
        "Consent.sourceAttachment.contentType",
    )


@router.post(
    "/Consent",
    response={201: Resource, **ERRORS, 404: OutcomeOut},
    url_name="consent_create",
    operation_id="consent_create",
    summary="Record a patient's consent to share with named organizations",
)
def consent_create(request: FhirRequest, payload: Body[dict[str, Any]]) -> HttpResponse:
    scope_required(request, "Consent", "c")
    consent = consent_create_from(request, payload, {})
    return created_response(request, consent_shape(consent))


def consent_create_from(
    request: FhirRequest, payload: dict[str, Any], created: dict[str, str]
) -> Consent:
    """Check and record a posted Consent (``created``: a transaction's references)."""
    wanted = resource_read(ConsentModel, references_resolved(payload, created), "Consent")
    organization = organization_of(request)
    if wanted.status != "active":
        raise fhir_error(400, "invalid", _("A consent recorded here is active."), "Consent.status")
    if "IDSCL" not in coding_codes(wanted.category, ACT_CODE):
        raise fhir_error(
            400,
            "invalid",
            _("Consent.category must include %(system)s#IDSCL.") % {"system": ACT_CODE},
            "Consent.category",
        )
    scopes = coding_codes(wanted.scope)
    if scopes and "patient-privacy" not in scopes:
        raise fhir_error(400, "invalid", _("Consent.scope is patient-privacy."), "Consent.scope")
    client_id = reference_id(wanted.patient, "Patient", "Consent.patient")
    client = (
        clients_visible(user=request.user, organization=organization).filter(pk=client_id).first()
    )
    if client is None:
        raise fhir_error(404, "not_found", _("No such patient of your clinic."), "Consent.patient")
    provision = required(
        wanted.provision, "Consent.provision", _("Name the recipients and needs in provision.")
    )
    if provision.type not in (None, "permit"):
        raise fhir_error(
            400, "invalid", _("Only permit provisions are recorded."), "Consent.provision.type"
        )
    recipient_ids = []
    for n, actor in enumerate(provision.actor or []):
        roles = coding_codes(actor.role, PARTICIPATION)
        if "IRCP" not in roles:
            raise fhir_error(
                400,
                "invalid",
                _("Each actor is a recipient (role IRCP)."),
                f"Consent.provision.actor[{n}].role",
            )
        recipient_ids.append(
            reference_id(actor.reference, "Organization", f"Consent.provision.actor[{n}].reference")
        )
    required(
        recipient_ids, "Consent.provision.actor", _("Name the organizations that may receive it.")
    )
    recipients = list(
        Organization.objects.filter(
            network=organization.network, pk__in=recipient_ids, is_active=True
        )
    )
    if len(recipients) != len(set(recipient_ids)):
        raise fhir_error(
            400,
            "invalid",
            _("A recipient is not an organization of this network."),
            "Consent.provision.actor",
        )
    categories = sorted(set(coding_codes(provision.code, SDOHCC_SYSTEM)))
    required(categories, "Consent.provision.code", _("Name the needs covered (SDOH categories)."))
    policy = ConsentPolicy.HIPAA
    for code in coding_codes(wanted.policyRule, POLICY_SYSTEM):
        if code not in _POLICIES:
            raise fhir_error(
                400, "invalid", _("policyRule: hipaa-auth or cfr-part2."), "Consent.policyRule"
            )
        policy = _POLICIES[code]
    period = provision.period
    now = timezone.now()
    granted = (period.start if period is not None and period.start else None) or now
    if granted.tzinfo is None:
        granted = granted.replace(tzinfo=UTC)
    if granted > now:
        raise fhir_error(
            400,
            "invalid",
            _("The consent cannot start in the future."),
            "Consent.provision.period.start",
        )
    ends = period.end if period is not None and period.end else None
    if ends is not None and ends.tzinfo is None:
        ends = ends.replace(tzinfo=UTC)
    given = _source(wanted)
    sensitive = organization.network.sensitive_category_codes() & set(categories)
    try:
        with transaction.atomic():
            return consent_record(
                client=client,
                by=request.user,
                organization=organization,
                categories=categories,
                recipients=recipients,
                sensitive_recipients=recipients if sensitive else [],
                policy=policy,
                granted_at=granted,
                expires_at=ends,
                **given,
            )
    except DjangoValidationError as exc:
        named = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        field, messages = next(iter(named.items()))
        element = {
            "categories": "Consent.provision.code",
            "recipients": "Consent.provision.actor",
            "sensitive_recipients": "Consent.provision.actor",
            "attestation": "Consent.sourceAttachment.data",
            "signed_form": "Consent.sourceAttachment",
            "expires_at": "Consent.provision.period.end",
            "policy": "Consent.policyRule",
        }.get(field, "Consent")
        raise fhir_error(400, "invalid", " ".join(messages), element) from exc


@router.get(
    "/Consent/{consent_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="consent_read",
    operation_id="consent_read",
    summary="Read a consent",
)
def consent_read(request: FhirRequest, consent_id: str) -> HttpResponse:
    scope_required(request, "Consent", "r")
    return fhir_response(request, consent_shape(_one(request, consent_id)))


@router.put(
    "/Consent/{consent_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut, 422: OutcomeOut},
    url_name="consent_update",
    operation_id="consent_update",
    summary="Revoke a consent (status inactive)",
)
def consent_update(
    request: FhirRequest, consent_id: str, payload: Body[dict[str, Any]]
) -> HttpResponse:
    """Only a revocation: ``status`` inactive. Disclosure under it stops at once."""
    scope_required(request, "Consent", "u")
    consent = _one(request, consent_id)
    wanted = resource_read(ConsentModel, payload, "Consent")
    if wanted.status != "inactive":
        raise fhir_error(
            422,
            "not_allowed",
            _("A consent changes only by being revoked (status inactive)."),
            "Consent.status",
        )
    reason = request.headers.get("Handoff-Reason", "").strip()[:500] or _(
        "Revoked through the clinic's EHR."
    )
    try:
        consent = consent_revoke(consent=consent, by=request.user, reason=reason)
    except DjangoValidationError as exc:
        raise fhir_error(422, "not_allowed", " ".join(exc.messages), "Consent.status") from exc
    return fhir_response(request, consent_shape(_one(request, str(consent.pk))))


@router.get(
    "/Consent",
    response={200: Resource, **ERRORS},
    url_name="consent_search",
    operation_id="consent_search",
    summary="Search consents",
)
def consent_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "Consent", "s")
    consents = consents_readable(request)
    ids = ids_param(request.GET, "_id")
    if ids:
        consents = consents.filter(pk__in=ids)
    patient = reference_param(request.GET, "patient", "Patient")
    if patient is not None:
        consents = consents.filter(client_id=patient)
    statuses = set(tokens_param(request.GET, "status"))
    if statuses - {"active", "inactive"}:
        raise fhir_error(400, "invalid", _("Consents here are active or inactive."), "status")
    if len(statuses) == 1:
        now = timezone.now()
        active = Q(revoked_at__isnull=True, granted_at__lte=now, expires_at__gt=now)
        consents = consents.filter(active) if "active" in statuses else consents.exclude(active)
    page = page_of(request, consents.order_by("pk"))
    return searchset(
        request, [consent_shape(c) for c in page.rows], page.total, next_url=page.next_url
    )
