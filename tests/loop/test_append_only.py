"""Timelines and the access log are written once; referrals are never deleted."""

from __future__ import annotations

import pytest

from consent.disclosure import disclosure_for
from consent.models import AccessLog


@pytest.mark.django_db
def test_events_and_access_log_rows_cannot_change_or_go(loop):
    referral = loop.send()
    disclosure_for(referral, loop.food_agency, user=loop.agency_staff)
    event = referral.events.get()
    row = AccessLog.objects.get()
    for written in (event, row):
        with pytest.raises(ValueError, match="append-only"):
            written.save()
        with pytest.raises(ValueError, match="append-only"):
            written.delete()
    assert referral.events.count() == 1
    assert AccessLog.objects.count() == 1


@pytest.mark.django_db
def test_referrals_are_never_deleted(loop):
    referral = loop.send()
    with pytest.raises(ValueError, match="never deleted"):
        referral.delete()
    assert type(referral).objects.filter(pk=referral.pk).exists()
