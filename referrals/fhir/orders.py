"""The referral as FHIR: ServiceRequest (what is asked), Task (the referral's management, its
status and outcome) and Procedure (what the agency reports it did).

A Task is a Referral (``Task/<referral id>``, ``meta.versionId`` its version). A ServiceRequest
posted by an EHR is kept as a ``ServiceRequestRecord`` (``ServiceRequest/sr-<record id>``) until
its Task is posted; the Task sends it with ``referral_send``, the send page's own service, so
the same consent, agreement and directory checks refuse it. A referral sent from the page has
the ServiceRequest ``ServiceRequest/<referral id>``. Status, reason and outcome change through
``referral_transition``, the lifecycle table's one function: only the owner (the agency) changes
status and output, the requester may cancel.

Free text (the note, a status reason, an outcome note) is client data: a read of one Task,
ServiceRequest or Procedure shows it as ``disclosure_for`` allows and logs the read; a search
shows coded values only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext as _
from fhir.resources.R4B.servicerequest import ServiceRequest as ServiceRequestModel
from fhir.resources.R4B.task import Task as TaskModel
from ninja import Body, Header, Router

from cms.categories import SDOH_CATEGORIES, SDOHCC_SYSTEM
from cms.client_address import client_ip
from consent.models import AccessPurpose, Consent
from directory.models import Location, ServicePage
from referrals.disclosure import Disclosure, disclosure_for
from referrals.errors import ReferralError, StaleVersion
from referrals.models import (
    OUTCOME_LABELS,
    REASON_LABELS,
    Referral,
    ReferralStatus,
    ServiceRequestRecord,
    Urgency,
)
from referrals.selectors.clients import clients_visible
from referrals.selectors.referrals import referrals_visible
from referrals.selectors.sending import send_choices
from referrals.services import transitions
from referrals.services.sending import referral_send

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
from .search import (
    SearchPage,
    ids_param,
    instants_filter,
    page_of,
    reference_param,
    reference_text_param,
    tokens_param,
)

router = Router(tags=["referrals"])

TASK_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-TaskForReferralManagement"
SERVICE_REQUEST_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-ServiceRequest"
PROCEDURE_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-Procedure"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
SNOMED = "http://snomed.info/sct"
# SNOMED CT "Social service procedure": what every referral here asks for, in general.
SOCIAL_SERVICE = {"system": SNOMED, "code": "410606002", "display": "Social service procedure"}
# Handoff's own codes: why a referral was declined or failed, and how it ended.
REASON_SYSTEM = "urn:handoff:referral-reason"
OUTCOME_SYSTEM = "urn:handoff:referral-outcome"
_CATEGORY_DISPLAY = dict(SDOH_CATEGORIES)

# ServiceRequest.status of each referral status.
_REQUEST_STATUS = {
    ReferralStatus.DRAFT: "draft",
    ReferralStatus.REQUESTED: "active",
    ReferralStatus.ACCEPTED: "active",
    ReferralStatus.IN_PROGRESS: "active",
    ReferralStatus.ON_HOLD: "on-hold",
    ReferralStatus.COMPLETED: "completed",
    ReferralStatus.FAILED: "revoked",
    ReferralStatus.REJECTED: "revoked",
    ReferralStatus.CANCELLED: "revoked",
    ReferralStatus.ENTERED_IN_ERROR: "entered-in-error",
}
_RECORD_ID = re.compile(r"^sr-(\d{1,18})$")
_REFERRAL_ID = re.compile(r"^\d{1,18}$")


# --- shapes ----------------------------------------------------------------------------------


def _categories(codes: list[str]) -> list[dict[str, Any]]:
    return [
        {"coding": [{"system": SDOHCC_SYSTEM, "code": c, "display": _CATEGORY_DISPLAY.get(c, c)}]}
        for c in codes
    ]


def service_request_id(referral: Referral) -> str:
    record = _record_of(referral)
    return f"sr-{record.pk}" if record is not None else str(referral.pk)


def _record_of(referral: Referral) -> ServiceRequestRecord | None:
    try:
        return referral.service_request
    except ServiceRequestRecord.DoesNotExist:
        return None


def task_shape(referral: Referral, disclosure: Disclosure | None = None) -> dict[str, Any]:
    """The referral as a Task: coded values only, the reason's words when ``disclosure`` (a
    read's) shows them."""
    reason: dict[str, Any] = {}
    if referral.reason_code or referral.status_reason:
        words = disclosure.status_reason if disclosure is not None else ""
        label = str(REASON_LABELS.get(referral.reason_code, "")) or _("See the referral.")
        reason = {
            "coding": (
                [{"system": REASON_SYSTEM, "code": referral.reason_code}]
                if referral.reason_code
                else []
            ),
            "text": words or label,
        }
    output = []
    if referral.outcome:
        output.append(
            {
                "type": {"coding": [{"system": SDOHCC_SYSTEM, "code": "resulting-activity"}]},
                "valueReference": reference("Procedure", referral.pk),
            }
        )
    return compact(
        {
            "resourceType": "Task",
            "id": str(referral.pk),
            "meta": meta(referral.version, referral.updated_at, TASK_PROFILE),
            "status": referral.status,
            "statusReason": reason,
            "businessStatus": (
                {
                    "coding": [{"system": OUTCOME_SYSTEM, "code": referral.outcome}],
                    "text": str(OUTCOME_LABELS.get(referral.outcome, referral.outcome)),
                }
                if referral.outcome
                else None
            ),
            "intent": "order",
            "priority": "urgent" if referral.urgency == Urgency.URGENT else "routine",
            "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill"}]},
            "focus": reference("ServiceRequest", service_request_id(referral)),
            "for": reference("Patient", referral.client_id),
            "authoredOn": instant(referral.sent_at or referral.created_at),
            "lastModified": instant(referral.updated_at),
            "requester": reference("Organization", referral.sender_id),
            "owner": reference("Organization", referral.agency_id),
            "output": output,
        }
    )


