"""The agreement decides which client fields an agency gets: its referral page and every API
response carry the fields its agreement lists and no other, whatever the subset. The sending
clinic sees everything; organizations off the referral get 404 and nothing else."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from consent import services as consent_services
from consent.models import AccessLog, ClientField
from consent.selectors import disclosures_for_client
from network.models import Role
from referrals.models import Notification, Referral
from referrals.services.clients import client_create, screening_record
from referrals.services.sending import referral_send
from tests.conftest import act_as
from tests.referrals.factories import AGREED_FIELDS, Loop

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

F = ClientField
NOTE = "Bring the folder marked XK-4471."
EXTERNAL_ID = "MRN-88412"  # the clinic's own record number: in no agreement's registry
# What must show when a field is disclosed ("html" for the page, "json" for the API)...
SHOWN: dict[str, dict[str, list[str]]] = {
    F.NAME: {"html": ["Zephyrine Quillfeather"], "json": ["Zephyrine Quillfeather"]},
    F.DATE_OF_BIRTH: {"html": ["Mar 29, 1971"], "json": ["1971-03-29"]},
    F.PHONE: {"html": ["707-555-0147"], "json": ["707-555-0147"]},
    F.EMAIL: {"html": ["zephyrine.q@example.net"], "json": ["zephyrine.q@example.net"]},
    F.ADDRESS: {
        "html": ["4817 Marigold Lane, Fortuna, CA 95540"],
        "json": ["4817 Marigold Lane, Fortuna, CA 95540"],
    },
    # The page names the language and the need (issue 15); the API keeps the codes.
    F.PREFERRED_LANGUAGE: {"html": ["<dd>Tzotzil</dd>"], "json": ['"preferred_language": "tzo"']},
    F.CONTACT_PREFERENCES: {
        "html": ["Evenings only, via cousin Ildefonso", "do not contact"],
        "json": ["Evenings only, via cousin Ildefonso", '"do_not_contact": true'],
    },
    F.SCREENING: {
        "html": ["Transportation, Utilities"],
        "json": ['["transportation-insecurity", "utility-insecurity"]', "2026-02-03T04:05:06"],
    },
    F.NOTE: {"html": ["XK-4471"], "json": [NOTE]},
}
# ...and every trace of it that must not show when it is not.
TRACES: dict[str, list[str]] = {
    F.NAME: ["Zephyrine", "Quillfeather"],
    # No bare digits: timestamps' microseconds could spell them.
    F.DATE_OF_BIRTH: ["1971-03-29", "March 29", "Mar. 29", "03/29/", "29/03/", "29.03.1971"],
    F.PHONE: ["555-0147", "5550147"],
    F.EMAIL: ["zephyrine.q", "example.net"],
    F.ADDRESS: ["Marigold", "Fortuna", "CA 95540"],
    F.PREFERRED_LANGUAGE: ["tzo", "Tzotzil", "preferred_language"],
    F.CONTACT_PREFERENCES: ["Ildefonso", "do not contact", "do_not_contact"],
    F.SCREENING: ["transportation-insecurity", "utility-insecurity", "2026-02-03", "positive_"],
    F.NOTE: ["XK-4471"],
}
assert set(SHOWN) == set(TRACES) == set(ClientField.values)

SUBSETS: dict[str, list[str]] = {
    "none": [],
    "every": list(ClientField.values),
    "the-usual": list(AGREED_FIELDS),
    "identity": [F.NAME, F.DATE_OF_BIRTH],
    "reach": [F.PHONE, F.EMAIL, F.ADDRESS, F.CONTACT_PREFERENCES],
    "context": [F.PREFERRED_LANGUAGE, F.SCREENING, F.NOTE],
    **{f"only-{code}": [code] for code in ClientField.values},
    **{
        f"all-but-{code}": [c for c in ClientField.values if c != code]
        for code in (F.NAME, F.SCREENING, F.CONTACT_PREFERENCES)
    },
}
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The body without CSRF tokens (random letters that could spell anything)."""
    return _CSRF.sub("", response.content.decode())


