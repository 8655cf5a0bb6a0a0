"""What the home does at each step of an alarm's lifecycle: a prompt and an LED pattern.

Pure: a lifecycle step (or the elder's gesture, or the clock) in, actions out. The hub
applies them to the speaker and LED (:mod:`hub.runtime.indicators`). Whatever the elder does
about a call is answered: a press again, a cancel too late, a long wait for an officer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.common.events import ALARM_TYPES, AlarmState, Priority

# what the elder may cancel: their own calls and well-being checks, never a hazard
CANCELLABLE = frozenset({"panic", "fall", "wandering", "inactivity", "checkin_missed"})
WAITING = (AlarmState.SENT, AlarmState.DELIVERED)  # on its way, no officer has taken it yet
TAKEN = (AlarmState.CLAIMED, AlarmState.IN_CALL)


@dataclass(frozen=True, slots=True)
class Say:
    prompt: str  # key in hub.voice.prompts.PROMPTS


@dataclass(frozen=True, slots=True)
class ShowLed:
    pattern: str  # a pattern name of drivers.gpio.led.PATTERNS


Action = Say | ShowLed

_FEEDBACK: dict[AlarmState, tuple[str | None, str]] = {
    AlarmState.SENT: ("call_sent", "calling"),
    AlarmState.DELIVERED: ("station_has_it", "acknowledged"),
    AlarmState.CLAIMED: ("officer_claimed", "talking"),  # officer_on_line: when the call opens
    AlarmState.IN_CALL: (None, "talking"),
    AlarmState.RESOLVED: ("resolved", "idle"),
    AlarmState.CANCELLED: ("cancelled", "idle"),
}


def feedback(state: AlarmState, others_open: bool = False) -> list[Action]:
    """Actions for a step; a closed alarm leaves the LED alone while another is still open."""
    prompt, pattern = _FEEDBACK.get(state, (None, ""))
    actions: list[Action] = [Say(prompt)] if prompt else []
    if pattern and not (state.closed and others_open):
        actions.append(ShowLed(pattern))
    return actions


def elder_facing(kind: str) -> bool:
    """Life and well-being alarms are the elder's; technical ones are the station's business."""
    t = ALARM_TYPES.get(kind)
    return t is not None and t.priority <= Priority.WELLBEING


def reassured(kind: str) -> bool:
    """Life alarms: someone is waiting for help, so a long wait is broken by ``please_wait``.
    Well-being alarms are the station's check on the elder, who may be out or asleep."""
    t = ALARM_TYPES.get(kind)
    return t is not None and t.priority is Priority.LIFE


_AGAIN: dict[AlarmState, str] = {
    AlarmState.SENT: "still_trying",
    AlarmState.DELIVERED: "pressed_again",
    AlarmState.CLAIMED: "officer_claimed",
}


def pressed_again(state: AlarmState) -> list[Action]:
    """A call button pressed again while the call is open: where it stands, at once. In a
    call nothing is said: the officer hears the elder, and a prompt would talk over them."""
    prompt = _AGAIN.get(state)
    return [Say(prompt)] if prompt else []


@dataclass(frozen=True, slots=True)
class Standing:
    """An open alarm as the elder's cancel gesture sees it."""

    id: str
    kind: str
    state: AlarmState
    raised: float  # on the clock as it reads now (moved by any clock step since)


def cancel_gesture(alarms: Sequence[Standing], *, at: float, pressed: float,
                   window_s: float) -> tuple[list[str], list[Action]]:
    """The elder's cancel gesture at ``at``, its press down at ``pressed``: the alarms it
    cancels (their own calls, raised within ``window_s`` before ``at`` and before the press,
    that no officer has taken), or else why it cancels nothing. An alarm raised by the
    gesture's own press is not cancelled, and not mentioned: the elder held the call button."""
    victims = [a.id for a in alarms if a.kind in CANCELLABLE and a.state in WAITING
               and at - window_s <= a.raised < pressed]
    if victims:
        return victims, []
    if any(a.state in TAKEN for a in alarms):
        return [], [Say("cancel_too_late")]
    if any(elder_facing(a.kind) and a.state in WAITING and a.raised < pressed for a in alarms):
        return [], [Say("cannot_cancel")]  # too late, or a hazard: the station will call
    return [], []


class Reassurance:
    """When to tell an elder whose call waits for an officer that the station is on it.

    Pure, on a monotonic clock (a stepped wall clock must not shorten or stretch a wait). A
    call waits from its delivery until an officer takes it or it closes; ``please_wait`` comes
    ``every_s`` after the last thing the elder heard about it, once for all the home's calls.
    """

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s  # 0: never
        self._waiting: set[str] = set()
        self._next: float | None = None  # when please_wait is next due

    def waiting(self, alarm: str, now: float) -> None:
        """The station has this call and the elder has just been told so."""
        self._waiting.add(alarm)
        self.told(now)

    def told(self, now: float) -> None:
        """The elder has just heard about their waiting calls: the next reassurance is a full
        interval away."""
        if self._waiting and self.every_s > 0:
            self._next = now + self.every_s

    def done(self, alarm: str) -> None:
        """Taken by an officer, in a call, or closed: no more waiting on it."""
        self._waiting.discard(alarm)
        if not self._waiting:
            self._next = None

    def next_deadline(self) -> float | None:
        return self._next

    def tick(self, now: float) -> list[Action]:
        if self._next is None or now < self._next:
            return []
        self.told(now)  # from now, not from when it was due: a late wake-up says it once
        return [Say("please_wait")]
