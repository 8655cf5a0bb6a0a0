"""A hub updated to protocol 1.1 in a home whose broker session the old version made: the
session's filters on the topics of each type (…/ack, …/alarm, …/resend, …/call) are dropped
once the station says it speaks 1.1, so nothing comes twice and, on a NATS cluster, the
session keeps one QoS 1 consumer. Real Mosquitto, real station and hub."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.trust.broker import Mosquitto
from drivers.gpio.sim import SimPins
from hub.common import wire
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually

CLIENT = "anxin-hub-h001"  # the hub's persistent session, whichever version opens it


def session(port: int, subscribe: list[str], listen_s: float = 0.0) -> list[str]:
    """Open the hub's persistent session as a bare client: subscribe (as the old version
    did), then hear what the broker kept for the session for ``listen_s``; the topics heard."""
    heard: list[str] = []
    ready = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=CLIENT, clean_session=False)
    c.on_connect = lambda *_: ready.set()
    c.on_message = lambda _c, _u, m: heard.append(m.topic)
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert ready.wait(10)
    for topic in subscribe:
        c.subscribe(topic, qos=1)
    time.sleep(max(listen_s, 0.5))
    c.disconnect()
    c.loop_stop()
    return heard


def publish(port: int, topics: list[str], payload: bytes) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="stand-in-station")
    c.connect("127.0.0.1", port)
    c.loop_start()
    for t in topics:
        c.publish(t, payload, qos=1).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


async def test_an_updated_hub_drops_the_filters_its_old_version_left_in_the_session(
        broker: Mosquitto, station_cfg: StationConfig,
        hub_cfg: Callable[..., HubConfig]) -> None:
    legacy = [wire.hub_topic("h001", leaf) for leaf in wire.LEGACY_DOWN]
    down = wire.hub_topic("h001", wire.DOWN)
    await asyncio.to_thread(session, broker.port, legacy)  # the hub before its update
    async with StationService(station_cfg) as station:  # legacy_hub_topics: true (default)
        await eventually(lambda: station.t.connected, what="the station online")
        async with HubService(hub_cfg()) as hub:
            await eventually(lambda: hub.link.reachable, what="the hub sees the station")
            await asyncio.to_thread(SimPins(hub.pins).click, 17)
            await eventually(lambda: station.store.open_alarms(), what="the alarm stored")
            await eventually(lambda: hub.store.pending_count() == 0, what="acknowledged")
            assert hub.link.rejected == 0
    # the station is gone; what the broker keeps for the hub's session now:
    ack = wire.encode(wire.Ack(ids=["e1"], ts=time.time()))
    await asyncio.to_thread(publish, broker.port, [*legacy, down], ack)
    kept = await asyncio.to_thread(session, broker.port, [], 1.5)
    assert kept == [down]
