"""Refer elsewhere: from a declined or failed referral, the clinic is offered the alternatives
the overdue sweep computes, each starting a send for the same client and needs."""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.urls import reverse

from network.models import Membership
from referrals.models import Referral
from tests.conftest import act_as
from tests.directory.factories import EUREKA, Spec, directory_build


def _elsewhere(referral: Referral) -> str:
    return reverse("referrals:referral_elsewhere", args=[referral.pk])


@pytest.fixture
def declined(loop) -> Referral:  # type: ignore[no-untyped-def]
    directory_build(
        loop.tenant.network,
        [
            Spec(
                "Eastside Groceries",
                "Free groceries.",
                places=[EUREKA],
                categories=["food-insecurity"],
                agency="Eastside Food Co-op",
            ),
        ],
    )
    referral = loop.send(key="declined")
    Referral.objects.filter(pk=referral.pk).update(
        status="rejected", reason_code="no-capacity", status_reason="Full."
    )
    return referral


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["rejected", "failed"])
def test_the_clinics_page_offers_refer_elsewhere_when_declined_or_failed(staff, loop, status):
    referral = loop.send(key="x")
    page = reverse("referrals:referral_detail", args=[referral.pk])
    assert _elsewhere(referral) not in staff.get(page).content.decode()
    Referral.objects.filter(pk=referral.pk).update(status=status)
    assert _elsewhere(referral) in staff.get(page).content.decode()


@pytest.mark.django_db
def test_the_alternatives_each_start_a_prefilled_send(staff, loop, declined):
    response = staff.get(_elsewhere(declined))
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "Eastside Groceries" in body
    assert "Harbor Food Pantry" not in body.split("<h1")[1]  # not the agency that declined
    row = response.context["rows"][0]
    assert row["hit"].service_name == "Eastside Groceries"
    url = row["send_url"]
    params = parse_qsl(urlsplit(url).query)
    assert ("client", str(loop.client.pk)) in params
    assert ("categories", "food-insecurity") in params
    send = staff.get(url)
    assert send.status_code == 200
    assert send.context["client"] == loop.client
    assert send.context["checked"] == {"food-insecurity"}
    assert [c.service.title for c in send.context["choices"]] == ["Eastside Groceries"]


@pytest.mark.django_db
def test_an_open_referral_is_sent_back_to_its_page(staff, loop):
    referral = loop.send(key="open")
    response = staff.get(_elsewhere(referral))
    assert response.status_code == 302
    assert response["Location"] == reverse("referrals:referral_detail", args=[referral.pk])


@pytest.mark.django_db
def test_the_agency_may_not_refer_elsewhere(client, loop, declined):
    act_as(client, loop.agency_staff, loop.food_agency)
    assert client.get(_elsewhere(declined)).status_code == 403


@pytest.mark.django_db
def test_another_clinic_or_network_does_not_find_it(client, loop, other_loop, declined):
    act_as(client, other_loop.clinic_staff, other_loop.clinic)
    assert client.get(_elsewhere(declined)).status_code == 404


@pytest.mark.django_db
def test_another_clinic_of_the_network_does_not_find_it(
    client, loop, declined, second_clinic_staff
):
    organization = Membership.objects.get(user=second_clinic_staff).organization
    act_as(client, second_clinic_staff, organization)
    assert client.get(_elsewhere(declined)).status_code == 404
