"""``POST [base]`` with a transaction Bundle: an EHR sends a screening, a consent and a referral
(ServiceRequest + Task) in one request, all or nothing.

Entries are POSTs of the resources this server creates; an entry may reference one made before
it by its ``fullUrl`` (``urn:uuid:…``). They are made in the order Patient,
QuestionnaireResponse, Consent, ServiceRequest, Task (so references resolve whatever the
order sent), inside one database transaction: any refusal rolls everything back and answers the
refusal, its elements named ``Bundle.entry[n]…``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Body, Router

from cms.api import ApiError

from .base import (
    ERRORS,
    FhirRequest,
    OutcomeOut,
    Resource,
    fhir_error,
    fhir_response,
    scope_required,
)
from .consents import consent_create_from, consent_shape
from .orders import (
    record_shape,
    service_request_create_from,
    task_create_from,
    task_shape,
)
from .screenings import questionnaire_response_create_from, questionnaire_response_shape

router = Router(tags=["transactions"])

MAX_ENTRIES = 50
Maker = Callable[[FhirRequest, dict[str, Any], dict[str, str]], dict[str, Any]]


def _screening(request: FhirRequest, body: dict[str, Any], made: dict[str, str]) -> dict[str, Any]:
    return questionnaire_response_shape(questionnaire_response_create_from(request, body, made))


def _consent(request: FhirRequest, body: dict[str, Any], made: dict[str, str]) -> dict[str, Any]:
    return consent_shape(consent_create_from(request, body, made))


def _service_request(
    request: FhirRequest, body: dict[str, Any], made: dict[str, str]
) -> dict[str, Any]:
    return record_shape(service_request_create_from(request, body, made))


def _task(request: FhirRequest, body: dict[str, Any], made: dict[str, str]) -> dict[str, Any]:
    _created, referral = task_create_from(request, body, made)
    return task_shape(referral)


# What a transaction may create, in the order it is made.
MAKERS: dict[str, Maker] = {
    "QuestionnaireResponse": _screening,
    "Consent": _consent,
    "ServiceRequest": _service_request,
    "Task": _task,
}


def _entries(payload: dict[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    if payload.get("resourceType") != "Bundle" or payload.get("type") != "transaction":
        raise fhir_error(400, "invalid", _("Send a Bundle of type transaction."), "Bundle.type")
    entries = payload.get("entry")
    if not isinstance(entries, list) or not entries:
        raise fhir_error(400, "invalid", _("The transaction has no entry."), "Bundle.entry")
    if len(entries) > MAX_ENTRIES:
        raise fhir_error(
            400, "invalid", _("At most %(n)s entries.") % {"n": MAX_ENTRIES}, "Bundle.entry"
        )
    read = []
    for n, entry in enumerate(entries):
        where = f"Bundle.entry[{n}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(request, dict):
            raise fhir_error(400, "invalid", _("Each entry has a resource and a request."), where)
        kind = resource.get("resourceType")
        if request.get("method") != "POST" or request.get("url") != kind:
            raise fhir_error(
                400,
                "invalid",
                _("Only creates: request.method POST and request.url the resource type."),
                f"{where}.request",
            )
        if kind not in MAKERS:
            raise fhir_error(
                400,
                "not-supported",
                _("A transaction here creates %(types)s.") % {"types": ", ".join(MAKERS)},
                f"{where}.resource.resourceType",
            )
        full_url = entry.get("fullUrl") or ""
        if not isinstance(full_url, str):
            raise fhir_error(400, "invalid", _("fullUrl is a string."), f"{where}.fullUrl")
        read.append((n, full_url, resource))
    order = list(MAKERS)
    return sorted(read, key=lambda e: (order.index(e[2]["resourceType"]), e[0]))


@router.post(
    "/",
    response={200: Resource, **ERRORS, 404: OutcomeOut, 409: OutcomeOut, 422: OutcomeOut},
    url_name="transaction",
    operation_id="transaction",
    summary="A transaction: screening, consent, ServiceRequest and Task at once",
)
def transaction_post(request: FhirRequest, payload: Body[dict[str, Any]]) -> HttpResponse:
    entries = _entries(payload)
    for _n, _url, resource in entries:
        scope_required(request, resource["resourceType"], "c")
    made: dict[str, str] = {}
    answers: dict[int, dict[str, Any]] = {}
    with transaction.atomic():
        for n, full_url, resource in entries:
            try:
                shape = MAKERS[resource["resourceType"]](request, resource, made)
            except ApiError as exc:
                exc.details = [
                    {**d, "field": f"Bundle.entry[{n}].resource.{d['field'].partition('.')[2]}"}
                    for d in exc.details or [{"field": "", "message": exc.message}]
                ]
                raise
            location = f"{shape['resourceType']}/{shape['id']}"
            if full_url:
                made[full_url] = location
            answers[n] = {
                "fullUrl": request.build_absolute_uri(f"{request.path}{location}"),
                "resource": shape,
                "response": {
                    "status": "201 Created",
                    "location": f"{location}/_history/{shape['meta']['versionId']}",
                },
            }
    body = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [answers[n] for n in sorted(answers)],
    }
    return fhir_response(request, body)
