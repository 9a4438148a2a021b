"""No page of the loop shows an internal code where people read it (issue 15, bug 8).

A world with every referral status, every need code, several language codes, every way of
contact and every purpose of a read; the main pages of the loop walked as the clinic, the agency
and the network admin; the visible text (tags stripped; attributes, URLs and hidden inputs never
looked at) must not hold any of a fixed list of internal values as a word of its own.
"""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from cms.categories import SDOH_CATEGORIES
from consent.models import AccessPurpose, ClientField
from consent.services import access_log_write
from referrals.models import (
    Client,
    ContactPreference,
    Referral,
    ReferralOutcome,
    ReferralStatus,
    Screening,
)
from referrals.services.clients import client_create, screening_record
from tests.conftest import act_as
from tests.referrals.factories import Loop, move

pytestmark = pytest.mark.django_db

NEED_CODES = [code for code, _display in SDOH_CATEGORIES]
LANGUAGE_CODES = ["es", "hmn", "vi", "zh"]

# Codes no person's sentence holds: never a word of the visible text, wherever they stand.
# ("stress" is left out: the code is the plain English word, and its name.)
DISTINCT = {
    *(code for code in NEED_CODES if code != "stress"),
    *(s for s in ReferralStatus.values if "-" in s),
    "rejected",
    *LANGUAGE_CODES,
    *(p for p in AccessPurpose.values if "_" in p),
    *(f for f in ClientField.values if "_" in f),
}
# Codes that are also English words ("text", "view"): wrong when they stand alone, as a whole
# cell, item or part of a list ("text · Call after 5pm", "Status changed: accepted").
ALONE = {
    *DISTINCT,
    *ReferralStatus.values,
    *ContactPreference.values,
    *AccessPurpose.values,
    *ReferralOutcome.values,
}
SEPARATORS = re.compile("\\s*(?:[·,:;/()\\[\\]|\u2014\u2013]|\\s-\\s|\\n)\\s*")


class VisibleText(HTMLParser):
    """The text a person reads: no script, style or template content, no attributes."""

    SKIPPED = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.parts


def raw_codes(html: str) -> set[str]:
    """The internal values among the visible text of ``html``."""
    found: set[str] = set()
    for part in visible_text(html):
        for code in DISTINCT:
            if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", part):
                found.add(code)
        found.update(s for s in SEPARATORS.split(part) if s in ALONE)
    return found


def test_the_checker_finds_the_codes_the_issue_reported():
    assert raw_codes("<dd>Screening answers: food-insecurity, housing-instability</dd>") == {
        "food-insecurity",
        "housing-instability",
    }
    assert raw_codes("<dt>Preferred language</dt><dd>es</dd>") == {"es"}
    assert raw_codes("<dd>text · Call after 5pm</dd>") == {"text"}
    assert raw_codes("<li>Status changed: rejected</li><li>on-hold</li>") == {
        "rejected",
        "on-hold",
    }
    assert raw_codes("<td>view</td><td>inbox</td>") == {"view", "inbox"}
    # Attributes, URLs, hidden inputs and scripts are not read.
    assert (
        raw_codes(
            '<a href="/x?category=food-insecurity" class="status-rejected" title="es">Food</a>'
            '<input type="hidden" name="to" value="on-hold"><script>"in-progress"</script>'
            "<p>Any agency can view the text you write.</p>"
        )
        == set()
    )


