"""Revoking a consent reaches the referrals through a signal (consent never imports the referral
loop), inside the revocation's transaction."""

from __future__ import annotations

import pytest

from consent import services as consent_services
from consent.models import Consent
from consent.signals import consent_revoked
from referrals.models import EventKind, ReferralEvent
from tests.referrals.factories import Loop


@pytest.mark.django_db
def test_a_revocation_reaches_the_open_referrals(loop: Loop) -> None:
    referral = loop.send()
    consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="Asked")
    assert ReferralEvent.objects.filter(
        referral=referral, kind=EventKind.CONSENT_REVOKED, actor=loop.clinic_staff
    ).exists()


@pytest.mark.django_db
def test_a_failing_receiver_undoes_the_revocation(loop: Loop) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("receiver failed")

    consent_revoked.connect(broken, dispatch_uid="test-broken")
    try:
        with pytest.raises(RuntimeError):
            consent_services.consent_revoke(
                consent=loop.consent, by=loop.clinic_staff, reason="Asked"
            )
    finally:
        consent_revoked.disconnect(dispatch_uid="test-broken")
    assert Consent.objects.get(pk=loop.consent.pk).revoked_at is None
