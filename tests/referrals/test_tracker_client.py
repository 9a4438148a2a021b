"""The tracker found by client (the name posted, never in the address; close spellings too) and
showing each referral's outcome or decline reason in its row."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from consent import services as consent_services
from network.models import Membership
from referrals.models import Referral
from referrals.services.clients import client_create
from referrals.services.sending import referral_send
from tests.conftest import act_as, cold_queries

TRACKER = reverse("referrals:referral_tracker")


def _rows(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return [referral.pk for referral, _age in response.context["rows"]]


def _hernandez(loop):  # type: ignore[no-untyped-def]
    person = client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Rosa",
        last_name="Hernandez",
        date_of_birth=date(1977, 7, 7),
    )
    consent_services.consent_record(
        client=person,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["food-insecurity"],
        method="verbal",
        whole_network=True,
        recipients=[],
        sensitive_recipients=[],
        attestation="Read aloud.",
    )
    return person


def _send(loop, person, key: str) -> Referral:  # type: ignore[no-untyped-def]
    return referral_send(
        client=person,
        by=loop.clinic_staff,
        sender=loop.clinic,
        service=loop.food,
        categories=["food-insecurity"],
        idempotency_key=key,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["hernandes", "Rosa Hernandez", "HERNAN"])
def test_find_referrals_by_client_name_misspelt_or_not(staff, loop, typed):
    maria = loop.send(key="maria")
    rosa = _send(loop, _hernandez(loop), "rosa")
    assert set(_rows(staff.get(TRACKER))) == {maria.pk, rosa.pk}
    response = staff.post(TRACKER, {"client_q": typed})
    assert _rows(response) == [rosa.pk]
    body = response.content.decode()
    assert f'value="{typed}"' in body  # shown back in the box, posted not linked


@pytest.mark.django_db
def test_the_name_search_keeps_the_filters_of_the_address(staff, loop):
    rosa = _send(loop, _hernandez(loop), "rosa")
    Referral.objects.filter(pk=rosa.pk).update(status="accepted")
    assert _rows(staff.post(f"{TRACKER}?status=accepted", {"client_q": "hernandes"})) == [rosa.pk]
    assert _rows(staff.post(f"{TRACKER}?status=requested", {"client_q": "hernandes"})) == []
    assert (
        "No referral for a client named"
        in staff.post(f"{TRACKER}?status=requested", {"client_q": "hernandes"}).content.decode()
    )


@pytest.mark.django_db
def test_one_clients_referrals_by_id(staff, loop):
    loop.send(key="maria")
    rosa = _hernandez(loop)
    sent = _send(loop, rosa, "rosa")
    assert _rows(staff.get(TRACKER, {"client": rosa.pk})) == [sent.pk]


@pytest.mark.django_db
def test_another_clinics_referrals_are_never_found(client, loop, second_clinic_staff):
    _send(loop, _hernandez(loop), "rosa")
    act_as(
        client, second_clinic_staff, Membership.objects.get(user=second_clinic_staff).organization
    )
    assert _rows(client.post(TRACKER, {"client_q": "hernandez"})) == []


@pytest.mark.django_db
def test_the_row_shows_the_outcome_or_the_decline_reason(staff, loop):
    declined = loop.send(key="declined")
    completed = loop.send(key="completed", service=loop.housing)
    Referral.objects.filter(pk=declined.pk).update(
        status="rejected", reason_code="no-capacity", status_reason="Waitlist full until March."
    )
    Referral.objects.filter(pk=completed.pk).update(status="completed", outcome="service-provided")
    body = staff.get(TRACKER).content.decode()
    assert "Outcome or reason" in body
    assert "No capacity: " in body
    assert "Waitlist full until March." in body
    assert "Service provided" in body
    assert "no-capacity" not in body.replace('data-field="', "")  # no raw code in the row


@pytest.mark.django_db
def test_a_name_search_costs_the_same_for_any_number_of_referrals(staff, loop):
    rosa = _hernandez(loop)
    _send(loop, rosa, "first")
    staff.post(TRACKER, {"client_q": "hernandes"})  # warm the session

    def cost() -> int:
        with cold_queries() as captured:
            response = staff.post(TRACKER, {"client_q": "hernandes"})
        assert response.status_code == 200
        return len(captured.captured_queries)

    few = cost()
    for n in range(27):
        referral = _send(loop, rosa, f"more-{n}")
        Referral.objects.filter(pk=referral.pk).update(
            status="rejected", reason_code="other", status_reason=f"reason {n}"
        )
    assert cost() == few
    page = staff.post(TRACKER, {"client_q": "hernandes"}).content.decode()
    assert 'name="page" value="2"' in page  # the next page posts the name again
    second = staff.post(TRACKER, {"client_q": "hernandes", "page": "2"})
    assert len(_rows(second)) == 3
