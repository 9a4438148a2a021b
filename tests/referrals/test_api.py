"""The referral API (``/workspace/api/``, django-ninja): who may call each operation, what each
network sees, the list's filters, paging and cost, the send's idempotency, bad input, CSRF,
and the published schema and docs page. The flows it shares with the pages (consent, free
text, reason codes, stale versions) are tested with them (test_consent_matrix, test_free_text,
test_reason_codes, test_lifecycle_http)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consent.models import AccessLog
from network.models import User
from referrals.models import Notification, Referral, ReferralEvent
from tests.conftest import act_as
from tests.network.factories import UserFactory
from tests.referrals.factories import Loop

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock_before_sent_at")]

LIST = reverse("referrals:api:referrals")
NUL = "\x00"


def detail_url(pk: int) -> str:
    return reverse("referrals:api:referral", args=[pk])


def move_url(pk: int) -> str:
    return reverse("referrals:api:referral_transition", args=[pk])


def written() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Referral, ReferralEvent, Notification, AccessLog)
    }


def send(http: HttpClient, loop: Loop, key: str = "api-1", **body: Any) -> Any:
    payload = {
        "client": loop.client.pk,
        "targets": [{"service": loop.food.pk}],
        "categories": ["food-insecurity"],
        **body,
    }
    return http.post(
        LIST, json.dumps(payload), content_type="application/json", headers={"Idempotency-Key": key}
    )


def move(http: HttpClient, pk: int, **body: Any) -> Any:
    return http.post(move_url(pk), json.dumps(body), content_type="application/json")


def fields(response: Any) -> list[str]:
    return [d["field"] for d in response.json()["details"]]


# --- who may do what ---------------------------------------------------------------------------

ACTORS = ["clinic", "agency", "other_agency", "network_admin", "other_network", "no_membership"]


def sign_in(http: HttpClient, loop: Loop, other_loop: Loop, actor: str) -> HttpClient:
    if actor == "clinic":
        return act_as(http, loop.clinic_staff, loop.clinic)
    if actor == "agency":
        return act_as(http, loop.agency_staff, loop.food_agency)
    if actor == "other_agency":  # the housing agency: same network, not the recipient
        return act_as(http, loop.users["housing_staff"], loop.housing_agency)
    if actor == "network_admin":
        return act_as(http, loop.admin, None)
    if actor == "other_network":
        return act_as(http, other_loop.clinic_staff, other_loop.clinic)
    user: User = UserFactory(username="nobody-anywhere")
    http.force_login(user)
    return http


# What each actor gets from each operation on a referral the loop's clinic sent to the food
# agency (read, change) or from the list.
EXPECTED = {
    #                 list  read  accept  cancel
    "clinic": (200, 200, 400, 200),  # the clinic may cancel, not accept (wrong side)
    "agency": (200, 200, 200, 200),
    "other_agency": (200, 404, 404, 404),
    "network_admin": (403, 404, 404, 404),  # acts for no organization
    "other_network": (200, 404, 404, 404),
    "no_membership": (403, 403, 403, 403),
}


@pytest.mark.parametrize("actor", ACTORS)
def test_each_operation_answers_each_role(client, loop, other_loop, actor):
    referral = loop.send()
    sign_in(client, loop, other_loop, actor)
    listed = client.get(LIST)
    read = client.get(detail_url(referral.pk))
    accept = move(client, referral.pk, to="accepted", version=1)
    referral.refresh_from_db()
    cancel = move(client, referral.pk, to="cancelled", version=referral.version, reason="Moved")
    got = (listed.status_code, read.status_code, accept.status_code, cancel.status_code)
    assert got == EXPECTED[actor], [r.content[:200] for r in (listed, read, accept, cancel)]
    if listed.status_code == 200:
        ids = [row["id"] for row in listed.json()["contents"]]
        assert (referral.pk in ids) == (actor in ("clinic", "agency"))
    if read.status_code != 200:  # nothing of the referral, not even that it exists
        assert read.json()["error"] in ("not_found", "forbidden")
        assert "Maria" not in read.content.decode()


@pytest.mark.parametrize("actor", ["agency", "other_agency", "network_admin", "no_membership"])
def test_only_clinic_staff_send_and_the_others_write_nothing(client, loop, other_loop, actor):
    sign_in(client, loop, other_loop, actor)
    before = written()
    response = send(client, loop)
    assert response.status_code == 403, response.content[:300]
    assert response.json()["error"] == "forbidden"
    assert written() == before


def test_another_networks_clinic_cannot_send_for_this_networks_client(client, loop, other_loop):
    act_as(client, other_loop.clinic_staff, other_loop.clinic)
    before = written()
    response = send(client, loop)
    assert response.status_code == 400
    # Neither the client nor the service is theirs: named as not found, nothing more.
    assert fields(response) == ["client", "targets.0.service"]
    assert written() == before


def test_a_service_of_another_network_is_not_found(client, loop, other_loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    response = send(client, loop, targets=[{"service": other_loop.food.pk}])
    assert response.status_code == 400
    assert fields(response) == ["targets.0.service"]
    assert not Referral.objects.exists()


def test_without_signing_in_every_operation_answers_401_json(client, loop):
    referral = loop.send()
    for response in (
        client.get(LIST),
        client.get(detail_url(referral.pk)),
        move(client, referral.pk, to="accepted", version=1),
        send(client, loop),
    ):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"
    assert Referral.objects.get().status == "requested"


def test_another_networks_referral_is_not_found_for_every_operation(client, loop, other_loop):
    theirs = other_loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    assert client.get(detail_url(theirs.pk)).status_code == 404
    assert move(client, theirs.pk, to="accepted", version=1).status_code == 404
    assert theirs.pk not in [r["id"] for r in client.get(LIST).json()["contents"]]
    theirs.refresh_from_db()
    assert theirs.status == "requested"
    assert not AccessLog.objects.filter(referral=theirs).exists()


# --- the list ----------------------------------------------------------------------------------


def test_the_list_answers_the_page_envelope_in_order(client, loop):
    sent = [loop.send(key=f"k{n}") for n in range(3)]
    act_as(client, loop.clinic_staff, loop.clinic)
    first = client.get(LIST, {"per_page": 2}).json()
    assert {k: v for k, v in first.items() if k != "contents"} == {
        "total_items": 3,
        "total_pages": 2,
        "page_number": 1,
        "size": 2,
        "first_page": True,
        "last_page": False,
        "empty": False,
    }
    second = client.get(LIST, {"per_page": 2, "page": 2}).json()
    assert (second["size"], second["last_page"]) == (1, True)
    newest_first = [r["id"] for r in first["contents"] + second["contents"]]
    assert newest_first == [r.pk for r in reversed(sent)]
    assert first["contents"][0]["direction"] == "sent"
    beyond = client.get(LIST, {"per_page": 2, "page": 3}).json()
    assert (beyond["empty"], beyond["contents"]) == (True, [])


def test_the_list_filters_combine(client, loop):
    food = loop.send(key="food")
    housing = loop.send(service=loop.housing, key="housing")
    act_as(client, loop.agency_staff, loop.food_agency)
    client.post(  # the agency accepts the food referral: it changed after the housing one
        move_url(food.pk), {"to": "accepted", "version": 1}, content_type="application/json"
    )
    food.refresh_from_db()
    act_as(client, loop.clinic_staff, loop.clinic)

    def ids(**query: Any) -> list[int]:
        response = client.get(LIST, query)
        assert response.status_code == 200, response.content[:300]
        return [r["id"] for r in response.json()["contents"]]

    assert ids(status=["accepted"]) == [food.pk]
    assert ids(status=["accepted", "requested"]) == [housing.pk, food.pk]
    assert ids(direction="sent") == [housing.pk, food.pk]
    assert ids(direction="received") == []
    assert ids(category="housing-instability") == [housing.pk]
    assert ids(category="housing-instability", status="accepted") == []
    assert ids(updated_after=housing.updated_at.isoformat()) == [food.pk]
    assert ids(sort="updated_at") == [housing.pk, food.pk]
    assert ids(sort="-updated_at") == [food.pk, housing.pk]
    assert ids(overdue="false") == [housing.pk, food.pk]
    assert ids(overdue="true") == []
    act_as(client, loop.agency_staff, loop.food_agency)
    assert ids(direction="received") == [food.pk]
    assert ids(direction="sent") == []


@pytest.mark.parametrize(
    "query",
    [
        {"status": "nothing"},
        {"direction": "sideways"},
        {"page": "0"},
        {"page": "99999999999999999999"},
        {"per_page": "101"},
        {"per_page": "-1"},
        {"updated_after": "yesterday"},
        {"updated_after": "2026-11-24T10:00:00"},  # no time zone
        {"updated_after": "0001-01-01T00:00:00+14:00"},  # before the calendar in UTC
        {"updated_after": "13"},  # not seconds since 1970
        {"sent_from": "2026-02-30"},
        {"sent_to": "0"},  # not a day counted in seconds since 1970
        {"sort": "client"},
        {"overdue": "maybe"},
        {"category": "x" * 101},
        {"category": f"food{NUL}"},
    ],
)
def test_bad_list_parameters_answer_400_naming_the_parameter(client, loop, query):
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.get(LIST, query)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["error"] == "invalid"
    (name,) = query
    assert any(d["field"].split(".")[0] == name for d in body.get("details") or []) or (
        "null characters" in body["message"]
    ), body


def test_the_calendar_ends_are_answered_not_failed(client, loop):
    loop.send()
    act_as(client, loop.clinic_staff, loop.clinic)
    for query in (
        {"sent_from": "0001-01-01", "sent_to": "9999-12-31"},
        {"updated_after": "9999-12-31T23:59:59Z"},
    ):
        response = client.get(LIST, query)
        assert response.status_code == 200, (query, response.content[:300])


@pytest.mark.parametrize("side", ["clinic", "agency"])
def test_the_filtered_list_costs_the_same_queries_for_any_number_of_rows(client, loop, side):
    if side == "clinic":
        act_as(client, loop.clinic_staff, loop.clinic)
    else:
        act_as(client, loop.agency_staff, loop.food_agency)
    query = {"status": ["requested", "accepted"], "category": "food-insecurity", "per_page": 100}
    loop.send(key="first")

    def cost() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(LIST, query)
        assert response.status_code == 200
        return len(captured.captured_queries)

    few = cost()
    for n in range(15):
        loop.send(key=f"more-{n}")
    assert cost() == few
    assert client.get(LIST, query).json()["size"] == 16


# --- sending -----------------------------------------------------------------------------------


def test_a_send_answers_201_with_the_referrals(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    response = send(
        client,
        loop,
        targets=[{"service": loop.food.pk}, {"service": loop.housing.pk}],
        categories=["food-insecurity", "housing-instability"],
    )
    assert response.status_code == 201, response.content[:300]
    rows = response.json()["referrals"]
    assert sorted(r["service"]["id"] for r in rows) == sorted([loop.food.pk, loop.housing.pk])
    assert {r["status"] for r in rows} == {"requested"}
    assert {r["direction"] for r in rows} == {"sent"}


def test_a_key_used_again_for_other_services_is_a_conflict_and_sends_nothing(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    assert send(client, loop, key="once").status_code == 201
    before = written()
    response = send(
        client,
        loop,
        key="once",
        targets=[{"service": loop.food.pk}, {"service": loop.housing.pk}],
        categories=["food-insecurity", "housing-instability"],
    )
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert written() == before


def test_a_location_the_service_is_not_offered_at_is_named(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    housing_place = loop.housing.get_parent().specific.locations.first()
    response = send(client, loop, targets=[{"service": loop.food.pk, "location": housing_place.pk}])
    assert response.status_code == 400
    assert fields(response) == ["targets.0.location"]
    assert not Referral.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"surprise": 1}, "surprise"),  # unknown members are refused, not ignored
        ({"targets": [{"service": 1, "extra": True}]}, "targets.0.extra"),
        ({"client": "1"}, "client"),  # ids are JSON integers
        ({"client": 2**63}, "client"),
        ({"client": 0}, "client"),
        ({"targets": []}, "targets"),
        ({"targets": [{"service": 1}] * 21}, "targets"),
        ({"categories": []}, "categories"),
        ({"categories": ["x" * 101]}, "categories.0"),
        ({"urgency": "whenever"}, "urgency"),
        ({"note": "x" * 5001}, "note"),
        ({"consent": {"method": "verbal", "attestation": f"ok{NUL}"}}, "consent.attestation"),
        ({"consent": {"method": "verbal", "whole_network": 1}}, "consent.whole_network"),
    ],
)
def test_a_bad_send_body_answers_400_naming_the_field_and_writes_nothing(client, loop, body, field):
    act_as(client, loop.clinic_staff, loop.clinic)
    before = written()
    response = send(client, loop, **body)
    assert response.status_code == 400, response.content[:300]
    assert field in fields(response), response.json()
    assert written() == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('"text"', "application/json"),
        ("", "application/json"),
        ("client=1", "application/x-www-form-urlencoded"),
        ('{"client": 1e999}', "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_answers_400(client, loop, data, content_type):
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.post(
        LIST, data=data, content_type=content_type, headers={"Idempotency-Key": "k"}
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"] == "invalid"
    assert not Referral.objects.exists()


# --- changing status ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"to": "accepted", "version": 1, "surprise": True},
        {"to": "accepted", "version": "1"},
        {"to": "accepted", "version": 2**63},
        {"to": "accepted", "version": -1},
        {"to": "reopened", "version": 1},
        {"to": "accepted"},
        {"to": "rejected", "version": 1, "reason": f"Full{NUL}"},
        {"to": "rejected", "version": 1, "reason": "x" * 5001},
    ],
)
def test_a_bad_change_answers_400_and_changes_nothing(client, loop, body):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    events = ReferralEvent.objects.count()
    response = move(client, referral.pk, **body)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"] == "invalid"
    assert ReferralEvent.objects.count() == events
    assert Referral.objects.get(pk=referral.pk).status == "requested"


@pytest.mark.parametrize("pk", ["0", "abc", "99999999999999999999", "-1"])
def test_a_referral_id_that_is_not_one_answers_400_json(client, loop, pk):
    act_as(client, loop.agency_staff, loop.food_agency)
    for response in (
        client.get(f"{LIST}{pk}/"),
        client.post(f"{LIST}{pk}/transition/", "{}", content_type="application/json"),
    ):
        assert response.status_code == 400, response.content[:300]
        assert "referral_id" in fields(response)


def test_an_id_no_referral_has_answers_404(client, loop):
    act_as(client, loop.agency_staff, loop.food_agency)
    response = client.get(detail_url(2**63 - 1))
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "Not found."}


# --- CSRF: the session's protection, as on the pages --------------------------------------------


def test_a_change_without_the_csrf_token_is_refused(loop):
    referral = loop.send()
    http = act_as(HttpClient(enforce_csrf_checks=True), loop.agency_staff, loop.food_agency)
    refused = move(http, referral.pk, to="accepted", version=1)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    assert Referral.objects.get(pk=referral.pk).status == "requested"
    assert http.get(LIST).status_code == 200  # reads need no token
    token = "a" * 32
    http.cookies["csrftoken"] = token
    accepted = http.post(
        move_url(referral.pk),
        json.dumps({"to": "accepted", "version": 1}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 200, accepted.content[:300]
    assert accepted.json()["status"] == "accepted"


# --- the schema and the docs page ---------------------------------------------------------------


def test_the_schema_and_the_docs_are_for_members(client, loop, other_loop):
    schema_url = reverse("referrals:api:openapi-json")
    docs_url = reverse("referrals:api:openapi-view")
    assert (schema_url, docs_url) == ("/workspace/api/openapi.json", "/workspace/api/docs")
    for url in (schema_url, docs_url):
        anonymous = client.get(url)
        assert anonymous.status_code == 302
        assert anonymous.headers["Location"].startswith(reverse("login"))
    client.force_login(UserFactory(username="not-a-member"))
    assert client.get(schema_url).status_code == 403
    act_as(client, loop.agency_staff, loop.food_agency)
    schema = client.get(schema_url).json()
    assert set(schema["paths"]) == {
        "/workspace/api/referrals/",
        "/workspace/api/referrals/{referral_id}/",
        "/workspace/api/referrals/{referral_id}/transition/",
    }
    docs = client.get(docs_url)
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert "https://" not in page
