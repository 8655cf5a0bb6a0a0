"""Local time of day over epoch seconds: windows such as 22:00-06:00, daily deadlines, daytime hours.

Rules speak local time (the elder's day); the engine is fed epoch seconds from an injected clock,
so everything here takes the time zone explicitly and never reads the system clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple

DAY = 86400


class Hours(NamedTuple):
    """A daily window [start, end) in seconds of the local day; end <= start crosses midnight."""

    start: int
    end: int

    def __contains__(self, second_of_day: object) -> bool:
        if not isinstance(second_of_day, int | float):
            return False
        if self.start < self.end:
            return self.start <= second_of_day < self.end
        return second_of_day >= self.start or second_of_day < self.end

    @property
    def length(self) -> int:
        return (self.end - self.start) % DAY


def second_of_day(t: float, tz: tzinfo) -> float:
    d = datetime.fromtimestamp(t, tz)
    return d.hour * 3600 + d.minute * 60 + d.second + d.microsecond / 1e6


def _at(day: date, second: int, tz: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, second // 3600, second // 60 % 60, second % 60,
                    tzinfo=tz).timestamp()


def next_at(t: float, second: int, tz: tzinfo) -> float:
    """The first moment strictly after ``t`` when the local clock shows ``second`` of the day."""
    day = datetime.fromtimestamp(t, tz).date()
    at = _at(day, second, tz)
    return at if at > t else _at(day + timedelta(days=1), second, tz)


def last_at(t: float, second: int, tz: tzinfo) -> float:
    """The latest moment at or before ``t`` when the local clock showed ``second`` of the day."""
    day = datetime.fromtimestamp(t, tz).date()
    at = _at(day, second, tz)
    return at if at <= t else _at(day - timedelta(days=1), second, tz)


def advance(t: float, seconds: float, hours: Hours | None, tz: tzinfo) -> float:
    """When ``seconds`` of time inside ``hours`` (all day if None) will have passed since ``t``.

    "No activity for 4 daytime hours" counts only the daytime: the night does not use it up.
    """
    if hours is None:
        return t + seconds
    local = datetime.fromtimestamp(t, tz)
    sod = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    crosses = hours.end <= hours.start
    day = local.date() - timedelta(days=1) if crosses and sod < hours.end else local.date()
    start = t if sod in hours else max(t, _at(day, hours.start, tz))  # the first window's start
    while True:
        end = _at(day + timedelta(days=1) if crosses else day, hours.end, tz)
        if end > start:
            if end - start >= seconds:
                return start + seconds
            seconds -= end - start
        day += timedelta(days=1)
        start = _at(day, hours.start, tz)
