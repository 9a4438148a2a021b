"""Clinic staff send a referral from a search hit: the refer link, the form, its refusals."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consent import services as consent_services
from network.models import Role
from referrals.models import Notification, Referral

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

NEW = reverse("referrals:referral_new")
STAFF_SEARCH = reverse("referrals:search")


def _post(http, loop, **overrides):
    data = {
        "service": loop.food.pk,
        "client": loop.client.pk,
        "categories": ["food-insecurity"],
        "urgency": "urgent",
        "note": "Call after 5 pm.",
        "idempotency_key": "form-key-1",
    }
    data.update(overrides)
    return http.post(NEW, data)


@pytest.mark.django_db
def test_refer_link_only_where_an_agreement_is_in_force(client, loop):
    admin = loop.admin
    consent_services.agreement_terminate(agreement=loop.agreements["housing"], by=admin)
    client.force_login(loop.clinic_staff)
    body = client.get(STAFF_SEARCH, {"near": "95501", "radius": "25"}).content.decode()
    food_link = f"{NEW}?service={loop.food.pk}"
    assert food_link in body
    assert f"?service={loop.housing.pk}" not in body  # its agency shows "contact directly"
    assert "Contact directly" in body


@pytest.mark.django_db
def test_send_from_the_form_then_retry_returns_the_same_referral(client, loop):
    client.force_login(loop.clinic_staff)
    form = client.get(NEW, {"service": loop.food.pk})
    assert form.status_code == 200
    assert "Maria" in form.content.decode()
    first = _post(client, loop)
    assert first.status_code == 302
    referral = Referral.objects.get()
    assert first["Location"] == reverse("referrals:referral_detail", args=[referral.pk])
    assert (referral.urgency, referral.note, referral.agency) == (
        "urgent",
        "Call after 5 pm.",
        loop.food_agency,
    )
    notified = Notification.objects.count()
    again = _post(client, loop)  # the browser resends the same form
    assert again.status_code == 302
    assert Referral.objects.count() == 1
    assert Notification.objects.count() == notified


@pytest.mark.django_db
def test_form_refusals_are_clear_and_write_nothing(client, loop):
    client.force_login(loop.clinic_staff)
    no_need = _post(client, loop, categories=[])
    assert no_need.status_code == 400
    assert "Choose the needs" in no_need.content.decode()
    not_consented = _post(client, loop, categories=["utility-insecurity"])
    assert not_consented.status_code == 400
    assert "No active consent" in not_consented.content.decode()
    no_client = _post(client, loop, client="")
    assert no_client.status_code == 400
    assert "Choose the client" in no_client.content.decode()
    assert not Referral.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENCY_STAFF, Role.AGENCY_ADMIN, Role.NETWORK_ADMIN])
def test_only_clinic_staff_send(client, loop, role):
    client.force_login(loop.tenant.users[role])
    assert client.get(NEW, {"service": loop.food.pk}).status_code == 403
    assert _post(client, loop).status_code == 403
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_another_networks_service_or_client_is_not_found(client, loop, other_loop):
    client.force_login(loop.clinic_staff)
    assert client.get(NEW, {"service": other_loop.food.pk}).status_code == 404
    response = _post(client, loop, client=other_loop.client.pk)
    assert response.status_code == 400  # not one of this clinic's clients
    assert not Referral.objects.exists()
