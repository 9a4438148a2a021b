"""Patient: the clinic's ``Client``.

The clinic's system creates, reads and searches its own clients (by MRN: ``identifier``), with
the page's duplicate check. An agency's system reads a patient only through a referral it
received, and only the fields that referral's consent and agreement disclose now (logged).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _
from fhir.resources.R4B.patient import Patient as PatientModel
from ninja import Body, Header, Router

from cms.client_address import client_ip
from consent.models import AccessPurpose, ClientField
from referrals.disclosure import disclosure_for
from referrals.errors import PossibleDuplicate
from referrals.models import Client, ContactPreference
from referrals.selectors.clients import clients_visible
from referrals.selectors.referrals import referrals_visible
from referrals.services.clients import client_create

from .base import (
    ERRORS,
    FhirRequest,
    OutcomeOut,
    Resource,
    compact,
    created_response,
    day,
    fhir_error,
    fhir_response,
    meta,
    organization_of,
    reads_log,
    required,
    resource_read,
    scope_required,
    searchset,
)
from .search import ids_param, page_of, tokens_param

router = Router(tags=["patients"])

US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
MRN_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
_ID = re.compile(r"^\d{1,18}$")
# The client fields a Patient of the clinic's own carries (logged as read).
PATIENT_FIELDS = (
    ClientField.NAME,
    ClientField.DATE_OF_BIRTH,
    ClientField.PHONE,
    ClientField.EMAIL,
    ClientField.ADDRESS,
    ClientField.PREFERRED_LANGUAGE,
)


def mrn_system(client: Client) -> str:
    """The identifier system of a clinic's medical record numbers."""
    return f"urn:handoff:mrn:{client.organization_id}"


def patient_shape(client: Client) -> dict[str, Any]:
    """The clinic's own client, whole (the clinic owns this record)."""
    telecom = [
        *([{"system": "phone", "value": client.phone}] if client.phone else []),
        *([{"system": "email", "value": client.email}] if client.email else []),
    ]
    address = (
        [
            {
                "use": "home",
                "line": [client.address_1] if client.address_1 else [],
                "city": client.city,
                "state": client.state,
                "postalCode": client.postal_code,
                "country": "US",
            }
        ]
        if client.address_1 or client.city or client.postal_code
        else []
    )
    return compact(
        {
            "resourceType": "Patient",
            "id": str(client.pk),
            "meta": meta(1, client.updated_at, US_CORE_PATIENT),
            "identifier": (
                [{"type": MRN_TYPE, "system": mrn_system(client), "value": client.external_id}]
                if client.external_id
                else []
            ),
            "active": True,
            "name": [{"family": client.last_name, "given": [client.first_name]}],
            "telecom": telecom,
            # Handoff does not record it; US Core requires the element.
            "gender": "unknown",
            "birthDate": day(client.date_of_birth),
            "address": address,
            "communication": (
                [
                    {
                        "language": {
                            "coding": [
                                {"system": "urn:ietf:bcp:47", "code": client.preferred_language}
                            ]
                        }
                    }
                ]
                if client.preferred_language
                else []
            ),
        }
    )


def disclosed_patient_shape(client_id: int, shown: dict[str, Any]) -> dict[str, Any]:
    """What an agency may know of a client: only the disclosed fields (registry code → value)."""
    name = shown.get(ClientField.NAME) or ""
    contact = shown.get(ClientField.CONTACT_PREFERENCES) or {}
    telecom = [
        *(
            [{"system": "phone", "value": shown[ClientField.PHONE]}]
            if shown.get(ClientField.PHONE)
            else []
        ),
        *(
            [{"system": "email", "value": shown[ClientField.EMAIL]}]
            if shown.get(ClientField.EMAIL)
            else []
        ),
    ]
    language = shown.get(ClientField.PREFERRED_LANGUAGE)
    birth = shown.get(ClientField.DATE_OF_BIRTH)
    return compact(
        {
            "resourceType": "Patient",
            "id": str(client_id),
            "meta": {"profile": [US_CORE_PATIENT]},
            "name": [{"text": name}] if name else [],
            "telecom": [] if contact.get("do_not_contact") else telecom,
            "gender": "unknown",
            "birthDate": birth.isoformat() if birth else None,
            "address": (
                [{"text": shown[ClientField.ADDRESS]}] if shown.get(ClientField.ADDRESS) else []
            ),
            "communication": (
                [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]}}]
                if language
                else []
            ),
        }
    )


def _client_fields(patient: PatientModel) -> dict[str, Any]:
    """The Client's fields from a posted Patient; 400 naming the element that is missing."""
    names = patient.name or []
    official = next((n for n in names if n.use == "official"), names[0] if names else None)
    family = (official.family or "").strip() if official else ""
    given = " ".join(g for g in official.given or [] if g).strip() if official else ""
    required(family, "Patient.name.family")
    required(given, "Patient.name.given")
    birth = required(patient.birthDate, "Patient.birthDate")
    telecom = patient.telecom or []
    phone = next((t.value for t in telecom if t.system == "phone" and t.value), "")
    email = next((t.value for t in telecom if t.system == "email" and t.value), "")
    home = next(iter(patient.address or []), None)
    language = ""
    for communication in patient.communication or []:
        codes = [c.code for c in communication.language.coding or [] if c.code]
        if codes:
            language = codes[0]
            break
    mrns = [i.value for i in patient.identifier or [] if i.value]
    return {
        "first_name": given,
        "last_name": family,
        "date_of_birth": birth,
        "phone": phone or "",
        "email": email or "",
        "address_1": " ".join(line for line in home.line or [] if line) if home else "",
        "city": (home.city or "") if home else "",
        "state": (home.state or "") if home else "",
        "postal_code": (home.postalCode or "") if home else "",
        "preferred_language": language[:8],
        "external_id": mrns[0] if mrns else "",
        "contact_preference": ContactPreference.ANY,
    }


