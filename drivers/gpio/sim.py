"""Simulated GPIO: drive the mock pins the way a finger or a UPS HAT would."""

from __future__ import annotations

import threading
import time

from gpiozero.pins.mock import MockFactory


class SimPins:
    """Press, hold and release mock pins (buttons are wired active-low with pull-ups)."""

    def __init__(self, factory: MockFactory) -> None:
        self._factory = factory
        self._lock = threading.Lock()

    def press(self, pin: int) -> None:
        self.drive(pin, high=False)

    def release(self, pin: int) -> None:
        self.drive(pin, high=True)

    def click(self, pin: int) -> None:
        self.press(pin)
        self.release(pin)

    def hold(self, pin: int, seconds: float) -> None:
        """Keep the button down; gpiozero's hold timer fires on its own thread meanwhile."""
        self.press(pin)
        time.sleep(seconds)
        self.release(pin)

    def drive(self, pin: int, *, high: bool) -> None:
        with self._lock:
            p = self._factory.pin(pin)
            if high:
                p.drive_high()
            else:
                p.drive_low()

    def level(self, pin: int) -> bool:
        return bool(self._factory.pin(pin).state)
