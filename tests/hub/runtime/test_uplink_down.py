"""The hub hears the station on one QoS 1 topic (protocol 1.1): every message type there goes
where it belongs, anything else there is refused and counted, and the retained topics are
taken at QoS 0 (on a NATS cluster each QoS 1 subscription is a JetStream consumer)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from hub.common import wire
from hub.common.events import AlarmState, Event
from hub.common.transport import MemoryBroker, MemoryTransport
from hub.runtime.config import LinkConfig
from hub.runtime.store import HubStore
from hub.runtime.uplink import Uplink


class Granted(MemoryTransport):
    """The in-memory transport, noting the QoS of each subscription."""

    qos: dict[str, int]

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.qos = getattr(self, "qos", {}) | {topic: qos}
        super().subscribe(topic, qos)


async def test_every_station_message_comes_on_down_and_only_down_is_qos_1(tmp_path: Path) -> None:
    broker = MemoryBroker()
    hub_t = Granted(broker, None)
    broker.clients.append(hub_t)
    store = HubStore(tmp_path / "hub.db")
    acked: list[list[str]] = []
    updates: list[wire.AlarmUpdate] = []
    calls: list[wire.CallControl] = []
    link = Uplink(hub="h001", transport=hub_t, store=store, config=LinkConfig(),
                  on_ack=lambda ids, ts: acked.append(ids), on_update=updates.append,
                  on_call=calls.append)
    link.start()
    assert {t: q for t, q in hub_t.qos.items() if q == 1} == {wire.hub_topic("h001", wire.DOWN): 1}
    assert set(hub_t.qos) == {wire.hub_topic("h001", leaf) for leaf in
                              (wire.DOWN, wire.CONTACTS, wire.VOICE_DOWN)} | {wire.STATION_STATUS}

    station = broker.client()
    station.start(lambda t, p: None, lambda up: None)
    down = wire.hub_topic("h001", wire.DOWN)
    now = time.time()
    for msg in (wire.Ack(ids=["e1"], ts=now),
                wire.AlarmUpdate(id="a1", state=AlarmState.CLAIMED, ts=now, officer="张"),
                wire.CallControl(op="start", call="c1", visit="v1", ts=now),
                wire.Resend(lane="alarm", ts=now)):
        station.publish(down, wire.encode(msg))
    await turns()
    assert acked == [["e1"]]
    assert [(u.id, u.officer) for u in updates] == [("a1", "张")]
    assert [c.call for c in calls] == ["c1"]
    assert link.rejected == 0

    # a hub's own kind of message, or a station reply, is not one for a hub: refused, counted
    station.publish(down, wire.encode(wire.Status(hub="h001", online=True, ts=now)))
    station.publish(down, wire.encode(wire.Reply(req="r1", ok=True, ts=now)))
    station.publish(down, b"\xff")
    await turns()
    assert link.rejected == 3
    assert acked == [["e1"]] and len(updates) == 1 and len(calls) == 1
    link.close()
    await link.tasks.close()
    store.close()


async def test_an_ack_on_down_clears_the_lane_so_the_alarm_is_not_sent_again(tmp_path: Path) -> None:
    """The end-to-end path through one topic: published, acknowledged on down, forgotten."""
    broker = MemoryBroker()
    station = broker.client()
    sent: list[wire.EventMsg] = []

    def on_event(topic: str, payload: bytes) -> None:
        msg = wire.decode_as(payload, wire.EventMsg)
        sent.append(msg)
        station.publish(wire.hub_topic("h001", wire.DOWN),
                        wire.encode(wire.Ack(ids=[msg.id], ts=time.time())))

    station.start(on_event, lambda up: None)
    station.subscribe(wire.hub_wildcard("event"))
    store = HubStore(tmp_path / "hub.db")
    acked: list[str] = []
    link = Uplink(hub="h001", transport=broker.client(), store=store, config=LinkConfig(),
                  on_ack=lambda ids, ts: acked.extend(store.ack(ids, ts)),
                  on_update=lambda u: None)
    link.start()
    ev = Event(kind="button.press", source="bedside", alarm="panic")
    store.put(ev.id, wire.encode(wire.event_msg("h001", ev)), alarm=True)
    link.push()
    await turns()
    assert [m.id for m in sent] == [ev.id]
    assert acked == [ev.id] and store.pending_count() == 0
    link.close()
    await link.tasks.close()
    store.close()


async def turns(n: int = 5) -> None:
    """Let the loop hand over what the in-memory broker delivered (as paho's thread would)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_with_a_station_from_before_the_hub_listens_on_the_topics_of_each_type_too(
        tmp_path: Path) -> None:
    broker = MemoryBroker()
    hub_t = Granted(broker, None)
    broker.clients.append(hub_t)
    store = HubStore(tmp_path / "hub.db")
    acked: list[list[str]] = []
    link = Uplink(hub="h001", transport=hub_t, store=store, config=LinkConfig(),
                  on_ack=lambda ids, ts: acked.append(ids), on_update=lambda u: None)
    link.start()
    station = broker.client()
    station.start(lambda t, p: None, lambda up: None)
    legacy = {wire.hub_topic("h001", leaf) for leaf in wire.LEGACY_DOWN}
    old = wire.StationStatus(online=True, ts=time.time())  # 1.0: no "down"
    station.publish(wire.STATION_STATUS, wire.encode(old), retain=True)
    await turns()
    assert legacy <= set(hub_t.filters) and all(hub_t.qos[t] == 1 for t in legacy)
    station.publish(wire.hub_topic("h001", "ack"), wire.encode(wire.Ack(ids=["e1"], ts=1.0)))
    station.publish(wire.hub_topic("h001", "ack"), wire.encode(wire.Resend(lane="alarm", ts=1.0)))
    await turns()
    assert acked == [["e1"]] and link.rejected == 1  # a type on another's topic: refused

    # the station is updated: the hub drops those filters
    station.publish(wire.STATION_STATUS, wire.encode(old.model_copy(update={"down": True})),
                    retain=True)
    await turns()
    assert not legacy & set(hub_t.filters) and wire.hub_topic("h001", wire.DOWN) in hub_t.filters
    # the will (offline, as every station's) changes nothing
    station.publish(wire.STATION_STATUS, wire.encode(wire.StationStatus(online=False, ts=0.0)))
    await turns()
    assert not legacy & set(hub_t.filters)
    link.close()
    await link.tasks.close()
    store.close()