def service_request_shape(
    referral: Referral, disclosure: Disclosure | None = None
) -> dict[str, Any]:
    """The ServiceRequest of a sent referral (its note only when ``disclosure`` shows it)."""
    record = _record_of(referral)
    note = (disclosure.client.get("note") or "") if disclosure is not None else ""
    return compact(
        {
            "resourceType": "ServiceRequest",
            "id": service_request_id(referral),
            "meta": meta(referral.version, referral.updated_at, SERVICE_REQUEST_PROFILE),
            "status": _REQUEST_STATUS.get(ReferralStatus(referral.status), "unknown"),
            "intent": "order",
            "priority": "urgent" if referral.urgency == Urgency.URGENT else "routine",
            "category": _categories(referral.categories),
            "code": (record.code if record is not None and record.code else None)
            or {"coding": [SOCIAL_SERVICE], "text": referral.service_name},
            "subject": reference("Patient", referral.client_id),
            "authoredOn": instant(referral.sent_at or referral.created_at),
            "requester": reference("Organization", referral.sender_id),
            "performer": [
                *(
                    [reference("HealthcareService", referral.service_id)]
                    if referral.service_id
                    else []
                ),
                reference("Organization", referral.agency_id),
            ],
            "locationReference": (
                [reference("Location", referral.location_id)] if referral.location_id else []
            ),
            "supportingInfo": [reference("Consent", referral.consent_id)],
            "note": [{"text": note}] if note else [],
        }
    )


def record_shape(record: ServiceRequestRecord) -> dict[str, Any]:
    """A posted ServiceRequest whose Task has not been posted yet (only its requester sees it)."""
    return compact(
        {
            "resourceType": "ServiceRequest",
            "id": f"sr-{record.pk}",
            "meta": meta(1, record.created_at, SERVICE_REQUEST_PROFILE),
            "status": "active",
            "intent": "order",
            "priority": "urgent" if record.urgency == Urgency.URGENT else "routine",
            "category": _categories(record.categories),
            "code": record.code or {"coding": [SOCIAL_SERVICE], "text": record.service.title},
            "subject": reference("Patient", record.client_id),
            "authoredOn": instant(record.created_at),
            "requester": reference("Organization", record.requester_id),
            "performer": [reference("HealthcareService", record.service_id)],
            "locationReference": (
                [reference("Location", record.location_id)] if record.location_id else []
            ),
            "supportingInfo": [reference("Consent", record.consent_id)]
            if record.consent_id
            else [],
            "note": [{"text": record.note}] if record.note else [],
        }
    )


