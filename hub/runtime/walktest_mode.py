"""Walk-test mode on the hub: while an installer tests the home's devices, what they do is a
walk-test event for the station, not an alarm.

Pure: events and clock readings in; the walk-test events to send and whether to tell the
installer out. :mod:`hub.runtime.walktest_session` carries it out: device events come here
while the mode is on; the control socket (hub/runtime/control.py) starts and stops it and
reads what was seen. The mode
ends by itself after its time (monotonic, so a clock step neither shortens nor stretches it).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from hub.common.events import WALKTEST, Event

# event senses an installer's test makes (docs/events.md); supervision (device.*), battery
# and hub.* events keep their normal path, since they report the equipment's real health
TEST_SENSES = frozenset({"button", "cancel", "fall", "presence", "motion", "residency", "smoke",
                         "gas", "co", "leak", "door", "tamper", "mains"})
DEFAULT_MINUTES = 30.0
MAX_MINUTES = 120.0
KEEP = 1000  # events kept for the installer's tool to read
ANNOUNCE_GAP_S = 3.0  # one chirp and "test received" per device in this time (a radar chatters)


@dataclass(frozen=True, slots=True)
class Seen:
    """One device event seen in walk-test mode, as the installer's tool reads it."""

    n: int  # the tool's cursor: 1, 2, 3 … since the hub started
    id: str  # the walk-test event's id at the station
    ts: float
    kind: str
    source: str  # device name in hub.yaml
    where: str  # the button's location or the device's room
    rssi: int | None  # dBm of the advert that carried it (BLE only)
    battery: int | None  # percent, last reported (BLE only)


class WalkTestMode:
    def __init__(self) -> None:
        self.installer = ""
        self.until = 0.0  # wall clock when it ends, for people to read
        self._ends: float | None = None  # monotonic time it ends; None: off
        self._seen: deque[Seen] = deque(maxlen=KEEP)
        self._n = 0
        self._radio: dict[str, tuple[int | None, int | None]] = {}  # device -> (rssi, battery)
        self._announced: dict[str, float] = {}  # device -> monotonic time it was last announced
        self._sent: dict[str, float] = {}  # walk-test event id -> monotonic time it went out
        self.rtt: dict[str, float] = {}  # walk-test event id -> seconds to the station's ack

    def active(self, mono: float) -> bool:
        return self._ends is not None and mono < self._ends

    def start(self, *, seconds: float, installer: str, now: float, mono: float) -> Event:
        """Turn the mode on (or extend it); returns the event that tells the station."""
        self._ends, self.until, self.installer = mono + seconds, now + seconds, installer
        for past in (self._announced, self._sent, self.rtt):  # a new walk: no growth across walks
            past.clear()
        return _event("walktest.start", now, minutes=round(seconds / 60, 2), until=self.until,
                      installer=installer)

    def stop(self, reason: str, now: float) -> Event | None:
        """Turn the mode off; the event that tells the station, or None if it was off."""
        if self._ends is None:
            return None
        self._ends = None
        return _event("walktest.end", now, reason=reason, installer=self.installer)

    def takes(self, ev: Event, mono: float) -> bool:
        """Whether this event is a test while the mode is on."""
        return self.active(mono) and ev.kind.split(".", 1)[0] in TEST_SENSES

    def heard(self, device: str, rssi: int, battery: int | None) -> None:
        """A BLE advert from ``device``: its signal, and its battery when the advert says."""
        self._radio[device] = (rssi, battery if battery is not None else self._radio.get(
            device, (None, None))[1])

    def record(self, ev: Event, mono: float) -> tuple[Event, bool]:
        """A test seen: the walk-test event for the station (the device's own event, marked
        as a walk test, with its signal and battery), and whether to tell the installer."""
        rssi, battery = self._radio.get(ev.source, (None, None))
        radio = {k: v for k, v in (("rssi", rssi), ("battery", battery)) if v is not None}
        test = Event(kind=ev.kind, source=ev.source, ts=ev.ts, id=ev.id, alarm=WALKTEST,
                     data={**ev.data, **radio})
        self._n += 1
        where = str(ev.data.get("location") or ev.data.get("room") or "")
        self._seen.append(Seen(self._n, ev.id, ev.ts, ev.kind, ev.source, where, rssi, battery))
        announce = mono - self._announced.get(ev.source, -math.inf) >= ANNOUNCE_GAP_S
        if announce:
            self._announced[ev.source] = mono
        return test, announce

    def ping(self, now: float) -> Event:
        """A walk-test event whose acknowledgement times the round trip to the station."""
        return _event("walktest.ping", now)

    def report(self, summary: dict[str, Any], now: float) -> Event:
        """The commissioning report's summary, so the station keeps the record."""
        return _event("walktest.report", now, **summary)

    def sent(self, id: str, mono: float) -> None:
        self._sent[id] = mono

    def acked(self, ids: list[str], mono: float) -> None:
        for i in ids:
            if (t := self._sent.pop(i, None)) is not None:
                self.rtt[i] = mono - t

    def since(self, cursor: int) -> list[Seen]:
        return [s for s in self._seen if s.n > cursor]

    @property
    def cursor(self) -> int:
        return self._n


def _event(kind: str, now: float, **data: Any) -> Event:
    return Event(kind=kind, source="hub", ts=now, alarm=WALKTEST, data=data)