def _world(loop: Loop) -> dict[str, object]:
    """Every status, need, language, way of contact and purpose on the loop's pages."""
    clinic, staff = loop.clinic, loop.clinic_staff
    agency, agency_staff = loop.food_agency, loop.agency_staff
    Client.objects.filter(pk=loop.client.pk).update(
        contact_preference=ContactPreference.TEXT, contact_notes="Call after 5pm"
    )
    others = [
        client_create(
            organization=clinic,
            by=staff,
            first_name=f"Person{i}",
            last_name=f"Zed{i}",
            date_of_birth=date(1970, 1, 1 + i),
            preferred_language=language,
            contact_preference=method,
            confirm_new=True,
        )
        for i, (language, method) in enumerate(
            zip(
                ["hmn", "vi", "zh", "es", ""],
                ContactPreference.values,
                strict=True,
            )
        )
    ]
    screening = screening_record(
        client=loop.client, by=staff, organization=clinic, answers={"88122-7": "LA28397-0"}
    )
    Screening.objects.filter(pk=screening.pk).update(positive_categories=NEED_CODES)
    referrals: dict[str, Referral] = {}

    def sent(label: str) -> Referral:
        referrals[label] = loop.send(key=label)
        return referrals[label]

    sent("requested")
    move(sent("accepted"), "accepted", agency_staff, agency)
    move(sent("rejected"), "rejected", agency_staff, agency, reason="No capacity this month.")
    move(sent("cancelled"), "cancelled", staff, clinic, reason="Sent twice.")
    move(sent("entered-in-error"), "entered-in-error", staff, clinic, reason="Wrong client.")
    for label, steps in {
        "in-progress": [("in-progress", {})],
        "on-hold": [("on-hold", {"reason": "Waiting for papers."})],
        "completed": [
            ("on-hold", {"reason": "Waiting for papers."}),
            ("in-progress", {}),
            ("completed", {"outcome": ReferralOutcome.SERVICE_PROVIDED}),
        ],
        "failed": [
            (
                "failed",
                {"outcome": ReferralOutcome.CLIENT_UNREACHABLE, "reason": "Three calls."},
            )
        ],
    }.items():
        referral = sent(label)
        move(referral, "accepted", agency_staff, agency)
        for to, kwargs in steps:
            move(referral, to, agency_staff, agency, **kwargs)
    for purpose in AccessPurpose.values:
        access_log_write(
            user=agency_staff,
            organization=agency,
            purpose=purpose,
            fields=[ClientField.NAME, ClientField.PREFERRED_LANGUAGE],
            seen=[(loop.client.pk, referrals["requested"].pk)],
            ip_address="192.0.2.1",
        )
    return {"screening": screening, "referrals": referrals, "others": others}


def _pages(loop: Loop, world: dict[str, object]) -> dict[str, list[str]]:
    client_pk = loop.client.pk
    screening = world["screening"]
    referrals = world["referrals"]
    assert isinstance(screening, Screening)
    assert isinstance(referrals, dict)
    detail = [reverse("referrals:referral_detail", args=[r.pk]) for r in referrals.values()]
    return {
        "clinic": [
            reverse("referrals:client_detail", args=[client_pk]),
            reverse("referrals:screening_detail", args=[client_pk, screening.pk]),
            reverse("referrals:referral_tracker"),
            *detail,
            reverse("referrals:referral_new")
            + f"?service={loop.food.pk}&client={client_pk}&categories=food-insecurity",
            reverse("referrals:client_disclosures", args=[client_pk]),
            reverse("referrals:client_list"),
            reverse("referrals:notification_list"),
        ],
        "agency": [
            reverse("referrals:referral_inbox"),
            *detail,
            reverse("referrals:notification_list"),
        ],
        "admin": [reverse("access_log"), reverse("network_dashboard")],
    }


def test_no_main_page_of_the_loop_shows_an_internal_code(client: HttpClient, loop: Loop):
    world = _world(loop)
    pages = _pages(loop, world)
    acting = {
        "clinic": (loop.clinic_staff, loop.clinic),
        "agency": (loop.agency_staff, loop.food_agency),
        "admin": (loop.admin, None),
    }
    shown: dict[str, set[str]] = {}
    for who, urls in pages.items():
        user, organization = acting[who]
        http = act_as(HttpClient(), user, organization)
        for url in urls:
            response = http.get(url)
            assert response.status_code == 200, (who, url, response.status_code)
            found = raw_codes(response.content.decode())
            if found:
                shown[f"{who} {url}"] = found
    assert shown == {}


def test_the_labels_are_there_instead(client: HttpClient, loop: Loop):
    """The same pages say what the codes mean."""
    world = _world(loop)
    referrals = world["referrals"]
    assert isinstance(referrals, dict)
    act_as(client, loop.clinic_staff, loop.clinic)
    page = client.get(reverse("referrals:client_detail", args=[loop.client.pk])).content.decode()
    assert "Text message" in page
    assert "Call after 5pm" in page
    assert "Spanish" in page
    completed = client.get(
        reverse("referrals:referral_detail", args=[referrals["completed"].pk])
    ).content.decode()
    assert "Status changed: On hold" in completed
    assert "Status changed: In progress" in completed
    rejected = client.get(
        reverse("referrals:referral_detail", args=[referrals["rejected"].pk])
    ).content.decode()
    assert "Status changed: Declined" in rejected
    disclosures = client.get(
        reverse("referrals:client_disclosures", args=[loop.client.pk])
    ).content.decode()
    assert "Referral page" in disclosures
    assert "Agency inbox" in disclosures
    assert "Food, Housing, Shelter" in rejected  # the screening's needs, by name
    act_as(client, loop.agency_staff, loop.food_agency)
    agency_page = client.get(
        reverse("referrals:referral_detail", args=[referrals["requested"].pk])
    ).content.decode()
    assert "Text message · Call after 5pm" in agency_page
    assert "Spanish — Español" in agency_page
