"""The directory over FHIR: Organization, Location and HealthcareService, read and searched by a
signed-in system, only its own network's, published listings only, confidential addresses
withheld, bad search values answered 400, and lists at a fixed number of queries."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.location import Location as FhirLocation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization as FhirOrganization

from cms.categories import SDOHCC_SYSTEM
from directory.models import (
    Location,
    LocationHours,
    Phone,
    ServiceClosure,
    ServicePage,
    ServicePhone,
)
from network.models import Organization
from referrals.fhir.capability import SUPPORTED
from tests.directory.factories import ARCATA, EUREKA
from tests.referrals.factories import Loop, more_services
from tests.referrals.fhir.support import FHIR, FHIR_JSON, Ehr, ehr_make

pytestmark = pytest.mark.django_db

MODELS: dict[str, Any] = {
    "Organization": FhirOrganization,
    "Location": FhirLocation,
    "HealthcareService": HealthcareService,
}
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, checked with the FHIR R4B model of its type."""
    MODELS[resource["resourceType"]].model_validate(resource)
    return resource


def read(ehr: Ehr, path: str) -> dict[str, Any]:
    answer = ehr.get(path)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith(FHIR_JSON)
    return valid(answer.json())


def search(ehr: Ehr, path: str, **headers: str) -> dict[str, Any]:
    answer = ehr.get(path, **headers)
    assert answer.status_code == 200, answer.content
    bundle = answer.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    for entry in bundle.get("entry", []):
        valid(entry["resource"])
        assert entry["search"]["mode"] == "match"
        resource = entry["resource"]
        assert entry["fullUrl"].endswith(f"/fhir/r4/{resource['resourceType']}/{resource['id']}")
    return bundle


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def refused(ehr: Ehr, path: str, parameter: str, status: int = 400) -> dict[str, Any]:
    """A 400 OperationOutcome whose issue names ``parameter``."""
    answer = ehr.get(path)
    assert answer.status_code == status, answer.content
    outcome = answer.json()
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["code"] == "invalid"
    assert outcome["issue"][0]["expression"] == [parameter]
    return outcome


def not_found(ehr: Ehr, path: str) -> None:
    answer = ehr.get(path)
    assert answer.status_code == 404, answer.content
    outcome = answer.json()
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["code"] == "not-found"


@pytest.fixture
def ehr(loop: Loop) -> Ehr:
    return ehr_make(loop.clinic).sign_in()


def location_of(service: ServicePage) -> Location:
    return Location.objects.get(services__page=service)


# --- Organization -----------------------------------------------------------------------------


def test_an_agency_organization_reads_with_its_type_identifiers_and_contacts(
    loop: Loop, ehr: Ehr
) -> None:
    Organization.objects.filter(pk=loop.food_agency.pk).update(
        phone="707-555-0199", email="hello@harbor.example", website="https://harbor.example"
    )
    body = read(ehr, f"Organization/{loop.food_agency.pk}")
    assert body["id"] == str(loop.food_agency.pk)
    assert body["name"] == "Harbor Food Bank"
    assert body["active"] is True
    assert body["type"][0]["coding"] == [
        {"system": ORG_TYPE, "code": "cg", "display": "Community Group"}
    ]
    assert {"system": "urn:handoff:organization", "value": loop.food_agency.slug} in body[
        "identifier"
    ]
    listing = loop.food.get_parent().specific
    assert {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{listing.hsds_id}"} in body[
        "identifier"
    ]
    assert {(t["system"], t["value"]) for t in body["telecom"]} == {
        ("phone", "707-555-0199"),
        ("email", "hello@harbor.example"),
        ("url", "https://harbor.example"),
    }
    # No address known: none at all, not an empty one.
    assert "address" not in body


