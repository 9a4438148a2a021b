"""An example EHR for Handoff's FHIR API: the clinic's side of the referral loop, run against
``make demo``.

    .venv/bin/python -m demo.fhir_client                      # screen, consent, refer
    .venv/bin/python -m demo.fhir_client --follow TASK_ID     # where is that referral now?
    .venv/bin/python -m demo.fhir_client --follow TASK_ID --wait 300
    .venv/bin/python -m demo.fhir_client --subscribe --wait 600

It is what an EHR's integration engine does, in plain HTTP (``requests`` and PyJWT; nothing of
Django or of this project is imported): it reads ``.well-known/smart-configuration``, signs a
client assertion with its private key and trades it for a token (SMART Backend Services), reads
the CapabilityStatement, finds a food service and its agency in the directory, creates the
patient (``If-None-Exist`` on the MRN: a second run finds the same one), posts an AHC HRSN
screening, then a transaction Bundle with the patient's consent, the ServiceRequest and its Task
(the referral), and polls the clinic's Tasks as the HL7 Gravity SDOH Clinical Care guide
describes. Once the agency has worked the referral in its portal, ``--follow`` reads the Task
again and the Procedure reporting what the agency did; ``--subscribe`` hears of every change at
once, through a Subscription to the guide's Task topic and a small HTTP endpoint on this machine.

The credentials (client id, key id, private key, FHIR base URL) are the demo EHR's that
``manage.py seed_demo`` registered and wrote to ``var/demo-ehr.json``: demo-only, never
committed. Any other registered system works the same with its own file.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import jwt
import requests

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"
SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare"
SDOHCC_CATEGORY = f"{SDOHCC}/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
TASK_PROFILE = f"{SDOHCC}/StructureDefinition/SDOHCC-TaskForReferralManagement"
TASK_TOPIC = f"{SDOHCC}/SubscriptionTopic/Task"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
TASK_CODE = {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]}
ORGANIZATION_SYSTEM = "urn:handoff:organization"
# This example EHR's own medical record numbers.
MRN_SYSTEM = "urn:demo-ehr:mrn"
NEED = "food-insecurity"
# Where a referral's story ends: after these a Task no longer changes.
FINAL_STATUSES = {"completed", "failed", "rejected", "cancelled", "entered-in-error"}
DEFAULT_CREDENTIALS = (
    Path(os.environ.get("HANDOFF_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
    / "demo-ehr.json"
)
TIMEOUT = 30  # seconds, per HTTP request


class ClientError(Exception):
    """Something the person running the example should read (no traceback)."""


class FhirError(ClientError):
    """The server refused a request: its status and what its OperationOutcome says."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.outcome = _json_or_none(response)
        request = response.request
        where = f"{request.method} {request.url}" if request is not None else response.url
        super().__init__(f"{where} answered {self.status}: {self.diagnostics()}")

    def diagnostics(self) -> str:
        body = self.outcome
        if not isinstance(body, dict):
            return "(no details)"
        if body.get("resourceType") == "OperationOutcome":
            words = []
            for issue in body.get("issue", []):
                text = issue.get("diagnostics") or issue.get("details", {}).get("text", "")
                where = ", ".join(issue.get("expression", []))
                words.append(f"{text} [{where}]" if where else text)
            return "; ".join(w for w in words if w) or "(no details)"
        # OAuth 2.0 errors (the token endpoint): {"error", "error_description"}.
        return f"{body.get('error', '')}: {body.get('error_description', '')}".strip(": ")

    def code(self) -> str:
        """The first issue's coded detail (e.g. ``consent_required``), if any."""
        body = self.outcome if isinstance(self.outcome, dict) else {}
        for issue in body.get("issue", []):
            for coding in issue.get("details", {}).get("coding", []):
                return str(coding.get("code", ""))
        return ""


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# --- credentials and sign-in -----------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """A registered system's identity: what ``seed_demo`` wrote for the demo EHR."""

    fhir_base: str
    client_id: str
    kid: str
    alg: str
    private_key_pem: str
    scope: str
    organization: str  # "Organization/<id>": the clinic the system acts for
    organization_name: str = ""
    agency: dict[str, str] = field(default_factory=dict)  # the demo agency with a login
    portal: str = ""  # the sign-in page of the staff pages

    @classmethod
    def read(cls, path: Path) -> Credentials:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ClientError(
                f"No credentials at {path}. Run `make demo` (or `manage.py seed_demo`) first: "
                "it registers the demo EHR and writes them there."
            ) from exc
        except (OSError, ValueError) as exc:
            raise ClientError(f"Cannot read the credentials in {path}: {exc}") from exc
        missing = [
            key
            for key in ("fhir_base", "client_id", "kid", "alg", "private_key_pem", "scope")
            if not isinstance(data.get(key), str) or not data[key]
        ]
        organization = data.get("organization") or {}
        if missing or not organization.get("reference"):
            raise ClientError(f"{path} is missing {', '.join(missing) or 'organization'}.")
        return cls(
            fhir_base=data["fhir_base"],
            client_id=data["client_id"],
            kid=data["kid"],
            alg=data["alg"],
            private_key_pem=data["private_key_pem"],
            scope=data["scope"],
            organization=organization["reference"],
            organization_name=organization.get("display", ""),
            agency=dict(data.get("agency") or {}),
            portal=data.get("portal", ""),
        )


