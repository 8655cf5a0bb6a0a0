"""Simulated GPIO: drive the mock pins the way a finger on the button would."""

from __future__ import annotations

import threading

from gpiozero.pins.mock import MockFactory


class SimPins:
    """Press and release mock pins (buttons are wired active-low with pull-ups)."""

    def __init__(self, factory: MockFactory) -> None:
        self._factory = factory
        self._lock = threading.Lock()

    def press(self, pin: int) -> None:
        with self._lock:
            self._factory.pin(pin).drive_low()

    def release(self, pin: int) -> None:
        with self._lock:
            self._factory.pin(pin).drive_high()

    def click(self, pin: int) -> None:
        self.press(pin)
        self.release(pin)

    def level(self, pin: int) -> bool:
        return bool(self._factory.pin(pin).state)
