"""The home's current state as rules see it, kept from state events (docs/events.md).

Drivers send state events only on change, so "is the door open" cannot be read off the latest
event: it is the set of devices whose last word on that state was "on". A flag is true while
any device holds it.
"""

from __future__ import annotations

from hub.common.events import Event

# event kind -> (flag, on); door.open from a window sensor sets window_open instead of door_open
FLAGS: dict[str, tuple[str, bool]] = {
    "presence.on": ("presence", True), "presence.off": ("presence", False),
    "residency.on": ("residency", True), "residency.off": ("residency", False),
    "motion.active": ("motion", True), "motion.still": ("motion", False), "motion.none": ("motion", False),
    "fall.detected": ("fall", True), "fall.cleared": ("fall", False),
    "smoke.on": ("smoke", True), "smoke.off": ("smoke", False),
    "gas.on": ("gas", True), "gas.off": ("gas", False),
    "co.on": ("co", True), "co.off": ("co", False),
    "leak.on": ("leak", True), "leak.off": ("leak", False),
    "tamper.on": ("tamper", True), "tamper.off": ("tamper", False),
    "door.open": ("door_open", True), "door.close": ("door_open", False),
    "mains.fail": ("mains_fail", True), "mains.ok": ("mains_fail", False),
    "battery.low": ("battery_low", True), "battery.ok": ("battery_low", False),
    "device.silent": ("device_silent", True), "device.back": ("device_silent", False),
    "device.lost": ("device_lost", True), "device.found": ("device_lost", False),
}
STATE_NAMES: frozenset[str] = frozenset({flag for flag, _ in FLAGS.values()} | {"window_open"})
SEEN = ("presence", "motion", "residency")  # flags that mean someone is seen indoors


class HomeState:
    """Which devices hold each flag now, and when each flag was last let go."""

    def __init__(self) -> None:
        self._on: dict[str, set[str]] = {name: set() for name in STATE_NAMES}
        self._freed: dict[str, float] = {}  # flag -> hub time its last holder let it go

    def apply(self, ev: Event) -> None:
        change = FLAGS.get(ev.kind)
        if change is None:
            return
        flag, on = change
        if flag == "door_open" and ev.data.get("type") == "window":
            flag = "window_open"
        if on:
            self._on[flag].add(ev.source)
        elif ev.source in self._on[flag]:
            self._on[flag].discard(ev.source)
            if not self._on[flag]:
                self._freed[flag] = ev.ts

    def __getitem__(self, flag: str) -> bool:
        return bool(self._on[flag])

    def last_seen(self, now: float) -> float | None:
        """When someone was last seen indoors (presence, motion or residency): ``now`` while a
        sensor still sees them, else when the last one stopped; None if none has since start.
        What searchers need beside the door's opening when an elder has wandered."""
        if any(self[f] for f in SEEN):
            return now
        return max((self._freed[f] for f in SEEN if f in self._freed), default=None)
