"""The printable referral: for both sides, only what the referral page shows the acting
organization, logged as a disclosure for printing, with no navigation or forms; nobody else
gets it."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from consent import services as consent_services
from consent.models import AccessLog, ClientField
from network.models import Membership
from referrals.models import Referral
from referrals.services.transitions import referral_message
from tests.conftest import act_as, queries
from tests.referrals.factories import move

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")


def print_url(referral: Referral) -> str:
    return reverse("referrals:referral_print", args=[referral.pk])


def page_url(referral: Referral) -> str:
    return reverse("referrals:referral_detail", args=[referral.pk])


def assert_no_chrome(body: str) -> None:
    assert "<nav" not in body
    assert "site-header" not in body
    assert "<form" not in body
    assert "referrals/print.css" in body
    assert "handoff.css" not in body


@pytest.mark.django_db
def test_the_agency_prints_what_its_page_shows_and_it_is_logged(client, loop):
    referral = loop.send(note="Prefers mornings")
    move(referral, "rejected", loop.agency_staff, loop.food_agency, reason_code="no-capacity")
    act_as(client, loop.agency_staff, loop.food_agency)
    page = client.get(page_url(referral))
    assert f'href="{print_url(referral)}"' in page.content.decode()
    response = client.get(print_url(referral))
    assert response.status_code == 200
    body = response.content.decode()
    assert_no_chrome(body)
    assert "Maria Lopez" in body
    assert "No capacity" in body
    assert ": Declined" in body  # the timeline's status in words
    assert ": rejected" not in body
    assert "Printed by" in body
    # The same disclosure as the page: the same fields.
    assert response.context["disclosure"].fields == page.context["disclosure"].fields
    row = AccessLog.objects.get(referral=referral, purpose="print")
    assert (row.user, row.organization) == (loop.agency_staff, loop.food_agency)
    assert set(row.fields) >= {ClientField.NAME}


@pytest.mark.django_db
def test_the_clinic_prints_its_referral(client, loop):
    referral = loop.send(note="Prefers mornings")
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.get(print_url(referral))
    assert response.status_code == 200
    body = response.content.decode()
    assert_no_chrome(body)
    assert "Maria Lopez" in body
    assert "Prefers mornings" in body
    assert AccessLog.objects.filter(
        referral=referral, purpose="print", organization=loop.clinic
    ).exists()


@pytest.mark.django_db
def test_the_printout_leaves_out_what_the_agreement_keeps_from_the_agency(client, loop):
    referral = loop.send()
    fields = [f for f in loop.agreements["food"].fields if f != ClientField.NAME]
    narrower = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=fields, effective_from=date(2026, 1, 1)
    )
    consent_services.agreement_activate(agreement=narrower, by=loop.admin)
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(print_url(referral)).content.decode()
    assert "Maria Lopez" not in body
    row = AccessLog.objects.get(referral=referral, purpose="print")
    assert ClientField.NAME not in row.fields


@pytest.mark.django_db
def test_a_withdrawn_consent_prints_no_details(client, loop):
    referral = loop.send()
    consent_services.consent_revoke(
        consent=loop.consent, by=loop.clinic_staff, reason="The client asked us to stop."
    )
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(print_url(referral)).content.decode()
    assert 'data-testid="withdrawn"' in body
    assert "Maria Lopez" not in body
    assert not AccessLog.objects.filter(referral=referral, purpose="print").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who", ["network admin", "other clinic", "other agency", "other network", "anonymous"]
)
def test_nobody_else_gets_the_printout(client, loop, other_loop, second_clinic_staff, who):
    referral = loop.send()
    if who == "network admin":
        act_as(client, loop.admin)
    elif who == "other clinic":
        act_as(
            client,
            second_clinic_staff,
            Membership.objects.get(user=second_clinic_staff).organization,
        )
    elif who == "other agency":
        act_as(client, loop.users["housing_staff"], loop.housing_agency)
    elif who == "other network":
        act_as(client, other_loop.agency_staff, other_loop.food_agency)
    response = client.get(print_url(referral))
    if who == "anonymous":
        assert response.status_code == 302
        assert reverse("login") in response["Location"]
    else:
        assert response.status_code == 404
    assert "Maria Lopez" not in response.content.decode()
    assert not AccessLog.objects.filter(referral=referral).exists()


@pytest.mark.django_db
def test_the_printout_is_read_only(client, loop):
    referral = loop.send()
    act_as(client, loop.agency_staff, loop.food_agency)
    assert client.post(print_url(referral)).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("side", ["clinic", "agency"])
def test_the_printout_costs_the_same_queries_for_any_timeline(client, loop, side):
    referral = loop.send()
    if side == "clinic":
        act_as(client, loop.clinic_staff, loop.clinic)
    else:
        act_as(client, loop.agency_staff, loop.food_agency)
    referral_message(referral=referral, by=loop.clinic_staff, organization=loop.clinic, text="Hi")
    client.get(print_url(referral))  # logged once (the agency's opening on the timeline too)
    few = queries(client, print_url(referral))
    for n in range(10):
        referral_message(
            referral=referral, by=loop.clinic_staff, organization=loop.clinic, text=f"Note {n}"
        )
    assert queries(client, print_url(referral)) == few
