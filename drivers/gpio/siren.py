"""The home's siren or buzzer, with the standard alarm-signal cadences.

Temporal-three (fire: smoke) and temporal-four (CO, gas) follow NFPA 72 §18.4.2 / ISO 8201
so a neighbour hears which alarm it is; ``panic`` is steady; ``chirp`` is a short reminder
(e.g. the station has not answered yet). Patterns run on gpiozero's background source
thread, so ``sound()`` returns at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import cycle

from gpiozero import Buzzer
from gpiozero.pins import Factory

STEP_S = 0.1  # pattern resolution
# pattern -> one cycle of on/off states, one per STEP_S
PATTERNS: dict[str, tuple[int, ...]] = {
    # T3: 0.5 s on, 0.5 s off, three times, then 1.5 s off (4 s cycle)
    "fire": (1,) * 5 + (0,) * 5 + (1,) * 5 + (0,) * 5 + (1,) * 5 + (0,) * 15,
    # T4: 0.1 s on, 0.1 s off, four times, then 5 s off
    "co": (1, 0) * 4 + (0,) * 50,
    "panic": (1,),
    "chirp": (1,) + (0,) * 99,  # one 0.1 s beep every 10 s
}


class Siren:
    def __init__(self, *, pin: int, pin_factory: Factory, active_high: bool = True) -> None:
        self._buzzer = Buzzer(pin, active_high=active_high, pin_factory=pin_factory)
        self._buzzer.source_delay = STEP_S
        self.pattern: str | None = None  # what is sounding now; None when silent

    def sound(self, pattern: str) -> None:
        if pattern not in PATTERNS:
            raise ValueError(f"unknown siren pattern {pattern!r}; known: {', '.join(PATTERNS)}")
        if pattern != self.pattern:
            self.pattern = pattern
            self._buzzer.source = _states(pattern)

    def silence(self) -> None:
        self.pattern = None
        self._buzzer.source = None
        self._buzzer.off()

    @property
    def is_on(self) -> bool:
        return bool(self._buzzer.value)

    def close(self) -> None:
        self._buzzer.close()


def _states(pattern: str) -> Iterator[int]:
    return cycle(PATTERNS[pattern])