@router.post(
    "/Patient",
    response={201: Resource, 200: Resource, **ERRORS, 409: OutcomeOut},
    url_name="patient_create",
    operation_id="patient_create",
    summary="Add a patient to the clinic's clients (with the duplicate check)",
)
def patient_create(
    request: FhirRequest,
    payload: Body[dict[str, Any]],
    if_none_exist: str | None = Header(None, alias="If-None-Exist"),
) -> HttpResponse:
    """A new client of the system's clinic. ``If-None-Exist: identifier=<MRN>`` answers the
    client with that MRN instead (200) when there is one. A client with a similar name and the
    same date of birth is a 409 listing them, as the page warns; send
    ``Handoff-Confirm-New: true`` to create the client anyway."""
    scope_required(request, "Patient", "c")
    organization = organization_of(request)
    patient = resource_read(PatientModel, payload, "Patient")
    fields = _client_fields(patient)
    mine = clients_visible(user=request.user, organization=organization)
    if if_none_exist:
        wanted = if_none_exist.partition("identifier=")[2].split("|")[-1].strip()
        if not wanted:
            raise fhir_error(
                400,
                "invalid",
                _("Only If-None-Exist: identifier=<MRN> is supported."),
                "If-None-Exist",
            )
        found = mine.filter(external_id=wanted).first()
        if found is not None:
            reads_log(request, fields=PATIENT_FIELDS, seen=[(found.pk, None)])
            return fhir_response(request, patient_shape(found), 200)
    if fields["external_id"] and mine.filter(external_id=fields["external_id"]).exists():
        raise fhir_error(
            409,
            "duplicate_identifier",
            _("A patient of your clinic already has this MRN."),
            "Patient.identifier",
        )
    confirm = request.headers.get("Handoff-Confirm-New", "").lower() == "true"
    try:
        with transaction.atomic():
            client = client_create(
                organization=organization,
                by=request.user,
                confirm_new=confirm,
                **fields,
            )
    except PossibleDuplicate as exc:
        ids = ", ".join(f"Patient/{c.pk}" for c in exc.candidates)
        raise fhir_error(
            409,
            "possible_duplicate",
            _("%(message)s (%(ids)s) Send Handoff-Confirm-New: true to add a new patient anyway.")
            % {"message": str(exc), "ids": ids},
            "Patient.name",
        ) from exc
    except DjangoValidationError as exc:
        field, messages = (
            next(iter(exc.message_dict.items()))
            if hasattr(exc, "error_dict")
            else ("", exc.messages)
        )
        element = {
            "first_name": "Patient.name.given",
            "last_name": "Patient.name.family",
            "date_of_birth": "Patient.birthDate",
            "email": "Patient.telecom",
            "phone": "Patient.telecom",
            "external_id": "Patient.identifier",
            "preferred_language": "Patient.communication",
        }.get(field, "Patient.address" if field else "Patient")
        raise fhir_error(400, "invalid", " ".join(messages), element) from exc
    except IntegrityError as exc:
        raise fhir_error(
            409,
            "duplicate_identifier",
            _("A patient of your clinic already has this MRN."),
            "Patient.identifier",
        ) from exc
    return created_response(request, patient_shape(client))


@router.get(
    "/Patient/{patient_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="patient_read",
    operation_id="patient_read",
    summary="Read a patient (an agency: what its referrals disclose)",
)
def patient_read(request: FhirRequest, patient_id: str) -> HttpResponse:
    scope_required(request, "Patient", "r")
    organization = organization_of(request)
    if not _ID.match(patient_id):
        raise fhir_error(404, "not_found", _("No such resource here."))
    pk = int(patient_id)
    own = clients_visible(user=request.user, organization=organization).filter(pk=pk).first()
    if own is not None:
        reads_log(request, fields=PATIENT_FIELDS, seen=[(own.pk, None)])
        return fhir_response(request, patient_shape(own))
    # An agency: the newest referral of this client it received, disclosed and logged.
    referral = (
        referrals_visible(user=request.user, organization=organization)
        .filter(client_id=pk, agency=organization)
        .select_related("client", "sender", "agency", "consent__network", "agreement")
        .order_by("-created_at", "-pk")
        .first()
    )
    if referral is None:
        raise fhir_error(404, "not_found", _("No such resource here."))
    disclosure = disclosure_for(
        referral,
        organization,
        user=request.user,
        purpose=AccessPurpose.FHIR,
        ip_address=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return fhir_response(request, disclosed_patient_shape(pk, disclosure.client))


@router.get(
    "/Patient",
    response={200: Resource, **ERRORS},
    url_name="patient_search",
    operation_id="patient_search",
    summary="Find the clinic's patients by MRN or id",
)
def patient_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "Patient", "s")
    organization = organization_of(request)
    clients = clients_visible(user=request.user, organization=organization)
    ids = ids_param(request.GET, "_id")
    if ids:
        clients = clients.filter(pk__in=ids)
    identifiers = [v.split("|")[-1] for v in tokens_param(request.GET, "identifier")]
    if identifiers:
        clients = clients.filter(external_id__in=identifiers)
    page = page_of(request, clients.order_by("pk"))
    reads_log(request, fields=PATIENT_FIELDS, seen=[(c.pk, None) for c in page.rows])
    return searchset(
        request, [patient_shape(c) for c in page.rows], page.total, next_url=page.next_url
    )
