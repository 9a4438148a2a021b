"""What every FHIR operation shares: the content type, OperationOutcome errors, the signed-in
system, its scopes, reading a resource with the FHIR R4 models and writing references.

Resources are read and checked with ``fhir.resources``' R4B models (FHIR 4.3.0): the package's
releases for pydantic 2 (which django-ninja runs on) carry R5 and R4B, not 4.0.1, and R4B keeps
the R4 shape of every resource served here (Patient, QuestionnaireResponse, Observation,
Condition, Consent, ServiceRequest, Task, Procedure, Organization, Location, HealthcareService,
Subscription, Parameters, Bundle, OperationOutcome, CapabilityStatement). The server says
``fhirVersion: 4.0.1``; tests validate every answer with the same models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from cms.api import ApiError
from cms.client_address import client_ip
from consent.models import AccessPurpose
from consent.services import access_log_write
from network.middleware import TenantRequest
from network.models import Membership, Organization
from network.permissions import checker_for
from network.smart import SignedIn, access_token_read

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare"

# The OperationOutcome issue code of each HTTP status an operation answers.
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    422: "business-rule",
    429: "throttled",
}


class FhirRenderer(JSONRenderer):
    """JSON as FHIR's own media type."""

    media_type = FHIR_JSON


def operation_outcome(
    status: int, code: str, message: str, details: Sequence[Mapping[str, str]] | None = None
) -> dict[str, Any]:
    """An error as FHIR answers it: one issue per wrong element (``expression`` names it in
    FHIRPath), else one for the whole request; Handoff's own code in ``details.coding``."""
    issue_code = _ISSUE_CODES.get(status, "exception" if status >= 500 else "processing")
    coding = {"coding": [{"system": "urn:handoff:error", "code": code}], "text": message}
    issues = [
        {
            "severity": "error",
            "code": issue_code,
            "details": {**coding, "text": d.get("message", message)},
            "diagnostics": d.get("message", message),
            "expression": [d["field"]],
        }
        for d in details or ()
        if d.get("field")
    ] or [{"severity": "error", "code": issue_code, "details": coding, "diagnostics": message}]
    return {"resourceType": "OperationOutcome", "issue": issues}


class Resource(BaseModel):
    """Any FHIR resource (checked by the FHIR models, not by this schema)."""

    model_config = ConfigDict(extra="allow")
    resourceType: str


class OutcomeOut(BaseModel):
    """An OperationOutcome."""

    model_config = ConfigDict(extra="allow")
    resourceType: str
    issue: list[dict[str, Any]]


# The errors every operation may answer.
ERRORS: dict[int, type[OutcomeOut]] = {400: OutcomeOut, 401: OutcomeOut, 403: OutcomeOut}


def fhir_error(status: int, code: str, message: str, field: str = "") -> ApiError:
    """An error to raise: answered as an OperationOutcome naming ``field`` (FHIRPath)."""
    return ApiError(
        status, code, message, [{"field": field, "message": message}] if field else None
    )


# --- the system signed in ------------------------------------------------------------------


class FhirRequest(TenantRequest):
    """A request signed in with a bearer token (``SmartBearer``)."""

    smart: SignedIn


class SmartBearer(HttpBearer):
    """``Authorization: Bearer <token>`` from this network's token endpoint: the request then
    acts as the client's account, for its organization, in its network."""

    def authenticate(self, request: HttpRequest, token: str) -> SignedIn | None:
        signed = access_token_read(token=token)
        if signed is None:
            return None
        client = signed.client
        tenant: FhirRequest = request  # type: ignore[assignment]
        # A token is good at its own network's address only.
        if tenant.network is None or tenant.network.pk != client.network_id:
            return None
        tenant.smart = signed
        tenant.user = client.user
        tenant.organization = client.organization
        tenant.network = client.network
        membership = Membership(
            user=client.user,
            network=client.network,
            organization=client.organization,
            role=client.role,
        )
        tenant.membership = membership
        tenant.memberships = [membership]
        tenant.permission_checker = checker_for(client.user)
        return signed


