"""The send flow's cast: the referral loop (a clinic, two agencies with agreements, a client
with consent on file) plus a client without any consent, and more services to choose."""

from __future__ import annotations

from datetime import date

import pytest

from consent import services as consent_services
from directory.models import ServicePage
from referrals.models import Client
from referrals.services.clients import client_create
from tests.loop.conftest import AGREED_FIELDS, Loop
from tests.search.conftest import EUREKA, Spec, directory_build


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
        agreement = consent_services.agreement_create(
            by=loop.admin, agency=agency, fields=AGREED_FIELDS, effective_from=date(2026, 1, 1)
        )
        consent_services.agreement_activate(agreement=agreement, by=loop.admin)
    return list(pages.values())
