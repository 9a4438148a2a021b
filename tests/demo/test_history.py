"""The demo's year of history: referrals through the services over the last twelve months,
in every state the pages count, the same every time, and the figures it gives the pages."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone

from demo.history import KEY_PREFIX
from demo.networks import demo_network
from directory.models import ListingVerification
from network.models import Membership, Network, Role
from referrals import dashboard
from referrals.models import EventKind, Referral

EXPECTED = {
    "humboldt": {
        "cancelled": 4,
        "completed": 21,
        "failed": 4,
        "in-progress": 5,
        "rejected": 8,
        "requested": 6,
    },
    "del-norte": {
        "cancelled": 2,
        "completed": 15,
        "failed": 3,
        "in-progress": 4,
        "rejected": 4,
        "requested": 2,
    },
}


@pytest.mark.django_db
def test_a_year_of_history_through_the_services():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    now = timezone.now()
    for slug in ("humboldt", "del-norte"):
        spec = demo_network(slug).history
        assert spec is not None
        network = Network.objects.get(slug=slug)
        history = Referral.objects.filter(network=network, idempotency_key__startswith=KEY_PREFIX)
        assert history.count() == spec.referrals
        sent = sorted(history.values_list("sent_at", flat=True))
        assert now - sent[0] > timedelta(days=300)  # a year back …
        assert now - sent[-1] < timedelta(days=10)  # … up to the last days
        statuses = Counter(history.values_list("status", flat=True))
        # Seeded random, at instants relative to the seed time: the same history every time.
        assert statuses == EXPECTED[slug]
        for status in ("requested", "rejected", "completed", "failed"):
            assert statuses[status] > 0, (slug, statuses)
        # Declines and failures carry a coded reason and the free text; completions an outcome.
        closed = history.filter(status__in=["rejected", "failed"])
        assert not closed.filter(Q(reason_code="") | Q(status_reason="")).exists()
        assert not history.filter(status__in=["completed", "failed"], outcome="").exists()
        # Each change is on the referral's timeline, as the services write it.
        events = history.annotate(
            created=Count("events", filter=Q(events__kind=EventKind.CREATED)),
            changes=Count("events", filter=Q(events__kind=EventKind.STATUS)),
        )
        for referral in events:
            assert referral.created == 1, referral.pk
            assert (referral.changes > 0) == (referral.status != "requested"), referral.pk
        # Referrals went to at least two agencies, each with staff who sign in.
        agencies = set(history.values_list("agency_id", flat=True))
        assert len(agencies) >= 2
        for agency_id in agencies:
            assert Membership.objects.filter(
                organization_id=agency_id, role=Role.AGENCY_STAFF
            ).exists()
        # Confirmed listings, and figures on the dashboard.
        assert ListingVerification.objects.filter(
            page__path__startswith=network.root_page.path, last_verified_at__isnull=False
        ).exists()
        board = dashboard.dashboard_for(
            network=network, period=dashboard.period_default(network=network, now=now), now=now
        )
        totals = board.performance.network
        assert totals.sent > 0
        assert totals.closed_loop > 0
        assert totals.declined > 0
        assert board.overdue  # some referrals are overdue now
    # The new agency logins are printed with the others.
    assert "hum-housing-staff" in out.getvalue()
    assert "dn-housing-staff" in out.getvalue()
