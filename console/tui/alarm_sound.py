"""How an alarm sounds at the desk: the terminal bell always, and a tone pattern per priority
through the console's phone (the headset's speakerphone), so the officer hears how urgent a
new alarm is before looking. The bell rings whatever the headset is: a phone may be a silent
loopback (``--audio loopback``, an SSH session), a headset not worn, or a card gone quiet.

``pattern`` is pure (priority and sample rate in, int16 samples out); ``Ringer`` is the thin
part that plays it and never lets a broken sound card stop the desk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

# priority -> (tone Hz, beep s, gap s, beeps): P1 fast high triple, P2 double, P3 single, P4 low
PATTERNS: dict[int, tuple[float, float, float, int]] = {
    1: (1320.0, 0.12, 0.06, 3), 2: (880.0, 0.18, 0.12, 2), 3: (660.0, 0.3, 0.0, 1),
    4: (440.0, 0.15, 0.0, 1)}
LEVEL = 0.3  # of full scale: audible over a headset without startling
REPEAT_S = 10.0  # an escalated alarm sounds again this often until someone claims it


def pattern(priority: int, rate: int) -> npt.NDArray[np.int16]:
    """The tone pattern of a priority (unknown priorities sound like the lowest)."""
    hz, beep_s, gap_s, beeps = PATTERNS.get(priority, PATTERNS[4])
    t = np.arange(round(beep_s * rate)) / rate
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms fades: no clicks
    beep = np.sin(2 * np.pi * hz * t) * ramp * LEVEL
    gap = np.zeros(round(gap_s * rate))
    parts = [p for _ in range(beeps) for p in (beep, gap)]
    return np.round(np.concatenate(parts) * 32767).astype(np.int16)


@runtime_checkable
class Player(Protocol):
    """What of drivers.audio's Speakerphone plays a clip."""

    @property
    def rate(self) -> int: ...

    def play(self, clip: np.ndarray) -> float: ...


class Ringer:
    """Rings ``bell`` and plays priorities on ``player``, if there is one."""

    def __init__(self, player: object | None, bell: Callable[[], None]) -> None:
        self.player = player if isinstance(player, Player) else None
        self.bell = bell
        self.failures = 0  # plays that raised; counted, the first logged
        self.played: list[int] = []  # priorities sounded, for tests and the status line

    def ring(self, priority: int) -> None:
        self.played.append(priority)
        self.bell()
        if self.player is not None:
            try:
                self.player.play(pattern(priority, self.player.rate))
            except Exception as e:  # a card that went away: the bell has warned
                self.failures += 1
                if self.failures == 1:
                    log.warning("alarm tone could not play (%s); the terminal bell still rings", e)