class FhirClient:
    """The FHIR API of one network, signed in as one system (a new token when it runs out)."""

    def __init__(
        self,
        credentials: Credentials,
        base: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.credentials = credentials
        self.base = (base or credentials.fhir_base).rstrip("/") + "/"
        self.http = session or requests.Session()
        self.http.headers["User-Agent"] = "Handoff demo EHR (demo/fhir_client.py)"
        self.configuration: dict[str, Any] = {}
        self.token = ""
        self.granted = ""
        self.expires_at = 0.0

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def discover(self) -> dict[str, Any]:
        """``.well-known/smart-configuration``: where the token endpoint is, what it takes."""
        answer = self.http.get(
            self.url(".well-known/smart-configuration"),
            headers={"Accept": "application/json"},
            timeout=TIMEOUT,
        )
        if answer.status_code != 200:
            raise FhirError(answer)
        self.configuration = answer.json()
        algorithms = self.configuration.get("token_endpoint_auth_signing_alg_values_supported", [])
        if self.credentials.alg not in algorithms:
            raise ClientError(
                f"The server takes client assertions signed with {', '.join(algorithms)}, "
                f"not {self.credentials.alg}."
            )
        return self.configuration

    def assertion(self) -> str:
        """A client assertion (RFC 7523): a JWT about this client, for the token endpoint only,
        good for four minutes, used once (``jti``), signed with the private key."""
        token_url = self.configuration["token_endpoint"]
        claims = {
            "iss": self.credentials.client_id,
            "sub": self.credentials.client_id,
            "aud": token_url,
            "exp": int(time.time()) + 240,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(
            claims,
            self.credentials.private_key_pem,
            algorithm=self.credentials.alg,
            headers={"kid": self.credentials.kid, "typ": "JWT"},
        )

    def sign_in(self) -> dict[str, Any]:
        """Client credentials with the signed assertion → a bearer token."""
        if not self.configuration:
            self.discover()
        answer = self.http.post(
            self.configuration["token_endpoint"],
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion(),
                "scope": self.credentials.scope,
            },
            headers={"Accept": "application/json"},
            timeout=TIMEOUT,
        )
        if answer.status_code != 200:
            raise FhirError(answer)
        body: dict[str, Any] = answer.json()
        self.token = body["access_token"]
        self.granted = body.get("scope", "")
        self.expires_at = time.monotonic() + int(body.get("expires_in", 300))
        return body

    def request(
        self,
        method: str,
        path: str,
        resource: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        ok: Sequence[int] = (200, 201),
    ) -> requests.Response:
        """One FHIR interaction; a FhirError unless the status is one of ``ok``."""
        if not self.token or time.monotonic() > self.expires_at - 30:
            self.sign_in()
        sent = {"Accept": FHIR_JSON, "Authorization": f"Bearer {self.token}", **(headers or {})}
        data = None
        if resource is not None:
            sent["Content-Type"] = FHIR_JSON
            data = json.dumps(resource)
        answer = self.http.request(method, self.url(path), data=data, headers=sent, timeout=TIMEOUT)
        if answer.status_code not in ok:
            raise FhirError(answer)
        return answer

    def get(self, path: str) -> dict[str, Any]:
        body: dict[str, Any] = self.request("GET", path).json()
        return body

    def post(self, path: str, resource: dict[str, Any], **headers: str) -> dict[str, Any]:
        body: dict[str, Any] = self.request("POST", path, resource, headers=headers).json()
        return body

    def metadata(self) -> dict[str, Any]:
        """The CapabilityStatement (no token needed)."""
        answer = self.http.get(self.url("metadata"), headers={"Accept": FHIR_JSON}, timeout=TIMEOUT)
        if answer.status_code != 200:
            raise FhirError(answer)
        body: dict[str, Any] = answer.json()
        return body


def resources(bundle: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    """The resources of a Bundle's entries (of one type)."""
    found = [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
    return [r for r in found if kind is None or r.get("resourceType") == kind]


def concept(system: str, code: str) -> dict[str, Any]:
    """A CodeableConcept of one code."""
    return {"coding": [{"system": system, "code": code}]}


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reference_id(reference: dict[str, Any] | None) -> str:
    """``{"reference": "Organization/12"}`` → "12"."""
    return str((reference or {}).get("reference", "")).rsplit("/", 1)[-1]


# --- what the example sends ------------------------------------------------------------------


@dataclass(frozen=True)
class PatientDetails:
    mrn: str = "DEMO-EHR-1001"
    given: str = "Tomasa"
    family: str = "Rivera"
    birth_date: str = "1984-09-12"
    phone: str = "707-555-0177"
    language: str = "es"


def patient_resource(details: PatientDetails) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MRN_SYSTEM, "value": details.mrn}],
        "name": [{"use": "official", "family": details.family, "given": [details.given]}],
        "gender": "female",
        "birthDate": details.birth_date,
        "telecom": [{"system": "phone", "value": details.phone}],
        "address": [{"line": ["418 Myrtle Ave"], "city": "Eureka", "state": "CA"}],
        "communication": [
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": details.language}]}}
        ],
    }


