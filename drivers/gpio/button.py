"""A push button or pull cord: call buttons, the cancel button, a check-in button.

gpiozero calls back on its own thread; the callbacks here only stamp the time and hand
over, so no edge is missed while the hub works. What a press means (call, cancel) is the
hub's business, not the button's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gpiozero import Button
from gpiozero.pins import Factory

OnEdge = Callable[[str, float], None]  # (button name, wall-clock time of the edge)


class PushButton:
    """Wired to ground with the pull-up on; ``on_hold`` fires once when held ``hold_s``;
    ``on_release`` lets the hub tell a short press from a hold after the fact."""

    def __init__(
        self, *, name: str, pin: int, pin_factory: Factory, on_press: OnEdge,
        on_hold: OnEdge | None = None, on_release: OnEdge | None = None, hold_s: float = 3.0,
        bounce_s: float | None = 0.05,
    ) -> None:
        self.name = name
        self._button = Button(pin, pull_up=True, bounce_time=bounce_s, hold_time=hold_s,
                              pin_factory=pin_factory)
        self._button.when_pressed = lambda: on_press(name, time.time())
        if on_hold:
            self._button.when_held = lambda: on_hold(name, time.time())
        if on_release:
            self._button.when_released = lambda: on_release(name, time.time())

    @property
    def pressed(self) -> bool:
        return bool(self._button.is_pressed)

    def close(self) -> None:
        self._button.close()

    def __enter__(self) -> PushButton:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