def procedure_shape(referral: Referral, disclosure: Disclosure | None = None) -> dict[str, Any]:
    """What the agency reported doing (a referral completed or failed with an outcome)."""
    note = disclosure.outcome_note if disclosure is not None else ""
    done = referral.status == ReferralStatus.COMPLETED
    outcome = {
        "coding": [{"system": OUTCOME_SYSTEM, "code": referral.outcome}],
        "text": str(OUTCOME_LABELS.get(referral.outcome, referral.outcome)),
    }
    return compact(
        {
            "resourceType": "Procedure",
            "id": str(referral.pk),
            "meta": meta(referral.version, referral.updated_at, PROCEDURE_PROFILE),
            "basedOn": [reference("ServiceRequest", service_request_id(referral))],
            "status": "completed" if done else "not-done",
            "statusReason": None if done else outcome,
            "category": next(iter(_categories(referral.categories)), None),
            "code": {"coding": [SOCIAL_SERVICE], "text": referral.service_name},
            "subject": reference("Patient", referral.client_id),
            "performedDateTime": instant(referral.closed_at),
            "performer": [{"actor": reference("Organization", referral.agency_id)}],
            "outcome": outcome,
            "note": [{"text": note}] if note else [],
        }
    )


# --- who sees what ---------------------------------------------------------------------------


def tasks_visible(request: FhirRequest) -> QuerySet[Referral]:
    """The referrals the system's organization sent or received (its account's rights)."""
    return referrals_visible(
        user=request.user, organization=organization_of(request)
    ).select_related("service_request")


