"""Notice when the wall clock is stepped (NTP setting a Pi that has no real-time clock, or a
hand-set clock) by comparing it with the monotonic clock, which never jumps.

Timers that measure a duration (the fall question's 30 s, wandering's 15 min, a sensor's
silence limit, escalation) must keep their length across a step; time-of-day deadlines
(check-in by 10:00) follow the new wall clock. The hub shifts the former by the step.
:class:`JumpDetector` is pure (both clock readings come in as arguments); :class:`Clock` is
the hub's reading of the real clocks through it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

JUMP_TOLERANCE_S = 2.0  # smaller differences are scheduling jitter or NTP slewing


class JumpDetector:
    def __init__(self, wall: float, mono: float, tolerance: float = JUMP_TOLERANCE_S) -> None:
        self._offset = wall - mono  # constant while the wall clock runs freely
        self._tolerance = tolerance
        self.total = 0.0  # the sum of every step seen

    def check(self, wall: float, mono: float) -> float:
        """The step since the last check (seconds, negative: backwards), or 0.0."""
        step = (wall - mono) - self._offset
        if abs(step) < self._tolerance:
            return 0.0
        self._offset += step
        self.total += step
        return step


class Clock:
    """The hub's wall clock, watched for steps: after one, each of ``on_step`` shifts its
    duration timers by it. ``steps`` sums the steps seen, so a time read earlier can be put
    on the clock as it reads now (:meth:`moved`)."""

    def __init__(self) -> None:
        self._jumps = JumpDetector(time.time(), time.monotonic())
        self.on_step: list[Callable[[float], object]] = []

    def now(self) -> float:
        """Wall-clock time, after shifting the duration timers if the clock was stepped."""
        now = time.time()
        if step := self._jumps.check(now, time.monotonic()):
            log.warning("the wall clock was stepped by %+.1f s; timers keep their lengths", step)
            for shift in self.on_step:
                shift(step)
        return now

    @property
    def steps(self) -> float:
        """The steps seen by the latest :meth:`now`."""
        return self._jumps.total

    def moved(self, t: float, steps_then: float | None) -> float:
        """``t``, read when ``steps_then`` steps had been seen, on the clock as it reads now,
        so its age is a real duration (None: from before this start)."""
        return t + self._jumps.total - (steps_then or 0.0)
