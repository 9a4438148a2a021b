"""``GET /metadata``: the CapabilityStatement, saying exactly what this server supports.

``SUPPORTED`` is the one table of it: each module that serves a resource lists its
interactions, search parameters and ``_include``s here, and a test checks the table against the
routes (``tests/referrals/fhir/test_capability.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router

from .base import ERRORS, FHIR_PATH, FHIR_VERSION, SDOHCC, Resource

router = Router(tags=["capability"])


@dataclass(frozen=True)
class Supported:
    """One resource type as this server serves it."""

    type: str
    interactions: tuple[str, ...]
    search: tuple[tuple[str, str], ...] = ()  # (name, FHIR search parameter type)
    includes: tuple[str, ...] = ()
    profile: str = ""
    versioned_update: bool = False
    conditional_create: bool = False
    operations: tuple[tuple[str, str], ...] = ()  # (name, OperationDefinition canonical)


SUPPORTED: list[Supported] = [
    Supported(
        "Patient",
        ("create", "read", "search-type"),
        (("_id", "token"), ("identifier", "token")),
        profile="http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient",
        conditional_create=True,
    ),
    Supported(
        "QuestionnaireResponse",
        ("create", "read", "search-type"),
        (("_id", "token"), ("patient", "reference")),
    ),
    Supported(
        "Observation",
        ("read", "search-type"),
        (("_id", "token"), ("patient", "reference"), ("category", "token")),
        profile=f"{SDOHCC}/StructureDefinition/SDOHCC-ObservationScreeningResponse",
    ),
    Supported(
        "Condition",
        ("read", "search-type"),
        (("_id", "token"), ("patient", "reference"), ("category", "token")),
        profile=f"{SDOHCC}/StructureDefinition/SDOHCC-Condition",
    ),
    Supported(
        "Consent",
        ("create", "read", "update", "search-type"),
        (("_id", "token"), ("patient", "reference"), ("status", "token")),
        profile=f"{SDOHCC}/StructureDefinition/SDOHCC-Consent",
    ),
    Supported(
        "ServiceRequest",
        ("create", "read", "search-type"),
        (("_id", "token"), ("patient", "reference"), ("status", "token")),
        ("ServiceRequest:supporting-info",),
        profile=f"{SDOHCC}/StructureDefinition/SDOHCC-ServiceRequest",
    ),
    Supported(
        "Task",
        ("create", "read", "update", "search-type"),
        (
            ("_id", "token"),
            ("_lastUpdated", "date"),
            ("status", "token"),
            ("owner", "reference"),
            ("requester", "reference"),
            ("patient", "reference"),
            ("focus", "reference"),
            ("code", "token"),
        ),
        ("Task:focus", "Task:output"),
        profile=f"{SDOHCC}/StructureDefinition/SDOHCC-TaskForReferralManagement",
        versioned_update=True,
    ),
    Supported(
        "Procedure",
        ("read", "search-type"),
        (("_id", "token"), ("patient", "reference"), ("based-on", "reference")),
        profile=f"{SDOHCC}/StructureDefinition/SDOHCC-Procedure",
    ),
    Supported(
        "Organization",
        ("read", "search-type"),
        (
            ("_id", "token"),
            ("identifier", "token"),
            ("name", "string"),
            ("type", "token"),
            ("address-postalcode", "string"),
        ),
        profile="http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization",
    ),
    Supported(
        "Location",
        ("read", "search-type"),
        (
            ("_id", "token"),
            ("name", "string"),
            ("organization", "reference"),
            ("address-postalcode", "string"),
            ("near", "special"),
        ),
        profile="http://hl7.org/fhir/us/core/StructureDefinition/us-core-location",
    ),
    Supported(
        "HealthcareService",
        ("read", "search-type"),
        (
            ("_id", "token"),
            ("name", "string"),
            ("category", "token"),
            ("service-category", "token"),
            ("organization", "reference"),
            ("location", "reference"),
            ("address-postalcode", "string"),
        ),
    ),
    Supported(
        "Subscription",
        ("create", "read", "update", "delete", "search-type"),
        (("_id", "token"), ("status", "token"), ("url", "uri")),
        profile="http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription",
        versioned_update=True,
        operations=(
            (
                "status",
                "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status",
            ),
        ),
    ),
]


def capability_statement(base_url: str) -> dict[str, Any]:
    """The CapabilityStatement of the server at ``base_url``."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "publisher": "Handoff",
        "kind": "instance",
        "implementation": {"description": "Handoff FHIR R4", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "instantiates": [f"{SDOHCC}/CapabilityStatement/SDOHCC-CoordinationPlatform"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": (
                        "SMART Backend Services: client credentials with a JWT signed RS384 or "
                        "ES384; see .well-known/smart-configuration."
                    ),
                },
                "resource": [_resource(s) for s in SUPPORTED],
            }
        ],
    }


def _resource(s: Supported) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": s.type,
        "interaction": [{"code": code} for code in s.interactions],
    }
    if s.profile:
        out["supportedProfile"] = [s.profile]
    if "update" in s.interactions:
        out["versioning"] = "versioned-update" if s.versioned_update else "versioned"
        out["updateCreate"] = False
    if s.conditional_create:
        out["conditionalCreate"] = True
    out["referencePolicy"] = ["literal"]
    if s.includes:
        out["searchInclude"] = list(s.includes)
    if s.operations:
        out["operation"] = [{"name": name, "definition": url} for name, url in s.operations]
    if s.search:
        out["searchParam"] = [{"name": name, "type": kind} for name, kind in s.search]
    return out


@router.get(
    "/metadata",
    auth=None,
    response={200: Resource, **ERRORS},
    url_name="metadata",
    operation_id="capabilities",
    summary="What this server supports (CapabilityStatement)",
)
def metadata(request: HttpRequest) -> dict[str, Any]:
    return capability_statement(request.build_absolute_uri(FHIR_PATH))
