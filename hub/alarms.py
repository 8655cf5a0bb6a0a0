"""What the home does at each step of an alarm's lifecycle: a prompt and an LED pattern.

Pure: a lifecycle step in, actions out. The service applies them to the speaker and LED.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.events import AlarmState


@dataclass(frozen=True, slots=True)
class Say:
    prompt: str  # key in hub.prompts.PROMPTS


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
