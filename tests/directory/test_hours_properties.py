"""Property tests for directory.hours: "open now" against a brute-force wall clock, in zones with
ordinary, half-hour and midnight DST changes, no DST, and a skipped day."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from directory.hours import LOOKAHEAD, Closure, WeeklyHours, is_open, open_status

# Ordinary DST, half-hour DST, DST changes at midnight, no DST, and a skipped day (Apia 2011).
ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "America/Los_Angeles",
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Kolkata",
        "Pacific/Apia",
    )
]


@functools.cache
def offset_changes(tz: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants (to the minute) at which tz changed its UTC offset during 2026."""
    changes = []
    step = timedelta(hours=3)
    instant = datetime(2026, 1, 1, tzinfo=UTC)
    while instant.year == 2026:
        before = instant.astimezone(tz).utcoffset()
        if (instant + step).astimezone(tz).utcoffset() != before:
            change = instant + timedelta(minutes=1)
            while change.astimezone(tz).utcoffset() == before:
                change += timedelta(minutes=1)
            changes.append(change)
        instant += step
    return tuple(changes)


minutes_of_day = st.integers(min_value=0, max_value=23 * 60 + 59)


def clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    """A zone and an aware UTC instant, often within a day and a half of a DST change."""
    tz = draw(st.sampled_from(ZONES))
    changes = offset_changes(tz)
    if changes and draw(st.booleans()):
        anchor = draw(st.sampled_from(changes))
        minutes = draw(st.integers(min_value=-36 * 60, max_value=36 * 60))
        instant = anchor + timedelta(minutes=minutes)
    else:
        start = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()) // 60
        end = int(datetime(2040, 1, 1, tzinfo=UTC).timestamp()) // 60
        instant = datetime.fromtimestamp(
            draw(st.integers(min_value=start, max_value=end)) * 60, tz=UTC
        )
    # Mostly on the minute, where openings start and end; sometimes just either side.
    nudge = draw(st.sampled_from([0, 0, 0, -1, 1, 30]))
    return tz, instant + timedelta(seconds=nudge)


@st.composite
def daytime_hours(draw: st.DrawFn) -> list[WeeklyHours]:
    """Weekly hours that never cross midnight (opens strictly before closes)."""
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        opens = draw(st.integers(min_value=0, max_value=23 * 60 + 58))
        closes = draw(st.integers(min_value=opens + 1, max_value=23 * 60 + 59))
        weekday = draw(st.integers(min_value=0, max_value=6))
        rows.append(WeeklyHours(weekday=weekday, opens_at=clock(opens), closes_at=clock(closes)))
    return rows


@st.composite
def any_hours(draw: st.DrawFn) -> list[WeeklyHours]:
    """Weekly hours of every shape: daytime, overnight, full-day and until-midnight."""
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        rows.append(
            WeeklyHours(
                weekday=draw(st.integers(min_value=0, max_value=6)),
                opens_at=clock(draw(minutes_of_day)),
                closes_at=clock(draw(minutes_of_day)),
            )
        )
    return rows


@st.composite
def closures_near(draw: st.DrawFn, around: date) -> list[Closure]:
    """Up to two closures within a few days of `around`."""
    closures = []
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        start = around + timedelta(days=draw(st.integers(min_value=-3, max_value=3)))
        length = timedelta(days=draw(st.integers(min_value=0, max_value=3)))
        closures.append(Closure(start=start, end=start + length))
    return closures


def reference_is_open(
    hours: list[WeeklyHours], closures: list[Closure], at: datetime, tz: ZoneInfo
) -> bool:
    """Brute force for daytime-only hours: is the local wall-clock time inside an opening?"""
    local = at.astimezone(tz)
    if any(closure.start <= local.date() <= closure.end for closure in closures):
        return False
    now = local.time()
    for row in hours:
        until_midnight = row.closes_at == time(23, 59)
        inside = row.opens_at <= now and (until_midnight or now < row.closes_at)
        if row.weekday == local.weekday() and inside:
            return True
    return False


