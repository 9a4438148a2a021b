"""Due dates from an agreement: business hours for the first answer, days for the outcome."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

OPENS = time(9, 0)
CLOSES = time(17, 0)
WORKDAYS = frozenset(range(5))  # Monday to Friday


def business_hours_after(start: datetime, hours: int, tz: ZoneInfo) -> datetime:
    """The moment ``hours`` business hours after ``start`` (9:00 to 17:00, Monday to Friday,
    local time).

    Time outside business hours does not count: a referral sent on Friday evening with 16 hours
    to answer is due on Tuesday at 17:00.
    """
    if hours < 0:
        raise ValueError("hours must not be negative")
    local = start.astimezone(tz)
    remaining = timedelta(hours=hours)
    while True:
        day = local.date()
        opens = datetime.combine(day, OPENS, tzinfo=tz)
        closes = datetime.combine(day, CLOSES, tzinfo=tz)
        if day.weekday() in WORKDAYS and local < closes:
            begin = max(local, opens)
            available = closes - begin
            if remaining <= available:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= available
        local = datetime.combine(day + timedelta(days=1), OPENS, tzinfo=tz)
