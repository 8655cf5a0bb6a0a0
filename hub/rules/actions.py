"""What the rule engine asks the hub service to do. Plain values: the engine never does I/O.

``Say`` and ``ShowLed`` are the alarm-feedback actions of :mod:`hub.rules.feedback`, reused so the hub
has one way to speak and light the LED.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.common.events import Event, Priority
from hub.rules.feedback import Say, ShowLed


@dataclass(frozen=True, slots=True)
class RaiseAlarm:
    """Persist this alarm, then send it; a held one waits for SendAlarm or CancelAlarm.

    ``event`` is the alarm as it goes on the wire: its id is the alarm's id, its kind and source
    are its trigger's (``timer.absence`` / ``timer.daily`` from ``hub`` when a timer raised it),
    ``alarm`` is the ALARM_TYPES key and ``data`` holds the trigger's data plus ``rule``,
    ``trigger_id`` and the rule's ``text`` for the duty officer.
    """

    event: Event
    rule: str
    priority: Priority  # ALARM_TYPES' unless the rule overrides it
    contact_id: int  # likewise
    hold: bool = False  # pre-alarm: raised and persisted now, sent when its window runs out


@dataclass(frozen=True, slots=True)
class SendAlarm:
    """A held alarm's window ran out without a cancel: send it to the station now."""

    alarm_id: str
    rule: str


@dataclass(frozen=True, slots=True)
class CancelAlarm:
    """The home cancelled this alarm inside its rule's window; the station must still see it, cancelled."""

    alarm_id: str
    rule: str
    cause: Event | None  # the event that ended the window; None when the state at its end did


@dataclass(frozen=True, slots=True)
class Siren:
    pattern: str | None  # a drivers.gpio.siren.PATTERNS name; None silences the siren


@dataclass(frozen=True, slots=True)
class Relay:
    name: str  # the relay's name in hub.yaml, e.g. gas_valve
    energise: bool


@dataclass(frozen=True, slots=True)
class OpenCall:
    """Open a voice call to the station (announced with a tone and prompt first, as design.md asks)."""

    alarm_id: str | None  # the alarm raised just before it by the same rule, if any


RuleAction = Say | ShowLed | RaiseAlarm | SendAlarm | CancelAlarm | Siren | Relay | OpenCall

__all__ = ["CancelAlarm", "OpenCall", "RaiseAlarm", "Relay", "RuleAction", "Say", "SendAlarm",
           "ShowLed", "Siren"]
