"""A hand-built ledger of referrals with known dashboard figures, on top of the ``loop`` cast.

Every referral goes through ``network.services`` (``referral_send`` / ``referral_transition``
with explicit ``now=`` times), so the timestamps and events are exactly what production writes;
the ledger is small enough for that to stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from consent import services as consent_services
from referrals.models import Referral
from referrals.services.transitions import referral_transition
from tests.loop.conftest import Loop, clock_before_sent_at  # noqa: F401  (fixture: the clock is set before NOW)

# A Tuesday, 10:00 in the network's time zone (America/Los_Angeles, UTC-8 in November).
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
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
