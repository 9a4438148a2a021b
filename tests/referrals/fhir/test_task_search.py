"""Task search: every parameter the CapabilityStatement names, and a 400 naming a bad one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from referrals.models import Referral
from tests.referrals.factories import Loop, move
from tests.referrals.fhir.resources import valid
from tests.referrals.fhir.support import Ehr, ehr_make, instant_of

pytestmark = pytest.mark.django_db


def ids(ehr: Ehr, query: str) -> list[str]:
    answer = ehr.get(f"Task?{query}")
    assert answer.status_code == 200, answer.content
    body = valid(answer.json())
    return sorted(
        e["resource"]["id"] for e in body.get("entry", []) if e["search"]["mode"] == "match"
    )


@pytest.fixture
def sent(loop: Loop) -> list[Referral]:
    food = loop.send(key="food")
    housing = loop.send(service=loop.housing, key="housing")
    move(food, "accepted", loop.agency_staff, loop.food_agency)
    return [Referral.objects.get(pk=food.pk), Referral.objects.get(pk=housing.pk)]


def test_every_parameter(loop: Loop, sent: list[Referral]) -> None:
    food, housing = sent
    ehr = ehr_make(loop.clinic).sign_in()
    both = sorted([str(food.pk), str(housing.pk)])
    assert ids(ehr, "") == both
    assert ids(ehr, f"_id={food.pk}") == [str(food.pk)]
    assert ids(ehr, f"_id={food.pk},{housing.pk}") == both
    assert ids(ehr, "status=accepted") == [str(food.pk)]
    assert ids(ehr, "status=requested,accepted") == both
    assert ids(ehr, f"owner=Organization/{loop.housing_agency.pk}") == [str(housing.pk)]
    assert ids(ehr, f"requester=Organization/{loop.clinic.pk}") == both
    assert ids(ehr, f"patient=Patient/{loop.client.pk}") == both
    assert ids(ehr, f"focus=ServiceRequest/{food.pk}") == [str(food.pk)]
    assert ids(ehr, "code=http://hl7.org/fhir/CodeSystem/task-code|fulfill") == both
    assert ids(ehr, "code=approve") == []
    assert ids(ehr, "code=approve,fulfill") == both
    # Open Tasks (no owner) as the guide polls for them: none here, every referral has its agency.
    assert ids(ehr, "owner:missing=true&status=requested") == []
    assert ids(ehr, "owner:missing=false") == both
    # _lastUpdated: the housing referral last changed an hour before the food one.
    at = food.updated_at
    Referral.objects.filter(pk=housing.pk).update(updated_at=at - timedelta(hours=1))
    assert ids(ehr, f"_lastUpdated=gt{instant_of(at - timedelta(minutes=30))}") == [str(food.pk)]
    assert ids(ehr, f"_lastUpdated=ge{instant_of(at - timedelta(hours=2))}") == both
    assert ids(ehr, f"_lastUpdated=lt{instant_of(at - timedelta(minutes=30))}") == [str(housing.pk)]
    assert ids(ehr, f"_lastUpdated=lt{instant_of(at - timedelta(days=1))}") == []
    later = instant_of(timezone.now() + timedelta(days=1))
    assert ids(ehr, f"_lastUpdated=gt{later}") == []


def test_paging_follows_next(loop: Loop, sent: list[Referral]) -> None:
    ehr = ehr_make(loop.clinic).sign_in()
    first = valid(ehr.get("Task?_count=1").json())
    assert first["total"] == 2
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = valid(ehr.get(following.split("/fhir/r4/", 1)[1]).json())
    assert {first["entry"][0]["resource"]["id"], second["entry"][0]["resource"]["id"]} == {
        str(r.pk) for r in sent
    }


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=done", "status"),
        ("_lastUpdated=yesterday", "_lastUpdated"),
        ("_lastUpdated=xx2026-01-01", "_lastUpdated"),
        ("owner=Patient/1", "owner"),
        ("_id=abc", "_id"),
        ("_count=1000", "_count"),
        ("_include=Task:patient", "_include"),
        ("owner:missing=maybe", "owner:missing"),
    ],
)
def test_a_bad_value_is_a_400_naming_the_parameter(loop: Loop, query: str, parameter: str) -> None:
    ehr = ehr_make(loop.clinic).sign_in()
    answer = ehr.get(f"Task?{query}")
    assert answer.status_code == 400
    assert valid(answer.json())["issue"][0]["expression"] == [parameter]