# The AHC HRSN answers (LOINC question → LOINC answer): food worries, a steady place to live.
SCREENING_ANSWERS = {
    "88122-7": "LA28397-0",  # Worried that food would run out: often true
    "88123-5": "LA6729-3",  # Food ran out: sometimes true
    "71802-3": "LA31993-1",  # Living situation: a steady place to live
}


def screening_resource(patient: str, authored: datetime) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{LOINC}/q/96777-8",
        "status": "completed",
        "subject": {"reference": patient},
        "authored": instant(authored),
        "item": [
            {"linkId": question, "answer": [{"valueCoding": {"system": LOINC, "code": answer}}]}
            for question, answer in SCREENING_ANSWERS.items()
        ],
    }


def referral_bundle(
    *,
    patient: str,
    clinic: str,
    service: dict[str, Any],
    agency: str,
    words: str,
    note: str,
    authored: datetime,
) -> dict[str, Any]:
    """The transaction: the patient's consent to share with the agency for the need, the
    ServiceRequest for the service (its supporting information: that consent) and the Task
    asking the agency to fulfil it. ``urn:uuid:`` references tie them together."""
    ids = {name: f"urn:uuid:{uuid.uuid4()}" for name in ("consent", "request", "task")}
    need = concept(SDOHCC_CATEGORY, NEED)
    consent = {
        "resourceType": "Consent",
        "status": "active",
        "scope": concept(f"{TERMINOLOGY}/consentscope", "patient-privacy"),
        "category": [concept(f"{TERMINOLOGY}/v3-ActCode", "IDSCL")],
        "patient": {"reference": patient},
        "dateTime": instant(authored),
        "organization": [{"reference": clinic}],
        # A verbal consent: the words read to the patient, attested by the EHR's user.
        "sourceAttachment": {
            "contentType": "text/plain",
            "data": base64.b64encode(words.encode()).decode(),
        },
        "policyRule": concept(f"{TERMINOLOGY}/consentpolicycodes", "hipaa-auth"),
        "provision": {
            "type": "permit",
            "actor": [
                {
                    # The recipient (IRCP): the agency may receive what the patient agreed to.
                    "role": concept(f"{TERMINOLOGY}/v3-ParticipationType", "IRCP"),
                    "reference": {"reference": agency},
                }
            ],
            "code": [need],
        },
    }
    service_request = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [need],
        "code": {
            **concept("http://snomed.info/sct", "467771000124109"),
            "text": f"Referral to {service.get('name', 'a food service')}",
        },
        "subject": {"reference": patient},
        "requester": {"reference": clinic},
        "performer": [{"reference": f"HealthcareService/{service['id']}"}],
        "supportingInfo": [{"reference": ids["consent"]}],
        "note": [{"text": note}],
    }
    task = {
        "resourceType": "Task",
        "meta": {"profile": [TASK_PROFILE]},
        "status": "requested",
        "intent": "order",
        "code": TASK_CODE,
        "focus": {"reference": ids["request"]},
        "for": {"reference": patient},
        "authoredOn": instant(authored),
        "requester": {"reference": clinic},
        "owner": {"reference": agency},
    }
    entries = (("consent", consent), ("request", service_request), ("task", task))
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": ids[name],
                "resource": body,
                "request": {"method": "POST", "url": body["resourceType"]},
            }
            for name, body in entries
        ],
    }


