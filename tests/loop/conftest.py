"""The common cast of the referral loop: a network with a clinic, two agencies with services and
agreements, their staff, and a consented client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from consent import services as consent_services
from consent.models import ClientField, Consent, DataSharingAgreement
from directory.models import ServicePage
from network import services
from network.models import Network, Organization, Role, User
from referrals.models import Client
from referrals.services.clients import client_create
from referrals.services.sending import referral_send
from tests.conftest import Tenant, tenant_make
from tests.factories import UserFactory
from tests.search.conftest import ARCATA, EUREKA, Spec, directory_build

# A Tuesday, 10:00 in the network's time zone (America/Los_Angeles).
SENT_AT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
AGREED_FIELDS = [
    ClientField.NAME,
    ClientField.PHONE,
    ClientField.CONTACT_PREFERENCES,  # stored with the phone anyway: "do not contact"
    ClientField.PREFERRED_LANGUAGE,
    ClientField.NOTE,
]


@pytest.fixture(autouse=True)
def clock_before_sent_at() -> Iterator[None]:
    """The loop's tests run on a clock an hour before SENT_AT, whatever the real date: what
    happens "now" (a revocation, an update) comes before the fixed instants, never after them."""
    with time_machine.travel(SENT_AT - timedelta(hours=1), tick=True):
        yield


@dataclass
class Loop:
    tenant: Tenant
    food: ServicePage  # at the tenant's agency
    housing: ServicePage  # at a second agency
    food_agency: Organization
    housing_agency: Organization
    client: Client
    consent: Consent
    agreements: dict[str, DataSharingAgreement] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    @property
    def clinic(self) -> Organization:
        return self.tenant.clinic

    @property
    def admin(self) -> User:
        return self.tenant.users[Role.NETWORK_ADMIN]

    @property
    def clinic_staff(self) -> User:
        return self.tenant.users[Role.CLINIC_STAFF]

    @property
    def agency_staff(self) -> User:
        return self.tenant.users[Role.AGENCY_STAFF]

    def send(self, service: ServicePage | None = None, key: str = "k1", **kwargs):  # type: ignore[no-untyped-def]
        service = service or self.food
        kwargs.setdefault(
            "categories",
            ["food-insecurity"] if service.pk == self.food.pk else ["housing-instability"],
        )
        return referral_send(
            client=self.client,
            by=self.clinic_staff,
            sender=self.clinic,
            service=service,
            idempotency_key=key,
            **kwargs,
        )


def loop_directory(network: Network) -> tuple[ServicePage, ServicePage]:
    """The two services of the loop: a food pantry and a rent-help program at two agencies."""
    pages = directory_build(
        network,
        [
            Spec(
                "Harbor Food Pantry",
                "Groceries every week.",
                places=[EUREKA],
                categories=["food-insecurity"],
                agency="Harbor Food Bank",
            ),
            Spec(
                "Rent Help",
                "Past-due rent.",
                places=[ARCATA],
                categories=["housing-instability"],
                agency="Bay Housing",
            ),
        ],
    )
    return pages["Harbor Food Pantry"], pages["Rent Help"]


def loop_make(tenant: Tenant) -> Loop:
    network = tenant.network
    food, housing = loop_directory(network)
    food_agency = food.get_parent().specific.organization
    housing_agency = housing.get_parent().specific.organization
    # The tenant's agency staff work at the food agency in these tests.
    for role in (Role.AGENCY_STAFF, Role.AGENCY_ADMIN):
        services.membership_grant(
            user=tenant.users[role], role=role, organization=food_agency, notify=False
        )
    housing_staff = UserFactory(username=f"{network.slug}-housing-staff")
    services.membership_grant(
        user=housing_staff, role=Role.AGENCY_STAFF, organization=housing_agency, notify=False
    )
    admin = tenant.users[Role.NETWORK_ADMIN]
    agreements = {}
    for name, agency in (("food", food_agency), ("housing", housing_agency)):
        agreement = consent_services.agreement_create(
            by=admin, agency=agency, fields=AGREED_FIELDS, effective_from=date(2026, 1, 1)
        )
        agreements[name] = consent_services.agreement_activate(agreement=agreement, by=admin)
    staff = tenant.users[Role.CLINIC_STAFF]
    client = client_create(
        organization=tenant.clinic,
        by=staff,
        first_name="Maria",
        last_name="Lopez",
        date_of_birth=date(1980, 5, 17),
        phone="707-555-0100",
        email="maria@example.org",
        preferred_language="es",
    )
    consent = consent_services.consent_record(
        client=client,
        by=staff,
        organization=tenant.clinic,
        categories=["food-insecurity", "housing-instability"],
        method="verbal",
        attestation="I read the standard consent script.",
        whole_network=True,
        # In force both at SENT_AT (tests with fixed times) and at "now": in these tests the
        # clock is an hour before SENT_AT; the isolation walk builds this cast on the real clock,
        # whatever the date, hence min/max rather than SENT_AT alone.
        granted_at=min(SENT_AT, timezone.now()) - timedelta(days=30),
        expires_at=max(SENT_AT, timezone.now()) + timedelta(days=365),
    )
    return Loop(
        tenant=tenant,
        food=food,
        housing=housing,
        food_agency=food_agency,
        housing_agency=housing_agency,
        client=client,
        consent=consent,
        agreements=agreements,
        users={"housing_staff": housing_staff},
    )


def loop_make_clocked(label: str, *, clocked: bool) -> Loop:
    """A tenant and its loop, for tests on the loop's clock (``clocked``: built two hours before
    SENT_AT, an hour before each test's "now", so that what a test changes is always newer than
    the cast) or on the real clock (built now, as those tests' "now" follows)."""
    clock = (
        time_machine.travel(SENT_AT - timedelta(hours=2), tick=True) if clocked else nullcontext()
    )
    with clock:
        return loop_make(tenant_make(label))