def traces(body: str, fields: set[str]) -> dict[str, list[str]]:
    found = {f: [t for t in TRACES[f] if t in body] for f in sorted(fields)}
    return {f: ts for f, ts in found.items() if ts}


def missing(body: str, fields: set[str], kind: str) -> dict[str, list[str]]:
    found = {f: [s for s in SHOWN[f][kind] if s not in body] for f in sorted(fields)}
    return {f: ss for f, ss in found.items() if ss}


@dataclass
class Rich:
    """A referral of a client with a distinctive value in every registry field."""

    loop: Loop
    referral: Referral


def rich_referral(loop: Loop, fields: list[str], key: str = "rich") -> Rich:
    staff, clinic = loop.clinic_staff, loop.clinic
    person = client_create(
        organization=clinic,
        by=staff,
        first_name="Zephyrine",
        last_name="Quillfeather",
        date_of_birth=date(1971, 3, 29),
        phone="707-555-0147",
        email="zephyrine.q@example.net",
        address_1="4817 Marigold Lane",
        city="Fortuna",
        state="CA",
        postal_code="95540",
        preferred_language="tzo",
        external_id=EXTERNAL_ID,
        contact_preference="text",
        contact_notes="Evenings only, via cousin Ildefonso",
        do_not_contact=True,
    )
    screening_record(
        client=person,
        by=staff,
        organization=clinic,
        answers={"93030-5": "LA33-6", "96779-4": "LA32002-0"},  # transport and utilities
        performed_at=datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC),
    )
    consent_services.consent_record(
        client=person,
        by=staff,
        organization=clinic,
        categories=["food-insecurity"],
        method="verbal",
        attestation="I read the standard consent script.",
        whole_network=True,
    )
    agreement = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=fields, effective_from=date(2026, 1, 1)
    )
    consent_services.agreement_activate(agreement=agreement, by=loop.admin)
    referral = referral_send(
        client=person,
        by=staff,
        sender=clinic,
        service=loop.food,
        categories=["food-insecurity"],
        idempotency_key=key,
        note=NOTE,
    )
    assert referral.agreement_id == agreement.pk
    return Rich(loop=loop, referral=referral)


