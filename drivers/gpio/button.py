"""A call button or pull cord: a press raises a call.

gpiozero calls back on its own thread; the callbacks here only stamp the time and hand
over, so no edge is missed while the hub works.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gpiozero import Button
from gpiozero.pins import Factory

OnEdge = Callable[[str, float], None]  # (button name, wall-clock time of the edge)


class CallButton:
    def __init__(
        self, *, name: str, pin: int, pin_factory: Factory, on_press: OnEdge,
        bounce_s: float | None = 0.05,
    ) -> None:
        self.name = name
        self._button = Button(pin, pull_up=True, bounce_time=bounce_s, pin_factory=pin_factory)
        self._button.when_pressed = lambda: on_press(name, time.time())

    @property
    def pressed(self) -> bool:
        return bool(self._button.is_pressed)

    def close(self) -> None:
        self._button.close()

    def __enter__(self) -> CallButton:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
