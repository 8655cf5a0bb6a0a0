"""Notice when the wall clock is stepped (NTP setting a Pi that has no real-time clock, or a
hand-set clock) by comparing it with the monotonic clock, which never jumps.

Timers that measure a duration (the fall question's 30 s, wandering's 15 min, a sensor's
silence limit, escalation) must keep their length across a step; time-of-day deadlines
(check-in by 10:00) follow the new wall clock. The hub shifts the former by the step.
Pure: both clock readings come in as arguments.
"""

from __future__ import annotations

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
