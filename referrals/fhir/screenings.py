"""The AHC HRSN screening (LOINC 96777-8) as FHIR: a QuestionnaireResponse posted by the EHR is
scored by ``screening_record`` (the page's own scoring) into a ``Screening``; its answers read
back as Observations (SDOHCC-ObservationScreeningResponse, ``interpretation`` POS when the
answer's domain screened positive) and each positive need as a Condition (a health concern,
unconfirmed until staff and patient agree).

Ids: ``QuestionnaireResponse/<screening>``, ``Observation/<screening>-<question LOINC>``,
``Condition/<screening>-<SDOH category>``. Only the client's clinic reads them (logged): an
agency learns the screening's positive needs only through a referral's disclosure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse as QuestionnaireResponseModel,
)
from ninja import Body, Router

from cms.api import ApiError
from cms.categories import SDOH_CATEGORIES, SDOHCC_SYSTEM
from consent.models import ClientField
from referrals.models import Screening
from referrals.screening import QUESTIONS, InvalidScreening, score_ahc_hrsn
from referrals.selectors.clients import clients_visible
from referrals.services.clients import screening_record

from .base import (
    ERRORS,
    SDOHCC,
    FhirRequest,
    OutcomeOut,
    Resource,
    compact,
    created_response,
    fhir_error,
    fhir_response,
    instant,
    meta,
    organization_of,
    reads_log,
    reference,
    reference_id,
    references_resolved,
    resource_read,
    scope_required,
    searchset,
)
from .search import ids_param, page_of, reference_param, tokens_param

router = Router(tags=["screenings"])

AHC_HRSN = "96777-8"
LOINC = "http://loinc.org"
QUESTIONNAIRE = f"{LOINC}/q/{AHC_HRSN}"
OBSERVATION_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-ObservationScreeningResponse"
CONDITION_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-Condition"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_LOINC_CODE = re.compile(r"(\d{1,7}-\d)$")
_SCREENING = re.compile(r"^(\d{1,18})$")
_PART = re.compile(r"^(\d{1,18})-([a-z0-9\-]{1,60})$")
_CATEGORY_DISPLAY = dict(SDOH_CATEGORIES)
_DOMAIN_CATEGORIES = {
    "living_situation": ("housing-instability",),
    "housing_quality": ("inadequate-housing",),
    "food": ("food-insecurity",),
    "transportation": ("transportation-insecurity",),
    "utilities": ("utility-insecurity",),
    "safety": ("intimate-partner-violence",),
}


def _answers_of(screening: Screening) -> list[tuple[str, list[str]]]:
    return [
        (code, list(given) if isinstance(given, list) else [given])
        for code, given in screening.answers.items()
    ]


def questionnaire_response_shape(screening: Screening) -> dict[str, Any]:
    return compact(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(screening.pk),
            "meta": meta(1, screening.performed_at),
            "questionnaire": QUESTIONNAIRE,
            "status": "completed",
            "subject": reference("Patient", screening.client_id),
            "authored": instant(screening.performed_at),
            "author": reference("Organization", screening.organization_id),
            "item": [
                {
                    "linkId": code,
                    "definition": f"{LOINC}/{code}",
                    "answer": [{"valueCoding": {"system": LOINC, "code": a}} for a in answers],
                }
                for code, answers in _answers_of(screening)
            ],
        }
    )


def observation_shapes(screening: Screening) -> list[dict[str, Any]]:
    """One Observation per answered question."""
    result = score_ahc_hrsn(screening.answers)
    shapes = []
    for code, answers in _answers_of(screening):
        question = QUESTIONS[code]
        positive = question.domain in result.positive_domains
        categories = _DOMAIN_CATEGORIES.get(str(question.domain), ())
        shapes.append(
            compact(
                {
                    "resourceType": "Observation",
                    "id": f"{screening.pk}-{code}",
                    "meta": meta(1, screening.performed_at, OBSERVATION_PROFILE),
                    "status": "final",
                    "category": [
                        {"coding": [{"system": OBSERVATION_CATEGORY, "code": "social-history"}]},
                        {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]},
                        *(
                            {
                                "coding": [
                                    {
                                        "system": SDOHCC_SYSTEM,
                                        "code": c,
                                        "display": _CATEGORY_DISPLAY[c],
                                    }
                                ]
                            }
                            for c in categories
                        ),
                    ],
                    "code": {
                        "coding": [{"system": LOINC, "code": code}],
                        "text": str(question.text),
                    },
                    "subject": reference("Patient", screening.client_id),
                    "effectiveDateTime": instant(screening.performed_at),
                    "issued": instant(screening.performed_at),
                    "valueCodeableConcept": (
                        {"coding": [{"system": LOINC, "code": answers[0]}]}
                        if len(answers) == 1
                        else None
                    ),
                    "component": (
                        [
                            {
                                "code": {"coding": [{"system": LOINC, "code": code}]},
                                "valueCodeableConcept": {"coding": [{"system": LOINC, "code": a}]},
                            }
                            for a in answers
                        ]
                        if len(answers) > 1
                        else []
                    ),
                    "interpretation": (
                        [{"coding": [{"system": INTERPRETATION, "code": "POS"}]}]
                        if positive
                        else []
                    ),
                    "derivedFrom": [reference("QuestionnaireResponse", screening.pk)],
                }
            )
        )
    return shapes


def condition_shapes(screening: Screening) -> list[dict[str, Any]]:
    """One health concern per positive need, its evidence the answers of that domain."""
    shapes = []
    for category in screening.positive_categories:
        evidence = [
            reference("Observation", f"{screening.pk}-{code}")
            for code, _answers in _answers_of(screening)
            if category in _DOMAIN_CATEGORIES.get(str(QUESTIONS[code].domain), ())
        ]
        shapes.append(
            compact(
                {
                    "resourceType": "Condition",
                    "id": f"{screening.pk}-{category}",
                    "meta": meta(1, screening.performed_at, CONDITION_PROFILE),
                    "clinicalStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                "code": "active",
                            }
                        ]
                    },
                    "verificationStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                "code": "unconfirmed",
                            }
                        ]
                    },
                    "category": [
                        {"coding": [{"system": CONDITION_CATEGORY, "code": "health-concern"}]},
                        {"coding": [{"system": SDOHCC_SYSTEM, "code": category}]},
                    ],
                    "code": {
                        "coding": [
                            {
                                "system": SDOHCC_SYSTEM,
                                "code": category,
                                "display": _CATEGORY_DISPLAY.get(category, category),
                            }
                        ],
                        "text": _CATEGORY_DISPLAY.get(category, category),
                    },
                    "subject": reference("Patient", screening.client_id),
                    "onsetDateTime": instant(screening.performed_at),
                    "recordedDate": instant(screening.performed_at),
                    "evidence": [{"detail": evidence}] if evidence else [],
                }
            )
        )
    return shapes


def _question_code(item: Any) -> str | None:
    for text in (item.linkId, item.definition):
        match = _LOINC_CODE.search(text or "")
        if match and match.group(1) in QUESTIONS:
            return match.group(1)
    return None


def _flatten(items: Sequence[Any] | None) -> list[Any]:
    out: list[Any] = []
    for item in items or []:
        out.append(item)
        out.extend(_flatten(item.item))
        for answer in item.answer or []:
            out.extend(_flatten(answer.item))
    return out


def answers_read(response: QuestionnaireResponseModel) -> dict[str, Any]:
    """Question LOINC → answer LOINC code(s) of a posted AHC HRSN QuestionnaireResponse; 400
    naming the item an answer cannot be read from."""
    answers: dict[str, Any] = {}
    for n, item in enumerate(_flatten(response.item)):
        if not item.answer:
            continue
        code = _question_code(item)
        if code is None:
            raise fhir_error(
                400,
                "invalid",
                _("Item %(link)s is not an AHC HRSN question (its LOINC code as linkId).")
                % {"link": item.linkId},
                f"QuestionnaireResponse.item[{n}].linkId",
            )
        chosen = [
            a.valueCoding.code
            for a in item.answer
            if a.valueCoding is not None and a.valueCoding.code
        ]
        if len(chosen) != len(item.answer):
            raise fhir_error(
                400,
                "invalid",
                _("Answer with LOINC answer codes (valueCoding)."),
                f"QuestionnaireResponse.item[{n}].answer",
            )
        answers[code] = (
            chosen if QUESTIONS[code].multiple else chosen[0] if len(chosen) == 1 else chosen
        )
    if not answers:
        raise fhir_error(
            400, "invalid", _("No question is answered."), "QuestionnaireResponse.item"
        )
    return answers


def screenings_readable(request: FhirRequest) -> QuerySet[Screening]:
    """The screenings of the clinic's own clients."""
    clients = clients_visible(user=request.user, organization=organization_of(request))
    return Screening.objects.filter(client__in=clients)