def is_repeated_wall_time(local: datetime) -> bool:
    """True during a fall-back hour, when the same wall-clock time happens twice."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


@settings(max_examples=150, deadline=None)
@given(data=st.data(), hours=daytime_hours(), zone_at=zone_and_instant())
def test_is_open_matches_wall_clock_brute_force(
    data: st.DataObject, hours: list[WeeklyHours], zone_at: tuple[ZoneInfo, datetime]
) -> None:
    tz, at = zone_at
    local = at.astimezone(tz)
    # In a repeated hour a wall-clock range is two separate stretches; instants can't agree.
    assume(not is_repeated_wall_time(local))
    closures = data.draw(closures_near(local.date()))
    expected = reference_is_open(hours, closures, at, tz)
    assert is_open(hours=hours, closures=closures, at=at, tz=tz) is expected
    # The zone `at` is expressed in must not matter.
    assert is_open(hours=hours, closures=closures, at=local, tz=tz) is expected


@st.composite
def hours_and_instant_at_a_dst_change(
    draw: st.DrawFn,
) -> tuple[ZoneInfo, list[WeeklyHours], datetime]:
    """Daytime hours starting or ending within 90 minutes of a DST change, and an instant
    within three hours of it: the cases where skipped and repeated wall times matter."""
    tz = draw(st.sampled_from([zone for zone in ZONES if offset_changes(zone)]))
    change = draw(st.sampled_from(offset_changes(tz)))
    local = change.astimezone(tz)
    near = local.hour * 60 + local.minute
    around = st.integers(min_value=max(near - 90, 0), max_value=min(near + 90, 23 * 60 + 59))
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        first, second = sorted(draw(st.lists(around, min_size=2, max_size=2, unique=True)))
        rows.append(
            WeeklyHours(weekday=local.weekday(), opens_at=clock(first), closes_at=clock(second))
        )
    minutes = draw(st.integers(min_value=-180, max_value=180))
    seconds = draw(st.sampled_from([0, 0, -1, 1]))
    return tz, rows, change + timedelta(minutes=minutes, seconds=seconds)


@settings(max_examples=150, deadline=None)
@given(case=hours_and_instant_at_a_dst_change())
def test_is_open_matches_wall_clock_brute_force_around_dst_changes(
    case: tuple[ZoneInfo, list[WeeklyHours], datetime],
) -> None:
    tz, hours, at = case
    assume(not is_repeated_wall_time(at.astimezone(tz)))
    assert is_open(hours=hours, closures=[], at=at, tz=tz) is reference_is_open(hours, [], at, tz)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), hours=any_hours(), zone_at=zone_and_instant())
def test_status_times_are_real_transitions(
    data: st.DataObject, hours: list[WeeklyHours], zone_at: tuple[ZoneInfo, datetime]
) -> None:
    tz, at = zone_at
    closures = data.draw(closures_near(at.astimezone(tz).date()))

    def open_at(instant: datetime) -> bool:
        return is_open(hours=hours, closures=closures, at=instant, tz=tz)

    result = open_status(hours=hours, closures=closures, at=at, tz=tz)
    # Step in UTC: subtracting from a local datetime is wall-clock arithmetic.
    tick = timedelta(microseconds=1)
    if result.is_open:
        assert result.next_opens_at is None
        if result.closes_at is not None:
            assert result.closes_at.tzinfo is tz
            closes = result.closes_at.astimezone(UTC)
            assert at < closes <= at + LOOKAHEAD
            assert open_at(closes - tick)
            assert not open_at(closes)
    else:
        assert result.closes_at is None
        if result.next_opens_at is not None:
            assert result.next_opens_at.tzinfo is tz
            opens = result.next_opens_at.astimezone(UTC)
            assert at < opens <= at + LOOKAHEAD
            assert open_at(opens)
            assert not open_at(opens - tick)
