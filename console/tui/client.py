"""The console's line to the station service over MQTT: changes in, requests out.

Requests go out on this console's own request topic (under TLS the only one the broker lets
it write, so the station knows which console sent them) and are answered on its own reply
topic; a request with no answer within the timeout fails, so a dead station service is
reported, never waited on forever. While the station cannot be reached (its status says
offline, or our broker link is down and does not come up within LINK_WAIT_S, as when the
console has just started) a request is not sent at all: it is refused with the code
``station_unreachable``, so nothing is left queued to be done later by surprise. After a
login the client holds the session token and sends it with every request; the password is
sent once and not kept. During a call the client also carries its voice: it hears the
hub's ``voice/up`` and speaks on its ``voice/down`` (binary, QoS 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from pydantic import SecretStr, ValidationError

from hub.common import wire
from hub.common.events import new_id
from hub.common.transport import BrokerConfig, PahoTransport, Transport

log = logging.getLogger(__name__)

LINK_WAIT_S = 2.0  # a request waits this long for our own broker link before it is refused


class StationClient:
    def __init__(self, *, transport: Transport, console_id: str,
                 on_changed: Callable[[wire.Changed], None],
                 on_station: Callable[[wire.StationStatus | None], None]) -> None:
        self.console_id = console_id
        self._t = transport
        self._on_changed, self._on_station = on_changed, on_station
        self.station: wire.StationStatus | None = None  # as last heard; None: not known
        self._linked = asyncio.Event()  # our broker link is up
        self._waiting: dict[str, asyncio.Future[wire.Reply]] = {}
        self.session: wire.SessionInfo | None = None
        self._voice: tuple[str, Callable[[bytes], None]] | None = None  # (topic, the call's ear)

    @classmethod
    def over_mqtt(cls, broker: BrokerConfig, **kw: object) -> StationClient:
        console_id = f"console-{new_id()[:12]}"
        t = PahoTransport(broker=broker, client_id=f"anxin-{console_id}",
                          loop=asyncio.get_running_loop(), persistent_session=False)
        if broker.tls:  # the broker's ACL lets a console read only replies to its identity
            console_id = broker.tls.identity
        return cls(transport=t, console_id=console_id, **kw)  # type: ignore[arg-type]

    def start(self) -> None:
        self._t.subscribe(wire.STATION_STATUS)
        self._t.subscribe(wire.STATION_CHANGED)
        self._t.subscribe(wire.reply_topic(self.console_id))
        self._t.start(self._message, self._connection)

    def close(self) -> None:
        self._t.close()

    async def login(self, user: str, password: str, *, timeout: float = 10.0) -> wire.Reply:
        reply = await self._send({"op": "login", "user": user, "password": SecretStr(password)},
                                 timeout)
        if reply.ok:
            self.session = reply.session
        return reply

    async def logout(self, *, timeout: float = 2.0) -> None:
        if self.session:
            await self.request("logout", timeout=timeout)
            self.session = None

    async def request(self, op: str, alarm: str | None = None, *, timeout: float = 10.0,
                      **fields: object) -> wire.Reply:
        """Any op but login, as the logged-in user; ``fields`` are the request's (outcome,
        notes, hub, visit, call, step, record (a JSON object), category, followup)."""
        token = self.session.token if self.session else None
        return await self._send({"op": op, "alarm": alarm, "token": token, **fields}, timeout)

    def listen(self, hub: str, ear: Callable[[bytes], None] | None) -> None:
        """Hand the hub's voice packets to ``ear``; None stops hearing that hub (the broker stops
        sending its packets here). Only one call at a time is heard; packets of any other, or
        late ones of a call ended, are dropped unread."""
        topic = wire.hub_topic(hub, wire.VOICE_UP)
        if ear is None:
            if self._voice and self._voice[0] == topic:
                self._voice = None
            self._t.unsubscribe(topic)
            return
        self._t.subscribe(topic, qos=0)
        self._voice = (topic, ear)

    def speak(self, hub: str) -> Callable[[bytes], None]:
        """The publish function for the officer's voice packets to ``hub`` (any thread)."""
        topic = wire.hub_topic(hub, wire.VOICE_DOWN)
        return lambda packet: self._t.publish(topic, packet, qos=0)

    @property
    def reachable(self) -> bool:
        """A request can reach the station service: our link is up and its status (if heard
        yet) does not say offline."""
        return self._t.connected and (self.station is None or self.station.online)

    async def _send(self, fields: dict[str, object], timeout: float) -> wire.Reply:
        """Send a request and wait for its reply; one the station would refuse (an identifier
        with a control character, a field too long) is refused here, with the reason."""
        try:
            req = wire.request({"req": new_id(), "console": self.console_id, "ts": time.time(),
                                **fields})
        except ValidationError as e:
            return wire.Reply(req=new_id(), ok=False, code="invalid", error=wire.reason(e))
        if not self._t.connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._linked.wait(), min(timeout, LINK_WAIT_S))
        if not self.reachable:
            return wire.Reply(req=req.req, ok=False, code="station_unreachable",
                              error="the station service cannot be reached: not sent")
        fut: asyncio.Future[wire.Reply] = asyncio.get_running_loop().create_future()
        self._waiting[req.req] = fut
        self._t.publish(wire.request_topic(self.console_id), wire.encode(req))
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return wire.Reply(req=req.req, ok=False, error=None)
        finally:
            self._waiting.pop(req.req, None)

    def _connection(self, up: bool) -> None:
        (self._linked.set if up else self._linked.clear)()
        if not up:
            self.station = None  # we cannot know while our own link is down
            self._on_station(None)

    def _message(self, topic: str, payload: bytes) -> None:
        if topic.endswith(f"/{wire.VOICE_UP}"):
            if self._voice and self._voice[0] == topic:
                self._voice[1](payload)
            return
        try:
            msg = wire.decode(payload)
        except wire.WireError as e:
            log.error("rejected message on %s: %s", topic, e)
            return
        if isinstance(msg, wire.Changed):
            self._on_changed(msg)
        elif isinstance(msg, wire.StationStatus):
            self.station = msg
            self._on_station(msg)
        elif isinstance(msg, wire.Reply) and (fut := self._waiting.get(msg.req)) and not fut.done():
            fut.set_result(msg)