def _logged(request: FhirRequest, screenings: Sequence[Screening]) -> None:
    reads_log(
        request,
        fields=[ClientField.SCREENING],
        seen=[(s.client_id, None) for s in screenings],
    )


@router.post(
    "/QuestionnaireResponse",
    response={201: Resource, **ERRORS, 404: OutcomeOut},
    url_name="questionnaire_response_create",
    operation_id="questionnaire_response_create",
    summary="Record an AHC HRSN screening (LOINC 96777-8), scored as on the page",
)
def questionnaire_response_create(
    request: FhirRequest, payload: Body[dict[str, Any]]
) -> HttpResponse:
    scope_required(request, "QuestionnaireResponse", "c")
    screening = questionnaire_response_create_from(request, payload, {})
    return created_response(request, questionnaire_response_shape(screening))


def questionnaire_response_create_from(
    request: FhirRequest, payload: dict[str, Any], created: dict[str, str]
) -> Screening:
    posted = resource_read(
        QuestionnaireResponseModel, references_resolved(payload, created), "QuestionnaireResponse"
    )
    organization = organization_of(request)
    if AHC_HRSN not in (posted.questionnaire or ""):
        raise fhir_error(
            400,
            "invalid",
            _("Only the AHC HRSN screener (LOINC 96777-8) is scored here."),
            "QuestionnaireResponse.questionnaire",
        )
    if posted.status not in {"completed", "amended"}:
        raise fhir_error(
            400, "invalid", _("Post a completed screening."), "QuestionnaireResponse.status"
        )
    client_id = reference_id(posted.subject, "Patient", "QuestionnaireResponse.subject")
    client = (
        clients_visible(user=request.user, organization=organization).filter(pk=client_id).first()
    )
    if client is None:
        raise fhir_error(
            404, "not_found", _("No such patient of your clinic."), "QuestionnaireResponse.subject"
        )
    answers = answers_read(posted)
    performed = posted.authored or timezone.now()
    if performed.tzinfo is None:
        performed = performed.replace(tzinfo=UTC)
    if performed > timezone.now():
        raise fhir_error(
            400,
            "invalid",
            _("The screening is dated in the future."),
            "QuestionnaireResponse.authored",
        )
    try:
        return screening_record(
            client=client,
            by=request.user,
            organization=organization,
            answers=answers,
            performed_at=performed,
        )
    except InvalidScreening as exc:
        details = [{"field": "QuestionnaireResponse.item", "message": p} for p in exc.problems]
        raise ApiError(400, "invalid", exc.problems[0], details) from exc


