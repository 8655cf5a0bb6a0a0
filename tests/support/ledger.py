"""Alarms and a month of records for the ledger's tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

from console.casework.records import AlarmRecord
from console.station.config import Category

CST = timezone(timedelta(hours=8))

K = Category.KEY


def ts(text: str, tz: tzinfo = CST) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def alarm(n: int, kind: str, raised: str, wait: float | None, outcome: str | None = "safe_by_phone",
          closed_after: float | None = 300, *, tz: tzinfo = CST, notes: str = "") -> AlarmRecord:
    """王秀英's alarm ``a<n>`` received at local time ``raised``, claimed ``wait`` s later; a
    fall was raised at the home 30 s before (held while the elder was asked), others at once."""
    t = ts(raised, tz)
    return AlarmRecord(f"a{n}", "h001", "王秀英", K, kind, t, None if wait is None else t + wait,
                       None if closed_after is None else t + closed_after, outcome, "演示主管", notes,
                       raised=t - 30 if kind == "fall" else t)


WAITS = [5, 10, 20, 30, 40, 50, 55, 59, 70, 200]
