"""The referral loop through FHIR: an EHR screens, records consent, sends a ServiceRequest and
its Task; the agency's system accepts and completes it; the clinic reads the Procedure. The
same services as the pages refuse what the pages refuse."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from consent.models import AccessLog, AccessPurpose, Consent
from referrals.models import Referral, ReferralStatus, Screening, ServiceRequestRecord
from tests.referrals.factories import Loop
from tests.referrals.fhir.resources import (
    consent,
    patient,
    screening,
    service_request,
    task,
    valid,
)
from tests.referrals.fhir.support import Ehr, ehr_make, instant_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic_ehr(loop: Loop) -> Ehr:
    return ehr_make(loop.clinic, name="Clinic EHR").sign_in()


@pytest.fixture
def agency_ehr(loop: Loop) -> Ehr:
    return ehr_make(loop.food_agency, name="Pantry system").sign_in()


def now_text() -> str:
    return instant_of(timezone.now())


def sent(ehr: Ehr, loop: Loop, client: str | None = None) -> dict[str, Any]:
    """A ServiceRequest for the food pantry and its Task, posted in sequence: the Task."""
    subject = client or f"Patient/{loop.client.pk}"
    made = ehr.post(
        "ServiceRequest",
        service_request(subject, loop.food.pk, ["food-insecurity"], note="Call after 5pm"),
    )
    assert made.status_code == 201, made.content
    body = valid(made.json())
    answer = ehr.post(
        "Task",
        task(
            f"ServiceRequest/{body['id']}", subject, loop.clinic.pk, loop.food_agency.pk, now_text()
        ),
    )
    assert answer.status_code == 201, answer.content
    return valid(answer.json())


def test_patient_create_checks_duplicates_and_mrn(loop: Loop, clinic_ehr: Ehr) -> None:
    made = clinic_ehr.post("Patient", patient())
    assert made.status_code == 201, made.content
    body = valid(made.json())
    assert body["name"] == [{"family": "Reyes", "given": ["Ana"]}]
    assert body["identifier"][0]["value"] == "MRN-1"
    # The same MRN again: 409; with If-None-Exist, the existing one.
    assert clinic_ehr.post("Patient", patient()).status_code == 409
    again = clinic_ehr.post("Patient", patient(), HTTP_IF_NONE_EXIST="identifier=MRN-1")
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    # A similar name and the same birth date: the page's duplicate warning, as a 409.
    similar = clinic_ehr.post("Patient", patient(first="Anna", mrn="MRN-2"))
    assert similar.status_code == 409
    assert f"Patient/{body['id']}" in similar.json()["issue"][0]["diagnostics"]
    confirmed = clinic_ehr.post(
        "Patient", patient(first="Anna", mrn="MRN-2"), HTTP_HANDOFF_CONFIRM_NEW="true"
    )
    assert confirmed.status_code == 201
    found = clinic_ehr.get("Patient?identifier=urn:oid:1.2.3.4|MRN-1")
    assert [e["resource"]["id"] for e in valid(found.json())["entry"]] == [body["id"]]


def test_patient_without_a_name_is_a_400_naming_the_element(clinic_ehr: Ehr) -> None:
    body = patient()
    del body["name"]
    answer = clinic_ehr.post("Patient", body)
    assert answer.status_code == 400
    assert valid(answer.json())["issue"][0]["expression"] == ["Patient.name.family"]
    wrong = clinic_ehr.post("Patient", {**patient(), "birthDate": "yesterday"})
    assert wrong.status_code == 400
    assert wrong.json()["issue"][0]["expression"] == ["Patient.birthDate"]


def test_screening_is_scored_and_reads_as_observations_and_conditions(
    loop: Loop, clinic_ehr: Ehr
) -> None:
    made = clinic_ehr.post("QuestionnaireResponse", screening(loop.client, now_text()))
    assert made.status_code == 201, made.content
    body = valid(made.json())
    recorded = Screening.objects.get(pk=body["id"])
    assert recorded.positive_categories == ["food-insecurity"]
    observations = valid(clinic_ehr.get(f"Observation?patient=Patient/{loop.client.pk}").json())
    codes = {
        e["resource"]["code"]["coding"][0]["code"]: e["resource"] for e in observations["entry"]
    }
    assert codes["88122-7"]["interpretation"][0]["coding"][0]["code"] == "POS"
    assert "interpretation" not in codes["71802-3"]
    conditions = valid(
        clinic_ehr.get(f"Condition?patient={loop.client.pk}&category=food-insecurity").json()
    )
    assert [e["resource"]["id"] for e in conditions["entry"]] == [f"{recorded.pk}-food-insecurity"]
    assert valid(clinic_ehr.get(f"Condition/{recorded.pk}-food-insecurity").json())["evidence"]
    assert clinic_ehr.get(f"QuestionnaireResponse/{recorded.pk}").status_code == 200


def test_a_bad_answer_is_a_400_and_nothing_is_recorded(loop: Loop, clinic_ehr: Ehr) -> None:
    answer = clinic_ehr.post(
        "QuestionnaireResponse", screening(loop.client, now_text(), **{"88122-7": "LA0000-0"})
    )
    assert answer.status_code == 400
    assert valid(answer.json())["issue"][0]["expression"] == ["QuestionnaireResponse.item"]
    assert not Screening.objects.exists()


def test_the_whole_loop_in_sequence(loop: Loop, clinic_ehr: Ehr, agency_ehr: Ehr) -> None:
    before = timezone.now()
    created = sent(clinic_ehr, loop)
    referral = Referral.objects.get(pk=created["id"])
    assert referral.status == ReferralStatus.REQUESTED
    assert referral.sent_by == clinic_ehr.client.user
    assert created["owner"] == {"reference": f"Organization/{loop.food_agency.pk}"}
    # The agency polls, as the guide describes.
    since = instant_of(before - timedelta(seconds=1))
    polled = agency_ehr.get(
        f"Task?owner=Organization/{loop.food_agency.pk}&_lastUpdated=gt{since}&_include=Task:focus"
    )
    assert polled.status_code == 200
    bundle = valid(polled.json())
    assert [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"] == [
        created["id"]
    ]
    assert [
        e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "include"
    ] == ["ServiceRequest"]
    # Reading the Task (the agency's first read marks it seen, and is logged under the system).
    read = agency_ehr.get(f"Task/{created['id']}")
    assert read["ETag"] == 'W/"1"'
    assert AccessLog.objects.filter(
        user=agency_ehr.client.user, purpose=AccessPurpose.FHIR
    ).exists()
    # Accept, then a stale update is a 412.
    accepted = agency_ehr.put(
        f"Task/{created['id']}", {**read.json(), "status": "accepted"}, HTTP_IF_MATCH='W/"1"'
    )
    assert accepted.status_code == 200, accepted.content
    assert valid(accepted.json())["meta"]["versionId"] == "2"
    stale = agency_ehr.put(
        f"Task/{created['id']}", {**read.json(), "status": "in-progress"}, HTTP_IF_MATCH='W/"1"'
    )
    assert stale.status_code == 412
    assert valid(stale.json())["resourceType"] == "OperationOutcome"
    # Completing needs an outcome: a 422 without one.
    current = agency_ehr.get(f"Task/{created['id']}").json()
    missing = agency_ehr.put(
        f"Task/{created['id']}", {**current, "status": "completed"}, HTTP_IF_MATCH='W/"2"'
    )
    assert missing.status_code == 422
    assert missing.json()["issue"][0]["details"]["coding"][0]["code"] == "outcome_required"
    done = agency_ehr.put(
        f"Task/{created['id']}",
        {
            **current,
            "status": "completed",
            "output": [
                {
                    "type": {
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes",
                                "code": "resulting-activity",
                            }
                        ]
                    },
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": "urn:handoff:referral-outcome", "code": "service-provided"}
                        ]
                    },
                }
            ],
        },
        HTTP_IF_MATCH='W/"2"',
    )
    assert done.status_code == 200, done.content
    assert done.json()["output"][0]["valueReference"] == {"reference": f"Procedure/{created['id']}"}
    # The clinic reads the Task with its output and finds the Procedure.
    closed = valid(clinic_ehr.get(f"Task?_id={created['id']}&_include=Task:output").json())
    procedures = [
        e["resource"] for e in closed["entry"] if e["resource"]["resourceType"] == "Procedure"
    ]
    assert procedures[0]["status"] == "completed"
    procedure = valid(clinic_ehr.get(f"Procedure/{created['id']}").json())
    assert procedure["outcome"]["coding"][0]["code"] == "service-provided"


def test_the_owner_cannot_be_changed_and_the_requester_may_only_cancel(
    loop: Loop, clinic_ehr: Ehr
) -> None:
    created = sent(clinic_ehr, loop)
    accept = clinic_ehr.put(
        f"Task/{created['id']}", {**created, "status": "accepted"}, HTTP_IF_MATCH='W/"1"'
    )
    assert accept.status_code in {403, 422}
    moved = clinic_ehr.put(
        f"Task/{created['id']}",
        {
            **created,
            "owner": {"reference": f"Organization/{loop.housing_agency.pk}"},
            "status": "cancelled",
        },
        HTTP_IF_MATCH='W/"1"',
    )
    assert moved.status_code == 400
    assert moved.json()["issue"][0]["expression"] == ["Task.owner"]
    cancelled = clinic_ehr.put(
        f"Task/{created['id']}",
        {**created, "status": "cancelled", "statusReason": {"text": "Found food elsewhere"}},
        HTTP_IF_MATCH='W/"1"',
    )
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["statusReason"]["text"] == "Found food elsewhere"


def test_no_consent_for_the_agency_is_refused_and_nothing_is_sent(
    loop: Loop, clinic_ehr: Ehr
) -> None:
    made = clinic_ehr.post("Patient", patient())
    subject = f"Patient/{made.json()['id']}"
    request = clinic_ehr.post(
        "ServiceRequest", service_request(subject, loop.food.pk, ["food-insecurity"])
    )
    answer = clinic_ehr.post(
        "Task",
        task(
            f"ServiceRequest/{request.json()['id']}",
            subject,
            loop.clinic.pk,
            loop.food_agency.pk,
            now_text(),
        ),
    )
    assert answer.status_code == 422
    assert valid(answer.json())["issue"][0]["details"]["coding"][0]["code"] == "consent_required"
    assert not Referral.objects.filter(client_id=made.json()["id"]).exists()
    # With a consent naming the agency for the need, the same Task goes.
    given = clinic_ehr.post("Consent", consent(subject, [loop.food_agency.pk], ["food-insecurity"]))
    assert given.status_code == 201, given.content
    valid(given.json())
    again = clinic_ehr.post(
        "Task",
        task(
            f"ServiceRequest/{request.json()['id']}",
            subject,
            loop.clinic.pk,
            loop.food_agency.pk,
            now_text(),
        ),
    )
    assert again.status_code == 201, again.content
    # The same Task once more returns the same referral.
    repeat = clinic_ehr.post(
        "Task",
        task(
            f"ServiceRequest/{request.json()['id']}",
            subject,
            loop.clinic.pk,
            loop.food_agency.pk,
            now_text(),
        ),
    )
    assert repeat.status_code == 200
    assert repeat.json()["id"] == again.json()["id"]


def test_consent_revoked_stops_disclosure(loop: Loop, clinic_ehr: Ehr, agency_ehr: Ehr) -> None:
    made = clinic_ehr.post("Patient", patient())
    subject = f"Patient/{made.json()['id']}"
    given = clinic_ehr.post(
        "Consent", consent(subject, [loop.food_agency.pk], ["food-insecurity"])
    ).json()
    created = sent(clinic_ehr, loop, subject)
    assert agency_ehr.get(subject).json()["name"] == [{"text": "Ana Reyes"}]
    revoked = clinic_ehr.put(f"Consent/{given['id']}", {**given, "status": "inactive"})
    assert revoked.status_code == 200, revoked.content
    assert valid(revoked.json())["status"] == "inactive"
    assert "name" not in agency_ehr.get(subject).json()
    assert agency_ehr.get(f"Task/{created['id']}").status_code == 200


def test_a_transaction_sends_everything_or_nothing(loop: Loop, clinic_ehr: Ehr) -> None:
    made = clinic_ehr.post("Patient", patient()).json()
    subject = f"Patient/{made['id']}"
    entries = [
        ("urn:uuid:qr", screening(subject, now_text())),
        ("urn:uuid:consent", consent(subject, [loop.food_agency.pk], ["food-insecurity"])),
        (
            "urn:uuid:sr",
            service_request(subject, loop.food.pk, ["food-insecurity"], "urn:uuid:consent"),
        ),
        (
            "urn:uuid:task",
            task("urn:uuid:sr", subject, loop.clinic.pk, loop.food_agency.pk, now_text()),
        ),
    ]

    def bundle(items: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": url,
                    "resource": r,
                    "request": {"method": "POST", "url": r["resourceType"]},
                }
                for url, r in items
            ],
        }

    # The Task first: references still resolve. But the owner is wrong: nothing is kept.
    wrong = [
        entries[3][0],
        {**entries[3][1], "owner": {"reference": f"Organization/{loop.housing_agency.pk}"}},
    ]
    refused = clinic_ehr.post("", bundle([(wrong[0], wrong[1]), *entries[:3]]))
    assert refused.status_code == 400, refused.content
    assert refused.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.owner"]
    assert not Screening.objects.filter(client_id=made["id"]).exists()
    assert not ServiceRequestRecord.objects.exists()
    answer = clinic_ehr.post("", bundle([entries[3], *entries[:3]]))
    assert answer.status_code == 200, answer.content
    body = valid(answer.json())
    assert body["type"] == "transaction-response"
    kinds = [e["resource"]["resourceType"] for e in body["entry"]]
    assert kinds == ["Task", "QuestionnaireResponse", "Consent", "ServiceRequest"]
    referral = Referral.objects.get(pk=body["entry"][0]["resource"]["id"])
    assert referral.consent_id == int(body["entry"][2]["resource"]["id"])


def test_a_sensitive_need_is_shared_only_with_the_named_recipients(
    loop: Loop, clinic_ehr: Ehr
) -> None:
    subject = f"Patient/{loop.client.pk}"
    needs = ["food-insecurity", "intimate-partner-violence"]
    given = clinic_ehr.post("Consent", consent(subject, [loop.food_agency.pk], needs))
    assert given.status_code == 201, given.content
    recorded = Consent.objects.get(pk=given.json()["id"])
    assert not recorded.whole_network
    assert list(recorded.sensitive_recipients.all()) == [loop.food_agency]
    assert list(recorded.recipients.all()) == [loop.food_agency]
    # The agency a referral goes to never reads the consent itself: it names every need.
    loop.send(key="sensitive", categories=["food-insecurity"])
    agency = ehr_make(loop.food_agency, name="Pantry system").sign_in()
    assert agency.get(f"Consent/{recorded.pk}").status_code == 404
    assert agency.get(f"Consent?patient={subject}").json().get("entry", []) == []
    # Without a named recipient nothing is recorded: never network-wide.
    nobody = consent(subject, [], needs)
    refused = clinic_ehr.post("Consent", nobody)
    assert refused.status_code == 400
    assert valid(refused.json())["issue"][0]["expression"] == ["Consent.provision.actor"]
