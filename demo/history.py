"""A year of referral history for a demo network, so that every page shows real numbers.

Referrals spread over the months before the seed time, from the network's clinics to the
agencies that have demo logins, each sent and moved through its life by the real services
(``referral_send``, ``referral_transition``: events, timeline, notifications, disclosures as in
real use) at instants in the past: answered, declined with a coded reason, not completed,
completed with an outcome, cancelled, still waiting, overdue. The choices come from a seeded
random generator and the instants are relative to the seed time: the same history, shifted to
"now", every time. Some agencies confirm their listings. Seeded once: a network that already
has history keeps it.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from django.utils import timezone

from consent import services as consent_services
from directory.models import AgencyPage, ServicePage
from directory.services import listing_confirm
from network.models import Membership, Network, Organization, Role, User
from referrals.models import Referral, ReferralOutcome
from referrals.services.clients import client_create
from referrals.services.sending import referral_send
from referrals.services.transitions import referral_transition

from .networks import HistorySpec

KEY_PREFIX = "demo-history-"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

FIRST_NAMES = ("Ana", "Ben", "Carmen", "Dev", "Elena", "Frank", "Grace", "Hector", "Iris", "Joon")
LAST_NAMES = ("Alvarez", "Baker", "Chen", "Duarte", "Evans", "Flores", "Garcia", "Hill", "Ito")
LANGUAGES = ("en", "es", "en", "es", "en")

DECLINE_REASONS = (
    ("not-eligible", "Outside our service area."),
    ("no-capacity", "No openings this month."),
    ("duplicate", "Already referred by another clinic."),
    ("client-declined", "The client said they no longer need it."),
    ("other", "Needs a program we do not run."),
)
FAILURE_REASONS = (
    ("client-unreachable", "Three calls and a text, no answer.", "client-unreachable"),
    ("no-capacity", "Ran out of slots before the appointment.", "no-capacity"),
    ("client-declined", "The client chose another provider.", "client-declined"),
)


def _agency_user(agency: Organization) -> User:
    membership = (
        Membership.objects.filter(
            organization=agency, role__in=[Role.AGENCY_STAFF, Role.AGENCY_ADMIN]
        )
        .select_related("user")
        .order_by("role", "pk")
        .first()
    )
    if membership is None:
        raise ValueError(f"history: {agency.slug} has no demo login to answer its referrals")
    return membership.user


def _services(network: Network, agency: Organization) -> list[ServicePage]:
    listing = AgencyPage.objects.filter(organization=agency).first()
    if listing is None:
        raise ValueError(f"history: {agency.slug} has no listing")
    services = list(
        ServicePage.objects.live()
        .child_of(listing)
        .filter(referral_method="electronic")
        .order_by("path")
    )
    if not services:
        raise ValueError(f"history: {agency.slug} takes no electronic referrals")
    return services


def history_seed(
    *,
    network: Network,
    organizations: dict[str, Organization],
    spec: HistorySpec,
    effective_from: date,
    now: datetime | None = None,
) -> int:
    """Seed the network's referral history (once); returns how many referrals were sent."""
    if Referral.objects.filter(network=network, idempotency_key__startswith=KEY_PREFIX).exists():
        return 0
    now = now or timezone.now()
    rng = random.Random(spec.seed)  # noqa: S311 (a repeatable demo, not a secret)
    staff = User.objects.get(username=spec.by)
    clinics = [organizations[slug] for slug in spec.clinics]
    needs = sorted({need for wanted in spec.agencies.values() for need in wanted})
    receivers = [
        (
            organizations[slug],
            _agency_user(organizations[slug]),
            _services(network, organizations[slug]),
            wanted,
        )
        for slug, wanted in spec.agencies.items()
    ]
    start = max(
        now - spec.days * DAY,
        datetime.combine(effective_from + DAY, datetime.min.time(), tzinfo=now.tzinfo),
    )
    clients = []
    for n in range(spec.clients):
        clinic = clinics[n % len(clinics)]
        client = client_create(
            organization=clinic,
            by=staff,
            first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
            last_name=LAST_NAMES[(n * 3) % len(LAST_NAMES)],
            date_of_birth=date(
                1950 + rng.randrange(50), rng.randrange(1, 13), rng.randrange(1, 29)
            ),
            phone=f"707-555-{1200 + n:04d}",
            preferred_language=LANGUAGES[n % len(LANGUAGES)],
            confirm_new=True,
        )
        consent_services.consent_record(
            client=client,
            by=staff,
            organization=clinic,
            categories=needs,
            method="verbal",
            attestation="Read the network's consent script.",
            whole_network=True,
            granted_at=start - DAY,
            expires_at=now + 365 * DAY,
        )
        clients.append((client, clinic))
    span = (now - start).total_seconds()
    for n in range(spec.referrals):
        # Older referrals first; the last few are days or hours old.
        sent_at = start + timedelta(seconds=span * (n + rng.random()) / spec.referrals)
        sent_at = min(sent_at, now - HOUR)
        client, clinic = clients[rng.randrange(len(clients))]
        agency, answerer, services, wanted = receivers[rng.randrange(len(receivers))]
        referral = referral_send(
            client=client,
            by=staff,
            sender=clinic,
            service=services[rng.randrange(len(services))],
            categories=[wanted[rng.randrange(len(wanted))]],
            idempotency_key=f"{KEY_PREFIX}{n}",
            note="",
            now=sent_at,
        )
        _live(referral, rng, staff, clinic, answerer, agency, now)
    for slug in spec.confirmed:
        listing = AgencyPage.objects.filter(organization=organizations[slug]).first()
        if listing is not None:
            listing_confirm(
                page=listing,
                by=_agency_user(organizations[slug]),
                now=now - rng.randrange(2, 60) * DAY,
            )
    return spec.referrals


