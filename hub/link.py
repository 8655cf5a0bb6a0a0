"""The hub's uplink to the station over MQTT.

Availability is retained on ``…/status`` with an offline last will; a heartbeat goes out
every ``heartbeat_s``; everything in the outbox is published on connect and again every
``retry_s`` until the station acknowledges its id. Inbound acks and alarm updates are
validated and handed to the hub service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from hub import wire
from hub.config import LinkConfig
from hub.mqtt import Transport, Will
from hub.store import HubStore

log = logging.getLogger(__name__)


def last_will(hub: str) -> Will:
    return Will(wire.hub_topic(hub, "status"),
                wire.encode(wire.Status(hub=hub, online=False, ts=0.0)))


class Uplink:
    def __init__(
        self, *, hub: str, transport: Transport, store: HubStore, config: LinkConfig,
        on_ack: Callable[[list[str], float], None],
        on_update: Callable[[wire.AlarmUpdate], None],
    ) -> None:
        self.hub = hub
        self._t, self._store, self._cfg = transport, store, config
        self._on_ack, self._on_update = on_ack, on_update
        self._hb_seq = 0
        self._last_sent: dict[str, float] = {}  # id -> monotonic time; only paces resends
        self._tasks: list[asyncio.Task[None]] = []
        self.rejected = 0  # inbound payloads that failed validation

    @property
    def connected(self) -> bool:
        return self._t.connected

    def start(self) -> None:
        for leaf in wire.HUB_DOWN:
            self._t.subscribe(wire.hub_topic(self.hub, leaf), qos=1)
        self._t.start(self._message, self._connection)
        self._tasks = [asyncio.create_task(self._every(self._cfg.heartbeat_s, self.heartbeat)),
                       asyncio.create_task(self._every(self._cfg.retry_s, self._retry))]

    def close(self) -> None:
        """Say goodbye cleanly (retained offline) so the station need not wait for the will."""
        for t in self._tasks:
            t.cancel()
        if self._t.connected:
            self._t.publish(wire.hub_topic(self.hub, "status"),
                            wire.encode(wire.Status(hub=self.hub, online=False, ts=time.time())),
                            qos=1, retain=True)
        self._t.close()

    def send(self, id: str, payload: bytes) -> None:
        """Publish one stored message now (it stays in the outbox until acknowledged)."""
        if self._t.connected:
            self._t.publish(wire.hub_topic(self.hub, "event"), payload, qos=1)
            self._last_sent[id] = time.monotonic()

    def flush(self) -> None:
        """Publish everything still pending, oldest first."""
        if not self._t.connected:
            return
        pending = self._store.pending()
        now = time.monotonic()
        self._last_sent = {p.id: now for p in pending}
        for p in pending:
            self._t.publish(wire.hub_topic(self.hub, "event"), p.payload, qos=1)
        if pending:
            log.info("published %d unacknowledged message(s)", len(pending))

    def heartbeat(self) -> None:
        if self._t.connected:
            self._hb_seq += 1
            hb = wire.Heartbeat(hub=self.hub, ts=time.time(), seq=self._hb_seq,
                                pending=self._store.pending_count())
            self._t.publish(wire.hub_topic(self.hub, "heartbeat"), wire.encode(hb), qos=0)

    def _retry(self) -> None:
        """Resend when anything pending was never sent or has waited retry_s for its ack."""
        cutoff = time.monotonic() - self._cfg.retry_s
        if self._t.connected and any(self._last_sent.get(p.id, 0.0) < cutoff
                                     for p in self._store.pending()):
            self.flush()

    def _connection(self, up: bool) -> None:
        if up:
            self._t.publish(wire.hub_topic(self.hub, "status"),
                            wire.encode(wire.Status(hub=self.hub, online=True, ts=time.time())),
                            qos=1, retain=True)
            self.heartbeat()
            self.flush()

    def _message(self, topic: str, payload: bytes) -> None:
        try:
            hub, leaf = wire.parse_hub_topic(topic)
            if hub != self.hub:
                raise wire.WireError(f"topic is for hub {hub!r}, not this hub")
            if leaf == "ack":
                ack = wire.decode_as(payload, wire.Ack)
                for i in ack.ids:
                    self._last_sent.pop(i, None)
                self._on_ack(ack.ids, ack.ts)
            elif leaf == "alarm":
                self._on_update(wire.decode_as(payload, wire.AlarmUpdate))
            else:
                raise wire.WireError(f"unexpected topic leaf {leaf!r}")
        except wire.WireError as e:
            self.rejected += 1
            log.error("rejected message on %s: %s", topic, e)

    @staticmethod
    async def _every(period: float, fn: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                fn()
            except Exception:
                log.exception("periodic %s failed", getattr(fn, "__name__", fn))
