"""Every FHIR route, walked by network A's systems (its clinic's EHR, its agency's system, and a
second clinic's EHR) with the ids of another network's objects and of the other clinic's
client: nothing of theirs is answered, listed or changed.

The routes come from the FHIR API itself (``referrals.fhir.api``), so a new operation is walked
without editing this test: its first path segment names the resource type, whose foreign ids
``FOREIGN_IDS`` gives (a type it does not know fails ``test_every_route_is_walked``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import URLPattern

from directory.models import Location
from network.models import Organization, OrganizationKind
from referrals.fhir import api
from referrals.models import Referral, ServiceRequestRecord
from referrals.services.clients import client_create, screening_record
from tests.referrals.factories import Loop
from tests.referrals.fhir.resources import consent, patient, service_request, subscription
from tests.referrals.fhir.support import Ehr, ehr_make

pytestmark = pytest.mark.django_db

MARK = "Zephyrine"


def routes() -> list[tuple[str, URLPattern]]:
    patterns, _app, _namespace = api.urls
    return [(str(p.pattern), p) for p in patterns if isinstance(p, URLPattern)]


def foreign(loop: Loop, other: Loop, second: Ehr) -> dict[str, list[str]]:
    """Ids of what network A's first clinic's and agency's systems must never reach: network
    B's objects of each type, and A's second clinic's client (not referred to anyone)."""
    b_ehr = ehr_make(other.clinic, name="Their EHR").sign_in()
    made = b_ehr.post("Patient", patient(first=MARK, last="Quokka", mrn="B-1")).json()
    subject = f"Patient/{made['id']}"
    b_consent = b_ehr.post(
        "Consent", consent(subject, [other.food_agency.pk], ["food-insecurity"])
    ).json()
    b_record = b_ehr.post(
        "ServiceRequest", service_request(subject, other.food.pk, ["food-insecurity"], note=MARK)
    ).json()
    referral = other.send(key="isolation")
    screening = screening_record(
        client=other.client,
        by=other.clinic_staff,
        organization=other.clinic,
        answers={"88122-7": "LA28397-0"},
    )
    b_agency = ehr_make(other.food_agency, name="Their pantry").sign_in()
    b_sub = b_agency.post(
        "Subscription",
        subscription("http://127.0.0.1:9/hook", f"Task?owner=Organization/{other.food_agency.pk}"),
    ).json()
    mine = client_create(
        organization=second.client.organization,
        by=second.client.user,
        first_name=MARK,
        last_name="Second",
        date_of_birth=referral.client.date_of_birth,
    )
    location = Location.objects.filter(services__page=other.food).first()
    return {
        "Patient": [made["id"], str(other.client.pk), str(mine.pk)],
        "Consent": [b_consent["id"], str(other.consent.pk)],
        "ServiceRequest": [b_record["id"], str(referral.pk)],
        "Task": [str(referral.pk)],
        "Procedure": [str(referral.pk)],
        "QuestionnaireResponse": [str(screening.pk)],
        "Observation": [f"{screening.pk}-88122-7"],
        "Condition": [f"{screening.pk}-food-insecurity"],
        "Organization": [str(other.food_agency.pk), str(other.clinic.pk)],
        "Location": [str(location.pk)] if location else [],
        "HealthcareService": [str(other.food.pk)],
        "Subscription": [str(b_sub.get("id", ""))],
    }


def test_every_route_is_walked() -> None:
    known = {
        "Patient",
        "Consent",
        "ServiceRequest",
        "Task",
        "Procedure",
        "QuestionnaireResponse",
        "Observation",
        "Condition",
        "Organization",
        "Location",
        "HealthcareService",
        "Subscription",
    }
    for route, _pattern in routes():
        first = route.split("/")[0]
        assert first in known or first in {"", "metadata", "openapi.json", "docs"}, route


