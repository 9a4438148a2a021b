"""The common cast of the referral loop: a network with a clinic, two agencies with services and
agreements, their staff, and a consented client."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import time_machine
from django.utils import timezone

from consent import services as consent_services
from consent.models import ClientField, Consent, DataSharingAgreement
from directory.models import ServicePage
from network import services
from network.models import Network, Organization, Role, User
from referrals.models import Client, Referral
from referrals.services.clients import client_create
from referrals.services.sending import referral_send
from referrals.services.transitions import referral_transition
from tests.consent.factories import agreement_in_force, consent_verbal
from tests.directory.factories import ARCATA, EUREKA, Spec, directory_build
from tests.network.factories import Tenant, UserFactory, tenant_make

# A Tuesday, 10:00 in the network's time zone (America/Los_Angeles).
SENT_AT = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
AGREED_FIELDS = [
    ClientField.NAME,
    ClientField.PHONE,
    ClientField.CONTACT_PREFERENCES,  # stored with the phone anyway: "do not contact"
    ClientField.PREFERRED_LANGUAGE,
    ClientField.NOTE,
]


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
        agreements[name] = agreement_in_force(agency=agency, by=admin, fields=AGREED_FIELDS)
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
    consent = consent_verbal(
        client=client,
        by=staff,
        organization=tenant.clinic,
        categories=["food-insecurity", "housing-instability"],
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


def more_services(loop: Loop, n: int) -> list[ServicePage]:
    """``n`` more food services, each at its own agency with an agreement in force."""
    pages = directory_build(
        loop.tenant.network,
        [
            Spec(
                f"Pantry {i}",
                "Groceries.",
                places=[EUREKA],
                categories=["food-insecurity"],
                agency=f"Pantry Agency {i}",
            )
            for i in range(n)
        ],
    )
    for page in pages.values():
        agency = page.get_parent().specific.organization
        agreement_in_force(agency=agency, by=loop.admin, fields=AGREED_FIELDS)
    return list(pages.values())


def move(referral: Referral, to: str, by: User, organization: Organization, **kwargs: Any) -> None:
    """Apply one change as the agency's staff would (the version read fresh)."""
    referral.refresh_from_db()
    referral_transition(
        referral=referral,
        to=to,
        by=by,
        organization=organization,
        version=referral.version,
        **kwargs,
    )


# --- a ledger of referrals with known dashboard figures -----------------------------------------

# The ledger ends at the loop's fixed instant (a Tuesday, 10:00 in the network's time zone).
NOW = SENT_AT
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass
class Ledger:
    """The referrals by label (F1… at the food agency, H1… at the housing agency)."""

    loop: Loop
    now: datetime
    referrals: dict[str, Referral] = field(default_factory=dict)


def consent_back_to(cast: Loop, since: datetime, until: datetime) -> None:
    """A consent in force over the whole ledger (the loop's starts only 30 days back)."""
    consent_services.consent_record(
        client=cast.client,
        by=cast.clinic_staff,
        organization=cast.clinic,
        categories=["food-insecurity", "housing-instability"],
        method="verbal",
        attestation="I read the standard consent script.",
        whole_network=True,
        granted_at=since,
        expires_at=until,
    )


