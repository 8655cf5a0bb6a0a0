"""Walk-test mode carried out: the mode (:mod:`hub.runtime.walktest_mode`) decides, this sends
its events to the station, chirps and speaks for the installer, and ends the mode on time.

Started and stopped through the control socket (:mod:`hub.runtime.control`). While it is on,
the devices' events are tests (:meth:`WalkTestSession.takes`): a walk-test event for the
station, a chirp and a short prompt for the installer, no rules. Walk-test events go in the
alarm lane: they must not wait behind a telemetry backlog, and their acknowledgements time
the round trip to the station.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from drivers.gpio.siren import Siren
from hub.common.events import Event
from hub.runtime.store import Lane
from hub.runtime.walktest_mode import WalkTestMode

log = logging.getLogger(__name__)

CHIRP_S = 0.3  # the siren's beep for each device seen in walk-test mode


class WalkTestSession:
    def __init__(self, *, send: Callable[[Event, Lane], None], say: Callable[[str], object],
                 siren: Siren | None, ended: Callable[[], None]) -> None:
        """``send`` puts an event in the outbox; ``say`` speaks a prompt; ``ended`` is told
        when the mode ends (the devices' states are then read afresh)."""
        self._send, self._say, self._siren, self._ended = send, say, siren, ended
        self.mode = WalkTestMode()
        self._ends: asyncio.TimerHandle | None = None

    def start(self, seconds: float, installer: str) -> None:
        """Device events become tests until ``seconds`` from now (or :meth:`end`); a repeated
        start sets a new end. The station is told, so duty staff see the home is in a test."""
        ev = self.mode.start(seconds=seconds, installer=installer, now=time.time(),
                             mono=time.monotonic())
        self.send(ev)
        if self._ends:
            self._ends.cancel()
        self._ends = asyncio.get_running_loop().call_later(seconds, self.end, "its time ran out")
        log.warning("walk-test mode on for %.0f min (installer %r): device events are tests, "
                    "not alarms", seconds / 60, installer)
        self._say("walktest_on")

    def end(self, reason: str) -> None:
        """Back to normal. What the devices reported during the test never reached the rules:
        ``ended`` lets the senses forget it, so a detector still in alarm (smoke, mains off)
        raises its real alarm at its next reading."""
        ev = self.mode.stop(reason, time.time())
        if ev is None:
            return
        if self._ends:
            self._ends.cancel()
            self._ends = None
        self.send(ev)
        log.warning("walk-test mode off: %s", reason)
        self._ended()
        self._say("walktest_off")

    def send(self, ev: Event) -> None:
        """A walk-test event for the station (alarm lane, without an alarm row)."""
        self._send(ev, "alarm")
        self.mode.sent(ev.id, time.monotonic())

    def takes(self, ev: Event) -> bool:
        """Whether ``ev`` is a test; if so, the station records it and the installer hears a
        chirp and a prompt."""
        mono = time.monotonic()
        if not self.mode.takes(ev, mono):
            return False
        test, announce = self.mode.record(ev, mono)
        self.send(test)
        log.info("walk test: %s %s", ev.source, ev.kind)
        if announce:
            self._say("walktest_seen")
            siren = self._siren
            if siren and siren.pattern is None:  # never over a real alarm's cadence
                siren.sound("chirp")
                asyncio.get_running_loop().call_later(
                    CHIRP_S, lambda: siren.silence() if siren.pattern == "chirp" else None)
        return True

    def heard(self, device: str, rssi: int, battery: int | None) -> None:
        self.mode.heard(device, rssi, battery)

    def acked(self, ids: list[str]) -> None:
        self.mode.acked(ids, time.monotonic())
