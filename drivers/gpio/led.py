"""The status LED: one named blink pattern per situation, readable at a glance."""

from __future__ import annotations

from gpiozero import LED
from gpiozero.pins import Factory

# pattern -> (on seconds, off seconds); (0, 0) is off, (1, 0) is steady on
PATTERNS: dict[str, tuple[float, float]] = {
    "idle": (0.05, 4.95),  # brief blink: alive
    "calling": (0.15, 0.15),  # fast blink: call sent, waiting for the station
    "acknowledged": (0.5, 0.5),  # slow blink: the station has it
    "talking": (1.0, 0.0),  # steady: an officer is on the line
    "fault": (0.1, 0.4),  # e.g. station unreachable
    "off": (0.0, 0.0),
}


class StatusLed:
    def __init__(self, *, pin: int, pin_factory: Factory) -> None:
        self._led = LED(pin, pin_factory=pin_factory)
        self.pattern = "off"
        self.show("idle")

    def show(self, pattern: str) -> None:
        on, off = PATTERNS[pattern]
        self.pattern = pattern
        if on and off:
            self._led.blink(on_time=on, off_time=off)
        elif on:
            self._led.on()
        else:
            self._led.off()

    def close(self) -> None:
        self._led.close()
