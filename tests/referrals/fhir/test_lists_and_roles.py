"""Every FHIR list answers in a number of queries that does not grow with its rows; every
operation refuses the wrong role (a clinic's or an agency's system doing the other's work); the
CapabilityStatement names exactly the operations served."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referrals.fhir import api
from referrals.fhir.capability import SUPPORTED
from referrals.models import Client, Referral, Screening, ServiceRequestRecord
from referrals.services.clients import client_create, screening_record
from tests.consent.factories import consent_verbal
from tests.referrals.factories import Loop, move
from tests.referrals.fhir import resources as fhir
from tests.referrals.fhir.support import Ehr, ehr_make, instant_of

pytestmark = pytest.mark.django_db


def _sent(loop: Loop, n: int) -> list[Referral]:
    """n referrals of the loop's client, half of them completed (with a Procedure)."""
    made = []
    for i in range(n):
        referral = loop.send(key=f"list-{i}-{timezone.now().timestamp()}")
        if i % 2:
            move(referral, "accepted", loop.agency_staff, loop.food_agency)
            move(
                referral,
                "completed",
                loop.agency_staff,
                loop.food_agency,
                outcome="service-provided",
            )
        made.append(referral)
    for _ in range(n):
        screening_record(
            client=loop.client,
            by=loop.clinic_staff,
            organization=loop.clinic,
            answers={"88122-7": "LA28397-0"},
        )
        consent_verbal(
            client=loop.client,
            by=loop.clinic_staff,
            organization=loop.clinic,
            categories=["food-insecurity"],
            whole_network=True,
        )
        client_create(
            organization=loop.clinic,
            by=loop.clinic_staff,
            first_name=f"Client{Client.objects.count()}",
            last_name="Listed",
            date_of_birth=date(1970, 1, 1) + timedelta(days=Client.objects.count()),
            confirm_new=True,
        )
    return made


LISTS: dict[str, Callable[[Loop], str]] = {
    "Task": lambda loop: (
        f"Task?owner=Organization/{loop.food_agency.pk}&_include=Task:focus&_include=Task:output"
    ),
    "Task-polling": lambda loop: (
        f"Task?requester=Organization/{loop.clinic.pk}"
        f"&_lastUpdated=gt{instant_of(timezone.now() - timedelta(days=365))}"
    ),
    "ServiceRequest": lambda loop: f"ServiceRequest?patient=Patient/{loop.client.pk}",
    "Procedure": lambda loop: f"Procedure?patient=Patient/{loop.client.pk}",
    "Patient": lambda loop: "Patient",
    "Consent": lambda loop: f"Consent?patient=Patient/{loop.client.pk}",
    "QuestionnaireResponse": lambda loop: f"QuestionnaireResponse?patient=Patient/{loop.client.pk}",
    "Observation": lambda loop: f"Observation?patient=Patient/{loop.client.pk}",
    "Condition": lambda loop: f"Condition?patient=Patient/{loop.client.pk}",
}