def _one(request: FhirRequest, pk: int) -> Referral:
    found = (
        tasks_visible(request)
        .select_related("client", "sender", "agency", "consent__network", "agreement")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise fhir_error(404, "not_found", _("No such resource here."))
    return found


def _disclosed(request: FhirRequest, referral: Referral) -> Disclosure:
    """What the organization may read of the referral's words now, logged under the system."""
    organization = organization_of(request)
    if organization.pk == referral.agency_id:
        transitions.referral_viewed(referral=referral, by=request.user, organization=organization)
    return disclosure_for(
        referral,
        organization,
        user=request.user,
        purpose=AccessPurpose.FHIR,
        ip_address=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )


def _pk(value: str) -> int:
    if not _REFERRAL_ID.match(value):
        raise fhir_error(404, "not_found", _("No such resource here."))
    return int(value)


# --- Task ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFilters:
    """A Task search, checked."""

    ids: list[int]
    statuses: list[str]
    owner: int | None
    requester: int | None
    patient: int | None
    focus: str | None
    updated: Q
    include_focus: bool
    include_output: bool
    # A code was asked and none is the referral Tasks' (fulfill), or Tasks without an owner
    # (there are none): nothing matches.
    other_code: bool


def _task_filters(request: FhirRequest) -> TaskFilters:
    query = request.GET
    codes = tokens_param(query, "code")
    other_code = bool(codes) and not {"fulfill", f"{TASK_CODE_SYSTEM}|fulfill"} & set(codes)
    # The guide's poll for open Tasks any agency may claim: every referral here has its owner.
    missing = query.get("owner:missing")
    if missing not in (None, "true", "false"):
        raise fhir_error(400, "invalid", _("owner:missing is true or false."), "owner:missing")
    other_code = other_code or missing == "true"
    statuses = tokens_param(query, "status")
    unknown = [s for s in statuses if s not in ReferralStatus.values]
    if unknown:
        raise fhir_error(
            400,
            "invalid",
            _("Not a Task status: %(codes)s.") % {"codes": ", ".join(unknown)},
            "status",
        )
    includes = query.getlist("_include")
    for include in includes:
        if include not in {"Task:focus", "Task:output"}:
            raise fhir_error(
                400,
                "invalid",
                _("Supported: _include=Task:focus and _include=Task:output."),
                "_include",
            )
    focus = reference_text_param(query, "focus", "ServiceRequest")
    return TaskFilters(
        ids=ids_param(query, "_id"),
        statuses=statuses,
        owner=reference_param(query, "owner", "Organization"),
        requester=reference_param(query, "requester", "Organization"),
        patient=reference_param(query, "patient", "Patient"),
        focus=focus,
        updated=instants_filter(query, "_lastUpdated", "updated_at"),
        include_focus="Task:focus" in includes,
        include_output="Task:output" in includes,
        other_code=other_code,
    )


@router.get(
    "/Task",
    response={200: Resource, **ERRORS},
    url_name="task_search",
    operation_id="task_search",
    summary="Search Tasks (referrals) the system's organization sent or received",
)
def task_search(request: FhirRequest) -> dict[str, Any]:
    """Polling as the guide describes: ``Task?owner=Organization/…&_lastUpdated=gt…``; oldest
    change first, ``_count`` a page (at most 100)."""
    scope_required(request, "Task", "s")
    found = _task_filters(request)
    tasks = tasks_visible(request).filter(found.updated)
    if found.other_code:
        tasks = tasks.none()
    if found.ids:
        tasks = tasks.filter(pk__in=found.ids)
    if found.statuses:
        tasks = tasks.filter(status__in=found.statuses)
    if found.owner is not None:
        tasks = tasks.filter(agency_id=found.owner)
    if found.requester is not None:
        tasks = tasks.filter(sender_id=found.requester)
    if found.patient is not None:
        tasks = tasks.filter(client_id=found.patient)
    if found.focus is not None:
        record = _RECORD_ID.match(found.focus)
        tasks = (
            tasks.filter(service_request__pk=int(record.group(1)))
            if record
            else tasks.filter(pk=_pk(found.focus), service_request__isnull=True)
            if _REFERRAL_ID.match(found.focus)
            else tasks.none()
        )
    page: SearchPage[Referral] = page_of(request, tasks.order_by("updated_at", "pk"))
    matches = [task_shape(r) for r in page.rows]
    included: list[dict[str, Any]] = []
    if found.include_focus:
        included += [service_request_shape(r) for r in page.rows]
    if found.include_output:
        included += [procedure_shape(r) for r in page.rows if r.outcome]
    return searchset(request, matches, page.total, included=included, next_url=page.next_url)


@router.get(
    "/Task/{task_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="task_read",
    operation_id="task_read",
    summary="Read one Task",
)
def task_read(request: FhirRequest, task_id: str) -> HttpResponse:
    scope_required(request, "Task", "r")
    referral = _one(request, _pk(task_id))
    body = task_shape(referral, _disclosed(request, referral))
    return fhir_response(request, body)


@dataclass(frozen=True)
class TaskChange:
    """What an update asks: the new status, its reason (words and code) and outcome."""

    status: str
    reason: str
    reason_code: str | None
    outcome: str


def _task_change(task: TaskModel, referral: Referral) -> TaskChange:
    """The change a Task update asks for; 400 if it touches what only the creator set."""
    fixed = {
        "Task.focus": (
            task.focus.reference if task.focus else None,
            f"ServiceRequest/{service_request_id(referral)}",
        ),
        "Task.for": (
            task.for_fhir.reference if task.for_fhir else None,
            f"Patient/{referral.client_id}",
        ),
        "Task.requester": (
            task.requester.reference if task.requester else None,
            f"Organization/{referral.sender_id}",
        ),
        "Task.owner": (
            task.owner.reference if task.owner else None,
            f"Organization/{referral.agency_id}",
        ),
    }
    for element, (given, current) in fixed.items():
        if given is not None and not given.endswith(current):
            raise fhir_error(
                400,
                "immutable",
                _("Only status, statusReason and output change after a Task is created."),
                element,
            )
    if task.intent != "order":
        raise fhir_error(400, "invalid", _("A referral Task's intent is order."), "Task.intent")
    reason_text = (task.statusReason.text or "").strip() if task.statusReason else ""
    reason_codes = coding_codes(task.statusReason, REASON_SYSTEM)
    outcome_codes = [
        code
        for out in task.output or []
        for code in coding_codes(getattr(out, "valueCodeableConcept", None), OUTCOME_SYSTEM)
    ] + coding_codes(task.businessStatus, OUTCOME_SYSTEM)
    return TaskChange(
        status=required(task.status, "Task.status"),
        reason=reason_text,
        reason_code=reason_codes[0] if reason_codes else None,
        outcome=outcome_codes[0] if outcome_codes else "",
    )


def _if_match(header: str | None, task: TaskModel) -> int:
    text = header or ""
    match = re.fullmatch(r'\s*(?:W/)?"(\d{1,9})"\s*', text) if text else None
    if match:
        return int(match.group(1))
    version = task.meta.versionId if task.meta is not None else None
    if not text and version and version.isdigit():
        return int(version)
    raise fhir_error(
        412 if text else 400,
        "version_required",
        _('Send the version you read: If-Match: W/"<versionId>".'),
        "If-Match",
    )


@router.put(
    "/Task/{task_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut, 412: OutcomeOut, 422: OutcomeOut},
    url_name="task_update",
    operation_id="task_update",
    summary="Change a Task's status, reason or output (version-aware)",
)
def task_update(
    request: FhirRequest,
    task_id: str,
    payload: Body[dict[str, Any]],
    if_match: str | None = Header(None, alias="If-Match"),
) -> HttpResponse:
    """The owner (the agency) moves the referral through the lifecycle and reports its outcome
    (``output``/``businessStatus`` coded in ``urn:handoff:referral-outcome``); the requester may
    cancel. A stale version is 412; a change the lifecycle refuses is 422."""
    scope_required(request, "Task", "u")
    referral = _one(request, _pk(task_id))
    task = resource_read(TaskModel, payload, "Task")
    if task.id is not None and task.id != task_id:
        raise fhir_error(400, "invalid", _("The Task's id is not the one in the URL."), "Task.id")
    version = _if_match(if_match, task)
    change = _task_change(task, referral)
    organization = organization_of(request)
    if change.status == referral.status and version == referral.version:
        body = task_shape(referral, _disclosed(request, referral))
        return fhir_response(request, body)
    try:
        changed = transitions.referral_transition(
            referral=referral,
            to=change.status,
            by=request.user,
            organization=organization,
            version=version,
            reason=change.reason,
            outcome=change.outcome,
            reason_code=change.reason_code,
        )
    except StaleVersion as exc:
        raise fhir_error(
            412,
            exc.code,
            _("The Task changed since you read it (it is at version %(version)s): read it again.")
            % {"version": exc.current.version},
            "If-Match",
        ) from exc
    except ReferralError as exc:
        raise fhir_error(422, exc.code, str(exc), "Task.status") from exc
    fresh = _one(request, changed.pk)
    body = task_shape(fresh, _disclosed(request, fresh))
    return fhir_response(request, body)


@router.post(
    "/Task",
    response={201: Resource, 200: Resource, **ERRORS, 404: OutcomeOut, 422: OutcomeOut},
    url_name="task_create",
    operation_id="task_create",
    summary="Send a referral: a Task for a posted ServiceRequest",
)
def task_create(request: FhirRequest, payload: Body[dict[str, Any]]) -> HttpResponse:
    """Sends the ServiceRequest the Task's ``focus`` names to its agency (``owner``), as the send
    page does: refused (422) without the client's consent covering the agency and the needs,
    or without a data-sharing agreement in force. The same Task again returns the referral."""
    scope_required(request, "Task", "c")
    created, referral = task_create_from(request, payload, {})
    return created_response(request, task_shape(referral), 201 if created else 200)


def task_create_from(
    request: FhirRequest, payload: dict[str, Any], created: dict[str, str]
) -> tuple[bool, Referral]:
    """Create a Task (``created`` maps a transaction's ``urn:uuid:…`` to the references made
    before it). Returns (whether the referral is new, the referral)."""
    task = resource_read(TaskModel, references_resolved(payload, created), "Task")
    organization = organization_of(request)
    if task.intent != "order":
        raise fhir_error(400, "invalid", _("A referral Task's intent is order."), "Task.intent")
    if "fulfill" not in coding_codes(task.code, TASK_CODE_SYSTEM):
        raise fhir_error(
            400,
            "invalid",
            _("A referral Task's code is %(system)s#fulfill.") % {"system": TASK_CODE_SYSTEM},
            "Task.code",
        )
    if task.status != ReferralStatus.REQUESTED:
        raise fhir_error(400, "invalid", _("A new referral Task is requested."), "Task.status")
    required(task.authoredOn, "Task.authoredOn")
    focus_text = required(task.focus.reference if task.focus else None, "Task.focus")
    match = re.search(r"(?:^|/)ServiceRequest/sr-(\d{1,18})$", focus_text)
    if match is None:
        raise fhir_error(
            400,
            "invalid",
            _("Task.focus must reference a ServiceRequest posted here (ServiceRequest/sr-…)."),
            "Task.focus",
        )
    record = (
        ServiceRequestRecord.objects.select_related("client", "service", "location")
        .filter(pk=int(match.group(1)), requester=organization)
        .first()
    )
    if record is None:
        raise fhir_error(404, "not_found", _("No such ServiceRequest here."), "Task.focus")
    if reference_id(task.for_fhir, "Patient", "Task.for") != record.client_id:
        raise fhir_error(
            400, "invalid", _("Task.for must be the ServiceRequest's subject."), "Task.for"
        )
    if reference_id(task.requester, "Organization", "Task.requester") != organization.pk:
        raise fhir_error(
            400,
            "invalid",
            _("Task.requester must be your organization (Organization/%(id)s).")
            % {"id": organization.pk},
            "Task.requester",
        )
    owner = reference_id(task.owner, "Organization", "Task.owner")
    if record.referral_id is not None:
        existing = tasks_visible(request).get(pk=record.referral_id)
        if existing.agency_id != owner:
            raise fhir_error(
                409, "conflict", _("This ServiceRequest was sent to another owner."), "Task.owner"
            )
        return False, existing
    with transaction.atomic():
        locked = ServiceRequestRecord.objects.select_for_update().get(pk=record.pk)
        if locked.referral_id is not None:
            return False, tasks_visible(request).get(pk=locked.referral_id)
        try:
            referral = referral_send(
                client=record.client,
                by=request.user,
                sender=organization,
                service=record.service,
                location=record.location,
                categories=record.categories,
                idempotency_key=f"fhir-sr-{record.pk}",
                urgency=(
                    Urgency.URGENT
                    if task.priority in {"urgent", "asap", "stat"}
                    else record.urgency
                ),
                note=record.note,
            )
        except ReferralError as exc:
            raise fhir_error(422, exc.code, str(exc), "Task") from exc
        except PermissionDenied as exc:
            raise fhir_error(403, "forbidden", str(exc)) from exc
        except DjangoValidationError as exc:
            raise fhir_error(400, "invalid", " ".join(exc.messages), "Task.focus") from exc
        if referral.agency_id != owner:
            # Rolled back with the referral: the owner must be the service's agency.
            raise fhir_error(
                400,
                "invalid",
                _("Task.owner must be the agency of the requested service (Organization/%(id)s).")
                % {"id": referral.agency_id},
                "Task.owner",
            )
        locked.referral = referral
        locked.save(update_fields=["referral"])
    return True, tasks_visible(request).get(pk=referral.pk)


# --- ServiceRequest --------------------------------------------------------------------------


@router.post(
    "/ServiceRequest",
    response={201: Resource, **ERRORS, 404: OutcomeOut},
    url_name="service_request_create",
    operation_id="service_request_create",
    summary="Ask for a service for a patient (sent when its Task is posted)",
)
def service_request_create(request: FhirRequest, payload: Body[dict[str, Any]]) -> HttpResponse:
    scope_required(request, "ServiceRequest", "c")
    record = service_request_create_from(request, payload, {})
    return created_response(request, record_shape(record))


def service_request_create_from(
    request: FhirRequest, payload: dict[str, Any], created: dict[str, str]
) -> ServiceRequestRecord:
    """Check and keep a posted ServiceRequest of the clinic's client for a published service."""
    wanted = resource_read(
        ServiceRequestModel, references_resolved(payload, created), "ServiceRequest"
    )
    organization = organization_of(request)
    if not organization.sends_referrals or request.smart.client.role != "clinic_staff":
        raise PermissionDenied(_("Only a clinic's system asks for services."))
    if wanted.intent not in {"order", "original-order"}:
        raise fhir_error(
            400,
            "invalid",
            _("A referral's ServiceRequest intent is order."),
            "ServiceRequest.intent",
        )
    if wanted.status not in {"active", "draft"}:
        raise fhir_error(
            400, "invalid", _("A new ServiceRequest is active."), "ServiceRequest.status"
        )
    categories = sorted(set(coding_codes(wanted.category, SDOHCC_SYSTEM)))
    required(categories, "ServiceRequest.category", _("Name the needs (SDOH categories)."))
    unknown = [c for c in categories if c not in _CATEGORY_DISPLAY]
    if unknown:
        raise fhir_error(
            400,
            "invalid",
            _("Unknown SDOH categories: %(codes)s.") % {"codes": ", ".join(unknown)},
            "ServiceRequest.category",
        )
    required(wanted.code, "ServiceRequest.code")
    client_id = reference_id(wanted.subject, "Patient", "ServiceRequest.subject")
    client = (
        clients_visible(user=request.user, organization=organization).filter(pk=client_id).first()
    )
    if client is None:
        raise fhir_error(
            404, "not_found", _("No such patient of your clinic."), "ServiceRequest.subject"
        )
    if wanted.requester is not None and (
        reference_id(wanted.requester, "Organization", "ServiceRequest.requester")
        != organization.pk
    ):
        raise fhir_error(
            400,
            "invalid",
            _("ServiceRequest.requester must be your organization."),
            "ServiceRequest.requester",
        )
    service, location = _performer(request, wanted)
    consent = None
    for info in wanted.supportingInfo or []:
        consent_id = reference_id(info, "Consent", "ServiceRequest.supportingInfo")
        consent = Consent.objects.filter(pk=consent_id, client=client).first()
        if consent is None:
            raise fhir_error(
                400,
                "invalid",
                _("The consent named is not this patient's."),
                "ServiceRequest.supportingInfo",
            )
    note = "\n".join(n.text for n in wanted.note or [] if n.text).strip()
    if len(note) > 5000:
        raise fhir_error(
            400, "invalid", _("Keep the note under 5,000 characters."), "ServiceRequest.note"
        )
    code = wanted.code.model_dump(mode="json", by_alias=True, exclude_none=True)
    return ServiceRequestRecord.objects.create(
        network=organization.network,
        requester=organization,
        client=client,
        service=service,
        location=location,
        categories=categories,
        code=code,
        consent=consent,
        urgency=Urgency.URGENT
        if wanted.priority in {"urgent", "asap", "stat"}
        else Urgency.ROUTINE,
        note=note,
        created_by=request.user,
    )


def _performer(
    request: FhirRequest, wanted: ServiceRequestModel
) -> tuple[ServicePage, Location | None]:
    """The published service (``performer`` → HealthcareService) and, if named, its location."""
    organization = organization_of(request)
    services = [
        p
        for p in wanted.performer or []
        if (p.reference or "").split("/")[-2:-1] == ["HealthcareService"]
    ]
    if len(services) != 1:
        raise fhir_error(
            400,
            "invalid",
            _("Name one service: performer → HealthcareService/<id> of the directory."),
            "ServiceRequest.performer",
        )
    service_id = reference_id(services[0], "HealthcareService", "ServiceRequest.performer")
    choices = send_choices(user=request.user, organization=organization, service_ids=[service_id])
    if not choices:
        raise fhir_error(
            404,
            "not_found",
            _("No such published service in your network's directory."),
            "ServiceRequest.performer",
        )
    choice = choices[0]
    location = None
    for place in wanted.locationReference or []:
        location_id = reference_id(place, "Location", "ServiceRequest.locationReference")
        location = next((loc for loc in choice.locations if loc.pk == location_id), None)
        if location is None:
            raise fhir_error(
                400,
                "invalid",
                _("The service is not offered at this location."),
                "ServiceRequest.locationReference",
            )
    return choice.service, location


def _records_pending(request: FhirRequest) -> QuerySet[ServiceRequestRecord]:
    organization = organization_of(request)
    if not organization.sends_referrals or request.smart.client.role != "clinic_staff":
        return ServiceRequestRecord.objects.none()
    return ServiceRequestRecord.objects.filter(
        requester=organization, referral__isnull=True
    ).select_related("service")


@router.get(
    "/ServiceRequest/{request_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="service_request_read",
    operation_id="service_request_read",
    summary="Read one ServiceRequest",
)
def service_request_read(request: FhirRequest, request_id: str) -> HttpResponse:
    scope_required(request, "ServiceRequest", "r")
    record_match = _RECORD_ID.match(request_id)
    if record_match:
        record = ServiceRequestRecord.objects.filter(
            pk=int(record_match.group(1)), network=request.network
        ).first()
        if record is not None and record.referral_id is not None:
            referral = tasks_visible(request).filter(pk=record.referral_id).first()
            if referral is not None:
                referral = _one(request, referral.pk)
                body = service_request_shape(referral, _disclosed(request, referral))
                return fhir_response(request, body)
        pending = _records_pending(request).filter(pk=int(record_match.group(1))).first()
        if pending is None:
            raise fhir_error(404, "not_found", _("No such resource here."))
        body = record_shape(pending)
        return fhir_response(request, body)
    referral = _one(request, _pk(request_id))
    if _record_of(referral) is not None:
        raise fhir_error(404, "not_found", _("No such resource here."))
    body = service_request_shape(referral, _disclosed(request, referral))
    return fhir_response(request, body)


@router.get(
    "/ServiceRequest",
    response={200: Resource, **ERRORS},
    url_name="service_request_search",
    operation_id="service_request_search",
    summary="Search the ServiceRequests of the referrals the organization sent or received",
)
def service_request_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "ServiceRequest", "s")
    patient = reference_param(request.GET, "patient", "Patient")
    referrals = tasks_visible(request)
    if patient is not None:
        referrals = referrals.filter(client_id=patient)
    page: SearchPage[Referral] = page_of(request, referrals.order_by("updated_at", "pk"))
    entries = [service_request_shape(r) for r in page.rows]
    if page.offset == 0:
        pending = _records_pending(request)
        if patient is not None:
            pending = pending.filter(client_id=patient)
        entries += [record_shape(r) for r in pending[:100]]
    return searchset(
        request, entries, page.total + (len(entries) - len(page.rows)), next_url=page.next_url
    )


