"""The hub's uplink to the station over MQTT.

Availability is retained on ``…/status`` with an offline last will; a heartbeat goes out
every ``heartbeat_s``. The outbox is drained in two lanes, each in order: alarms (all of
them, at once, so a new alarm never waits behind a backlog) and telemetry (at most
``window`` unacknowledged at a time, so hours of backlog drain without flooding). Every
message carries its place in its lane (:class:`hub.common.wire.Seq`), added to the stored message
as it goes out (the outbox stored it encoded and checked, :mod:`hub.runtime.outbox`; one stored
before this start is checked again first); the station stores a message only after the one
before it, and asks for a lane again (a ``resend``) when it sees a gap.
A lane is also sent again from its oldest unacknowledged message when an acknowledgement is
``retry_s`` late (go-back-N). The hub watches the station's retained status too, so it
knows, and shows on its LED, when the station is unreachable. Voice calls ride the same
session: call control from the station (on ``…/down``, QoS 1, with its acks and alarm
updates) and voice packets both ways (``…/voice/down`` in, ``…/voice/up`` out, QoS 0,
binary). The station's retained
``…/contacts`` (whom the hub texts itself, :mod:`hub.runtime.fallback`) comes in here too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.common import wire
from hub.common.tasks import Tasks
from hub.common.transport import Transport, Will
from hub.runtime.config import LinkConfig
from hub.runtime.store import LANES, HubStore, Lane

log = logging.getLogger(__name__)

ALARM_WINDOW = 1000  # alarms are few: in practice all of them go at once
RESEND_MIN_GAP_S = 1.0  # the station asks once per gap; later asks for the same gap are echoes


def last_will(hub: str) -> Will:
    return Will(wire.hub_topic(hub, "status"),
                wire.encode(wire.Status(hub=hub, online=False, ts=0.0, down=True)))


@dataclass(slots=True)
class _Lane:
    window: int
    upto: int = 0  # highest seq published since the lane was last (re)started
    inflight: dict[str, float] = field(default_factory=dict)  # id -> monotonic time published
    rewound: float = -1e9  # monotonic time of the last restart from the oldest pending


class Uplink:
    def __init__(
        self, *, hub: str, transport: Transport, store: HubStore, config: LinkConfig,
        on_ack: Callable[[list[str], float], None],
        on_update: Callable[[wire.AlarmUpdate], None],
        on_reachable: Callable[[bool], None] = lambda up: None,
        on_call: Callable[[wire.CallControl], None] = lambda c: None,
        on_voice: Callable[[bytes], None] = lambda data: None,
        on_contacts: Callable[[wire.HubContacts, bytes], None] = lambda c, payload: None,
    ) -> None:
        self.hub = hub
        self._t, self._store, self._cfg = transport, store, config
        self._on_ack, self._on_update, self._on_reachable = on_ack, on_update, on_reachable
        self._on_call, self._on_voice, self._on_contacts = on_call, on_voice, on_contacts
        self._voice_up = wire.hub_topic(hub, wire.VOICE_UP)
        self._hb_seq = 0
        self._lanes: dict[Lane, _Lane] = {"alarm": _Lane(ALARM_WINDOW),
                                          "telemetry": _Lane(config.window)}
        self._station_online: bool | None = None  # the station's retained status; None: unknown
        self._legacy: bool | None = None  # listening on the per-type topics too; None: not known
        self._reachable = False
        self.tasks = Tasks(log)  # the heartbeat and the retries
        self.rejected = 0  # inbound payloads that failed validation

    @property
    def connected(self) -> bool:
        return self._t.connected

    @property
    def reachable(self) -> bool:
        """The broker is connected and the station service says it is up."""
        return self._reachable

    def start(self) -> None:
        # One QoS 1 subscription (wire.HUB_DOWN); the retained ones are state, asked for again
        # at every connection, so QoS 0 loses nothing; voice is QoS 0 by nature.
        self._t.subscribe(wire.hub_topic(self.hub, wire.DOWN), qos=1)
        for topic in (wire.hub_topic(self.hub, wire.CONTACTS),
                      wire.hub_topic(self.hub, wire.VOICE_DOWN), wire.STATION_STATUS):
            self._t.subscribe(topic, qos=0)
        self._t.start(self._message, self._connection)
        self.tasks.every("heartbeat", self._cfg.heartbeat_s, self.heartbeat)
        self.tasks.every("uplink retries", self._cfg.retry_s / 2, self._retry)

    def close(self) -> None:
        """Say goodbye cleanly (retained offline) so the station need not wait for the will."""
        self.tasks.cancel()
        if self._t.connected:
            self._t.publish(wire.hub_topic(self.hub, "status"),
                            wire.encode(wire.Status(hub=self.hub, online=False, ts=time.time(),
                                                    down=True)),
                            qos=1, retain=True)
        self._t.close()

    def publish_voice(self, packet: bytes) -> None:
        """One voice packet from the microphone (any thread); dropped while disconnected."""
        if self._t.connected:
            self._t.publish(self._voice_up, packet, qos=0)

    def push(self) -> None:
        """Publish what the outbox holds that is not on its way yet: call after every commit."""
        for lane in LANES:
            self._pump(lane)

    def _pump(self, name: Lane) -> None:
        lane = self._lanes[name]
        room = lane.window - len(lane.inflight)
        if not self._t.connected or room <= 0:
            return
        batch = self._store.lane(name, after=lane.upto, limit=room)
        if not batch:
            return
        prev = self._store.prev_pending(name, batch[0].seq)
        now = time.monotonic()
        out = []
        for p in batch:  # the lane's state first: publishing may call back into the link
            try:
                payload = wire.rechecked(p.payload) if p.inherited else p.payload
            except wire.WireError as e:  # e.g. stored by an older version with other limits
                log.error("outbox message %s can no longer be sent (%s); set aside", p.id, e)
                self._store.set_aside(p.id)
                lane.upto = p.seq
                continue
            out.append(wire.sequenced(payload, wire.Seq(epoch=self._store.epoch, lane=name,
                                                        n=p.seq, prev=prev)))
            lane.inflight[p.id] = now
            prev = lane.upto = p.seq
        for payload in out:
            self._t.publish(wire.hub_topic(self.hub, "event"), payload, qos=1)

    def _rewind(self, name: Lane, why: str) -> None:
        """Send the lane again from its oldest unacknowledged message."""
        lane = self._lanes[name]
        lane.upto, lane.rewound = 0, time.monotonic()
        lane.inflight.clear()
        log.info("sending the %s lane again from its oldest unacknowledged message: %s", name, why)
        self._pump(name)

    def heartbeat(self) -> None:
        if self._t.connected:
            self._hb_seq += 1
            hb = wire.Heartbeat(hub=self.hub, ts=time.time(), seq=self._hb_seq,
                                pending=self._store.pending_count(), dropped=self._store.dropped)
            self._t.publish(wire.hub_topic(self.hub, "heartbeat"), wire.encode(hb), qos=0)

    def _retry(self) -> None:
        """An acknowledgement retry_s late: the lane goes again (the station de-duplicates).
        Not while the station says it is down: the broker keeps what was sent for it, and
        copies sent meanwhile would only queue up in front of its next alarm."""
        if not self._t.connected or self._station_online is False:
            return
        cutoff = time.monotonic() - self._cfg.retry_s
        for name, lane in self._lanes.items():
            if lane.inflight and min(lane.inflight.values()) < cutoff:
                self._rewind(name, f"no acknowledgement within {self._cfg.retry_s:g} s")
            else:
                self._pump(name)

    def _connection(self, up: bool) -> None:
        if up:
            self._t.publish(wire.hub_topic(self.hub, "status"),
                            wire.encode(wire.Status(hub=self.hub, online=True, ts=time.time(),
                                                    down=True)),
                            qos=1, retain=True)
            self.heartbeat()
            for name in LANES:  # alarms first
                self._rewind(name, "connected")
        self._update_reachable()

    def _station_back(self) -> None:
        """The station is working through what the broker kept for it: give it retry_s from
        now before anything counts as late."""
        now = time.monotonic()
        for lane in self._lanes.values():
            lane.inflight = dict.fromkeys(lane.inflight, now)

    def _update_reachable(self) -> None:
        up = self._t.connected and self._station_online is not False
        if up != self._reachable:
            self._reachable = up
            log.log(logging.INFO if up else logging.WARNING, "station %s",
                    "reachable" if up else "unreachable")
            self._on_reachable(up)

    def _message(self, topic: str, payload: bytes) -> None:
        try:
            if topic == wire.STATION_STATUS:
                status = wire.decode_as(payload, wire.StationStatus)
                if status.online:
                    self._listen_legacy(not status.down)
                if status.online and self._station_online is False:
                    self._station_back()
                self._station_online = status.online
                self._update_reachable()
                return
            hub, leaf = wire.parse_hub_topic(topic)
            if hub != self.hub:
                raise wire.WireError(f"topic is for hub {hub!r}, not this hub")
            if leaf == wire.DOWN:
                self._down(wire.decode_down(payload))
            elif leaf in wire.LEGACY_DOWN:  # a station from before 1.1, or what a session
                msg = wire.decode_down(payload)  # of this hub's earlier version kept for it
                if msg.type != leaf:
                    raise wire.WireError(f"a {msg.type!r} message on the {leaf!r} topic")
                self._down(msg)
            elif leaf == wire.VOICE_DOWN:
                self._on_voice(payload)
            elif leaf == wire.CONTACTS:
                contacts = wire.decode_as(payload, wire.HubContacts)
                if contacts.hub != self.hub:
                    raise wire.WireError(f"contacts are for hub {contacts.hub!r}, not this hub")
                self._on_contacts(contacts, payload)
            else:
                raise wire.WireError(f"unexpected topic leaf {leaf!r}")
        except wire.WireError as e:
            self.rejected += 1
            log.error("rejected message on %s: %s", topic, e)

    def _listen_legacy(self, on: bool) -> None:
        """A station from before protocol 1.1 (its status does not say ``down``) sends on the
        topic of each type: listen there too, until it says it speaks 1.1. Once it does, the
        filters are dropped, also those the persistent session kept from this hub's earlier
        version, which would otherwise bring every message twice."""
        if on == self._legacy:
            return
        self._legacy = on
        for leaf in wire.LEGACY_DOWN:
            topic = wire.hub_topic(self.hub, leaf)
            if on:
                self._t.subscribe(topic, qos=1)
            else:
                self._t.unsubscribe(topic)
        if on:
            log.warning("the station speaks protocol 1.0: listening on its topics of each "
                        "message type too")

    def _down(self, msg: wire.Down) -> None:
        match msg:
            case wire.Ack():
                for lane in self._lanes.values():
                    for i in msg.ids:
                        lane.inflight.pop(i, None)
                self._on_ack(msg.ids, msg.ts)
                self.push()
            case wire.Resend():
                if time.monotonic() - self._lanes[msg.lane].rewound >= RESEND_MIN_GAP_S:
                    self._rewind(msg.lane, "the station saw a gap")
            case wire.AlarmUpdate():
                self._on_update(msg)
            case wire.CallControl():
                self._on_call(msg)
