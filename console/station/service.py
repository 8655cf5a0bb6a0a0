"""The headless station service: the station's single writer, running 24/7 without a console.

Hub events are stored durably, then acknowledged (at-least-once from the hub, de-duplicated
here by event id). Consoles send claim/resolve requests; the service applies them atomically,
tells the hub (so the elder hears it) and announces the change to every console.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from console.station.config import StationConfig, load_homes
from console.station.store import AlarmRow, ClaimConflict, StationStore
from hub import wire
from hub.events import CANCEL_KIND, AlarmState
from hub.mqtt import PahoTransport, Transport, Will

log = logging.getLogger(__name__)

SHARE = "$share/anxin-station/"  # hub events are shared among station workers
REQUEST_MAX_AGE_S = 10  # = the console's reply timeout: a claim it gave up on is not done later
RESEND_CLOSED_S = 24 * 3600  # a returning hub is told of alarms closed this recently

TransportFactory = Callable[[StationConfig, asyncio.AbstractEventLoop], Transport]


def station_will() -> Will:
    return Will(wire.STATION_STATUS, wire.encode(wire.StationStatus(online=False, ts=0.0)))


def paho_transport(cfg: StationConfig, loop: asyncio.AbstractEventLoop) -> Transport:
    return PahoTransport(broker=cfg.broker, client_id=f"anxin-station-{cfg.station_id}",
                         loop=loop, will=station_will())


class StationService:
    """Use ``async with StationService(cfg) as station:``."""

    def __init__(self, cfg: StationConfig, *, transport: TransportFactory = paho_transport) -> None:
        self.cfg = cfg
        self._make_transport = transport
        self.store = StationStore(cfg.database)
        if cfg.homes_file:
            self.store.load_homes(load_homes(cfg.homes_file))
        self.on_alarm_stored: Callable[[str], None] | None = None  # instrumentation: alarm id
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> StationService:
        self.t = self._make_transport(self.cfg, asyncio.get_running_loop())
        self.t.subscribe(f"{SHARE}{wire.hub_wildcard('event')}")
        self.t.subscribe(f"{SHARE}{wire.hub_wildcard('heartbeat')}", qos=0)
        self.t.subscribe(wire.hub_wildcard("status"))  # not shared: retained state for all
        self.t.subscribe(f"{SHARE}{wire.STATION_REQUEST}")
        self.t.start(self._message, self._connection)
        self._tasks.append(asyncio.create_task(self._supervise()))
        log.info("station %s up, database %s", self.cfg.station_id, self.cfg.database)
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self._tasks:
            task.cancel()
        if self.t.connected:
            self.t.publish(wire.STATION_STATUS,
                           wire.encode(wire.StationStatus(online=False, ts=time.time())),
                           retain=True)
        self.t.close()
        self.store.close()

    def _connection(self, up: bool) -> None:
        if up:
            self.t.publish(wire.STATION_STATUS,
                           wire.encode(wire.StationStatus(online=True, ts=time.time())),
                           retain=True)

    def _message(self, topic: str, payload: bytes) -> None:
        try:
            if topic == wire.STATION_REQUEST:
                self._request(wire.decode_as(payload, wire.Request))
                return
            hub, leaf = wire.parse_hub_topic(topic)
            if leaf == "event":
                self._event(_from(hub, wire.decode_as(payload, wire.EventMsg)))
            elif leaf == "status":
                self._status(_from(hub, wire.decode_as(payload, wire.Status)))
            elif leaf == "heartbeat":
                hb = _from(hub, wire.decode_as(payload, wire.Heartbeat))
                back = self.store.heartbeat(hub, hb.pending, time.time())
                self._changed("home", hub, back)
                if back:
                    self._catch_up(hub)
            else:
                raise wire.WireError(f"unexpected topic leaf {leaf!r}")
        except wire.WireError as e:
            log.error("rejected message on %s: %s", topic, e)
            self.store.reject(topic, str(e), payload)

    def _event(self, msg: wire.EventMsg) -> None:
        fresh = self.store.store_event(msg)
        if fresh and msg.alarm and self.on_alarm_stored:
            self.on_alarm_stored(msg.id)
        self.t.publish(wire.hub_topic(msg.hub, "ack"),
                       wire.encode(wire.Ack(ids=[msg.id], ts=time.time())))
        if fresh and msg.alarm:
            log.info("alarm %s from %s: %s", msg.id, msg.hub, msg.alarm.kind)
            self._changed("alarm", msg.id)
        elif fresh and msg.kind == CANCEL_KIND and msg.ref:
            log.info("alarm %s cancelled at home %s", msg.ref, msg.hub)
            self._changed("alarm", msg.ref)
        elif not fresh:
            log.info("duplicate %s from %s acknowledged again", msg.id, msg.hub)

    def _status(self, msg: wire.Status) -> None:
        changed = self.store.set_online(msg.hub, msg.online, time.time())
        self._changed("home", msg.hub, changed)
        if msg.online:
            self._catch_up(msg.hub)

    def _catch_up(self, hub: str) -> None:
        """A hub that was away may have missed lifecycle steps: send them again (it ignores
        the ones it has), including alarms closed while it was away."""
        since = time.time() - RESEND_CLOSED_S
        for a in self.store.alarms_for_hub(hub, open_only=False):
            if a.state is not AlarmState.DELIVERED and (a.closed or a.raised) >= since:
                self._tell_hub(a)

    def _request(self, req: wire.Request) -> None:
        error = None
        if time.time() - req.ts > REQUEST_MAX_AGE_S:
            error = "request expired before the station service could act on it"
        else:
            try:
                if req.op == "claim":
                    row = self.store.claim(req.alarm, req.officer)
                else:
                    row = self.store.resolve(req.alarm, req.officer, req.outcome or "",
                                             req.notes or "")
                self._tell_hub(row)
                self._changed("alarm", row.id)
            except ClaimConflict as e:
                error = str(e)
        log.info("%s %s by %s: %s", req.op, req.alarm, req.officer, error or "ok")
        self.t.publish(wire.reply_topic(req.console),
                       wire.encode(wire.Reply(req=req.req, ok=error is None, error=error)))

    def _tell_hub(self, a: AlarmRow) -> None:
        ts = (a.closed if a.state.closed else a.claimed) or a.received
        self.t.publish(wire.hub_topic(a.hub, "alarm"), wire.encode(
            wire.AlarmUpdate(id=a.id, state=a.state, ts=ts, officer=a.officer, outcome=a.outcome)))

    def _changed(self, what: str, id: str, really: bool = True) -> None:
        if really:
            self.t.publish(wire.STATION_CHANGED,
                           wire.encode(wire.Changed(what=what, id=id)))

    async def _supervise(self) -> None:
        """Homes silent past offline_after_s are shown offline (the last will may be late)."""
        period = min(5.0, self.cfg.offline_after_s / 3)
        while True:
            await asyncio.sleep(period)
            now = time.time()
            for hub in self.store.mark_silent_offline(now - self.cfg.offline_after_s, now):
                log.warning("hub %s silent for %.0f s: offline", hub, self.cfg.offline_after_s)
                self._changed("home", hub)


H = TypeVar("H", wire.EventMsg, wire.Status, wire.Heartbeat)


def _from(hub: str, msg: H) -> H:
    """A hub may only speak for itself: the payload's hub must be the topic's."""
    if msg.hub != hub:
        raise wire.WireError(f"payload says hub {msg.hub!r} on hub {hub!r}'s topic")
    return msg


async def run_station(cfg: StationConfig, stop: asyncio.Event) -> None:
    async with StationService(cfg):
        await stop.wait()
