"""Fixtures of the referral loop's tests, on the cast of ``tests/referrals/factories.py``
(``loop`` and ``other_loop`` come from ``tests/conftest.py``)."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from network.models import Membership
from referrals.models import Client
from referrals.services.clients import client_create
from tests.conftest import act_as
from tests.referrals.factories import NOW, Ledger, Loop, ledger_make


@pytest.fixture
def staff(client: HttpClient, loop: Loop) -> HttpClient:
    """The test client signed in as the loop clinic's staff."""
    return act_as(client, loop.clinic_staff, loop.clinic)


INTRUDERS = ["agency_staff", "network_admin", "other_clinic_staff", "other_network_clinic_staff"]


@pytest.fixture(params=INTRUDERS)
def intruder(
    request: pytest.FixtureRequest,
    client: HttpClient,
    loop: Loop,
    other_loop: Loop,
) -> HttpClient:
    """The test client signed in as someone who must not see the loop clinic's clients."""
    if request.param == "agency_staff":
        return act_as(client, loop.agency_staff, loop.food_agency)
    if request.param == "network_admin":
        return act_as(client, loop.admin, None)
    if request.param == "other_clinic_staff":
        user = request.getfixturevalue("second_clinic_staff")
        return act_as(client, user, Membership.objects.get(user=user).organization)
    return act_as(client, other_loop.clinic_staff, other_loop.clinic)


@pytest.fixture
def fresh(loop: Loop) -> Client:
    """A client of the loop's clinic who has given no consent yet."""
    return client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Ana",
        last_name="Reyes",
        date_of_birth=date(1991, 3, 2),
        phone="707-555-0111",
    )


@pytest.fixture
def ledger(loop: Loop) -> Ledger:
    """The ledger at a fixed instant, for figures that depend on weeks and days."""
    return ledger_make(loop, NOW)


@pytest.fixture
def ledger_today(loop: Loop) -> Ledger:
    """The same ledger ending at the test's "now", for pages that compute their figures at the
    current time. That clock is set an hour before NOW (``clock_before_sent_at``), whatever the
    real date, so the figures are the same on any day."""
    return ledger_make(loop, timezone.now())