def _live(
    referral: Referral,
    rng: random.Random,
    staff: User,
    clinic: Organization,
    answerer: User,
    agency: Organization,
    now: datetime,
) -> None:
    """Move a sent referral along one of the paths real referrals take, never past ``now``."""
    if referral.sent_at is None:
        raise ValueError(f"history: referral #{referral.pk} was not sent")
    at = referral.sent_at
    fate = rng.choices(
        ["waiting", "declined", "completed", "failed", "open", "cancelled"],
        weights=[2, 3, 8, 2, 3, 1],
    )[0]

    def step(to: str, after: timedelta, *, code: str = "", **kwargs: str) -> bool:
        nonlocal referral, at
        if at + after >= now:
            return False
        at += after
        by, organization = (staff, clinic) if to == "cancelled" else (answerer, agency)
        referral = referral_transition(
            referral=referral,
            to=to,
            by=by,
            organization=organization,
            version=referral.version,
            now=at,
            reason_code=code or None,
            **kwargs,
        )
        return True

    answer = timedelta(hours=rng.choice([1, 3, 6, 20, 30, 60]))
    if fate == "waiting":
        return  # never answered: overdue once its answer due time passes
    if fate == "declined":
        code, reason = DECLINE_REASONS[rng.randrange(len(DECLINE_REASONS))]
        step("rejected", answer, code=code, reason=reason)
        return
    if fate == "cancelled":
        step("cancelled", answer, reason="The client moved out of the county.")
        return
    if not step("accepted", answer):
        return
    work = timedelta(days=rng.choice([2, 5, 9, 14, 21, 40]))
    if fate == "open":
        step("in-progress", DAY)  # owes an outcome: overdue past the outcome window
    elif fate == "completed":
        provided = rng.choice(
            [ReferralOutcome.SERVICE_PROVIDED] * 3 + [ReferralOutcome.PARTIALLY_PROVIDED]
        )
        step("completed", work, outcome=str(provided))
    else:
        code, reason, outcome = FAILURE_REASONS[rng.randrange(len(FAILURE_REASONS))]
        step("failed", work, code=code, reason=reason, outcome=outcome)
