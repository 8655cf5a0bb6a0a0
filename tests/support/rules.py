"""The shipped rules on a county day, at a given clock time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.common.events import Event
from hub.rules import Engine, RuleSet, load_rules
from tests.conftest import REPO

TZ = ZoneInfo("Asia/Shanghai")


DAY0 = date(2026, 1, 5)


DEFAULTS = load_rules([REPO / "config/rules/default.yaml"])


def at(when: str) -> float:
    """'08:00', '08:00:29' or 'd1 10:00' (the next day) -> epoch seconds."""
    day, _, hms = when.rpartition(" ")
    h, m, *s = (int(x) for x in hms.split(":"))
    d = DAY0 + timedelta(days=int(day[1:]) if day else 0)
    return datetime.combine(d, time(h, m, s[0] if s else 0), tzinfo=TZ).timestamp()


def ev(kind: str, source: str, **data: Any) -> Event:
    return Event(kind=kind, source=source, data=data)


FALL = ev("fall.detected", "radar", room="卫生间")


def engine(rules: RuleSet = DEFAULTS, start: str = "10:30") -> Engine:
    return Engine(rules, now=at(start), category="key", tz=TZ)