def organization_of(request: FhirRequest) -> Organization:
    """The organization the signed-in system acts for (every token has one)."""
    if request.organization is None:  # pragma: no cover - SmartBearer always sets it
        raise PermissionDenied(_("Sign in as a system first."))
    return request.organization


def scope_required(request: FhirRequest, resource: str, action: str) -> None:
    """403 unless the token's scopes allow ``action`` (c, r, u, d or s) on ``resource``."""
    if not request.smart.allows(resource, action):
        raise PermissionDenied(
            _("The access token's scopes do not allow this (system/%(resource)s.%(action)s).")
            % {"resource": resource, "action": action}
        )


def fhir_response(request: HttpRequest, body: dict[str, Any], status: int = 200) -> HttpResponse:
    """``body`` as an ``application/fhir+json`` answer (for operations that set headers), with
    its version as a weak ETag."""
    content = FhirRenderer().render(request, body, response_status=status)
    response = HttpResponse(content, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    version = body.get("meta", {}).get("versionId")
    if version:
        response["ETag"] = f'W/"{version}"'
    return response


def reads_log(
    request: FhirRequest, *, fields: Sequence[str], seen: Sequence[tuple[int, int | None]]
) -> None:
    """Log the clients' ``fields`` an answer carries as seen by the system (one INSERT)."""
    access_log_write(
        user=request.user,
        organization=organization_of(request),
        purpose=AccessPurpose.FHIR,
        fields=fields,
        seen=seen,
        ip_address=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )


def created_response(request: HttpRequest, body: dict[str, Any], status: int = 201) -> HttpResponse:
    """A create's answer: ``body`` with its ``Location`` (``<type>/<id>/_history/<version>``)."""
    response = fhir_response(request, body, status)
    version = body.get("meta", {}).get("versionId", "1")
    response["Location"] = f"{body['resourceType']}/{body['id']}/_history/{version}"
    return response


# --- reading what a client sent --------------------------------------------------------------

# pydantic names some FHIR elements with a suffix (``for`` is ``for_fhir``).
_FIELD_SUFFIX = re.compile(r"__?fhir$")


def _element_path(resource_type: str, location: Sequence[Any]) -> str:
    path = resource_type
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += "." + _FIELD_SUFFIX.sub("", str(part))
    return path


def resource_read(model: type[Any], payload: Any, resource_type: str) -> Any:
    """The payload as a FHIR model, or 400 with an OperationOutcome naming each wrong element."""
    if not isinstance(payload, dict):
        raise fhir_error(400, "invalid", _("Send a FHIR resource as a JSON object."))
    if payload.get("resourceType") != resource_type:
        raise fhir_error(
            400,
            "invalid",
            _("Send a %(type)s resource.") % {"type": resource_type},
            f"{resource_type}.resourceType",
        )
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        details = [
            {
                "field": _element_path(resource_type, e.get("loc", ())),
                "message": _not_json_safe(e.get("msg", "")),
            }
            for e in exc.errors()
        ]
        raise ApiError(400, "invalid", details[0]["message"], details) from exc
    except (ValueError, TypeError) as exc:
        raise fhir_error(400, "invalid", _not_json_safe(str(exc))) from exc


def _not_json_safe(text: str) -> str:
    # pydantic may quote the input back: keep it printable and short.
    return json.dumps(text)[1:-1][:500]


def required(value: Any, element: str, message: str | None = None) -> Any:
    """``value``, or 400 naming ``element`` when it is missing."""
    if value in (None, "", [], {}):
        raise fhir_error(
            400, "invalid", message or _("%(element)s is required.") % {"element": element}, element
        )
    return value


def reference_id(reference: Any, resource_type: str, element: str) -> int:
    """The id in a literal reference ``<resource_type>/<id>`` (relative or absolute URL), or 400
    naming ``element``."""
    text = getattr(reference, "reference", None) if reference is not None else None
    if not isinstance(text, str) or not text:
        raise fhir_error(
            400,
            "invalid",
            _("%(element)s must reference a %(type)s.")
            % {"element": element, "type": resource_type},
            element,
        )
    match = re.search(rf"(?:^|/){resource_type}/(\d{{1,18}})(?:/_history/\d+)?$", text)
    if match is None:
        raise fhir_error(
            400,
            "invalid",
            _("%(element)s must reference a %(type)s of this server, e.g. %(type)s/12.")
            % {"element": element, "type": resource_type},
            element,
        )
    return int(match.group(1))


def references_resolved(payload: dict[str, Any], created: dict[str, str]) -> dict[str, Any]:
    """The payload with a transaction's ``urn:uuid:…`` references replaced by those made."""
    if not created:
        return payload

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (created.get(v, v) if k == "reference" and isinstance(v, str) else walk(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    resolved: dict[str, Any] = walk(payload)
    return resolved


def coding_codes(concepts: Any, system: str | None = None) -> list[str]:
    """The codes of a CodeableConcept or list of them (of ``system`` only, when given)."""
    if concepts is None:
        return []
    items = concepts if isinstance(concepts, list) else [concepts]
    return [
        c.code
        for concept in items
        for c in (concept.coding or [])
        if c.code and (system is None or c.system == system)
    ]


# --- writing resources -----------------------------------------------------------------------


def instant(value: datetime | None) -> str | None:
    """A FHIR instant (UTC, seconds)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def reference(resource_type: str, pk: int | str, display: str | None = None) -> dict[str, str]:
    ref = {"reference": f"{resource_type}/{pk}"}
    if display:
        ref["display"] = display
    return ref


def meta(
    version: int | str, updated: datetime | None, profile: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"versionId": str(version)}
    if updated is not None:
        out["lastUpdated"] = instant(updated)
    if profile:
        out["profile"] = [profile]
    return out


def compact(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without empty elements (FHIR forbids empty strings, lists and objects)."""
    out: dict[str, Any] = {}
    for key, value in resource.items():
        if isinstance(value, dict):
            value = compact(value)
        elif isinstance(value, list):
            value = [compact(v) if isinstance(v, dict) else v for v in value]
            value = [v for v in value if v not in (None, "", {}, [])]
        if value in (None, "", {}, []):
            continue
        out[key] = value
    return out


def searchset(
    request: HttpRequest,
    entries: Sequence[dict[str, Any]],
    total: int,
    *,
    included: Sequence[dict[str, Any]] = (),
    next_url: str | None = None,
) -> dict[str, Any]:
    """A search's Bundle: the matches (``mode: match``) then what ``_include`` added."""
    base = request.build_absolute_uri(fhir_base(request))
    link = [{"relation": "self", "url": request.build_absolute_uri()}]
    if next_url:
        link.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": link,
        "entry": [
            {
                "fullUrl": f"{base}{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": mode},
            }
            for rows, mode in ((entries, "match"), (included, "include"))
            for r in rows
        ],
    }


# Where the FHIR API is mounted on every network's host (``cms.urls``).
FHIR_PATH = "/fhir/r4/"


def fhir_base(request: HttpRequest) -> str:
    """The FHIR base path on this host."""
    return FHIR_PATH


__all__ = [
    "ERRORS",
    "FHIR_JSON",
    "FHIR_PATH",
    "FHIR_VERSION",
    "SDOHCC",
    "FhirRenderer",
    "FhirRequest",
    "OutcomeOut",
    "Resource",
    "SmartBearer",
    "coding_codes",
    "compact",
    "created_response",
    "day",
    "fhir_error",
    "fhir_response",
    "instant",
    "meta",
    "operation_outcome",
    "organization_of",
    "reads_log",
    "reference",
    "reference_id",
    "references_resolved",
    "required",
    "resource_read",
    "scope_required",
    "searchset",
]
