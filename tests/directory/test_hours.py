"""Tests for directory.hours: weekly hours, closures and "open now" across time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from directory.hours import (
    LOOKAHEAD,
    WEEKDAYS,
    Closure,
    OpenStatus,
    WeeklyHours,
    is_open,
    open_status,
    parse_hours,
)

LA = ZoneInfo("America/Los_Angeles")
NY = ZoneInfo("America/New_York")

# 2026-06-01 is a Monday; no DST change anywhere near this week in the US.
MON, TUE, WED, THU, FRI, SAT, SUN = range(1, 8)
NEXT_MON = 8

NINE_TO_FIVE_WEEKDAYS = parse_hours([(day, "09:00", "17:00") for day in WEEKDAYS[:5]])


def june(day: int, hour: int, minute: int = 0, second: int = 0, *, tz: ZoneInfo = LA) -> datetime:
    """Aware local datetime in the June 2026 test week."""
    return datetime(2026, 6, day, hour, minute, second, tzinfo=tz)


def status(
    hours: list[WeeklyHours],
    at: datetime,
    *,
    closures: tuple[Closure, ...] = (),
    tz: ZoneInfo = LA,
) -> OpenStatus:
    return open_status(hours=hours, closures=closures, at=at, tz=tz)


def test_week_starts_on_monday() -> None:
    assert date(2026, 6, MON).weekday() == 0
    assert date(2026, 6, SUN).weekday() == 6


# --- ordinary hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "second", "expected"),
    [
        (8, 59, 59, False),
        (9, 0, 0, True),
        (12, 0, 0, True),
        (16, 59, 59, True),
        (17, 0, 0, False),
        (20, 0, 0, False),
        (0, 0, 0, False),
    ],
)
def test_ordinary_day_opens_inclusive_and_closes_exclusive(
    hour: int, minute: int, second: int, expected: bool
) -> None:
    hours = parse_hours([("mon", "09:00", "17:00")])
    at = june(MON, hour, minute, second)
    assert is_open(hours=hours, closures=[], at=at, tz=LA) is expected


def test_closed_on_a_day_without_hours() -> None:
    hours = parse_hours([("mon", "09:00", "17:00")])
    assert not is_open(hours=hours, closures=[], at=june(TUE, 10), tz=LA)


def test_open_status_when_open_reports_closing_time() -> None:
    result = status(NINE_TO_FIVE_WEEKDAYS, june(WED, 10, 15))
    assert result == OpenStatus(is_open=True, closes_at=june(WED, 17), next_opens_at=None)
    assert result.closes_at is not None
    assert result.closes_at.tzinfo is LA


def test_open_status_after_hours_reports_tomorrow_morning() -> None:
    result = status(NINE_TO_FIVE_WEEKDAYS, june(WED, 17))
    assert result == OpenStatus(is_open=False, closes_at=None, next_opens_at=june(THU, 9))


def test_next_opening_on_saturday_is_monday_morning() -> None:
    result = status(NINE_TO_FIVE_WEEKDAYS, june(SAT, 11))
    assert not result.is_open
    assert result.next_opens_at == june(NEXT_MON, 9)


def test_no_hours_at_all_never_opens() -> None:
    assert status([], june(MON, 12)) == OpenStatus(
        is_open=False, closes_at=None, next_opens_at=None
    )


def test_hours_may_be_any_iterable() -> None:
    rows = (row for row in NINE_TO_FIVE_WEEKDAYS)
    closures = (closure for closure in [Closure(start=date(2026, 6, TUE), end=date(2026, 6, TUE))])
    assert open_status(hours=rows, closures=closures, at=june(MON, 12), tz=LA).is_open


# --- several openings on one day --------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [(9, 0, True), (11, 59, True), (12, 0, False), (12, 30, False), (13, 0, True), (16, 59, True)],
)
def test_split_day(hour: int, minute: int, expected: bool) -> None:
    hours = parse_hours([("mon", "09:00", "12:00"), ("mon", "13:00", "17:00")])
    assert is_open(hours=hours, closures=[], at=june(MON, hour, minute), tz=LA) is expected


def test_split_day_status_points_at_the_right_opening() -> None:
    hours = parse_hours([("mon", "13:00", "17:00"), ("mon", "09:00", "12:00")])
    assert status(hours, june(MON, 10)).closes_at == june(MON, 12)
    assert status(hours, june(MON, 12, 30)).next_opens_at == june(MON, 13)
    assert status(hours, june(MON, 14)).closes_at == june(MON, 17)


# --- overnight --------------------------------------------------------------------------------

FRIDAY_NIGHT_SHELTER = parse_hours([("fri", "18:00", "08:00")])


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (june(FRI, 17, 59), False),
        (june(FRI, 18), True),
        (june(FRI, 23), True),
        (june(SAT, 3), True),
        (june(SAT, 7, 59, 59), True),
        (june(SAT, 8), False),
        (june(THU, 23), False),
        (june(SAT, 23), False),
    ],
)
def test_overnight_opening_runs_into_the_next_day(at: datetime, expected: bool) -> None:
    assert is_open(hours=FRIDAY_NIGHT_SHELTER, closures=[], at=at, tz=LA) is expected


def test_overnight_opening_closes_next_morning() -> None:
    assert status(FRIDAY_NIGHT_SHELTER, june(FRI, 23)).closes_at == june(SAT, 8)
    assert status(FRIDAY_NIGHT_SHELTER, june(SAT, 3)).closes_at == june(SAT, 8)
    assert status(FRIDAY_NIGHT_SHELTER, june(SAT, 8)).next_opens_at == june(FRI + 7, 18)


def test_sunday_night_opening_wraps_into_monday() -> None:
    hours = parse_hours([("sun", "20:00", "06:00")])
    # The Monday before this Sunday is covered by the previous Sunday's opening.
    assert is_open(hours=hours, closures=[], at=june(MON, 5), tz=LA)
    assert is_open(hours=hours, closures=[], at=june(NEXT_MON, 5, 59), tz=LA)
    assert not is_open(hours=hours, closures=[], at=june(NEXT_MON, 6), tz=LA)
    assert not is_open(hours=hours, closures=[], at=june(SUN, 19, 59), tz=LA)
    assert status(hours, june(SUN, 23)).closes_at == june(NEXT_MON, 6)


def test_back_to_back_openings_report_the_final_closing_time() -> None:
    hours = parse_hours([("fri", "18:00", "08:00"), ("sat", "08:00", "12:00")])
    assert status(hours, june(FRI, 23)).closes_at == june(SAT, 12)
    assert is_open(hours=hours, closures=[], at=june(SAT, 8), tz=LA)


# --- all day and 24/7 -------------------------------------------------------------------------

ALWAYS_BY_2359 = parse_hours([(day, "00:00", "23:59") for day in WEEKDAYS])
ALWAYS_BY_MIDNIGHT = parse_hours([(day, "00:00", "00:00") for day in WEEKDAYS])


@pytest.mark.parametrize("hours", [ALWAYS_BY_2359, ALWAYS_BY_MIDNIGHT], ids=["2359", "0000"])
@pytest.mark.parametrize(
    "at",
    [
        june(TUE, 23, 59, 30),
        june(TUE, 23, 59, 59).replace(microsecond=999_999),
        june(WED, 0),
        june(SAT, 12),
    ],
)
def test_every_day_all_day_is_always_open(hours: list[WeeklyHours], at: datetime) -> None:
    result = status(hours, at)
    # Continuous beyond the look-ahead window, so there is no closing time to report.
    assert result == OpenStatus(is_open=True, closes_at=None, next_opens_at=None)


def test_2359_means_through_the_end_of_the_day() -> None:
    hours = parse_hours([("tue", "00:00", "23:59")])
    assert is_open(hours=hours, closures=[], at=june(TUE, 23, 59, 59), tz=LA)
    assert not is_open(hours=hours, closures=[], at=june(WED, 0), tz=LA)
    assert status(hours, june(TUE, 12)).closes_at == june(WED, 0)


def test_opens_equal_to_closes_is_a_full_day() -> None:
    midnight = parse_hours([("tue", "00:00", "00:00")])
    assert is_open(hours=midnight, closures=[], at=june(TUE, 0), tz=LA)
    assert is_open(hours=midnight, closures=[], at=june(TUE, 23, 59, 59), tz=LA)
    assert not is_open(hours=midnight, closures=[], at=june(WED, 0), tz=LA)
    assert status(midnight, june(TUE, 5)).closes_at == june(WED, 0)

    ten = parse_hours([("tue", "10:00", "10:00")])
    assert is_open(hours=ten, closures=[], at=june(WED, 9, 59), tz=LA)
    assert not is_open(hours=ten, closures=[], at=june(WED, 10), tz=LA)
    assert status(ten, june(TUE, 10)).closes_at == june(WED, 10)


def test_closure_interrupts_a_24_7_service() -> None:
    wednesday = date(2026, 6, WED)
    closures = (Closure(start=wednesday, end=wednesday),)
    result = status(ALWAYS_BY_2359, june(TUE, 12), closures=closures)
    assert result.closes_at == june(WED, 0)
    closed = status(ALWAYS_BY_2359, june(WED, 12), closures=closures)
    assert closed == OpenStatus(is_open=False, closes_at=None, next_opens_at=june(THU, 0))


# --- closures ---------------------------------------------------------------------------------


def test_closed_on_a_closure_date_and_open_the_day_after() -> None:
    closures = (Closure(start=date(2026, 6, TUE), end=date(2026, 6, TUE)),)
    assert is_open(hours=NINE_TO_FIVE_WEEKDAYS, closures=[], at=june(TUE, 10), tz=LA)
    result = status(NINE_TO_FIVE_WEEKDAYS, june(TUE, 10), closures=closures)
    assert result == OpenStatus(is_open=False, closes_at=None, next_opens_at=june(WED, 9))
    assert is_open(hours=NINE_TO_FIVE_WEEKDAYS, closures=closures, at=june(WED, 10), tz=LA)


def test_multi_day_closure_is_inclusive_at_both_ends() -> None:
    closures = (Closure(start=date(2026, 6, TUE), end=date(2026, 6, THU)),)
    for day in (TUE, WED, THU):
        assert not is_open(hours=NINE_TO_FIVE_WEEKDAYS, closures=closures, at=june(day, 10), tz=LA)
    assert is_open(hours=NINE_TO_FIVE_WEEKDAYS, closures=closures, at=june(MON, 16), tz=LA)
    assert is_open(hours=NINE_TO_FIVE_WEEKDAYS, closures=closures, at=june(FRI, 9), tz=LA)
    # From Monday evening the next opening skips the whole closure.
    assert status(NINE_TO_FIVE_WEEKDAYS, june(MON, 18), closures=closures).next_opens_at == june(
        FRI, 9
    )


def test_overnight_shift_started_before_a_closure_runs_into_it() -> None:
    closures = (Closure(start=date(2026, 6, SAT), end=date(2026, 6, SAT)),)
    result = status(FRIDAY_NIGHT_SHELTER, june(SAT, 3), closures=closures)
    assert result == OpenStatus(is_open=True, closes_at=june(SAT, 8), next_opens_at=None)


def test_overnight_shift_starting_on_a_closed_day_does_not_happen() -> None:
    closures = (Closure(start=date(2026, 6, FRI), end=date(2026, 6, FRI)),)
    assert not is_open(hours=FRIDAY_NIGHT_SHELTER, closures=closures, at=june(FRI, 23), tz=LA)
    result = status(FRIDAY_NIGHT_SHELTER, june(SAT, 3), closures=closures)
    assert result == OpenStatus(is_open=False, closes_at=None, next_opens_at=june(FRI + 7, 18))


def test_next_opening_beyond_the_look_ahead_is_none() -> None:
    hours = parse_hours([("mon", "09:00", "17:00")])
    closures = (Closure(start=date(2026, 6, NEXT_MON), end=date(2026, 6, NEXT_MON + 7)),)
    assert status(hours, june(MON, 18), closures=closures).next_opens_at is None


def test_next_opening_exactly_at_the_end_of_the_look_ahead_counts() -> None:
    hours = parse_hours([("mon", "09:00", "17:00")])
    closures = (Closure(start=date(2026, 6, MON), end=date(2026, 6, NEXT_MON)),)
    at = june(NEXT_MON + 7, 9) - LOOKAHEAD  # Monday 09:00, but closed
    assert at == june(MON, 9)
    assert status(hours, at, closures=closures).next_opens_at == june(NEXT_MON + 7, 9)
    earlier = at - timedelta(seconds=1)
    assert status(hours, earlier, closures=closures).next_opens_at is None


# --- time zones -------------------------------------------------------------------------------


def test_same_instant_open_in_los_angeles_and_closed_in_new_york() -> None:
    at = datetime(2026, 6, MON, 22, 0, tzinfo=UTC)  # 15:00 PDT, 18:00 EDT
    assert is_open(hours=NINE_TO_FIVE_WEEKDAYS, closures=[], at=at, tz=LA)
    assert not is_open(hours=NINE_TO_FIVE_WEEKDAYS, closures=[], at=at, tz=NY)


def test_results_are_in_the_requested_zone_whatever_zone_at_is_in() -> None:
    at = datetime(2026, 6, MON, 22, 0, tzinfo=UTC)
    berlin = at.astimezone(ZoneInfo("Europe/Berlin"))
    for given_at in (at, berlin, at.astimezone(LA)):
        result = status(NINE_TO_FIVE_WEEKDAYS, given_at)
        assert result.closes_at == june(MON, 17)
        assert result.closes_at is not None
        assert result.closes_at.tzinfo is LA
    ny = status(NINE_TO_FIVE_WEEKDAYS, at, tz=NY)
    assert ny.next_opens_at == june(TUE, 9, tz=NY)
    assert ny.next_opens_at is not None
    assert ny.next_opens_at.tzinfo is NY


def test_closures_use_the_local_date_not_the_utc_date() -> None:
    closures = (Closure(start=date(2026, 6, TUE), end=date(2026, 6, TUE)),)
    evening = parse_hours([("mon", "16:00", "20:00")])
    at = datetime(2026, 6, TUE, 2, 0, tzinfo=UTC)  # still Monday 19:00 in Los Angeles
    assert is_open(hours=evening, closures=closures, at=at, tz=LA)


def test_naive_at_is_rejected() -> None:
    naive = june(MON, 10).replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(hours=NINE_TO_FIVE_WEEKDAYS, closures=[], at=naive, tz=LA)


# --- daylight saving time (America/Los_Angeles, 2026) -----------------------------------------
# Spring forward: Sunday 2026-03-08 02:00 PST -> 03:00 PDT (10:00 UTC).
# Fall back: Sunday 2026-11-01 02:00 PDT -> 01:00 PST (09:00 UTC).


def test_spring_forward_opening_spanning_the_gap() -> None:
    hours = parse_hours([("sun", "01:00", "04:00")])
    at = datetime(2026, 3, 8, 3, 30, tzinfo=LA)
    result = status(hours, at)
    assert result.is_open
    assert result.closes_at == datetime(2026, 3, 8, 11, 0, tzinfo=UTC)
    assert result.closes_at is not None
    assert result.closes_at.utcoffset() == timedelta(hours=-7)
    # Only two real hours pass between 01:00 PST and 04:00 PDT.
    start = datetime(2026, 3, 8, 1, 0, tzinfo=LA).astimezone(UTC)
    assert status(hours, start).closes_at == start + timedelta(hours=2)
    assert not is_open(hours=hours, closures=[], at=datetime(2026, 3, 8, 4, 0, tzinfo=LA), tz=LA)


def test_opening_at_a_skipped_time_starts_when_the_clock_jumps() -> None:
    hours = parse_hours([("sun", "02:30", "05:00")])
    jump = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)  # 03:00 PDT
    before = status(hours, datetime(2026, 3, 8, 1, 59, tzinfo=LA))
    assert before.next_opens_at == jump
    assert not is_open(hours=hours, closures=[], at=jump - timedelta(seconds=1), tz=LA)
    assert is_open(hours=hours, closures=[], at=jump, tz=LA)


def test_closing_at_a_skipped_time_closes_when_the_clock_jumps() -> None:
    hours = parse_hours([("sun", "00:00", "02:30")])
    jump = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)
    assert status(hours, datetime(2026, 3, 8, 1, 30, tzinfo=LA)).closes_at == jump
    assert not is_open(hours=hours, closures=[], at=jump, tz=LA)


def test_fall_back_repeated_hour_is_open_both_times() -> None:
    hours = parse_hours([("sun", "00:00", "02:00")])
    first = datetime(2026, 11, 1, 1, 30, tzinfo=LA)  # PDT
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=LA)  # PST
    assert first.utcoffset() == timedelta(hours=-7)
    assert second.utcoffset() == timedelta(hours=-8)
    closes = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)  # 02:00 PST
    for at in (first, second, first.astimezone(UTC), second.astimezone(UTC)):
        result = status(hours, at)
        assert result.is_open, at
        assert result.closes_at == closes
        assert result.closes_at is not None
        assert result.closes_at.tzinfo is LA
        assert result.closes_at.utcoffset() == timedelta(hours=-8)
    assert not is_open(hours=hours, closures=[], at=closes, tz=LA)


def test_closing_at_a_repeated_time_uses_its_last_occurrence() -> None:
    hours = parse_hours([("sun", "00:00", "01:30")])
    second_pass = datetime(2026, 11, 1, 1, 15, fold=1, tzinfo=LA)
    result = status(hours, second_pass)
    assert result.is_open
    assert result.closes_at is not None
    # Python's == is always False across zones for a repeated wall time, so compare in UTC.
    assert result.closes_at.astimezone(UTC) == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert result.closes_at.fold == 1


def test_opening_at_a_repeated_time_uses_its_first_occurrence() -> None:
    hours = parse_hours([("sun", "01:30", "03:00")])
    result = status(hours, datetime(2026, 11, 1, 0, 30, tzinfo=LA))
    assert result.next_opens_at is not None
    first_pass = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)  # 01:30 PDT
    assert result.next_opens_at.astimezone(UTC) == first_pass
    assert result.next_opens_at.fold == 0


def test_full_day_on_dst_days_follows_the_wall_clock() -> None:
    hours = parse_hours([("sun", "00:00", "00:00")])
    short_day = status(hours, datetime(2026, 3, 8, 12, 0, tzinfo=LA)).closes_at
    long_day = status(hours, datetime(2026, 11, 1, 12, 0, tzinfo=LA)).closes_at
    assert short_day == datetime(2026, 3, 9, 0, 0, tzinfo=LA)
    assert long_day == datetime(2026, 11, 2, 0, 0, tzinfo=LA)


# --- parse_hours and validation ---------------------------------------------------------------


def test_parse_hours_reads_rows() -> None:
    rows = [("mon", "09:00", "17:00"), (" Sun ", "20:00", "06:00"), ("fri", "00:00", "23:59")]
    assert parse_hours(rows) == [
        WeeklyHours(weekday=0, opens_at=time(9), closes_at=time(17)),
        WeeklyHours(weekday=6, opens_at=time(20), closes_at=time(6)),
        WeeklyHours(weekday=4, opens_at=time(0), closes_at=time(23, 59)),
    ]
    assert parse_hours([]) == []


@pytest.mark.parametrize(
    ("row", "fragments"),
    [
        (("fun", "09:00", "17:00"), ["row 2", "'fun'", "day"]),
        (("mon", "25:00", "17:00"), ["row 2", "opens_at", "'25:00'"]),
        (("mon", "09:00", "9am"), ["row 2", "closes_at", "'9am'"]),
        (("mon", "24:00", "17:00"), ["row 2", "opens_at", "'24:00'"]),
        (("mon", "9:00", "17:00"), ["row 2", "opens_at", "'9:00'"]),
        (("mon", "09:60", "17:00"), ["row 2", "opens_at", "'09:60'"]),
        (("mon", "", "17:00"), ["row 2", "opens_at"]),
        (("mon", "09:00"), ["row 2", "expected (day, opens_at, closes_at)"]),
    ],
)
def test_parse_hours_rejects_bad_rows(row: tuple[str, ...], fragments: list[str]) -> None:
    rows = [("tue", "09:00", "17:00"), row]
    with pytest.raises(ValueError, match="hours row") as excinfo:
        parse_hours(rows)  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in str(excinfo.value)


def test_weekly_hours_and_closures_validate_themselves() -> None:
    with pytest.raises(ValueError, match="weekday"):
        WeeklyHours(weekday=7, opens_at=time(9), closes_at=time(17))
    with pytest.raises(ValueError, match="naive"):
        WeeklyHours(weekday=0, opens_at=time(9, tzinfo=UTC), closes_at=time(17))
    with pytest.raises(ValueError, match="before it starts"):
        Closure(start=date(2026, 6, 2), end=date(2026, 6, 1))