def test_a_clinic_is_a_provider_with_its_address(loop: Loop, ehr: Ehr) -> None:
    Organization.objects.filter(pk=loop.clinic.pk).update(
        address_1="1 Clinic Way", city="Eureka", state="CA", postal_code="95501"
    )
    body = read(ehr, f"Organization/{loop.clinic.pk}")
    assert [t["coding"][0]["code"] for t in body["type"]] == ["prov"]
    assert body["address"] == [
        {
            "use": "work",
            "type": "physical",
            "line": ["1 Clinic Way"],
            "city": "Eureka",
            "state": "CA",
            "postalCode": "95501",
        }
    ]


def test_an_organization_that_is_both_has_both_types(loop: Loop, ehr: Ehr) -> None:
    Organization.objects.filter(pk=loop.food_agency.pk).update(kind="both")
    body = read(ehr, f"Organization/{loop.food_agency.pk}")
    assert [t["coding"][0]["code"] for t in body["type"]] == ["prov", "cg"]


def test_organization_search_by_name_type_id_identifier_and_postcode(loop: Loop, ehr: Ehr) -> None:
    Organization.objects.filter(pk=loop.clinic.pk).update(postal_code="95501")
    everyone = search(ehr, "Organization")
    assert set(ids(everyone)) == {
        str(o.pk) for o in (loop.clinic, loop.tenant.agency, loop.food_agency, loop.housing_agency)
    }
    assert everyone["total"] == 4
    assert ids(search(ehr, "Organization?name=harbor")) == [str(loop.food_agency.pk)]
    assert ids(search(ehr, "Organization?name:exact=Harbor Food Bank")) == [
        str(loop.food_agency.pk)
    ]
    assert ids(search(ehr, "Organization?name:exact=harbor food bank")) == []
    assert ids(search(ehr, "Organization?type=prov")) == [str(loop.clinic.pk)]
    agencies = search(ehr, f"Organization?type={ORG_TYPE}|cg")
    assert str(loop.clinic.pk) not in ids(agencies)
    assert len(ids(agencies)) == 3
    assert set(ids(search(ehr, "Organization?type=prov,cg"))) == set(ids(everyone))
    assert ids(search(ehr, f"Organization?_id={loop.housing_agency.pk}")) == [
        str(loop.housing_agency.pk)
    ]
    assert ids(
        search(ehr, f"Organization?identifier=urn:handoff:organization|{loop.clinic.slug}")
    ) == [str(loop.clinic.pk)]
    assert ids(search(ehr, "Organization?address-postalcode=95501")) == [str(loop.clinic.pk)]
    # Repeated parameters must all match.
    assert ids(search(ehr, "Organization?name=a&name=bay")) == [str(loop.housing_agency.pk)]


def test_an_inactive_organization_is_neither_read_nor_found(loop: Loop, ehr: Ehr) -> None:
    Organization.objects.filter(pk=loop.housing_agency.pk).update(is_active=False)
    not_found(ehr, f"Organization/{loop.housing_agency.pk}")
    assert str(loop.housing_agency.pk) not in ids(search(ehr, "Organization"))
    # Its service names it without a reference that would not resolve.
    service = read(ehr, f"HealthcareService/{loop.housing.pk}")
    assert service["providedBy"] == {"display": "Bay Housing"}


# --- Location ---------------------------------------------------------------------------------


def test_a_location_reads_with_address_position_and_managing_organization(
    loop: Loop, ehr: Ehr
) -> None:
    location = location_of(loop.food)
    Phone.objects.create(page=location.page, location=location, number="707-555-0123", type="fax")
    LocationHours.objects.create(
        page=location.page, location=location, weekday=0, opens_at="09:00", closes_at="17:00"
    )
    LocationHours.objects.create(
        page=location.page, location=location, weekday=2, opens_at="09:00", closes_at="17:00"
    )
    body = read(ehr, f"Location/{location.pk}")
    assert body["status"] == "active"
    assert body["name"] == "Harbor Food Pantry site 1"
    assert body["address"]["line"] == ["100 Main St"]
    assert body["address"]["postalCode"] == "95501"
    assert body["position"] == {"latitude": EUREKA[0], "longitude": EUREKA[1]}
    assert body["managingOrganization"] == {
        "reference": f"Organization/{loop.food_agency.pk}",
        "display": "Harbor Food Bank",
    }
    assert body["telecom"] == [{"system": "fax", "value": "707-555-0123", "use": "work"}]
    assert body["hoursOfOperation"] == [
        {"daysOfWeek": ["mon", "wed"], "openingTime": "09:00:00", "closingTime": "17:00:00"}
    ]
    assert "meta" not in body


