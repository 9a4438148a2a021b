"""Screenings are scored when recorded, and their positive domains pre-fill the search."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from network.models import Role
from referrals.models import Screening
from referrals.screening import InvalidScreening
from referrals.services.clients import screening_record

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

POSITIVE_FOOD_AND_HOUSING = {
    "71802-3": "LA31994-9",  # worried about losing housing
    "88122-7": "LA28397-0",  # often worried food would run out
    "88123-5": "LA28398-8",
}


@pytest.mark.django_db
def test_recorded_screening_is_scored_and_suggests_a_search(client, loop):
    screening = screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers=POSITIVE_FOOD_AND_HOUSING,
    )
    assert screening.positive_categories == ["food-insecurity", "housing-instability"]
    assert screening.safety_score is None
    assert "safety" in screening.incomplete
    url = screening.search_url()
    assert url == (
        reverse("referrals:search") + "?category=food-insecurity&category=housing-instability"
    )
    client.force_login(loop.clinic_staff)
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="food-insecurity" checked' in page.content.decode()


@pytest.mark.django_db
def test_dont_know_or_refused_on_the_food_items_is_recorded_not_refused(loop):
    screening = screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers={"71802-3": "LA31993-1", "88122-7": "LA15775-2", "88123-5": "LA15775-2"},
    )
    assert screening.answers["88122-7"] == "LA15775-2"
    assert "food-insecurity" not in screening.positive_categories
    assert "food" not in screening.incomplete


@pytest.mark.django_db
def test_bad_answers_are_refused_and_nothing_is_stored(loop):
    with pytest.raises(InvalidScreening) as info:
        screening_record(
            client=loop.client,
            by=loop.clinic_staff,
            organization=loop.clinic,
            answers={"71802-3": "LA-nonsense", "00000-0": "LA33-6"},
        )
    assert len(info.value.problems) == 2
    assert not Screening.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENCY_STAFF, Role.NETWORK_ADMIN])
def test_only_the_clients_clinic_screens(loop, role):
    with pytest.raises(PermissionDenied):
        screening_record(
            client=loop.client,
            by=loop.tenant.users[role],
            organization=loop.clinic,
            answers=POSITIVE_FOOD_AND_HOUSING,
        )
    assert not Screening.objects.exists()