@pytest.fixture
def walkers(loop: Loop) -> dict[str, Ehr]:
    second_clinic = Organization.objects.create(
        network=loop.tenant.network,
        name="Second Clinic",
        slug="second-clinic",
        kind=OrganizationKind.CLINIC,
    )
    return {
        "clinic": ehr_make(loop.clinic, name="Clinic EHR").sign_in(),
        "agency": ehr_make(loop.food_agency, name="Pantry system").sign_in(),
        "second clinic": ehr_make(second_clinic, name="Second EHR").sign_in(),
    }


def _leaks(answer: Any, ids: dict[str, list[str]]) -> list[str]:
    """What of theirs an answer shows: the marker, one of their objects, or a server error (or
    a 401: the walk would then judge nothing)."""
    problems = []
    if answer.status_code == 401:
        problems.append("answers 401: the walker is not signed in")
    text = answer.content.decode()
    if MARK in text:
        problems.append(f"shows {MARK}")
    if answer.status_code >= 500:
        problems.append(f"answers {answer.status_code}")
    if answer.status_code < 300 and answer["Content-Type"].startswith("application/fhir+json"):
        body = json.loads(text)
        entries = body.get("entry", []) if body.get("resourceType") == "Bundle" else []
        for found in [body, *(e.get("resource", {}) for e in entries)]:
            if found.get("id") in ids.get(found.get("resourceType", ""), []):
                problems.append(f"answers {found['resourceType']}/{found['id']}")
    return problems


def _call(ehr: Ehr, method: str, path: str, kind: str, foreign_id: str) -> Any:
    if method == "GET":
        return ehr.get(path)
    if method == "DELETE":
        return ehr.http.delete(f"/fhir/r4/{path}", **ehr.headers())
    body = {"resourceType": kind, "id": foreign_id, "status": "cancelled"}
    return ehr.put(path, body, HTTP_IF_MATCH='W/"1"')


def test_nothing_of_theirs_is_reachable(
    loop: Loop, other_loop: Loop, walkers: dict[str, Ehr], settings: Any
) -> None:
    settings.FHIR_SUBSCRIPTION_ALLOW_HTTP = True
    settings.FHIR_SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES = True
    ids = foreign(loop, other_loop, walkers["second clinic"])
    counts_before = (Referral.objects.count(), ServiceRequestRecord.objects.count())
    failures = []
    requests = 0
    for walker, ehr in walkers.items():
        if walker == "second clinic":
            continue
        for route, _pattern in routes():
            kind = route.split("/")[0]
            if kind not in ids:
                continue
            if "<" in route:
                for foreign_id in ids[kind]:
                    path = route.split("<")[0] + foreign_id + route.split(">", 1)[1]
                    for method in ("GET", "PUT", "DELETE"):
                        answer = _call(ehr, method, path, kind, foreign_id)
                        requests += 1
                        if 200 <= answer.status_code < 300:
                            failures.append(f"{walker} {method} {path}: {answer.status_code}")
                        failures += [f"{walker} {method} {path}: {p}" for p in _leaks(answer, ids)]
            else:
                queries = (
                    [f"_id={i}" for i in ids[kind]]
                    + [f"patient=Patient/{p}" for p in ids["Patient"]]
                    + [f"owner=Organization/{o}" for o in ids["Organization"]]
                    + [f"requester=Organization/{o}" for o in ids["Organization"]]
                    + [f"organization=Organization/{o}" for o in ids["Organization"]]
                )
                for query in queries:
                    answer = ehr.get(f"{route}?{query}")
                    requests += 1
                    failures += [f"{walker} GET {route}?{query}: {p}" for p in _leaks(answer, ids)]
    assert (Referral.objects.count(), ServiceRequestRecord.objects.count()) == counts_before
    assert not failures, "\n".join(failures)
    assert requests > 150, requests
    # The walkers do reach their own: the walk is not judging refusals of everything.
    own = walkers["agency"].get(f"Task?owner=Organization/{loop.food_agency.pk}")
    assert own.status_code == 200
    assert walkers["clinic"].get(f"HealthcareService/{loop.food.pk}").status_code == 200
