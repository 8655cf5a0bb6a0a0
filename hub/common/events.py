"""The one event model that flows drivers -> rules -> link -> station -> console.

Kinds are dotted strings (``button.press``); alarm kinds carry a priority and an Ademco
Contact ID code so the station can later forward to standard alarm receivers.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class Priority(IntEnum):
    """Lower is more urgent (design.md, "Priorities and codes")."""

    LIFE = 1  # panic, fall, smoke, gas, CO
    WELLBEING = 2  # wandering, inactivity, missed check-in
    TECHNICAL = 3  # hub offline, sensor silent, low battery, mains fail
    INFO = 4  # walk tests, visits


@dataclass(frozen=True, slots=True)
class AlarmType:
    """What an alarm kind means to the station: urgency and its Contact ID code."""

    kind: str
    priority: Priority
    contact_id: int


ALARM_TYPES: dict[str, AlarmType] = {
    t.kind: t
    for t in (
        AlarmType("panic", Priority.LIFE, 101),
        AlarmType("fall", Priority.LIFE, 100),
        AlarmType("smoke", Priority.LIFE, 111),
        AlarmType("gas", Priority.LIFE, 151),
        AlarmType("co", Priority.LIFE, 162),
        AlarmType("leak", Priority.WELLBEING, 154),  # water leakage
        AlarmType("wandering", Priority.WELLBEING, 641),
        AlarmType("inactivity", Priority.WELLBEING, 641),
        AlarmType("checkin_missed", Priority.WELLBEING, 641),
        AlarmType("mains_fail", Priority.TECHNICAL, 301),
        AlarmType("battery_low", Priority.TECHNICAL, 384),
        AlarmType("sensor_silent", Priority.TECHNICAL, 381),
        AlarmType("tamper", Priority.TECHNICAL, 383),  # sensor tamper: a cover opened
        AlarmType("hub_offline", Priority.TECHNICAL, 381),
        AlarmType("hub_fault", Priority.TECHNICAL, 300),  # system trouble, e.g. a damaged outbox
        AlarmType("walktest", Priority.INFO, 601),
    )
}


CANCEL_KIND = "alarm.cancel"  # event kind that ends an alarm from the home; data.ref names it
# Alarm kinds raised by the elder asking for help: the officer's call on one is its answer
# (officer_on_line, then the microphone opens). Every other call is announced first (chime
# and visit_call), so the microphone never opens unannounced.
ELDER_CALLS = frozenset({"panic"})
FALLBACK_KIND = "notify.fallback"  # the hub texted the contacts itself (hub/runtime/fallback.py)
WALKTEST = "walktest"  # alarm kind of walk-test events: a record at the station, never an alarm


class AlarmState(StrEnum):
    """The alarm lifecycle of design.md, in order; CANCELLED can end it from any open state."""

    RAISED = "raised"
    SENT = "sent"
    DELIVERED = "delivered"
    CLAIMED = "claimed"
    IN_CALL = "in_call"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"

    @property
    def closed(self) -> bool:
        return self in (AlarmState.RESOLVED, AlarmState.CANCELLED)

    def may_become(self, new: AlarmState) -> bool:
        """Lifecycle steps only move forward; late or repeated updates are ignored."""
        if self.closed:
            return False
        return new is AlarmState.CANCELLED or _ORDER.index(new) > _ORDER.index(self)


_ORDER: tuple[AlarmState, ...] = tuple(AlarmState)


def new_id() -> str:
    """A globally unique id; the station de-duplicates deliveries by it."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at a home, stamped where and when it happened.

    ``alarm`` is set when the event raises (or, for ``alarm.cancel``, ends) an alarm; then
    ``id`` of the raising event is the alarm's id everywhere.
    """

    kind: str
    source: str  # device name in the hub config, e.g. "bedside"
    ts: float = field(default_factory=time.time)  # wall clock at the hub, seconds
    id: str = field(default_factory=new_id)
    alarm: str | None = None  # alarm kind (ALARM_TYPES key) if this event is an alarm
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def alarm_type(self) -> AlarmType | None:
        return ALARM_TYPES.get(self.alarm) if self.alarm else None
