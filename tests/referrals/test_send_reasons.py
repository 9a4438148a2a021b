"""The send page names the real reason a service cannot take an electronic referral (bug 4),
and warns before a referral goes to an agency with nobody to receive it, telling the sender and
the admins when it is sent anyway (bug 10)."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from consent import services as consent_services
from directory.models import AgencyPage, ServicePage
from network import services
from network.models import Organization, OrganizationKind, Role
from referrals.models import Notification, Referral
from referrals.services.sending import referral_send
from tests.conftest import act_as

NEW = reverse("referrals:referral_new")


def _page(http, loop, service) -> str:  # type: ignore[no-untyped-def]
    response = http.get(NEW, {"service": [service.pk], "client": loop.client.pk})
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _post(http, loop, service, key: str = "reasons-1"):  # type: ignore[no-untyped-def]
    return http.post(
        NEW,
        {
            "service": [service.pk],
            "client": loop.client.pk,
            "categories": ["housing-instability"],
            "urgency": "routine",
            "consent": "on_file",
            "idempotency_key": key,
        },
    )


# --- bug 4: each refusal its own words ------------------------------------------------------


@pytest.mark.django_db
def test_contact_directly_service_of_an_agency_with_an_agreement_says_so(staff, loop):
    ServicePage.objects.filter(pk=loop.housing.pk).update(referral_method="contact-directly")
    body = _page(staff, loop, loop.housing)
    assert "Bay Housing asks to be contacted directly for Rent Help" in body
    assert "no data-sharing agreement" not in body.lower()
    response = _post(staff, loop, loop.housing)
    assert response.status_code == 400
    assert "asks to be contacted directly" in html.unescape(response.content.decode())
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_no_agreement_says_no_agreement(staff, loop):
    consent_services.agreement_terminate(agreement=loop.agreements["housing"], by=loop.admin)
    body = _page(staff, loop, loop.housing)
    assert "Bay Housing has no data-sharing agreement in force for Rent Help" in body


@pytest.mark.django_db
def test_inactive_agency_says_so(staff, loop):
    Organization.objects.filter(pk=loop.housing_agency.pk).update(is_active=False)
    body = _page(staff, loop, loop.housing)
    assert "Bay Housing no longer takes referrals in this network" in body
    assert "no data-sharing agreement" not in body.lower()


@pytest.mark.django_db
def test_organization_that_only_sends_says_so(staff, loop):
    Organization.objects.filter(pk=loop.housing_agency.pk).update(kind=OrganizationKind.CLINIC)
    body = _page(staff, loop, loop.housing)
    assert "Bay Housing does not receive electronic referrals" in body


@pytest.mark.django_db
def test_listing_without_an_organization_says_so(staff, loop):
    AgencyPage.objects.filter(organization=loop.housing_agency).update(organization=None)
    body = _page(staff, loop, loop.housing)
    assert "Rent Help is not linked to an agency in this network" in body


# --- bug 10: nobody to receive it -------------------------------------------------------------


def _nobody_receives(loop) -> None:  # type: ignore[no-untyped-def]
    get_user_model().objects.filter(pk=loop.users["housing_staff"].pk).update(is_active=False)


@pytest.mark.django_db
def test_the_page_warns_before_sending_to_an_agency_nobody_receives_for(staff, loop):
    assert "Nobody at Bay Housing" not in _page(staff, loop, loop.housing)
    _nobody_receives(loop)
    body = _page(staff, loop, loop.housing)
    assert "Nobody at Bay Housing is set up to receive referrals yet" in body
    assert "Nobody at Harbor Food Bank" not in _page(staff, loop, loop.food)


@pytest.mark.django_db
def test_sent_anyway_the_sender_and_the_admins_are_told(staff, loop):
    _nobody_receives(loop)
    response = _post(staff, loop, loop.housing)
    assert response.status_code == 302, response.content.decode()[:3000]
    referral = Referral.objects.get()
    shown = html.unescape(staff.get(response["Location"]).content.decode())
    assert "Nobody at Bay Housing is set up to receive referrals yet" in shown
    told = Notification.objects.filter(kind="referral_unreceived", referral=referral)
    assert {n.user_id for n in told} == {loop.admin.pk}
    assert "Maria" not in told.first().body  # never the client's name
    assert not Notification.objects.filter(kind="referral_received").exists()
    # The link goes where the admin can give the role, not to a referral page that is not theirs.
    link = told.first().link
    assert link == reverse("network:organization_members", args=[loop.housing_agency.slug])
    assert act_as(Client(), loop.admin).get(link).status_code == 200


@pytest.mark.django_db
def test_an_active_agency_admin_receives_it_so_nobody_is_warned(loop):
    """Agency admins are agency staff too: one active admin is enough to receive."""
    _nobody_receives(loop)
    admin = loop.tenant.users[Role.AGENCY_ADMIN]
    services.membership_grant(
        user=admin, role=Role.AGENCY_ADMIN, organization=loop.housing_agency, notify=False
    )
    referral = loop.send(loop.housing, key="admins-1")
    # The agency admin holds receive: the referral reaches them, no warning goes out.
    assert not Notification.objects.filter(kind="referral_unreceived").exists()
    assert Notification.objects.filter(kind="referral_received", referral=referral).exists()


@pytest.mark.django_db
def test_a_staffed_agency_triggers_no_warning(loop):
    referral = referral_send(
        client=loop.client,
        by=loop.clinic_staff,
        sender=loop.clinic,
        service=loop.food,
        categories=["food-insecurity"],
        idempotency_key="staffed-1",
    )
    assert not Notification.objects.filter(kind="referral_unreceived").exists()
    assert Notification.objects.filter(kind="referral_received", referral=referral).exists()
