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
from referrals.models import Client, Notification, Referral, ReferralEvent
from referrals.services.clients import screening_record
from tests.conftest import act_as
from tests.referrals.factories import Loop

pytestmark = pytest.mark.django_db

API = reverse("referrals:api:referrals")
NUL = "\x00"


def written() -> dict[str, int]:
    """Row counts of everything a request of these tests could write."""
    return {
        model.__name__: model.objects.count()
        for model in (Client, Referral, ReferralEvent, Notification, AccessLog)
    }


def _api_send(http: Any, loop: Loop, **body: Any) -> Any:
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


def test_nul_in_the_client_search_is_refused_with_a_message(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.post(reverse("referrals:client_list"), {"q": f"Lop{NUL}ez"})
    assert response.status_code == 400
    assert "cannot contain null characters" in response.content.decode()


def test_nul_in_a_query_parameter_is_refused_everywhere(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    for url in (reverse("referrals:client_list"), reverse("referrals:search"), "/search/"):
        response = client.get(url, {"q": f"food{NUL}"})
        assert response.status_code == 400, url
        assert "cannot contain null characters" in response.content.decode()


def test_nul_in_a_form_field_names_the_field_and_writes_nothing(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    before = written()
    response = client.post(
        reverse("referrals:client_new"),
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


def test_nul_in_the_api_status_filter_is_refused(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.get(API, {"status": NUL})
    assert response.status_code == 400
    body = response.json()
    assert "null characters" in body["message"]
    assert [d["field"] for d in body["details"]] == ["status"]  # the APIs' own error form


def test_nul_in_an_api_body_string_is_refused_and_nothing_is_sent(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    before = written()
    response = _api_send(client, loop, note=f"call{NUL}after 5")
    assert response.status_code == 400
    assert "note" in {d["field"] for d in response.json()["details"]}
    assert written() == before


# --- the API's JSON types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"targets": [{"service": {"a": 1}}]}, "targets"),
        ({"targets": [{"service": [1]}]}, "targets"),
        ({"targets": [{"service": 10**30}]}, "targets"),
        ({"targets": [{"service": "12x"}]}, "targets"),
        ({"targets": [{"service": "FOOD", "location": {"a": 1}}]}, "targets"),
        ({"targets": [{"service": "FOOD", "location": 10**30}]}, "targets"),
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
        ({"consent": "yes"}, "consent"),
        ({"consent": ["verbal"]}, "consent"),
        ({"consent": {"method": "signed_form"}}, "consent"),
        ({"consent": {"method": "verbal", "whole_network": "yes"}}, "consent"),
        ({"consent": {"method": 1}}, "method"),
        ({"consent": {"method": "electronic", "signature": {"a": 1}}}, "signature"),
    ],
)
def test_api_send_with_wrong_json_types_answers_400_per_field(client, loop, body, field):
    act_as(client, loop.clinic_staff, loop.clinic)
    before = written()
    for target in body.get("targets") or []:
        if isinstance(target, dict) and target.get("service") == "FOOD":
            target["service"] = loop.food.pk  # a real service, so that the location is read
    response = _api_send(client, loop, **body)
    assert response.status_code == 400, response.content[:500]
    assert any(field in d["field"] for d in response.json()["details"]), response.json()
    assert written() == before


def test_api_service_given_as_an_object_names_the_field(client, loop):
    """The finding as reported: ``{"service": {"a": 1}}`` at the top of a target."""
    act_as(client, loop.clinic_staff, loop.clinic)
    response = _api_send(client, loop, targets=[{"service": {"a": 1}}])
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["targets.0.service"]


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
def test_api_transition_with_wrong_json_types_answers_400(client, loop, body):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    events = ReferralEvent.objects.count()
    response = client.post(
        reverse("referrals:api:referral_transition", args=[referral.pk]),
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
def test_dashboard_dates_at_the_ends_of_the_calendar_are_explained(client, loop, query):
    client.force_login(loop.admin)
    response = client.get(f"{reverse('network_dashboard')}?{query}")
    assert response.status_code == 400
    assert "Choose a date between" in response.content.decode()
    csv_response = client.get(f"{reverse('network_dashboard')}?{query}&format=csv&table=agencies")
    assert csv_response.status_code == 400
    assert "Choose a date between" in csv_response.content.decode()


# --- the agreement chooser ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_agreement_chooser_offers_no_creation(client, loop, method):
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


# --- every URL, bad parameters -----------------------------------------------------------------

OUR_APPS = ("cms", "network", "directory", "consent", "search", "referrals")
# One request sets every parameter below to the same bad value.
BAD_VALUES = [
    "-1",
    "99999999999999999999",
    "abc",
    "9999-12-31",
    "0001-01-01",
    "1e309",
    "%",
    "x" * 3000,
]
# The parameters this project's views and forms read (and a few common ones).
PARAMETERS = [
    "action",
    "age",
    "agency",
    "attestation",
    "attested",
    "categories",
    "category",
    "client",
    "clinic",
    "consent",
    "date_of_birth",
    "document",
    "effective_to",
    "email",
    "end",
    "expires_on",
    "external_id",
    "field_name",
    "fields",
    "first_name",
    "format",
    "id",
    "idempotency_key",
    "kind",
    "language",
    "last_name",
    "location",
    "membership",
    "method",
    "near",
    "network",
    "next",
    "note",
    "open_at",
    "open_now",
    "outcome",
    "outcome_note",
    "overdue",
    "p",
    "page",
    "page_size",
    "pk",
    "postalcode",
    "q",
    "radius",
    "reason",
    "recipients",
    "refresh",
    "role",
    "scope",
    "script_digest",
    "script_shown",
    "sensitive_recipients",
    "sent_from",
    "sent_to",
    "service",
    "services",
    "signature",
    "signed_form",
    "sort",
    "start",
    "status",
    "tab",
    "table",
    "text",
    "to",
    "type",
    "u",
    "upload",
    "urgency",
    "verbal_confirmed",
    "version",
    "whole_network",
]
BAD_JSON: list[Any] = [
    {"a": 1},
    [1, {}],
    10**30,
    {k: {"a": [1]} for k in ("client", "targets", "categories", "version", "to", "note")},
]
HUGE_ID = "99999999999999999999"


def _routes() -> list[tuple[str, str]]:
    """(route, view module) of every URL pattern of this project's views, and of the Wagtail
    snippet views of its models (walked from the resolvers: a new view is covered)."""
    from django.urls import URLResolver, get_resolver

    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str, api: bool = False) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                # A JSON API of ours (cms.api) is django-ninja's views, mounted in our URLs.
                ninja = pattern.app_name == "ninja" and prefix.split("/")[0] in ("workspace", "api")
                walk(pattern.url_patterns, prefix + str(pattern.pattern), api or ninja)
                continue
            route = prefix + str(pattern.pattern)
            view = getattr(pattern.callback, "view_class", pattern.callback)
            module = getattr(view, "__module__", "") or ""
            ours = api or module.split(".")[0] in OUR_APPS
            snippet = route.startswith("admin/snippets/") and any(
                f"/{app}/" in route for app in OUR_APPS
            )
            if ours or snippet:
                found.append((route, module))

    walk(get_resolver().url_patterns, "")
    # Deleting and removing come last, so the other pages still find their objects.
    return sorted(found, key=lambda r: ("delete" in r[0] or "remove" in r[0], r[0]))


def _objects(loop: Loop) -> dict[str, int]:
    """Ids of one object of each kind the URLs name, all belonging to ``loop``'s actors."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from directory.models import DirectoryImport, ListingSuggestion, TaxonomyTerm

    referral = loop.send()
    screening = screening_record(
        client=loop.client, by=loop.clinic_staff, organization=loop.clinic, answers={}
    )
    term = TaxonomyTerm.objects.filter(network=loop.tenant.network).first() or (
        TaxonomyTerm.objects.create(network=loop.tenant.network, code="t1", name="Term")
    )
    suggestion = ListingSuggestion.objects.create(
        page=loop.food,
        network=loop.tenant.network,
        organization=loop.food_agency,
        suggested_by=loop.agency_staff,
        text="The phone changed.",
    )
    job = DirectoryImport.objects.create(
        network=loop.tenant.network,
        original_name="d.zip",
        upload=SimpleUploadedFile("d.zip", b"x"),
        status="failed",
    )
    return {
        "clients/": loop.client.pk,
        "listings/services/": loop.food.pk,
        "screening_pk": screening.pk,
        "consent_pk": loop.consent.pk,
        "membership_id": loop.clinic.memberships.first().pk,
        "agency_id": loop.food_agency.pk,
        "directory/import/": job.pk,
        "/organization/": loop.food_agency.pk,
        "/network/network/": loop.tenant.network.pk,
        "/taxonomyterm/": term.pk,
        "/listingsuggestion/": suggestion.pk,
        "/datasharingagreement/": loop.agreements["food"].pk,
        "referral": referral.pk,
        "referral_id": referral.pk,
    }


def _urls(route: str, objects: dict[str, int], slug: str) -> list[str]:
    """``route`` filled with the actor's own objects, and once with an id no database holds."""
    import re

    converter = re.compile(r"<(?:(\w+):)?(\w+)>")

    def own(match: re.Match[str]) -> str:
        kind, name = match.group(1) or "str", match.group(2)
        if kind == "slug":
            return slug
        if name in objects:
            return str(objects[name])
        for prefix, pk in objects.items():
            if prefix.endswith("/") and prefix in "/" + route:
                return str(pk)
        return str(objects["referral"]) if kind == "int" else "abc"

    filled = "/" + converter.sub(own, route)
    if not converter.search(route):
        return [filled]
    return [filled, "/" + converter.sub(lambda m: HUGE_ID if m.group(1) != "slug" else "x", route)]


def _requests(http: Any, url: str) -> list[tuple[str, str, Any]]:
    """Send the bad requests; (method, value, response or the exception raised).

    A method the view refuses without reading anything (405), or a redirect to sign in before
    any view code, is not sent the bad values: no parameter of it is read."""
    answers: list[tuple[str, str, Any]] = []

    def send(method: str, value: str, call: Any) -> Any:
        try:
            answer = call()
        except Exception as exc:
            answer = exc
        answers.append((method, value, answer))
        return answer

    plain_get = send("GET", "", lambda: http.get(url))
    if HUGE_ID in url or url.endswith("/abc/"):
        return answers
    plain_post = send("POST", "", lambda: http.post(url))
    if _to_sign_in(plain_get) and _to_sign_in(plain_post):
        return answers
    gets, posts = _reads(plain_get), _reads(plain_post)
    for value in BAD_VALUES:
        params = dict.fromkeys(PARAMETERS, value)
        if gets:
            send("GET", value[:20], lambda p=params: http.get(url, p))
        if posts:
            send("POST", value[:20], lambda p=params: http.post(url, p))
    for body in BAD_JSON if posts else []:
        send(
            "POST json",
            json.dumps(body)[:40],
            lambda b=body: http.post(url, data=json.dumps(b), content_type="application/json"),
        )
    return answers


def _reads(answer: Any) -> bool:
    """Whether the view ran for this method (a 405 is answered before it reads anything)."""
    return isinstance(answer, Exception) or answer.status_code != 405


def _to_sign_in(answer: Any) -> bool:
    """A redirect to a sign-in page (what the login checks answer before any view code)."""
    if isinstance(answer, Exception) or answer.status_code != 302:
        return False
    location = str(answer.headers.get("Location", ""))
    return location.split("?")[0] in {reverse("login"), reverse("wagtailadmin_login")}


def _server_errors(
    http: Any, routes: list[tuple[str, str]], objects: dict[str, int], slug: str
) -> list[str]:
    errors = []
    for route, _module in routes:
        for url in _urls(route, objects, slug):
            for method, value, answer in _requests(http, url):
                if isinstance(answer, Exception):
                    errors.append(
                        f"{method} {url} [{value}]: {type(answer).__name__}: {answer}"[:300]
                    )
                elif answer.status_code >= 500:
                    errors.append(f"{method} {url} [{value}]: {answer.status_code}")
    return errors


def test_the_walk_covers_the_workspace_the_api_and_the_admin_pages():
    routes = [route for route, _module in _routes()]
    assert "workspace/api/referrals/" in routes
    assert "workspace/api/referrals/<referral_id>/transition/" in routes
    assert "workspace/api/openapi.json" in routes
    assert "workspace/clients/" in routes
    assert "admin/dashboard/" in routes
    assert "admin/directory/import/" in routes
    assert any(r.startswith("admin/snippets/choose/consent/") for r in routes)
    assert len(routes) > 60


def _ours_to_check(route: str) -> bool:
    """The routes whose views this project owns: all but the Wagtail snippet views, of which
    only the agreement chooser's (see the test below for the rest)."""
    return not route.startswith("admin/snippets/") or route.startswith(
        "admin/snippets/choose/consent/"
    )


@pytest.mark.parametrize("actor", ["clinic_staff", "agency_staff", "network_admin", "anonymous"])
def test_no_url_answers_500_to_bad_input(client, loop, actor):
    objects = _objects(loop)
    routes = [r for r in _routes() if _ours_to_check(r[0])]
    if actor == "clinic_staff":
        act_as(client, loop.clinic_staff, loop.clinic)
        routes = [r for r in routes if not r[0].startswith("admin/")]
    elif actor == "agency_staff":
        act_as(client, loop.agency_staff, loop.food_agency)
        routes = [r for r in routes if not r[0].startswith("admin/")]
    elif actor == "network_admin":
        client.force_login(loop.admin)
    errors = _server_errors(client, routes, objects, loop.clinic.slug)
    assert not errors, "\n".join(errors)


def test_no_snippet_view_answers_500_to_bad_input(client, loop):
    objects = _objects(loop)
    routes = [r for r in _routes() if not _ours_to_check(r[0])]
    client.force_login(loop.admin)
    errors = _server_errors(client, routes, objects, loop.clinic.slug)
    assert not errors, "\n".join(errors)