def _count(ehr: Ehr, path: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        answer = ehr.get(path)
    assert answer.status_code == 200, answer.content
    fhir.valid(answer.json())
    return len(queries), len(answer.json().get("entry", []))


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_list_costs_the_same_queries_for_2_and_8_rows(loop: Loop, name: str) -> None:
    clinic = ehr_make(loop.clinic, name="Clinic EHR").sign_in()
    agency = ehr_make(loop.food_agency, name="Pantry system").sign_in()
    ehr = agency if name == "Task" else clinic
    _sent(loop, 2)
    few, rows_few = _count(ehr, LISTS[name](loop))
    _sent(loop, 6)
    many, rows_many = _count(ehr, LISTS[name](loop))
    assert rows_many > rows_few
    assert many == few, f"{name}: {few} queries for {rows_few} entries, {many} for {rows_many}"


# --- the wrong role --------------------------------------------------------------------------


def test_an_agency_system_cannot_do_a_clinics_work(loop: Loop) -> None:
    agency = ehr_make(loop.food_agency, name="Pantry system").sign_in()
    subject = f"Patient/{loop.client.pk}"
    now = instant_of(timezone.now())
    refused = {
        "Patient": agency.post("Patient", fhir.patient()),
        "QuestionnaireResponse": agency.post("QuestionnaireResponse", fhir.screening(subject, now)),
        "Consent": agency.post(
            "Consent", fhir.consent(subject, [loop.food_agency.pk], ["food-insecurity"])
        ),
        "ServiceRequest": agency.post(
            "ServiceRequest", fhir.service_request(subject, loop.food.pk, ["food-insecurity"])
        ),
        "Task": agency.post(
            "Task",
            fhir.task("ServiceRequest/sr-1", subject, loop.clinic.pk, loop.food_agency.pk, now),
        ),
    }
    for kind, answer in refused.items():
        assert answer.status_code in {403, 404}, (kind, answer.status_code, answer.content)
        assert fhir.valid(answer.json())["resourceType"] == "OperationOutcome"
    # Nor read the clinic's client outside a referral, nor its screenings.
    assert agency.get(subject).status_code == 404
    assert agency.get("Patient").json().get("entry", []) == []
    assert not Screening.objects.exists()
    assert not ServiceRequestRecord.objects.exists()


def test_a_clinic_system_cannot_work_a_referral_it_sent(loop: Loop) -> None:
    clinic = ehr_make(loop.clinic, name="Clinic EHR").sign_in()
    referral = loop.send(key="roles")
    task = clinic.get(f"Task/{referral.pk}").json()
    for status in ("accepted", "rejected", "in-progress", "completed"):
        answer = clinic.put(
            f"Task/{referral.pk}",
            {**task, "status": status, "statusReason": {"text": "x"}},
            HTTP_IF_MATCH='W/"1"',
        )
        assert answer.status_code in {403, 422}, (status, answer.content)
    referral.refresh_from_db()
    assert referral.status == "requested"


def test_another_agency_sees_nothing_of_the_referral(loop: Loop) -> None:
    housing = ehr_make(loop.housing_agency, name="Housing system").sign_in()
    referral = loop.send(key="other-agency")
    for path in (
        f"Task/{referral.pk}",
        f"ServiceRequest/{referral.pk}",
        f"Patient/{referral.client_id}",
    ):
        assert housing.get(path).status_code == 404, path
    found = housing.get(f"Task?owner=Organization/{loop.food_agency.pk}").json()
    assert found.get("entry", []) == []


def test_scopes_are_checked_per_interaction(loop: Loop) -> None:
    reader = ehr_make(loop.clinic, name="Reader", scopes="system/Task.rs system/Patient.r").sign_in(
        "system/Task.rs system/Patient.r"
    )
    referral = loop.send(key="scopes")
    assert reader.get(f"Task/{referral.pk}").status_code == 200
    assert reader.get("Patient").status_code == 403  # read, not search
    task = reader.get(f"Task/{referral.pk}").json()
    assert (
        reader.put(
            f"Task/{referral.pk}", {**task, "status": "cancelled", "statusReason": {"text": "x"}}
        ).status_code
        == 403
    )
    assert reader.post("Patient", fhir.patient()).status_code == 403


# --- the CapabilityStatement -----------------------------------------------------------------

_INTERACTIONS = {
    ("GET", False): "search-type",
    ("GET", True): "read",
    ("POST", False): "create",
    ("PUT", True): "update",
    ("DELETE", True): "delete",
}


def _served() -> dict[str, set[str]]:
    served: dict[str, set[str]] = {}
    for _prefix, router in api._routers:
        for path, view in router.path_operations.items():
            parts = [p for p in path.strip("/").split("/") if p]
            if not parts or parts[0] in {"metadata"} or any(p.startswith("$") for p in parts):
                continue
            for operation in view.operations:
                for method in operation.methods:
                    interaction = _INTERACTIONS.get((method, len(parts) > 1))
                    if interaction:
                        served.setdefault(parts[0], set()).add(interaction)
    return served


def test_the_capability_statement_says_exactly_what_is_served(loop: Loop) -> None:
    host = loop.tenant.network.site.hostname
    statement = fhir.valid(HttpClient().get("/fhir/r4/metadata", HTTP_HOST=host).json())
    declared = {
        r["type"]: {i["code"] for i in r["interaction"]} for r in statement["rest"][0]["resource"]
    }
    assert declared == {s.type: set(s.interactions) for s in SUPPORTED}
    assert declared == _served()
    operations = {
        (r["type"], o["name"])
        for r in statement["rest"][0]["resource"]
        for o in r.get("operation", [])
    }
    assert operations == {("Subscription", "status")}
