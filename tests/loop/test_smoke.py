from network import services
from referrals.models import ReferralStatus


def test_send_accept_complete(loop):
    referral = loop.send()
    assert referral.status == ReferralStatus.REQUESTED
    referral = services.referral_transition(
        referral=referral,
        to="accepted",
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=referral.version,
    )
    referral = services.referral_transition(
        referral=referral,
        to="completed",
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=referral.version,
        outcome="service-provided",
    )
    assert referral.status == "completed"
    assert [e.kind for e in referral.events.order_by("pk")] == ["created", "status", "status"]
