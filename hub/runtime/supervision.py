"""Silence supervision of wireless sensors: pure, a clock in, changes out.

A sensor that has said nothing for its limit is reported once as silent, and once as back
when it is heard again. The hub's loop asks ``next_deadline()`` and sleeps until then, so
no polling timer runs per sensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Watch:
    limit_s: float
    last: float  # when it was last heard (or supervision started)
    silent: bool = False


@dataclass(slots=True)
class Supervisor:
    _watches: dict[str, _Watch] = field(default_factory=dict)

    def watch(self, device: str, limit_s: float, now: float) -> None:
        """Supervise ``device``; a limit of 0 means it is not supervised."""
        if limit_s > 0:
            self._watches[device] = _Watch(limit_s, now)

    def heard(self, device: str, now: float) -> bool:
        """Note a valid message; True if the device had been reported silent."""
        w = self._watches.get(device)
        if w is None:
            return False
        w.last = now
        was_silent, w.silent = w.silent, False
        return was_silent

    def due(self, now: float) -> list[tuple[str, float]]:
        """Devices that have just gone silent, with how long they have been quiet."""
        out = []
        for name, w in self._watches.items():
            if not w.silent and now - w.last >= w.limit_s:
                w.silent = True
                out.append((name, now - w.last))
        return out

    def clock_jumped(self, step: float) -> None:
        """The wall clock was stepped: silence is measured in real time, not across the step."""
        for w in self._watches.values():
            w.last += step

    def next_deadline(self) -> float | None:
        pending = [w.last + w.limit_s for w in self._watches.values() if not w.silent]
        return min(pending, default=None)