def agency_responses(client, rich: Rich) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every page and API answer the food agency's staff get about the referral, as
    name → (kind, body), walking it from requested to accepted to in progress."""
    loop, pk = rich.loop, rich.referral.pk
    act_as(client, loop.agency_staff, loop.food_agency)
    page_url = reverse("referrals:referral_detail", args=[pk])
    api_url = reverse("referrals:api:referral", args=[pk])
    api_move = reverse("referrals:api:referral_transition", args=[pk])
    html_move = reverse("referrals:referral_transition", args=[pk])
    out: dict[str, tuple[str, str]] = {}

    def keep(name: str, kind: str, response, status: int = 200) -> None:  # type: ignore[no-untyped-def]
        assert response.status_code == status, name
        out[name] = (kind, text(response))

    keep("page", "html", client.get(page_url))
    keep("api detail", "json", client.get(api_url))
    keep("api list", "json", client.get(reverse("referrals:api:referrals")))
    keep(
        "api list filtered",
        "json",
        client.get(reverse("referrals:api:referrals"), {"status": "requested"}),
    )
    keep(
        "api accept",
        "json",
        client.post(api_move, {"to": "accepted", "version": 1}, content_type="application/json"),
    )
    keep(
        "api stale",
        "json",
        client.post(
            api_move,
            {"to": "rejected", "version": 1, "reason": "Full"},
            content_type="application/json",
        ),
        409,
    )
    keep(
        "api refused",
        "json",
        client.post(api_move, {"to": "completed", "version": 2}, content_type="application/json"),
        400,
    )
    keep("api bad body", "json", client.post(api_move, "[1]", content_type="application/json"), 400)
    keep(
        "page after move",
        "html",
        client.post(html_move, {"to": "in-progress", "version": 2}, follow=True),
    )
    keep(
        "page stale",
        "html",
        client.post(html_move, {"to": "on-hold", "version": 2, "reason": "Wait"}),
        409,
    )
    keep(
        "page refused",
        "html",
        client.post(html_move, {"to": "completed", "version": 3}, follow=True),
    )
    keep(
        "page message",
        "html",
        client.post(
            reverse("referrals:referral_message", args=[pk]),
            {"text": "We called twice."},
            follow=True,
        ),
    )
    keep("api detail again", "json", client.get(api_url))
    return out


DETAIL_VIEWS = {
    "page",
    "api detail",
    "page after move",
    "page stale",
    "page refused",
    "page message",
    "api detail again",
}


@pytest.mark.parametrize("fields", list(SUBSETS.values()), ids=list(SUBSETS))
def test_agency_gets_exactly_its_agreement_fields_everywhere(client, loop, fields):
    rich = rich_referral(loop, fields)
    # Sharing a way to reach the client also shares their contact preferences (do not contact).
    allowed = set(rich.referral.agreement.fields)
    outside = set(ClientField.values) - allowed
    responses = agency_responses(client, rich)
    for name, (kind, body) in responses.items():
        assert traces(body, outside) == {}, name
        assert EXTERNAL_ID not in body, name
        if name in DETAIL_VIEWS:
            assert missing(body, allowed, kind) == {}, name
        else:  # lists and status answers carry no client data at all
            assert traces(body, set(ClientField.values)) == {}, name

    detail = client.get(reverse("referrals:api:referral", args=[rich.referral.pk])).json()
    assert detail["disclosed_fields"] == sorted(allowed)
    assert set(detail["client"]) == allowed
    assert detail["withdrawn"] is False
    views = AccessLog.objects.filter(referral=rich.referral)
    if fields:
        # All within minutes: one row for the page and its reloads, one for the API's reads
        # (one disclosure per person, referral and purpose in a view window: bug 11).
        assert sorted(views.values_list("purpose", flat=True)) == ["api", "view"]
        assert {tuple(row.fields) for row in views} == {tuple(sorted(allowed))}
        assert {row.organization_id for row in views} == {loop.food_agency.pk}
    else:  # nothing shown, nothing to account for
        assert not views.exists()
        assert "lets no client details through" in responses["page"][1]
    # The notifications both sides got name the referral and service, never the client.
    notes = Notification.objects.filter(referral=rich.referral)
    assert notes.exists()
    for note in notes:
        assert traces(f"{note.subject} {note.body}", set(ClientField.values)) == {}


def test_sender_sees_every_field_and_it_is_its_own_read_not_a_disclosure(client, loop):
    rich = rich_referral(loop, [F.NAME])
    act_as(client, loop.clinic_staff, loop.clinic)
    page = text(client.get(reverse("referrals:referral_detail", args=[rich.referral.pk])))
    api = client.get(reverse("referrals:api:referral", args=[rich.referral.pk]))
    assert missing(page, set(ClientField.values), "html") == {}
    assert missing(text(api), set(ClientField.values), "json") == {}
    assert api.json()["disclosed_fields"] == sorted(ClientField.values)
    # Logged as the clinic's own read of its client (page and API), never as a disclosure.
    reads = AccessLog.objects.filter(referral=rich.referral)
    assert set(reads.values_list("organization_id", flat=True)) == {loop.clinic.pk}
    assert reads.count() == 2
    accounting = disclosures_for_client(
        client=rich.referral.client, user=loop.clinic_staff, organization=loop.clinic
    )
    assert not accounting.exists()


def test_a_screening_positive_for_a_sensitive_need_is_not_passed_on(client, loop):
    """The screening field carries positive categories; a sensitive one reaches only an agency
    the consent names for it."""
    rich = rich_referral(loop, [F.SCREENING])
    screening_record(
        client=rich.referral.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers={
            "93030-5": "LA33-6",
            "95618-5": "LA6482-9",
            "95617-7": "LA6482-9",
            "95616-9": "LA6482-9",
            "95615-1": "LA6482-9",
        },
    )
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(reverse("referrals:api:referral", args=[rich.referral.pk])).json()
    assert body["client"]["screening"]["positive_categories"] == ["transportation-insecurity"]
    assert "intimate-partner-violence" not in str(body["client"])


def _responses_off_the_referral(client, referral: Referral) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    pk = referral.pk
    return [
        ("page", client.get(reverse("referrals:referral_detail", args=[pk]))),
        ("api detail", client.get(reverse("referrals:api:referral", args=[pk]))),
        (
            "api move",
            client.post(
                reverse("referrals:api:referral_transition", args=[pk]),
                {"to": "accepted", "version": 1},
                content_type="application/json",
            ),
        ),
        (
            "page move",
            client.post(
                reverse("referrals:referral_transition", args=[pk]),
                {"to": "accepted", "version": 1},
            ),
        ),
        (
            "message",
            client.post(reverse("referrals:referral_message", args=[pk]), {"text": "Hello?"}),
        ),
    ]


@pytest.mark.parametrize(
    "who",
    [
        "other agency",
        "same person for another agency",
        "other network agency",
        "other network clinic",
    ],
)
def test_organizations_off_the_referral_get_404_and_nothing_else(client, loop, other_loop, who):
    rich = rich_referral(loop, list(ClientField.values))
    user, organization = {
        "other agency": (loop.users["housing_staff"], loop.housing_agency),
        "same person for another agency": (loop.agency_staff, loop.tenant.agency),
        "other network agency": (other_loop.agency_staff, other_loop.food_agency),
        "other network clinic": (other_loop.clinic_staff, other_loop.clinic),
    }[who]
    act_as(client, user, organization)
    for name, response in _responses_off_the_referral(client, rich.referral):
        assert response.status_code == 404, name
        assert traces(text(response), set(ClientField.values)) == {}, name
    listing = client.get(reverse("referrals:api:referrals"))
    assert rich.referral.pk not in [row["id"] for row in listing.json()["contents"]]
    rich.referral.refresh_from_db()
    assert (rich.referral.status, rich.referral.version) == ("requested", 1)
    assert rich.referral.events.count() == 1
    assert not AccessLog.objects.exists()


def test_people_without_a_membership_get_nothing(client, loop, outsider):
    rich = rich_referral(loop, list(ClientField.values))
    client.force_login(outsider)
    for name, response in _responses_off_the_referral(client, rich.referral):
        assert response.status_code == 403, name
        assert traces(text(response), set(ClientField.values)) == {}, name
    assert not AccessLog.objects.exists()


def test_other_roles_of_the_agency_see_the_same_fields(client, loop):
    rich = rich_referral(loop, [F.NAME])
    act_as(client, loop.tenant.users[Role.AGENCY_ADMIN], loop.food_agency)
    body = client.get(reverse("referrals:api:referral", args=[rich.referral.pk])).json()
    assert body["client"] == {"name": "Zephyrine Quillfeather"}


@pytest.mark.django_db
@pytest.mark.parametrize("contact", [ClientField.PHONE, ClientField.EMAIL, ClientField.ADDRESS])
def test_sharing_a_way_to_reach_the_client_shares_do_not_contact(loop, contact):
    agreement = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=[contact], effective_from=date(2026, 1, 1)
    )
    assert set(agreement.fields) == {contact, ClientField.CONTACT_PREFERENCES}


@pytest.mark.django_db
def test_a_terminated_or_narrowed_agreement_applies_to_open_referrals(client, loop):
    rich = rich_referral(loop, [ClientField.NAME, ClientField.EMAIL])
    act_as(client, loop.agency_staff, loop.food_agency)
    url = reverse("referrals:api:referral", args=[rich.referral.pk])
    assert "zephyrine.q@example.net" in client.get(url).content.decode()
    narrower = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=["name"], effective_from=date(2026, 1, 1)
    )
    consent_services.agreement_activate(agreement=narrower, by=loop.admin)
    body = client.get(url).json()
    assert body["disclosed_fields"] == ["name"]
    assert "zephyrine.q@example.net" not in json.dumps(body)
    consent_services.agreement_terminate(agreement=narrower, by=loop.admin)
    body = client.get(url).json()
    assert body["withdrawn"] is True
    assert body["client"] == {}