def _screening(request: FhirRequest, pk: str) -> Screening:
    match = _SCREENING.match(pk)
    found = screenings_readable(request).filter(pk=int(match.group(1))).first() if match else None
    if found is None:
        raise fhir_error(404, "not_found", _("No such resource here."))
    _logged(request, [found])
    return found


def _part(request: FhirRequest, resource_id: str, shapes: Any) -> dict[str, Any]:
    match = _PART.match(resource_id)
    if match is None:
        raise fhir_error(404, "not_found", _("No such resource here."))
    screening = _screening(request, match.group(1))
    for shape in shapes(screening):
        if shape["id"] == resource_id:
            return shape
    raise fhir_error(404, "not_found", _("No such resource here."))


@router.get(
    "/QuestionnaireResponse/{response_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="questionnaire_response_read",
    operation_id="questionnaire_response_read",
    summary="Read a screening's answers",
)
def questionnaire_response_read(request: FhirRequest, response_id: str) -> HttpResponse:
    scope_required(request, "QuestionnaireResponse", "r")
    return fhir_response(request, questionnaire_response_shape(_screening(request, response_id)))


@router.get(
    "/Observation/{observation_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="observation_read",
    operation_id="observation_read",
    summary="Read one screening answer",
)
def observation_read(request: FhirRequest, observation_id: str) -> HttpResponse:
    scope_required(request, "Observation", "r")
    return fhir_response(request, _part(request, observation_id, observation_shapes))