def test_a_confidential_location_has_no_address_or_position_and_is_not_found_by_place(
    loop: Loop, ehr: Ehr
) -> None:
    location = location_of(loop.food)
    Location.objects.filter(pk=location.pk).update(address_confidential=True)
    answer = ehr.get(f"Location/{location.pk}")
    body = valid(answer.json())
    assert "address" not in body
    assert "position" not in body
    assert "100 Main St" not in answer.content.decode()
    assert str(EUREKA[0]) not in answer.content.decode()
    assert body["name"] == "Harbor Food Pantry site 1"
    assert body["meta"]["security"][0]["code"] == "R"
    # Listed, but never found by place (as the HSDS API does).
    assert str(location.pk) in ids(search(ehr, "Location"))
    assert str(location.pk) not in ids(search(ehr, "Location?address-postalcode=95501"))
    assert str(location.pk) not in ids(search(ehr, f"Location?near={EUREKA[0]}|{EUREKA[1]}|1|km"))
    # Nor are its services found by its postcode.
    assert str(loop.food.pk) not in ids(search(ehr, "HealthcareService?address-postalcode=95501"))
    # The service still references it: reading it withholds the address.
    service = read(ehr, f"HealthcareService/{loop.food.pk}")
    assert service["location"] == [{"reference": f"Location/{location.pk}"}]


def test_location_search_by_name_id_organization_postcode_and_near(loop: Loop, ehr: Ehr) -> None:
    food, housing = location_of(loop.food), location_of(loop.housing)
    Location.objects.filter(pk=housing.pk).update(postal_code="95521")
    assert set(ids(search(ehr, "Location"))) == {str(food.pk), str(housing.pk)}
    assert ids(search(ehr, "Location?name=RENT help")) == [str(housing.pk)]
    assert ids(search(ehr, f"Location?_id={food.pk}")) == [str(food.pk)]
    assert ids(search(ehr, f"Location?organization=Organization/{loop.housing_agency.pk}")) == [
        str(housing.pk)
    ]
    assert ids(search(ehr, "Location?address-postalcode=95521")) == [str(housing.pk)]
    # Arcata is about 9.5 km from Eureka: nearest first.
    assert ids(search(ehr, f"Location?near={EUREKA[0]}|{EUREKA[1]}|5|km")) == [str(food.pk)]
    assert ids(search(ehr, f"Location?near={EUREKA[0]}|{EUREKA[1]}|10|mi")) == [
        str(food.pk),
        str(housing.pk),
    ]
    assert ids(search(ehr, f"Location?near={ARCATA[0]}|{ARCATA[1]}|10|mi")) == [
        str(housing.pk),
        str(food.pk),
    ]
    first = search(ehr, f"Location?near={ARCATA[0]}|{ARCATA[1]}|10|mi&_count=1")
    assert ids(first) == [str(housing.pk)]
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert ids(search(ehr, following.removeprefix(f"http://{ehr.host}"))) == [str(food.pk)]
    # The default distance (25 km), and UCUM miles.
    assert len(ids(search(ehr, f"Location?near={ARCATA[0]}|{ARCATA[1]}"))) == 2
    assert len(ids(search(ehr, f"Location?near={ARCATA[0]}|{ARCATA[1]}|1|[mi_i]"))) == 1


