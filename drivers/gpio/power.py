"""Mains power-good input from a UPS HAT: the hub runs on battery when it drops.

The HAT's signal is debounced in gpiozero (brown-outs flicker) and each change is handed
over with its wall-clock time; the hub decides how long to wait before reporting it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gpiozero import DigitalInputDevice
from gpiozero.pins import Factory

OnPower = Callable[[bool, float], None]  # (mains present, wall-clock time)


class PowerGood:
    def __init__(self, *, pin: int, pin_factory: Factory, on_change: OnPower,
                 active_high: bool = True, bounce_s: float = 0.2) -> None:
        self._in = DigitalInputDevice(pin, pull_up=None, active_state=active_high,
                                      bounce_time=bounce_s, pin_factory=pin_factory)
        self._in.when_activated = lambda: on_change(True, time.time())
        self._in.when_deactivated = lambda: on_change(False, time.time())

    @property
    def ok(self) -> bool:
        return bool(self._in.is_active)

    def close(self) -> None:
        self._in.close()
