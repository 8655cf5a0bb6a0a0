"""The rows casework works on: visits, follow-ups and alarms, as the store will hand them over.

Plain frozen dataclasses, not database rows, so the schedule and the ledger can be computed and
tested without a database, and the store is free to keep them however it likes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from console.casework.county import CountyRules
from console.casework.elder import Category
from console.casework.problem import Problem


@dataclass(frozen=True, slots=True)
class VisitRecord:
    elder: str  # how the caller keys elders: the hub id
    name: str
    category: Category  # the elder's group on the day of the visit
    day: date
    mode: str  # a mode key of the county rules
    by: str  # who visited
    contents: tuple[str, ...] = ()  # content keys covered, in the rules' order
    reached: bool = True  # False: tried (nobody answered the phone): recorded, not counted as a visit
    notes: str = ""
    id: str = ""  # the store's reference ("" before it is stored)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Something a visit found that someone must act on (a hazard to fix, a benefit to apply for)."""

    elder: str
    name: str
    content: str  # the content key it came from
    text: str
    opened: date
    closed: date | None = None
    id: str = ""  # the store's reference, for closing it ("" before it is stored)
    visit: str = ""  # id of the visit that found it

    def open_on(self, day: date) -> bool:
        return self.opened <= day and (self.closed is None or self.closed > day)


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    """A responder the officer sent to an alarm, and when they got there."""

    kind: str  # grid_worker, key_holder, volunteer, family, 120, 119
    name: str
    dispatched: float  # station time, epoch s
    promise_s: float  # the county's promise: on site within this
    arrived: float | None = None

    @property
    def within_promise(self) -> bool:
        return self.arrived is not None and self.arrived - self.dispatched <= self.promise_s


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    id: str
    hub: str
    name: str  # the elder's name; "" for a hub without a record
    category: Category | None  # the elder's group when the alarm came, not today's
    kind: str  # an ALARM_TYPES key
    received: float  # when the station stored it, epoch s: the answer clock starts here, and
    # it files the alarm under a month
    claimed: float | None = None
    closed: float | None = None  # resolved or cancelled
    outcome: str | None = None
    officer: str = ""
    notes: str = ""  # the officer's notes at resolving
    raised: float | None = None  # hub time it was raised (a fall: detected; then held 30 s)
    # people told outside the station (docs/notify.md)
    sent: int = 0  # messages the channels took
    failed: int = 0  # messages given up on
    accepted: float | None = None  # when someone told first accepted
    dispatches: tuple[DispatchRecord, ...] = ()  # in the order sent


def visit_problems(visit: VisitRecord, rules: CountyRules, today: date) -> list[Problem]:
    """What is wrong with a visit before it is saved; empty when it can be."""
    problems = []
    if visit.day > today:
        problems.append(Problem("future_day", f"visit date {visit.day} is in the future",
                                day=str(visit.day)))
    modes = [m.key for m in rules.visits.modes]
    if visit.mode not in modes:
        problems.append(Problem("unknown_mode", f"unknown visit mode {visit.mode!r} (modes: "
                                f"{', '.join(modes)})", mode=visit.mode))
    contents = [c.key for c in rules.visits.contents]
    if bad := [c for c in visit.contents if c not in contents]:
        problems.append(Problem("unknown_content", f"unknown visit content {', '.join(bad)} "
                                f"(contents: {', '.join(contents)})", contents=", ".join(bad)))
    if not visit.by.strip():
        problems.append(Problem("no_visitor", "who visited is missing"))
    if visit.reached and not visit.contents:
        problems.append(Problem("no_content", "a visit that reached the elder covers at least "
                                "one content item"))
    return problems
