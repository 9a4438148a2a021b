"""The dashboard's figures on the hand-built ledger (``conftest.ledger_make``), whose answers are
worked out by hand below. Local times are America/Los_Angeles; NOW is Tuesday 24 November 2026,
10:00 there; the default period is 27 August to 24 November.

| referral | agency | sent (days before NOW) | what happened | closed loop | went overdue |
|---|---|---|---|---|---|
| F1 | food | 60 (Fri 25 Sep) | accepted +2 h, completed +10 d (food + housing) | yes | no |
| F2 | food | 50 (Mon 5 Oct) | accepted +4 h, failed +5 d (no capacity) | yes | no |
| F3 | food | 45 (Sat 10 Oct) | declined +1 h | yes | no |
| F4 | food | 40 (Thu 15 Oct) | accepted +6 h, in progress; outcome due 10 d ago | no | yes (now) |
| F5 | food | 10 (Sat 14 Nov) | never answered; answer due Tue 17 Nov 17:00 | — | yes (now) |
| F6 | food | 5 (Thu 19 Nov) | accepted +8 h | — | no |
| F7 | food | 100 (Sun 16 Aug) | outside the default period | | |
| F8 | food | 20 | entered in error: counts nowhere | | |
| H1 | housing | 35 (Tue 20 Oct) | accepted +3 d (late), completed (partly) | yes | yes |
| H2 | housing | 33 (Thu 22 Oct) | cancelled by the clinic +1 h | yes | no |
| H3 | housing | 1 hour | waiting; answer not due yet | — | no |

Due for feedback (sent 30 days or more before NOW): F1 to F4, H1, H2.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from referrals import dashboard
from referrals.dashboard import Period
from referrals.models import EventKind, Referral
from tests.referrals.factories import DAY, NOW, Ledger, Steps

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

HOUR = timedelta(hours=1)


def _by_name(performance: dashboard.AgencyPerformance) -> dict[str, dashboard.AgencyFigures]:
    return {row.name: row for row in performance.agencies}


@pytest.mark.django_db
def test_default_period_is_the_last_90_days_in_network_time(ledger: Ledger):
    period = dashboard.period_default(network=ledger.loop.tenant.network, now=NOW)
    assert period == Period(first=date(2026, 8, 27), last=date(2026, 11, 24))
    assert period.days == 90


@pytest.mark.django_db
def test_closed_loop_rate_per_agency_and_overall(ledger: Ledger):
    loop = ledger.loop
    network = loop.tenant.network
    performance = dashboard.agency_performance(
        network=network, period=dashboard.period_default(network=network, now=NOW), now=NOW
    )
    rows = _by_name(performance)
    food, housing = rows[loop.food_agency.name], rows[loop.housing_agency.name]
    assert (food.sent, food.feedback_due, food.closed_loop) == (6, 4, 3)
    assert food.closed_loop_rate == pytest.approx(0.75)
    assert (housing.sent, housing.feedback_due, housing.closed_loop) == (3, 2, 2)
    assert housing.closed_loop_rate == 1.0
    total = performance.network
    assert (total.sent, total.feedback_due, total.closed_loop) == (9, 6, 5)
    assert total.closed_loop_rate == pytest.approx(5 / 6)
    # An agency without referrals is listed, with no rate rather than 0 %.
    idle = rows[loop.tenant.agency.name]
    assert (idle.sent, idle.closed_loop_rate, idle.median_accept) == (0, None, None)


@pytest.mark.django_db
def test_median_time_to_accept(ledger: Ledger):
    network = ledger.loop.tenant.network
    performance = dashboard.agency_performance(
        network=network, period=dashboard.period_default(network=network, now=NOW), now=NOW
    )
    rows = _by_name(performance)
    food = rows[ledger.loop.food_agency.name]
    # 2, 4, 6, 8 hours (F7 is outside the period): the mean of the middle two.
    assert (food.accepted, food.median_accept) == (4, 5 * HOUR)
    housing = rows[ledger.loop.housing_agency.name]
    assert (housing.accepted, housing.median_accept) == (1, 72 * HOUR)
    # 2, 4, 6, 8, 72 hours.
    assert (performance.network.accepted, performance.network.median_accept) == (5, 6 * HOUR)


@pytest.mark.django_db
def test_time_to_accept_ends_at_the_accepted_event(ledger: Ledger):
    """The median reads ``responded_at``; the service writes it with the accepted event."""
    for label in ("F1", "F2", "F4", "F6", "H1"):
        referral = ledger.referrals[label]
        referral.refresh_from_db()
        event = referral.events.get(kind=EventKind.STATUS, to_status="accepted")
        assert referral.responded_at == event.at


@pytest.mark.django_db
def test_share_overdue(ledger: Ledger):
    network = ledger.loop.tenant.network
    performance = dashboard.agency_performance(
        network=network, period=dashboard.period_default(network=network, now=NOW), now=NOW
    )
    rows = _by_name(performance)
    food = rows[ledger.loop.food_agency.name]
    assert food.went_overdue == 2  # F4 (outcome), F5 (answer)
    assert food.overdue_share == pytest.approx(2 / 6)
    housing = rows[ledger.loop.housing_agency.name]
    assert housing.went_overdue == 1  # H1 answered late, then closed
    assert performance.network.overdue_share == pytest.approx(3 / 9)


@pytest.mark.django_db
def test_outcomes_by_category(ledger: Ledger):
    network = ledger.loop.tenant.network
    table = dashboard.outcomes_by_category(
        network=network, period=dashboard.period_default(network=network, now=NOW)
    )
    assert [code for code, _ in table.categories] == ["food-insecurity", "housing-instability"]
    counts = {row.outcome: (row.counts, row.total) for row in table.rows}
    # F1 was for both needs: once in each column, once in the total.
    assert counts["service-provided"] == ([1, 1], 1)
    assert counts["no-capacity"] == ([1, 0], 1)
    assert counts["service-provided-partially"] == ([0, 1], 1)
    assert counts["client-declined"] == ([0, 0], 0)
    assert table.total == 3


@pytest.mark.django_db
def test_referrals_per_week(ledger: Ledger):
    network = ledger.loop.tenant.network
    weeks = dashboard.referrals_per_week(
        network=network, period=dashboard.period_default(network=network, now=NOW)
    )
    assert weeks[0].week == date(2026, 8, 24)  # the Monday of the week of 27 August
    assert weeks[-1].week == date(2026, 11, 23)
    assert len(weeks) == 14
    sent = {w.week: w.sent for w in weeks if w.sent}
    assert sent == {
        date(2026, 9, 21): 1,  # F1
        date(2026, 10, 5): 2,  # F2, F3 (Saturday)
        date(2026, 10, 12): 1,  # F4
        date(2026, 10, 19): 2,  # H1, H2
        date(2026, 11, 9): 1,  # F5 (Saturday)
        date(2026, 11, 16): 1,  # F6
        date(2026, 11, 23): 1,  # H3
    }


@pytest.mark.django_db
def test_period_filter_bounds_are_whole_days_in_network_time(ledger: Ledger):
    loop = ledger.loop
    network = loop.tenant.network
    period = Period(first=date(2026, 10, 5), last=date(2026, 10, 20))
    rows = _by_name(dashboard.agency_performance(network=network, period=period, now=NOW))
    assert rows[loop.food_agency.name].sent == 3  # F2 (first day), F3, F4
    assert rows[loop.housing_agency.name].sent == 1  # H1 (last day)
    assert sum(w.sent for w in dashboard.referrals_per_week(network=network, period=period)) == 4
    outcomes = dashboard.outcomes_by_category(network=network, period=period)
    assert {row.outcome: row.total for row in outcomes.rows if row.total} == {
        "no-capacity": 1,
        "service-provided-partially": 1,
    }
    # A longer period takes F7 in.
    longer = Period(first=date(2026, 8, 1), last=date(2026, 11, 24))
    rows = _by_name(dashboard.agency_performance(network=network, period=longer, now=NOW))
    assert rows[loop.food_agency.name].sent == 7


@pytest.mark.django_db
def test_variance_report_lists_referrals_overdue_now(ledger: Ledger):
    network = ledger.loop.tenant.network
    overdue = dashboard.referrals_overdue(network=network, now=NOW)
    f4, f5 = ledger.referrals["F4"], ledger.referrals["F5"]
    assert [(r.pk, r.owes, r.days_overdue) for r in overdue] == [
        (f4.pk, "outcome", 9),  # outcome due 30 days after acceptance: 9 days 18 hours ago
        (f5.pk, "answer", 6),  # answer due Tuesday 17 November 17:00: 6 days 17 hours ago
    ]
    assert overdue[0].agency_name == ledger.loop.food_agency.name
    assert overdue[1].due_at == f5.response_due_at
    assert overdue[1].service_name == "Harbor Food Pantry"
    # One agency's list; the other agency owes nothing.
    food, housing = ledger.loop.food_agency.pk, ledger.loop.housing_agency.pk
    assert dashboard.referrals_overdue(network=network, now=NOW, agency_id=food) == overdue
    assert dashboard.referrals_overdue(network=network, now=NOW, agency_id=housing) == []


@pytest.mark.django_db
def test_variance_summary_per_agency(ledger: Ledger):
    network = ledger.loop.tenant.network
    f4 = ledger.referrals["F4"]
    (food,) = dashboard.overdue_by_agency(network=network, now=NOW)
    assert (food.agency_id, food.name) == (ledger.loop.food_agency.pk, ledger.loop.food_agency.name)
    assert (food.total, food.answers, food.outcomes) == (2, 1, 1)
    assert food.earliest_due_at == f4.outcome_due_at
    assert food.longest_days(NOW) == 9
    # Nothing is overdue before the first due time.
    assert dashboard.overdue_by_agency(network=network, now=NOW - 30 * DAY) == []


@pytest.mark.django_db
def test_another_networks_referrals_count_nowhere(ledger: Ledger, other_loop):
    from tests.referrals.factories import ledger_make

    ledger_make(other_loop, NOW)
    network = ledger.loop.tenant.network
    period = dashboard.period_default(network=network, now=NOW)
    assert dashboard.agency_performance(network=network, period=period, now=NOW).network.sent == 9
    assert len(dashboard.referrals_overdue(network=network, now=NOW)) == 2


@pytest.mark.django_db
def test_a_referral_whose_result_came_back_is_a_closed_loop_at_once(ledger: Ledger):
    """Bug: a referral declined or completed days after it was sent counted "closed loop 0"
    until its agreement's 30-day window had passed. The referring clinic has its result: it is
    a closed loop now, and it counts as due for feedback (the rate stays within 100 %)."""
    loop = ledger.loop
    network = loop.tenant.network
    s = Steps(ledger)
    young_declined = s.send("Y1", 3 * DAY)
    s.change(young_declined, "rejected", 1 * HOUR, reason="Out of area")
    young_completed = s.send("Y2", 4 * DAY)
    s.change(young_completed, "accepted", 1 * HOUR)
    s.change(young_completed, "completed", 2 * DAY, outcome="service-provided")
    performance = dashboard.agency_performance(
        network=network, period=dashboard.period_default(network=network, now=NOW), now=NOW
    )
    food = _by_name(performance)[loop.food_agency.name]
    # F1, F2, F3 and the two young ones; F4 (open, old) is due but not closed.
    assert (food.sent, food.feedback_due, food.closed_loop) == (8, 6, 5)
    assert food.closed_loop_rate == pytest.approx(5 / 6)
    total = performance.network
    assert (total.feedback_due, total.closed_loop) == (8, 7)


@pytest.mark.django_db
def test_declines_and_failures_counted_by_reason_code_per_agency(ledger: Ledger):
    loop = ledger.loop
    network = loop.tenant.network
    f2, f3 = ledger.referrals["F2"], ledger.referrals["F3"]
    # The coded reasons the agency's decline and failure forms record.
    Referral.objects.filter(pk=f2.pk).update(reason_code="no-capacity")
    Referral.objects.filter(pk=f3.pk).update(reason_code="not-eligible")
    # A code on a referral that is not declined or failed is not counted.
    Referral.objects.filter(pk=ledger.referrals["F1"].pk).update(reason_code="other")
    performance = dashboard.agency_performance(
        network=network, period=dashboard.period_default(network=network, now=NOW), now=NOW
    )
    rows = _by_name(performance)
    food = dict(rows[loop.food_agency.name].reasons)
    assert food == {
        "not-eligible": 1,
        "no-capacity": 1,
        "client-unreachable": 0,
        "client-declined": 0,
        "duplicate": 0,
        "other": 0,
        "": 0,
    }
    assert rows[loop.food_agency.name].declined == 2
    assert rows[loop.housing_agency.name].declined == 0  # H2 was cancelled, not declined
    assert dict(performance.network.reasons)["no-capacity"] == 1
    assert performance.network.declined == 2
