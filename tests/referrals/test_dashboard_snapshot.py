"""Dashboard snapshots: kept while nothing changes and young enough, computed again otherwise;
the warmer; the per-agency list of overdue referrals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from network.models import Role
from referrals import dashboard
from referrals.admin_views import OVERDUE_PAGE_SIZE
from referrals.dashboard_snapshots import (
    CHANGED_GRACE,
    SNAPSHOT_MAX_AGE,
    VIEWED_FOR,
    WARM_BEFORE,
    Served,
    dashboard_snapshot,
    dashboard_viewed,
    dashboards_warm,
)
from tests.network.factories import organization_make
from tests.referrals.factories import DAY, HOUR, NOW, Ledger, Steps

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

URL = reverse("network_dashboard")
MINUTE = timedelta(minutes=1)


def _served(ledger: Ledger, now, **kwargs) -> Served:  # type: ignore[no-untyped-def]
    network = ledger.loop.tenant.network
    period = dashboard.period_default(network=network, now=NOW)
    return dashboard_snapshot(network=network, period=period, now=now, **kwargs)


def _board(ledger: Ledger, now, **kwargs) -> dashboard.Dashboard:  # type: ignore[no-untyped-def]
    return _served(ledger, now, **kwargs).board


GRACE = CHANGED_GRACE


@pytest.mark.django_db
def test_kept_while_nothing_changes_in_one_query(ledger: Ledger, django_assert_num_queries):
    first = _board(ledger, NOW)
    assert first.now == NOW
    with django_assert_num_queries(1):  # the stamp
        kept = _served(ledger, NOW + 4 * MINUTE)
    assert kept.board.now == NOW  # computed at NOW, not again
    assert not kept.changed_since
    assert kept.board.performance == first.performance


@pytest.mark.django_db
def test_a_referral_change_is_announced_then_computed(
    ledger: Ledger, django_capture_on_commit_callbacks
):
    before = _board(ledger, NOW).performance.network.accepted
    f5 = ledger.referrals["F5"]  # waiting for an answer
    with django_capture_on_commit_callbacks(execute=True):
        Steps(ledger).change(f5, "accepted", 10 * DAY + MINUTE)  # at NOW + 1 minute
    # Shortly after: the snapshot, saying that referrals changed since.
    shown = _served(ledger, NOW + GRACE - MINUTE)
    assert (shown.board.now, shown.changed_since) == (NOW, True)
    # Later: computed again, with the change.
    shown = _served(ledger, NOW + GRACE)
    assert (shown.board.now, shown.changed_since) == (NOW + GRACE, False)
    assert shown.board.performance.network.accepted == before + 1
    # A new referral is a change too; asking to compute shows it at once.
    with django_capture_on_commit_callbacks(execute=True):
        Steps(ledger).send("N1", -GRACE - MINUTE)  # sent a minute after that
    assert _served(ledger, NOW + GRACE + MINUTE).changed_since
    board = _board(ledger, NOW + GRACE + MINUTE, refresh=True)
    assert board.performance.network.sent == 10


@pytest.mark.django_db
def test_a_change_outside_the_services_is_seen_too(ledger: Ledger):
    _board(ledger, NOW)
    f5 = ledger.referrals["F5"]
    type(f5).objects.filter(pk=f5.pk).update(status="accepted", updated_at=NOW + MINUTE)
    assert _served(ledger, NOW + MINUTE).changed_since
    assert _board(ledger, NOW + GRACE).now == NOW + GRACE


@pytest.mark.django_db
def test_an_agreement_or_a_new_organization_is_a_change(ledger: Ledger):
    _board(ledger, NOW)
    agreement = next(iter(ledger.loop.agreements.values()))
    agreement.outcome_days = 60
    agreement.save(update_fields=["outcome_days", "updated_at"])
    assert _served(ledger, NOW + MINUTE).changed_since
    assert _board(ledger, NOW + GRACE).now == NOW + GRACE
    organization_make(ledger.loop.tenant.network, "agency", name="Newcomer Pantry")
    assert _served(ledger, NOW + GRACE + MINUTE).changed_since
    board = _board(ledger, NOW + 2 * GRACE)
    assert board.now == NOW + 2 * GRACE
    assert "Newcomer Pantry" in [row.name for row in board.performance.agencies]


@pytest.mark.django_db
def test_too_old_or_refresh_computes_again(ledger: Ledger):
    _board(ledger, NOW)
    assert _board(ledger, NOW + SNAPSHOT_MAX_AGE - MINUTE).now == NOW
    late = NOW + SNAPSHOT_MAX_AGE
    assert _board(ledger, late).now == late
    assert _board(ledger, late + MINUTE, refresh=True).now == late + MINUTE
    # A clock that went back never gets a snapshot from its future.
    assert _board(ledger, late - HOUR).now == late - HOUR


@pytest.mark.django_db
def test_one_snapshot_per_language(ledger: Ledger):
    english = _board(ledger, NOW)
    with translation.override("es"):
        spanish = _board(ledger, NOW + MINUTE)
    assert spanish.now == NOW + MINUTE
    assert [row.label for row in spanish.outcomes.rows] != [
        row.label for row in english.outcomes.rows
    ]
    assert _board(ledger, NOW + 2 * MINUTE).now == NOW  # the English one is still kept


@pytest.mark.django_db
def test_warmer_recomputes_what_was_viewed_and_is_changing_or_aging(
    ledger: Ledger, django_capture_on_commit_callbacks
):
    network = ledger.loop.tenant.network
    assert dashboards_warm(now=NOW) == 0  # nobody looked
    dashboard_viewed(network, NOW)
    assert dashboards_warm(now=NOW) == 1
    assert dashboards_warm(now=NOW + MINUTE) == 0  # fresh and unchanged
    with django_capture_on_commit_callbacks(execute=True):
        Steps(ledger).change(ledger.referrals["F5"], "accepted", 10 * DAY + 2 * MINUTE)
    assert dashboards_warm(now=NOW + 3 * MINUTE) == 1  # changed
    # Recomputed before it is too old to serve, so the page never waits for it.
    soon = NOW + 3 * MINUTE + SNAPSHOT_MAX_AGE - WARM_BEFORE
    assert dashboards_warm(now=soon) == 1
    assert _board(ledger, soon + WARM_BEFORE - MINUTE).now == soon
    # A week without a visit: no more warming.
    assert dashboards_warm(now=NOW + VIEWED_FOR + HOUR) == 0


def test_warmer_runs_every_minute():
    (entry,) = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "referrals.tasks.network_dashboards_warm"
    ]
    assert str(entry["schedule"].minute) == str(set(range(60)))


@pytest.mark.django_db
def test_page_says_when_and_can_compute_now(client, ledger_today: Ledger):
    client.force_login(ledger_today.loop.admin)
    body = client.get(URL).content.decode()
    assert "These figures were computed at" in body
    assert "refresh=1" in body
    # Opening the default period marks the network for the warmer.
    assert dashboards_warm(now=timezone.now() + SNAPSHOT_MAX_AGE) == 1


# --- one agency's overdue referrals --------------------------------------------------------


def _overdue_url(ledger: Ledger) -> str:
    return reverse("network_dashboard_overdue", args=[ledger.loop.food_agency.pk])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role",
    [Role.CLINIC_STAFF, Role.CLINIC_ADMIN, Role.AGENCY_STAFF, Role.AGENCY_ADMIN],
)
def test_overdue_list_is_for_network_admins_only(client, ledger_today: Ledger, role):
    client.force_login(ledger_today.loop.tenant.users[role])
    response = client.get(_overdue_url(ledger_today))
    assert response.status_code in {302, 403}
    assert f"#{ledger_today.referrals['F4'].pk}".encode() not in response.content


@pytest.mark.django_db
def test_overdue_list_of_another_network_is_not_found(client, ledger_today: Ledger, other_loop):
    client.force_login(other_loop.admin)
    assert client.get(_overdue_url(ledger_today)).status_code == 404
    missing = reverse("network_dashboard_overdue", args=[999_999])
    assert client.get(missing).status_code == 404


@pytest.mark.django_db
def test_overdue_list_anonymous_is_sent_to_log_in(client, ledger_today: Ledger):
    response = client.get(_overdue_url(ledger_today))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("wagtailadmin_login"))


@pytest.mark.django_db
def test_overdue_list_pages(client, ledger_today: Ledger, monkeypatch):
    monkeypatch.setattr("referrals.admin_views.OVERDUE_PAGE_SIZE", 1)
    client.force_login(ledger_today.loop.admin)
    f4, f5 = ledger_today.referrals["F4"], ledger_today.referrals["F5"]
    first = client.get(_overdue_url(ledger_today)).content.decode()
    assert f"#{f4.pk}<" in first
    assert f"#{f5.pk}<" not in first
    assert "Page 1 of 2" in first
    second = client.get(_overdue_url(ledger_today) + "?page=2").content.decode()
    assert f"#{f5.pk}<" in second
    assert f"#{f4.pk}<" not in second


@pytest.mark.django_db
def test_overdue_list_query_count_does_not_grow(client, ledger_today: Ledger):
    client.force_login(ledger_today.loop.admin)
    url = _overdue_url(ledger_today)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    two = queries()
    steps = Steps(ledger_today)
    for n in range(OVERDUE_PAGE_SIZE + 5):  # unanswered for ten days: overdue
        steps.send(f"late-{n}", 10 * DAY)
    body = client.get(url).content.decode()
    assert f"has {OVERDUE_PAGE_SIZE + 7} referrals overdue now" in body
    assert queries() == two