# --- the steps, each said in plain words -----------------------------------------------------


Say = Callable[[str], None]


@dataclass(frozen=True)
class Sent:
    """What one run created, by id."""

    patient: str
    screening: str
    consent: str
    service_request: str
    task: str
    service: dict[str, Any]
    agency: dict[str, Any]


def sign_in_step(client: FhirClient, say: Say) -> None:
    configuration = client.discover()
    say(
        f"1. Discovery: {client.url('.well-known/smart-configuration')}\n"
        f"   token endpoint {configuration['token_endpoint']}, client assertions signed with "
        f"{', '.join(configuration.get('token_endpoint_auth_signing_alg_values_supported', []))}"
    )
    token = client.sign_in()
    say(
        f"2. Signed in (SMART Backend Services): a JWT signed with our {client.credentials.alg} "
        f"key (kid {client.credentials.kid}) traded for a bearer token, good for "
        f"{token.get('expires_in')} s, with {len(client.granted.split())} scopes "
        f"({client.granted.split()[0]} …)"
    )
    statement = client.metadata()
    kinds = [r["type"] for rest in statement.get("rest", []) for r in rest.get("resource", [])]
    implementation = statement.get("implementation", {}).get("description", "a FHIR server")
    say(
        f"3. The server (GET metadata): {implementation}, FHIR {statement.get('fhirVersion')}, "
        f"{len(kinds)} resource types ({', '.join(kinds)})"
    )