def test_a_location_of_an_unpublished_service_is_not_served(loop: Loop, ehr: Ehr) -> None:
    location = location_of(loop.housing)
    ServicePage.objects.filter(pk=loop.housing.pk).update(live=False)
    not_found(ehr, f"Location/{location.pk}")
    assert str(location.pk) not in ids(search(ehr, "Location"))


# --- HealthcareService ------------------------------------------------------------------------


def test_a_service_reads_with_category_organization_location_and_languages(
    loop: Loop, ehr: Ehr
) -> None:
    ServicePage.objects.filter(pk=loop.food.pk).update(
        eligibility_description="Residents of the county.",
        minimum_age=18,
        application_process="Walk in.",
        email="pantry@harbor.example",
    )
    ServicePhone.objects.create(page=loop.food, number="707-555-0150", extension="2")
    body = read(ehr, f"HealthcareService/{loop.food.pk}")
    assert body["active"] is True
    assert body["name"] == "Harbor Food Pantry"
    assert body["comment"] == "Groceries every week."
    assert body["providedBy"] == {
        "reference": f"Organization/{loop.food_agency.pk}",
        "display": "Harbor Food Bank",
    }
    assert body["category"] == [
        {
            "coding": [
                {"system": SDOHCC_SYSTEM, "code": "food-insecurity", "display": "Food Insecurity"}
            ],
            "text": "Food Insecurity",
        }
    ]
    assert body["location"] == [{"reference": f"Location/{location_of(loop.food).pk}"}]
    assert body["communication"] == [{"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}]
    assert body["eligibility"] == [{"comment": "Residents of the county.\n\nAges 18 and older."}]
    assert "How to apply: Walk in." in body["extraDetails"]
    assert {"system": "phone", "value": "707-555-0150 ext. 2", "use": "work"} in body["telecom"]
    assert {"system": "email", "value": "pantry@harbor.example", "use": "work"} in body["telecom"]
    assert body["serviceProvisionCode"][0]["coding"][0]["code"] == "free"
    assert body["referralMethod"][0]["coding"][0]["code"] == "elec"
    # Every reference resolves here.
    read(ehr, body["providedBy"]["reference"])
    read(ehr, body["location"][0]["reference"])


def test_a_closure_ahead_and_a_temporary_closure_are_not_available_times(
    loop: Loop, ehr: Ehr
) -> None:
    today = timezone.localdate(timezone=ZoneInfo(loop.tenant.network.time_zone))
    ServiceClosure.objects.create(
        page=loop.food, start_date=today, end_date=today, reason="Inventory day"
    )
    ServicePage.objects.filter(pk=loop.food.pk).update(status="temporarily closed")
    body = read(ehr, f"HealthcareService/{loop.food.pk}")
    assert body["notAvailable"][0] == {"description": "Temporarily closed"}
    assert body["notAvailable"][1]["description"] == "Inventory day"


def test_service_search_by_category_organization_location_postcode_and_name(
    loop: Loop, ehr: Ehr
) -> None:
    food, housing = str(loop.food.pk), str(loop.housing.pk)
    assert set(ids(search(ehr, "HealthcareService"))) == {food, housing}
    assert ids(search(ehr, "HealthcareService?category=food-insecurity")) == [food]
    assert ids(search(ehr, f"HealthcareService?category={SDOHCC_SYSTEM}|housing-instability")) == [
        housing
    ]
    assert ids(search(ehr, "HealthcareService?service-category=housing-instability")) == [housing]
    assert set(
        ids(search(ehr, "HealthcareService?category=food-insecurity,housing-instability"))
    ) == {food, housing}
    assert ids(search(ehr, "HealthcareService?category=homelessness")) == []
    assert ids(
        search(ehr, f"HealthcareService?organization=Organization/{loop.housing_agency.pk}")
    ) == [housing]
    assert ids(search(ehr, f"HealthcareService?organization={loop.food_agency.pk}")) == [food]
    absolute = f"http://{ehr.host}/fhir/r4/Organization/{loop.food_agency.pk}"
    assert ids(search(ehr, f"HealthcareService?organization={absolute}")) == [food]
    location = location_of(loop.food)
    assert ids(search(ehr, f"HealthcareService?location=Location/{location.pk}")) == [food]
    Location.objects.filter(pk=location_of(loop.housing).pk).update(postal_code="95521")
    assert ids(search(ehr, "HealthcareService?address-postalcode=95521")) == [housing]
    assert ids(search(ehr, "HealthcareService?name=pantry")) == [food]
    assert ids(search(ehr, f"HealthcareService?_id={housing}")) == [housing]


def test_an_unpublished_service_or_one_under_an_unpublished_agency_is_not_served(
    loop: Loop, ehr: Ehr
) -> None:
    ServicePage.objects.filter(pk=loop.food.pk).update(live=False)
    not_found(ehr, f"HealthcareService/{loop.food.pk}")
    agency = loop.housing.get_parent()
    type(agency).objects.filter(pk=agency.pk).update(live=False)
    not_found(ehr, f"HealthcareService/{loop.housing.pk}")
    assert search(ehr, "HealthcareService")["total"] == 0


def test_count_pages_with_a_next_link(loop: Loop, ehr: Ehr) -> None:
    more_services(loop, 3)
    seen: list[str] = []
    bundle = search(ehr, "HealthcareService?_count=2")
    assert bundle["total"] == 5
    pages = 0
    while True:
        pages += 1
        assert len(ids(bundle)) <= 2
        seen += ids(bundle)
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        assert following[0].startswith(f"http://{ehr.host}/fhir/r4/HealthcareService?")
        bundle = search(ehr, following[0].removeprefix(f"http://{ehr.host}"))
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5
    # More than 100 a page is answered 100 a page; 0 gives the total only.
    assert len(ids(search(ehr, "HealthcareService?_count=500"))) == 5
    only_total = search(ehr, "HealthcareService?_count=0")
    assert only_total["total"] == 5
    assert "entry" not in only_total or only_total["entry"] == []


# --- every list, every refusal ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["HealthcareService", "Location", "Organization"])
def test_a_list_costs_the_same_queries_for_2_or_10_services(
    loop: Loop, ehr: Ehr, path: str
) -> None:
    for location in Location.objects.all():
        Phone.objects.create(page=location.page, location=location, number="707-555-0000")
        LocationHours.objects.create(
            page=location.page, location=location, weekday=1, opens_at="09:00", closes_at="12:00"
        )
    with CaptureQueriesContext(connection) as few:
        assert len(ids(search(ehr, path))) >= 2
    more_services(loop, 8)
    with CaptureQueriesContext(connection) as many:
        assert len(ids(search(ehr, path))) >= 10
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_another_networks_directory_is_not_found(loop: Loop, other_loop: Loop, ehr: Ehr) -> None:
    not_found(ehr, f"Organization/{other_loop.food_agency.pk}")
    not_found(ehr, f"Organization/{other_loop.clinic.pk}")
    not_found(ehr, f"Location/{location_of(other_loop.food).pk}")
    not_found(ehr, f"HealthcareService/{other_loop.food.pk}")
    not_found(ehr, "HealthcareService/not-a-number")
    assert ids(search(ehr, f"Organization?_id={other_loop.clinic.pk}")) == []
    assert ids(search(ehr, f"HealthcareService?_id={other_loop.food.pk}")) == []
    assert ids(search(ehr, f"Location?_id={location_of(other_loop.food).pk}")) == []
    assert ids(search(ehr, f"HealthcareService?organization={other_loop.food_agency.pk}")) == []
    assert set(ids(search(ehr, "HealthcareService"))) == {str(loop.food.pk), str(loop.housing.pk)}


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("Organization?_id=abc", "_id"),
        ("Organization?type=nonsense", "type"),
        ("Organization?type=http://example.org/types|prov", "type"),
        ("Organization?identifier=http://example.org|x", "identifier"),
        ("Organization?name:sw=Har", "name:sw"),
        ("Organization?_count=-1", "_count"),
        ("Organization?_count=many", "_count"),
        ("Organization?_offset=1.5", "_offset"),
        ("Location?near=abc", "near"),
        ("Location?near=91|0|1|km", "near"),
        ("Location?near=40|-124|1|furlongs", "near"),
        ("Location?near=40|-124|-3|km", "near"),
        ("Location?near=40|-124|9000|km", "near"),
        ("Location?near=nan|inf", "near"),
        ("Location?near=1|2|3|km|5", "near"),
        ("Location?organization=Patient/3", "organization"),
        ("Location?address-postalcode=" + "9" * 30, "address-postalcode"),
        ("HealthcareService?category=food", "category"),
        (f"HealthcareService?category={SDOHCC_SYSTEM}|nope", "category"),
        ("HealthcareService?category=http://loinc.org|food-insecurity", "category"),
        ("HealthcareService?category=a|b|c", "category"),
        ("HealthcareService?location=Organization/1", "location"),
        ("HealthcareService?organization=Organization/x", "organization"),
        ("HealthcareService?organization=http://elsewhere.example/Organization/1", "organization"),
        ("HealthcareService?_id=1,,x", "_id"),
        ("HealthcareService?name=" + "x" * 300, "name"),
        ("HealthcareService?category:text=food", "category:text"),
    ],
)
def test_a_malformed_search_value_is_a_400_naming_the_parameter(
    ehr: Ehr, path: str, parameter: str
) -> None:
    refused(ehr, path, parameter)


