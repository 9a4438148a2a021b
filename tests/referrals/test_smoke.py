import pytest

from referrals.models import ReferralStatus
from referrals.services.transitions import referral_transition

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")


def test_send_accept_complete(loop):
    referral = loop.send()
    assert referral.status == ReferralStatus.REQUESTED
    referral = referral_transition(
        referral=referral,
        to="accepted",
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=referral.version,
    )
    referral = referral_transition(
        referral=referral,
        to="completed",
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=referral.version,
        outcome="service-provided",
    )
    assert referral.status == "completed"
    assert [e.kind for e in referral.events.order_by("pk")] == ["created", "status", "status"]
