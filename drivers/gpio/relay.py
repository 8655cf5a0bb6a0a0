"""A relay output, e.g. the gas shut-off valve.

``active_high`` matches the relay board (many cheap boards are active-low); ``energised``
is the relay's state, so the hub config says what energised means for the valve.
"""

from __future__ import annotations

from gpiozero import DigitalOutputDevice
from gpiozero.pins import Factory


class Relay:
    def __init__(self, *, name: str, pin: int, pin_factory: Factory, active_high: bool = True) -> None:
        self.name = name
        self._out = DigitalOutputDevice(pin, active_high=active_high, initial_value=False,
                                        pin_factory=pin_factory)

    @property
    def energised(self) -> bool:
        return bool(self._out.value)

    def set(self, energised: bool) -> None:
        self._out.value = energised

    def close(self) -> None:
        self._out.close()