def food_service_step(
    client: FhirClient, say: Say, agency_identifier: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A food service taking electronic referrals, and its agency (the demo agency's first)."""
    query = f"HealthcareService?category={NEED}&_count=100"
    if agency_identifier:
        found = resources(
            client.get(f"Organization?identifier={ORGANIZATION_SYSTEM}|{agency_identifier}"),
            "Organization",
        )
        if found:
            query += f"&organization=Organization/{found[0]['id']}"
    services = resources(client.get(query), "HealthcareService")
    electronic = [
        s
        for s in services
        if s.get("active", True)
        and s.get("providedBy")
        and any(
            c.get("code") == "elec"
            for method in s.get("referralMethod", [])
            for c in method.get("coding", [])
        )
    ]
    if not electronic:
        raise ClientError(f"No food service here takes electronic referrals ({query}).")
    service = electronic[0]
    agency = client.get(f"Organization/{reference_id(service['providedBy'])}")
    say(
        f"4. Directory: {query} → {len(services)} services; "
        f"“{service['name']}” (HealthcareService/{service['id']}) of {agency['name']} "
        f"(Organization/{agency['id']}) takes electronic referrals"
    )
    return service, agency


def patient_step(client: FhirClient, say: Say, details: PatientDetails) -> dict[str, Any]:
    """The patient, created once: ``If-None-Exist`` finds the one with this MRN on a rerun. A
    similar patient already at the clinic is a 409; this example then confirms a new one."""
    body = patient_resource(details)
    condition = {"If-None-Exist": f"identifier={MRN_SYSTEM}|{details.mrn}"}
    answer = client.request("POST", "Patient", body, headers=condition, ok=(200, 201, 409))
    if answer.status_code == 409:
        warning = FhirError(answer)
        if warning.code() != "possible_duplicate":
            raise warning
        say(f"   The server warns of a possible duplicate: {warning.diagnostics()}")
        answer = client.request(
            "POST", "Patient", body, headers={**condition, "Handoff-Confirm-New": "true"}
        )
    patient: dict[str, Any] = answer.json()
    how = "created" if answer.status_code == 201 else "found (If-None-Exist on the MRN)"
    say(
        f"5. Patient: {how} Patient/{patient['id']}, {details.given} {details.family}, "
        f"MRN {details.mrn}"
    )
    return patient


def screening_step(client: FhirClient, say: Say, patient: str) -> dict[str, Any]:
    screening = client.post("QuestionnaireResponse", screening_resource(patient, _now()))
    patient_id = patient.rsplit("/", 1)[-1]
    conditions = resources(client.get(f"Condition?patient={patient_id}"), "Condition")
    needs = sorted(
        {
            coding.get("code", "")
            for condition in conditions
            for category in condition.get("category", [])
            for coding in category.get("coding", [])
            if coding.get("system") == SDOHCC_CATEGORY
        }
    )
    say(
        f"6. Screening: AHC HRSN QuestionnaireResponse/{screening['id']} scored by the server; "
        f"the patient's health concerns (Condition): {', '.join(needs) or 'none'}"
    )
    return screening


def referral_step(
    client: FhirClient,
    say: Say,
    *,
    patient: str,
    service: dict[str, Any],
    agency: dict[str, Any],
    note: str,
) -> dict[str, dict[str, Any]]:
    bundle = referral_bundle(
        patient=patient,
        clinic=client.credentials.organization,
        service=service,
        agency=f"Organization/{agency['id']}",
        words=(
            f"I agree that {client.credentials.organization_name or 'my clinic'} shares my "
            f"name, phone, language and this referral's note with {agency['name']} so that "
            "they can help me with food."
        ),
        note=note,
        authored=_now(),
    )
    answer = client.post("", bundle)
    made = {r["resourceType"]: r for r in resources(answer)}
    task = made["Task"]
    say(
        "7. Referral: one transaction Bundle, all or nothing: "
        f"Consent/{made['Consent']['id']} (to {agency['name']}, for {NEED}), "
        f"ServiceRequest/{made['ServiceRequest']['id']}, Task/{task['id']} "
        f"(status {task['status']}, owner Organization/{reference_id(task.get('owner'))})"
    )
    return made


def poll_step(client: FhirClient, say: Say, since: datetime) -> list[dict[str, Any]]:
    """The guide's polling: the clinic's Tasks changed since a moment."""
    query = (
        f"Task?requester={client.credentials.organization}"
        f"&_lastUpdated=ge{instant(since)}&_count=100"
    )
    tasks = resources(client.get(query), "Task")
    listed = ", ".join(f"Task/{t['id']} {t['status']}" for t in tasks) or "none"
    say(f"8. Polling: {query} → {listed}")
    return tasks


def send(
    client: FhirClient,
    say: Say,
    *,
    details: PatientDetails,
    agency_identifier: str = "",
    note: str = "Prefers a call after 5 pm, in Spanish.",
) -> Sent:
    """Screen, consent and refer one patient to a food service (once signed in)."""
    started = _now() - timedelta(seconds=1)
    service, agency = food_service_step(client, say, agency_identifier)
    patient = patient_step(client, say, details)
    subject = f"Patient/{patient['id']}"
    screening = screening_step(client, say, subject)
    made = referral_step(client, say, patient=subject, service=service, agency=agency, note=note)
    poll_step(client, say, started)
    return Sent(
        patient=patient["id"],
        screening=screening["id"],
        consent=made["Consent"]["id"],
        service_request=made["ServiceRequest"]["id"],
        task=made["Task"]["id"],
        service=service,
        agency=agency,
    )


def task_said(task: dict[str, Any]) -> str:
    words = f"Task/{task['id']} is {task['status']} (version {task['meta']['versionId']})"
    reason = (task.get("statusReason") or {}).get("text")
    if reason:
        words += f": {reason}"
    business = (task.get("businessStatus") or {}).get("text")
    if business:
        words += f"; outcome: {business}"
    return words


def procedure_step(client: FhirClient, say: Say, task: dict[str, Any]) -> dict[str, Any] | None:
    """What the agency reported doing: the Procedure the finished Task's output names."""
    for output in task.get("output", []):
        reference = (output.get("valueReference") or {}).get("reference", "")
        if reference.startswith("Procedure/"):
            procedure = client.get(reference)
            note = "; ".join(n.get("text", "") for n in procedure.get("note", []))
            say(
                f"   {reference}: {procedure['status']}, outcome "
                f"“{(procedure.get('outcome') or {}).get('text', '')}”, performed "
                f"{procedure.get('performedDateTime', '?')}" + (f", note: {note}" if note else "")
            )
            return procedure
    return None


def follow(
    client: FhirClient,
    say: Say,
    task_id: str,
    *,
    wait: float = 0,
    interval: float = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Read the Task (and its Procedure once it has one); with ``wait``, read it again every
    ``interval`` seconds until it is finished or the time is up, saying each change."""
    deadline = time.monotonic() + wait
    task = client.get(f"Task/{task_id}")
    say(f"   {task_said(task)}")
    while task["status"] not in FINAL_STATUSES and time.monotonic() < deadline:
        sleep(min(interval, max(deadline - time.monotonic(), 0)))
        again = client.get(f"Task/{task_id}")
        if again["meta"]["versionId"] != task["meta"]["versionId"]:
            say(f"   {task_said(again)}")
        task = again
    if task["status"] in FINAL_STATUSES:
        procedure_step(client, say, task)
    return task


# --- a Subscription and its rest-hook --------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """One notification as the server sent it (``id-only``: the Task's reference, no content)."""

    kind: str  # handshake, heartbeat, event-notification
    status: str
    events: str
    focus: str  # "Task/12" for an event


def notification_read(bundle: dict[str, Any]) -> Notification:
    """The subscription-status Parameters of a notification Bundle, read."""
    parameters = next(iter(resources(bundle, "Parameters")), {})
    values: dict[str, Any] = {}
    focus = ""
    for parameter in parameters.get("parameter", []):
        name = parameter.get("name")
        values[name] = next((v for k, v in parameter.items() if k.startswith("value")), "")
        for part in parameter.get("part", []):
            if part.get("name") == "focus":
                focus = part.get("valueReference", {}).get("reference", "")
    return Notification(
        kind=str(values.get("type", "")),
        status=str(values.get("status", "")),
        events=str(values.get("events-since-subscription-start", "")),
        focus="/".join(focus.rsplit("/", 2)[-2:]) if focus else "",
    )


@contextmanager
def rest_hook(port: int = 0) -> Iterator[tuple[str, queue.Queue[Notification]]]:
    """A rest-hook endpoint on this machine (127.0.0.1): (its URL, the notifications heard)."""
    heard: queue.Queue[Notification] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                heard.put(notification_read(json.loads(self.rfile.read(length))))
                self.send_response(200)
            except (ValueError, AttributeError):
                self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/notifications", heard
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def subscription_resource(endpoint: str, requester: str) -> dict[str, Any]:
    """A backport Subscription to the guide's Task topic: the clinic's own Tasks, id-only."""
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Referral updates for the demo EHR",
        "criteria": TASK_TOPIC,
        "_criteria": {
            "extension": [
                {
                    "url": f"{BACKPORT}/backport-filter-criteria",
                    "valueString": f"Task?requester={requester}",
                }
            ]
        },
        "channel": {
            "extension": [{"url": f"{BACKPORT}/backport-timeout", "valueUnsignedInt": 5}],
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": FHIR_JSON,
            "_payload": {
                "extension": [
                    {"url": f"{BACKPORT}/backport-payload-content", "valueCode": "id-only"}
                ]
            },
        },
    }


def subscribe(client: FhirClient, say: Say, endpoint: str) -> dict[str, Any] | None:
    """Subscribe to the clinic's Tasks (None: this server refuses an endpoint on this
    machine, as it must in production)."""
    try:
        subscription = client.post(
            "Subscription", subscription_resource(endpoint, client.credentials.organization)
        )
    except FhirError as exc:
        if exc.status != 400:
            raise
        say(
            f"   The server refused the Subscription: {exc.diagnostics()}\n"
            "   (an http:// endpoint on this machine is taken only where DEBUG, or "
            "FHIR_SUBSCRIPTION_ALLOW_HTTP and FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES, allow "
            "it: `make demo` does.) Polling instead."
        )
        return None
    say(
        f"   Subscription/{subscription['id']} to the Task topic "
        f"(Task?requester={client.credentials.organization}), notifications to {endpoint}"
    )
    return subscription


def listen(
    client: FhirClient,
    say: Say,
    heard: queue.Queue[Notification],
    *,
    wait: float,
    task_id: str = "",
) -> None:
    """Say each notification as it arrives, reading the Task it names, until ``task_id``
    is finished or ``wait`` seconds have passed."""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            notification = heard.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if notification.kind != "event-notification":
            say(f"   Notification: {notification.kind} (subscription {notification.status})")
            continue
        say(f"   Notification #{notification.events}: {notification.focus} changed")
        if not notification.focus:
            continue
        task = client.get(notification.focus)
        say(f"   {task_said(task)}")
        if task["status"] in FINAL_STATUSES:
            procedure_step(client, say, task)
            if task["id"] == task_id:
                return


def _now() -> datetime:
    return datetime.now(UTC)


# --- the command -----------------------------------------------------------------------------


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo.fhir_client",
        description=(
            "An example EHR: screens a patient, records consent and sends a referral through "
            "Handoff's FHIR API, then follows it (run `make demo` first)."
        ),
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        default=DEFAULT_CREDENTIALS,
        help=f"the system's credentials, as seed_demo writes them (default: {DEFAULT_CREDENTIALS})",
    )
    parser.add_argument(
        "--base", help="the FHIR base URL (default: the credentials' fhir_base)", default=None
    )
    parser.add_argument("--follow", metavar="TASK_ID", help="read this referral's Task instead")
    parser.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="keep following the referral this long (until it is finished)",
    )
    parser.add_argument(
        "--interval", type=float, default=5, metavar="SECONDS", help="how often to poll"
    )
    parser.add_argument(
        "--subscribe",
        action="store_true",
        help=(
            "hear of changes through a Subscription and an endpoint on this machine "
            "(waits 600 s unless --wait says otherwise)"
        ),
    )
    parser.add_argument("--listen-port", type=int, default=0, help="the endpoint's port")
    parser.add_argument("--mrn", default=PatientDetails.mrn, help="the patient's MRN")
    parser.add_argument("--agency", default=None, help="the agency's identifier (slug) to refer to")
    return parser.parse_args(argv)


def run(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    session: requests.Session | None = None,
) -> int:
    stream = out or sys.stdout

    def say(text: str) -> None:
        stream.write(text + "\n")
        stream.flush()

    options = arguments(argv)
    try:
        credentials = Credentials.read(options.credentials)
        client = FhirClient(credentials, options.base, session)
        say(
            f"Handoff FHIR example client: a system of "
            f"{credentials.organization_name or credentials.organization} at {client.base}"
        )
        wait = options.wait or (600 if options.subscribe else 0)
        sign_in_step(client, say)
        with _subscribed(client, say, options) as heard:
            if options.follow:
                say(f"Following Task/{options.follow}:")
                if heard is None:
                    follow(client, say, options.follow, wait=wait, interval=options.interval)
                else:
                    task = follow(client, say, options.follow)
                    if task["status"] not in FINAL_STATUSES:
                        listen(client, say, heard, wait=wait, task_id=options.follow)
                return 0
            agency = credentials.agency.get("identifier", "") if options.agency is None else ""
            sent = send(
                client,
                say,
                details=PatientDetails(mrn=options.mrn),
                agency_identifier=options.agency or agency,
            )
            _next_steps(say, credentials, sent, options, listening=wait if heard else 0)
            if heard is not None:
                say(f"Listening for notifications for {wait:.0f} s (Ctrl-C stops):")
                listen(client, say, heard, wait=wait, task_id=sent.task)
            elif wait:
                say(f"Following Task/{sent.task} for {wait:.0f} s:")
                follow(client, say, sent.task, wait=wait, interval=options.interval)
    except requests.ConnectionError as exc:
        where = urlsplit(str(exc.request.url)).netloc if exc.request is not None else ""
        say(f"Cannot reach {where or 'the server'}: is `make demo` running?")
        return 2
    except ClientError as exc:
        say(f"Stopped: {exc}")
        return 1
    except KeyboardInterrupt:
        say("Stopped.")
        return 130
    return 0


@contextmanager
def _subscribed(
    client: FhirClient, say: Say, options: argparse.Namespace
) -> Iterator[queue.Queue[Notification] | None]:
    """With ``--subscribe``: an endpoint here and a Subscription to it, deleted afterwards."""
    if not options.subscribe:
        yield None
        return
    with rest_hook(options.listen_port) as (endpoint, heard):
        say("Subscription (rest-hook on this machine):")
        subscription = subscribe(client, say, endpoint)
        if subscription is None:
            yield None
            return
        _handshake_wait(say, heard)
        try:
            yield heard
        finally:
            with suppress(requests.RequestException, ClientError):
                client.request("DELETE", f"Subscription/{subscription['id']}", ok=(204, 200))
                say(f"   Subscription/{subscription['id']} deleted.")


def _handshake_wait(say: Say, heard: queue.Queue[Notification], seconds: float = 5) -> None:
    """The server's first POST to a new subscription is its handshake: proof it reaches us."""
    try:
        first = heard.get(timeout=seconds)
    except queue.Empty:
        say("   No handshake yet (the server may send it from a background worker).")
        return
    if first.kind == "handshake":
        say("   The server's handshake arrived: it reaches this endpoint.")
    else:
        heard.put(first)  # an event already: the listener says it


def _next_steps(
    say: Say,
    credentials: Credentials,
    sent: Sent,
    options: argparse.Namespace,
    *,
    listening: float = 0,
) -> None:
    agency = credentials.agency
    login = (
        f" as {agency['login']} (the demo password, handoff-demo unless HANDOFF_DEMO_PASSWORD "
        "said otherwise)"
        if agency.get("login") and agency.get("identifier") == _slug_of(sent.agency)
        else " as a member of the agency"
    )
    site = credentials.portal.rsplit("/accounts/", 1)[0] if credentials.portal else ""
    command = "python -m demo.fhir_client"
    if options.credentials != DEFAULT_CREDENTIALS:
        command += f" --credentials {options.credentials}"
    if options.base:
        command += f" --base {options.base}"
    follow_it = f".venv/bin/{command} --follow {sent.task}"
    say(
        "\nNext: the agency works the referral.\n"
        f"  Sign in at {credentials.portal or 'the staff pages'}{login},\n"
        f"  open {site}/workspace/referrals/{sent.task}/ (or the inbox), accept it, then "
        "complete it with an outcome"
        + (
            f" now: this run hears of each change for {listening:.0f} s.\n"
            f"  Later, read it again with:  {follow_it}"
            if listening
            else ".\n"
            f"  Then see the change and the Procedure:  {follow_it}\n"
            f"  or keep polling while you do it:         {follow_it} --wait 300"
        )
    )


def _slug_of(organization: dict[str, Any]) -> str:
    for identifier in organization.get("identifier", []):
        if identifier.get("system") == ORGANIZATION_SYSTEM:
            return str(identifier.get("value", ""))
    return ""


if __name__ == "__main__":
    raise SystemExit(run())
