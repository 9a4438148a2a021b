"""Weekly opening hours and closures for a community service, and whether it is open now.

Pure Python: no models, no database. Weekly hours and closure dates are wall-clock values in the
network's local time zone; every comparison is made between aware instants in UTC so that
daylight-saving changes are handled by zoneinfo rather than by naive arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "LOOKAHEAD",
    "WEEKDAYS",
    "Closure",
    "OpenStatus",
    "WeeklyHours",
    "is_open",
    "open_status",
    "parse_hours",
]

# Index is datetime.weekday(): 0 = Monday ... 6 = Sunday.
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# How far ahead open_status looks for the next opening (and for the end of the current one).
LOOKAHEAD = timedelta(days=14)

# A closing time this late means "until midnight", so 00:00-23:59 covers the whole day.
_END_OF_DAY = time(23, 59)

# ASCII digits only: \d would also accept other scripts' digits.
_CLOCK_PATTERN = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True)
class WeeklyHours:
    """One recurring weekly opening, in local wall-clock time.

    weekday is the day the opening starts (0 = Monday ... 6 = Sunday). closes_at <= opens_at
    means the opening runs past midnight into the next day; closes_at == opens_at means a full
    day (until the same wall-clock time tomorrow); closes_at of 23:59 means until midnight.
    """

    weekday: int
    opens_at: time
    closes_at: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday!r}")
        # Aware times would suggest a zone other than the network's, which is never consulted.
        if self.opens_at.tzinfo is not None or self.closes_at.tzinfo is not None:
            raise ValueError("opens_at and closes_at must be naive local wall-clock times")


@dataclass(frozen=True)
class Closure:
    """Dates (inclusive, local) on which no opening starts.

    An opening is cancelled when the local date on which it starts falls within [start, end];
    an overnight opening that started the evening before keeps running into the closure.
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        # A reversed range would silently close nothing, which is almost certainly a typo.
        if self.end < self.start:
            raise ValueError(f"closure ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class OpenStatus:
    """Whether a service is open at an instant, and when that changes.

    closes_at: when open, the aware time (in the requested zone) the service next closes,
    following back-to-back or overlapping openings; None if it stays open for the whole
    LOOKAHEAD window (e.g. 24/7). Always None when closed.
    next_opens_at: when closed, the aware start of the next opening within LOOKAHEAD, else None.
    Always None when open.
    """

    is_open: bool
    closes_at: datetime | None
    next_opens_at: datetime | None


def parse_hours(rows: Iterable[tuple[str, str, str]]) -> list[WeeklyHours]:
    """Turn ("mon", "09:00", "17:00") rows into WeeklyHours, in the given order.

    Day names come from WEEKDAYS (case and surrounding spaces are ignored); times are 24-hour
    HH:MM from 00:00 to 23:59. Raises ValueError naming the row (1-based) and the bad field.
    """
    parsed: list[WeeklyHours] = []
    for number, row in enumerate(rows, start=1):
        fields: tuple[object, ...] = tuple(row)
        if len(fields) != 3:
            raise ValueError(
                f"hours row {number} {row!r}: expected (day, opens_at, closes_at), "
                f"got {len(fields)} fields"
            )
        day, opens, closes = fields
        parsed.append(
            WeeklyHours(
                weekday=_parse_day(day, number=number, row=row),
                opens_at=_parse_clock(opens, field="opens_at", number=number, row=row),
                closes_at=_parse_clock(closes, field="closes_at", number=number, row=row),
            )
        )
    return parsed


def open_status(
    *,
    hours: Iterable[WeeklyHours],
    closures: Iterable[Closure],
    at: datetime,
    tz: ZoneInfo,
) -> OpenStatus:
    """Return whether the service is open at `at`, and when it next closes or opens.

    `at` must be timezone-aware (ValueError otherwise); weekly hours and closure dates are
    read as wall-clock values in `tz`, and the returned datetimes are aware and in `tz`.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"`at` must be timezone-aware, got naive {at!r}")
    rows = list(hours)
    closed = list(closures)
    # UTC throughout: aware datetimes sharing one ZoneInfo compare as naive and ignore fold.
    now = at.astimezone(UTC)
    horizon = now + LOOKAHEAD
    # Two days back catches overnight and 24-hour openings still running from earlier days.
    first_day = now.astimezone(tz).date() - timedelta(days=2)
    last_day = horizon.astimezone(tz).date() + timedelta(days=1)
    openings = sorted(
        _openings(rows=rows, closures=closed, first_day=first_day, last_day=last_day, tz=tz)
    )

    current_ends = [end for start, end in openings if start <= now < end]
    if current_ends:
        closes = max(current_ends)
        for start, end in openings:
            # Sorted by start, so once a start is past the close nothing later can extend it.
            if start > closes:
                break
            closes = max(closes, end)
        return OpenStatus(
            is_open=True,
            closes_at=None if closes > horizon else closes.astimezone(tz),
            next_opens_at=None,
        )

    upcoming = [start for start, _ in openings if now < start <= horizon]
    return OpenStatus(
        is_open=False,
        closes_at=None,
        next_opens_at=min(upcoming).astimezone(tz) if upcoming else None,
    )


def is_open(
    *,
    hours: Iterable[WeeklyHours],
    closures: Iterable[Closure],
    at: datetime,
    tz: ZoneInfo,
) -> bool:
    """Return True when the service is open at `at` (see open_status for the rules)."""
    return open_status(hours=hours, closures=closures, at=at, tz=tz).is_open


def _parse_day(value: object, *, number: int, row: object) -> int:
    """Return the weekday index for a day name, or raise ValueError naming the row."""
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in WEEKDAYS:
        raise ValueError(
            f"hours row {number} {row!r}: day {value!r} is not one of {', '.join(WEEKDAYS)}"
        )
    return WEEKDAYS.index(name)


def _parse_clock(value: object, *, field: str, number: int, row: object) -> time:
    """Return the time for a 24-hour HH:MM string, or raise ValueError naming the row."""
    match = _CLOCK_PATTERN.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"hours row {number} {row!r}: {field} {value!r} is not a 24-hour HH:MM time "
            "between 00:00 and 23:59"
        )
    return time(int(match[1]), int(match[2]))


def _openings(
    *,
    rows: list[WeeklyHours],
    closures: list[Closure],
    first_day: date,
    last_day: date,
    tz: ZoneInfo,
) -> list[tuple[datetime, datetime]]:
    """Return the (start, end) UTC instants of every opening starting between the two dates."""
    intervals: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        # Closures cancel openings by the date they start on, never by the date they end on.
        if not any(closure.start <= day <= closure.end for closure in closures):
            for row in rows:
                if row.weekday == day.weekday():
                    start, end = _opening_interval(row, day=day, tz=tz)
                    # Skip openings swallowed whole by a clock jump (e.g. a skipped day).
                    if start < end:
                        intervals.append((start, end))
        day += timedelta(days=1)
    return intervals


def _opening_interval(row: WeeklyHours, *, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC start and end of `row`'s opening that starts on local date `day`."""
    next_day = day + timedelta(days=1)
    if row.closes_at == row.opens_at:
        end_day, end_clock = next_day, row.opens_at
    elif row.closes_at >= _END_OF_DAY and row.opens_at < row.closes_at:
        end_day, end_clock = next_day, time(0)
    elif row.closes_at < row.opens_at:
        end_day, end_clock = next_day, row.closes_at
    else:
        end_day, end_clock = day, row.closes_at
    start = _wall_clock_instant(day, row.opens_at, tz=tz, last=False)
    end = _wall_clock_instant(end_day, end_clock, tz=tz, last=True)
    return start, end


def _wall_clock_instant(day: date, clock: time, *, tz: ZoneInfo, last: bool) -> datetime:
    """Return the UTC instant at which the wall clock in `tz` reads `day` `clock`.

    A time repeated by a fall-back change gives its first reading, or its last when `last` is
    true (so an opening covers the whole repeated hour). A time skipped by a spring-forward
    change gives the instant the clock jumps past it, which is when it would have been reached.
    """
    naive = datetime.combine(day, clock)
    earlier_offset = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    later_offset = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if earlier_offset == later_offset:
        return earlier_offset
    if earlier_offset < later_offset:
        return later_offset if last else earlier_offset
    # In a gap fold=0 uses the old offset (lands after the jump), fold=1 the new (before it).
    return _offset_change_between(later_offset, earlier_offset, tz=tz)


def _offset_change_between(before: datetime, after: datetime, *, tz: ZoneInfo) -> datetime:
    """Return the UTC instant in (before, after] at which `tz` changes its UTC offset.

    Binary search to the second; zone transitions always fall on whole seconds.
    """
    base = before.replace(microsecond=0)
    old_offset = base.astimezone(tz).utcoffset()
    second = timedelta(seconds=1)
    low = 0
    high = -(-(after - base) // second)  # ceiling, so base + high is at or after `after`
    while high - low > 1:
        middle = (low + high) // 2
        if (base + middle * second).astimezone(tz).utcoffset() == old_offset:
            low = middle
        else:
            high = middle
    return base + high * second
