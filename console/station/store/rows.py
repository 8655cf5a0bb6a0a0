"""The rows the station database gives its readers (the station service and the consoles),
and the codes of the notes on an alarm's timeline (``alarm_log.note``) that the consoles
translate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from console.station.config import Category, Elder
from hub.common.events import AlarmState

CANCELLED_AT_HOME = "cancelled_at_home"  # outcome code of an alarm the elder cancelled
CALL_REQUESTED = "call_requested"  # alarm_log note: a hub rule asked for a voice call
ESCALATED = "escalated"  # alarm_log note: unclaimed past the station's limit
PRESSED_AGAIN = "pressed_again"  # alarm_log note: the elder pressed the call button again
OPEN_STATES = tuple(s.value for s in AlarmState if not s.closed)


@dataclass(frozen=True, slots=True)
class WalkTestRow:
    """One walk-test event: a device the installer worked, or the hub's own (mode, report)."""

    id: str
    hub: str
    kind: str
    source: str
    ts: float  # hub time
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return str(self.data.get("location") or self.data.get("room") or "")


@dataclass(frozen=True, slots=True)
class HomeRow:
    hub: str
    elder: Elder | None
    online: bool
    status_ts: float | None
    last_heartbeat: float | None
    pending: int
    dropped: int
    walktest_until: float | None = None  # station time its walk-test mode ends
    walktest_by: str | None = None
    walktest_last: WalkTestRow | None = None

    def in_walktest(self, now: float) -> bool:
        return self.walktest_until is not None and now < self.walktest_until


@dataclass(frozen=True, slots=True)
class AlarmRow:
    id: str
    hub: str
    kind: str
    priority: int
    contact_id: int
    source: str
    location: str
    state: AlarmState
    raised: float
    received: float
    officer: str | None
    claimed_by: str | None
    claimed: float | None
    closed: float | None
    outcome: str | None
    notes: str | None
    elder: Elder | None
    escalated: float | None = None  # station time it was flagged unclaimed past the limit
    pressed: int = 0  # times the elder pressed again while it was open
    pressed_last: float | None = None  # hub time of the latest

    def order(self, today: date) -> tuple[int, bool, int, bool, int, float]:
        """Queue order: priority, then pressed again before not, then the elder's care group,
        then the elder's age on ``today`` (the oldest first, unknown ages after known ones),
        then when it was raised."""
        rank = self.elder.category.rank if self.elder else len(Category)
        age = self.elder.age_on(today) if self.elder else None
        return (self.priority, not self.pressed, rank, age is None, -(age or 0), self.raised)


@dataclass(frozen=True, slots=True)
class StepRow:
    """A step of the response checklist, stamped when the officer did it."""

    step: str
    ts: float
    officer: str
    note: str


@dataclass(frozen=True, slots=True)
class SensorRow:
    name: str  # the event source: the device's name in hub.yaml
    kind: str  # door, smoke, presence … (the device's type when it said so)
    battery: int | None  # percent, last reported
    last_seen: float  # hub time of its last event
    silent: bool  # supervision reported it silent, and not back since
    room: str = ""  # where hub.yaml puts it: a sensor's room, a button's location
    alarming: bool = False  # a smoke, gas, CO or leak sensor whose last word was "on"


@dataclass(frozen=True, slots=True)
class HomeFigures:
    """What the roster shows of a home's devices (kept with its summary: one query for all)."""

    sensors: int
    silent: int  # of them reported silent, and not back since
    battery: int | None  # the lowest battery reported (percent)
    activity: float | None  # hub time someone last moved, opened a door or pressed


@dataclass(frozen=True, slots=True)
class HomeState:
    """What the home's devices last said, for the elder's card."""

    presence: bool | None  # someone in range; None: no presence sensor has spoken
    presence_since: float | None
    doors: dict[str, tuple[bool, float]]  # name -> (open, hub time)
    last_activity: float | None  # hub time someone last moved, opened a door or pressed
    sensors: list[SensorRow]
    online: bool
    last_heartbeat: float | None
