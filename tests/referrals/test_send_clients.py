"""Before a send, at the clinic: the client duplicate check (similar names with the same birth
date), who may create clients, and recording a screening with its score."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied

from network import services
from network.models import Role
from referrals.errors import PossibleDuplicate
from referrals.models import Client, Screening
from referrals.screening import InvalidScreening, score_ahc_hrsn
from referrals.services.clients import client_create, screening_record
from tests.network.factories import UserFactory, organization_make
from tests.referrals.factories import (
    FOOD_WORRIED,
    OFTEN,
    SAFETY_ITEMS,
    SENT_AT,
    TRANSPORT,
    YES,
    all_negative,
)

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")


# --- clients and screening --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Maria", "Lopez"),
        ("maria", "lópez"),
        ("M", "Lopez"),
        (" MARIA ", "LOPEZ"),
        ("María", "López"),
    ],
)
def test_a_similar_name_with_the_same_birth_date_is_a_possible_duplicate(loop, first, last):
    with pytest.raises(PossibleDuplicate) as found:
        client_create(
            organization=loop.clinic,
            by=loop.clinic_staff,
            first_name=first,
            last_name=last,
            date_of_birth=loop.client.date_of_birth,
        )

    assert found.value.candidates == [loop.client]
    assert Client.objects.filter(organization=loop.clinic).count() == 1


def test_the_same_name_with_another_birth_date_is_a_new_client(loop):
    created = client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Maria",
        last_name="Lopez",
        date_of_birth=date(1980, 5, 18),
    )

    assert created.pk != loop.client.pk
    assert Client.objects.filter(organization=loop.clinic).count() == 2


def test_staff_may_confirm_a_new_client_despite_a_similar_one(loop):
    created = client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Maria",
        last_name="López",
        date_of_birth=loop.client.date_of_birth,
        confirm_new=True,
    )

    assert created.pk != loop.client.pk
    assert (created.first_name, created.last_name) == ("Maria", "López")
    assert Client.objects.filter(organization=loop.clinic).count() == 2


def test_another_clinics_clients_are_not_revealed_as_duplicates(loop):
    clinic2 = organization_make(loop.tenant.network, "clinic", name="Second Clinic")
    staff2 = UserFactory(username="second-clinic-staff")
    services.membership_grant(
        user=staff2, role=Role.CLINIC_STAFF, organization=clinic2, notify=False
    )

    created = client_create(
        organization=clinic2,
        by=staff2,
        first_name="Maria",
        last_name="Lopez",
        date_of_birth=loop.client.date_of_birth,
    )

    assert created.organization == clinic2


def test_only_clinic_staff_create_clients(loop):
    for user in (loop.agency_staff, loop.admin):
        with pytest.raises(PermissionDenied):
            client_create(
                organization=loop.clinic,
                by=user,
                first_name="Ana",
                last_name="Reyes",
                date_of_birth=date(1990, 1, 2),
            )
    assert Client.objects.filter(organization=loop.clinic).count() == 1


def test_screening_record_stores_the_score(loop):
    answers = {**all_negative(), FOOD_WORRIED: OFTEN, TRANSPORT: YES}
    expected = score_ahc_hrsn(answers)

    screening = screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers=answers,
        performed_at=SENT_AT,
    )

    screening.refresh_from_db()
    assert screening.positive_categories == ["food-insecurity", "transportation-insecurity"]
    assert screening.positive_categories == sorted(expected.positive_categories)
    assert screening.safety_score == expected.safety_score == 4
    assert screening.incomplete == []
    assert screening.answers == answers
    assert (screening.performed_by, screening.performed_at) == (loop.clinic_staff, SENT_AT)


def test_screening_record_marks_missing_domains_incomplete(loop):
    answers = {k: v for k, v in all_negative().items() if k not in SAFETY_ITEMS}

    screening = screening_record(
        client=loop.client, by=loop.clinic_staff, organization=loop.clinic, answers=answers
    )

    assert screening.incomplete == ["safety"]
    assert screening.safety_score is None
    assert screening.positive_categories == []


def test_screening_record_refuses_bad_answers_and_wrong_roles(loop):
    with pytest.raises(InvalidScreening):
        screening_record(
            client=loop.client,
            by=loop.clinic_staff,
            organization=loop.clinic,
            answers={FOOD_WORRIED: "LA-not-an-answer"},
        )
    with pytest.raises(PermissionDenied):
        screening_record(
            client=loop.client,
            by=loop.agency_staff,
            organization=loop.clinic,
            answers=all_negative(),
        )
    assert Screening.objects.count() == 0
