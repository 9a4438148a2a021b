"""Bad input answers 400 with a clear message, never 500, and writes nothing.

Each finding of issue 13 §7 has its test here; ``test_no_url_answers_500_to_bad_input`` then walks
every URL pattern of the workspace, its API and the admin pages of this project with bad query
parameters and bodies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from consent.models import AccessLog, DataSharingAgreement
from network.models import Client, Notification, Referral, ReferralEvent
from tests.clinic.conftest import act_as
from tests.loop.conftest import Loop, loop, other_loop  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

API = reverse("network:api_referrals")
NUL = "\x00"


def written() -> dict[str, int]:
    """Row counts of everything a request of these tests could write."""
    return {
        model.__name__: model.objects.count()
        for model in (Client, Referral, ReferralEvent, Notification, AccessLog)
    }


def _api_send(http: Any, loop: Loop, **body: Any) -> Any:  # noqa: F811
    payload = {
        "client": loop.client.pk,
        "targets": [{"service": loop.food.pk}],
        "categories": ["food-insecurity"],
        **body,
    }
    return http.post(
        API,
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Idempotency-Key": "k"},
    )


# --- NUL characters ----------------------------------------------------------------------------


def test_nul_in_the_client_search_is_refused_with_a_message(client, loop):  # noqa: F811
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.post(reverse("network:client_list"), {"q": f"Lop{NUL}ez"})
    assert response.status_code == 400
    assert "cannot contain null characters" in response.content.decode()


def test_nul_in_a_query_parameter_is_refused_everywhere(client, loop):  # noqa: F811
    act_as(client, loop.clinic_staff, loop.clinic)
    for url in (reverse("network:client_list"), reverse("network:search"), "/search/"):
        response = client.get(url, {"q": f"food{NUL}"})
        assert response.status_code == 400, url
        assert "cannot contain null characters" in response.content.decode()


def test_nul_in_a_form_field_names_the_field_and_writes_nothing(client, loop):  # noqa: F811
    act_as(client, loop.clinic_staff, loop.clinic)
    before = written()
    response = client.post(
        reverse("network:client_new"),
        {
            "first_name": f"A{NUL}na",
            "last_name": "Reyes",
            "date_of_birth": "1975-03-02",
            "contact_preference": "phone",
            "preferred_language": "es",
        },
    )
    assert response.status_code == 400
    assert "first_name" in response.content.decode() or "First name" in response.content.decode()
    assert written() == before


def test_nul_in_the_api_status_filter_is_refused(client, loop):  # noqa: F811
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.get(API, {"status": NUL})
    assert response.status_code == 400
    assert "null characters" in response.json()["message"]


def test_nul_in_an_api_body_string_is_refused_and_nothing_is_sent(client, loop):  # noqa: F811
    act_as(client, loop.clinic_staff, loop.clinic)
    before = written()
    response = _api_send(client, loop, note=f"call{NUL}after 5")
    assert response.status_code == 400
    assert "note" in response.json()["errors"]
    assert written() == before


# --- the API's JSON types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"targets": [{"service": {"a": 1}}]}, "targets"),
        ({"targets": [{"service": [1]}]}, "targets"),
        ({"targets": [{"service": 10**30}]}, "targets"),
        ({"targets": [{"service": "12x"}]}, "targets"),
        ({"targets": [{"service": 1, "location": {"a": 1}}]}, "targets"),
        ({"targets": {"service": 1}}, "targets"),
        ({"targets": "abc"}, "targets"),
        ({"categories": [{}]}, "categories"),
        ({"categories": "food-insecurity"}, "categories"),
        ({"categories": [["food-insecurity"]]}, "categories"),
        ({"urgency": {"a": 1}}, "urgency"),
        ({"note": ["a"]}, "note"),
        ({"note": "x" * 20_000}, "note"),
        ({"client": 10**30}, "client"),
        ({"client": True}, "client"),
    ],
)
def test_api_send_with_wrong_json_types_answers_400_per_field(client, loop, body, field):  # noqa: F811
    act_as(client, loop.clinic_staff, loop.clinic)
    before = written()
    response = _api_send(client, loop, **body)
    assert response.status_code == 400, response.content[:500]
    assert field in response.json()["errors"], response.json()
    assert written() == before


def test_api_service_given_as_an_object_names_the_field(client, loop):  # noqa: F811
    """The finding as reported: ``{"service": {"a": 1}}`` at the top of a target."""
    act_as(client, loop.clinic_staff, loop.clinic)
    response = _api_send(client, loop, targets=[{"service": {"a": 1}}])
    assert response.status_code == 400
    assert "service" in " ".join(response.json()["errors"]["targets"])


@pytest.mark.parametrize(
    "body",
    [
        {"version": 1, "to": {"a": 1}},
        {"version": 1, "to": "accepted", "reason": ["x"]},
        {"version": 10**30, "to": "accepted"},
        {"version": True, "to": "accepted"},
        {"version": 1, "to": f"accep{NUL}ted"},
        {"version": 1, "to": "completed", "outcome_note": {"a": 1}},
    ],
)
def test_api_transition_with_wrong_json_types_answers_400(client, loop, body):  # noqa: F811
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    events = ReferralEvent.objects.count()
    response = client.post(
        reverse("network:api_referral_transition", args=[referral.pk]),
        data=json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code in (400, 409), response.content[:500]
    assert response.status_code == 400 or response.json()["error"] == "stale_version"
    assert ReferralEvent.objects.count() == events
    referral.refresh_from_db()
    assert referral.status == "requested"


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "start=9999-12-31&end=9999-12-31",
        "end=0001-01-02",
        "start=0001-01-01&end=0001-01-01",
        "start=9999-12-25",
    ],
)
def test_dashboard_dates_at_the_ends_of_the_calendar_are_explained(client, loop, query):  # noqa: F811
    client.force_login(loop.admin)
    response = client.get(f"{reverse('network_dashboard')}?{query}")
    assert response.status_code == 400
    assert "Choose dates between" in response.content.decode()
    csv_response = client.get(f"{reverse('network_dashboard')}?{query}&format=csv&table=agencies")
    assert csv_response.status_code == 400
    assert "Choose dates between" in csv_response.content.decode()


# --- the agreement chooser ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_agreement_chooser_offers_no_creation(client, loop, method):  # noqa: F811
    """Agreements are created only through their own form (versioning, the admin's networks):
    the chooser's create URL does not exist, and nothing is written."""
    client.force_login(loop.admin)
    before = DataSharingAgreement.objects.count()
    url = "/admin/snippets/choose/consent/datasharingagreement/create/"
    response = getattr(client, method)(url, {"agency": loop.food_agency.pk})
    assert response.status_code == 404
    assert DataSharingAgreement.objects.count() == before
    chooser = client.get("/admin/snippets/choose/consent/datasharingagreement/")
    assert chooser.status_code == 200