def test_unknown_parameters_are_ignored_unless_strict_handling_is_asked(ehr: Ehr) -> None:
    assert search(ehr, "HealthcareService?color=blue&_format=json")["total"] == 2
    answer = ehr.get("HealthcareService?color=blue", HTTP_PREFER="handling=strict")
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["expression"] == ["color"]
    assert search(ehr, "HealthcareService?_format=json", HTTP_PREFER="handling=strict")


@pytest.mark.parametrize("resource", ["Organization", "Location", "HealthcareService"])
def test_scopes_are_checked_for_read_and_search(loop: Loop, resource: str) -> None:
    some = {
        "Organization": loop.clinic.pk,
        "Location": location_of(loop.food).pk,
        "HealthcareService": loop.food.pk,
    }[resource]
    reader = ehr_make(loop.clinic, name="Reader").sign_in(f"system/{resource}.r")
    assert reader.get(f"{resource}/{some}").status_code == 200
    assert reader.get(resource).status_code == 403
    searcher = ehr_make(loop.clinic, name="Searcher").sign_in(f"system/{resource}.s")
    assert searcher.get(resource).status_code == 200
    answer = searcher.get(f"{resource}/{some}")
    assert answer.status_code == 403
    assert answer.json()["issue"][0]["code"] == "forbidden"
    other = ehr_make(loop.clinic, name="Other").sign_in("system/Task.rs")
    assert other.get(resource).status_code == 403


def test_an_agency_system_reads_the_directory_too(loop: Loop) -> None:
    agency = ehr_make(loop.food_agency).sign_in()
    assert search(agency, "HealthcareService")["total"] == 2
    read(agency, f"Organization/{loop.clinic.pk}")


def test_the_capability_statement_lists_the_directory_resources(loop: Loop) -> None:
    supported = {s.type: s for s in SUPPORTED}
    for name in ("Organization", "Location", "HealthcareService"):
        assert supported[name].interactions == ("read", "search-type")
    answer = HttpClient().get(f"{FHIR}metadata", HTTP_HOST=loop.tenant.network.site.hostname)
    statement = answer.json()
    CapabilityStatement.model_validate(statement)
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"name": "near", "type": "special"} in served["Location"]["searchParam"]
    assert {"name": "category", "type": "token"} in served["HealthcareService"]["searchParam"]
    assert [i["code"] for i in served["Organization"]["interaction"]] == ["read", "search-type"]