class Steps:
    """Send one referral and apply changes at times relative to its sending."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.loop = ledger.loop

    def send(self, label: str, ago: timedelta, *, housing: bool = False, **kwargs: Any) -> Referral:
        cast = self.loop
        referral = cast.send(
            service=cast.housing if housing else cast.food,
            key=f"ledger-{label}",
            now=self.ledger.now - ago,
            **kwargs,
        )
        self.ledger.referrals[label] = referral
        return referral

    def change(self, referral: Referral, to: str, after: timedelta, **kwargs: Any) -> None:
        cast = self.loop
        if to in {"cancelled", "entered-in-error"} and kwargs.pop("by_sender", False):
            by, organization = cast.clinic_staff, cast.clinic
        elif referral.agency_id == cast.food_agency.pk:
            by, organization = cast.agency_staff, cast.food_agency
        else:
            by, organization = cast.users["housing_staff"], cast.housing_agency
        assert referral.sent_at is not None
        referral_transition(
            referral=referral,
            to=to,
            by=by,
            organization=organization,
            version=referral.version,
            now=referral.sent_at + after,
            **kwargs,
        )


def ledger_make(cast: Loop, now: datetime) -> Ledger:
    """Eleven referrals whose figures at ``now`` are known (see ``test_metrics``).

    Agreements: answer within 16 business hours, outcome within 30 days of acceptance.
    """
    consent_back_to(cast, now - 200 * DAY, now + 365 * DAY)
    ledger = Ledger(loop=cast, now=now)
    s = Steps(ledger)
    both = ["food-insecurity", "housing-instability"]
    # Food agency.
    f1 = s.send("F1", 60 * DAY, categories=both)
    s.change(f1, "accepted", 2 * HOUR)
    s.change(f1, "completed", 10 * DAY, outcome="service-provided")
    f2 = s.send("F2", 50 * DAY)
    s.change(f2, "accepted", 4 * HOUR)
    s.change(f2, "failed", 5 * DAY, reason="No slots", outcome="no-capacity")
    f3 = s.send("F3", 45 * DAY)
    s.change(f3, "rejected", 1 * HOUR, reason="Out of area")
    f4 = s.send("F4", 40 * DAY)  # accepted, never closed: outcome overdue since 10 days
    s.change(f4, "accepted", 6 * HOUR)
    s.change(f4, "in-progress", 1 * DAY)
    s.send("F5", 10 * DAY)  # never answered: answer overdue
    f6 = s.send("F6", 5 * DAY)
    s.change(f6, "accepted", 8 * HOUR)
    f7 = s.send("F7", 100 * DAY)  # before the default period
    s.change(f7, "accepted", 1 * HOUR)
    s.change(f7, "completed", 3 * DAY, outcome="service-provided")
    f8 = s.send("F8", 20 * DAY)  # a mistake: counts nowhere
    s.change(f8, "entered-in-error", 1 * HOUR, by_sender=True)
    # Housing agency.
    h1 = s.send("H1", 35 * DAY, housing=True)  # answered late
    s.change(h1, "accepted", 3 * DAY)
    s.change(h1, "completed", 20 * DAY, outcome="service-provided-partially")
    h2 = s.send("H2", 33 * DAY, housing=True)
    s.change(h2, "cancelled", 1 * HOUR, reason="Client moved", by_sender=True)
    s.send("H3", 1 * HOUR, housing=True)  # answer not due yet
    return ledger


# --- AHC HRSN answers (LOINC question and answer codes) -----------------------------------------

Answers = dict[str, str | Sequence[str]]

LIVING = "71802-3"
HOUSING = "96778-6"
FOOD_WORRIED = "88122-7"
FOOD_RAN_OUT = "88123-5"
TRANSPORT = "93030-5"
UTILITIES = "96779-4"
SAFETY_ITEMS = ("95618-5", "95617-7", "95616-9", "95615-1")

STEADY, WORRIED, NO_STEADY_PLACE = "LA31993-1", "LA31994-9", "LA31995-6"
HOUSING_PROBLEMS = (
    "LA31996-4",
    "LA28580-1",
    "LA31997-2",
    "LA31998-0",
    "LA31999-8",
    "LA32000-4",
    "LA32001-2",
)
NONE_OF_THESE = "LA9-3"
OFTEN, SOMETIMES, NEVER_TRUE = "LA28397-0", "LA6729-3", "LA28398-8"
DONT_KNOW = "LA15775-2"  # "Don't know/refused" on the food items: answered, never positive
YES, NO, SHUT_OFF = "LA33-6", "LA32-8", "LA32002-0"
# Index + 1 is the item's points: Never = 1 ... Frequently = 5.
HOW_OFTEN = ("LA6270-8", "LA10066-1", "LA10082-8", "LA16644-9", "LA6482-9")


def safety_answers(*points: int) -> Answers:
    return {item: HOW_OFTEN[p - 1] for item, p in zip(SAFETY_ITEMS, points, strict=True)}


def all_negative() -> Answers:
    return {
        LIVING: STEADY,
        HOUSING: [NONE_OF_THESE],
        FOOD_WORRIED: NEVER_TRUE,
        FOOD_RAN_OUT: NEVER_TRUE,
        TRANSPORT: NO,
        UTILITIES: NO,
        **safety_answers(1, 1, 1, 1),
    }