# --- Procedure -------------------------------------------------------------------------------


@router.get(
    "/Procedure/{procedure_id}",
    response={200: Resource, **ERRORS, 404: OutcomeOut},
    url_name="procedure_read",
    operation_id="procedure_read",
    summary="Read what the agency reported doing",
)
def procedure_read(request: FhirRequest, procedure_id: str) -> HttpResponse:
    scope_required(request, "Procedure", "r")
    referral = _one(request, _pk(procedure_id))
    if not referral.outcome:
        raise fhir_error(404, "not_found", _("No such resource here."))
    body = procedure_shape(referral, _disclosed(request, referral))
    return fhir_response(request, body)


@router.get(
    "/Procedure",
    response={200: Resource, **ERRORS},
    url_name="procedure_search",
    operation_id="procedure_search",
    summary="Search the outcomes of referrals the organization sent or received",
)
def procedure_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "Procedure", "s")
    referrals = tasks_visible(request).exclude(outcome="")
    ids = ids_param(request.GET, "_id")
    if ids:
        referrals = referrals.filter(pk__in=ids)
    patient = reference_param(request.GET, "patient", "Patient")
    if patient is not None:
        referrals = referrals.filter(client_id=patient)
    based_on = reference_text_param(request.GET, "based-on", "ServiceRequest")
    if based_on is not None:
        record = _RECORD_ID.match(based_on)
        referrals = (
            referrals.filter(service_request__pk=int(record.group(1)))
            if record
            else referrals.filter(pk=_pk(based_on), service_request__isnull=True)
        )
    page: SearchPage[Referral] = page_of(request, referrals.order_by("updated_at", "pk"))
    return searchset(
        request, [procedure_shape(r) for r in page.rows], page.total, next_url=page.next_url
    )


__all__ = [
    "OUTCOME_SYSTEM",
    "PROCEDURE_PROFILE",
    "REASON_SYSTEM",
    "SERVICE_REQUEST_PROFILE",
    "TASK_PROFILE",
    "procedure_shape",
    "router",
    "service_request_create_from",
    "service_request_shape",
    "task_create_from",
    "task_shape",
]