@router.get(
    "/Condition/{condition_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="condition_read",
    operation_id="condition_read",
    summary="Read one need a screening found",
)
def condition_read(request: FhirRequest, condition_id: str) -> HttpResponse:
    scope_required(request, "Condition", "r")
    return fhir_response(request, _part(request, condition_id, condition_shapes))


def _searched(
    request: FhirRequest, *, by_id: bool = False
) -> tuple[list[Screening], int, str | None]:
    """A page of the clinic's screenings (``_id`` their ids when ``by_id``), logged as read."""
    screenings = screenings_readable(request)
    ids = ids_param(request.GET, "_id") if by_id else []
    if ids:
        screenings = screenings.filter(pk__in=ids)
    patient = reference_param(request.GET, "patient", "Patient") or reference_param(
        request.GET, "subject", "Patient"
    )
    if patient is not None:
        screenings = screenings.filter(client_id=patient)
    page = page_of(request, screenings.order_by("performed_at", "pk"))
    _logged(request, page.rows)
    return page.rows, page.total, page.next_url


def _by_category(shapes: list[dict[str, Any]], request: FhirRequest) -> list[dict[str, Any]]:
    wanted = {v.split("|")[-1] for v in tokens_param(request.GET, "category")}
    if not wanted:
        return shapes
    return [
        s
        for s in shapes
        if wanted & {c["code"] for cat in s.get("category", []) for c in cat["coding"]}
    ]


@router.get(
    "/QuestionnaireResponse",
    response={200: Resource, **ERRORS},
    url_name="questionnaire_response_search",
    operation_id="questionnaire_response_search",
    summary="Search screenings of the clinic's patients",
)
def questionnaire_response_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "QuestionnaireResponse", "s")
    rows, total, next_url = _searched(request, by_id=True)
    return searchset(
        request, [questionnaire_response_shape(s) for s in rows], total, next_url=next_url
    )


@router.get(
    "/Observation",
    response={200: Resource, **ERRORS},
    url_name="observation_search",
    operation_id="observation_search",
    summary="Search screening answers (a page of screenings at a time)",
)
def observation_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "Observation", "s")
    rows, _total, next_url = _searched(request)
    shapes = _by_category([o for s in rows for o in observation_shapes(s)], request)
    return searchset(request, shapes, len(shapes), next_url=next_url)


@router.get(
    "/Condition",
    response={200: Resource, **ERRORS},
    url_name="condition_search",
    operation_id="condition_search",
    summary="Search the needs screenings found (a page of screenings at a time)",
)
def condition_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "Condition", "s")
    rows, _total, next_url = _searched(request)
    shapes = _by_category([c for s in rows for c in condition_shapes(s)], request)
    return searchset(request, shapes, len(shapes), next_url=next_url)


__all__ = ["questionnaire_response_create_from", "router"]
