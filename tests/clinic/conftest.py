"""The clinic workspace tests reuse the referral loop's cast: a network with a clinic, two
agencies, their staff and a consented client."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from network import services
from network.models import Membership, Role, User
from tests.conftest import act_as
from tests.factories import UserFactory, organization_make
from tests.loop.conftest import Loop


@pytest.fixture
def staff(client: HttpClient, loop: Loop) -> HttpClient:
    """The test client signed in as the loop clinic's staff."""
    return act_as(client, loop.clinic_staff, loop.clinic)


@pytest.fixture
def second_clinic_staff(loop: Loop) -> User:
    """Staff of another clinic in the same network."""
    clinic = organization_make(loop.tenant.network, "clinic", name="Second Clinic")
    user = UserFactory(username="second-clinic-staff")
    services.membership_grant(user=user, role=Role.CLINIC_STAFF, organization=clinic, notify=False)
    return user


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
