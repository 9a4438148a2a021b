"""What a test EHR posts, and the check that every answer is a valid FHIR R4 resource."""

from __future__ import annotations

import base64
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from cms.categories import SDOHCC_SYSTEM
from referrals.models import Client

SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare"
TASK_CODE = {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]}
IDSCL = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IDSCL"}]
}
# The guide's required elements, checked on every answer of these types.
GUIDE_REQUIRED = {
    "Task": ("status", "intent", "code", "focus", "for", "authoredOn", "requester"),
    "ServiceRequest": ("status", "intent", "code", "subject", "category"),
    "Consent": ("status", "scope", "category", "patient", "dateTime", "organization"),
    "Procedure": ("status", "subject", "code"),
    "Observation": ("status", "category", "code", "subject", "effectiveDateTime"),
    "Condition": ("category", "code", "subject"),
    "Patient": ("name", "gender"),
}


def valid(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` after checking it with the FHIR R4 (R4B) models and, for the guide's profiles,
    its required elements; a Bundle's entries too."""
    kind = body["resourceType"]
    get_fhir_model_class(kind).model_validate(body)
    for element in GUIDE_REQUIRED.get(kind, ()):
        assert body.get(element) not in (None, "", [], {}), f"{kind}.{element} missing: {body}"
    if kind == "Task":
        assert body["intent"] == "order"
        assert body["code"] == TASK_CODE
        if body.get("statusReason"):
            assert body["statusReason"].get("text")
    if kind == "Consent":
        assert IDSCL in body["category"]
    if kind == "Bundle":
        for entry in body.get("entry", []):
            if "resource" in entry:
                valid(entry["resource"])
    return body


def patient(
    first: str = "Ana", last: str = "Reyes", mrn: str = "MRN-1", born: str = "1990-02-03"
) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.3.4", "value": mrn}],
        "name": [{"family": last, "given": [first]}],
        "gender": "female",
        "birthDate": born,
        "telecom": [{"system": "phone", "value": "707-555-0111"}],
        "address": [
            {"line": ["1 Main St"], "city": "Eureka", "state": "CA", "postalCode": "95501"}
        ],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]}}],
    }


def screening(client: Client | str, authored: str, **answers: str) -> dict[str, Any]:
    subject = client if isinstance(client, str) else f"Patient/{client.pk}"
    chosen = answers or {"88122-7": "LA28397-0", "71802-3": "LA31993-1"}
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://loinc.org/q/96777-8",
        "status": "completed",
        "subject": {"reference": subject},
        "authored": authored,
        "item": [
            {
                "linkId": code.replace("_", "-"),
                "answer": [{"valueCoding": {"system": "http://loinc.org", "code": a}}],
            }
            for code, a in chosen.items()
        ],
    }


def consent(
    client: Client | str,
    recipients: list[int],
    needs: list[str],
    *,
    words: str = "I agree to share.",
) -> dict[str, Any]:
    subject = client if isinstance(client, str) else f"Patient/{client.pk}"
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [IDSCL],
        "patient": {"reference": subject},
        "dateTime": "2020-01-01T00:00:00Z",
        "organization": [{"reference": "Organization/1"}],
        "sourceAttachment": {
            "contentType": "text/plain",
            "data": base64.b64encode(words.encode()).decode(),
        },
        "policyRule": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentpolicycodes",
                    "code": "hipaa-auth",
                }
            ]
        },
        "provision": {
            "type": "permit",
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                            }
                        ]
                    },
                    "reference": {"reference": f"Organization/{pk}"},
                }
                for pk in recipients
            ],
            "code": [{"coding": [{"system": SDOHCC_SYSTEM, "code": n}]} for n in needs],
        },
    }


def service_request(
    client: Client | str,
    service_id: int,
    needs: list[str],
    consent_ref: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    subject = client if isinstance(client, str) else f"Patient/{client.pk}"
    body: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": SDOHCC_SYSTEM, "code": n}]} for n in needs],
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "467771000124109"}],
            "text": "Food pantry",
        },
        "subject": {"reference": subject},
        "performer": [{"reference": f"HealthcareService/{service_id}"}],
    }
    if consent_ref:
        body["supportingInfo"] = [{"reference": consent_ref}]
    if note:
        body["note"] = [{"text": note}]
    return body


def task(
    focus: str, client: Client | str, requester: int, owner: int, authored: str
) -> dict[str, Any]:
    subject = client if isinstance(client, str) else f"Patient/{client.pk}"
    return {
        "resourceType": "Task",
        "meta": {"profile": [f"{SDOHCC}/StructureDefinition/SDOHCC-TaskForReferralManagement"]},
        "status": "requested",
        "intent": "order",
        "code": TASK_CODE,
        "focus": {"reference": focus},
        "for": {"reference": subject},
        "authoredOn": authored,
        "requester": {"reference": f"Organization/{requester}"},
        "owner": {"reference": f"Organization/{owner}"},
    }


TASK_TOPIC = f"{SDOHCC}/SubscriptionTopic/Task"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"


def subscription(
    endpoint: str,
    *criteria: str,
    content: str = "id-only",
    status: str = "requested",
    heartbeat: int | None = None,
    headers: tuple[str, ...] = (),
    **changes: Any,
) -> dict[str, Any]:
    """A backport Subscription to the guide's Task topic, as an EHR posts it."""
    channel: dict[str, Any] = {
        "extension": [{"url": f"{BACKPORT}/backport-timeout", "valueUnsignedInt": 5}],
        "type": "rest-hook",
        "endpoint": endpoint,
        "payload": "application/fhir+json",
        "_payload": {
            "extension": [{"url": f"{BACKPORT}/backport-payload-content", "valueCode": content}]
        },
    }
    if heartbeat is not None:
        channel["extension"].append(
            {"url": f"{BACKPORT}/backport-heartbeat-period", "valueUnsignedInt": heartbeat}
        )
    if headers:
        channel["header"] = list(headers)
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": status,
        "reason": "Referral updates for our EHR",
        "criteria": TASK_TOPIC,
        "_criteria": {
            "extension": [
                {"url": f"{BACKPORT}/backport-filter-criteria", "valueString": c} for c in criteria
            ]
        },
        "channel": channel,
    }
    body.update(changes)
    return body
