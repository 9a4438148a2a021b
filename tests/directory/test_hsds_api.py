"""The public HSDS 3.0 API of a network's directory (/api/hsds/ on the network's host): every
endpoint and parameter, paging, errors, isolation between networks, confidential addresses,
caching headers, rate limiting, CORS, the OpenAPI schema and docs, query counts, and the same
objects as ``hsds_export``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils.http import http_date
from jsonschema import Draft202012Validator

from directory.hsds.records import FEE_TAXONOMY_ID, SDOH_TAXONOMY_ID, well_known_term_id
from directory.hsds.stored import service_documents_rebuild
from directory.hsds.writing import directory_tables, write_json
from directory.models import AgencyPage, Location, LocationPoint, ServicePage, TaxonomyTerm
from tests.conftest import module_world, world_copy
from tests.directory import hsds_schemas
from tests.directory.factories import STANDARD, Spec, directory_build, service_types_make
from tests.network.factories import Tenant, tenant_make

API = "/api/hsds"
STREET = "77 Hidden Way"
HIDDEN_LAT, HIDDEN_LNG = "40.7955", "-124.1625"
PUBLISHED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _confidential_shelter(network) -> None:
    directory_build(
        network,
        [
            Spec(
                "Confidential Shelter",
                "A safe house for survivors.",
                categories=["intimate-partner-violence"],
                agency="Safe Passage",
                places=[(float(HIDDEN_LAT), float(HIDDEN_LNG))],
            )
        ],
    )
    location = Location.objects.get(page__title="Safe Passage")
    location.address_1 = STREET
    location.address_confidential = True
    location.postal_code = "95503"
    location.hsds_extra = {"addresses": [{"address_1": STREET}], "latitude": 40.7955}
    location.save()
    LocationPoint.objects.filter(location=location).update(
        latitude=HIDDEN_LAT, longitude=HIDDEN_LNG
    )


def _alpha_build() -> Tenant:
    tenant = tenant_make("Alpha")
    service_types_make(tenant.network)
    directory_build(tenant.network, STANDARD)
    _confidential_shelter(tenant.network)
    ServicePage.objects.update(last_published_at=PUBLISHED)
    service_documents_rebuild(network=tenant.network)  # written directly, not published
    return tenant


@pytest.fixture(scope="module")
def alpha_world(request: pytest.FixtureRequest) -> Iterator[Tenant]:
    yield from module_world(request, _alpha_build)


@pytest.fixture
def alpha(alpha_world: Tenant, db: None) -> Tenant:
    """Network Alpha with the standard directory and a confidential shelter, built once for
    the module (each test's changes are rolled back); this test's own copy."""
    return world_copy(alpha_world)


@pytest.fixture
def bravo(db):
    tenant = tenant_make("Bravo")
    service_types_make(tenant.network)
    directory_build(
        tenant.network,
        [
            Spec(
                "Bravo Rental Assistance", "Rent help in Bravo.", categories=["housing-instability"]
            )
        ],
    )
    return tenant


def get(client, tenant, path, **params):
    return client.get(f"{API}{path}", params, HTTP_HOST=tenant.network.site.hostname)


def ok(client, tenant, path, **params):
    response = get(client, tenant, path, **params)
    assert response.status_code == 200, response.content
    return response.json()


def names(page) -> list[str]:
    return sorted(item["name"] for item in page["contents"])


def all_services(network) -> list[str]:
    return [str(s.hsds_id) for s in ServicePage.objects.live().descendant_of(network.root_page)]


# --- root, lists, paging ------------------------------------------------------------------------


def test_root_names_the_version_profile_and_openapi_document(client, alpha):
    root = ok(client, alpha, "/")
    assert root["version"] == "3.0"
    assert root["profile"].startswith("https://")
    assert root["openapi_url"].endswith("/api/hsds/openapi.json")
    assert root["publisher"]["name"] == alpha.network.name


def test_services_are_the_networks_published_services_in_the_envelope(client, alpha):
    page = ok(client, alpha, "/services")
    assert page["total_items"] == 8
    assert page["total_pages"] == 1
    assert page["page_number"] == 1
    assert page["size"] == 8
    assert page["first_page"]
    assert page["last_page"]
    assert not page["empty"]
    assert "Weekly Food Pantry" in names(page)
    for item in page["contents"]:
        assert hsds_schemas.errors("service", item) == []
        assert item["organization"]["id"]
        assert "service_at_locations" not in item  # the list form: one-to-one fields


@pytest.mark.parametrize(
    ("page", "per_page", "size", "first", "last", "empty"),
    [
        (1, 3, 3, True, False, False),
        (2, 3, 3, False, False, False),
        (3, 3, 2, False, True, False),
        (4, 3, 0, False, True, True),
        (1, 100, 8, True, True, False),
    ],
)
def test_paging_edges(client, alpha, page, per_page, size, first, last, empty):
    body = ok(client, alpha, "/services", page=page, per_page=per_page)
    assert body["total_items"] == 8
    assert body["total_pages"] == 3 if per_page == 3 else 1
    assert (body["size"], body["first_page"], body["last_page"], body["empty"]) == (
        size,
        first,
        last,
        empty,
    )
    assert len(body["contents"]) == size


def test_pages_together_list_every_service_once(client, alpha):
    seen = []
    for number in (1, 2, 3):
        seen += [
            s["id"] for s in ok(client, alpha, "/services", page=number, per_page=3)["contents"]
        ]
    assert sorted(seen) == sorted(all_services(alpha.network))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "0"}, "per_page"),
        ({"page": "two"}, "page"),
        ({"taxonomy_term_id": "food"}, "taxonomy_term_id"),
        ({"taxonomy_id": "1"}, "taxonomy_id"),
        ({"organization_id": "x"}, "organization_id"),
        ({"modified_after": "last tuesday"}, "modified_after"),
        ({"modified_after": "13"}, "modified_after"),  # not seconds since 1970
        ({"modified_after": "0001-01-01T00:00:00+01:00"}, "modified_after"),  # before UTC's year 1
        ({"search": "food\x00"}, "search"),
        ({"postcode": "95501\x00", "proximity": "5000"}, "postcode"),
        ({"full": "maybe"}, "full"),
        ({"minimal": "perhaps"}, "minimal"),
        ({"proximity": "5000"}, "proximity"),
        ({"proximity": "-1", "postcode": "95501"}, "proximity"),
        ({"proximity": "far", "postcode": "95501"}, "proximity"),
        ({"proximity": "5000", "postcode": "00000"}, "postcode"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(client, alpha, params, field):
    response = get(client, alpha, "/services", **params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert field in [d["field"] for d in body["details"]]


@pytest.mark.parametrize(
    "path", ["/organizations", "/taxonomies", "/taxonomy_terms", "/service_at_locations"]
)
def test_every_list_checks_its_paging(client, alpha, path):
    assert get(client, alpha, path, per_page=500).status_code == 400
    assert get(client, alpha, path, page=-1).status_code == 400
    assert ok(client, alpha, path, per_page=1)["size"] == 1


# --- filters, alone and together ------------------------------------------------------------------


def test_search_needs_every_word(client, alpha):
    assert names(ok(client, alpha, "/services", search="shelter")) == [
        "Confidential Shelter",
        "Family Shelter Rooms",
        "Overnight Shelter Beds",
    ]
    assert names(ok(client, alpha, "/services", search="shelter beds adults")) == [
        "Overnight Shelter Beds"
    ]


def test_taxonomy_term_of_a_category_and_of_a_service_type_with_its_subtree(client, alpha):
    food = str(well_known_term_id("sdohcc", "food-insecurity"))
    assert names(ok(client, alpha, "/services", taxonomy_term_id=food)) == [
        "Del Norte Food Share",
        "Senior Meals",
        "Weekly Food Pantry",
    ]
    parent = TaxonomyTerm.objects.get(network=alpha.network, code="food")
    # "Food" has no service of its own: its child "Food pantry" has two.
    assert names(ok(client, alpha, "/services", taxonomy_term_id=str(parent.hsds_id))) == [
        "Del Norte Food Share",
        "Weekly Food Pantry",
    ]
    sliding = str(well_known_term_id("fee", "sliding-scale"))
    assert names(ok(client, alpha, "/services", taxonomy_term_id=sliding)) == ["Senior Meals"]
    assert ok(client, alpha, "/services", taxonomy_term_id=str(uuid.uuid4()))["empty"]


def test_taxonomy_id(client, alpha):
    assert ok(client, alpha, "/services", taxonomy_id=str(SDOH_TAXONOMY_ID))["total_items"] == 8
    assert ok(client, alpha, "/services", taxonomy_id=str(FEE_TAXONOMY_ID))["total_items"] == 8
    types = next(
        t for t in ok(client, alpha, "/taxonomies")["contents"] if t["name"] == "Service types"
    )
    assert names(ok(client, alpha, "/services", taxonomy_id=types["id"])) == [
        "Del Norte Food Share",
        "Weekly Food Pantry",
    ]
    assert ok(client, alpha, "/services", taxonomy_id=str(uuid.uuid4()))["empty"]


def test_organization_id(client, alpha, bravo):
    shelter = AgencyPage.objects.get(title="Waterfront Night Shelter")
    assert names(ok(client, alpha, "/services", organization_id=str(shelter.hsds_id))) == [
        "Family Shelter Rooms",
        "Overnight Shelter Beds",
    ]
    theirs = AgencyPage.objects.descendant_of(bravo.network.root_page).first()
    assert ok(client, alpha, "/services", organization_id=str(theirs.hsds_id))["empty"]


def test_modified_after_is_on_or_after(client, alpha):
    ServicePage.objects.filter(title="Senior Meals").update(
        last_published_at=datetime(2026, 6, 1, tzinfo=UTC)
    )
    service_documents_rebuild(network=alpha.network)  # the direct write above skips publishing
    assert names(ok(client, alpha, "/services", modified_after="2026-05-01T00:00:00Z")) == [
        "Senior Meals"
    ]
    # No offset: UTC. On the instant itself: included.
    assert names(ok(client, alpha, "/services", modified_after="2026-06-01T00:00:00")) == [
        "Senior Meals"
    ]
    assert ok(client, alpha, "/services", modified_after="2026-03-01T12:00:00Z")["total_items"] == 8


def test_postcode_and_proximity_never_find_a_confidential_place(client, alpha):
    Location.objects.filter(page__title="Bay Housing Partnership").update(postal_code="95521")
    service_documents_rebuild(network=alpha.network)  # the direct write above skips publishing
    assert names(ok(client, alpha, "/services", postcode="95521")) == [
        "Emergency Rental Assistance"
    ]
    assert ok(client, alpha, "/services", postcode="95503")["empty"]  # only the shelter is there
    near = names(ok(client, alpha, "/services", postcode="95501", proximity=3000))
    assert "Confidential Shelter" not in near
    assert "Weekly Food Pantry" in near
    assert "Del Norte Food Share" not in near  # Crescent City, 100 km away
    sals = ok(client, alpha, "/service_at_locations", postcode="95501", proximity=30000)
    distances = [s["distance"] for s in sals["contents"]]
    assert distances == sorted(distances)
    assert distances[-1] <= 30000
    assert "Confidential" not in json.dumps(sals)


def test_filters_combine_as_and(client, alpha):
    food = str(well_known_term_id("sdohcc", "food-insecurity"))
    free = str(well_known_term_id("fee", "free"))
    both = ok(client, alpha, "/services", taxonomy_term_id=food, search="pantry")
    assert names(both) == ["Del Norte Food Share", "Weekly Food Pantry"]
    aging = AgencyPage.objects.get(title="Aging Well Center")
    assert (
        ok(client, alpha, "/services", taxonomy_term_id=food, organization_id=str(aging.hsds_id))[
            "total_items"
        ]
        == 1
    )
    assert ok(
        client,
        alpha,
        "/services",
        taxonomy_term_id=free,
        organization_id=str(aging.hsds_id),
    )["empty"]  # Senior Meals is on a sliding scale
    assert names(
        ok(client, alpha, "/services", search="food", postcode="95501", proximity=10000)
    ) == ["Weekly Food Pantry"]  # Del Norte Food Share is 100 km away
    assert ok(client, alpha, "/services", search="food", modified_after="2027-01-01T00:00:00Z")[
        "empty"
    ]


def test_minimal_and_full(client, alpha):
    minimal = ok(client, alpha, "/services", minimal="true")
    for item in minimal["contents"]:
        assert set(item) == {"id", "name", "status", "last_modified"}
        assert item["last_modified"] == "2026-03-01T12:00:00Z"
    for flag in ("full", "full_service"):
        page = ok(client, alpha, "/services", **{flag: "true"})
        for item in page["contents"]:
            assert hsds_schemas.errors("service", item) == []
            assert item["service_at_locations"][0]["location"]["id"]
            assert item["attributes"]


def _addresses_varied(pantry: ServicePage) -> Location:
    """The pantry's location with only a street (no city, state or ZIP code) and, beside it, a
    postal address kept the way the importer keeps a second address; documents refreshed."""
    from directory.hsds.stored import service_documents_refresh

    location = pantry.service_locations.first().location
    Location.objects.filter(pk=location.pk).update(
        city="",
        state_province="",
        postal_code="",
        hsds_extra={
            **location.hsds_extra,
            "addresses": [
                {
                    "id": "66666666-6666-4666-8666-666666666666",
                    "address_1": "PO Box 12",
                    "city": "Eureka",
                    "state_province": "CA",
                    "postal_code": "95501",
                    "country": "US",
                    "address_type": "postal",
                }
            ],
        },
    )
    service_documents_refresh(service_ids=[pantry.pk])
    location.refresh_from_db()
    return location


def test_addresses_missing_what_hsds_requires_keep_those_fields_empty(client, alpha):
    """HSDS requires an address's city, state, ZIP code and country; a location with only a
    street has them, empty, rather than an address the schema refuses. Its postal address
    comes after it."""
    pantry = ServicePage.objects.get(title="Weekly Food Pantry")
    location = _addresses_varied(pantry)
    body = ok(client, alpha, f"/services/{pantry.hsds_id}")
    assert hsds_schemas.errors("service", body) == []
    street, postal = next(
        sal["location"]["addresses"]
        for sal in body["service_at_locations"]
        if sal["location"]["id"] == str(location.hsds_id)
    )
    assert (street["city"], street["state_province"], street["postal_code"]) == ("", "", "")
    assert (street["address_1"], street["address_type"]) == (location.address_1, "physical")
    assert (postal["address_1"], postal["address_type"]) == ("PO Box 12", "postal")
    assert postal["location_id"] == str(location.hsds_id)


def test_service_detail_is_fully_nested_and_valid(client, alpha):
    pantry = ServicePage.objects.get(title="Weekly Food Pantry")
    body = ok(client, alpha, f"/services/{pantry.hsds_id}")
    assert hsds_schemas.errors("service", body) == []
    assert body["languages"][1]["code"] == "es"
    sal = body["service_at_locations"][0]
    assert sal["schedules"] == [] or sal["schedules"][0]["freq"] == "WEEKLY"
    schedules = body["schedules"] + sal["schedules"]
    assert {s["byday"] for s in schedules} == {"TU", "TH"}
    assert schedules[0]["opens_at"] == "09:00:00"
    terms = {a["taxonomy_term"]["name"] for a in body["attributes"]}
    assert "Food pantry" in terms
    assert all(a["taxonomy_term"]["taxonomy_detail"]["id"] for a in body["attributes"])


# --- organizations, taxonomies, services at locations ---------------------------------------------


def test_organizations(client, alpha):
    page = ok(client, alpha, "/organizations")
    assert page["total_items"] == 7
    for item in page["contents"]:
        assert hsds_schemas.errors("organization", item) == []
        assert "locations" not in item
    full = ok(client, alpha, "/organizations", full="true", search="shelter")
    assert [o["name"] for o in full["contents"]] == ["Waterfront Night Shelter"]
    assert full["contents"][0]["locations"]
    assert "services" not in full["contents"][0]
    with_services = ok(client, alpha, "/organizations", full_service="true", search="waterfront")
    services = with_services["contents"][0]["services"]
    assert sorted(s["name"] for s in services) == ["Family Shelter Rooms", "Overnight Shelter Beds"]
    assert all(s["service_at_locations"] for s in services)
    food = str(well_known_term_id("sdohcc", "food-insecurity"))
    assert names(ok(client, alpha, "/organizations", taxonomy_term_id=food)) == [
        "Aging Well Center",
        "Crescent Food Share",
        "Harbor Community Services",
    ]


def test_organization_detail(client, alpha):
    shelter = AgencyPage.objects.get(title="Waterfront Night Shelter")
    body = ok(client, alpha, f"/organizations/{shelter.hsds_id}")
    assert hsds_schemas.errors("organization", body) == []
    assert sorted(s["name"] for s in body["services"]) == [
        "Family Shelter Rooms",
        "Overnight Shelter Beds",
    ]
    assert all("service_at_locations" not in s for s in body["services"])
    full = ok(client, alpha, f"/organizations/{shelter.hsds_id}", full_service="true")
    assert all(s["service_at_locations"] for s in full["services"])


def test_taxonomies_and_terms(client, alpha, bravo):
    taxonomies = ok(client, alpha, "/taxonomies")
    assert {t["name"] for t in taxonomies["contents"]} >= {"SDOHCC", "Service types"}
    for item in taxonomies["contents"]:
        assert hsds_schemas.errors("taxonomy", item) == []
        assert ok(client, alpha, f"/taxonomies/{item['id']}") == item
    assert names(ok(client, alpha, "/taxonomies", search="sdohcc")) == ["SDOHCC"]
    terms = ok(client, alpha, "/taxonomy_terms", per_page=100)
    for item in terms["contents"]:
        assert hsds_schemas.errors("taxonomy_term", item) == []
    food = TaxonomyTerm.objects.get(network=alpha.network, code="food")
    assert names(ok(client, alpha, "/taxonomy_terms", parent_id=str(food.hsds_id))) == [
        "Food pantry"
    ]
    top = ok(client, alpha, "/taxonomy_terms", top_only="true", search="food", per_page=100)
    assert "Food pantry" not in names(top)
    assert "Food" in names(top)
    sdoh = ok(client, alpha, "/taxonomy_terms", taxonomy_id=str(SDOH_TAXONOMY_ID), per_page=100)
    assert {t["taxonomy"] for t in sdoh["contents"]} == {"SDOHCC"}
    assert ok(client, alpha, f"/taxonomy_terms/{food.hsds_id}")["name"] == "Food"
    theirs = TaxonomyTerm.objects.get(network=bravo.network, code="food")
    assert get(client, alpha, f"/taxonomy_terms/{theirs.hsds_id}").status_code == 404
    assert str(theirs.hsds_id) not in json.dumps(terms)


def test_service_at_locations(client, alpha):
    page = ok(client, alpha, "/service_at_locations", per_page=100)
    assert page["total_items"] == 9  # the bus passes are offered at two places
    for item in page["contents"]:
        assert hsds_schemas.errors("service_at_location", item) == []
        assert "location" not in item
    full = ok(client, alpha, "/service_at_locations", full="true", search="bus")
    assert len(full["contents"]) == 2
    assert all(s["location"]["addresses"] for s in full["contents"])
    one = full["contents"][0]
    assert ok(client, alpha, f"/service_at_locations/{one['id']}")["location"] == one["location"]


# --- not found, other networks, unpublished -----------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/services", "/organizations", "/taxonomies", "/taxonomy_terms", "/service_at_locations"],
)
def test_unknown_ids_are_json_404s(client, alpha, path):
    for ident in (str(uuid.uuid4()), "not-a-uuid"):
        response = get(client, alpha, f"{path}/{ident}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_nothing_of_another_network_is_listed_or_found(client, alpha, bravo):
    theirs_service = ServicePage.objects.get(title="Bravo Rental Assistance")
    theirs_agency = theirs_service.get_parent()
    theirs_sal = theirs_service.service_locations.get()
    for path in ("/services", "/organizations", "/service_at_locations", "/taxonomy_terms"):
        text = json.dumps(ok(client, alpha, path, per_page=100, full="true"))
        for ident in (theirs_service.hsds_id, theirs_agency.specific.hsds_id, theirs_sal.hsds_id):
            assert str(ident) not in text
        assert "Bravo" not in text
    for path in (
        f"/services/{theirs_service.hsds_id}",
        f"/organizations/{theirs_agency.specific.hsds_id}",
        f"/service_at_locations/{theirs_sal.hsds_id}",
    ):
        assert get(client, alpha, path).status_code == 404
        assert get(client, bravo, path).status_code == 200
    assert ok(client, bravo, "/services")["total_items"] == 1


def test_unpublished_services_and_agencies_are_left_out(client, alpha):
    ServicePage.objects.get(title="Senior Meals").unpublish()
    AgencyPage.objects.get(title="Waterfront Night Shelter").unpublish()  # its services stay live
    listed = names(ok(client, alpha, "/services"))
    assert "Senior Meals" not in listed
    assert "Overnight Shelter Beds" not in listed
    assert ok(client, alpha, "/services")["total_items"] == 5
    shelter = ServicePage.objects.get(title="Overnight Shelter Beds")
    assert shelter.live
    assert get(client, alpha, f"/services/{shelter.hsds_id}").status_code == 404
    assert "Waterfront" not in json.dumps(ok(client, alpha, "/organizations"))


def test_a_host_no_network_serves_answers_404_json(client, alpha):
    from wagtail.models import Site

    Site.objects.update(is_default_site=False)
    response = client.get(f"{API}/services", HTTP_HOST="nowhere.localhost")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --- confidential addresses, hsds_extra ---------------------------------------------------------


def test_confidential_addresses_never_appear(client, alpha, tmp_path):
    shelter = ServicePage.objects.get(title="Confidential Shelter")
    answers = [
        ok(client, alpha, "/services", full="true", per_page=100),
        ok(client, alpha, f"/services/{shelter.hsds_id}"),
        ok(client, alpha, "/organizations", full_service="true", per_page=100),
        ok(client, alpha, "/service_at_locations", full="true", per_page=100),
    ]
    text = json.dumps(answers) + write_json(
        directory_tables(alpha.network), tmp_path / "services.json"
    ).read_text(encoding="utf-8")
    for secret in (STREET, HIDDEN_LAT, "124.1625", "95503"):
        assert secret not in text
    location = answers[1]["service_at_locations"][0]["location"]
    assert location["address_confidential"] is True
    assert location["addresses"] == []
    assert "latitude" not in location


def test_hsds_extra_comes_back_without_handoffs_own_keys(client, alpha):
    pantry = ServicePage.objects.get(title="Weekly Food Pantry")
    contacts = [{"id": str(uuid.uuid4()), "name": "Intake desk"}]
    pantry.hsds_extra = {
        "contacts": contacts,
        "accreditations": "State food bank member",
        "x_original_id": "211-42",
        "name": "Not the name",
    }
    pantry.save()
    service_documents_rebuild(network=alpha.network)  # the direct write above skips publishing
    body = ok(client, alpha, f"/services/{pantry.hsds_id}")
    assert body["contacts"] == contacts
    assert body["accreditations"] == "State food bank member"
    assert body["name"] == "Weekly Food Pantry"
    assert "x_original_id" not in json.dumps(body)
    listed = next(
        s for s in ok(client, alpha, "/services")["contents"] if s["id"] == str(pantry.hsds_id)
    )
    assert listed["accreditations"] == "State food bank member"
    assert "contacts" not in listed


# --- headers: caching, rate limits, CORS, HEAD ------------------------------------------------


def test_etag_answers_304_when_nothing_changed(client, alpha):
    first = get(client, alpha, "/services")
    etag = first["ETag"]
    again = client.get(
        f"{API}/services", HTTP_HOST=alpha.network.site.hostname, HTTP_IF_NONE_MATCH=etag
    )
    assert again.status_code == 304
    assert again.content == b""
    ServicePage.objects.filter(title="Senior Meals").update(title="Senior Lunches")
    service_documents_rebuild(network=alpha.network)  # the direct write above skips publishing
    changed = client.get(
        f"{API}/services", HTTP_HOST=alpha.network.site.hostname, HTTP_IF_NONE_MATCH=etag
    )
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_last_modified_on_an_object_answers_304_when_not_modified_since(client, alpha):
    pantry = ServicePage.objects.get(title="Weekly Food Pantry")
    url = f"{API}/services/{pantry.hsds_id}"
    host = alpha.network.site.hostname
    response = client.get(url, HTTP_HOST=host)
    assert response["Last-Modified"] == http_date(PUBLISHED.timestamp())
    assert (
        client.get(
            url, HTTP_HOST=host, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"]
        ).status_code
        == 304
    )
    earlier = http_date(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert client.get(url, HTTP_HOST=host, HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200


@override_settings(HSDS_API_RATE_LIMIT={"requests": 3, "seconds": 60})
def test_rate_limit_per_client_address(client, alpha):
    host = alpha.network.site.hostname
    for _ in range(3):
        assert client.get(f"{API}/", HTTP_HOST=host, REMOTE_ADDR="203.0.113.9").status_code == 200
    limited = client.get(f"{API}/", HTTP_HOST=host, REMOTE_ADDR="203.0.113.9")
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited["Access-Control-Allow-Origin"] == "*"
    # Another client is not held back.
    assert client.get(f"{API}/", HTTP_HOST=host, REMOTE_ADDR="203.0.113.10").status_code == 200


@override_settings(HSDS_API_RATE_LIMIT={"requests": 0})
def test_rate_limit_can_be_turned_off(client, alpha):
    for _ in range(5):
        assert get(client, alpha, "/").status_code == 200


def test_cors_is_open_for_reads(client, alpha):
    response = get(client, alpha, "/services")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response["Access-Control-Expose-Headers"]
    preflight = client.options(
        f"{API}/services",
        HTTP_HOST=alpha.network.site.hostname,
        HTTP_ORIGIN="https://211.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert preflight["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    posted = client.post(f"{API}/services", HTTP_HOST=alpha.network.site.hostname)
    assert posted.status_code == 405
    assert "Access-Control-Allow-Origin" not in posted


def test_head_answers_the_headers_of_get(client, alpha):
    got = get(client, alpha, "/services")
    head = client.head(f"{API}/services", HTTP_HOST=alpha.network.site.hostname)
    assert head.status_code == 200
    assert head.content == b""
    assert head["ETag"] == got["ETag"]


# --- OpenAPI and docs -------------------------------------------------------------------------


def test_openapi_document_and_docs_page(client, alpha):
    document = ok(client, alpha, "/openapi.json")
    assert document["info"]["title"] == "Handoff HSDS 3.0 API"
    paths = set(document["paths"])
    assert {
        "/api/hsds/",
        "/api/hsds/services",
        "/api/hsds/services/{id}",
        "/api/hsds/organizations",
        "/api/hsds/organizations/{id}",
        "/api/hsds/taxonomies",
        "/api/hsds/taxonomies/{id}",
        "/api/hsds/taxonomy_terms",
        "/api/hsds/taxonomy_terms/{id}",
        "/api/hsds/service_at_locations",
        "/api/hsds/service_at_locations/{id}",
    } <= paths
    parameters = {p["name"] for p in document["paths"]["/api/hsds/services"]["get"]["parameters"]}
    assert {
        "search",
        "taxonomy_term_id",
        "modified_after",
        "full_service",
        "proximity",
    } <= parameters
    docs = get(client, alpha, "/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "script-src 'self'" in docs["Content-Security-Policy"]


def test_openapi_document_declares_every_answer(client, alpha):
    """Every operation names what the wrapper around it may answer (304, 404 for a host
    without a directory, 429), and 400 where it reads parameters."""
    document = ok(client, alpha, "/openapi.json")
    for path, operations in document["paths"].items():
        if path.endswith("/openapi.json") or path.endswith("/docs"):
            continue
        answers = set(operations["get"]["responses"])
        assert {"200", "304", "404", "429"} <= answers, path
        takes_query = any(p["in"] == "query" for p in operations["get"].get("parameters", []))
        assert ("400" in answers) == takes_query, path
    paging = {
        p["name"]: p["schema"] for p in document["paths"]["/api/hsds/services"]["get"]["parameters"]
    }
    assert (paging["per_page"]["minimum"], paging["per_page"]["maximum"]) == (1, 100)
    assert paging["format"]["const"] == "json"


# --- query counts -----------------------------------------------------------------------------


def _count(client, tenant, path, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = get(client, tenant, path, **params)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/services", {}),
        ("/services", {"full": "true"}),
        ("/services", {"minimal": "true"}),
        ("/services", {"full": "true", "taxonomy_term_id": str(well_known_term_id("fee", "free"))}),
        ("/organizations", {}),
        ("/organizations", {"full_service": "true"}),
        ("/service_at_locations", {"full": "true"}),
        ("/taxonomy_terms", {}),
        ("/taxonomies", {}),
    ],
)
def test_query_counts_do_not_grow_with_rows(client, alpha, path, params):
    params = {"per_page": 100, **params}
    few = _count(client, alpha, path, **params)
    directory_build(
        alpha.network,
        [
            Spec(
                f"Extra Service {n}",
                "More of the same.",
                categories=["food-insecurity"],
                types=["pantry"],
                hours=[(2, "10:00", "12:00")],
                agency=f"Extra Agency {n % 3}",
                places=[(40.80, -124.16), (40.86, -124.08)],
            )
            for n in range(9)
        ],
    )
    TaxonomyTerm.objects.create(network=alpha.network, code="more", name="More")
    assert _count(client, alpha, path, **params) == few


# --- one serializer: export and API ---------------------------------------------------------------


def test_the_json_export_holds_the_apis_full_services(client, alpha, tmp_path):
    exported = json.loads(
        write_json(directory_tables(alpha.network), tmp_path / "services.json").read_text(
            encoding="utf-8"
        )
    )
    served = []
    for number in (1, 2, 3):
        served += ok(client, alpha, "/services", full="true", per_page=3, page=number)["contents"]
    assert exported == served
    for service in exported:
        assert hsds_schemas.errors("service", service) == []


def test_the_csv_export_holds_every_published_organization_and_term(alpha):
    tables = directory_tables(alpha.network)
    assert len(tables["organizations"]) == 7
    assert len(tables["services"]) == 8
    assert len(tables["service_at_location"]) == 9
    assert any(row["name"] == "Food pantry" for row in tables["taxonomy_terms"])
    shelter = next(row for row in tables["locations"] if row.get("address_confidential"))
    assert "latitude" not in shelter
    for row in tables["addresses"]:
        assert row["address_1"] != STREET


# --- the official compiled schemas (opt-in) ---------------------------------------------------


def _official_answers(client, alpha) -> dict[str, list[tuple[str, dict]]]:
    """Every GET operation of the API, each answer under the official file its OpenAPI response
    names: ``(label, object)`` pairs, one per object checked."""
    pantry = ServicePage.objects.get(title="Weekly Food Pantry")
    shelter = AgencyPage.objects.get(title="Waterfront Night Shelter")
    _addresses_varied(pantry)  # an address missing what HSDS requires, and a second one
    answers: dict[str, list[tuple[str, dict]]] = {}

    def listed(file_name: str, path: str, **params) -> None:
        page = ok(client, alpha, path, per_page=100, **params)
        assert page["contents"], (path, params)
        answers.setdefault("page", []).append((f"{path} {params}", page))
        answers.setdefault(file_name, []).extend(
            (f"{path} {params} #{n}", obj) for n, obj in enumerate(page["contents"])
        )

    def detail(file_name: str, path: str) -> None:
        answers.setdefault(file_name, []).append((path, ok(client, alpha, path)))

    listed("service_list.json", "/services")
    listed("service.json", "/services", full="true")
    detail("service.json", f"/services/{pantry.hsds_id}")
    listed("organization_list.json", "/organizations")
    listed("organization.json", "/organizations", full="true")
    detail("organization.json", f"/organizations/{shelter.hsds_id}")
    detail("organization.json", f"/organizations/{shelter.hsds_id}?full_service=true")
    taxonomies = ok(client, alpha, "/taxonomies", per_page=100)["contents"]
    listed("taxonomy.json", "/taxonomies")
    detail("taxonomy.json", f"/taxonomies/{taxonomies[0]['id']}")
    terms = ok(client, alpha, "/taxonomy_terms", per_page=100)["contents"]
    listed("taxonomy_term.json", "/taxonomy_terms")
    detail("taxonomy_term.json", f"/taxonomy_terms/{terms[0]['id']}")
    places = ok(client, alpha, "/service_at_locations", per_page=100)["contents"]
    listed("service_at_location_list.json", "/service_at_locations")
    listed("service_at_location.json", "/service_at_locations", full="true")
    # The OpenAPI file names compiled/service.json for this answer; HSDS's own
    # service_at_location.json is what the answer is, and both are checked.
    detail("service_at_location.json", f"/service_at_locations/{places[0]['id']}")
    return answers


PAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "total_items": {"type": "integer"},
        "total_pages": {"type": "integer"},
        "page_number": {"type": "integer"},
        "size": {"type": "integer"},
        "first_page": {"type": "boolean"},
        "last_page": {"type": "boolean"},
        "empty": {"type": "boolean"},
        "contents": {"type": "array"},
    },
    "required": ["empty"],
}


@pytest.mark.skipif(
    hsds_schemas.official_dir() is None,
    reason="HSDS_SCHEMA_DIR does not name a folder of the official HSDS 3.0 schema files",
)
def test_answers_validate_against_the_official_schemas(client, alpha):
    """Each answer of every operation against the official file named for it in the API
    reference (``service.json``, ``service_list.json``, ``organization.json``...), and each
    list's envelope against the reference's Page object. The ``minimal`` services list is
    left out: the reference gives it only ``id`` and the modified date, which no compiled
    schema describes."""
    folder = hsds_schemas.official_dir()
    assert folder is not None
    answers = _official_answers(client, alpha)
    checked = 0
    for file_name, objects in answers.items():
        if file_name == "page":
            validator = Draft202012Validator(PAGE_SCHEMA)
        else:
            assert (folder / file_name).exists(), f"{file_name} is not in {folder}"
            validator = hsds_schemas.official_validator(file_name)
        for label, obj in objects:
            problems = [
                f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
                for e in validator.iter_errors(obj)
            ]
            assert problems == [], (file_name, label, problems)
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_whose_terms_have_parents_imports_without_problems(alpha, tmp_path, fmt):
    """The pantry term's parent (Food) tags no service: neither export may name a term it
    does not hold, and the CSV export keeps the tree."""
    from directory.hsds.importing import directory_import
    from directory.hsds.reading import read
    from directory.hsds.writing import write_package
    from tests.network.factories import network_make

    tables = directory_tables(alpha.network)
    if fmt == "csv":
        source = write_package(tables, tmp_path / "export", name="alpha")[-1].parent
    else:
        source = write_json(tables, tmp_path / "services.json")
    copy = network_make("Copy Network")
    report = directory_import(network=copy, dataset=read(source))  # raises on any problem
    assert not [w for w in report.warnings if "parent" in str(w)]
    pantry = TaxonomyTerm.objects.get(network=copy, code="pantry")
    if fmt == "csv":
        assert pantry.parent is not None
        assert pantry.parent.code == "food"
    tagged = ServicePage.objects.filter(service_types__code="pantry")
    assert (
        tagged.filter(service_types=pantry).count() == tagged.exclude(service_types=pantry).count()
    )
