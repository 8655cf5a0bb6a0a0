"""When each elder is next due a visit, and the day's due and overdue lists.

A visit is due ``cadence_days`` of the elder's group after the last visit that reached them;
inside a boost period it comes sooner (the interval divided, or one visit within the period).
Where the rules ask for home visits (入户) at least every N days, a home visit falls due on its
own clock and satisfies both. A new elder is due a visit on the day they joined. "Due on D"
means by the end of D: the visit is overdue from D + 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from console.casework.county import CountyRules, Period
from console.casework.elder import Category
from console.casework.records import VisitRecord


class Need(StrEnum):
    VISIT = "visit"  # any mode will do
    HOME = "home"  # a home visit


@dataclass(frozen=True, slots=True)
class History:
    elder: str
    category: Category
    since: date  # joined the programme: the first visit is due that day
    last_visit: date | None = None  # last visit that reached the elder, any mode
    last_home_visit: date | None = None


@dataclass(frozen=True, slots=True)
class Due:
    elder: str
    category: Category
    due: date  # the next visit, whatever kind, is due by the end of this day
    need: Need  # a home visit is due by then too (or earlier): make it one
    boost: str | None = None  # the boost that brought the visit forward

    def days_overdue(self, today: date) -> int:
        return max(0, (today - self.due).days)


@dataclass(frozen=True, slots=True)
class Agenda:
    overdue: list[Due]  # most overdue first, then the more urgent group
    due: list[Due]  # due today (or within the horizon), soonest first


def next_due(h: History, rules: CountyRules, periods: Sequence[Period] = (), *,
             by: date | None = None) -> Due:
    """The next visit for one elder; ``periods`` are added to the rules' own (declared
    extreme-weather days). It is a home visit when one falls due by ``by`` (default: by the
    day the next visit is due)."""
    cadence = rules.visits.cadence_days.days(h.category)
    due, boost = h.since, None
    if h.last_visit is not None:
        due = h.last_visit + timedelta(days=cadence)
        for p in (*rules.visits.periods, *periods):
            b = rules.boost(p.boost)
            if h.category not in b.groups:
                continue
            sooner = []
            if b.divide > 1:
                sooner.append(max(h.last_visit + timedelta(days=b.interval(cadence)), p.start))
            if b.extra_visit and h.last_visit < p.start:
                sooner.append(p.start)
            for day in sooner:
                if day <= p.end and day < due:
                    due, boost = day, b.key
    home_days = rules.visits.home_visit_days.days(h.category)
    if home_days is not None:
        home = h.since if h.last_home_visit is None else h.last_home_visit + timedelta(days=home_days)
        if home <= due:
            return Due(h.elder, h.category, home, Need.HOME)
        if by is not None and home <= by:
            return Due(h.elder, h.category, due, Need.HOME, boost)
    return Due(h.elder, h.category, due, Need.VISIT, boost)


def agenda(histories: Iterable[History], rules: CountyRules, today: date, *,
           periods: Sequence[Period] = (), horizon_days: int = 0) -> Agenda:
    """Overdue visits, most overdue first, and visits due from today to today + horizon."""
    overdue, due = [], []
    last = today + timedelta(days=horizon_days)
    for h in histories:
        d = next_due(h, rules, periods, by=last)
        if d.due < today:
            overdue.append(d)
        elif d.due <= last:
            due.append(d)
    return Agenda(sorted(overdue, key=_order), sorted(due, key=_order))


def _order(d: Due) -> tuple[date, int, str]:
    return d.due, d.category.rank, d.elder


def histories(groups: dict[str, tuple[Category, date]], visits: Iterable[VisitRecord],
              rules: CountyRules) -> list[History]:
    """Each elder's history from their group and join date, and the visits recorded."""
    home_modes = {m.key for m in rules.visits.modes if m.home}
    last: dict[str, date] = {}
    last_home: dict[str, date] = {}
    for v in visits:
        if not v.reached:
            continue
        if v.day > last.get(v.elder, date.min):
            last[v.elder] = v.day
        if v.mode in home_modes and v.day > last_home.get(v.elder, date.min):
            last_home[v.elder] = v.day
    return [History(e, cat, since, last.get(e), last_home.get(e)) for e, (cat, since) in groups.items()]
