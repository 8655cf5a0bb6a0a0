"""The one way to the station: an event becomes its wire message here, is committed to the
durable outbox (:mod:`hub.runtime.store`), and the uplink is woken to send it.

Encoding happens once, from a message the wire's models have checked; the uplink only adds
each message's place in its lane as it publishes (:func:`hub.common.wire.sequenced`). Alarms
are committed with ``synchronous=FULL`` before this returns, so whatever the caller does
next (tell the elder, publish) comes after the alarm is safe on disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from hub.common import wire
from hub.common.events import CANCEL_KIND, AlarmState, Event
from hub.runtime.store import HubStore, Lane

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0


class Outbox:
    def __init__(self, store: HubStore, hub: str, keep_acked_days: float) -> None:
        self.store, self.hub = store, hub
        self._keep_s = keep_acked_days * 86400
        self.wake: Callable[[], None] = lambda: None  # the uplink's push, once it runs

    def send(self, ev: Event, lane: Lane) -> None:
        """``ev`` to the station in ``lane``: telemetry, or the alarm lane for what must come
        after the alarm it is about and never wait behind a telemetry backlog."""
        self.store.put(ev.id, self._encode(ev), alarm=lane == "alarm")
        self.wake()

    def raise_alarm(self, ev: Event, *, priority: int | None = None,
                    contact_id: int | None = None) -> None:
        """A new alarm: recorded as raised and sent, and its message queued, in one durable
        commit."""
        self.store.put(ev.id, self._encode(ev, priority, contact_id), alarm=True,
                       alarm_kind=ev.alarm, raised=ev.ts, source=ev.source)
        self.wake()

    def hold(self, ev: Event, *, priority: int | None = None, contact_id: int | None = None) -> None:
        """A pre-alarm in its window: on disk, not sent until :meth:`release`."""
        self.store.hold(ev.id, self._encode(ev, priority, contact_id), alarm_kind=str(ev.alarm),
                        raised=ev.ts, source=ev.source)

    def release(self, alarm_id: str) -> bool:
        """A held alarm goes out (False: it was not held). Its ``ts`` stays when it was
        detected; ``data.sent`` says when it went out."""
        now = time.time()
        if not self.store.release(alarm_id, now, stamp=_sent_at(now, alarm_id)):
            return False
        self.wake()
        return True

    def cancel(self, alarm_id: str, source: str, ts: float, by: str) -> None:
        """The alarm's cancellation for the station; the alarm is cancelled at home."""
        self.send(_cancel(alarm_id, source, ts, by), "alarm")
        self.store.advance(alarm_id, AlarmState.CANCELLED, ts)

    def cancel_held(self, alarm_id: str, source: str, by: str) -> bool:
        """A pre-alarm cancelled in its window: the station gets it and its cancellation, in
        one commit (False: it was not held)."""
        ts = time.time()
        cancel = _cancel(alarm_id, source, ts, by)
        if not self.store.cancel_held(alarm_id, cancel.id, self._encode(cancel), ts):
            return False
        self.wake()
        return True

    async def prune(self) -> None:
        """One round: forget what was acknowledged long ago, then wait for the next."""
        if n := self.store.prune(time.time() - self._keep_s):
            log.info("outbox: forgot %d acknowledged message(s)", n)
        await asyncio.sleep(PRUNE_EVERY_S)

    def _encode(self, ev: Event, priority: int | None = None, contact_id: int | None = None) -> bytes:
        return wire.encode(wire.event_msg(self.hub, ev, priority=priority, contact_id=contact_id))


def _cancel(alarm_id: str, source: str, ts: float, by: str) -> Event:
    return Event(kind=CANCEL_KIND, source=source, ts=ts, data={"ref": alarm_id, "by": by})


def _sent_at(now: float, alarm_id: str) -> Callable[[bytes], bytes | None]:
    """Stamps a held alarm's message with when it was sent. One that no longer passes the
    wire's checks (held before a restart into a version with other limits) is set aside
    and said so: the release itself must not fail."""
    def stamp(payload: bytes) -> bytes | None:
        try:
            return wire.with_data(payload, sent=now)
        except wire.WireError as e:
            log.error("held alarm %s can no longer be sent (%s); set aside", alarm_id, e)
            return None
    return stamp
