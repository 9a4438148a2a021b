"""The index's open-now filter (SQL over minutes of the week) agrees with directory.hours.

directory.hours is the reference: overnight openings, full days, "until midnight", closures
that cancel the openings starting on their dates. Instants are drawn from a month without a
daylight-saving change, where wall-clock minutes and instants correspond one to one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from directory.hours import Closure, WeeklyHours, open_status
from search.backends.database import open_filter
from search.documents import weekly_intervals
from search.models import SearchClosure, SearchDocument, SearchOpening
from tests.directory.factories import STANDARD, directory_build

TZ = ZoneInfo("America/Los_Angeles")
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])) | st.just(
    time(23, 59)
)
opening = st.builds(WeeklyHours, weekday=st.integers(0, 6), opens_at=clock, closes_at=clock)
june = st.dates(min_value=date(2026, 6, 1), max_value=date(2026, 6, 28))


@st.composite
def closures(draw) -> list[Closure]:
    found = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(june)
        found.append(Closure(start=start, end=start + timedelta(days=draw(st.integers(0, 3)))))
    return found


instants = st.datetimes(
    min_value=datetime(2026, 6, 2),  # noqa: DTZ001 - hypothesis adds the zone
    max_value=datetime(2026, 6, 27),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@pytest.fixture
def document(tenant_a) -> SearchDocument:
    directory_build(tenant_a.network, STANDARD[:1])
    return SearchDocument.objects.get()


def store(document: SearchDocument, hours: list[WeeklyHours], closed: list[Closure]) -> None:
    SearchOpening.objects.filter(document=document).delete()
    SearchClosure.objects.filter(document=document).delete()
    rows = {
        interval
        for h in hours
        for interval in weekly_intervals(
            h.weekday, h.opens_at.strftime("%H:%M"), h.closes_at.strftime("%H:%M")
        )
    }
    SearchOpening.objects.bulk_create(
        SearchOpening(document=document, start_weekday=w, start_minute=s, end_minute=e)
        for w, s, e in rows
    )
    SearchClosure.objects.bulk_create(
        SearchClosure(document=document, start_date=c.start, end_date=c.end) for c in closed
    )


@pytest.mark.django_db
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hours=st.lists(opening, min_size=0, max_size=4), closed=closures(), at=instants)
def test_sql_open_now_agrees_with_the_hours_rules(document, hours, closed, at):
    store(document, hours, closed)
    in_sql = SearchDocument.objects.filter(pk=document.pk).filter(open_filter(at, TZ)).exists()
    expected = open_status(hours=hours, closures=closed, at=at, tz=TZ).is_open
    assert in_sql == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 6, 7, 23, 30, tzinfo=TZ), True),  # Sunday 23:30, the opening began at 22:00
        (datetime(2026, 6, 8, 1, 59, tzinfo=TZ), True),  # Monday 01:59, still the Sunday opening
        (datetime(2026, 6, 8, 2, 0, tzinfo=TZ), False),  # Monday 02:00, it closed
        (datetime(2026, 6, 14, 23, 0, tzinfo=TZ), False),  # Sunday 14 June is a closure day
        (datetime(2026, 6, 15, 1, 0, tzinfo=TZ), False),  # so its overnight opening never started
        (datetime(2026, 6, 21, 23, 0, tzinfo=TZ), True),  # the next Sunday is open again
    ],
)
def test_an_overnight_opening_wraps_from_sunday_to_monday(document, local, expected):
    store(
        document,
        [WeeklyHours(weekday=6, opens_at=time(22), closes_at=time(2))],
        [Closure(start=date(2026, 6, 14), end=date(2026, 6, 14))],
    )
    assert SearchDocument.objects.filter(open_filter(local, TZ)).exists() is expected


def test_weekly_intervals():
    assert weekly_intervals(0, "09:00", "17:00") == [(0, 540, 1020)]
    assert weekly_intervals(0, "09:00", "09:00") == [(0, 540, 1980)]  # a full day
    assert weekly_intervals(2, "00:00", "23:59") == [(2, 2880, 4320)]  # until midnight
    assert weekly_intervals(6, "22:00", "02:00") == [(6, 9960, 10080), (6, 0, 120)]
