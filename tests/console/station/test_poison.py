"""One request must not take the station off the broker: a console id becomes the reply
topic, and Mosquitto drops a client that publishes on a topic with a control character (paho
then sends the same unacknowledged reply after every reconnect, for good). Run against a real
Mosquitto, plain and with the station's TLS setup, with the real station and hub.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.trust.broker import Mosquitto
from console.station.users import Role
from console.tui.client import StationClient
from drivers.gpio.sim import SimPins
from hub.common import wire
from hub.common.events import new_id
from hub.common.transport import BrokerConfig, PahoTransport
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually
from tests.support.accounts import PASSWORD, add_users
from tests.support.tls import Peer, Pki, station_and_hub

# newline and DEL: Mosquitto disconnects the publisher; + and #: paho refuses to publish
POISON = ("desk\n1", "desk\x7f", "desk+", "desk#")


def poisoned(console: str) -> bytes:
    return json.dumps({"v": 1, "type": "request", "req": new_id(), "console": console,
                       "op": "claim", "ts": time.time(), "alarm": "a1"}).encode()


def refusals(caplog: pytest.LogCaptureFixture, topic: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.getMessage().startswith(f"rejected message on {topic!r}")]


async def poison_then_press(station: StationService, hub: HubService, evil: Peer, sender: str,
                            caplog: pytest.LogCaptureFixture) -> None:
    """Send the poisoned requests, on the request topic of console ``sender`` (the only one a
    console may use under TLS); each is refused with a log line, the station stays on the
    broker, and a press right after is stored at the station and acknowledged at home."""
    await eventually(lambda: hub.link.connected and station.t.connected, what="all connected")
    up_since = station._up_since
    topic = wire.request_topic(sender)
    for console in POISON:
        assert not evil.publish(topic, poisoned(console)).is_failure
    await eventually(lambda: len(refusals(caplog, topic)) == len(POISON),
                     what="each request refused")
    assert all("request.claim.console: String should match pattern" in m
               for m in refusals(caplog, topic))
    assert station.store.count("rejected") == len(POISON)
    await asyncio.to_thread(SimPins(hub.pins).click, 17)
    await eventually(station.store.open_alarms, what="the alarm stored at the station")
    await eventually(lambda: hub.store.pending_count() == 0, what="the alarm acknowledged")
    assert station._up_since == up_since, "the station lost the broker"


async def test_a_console_id_no_topic_may_carry_is_refused_and_alarms_still_get_through(
        broker: Mosquitto, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    evil = Peer(broker.port, None)
    assert evil.connect()
    try:
        async with StationService(station_cfg) as station, HubService(hub_cfg()) as hub:
            await poison_then_press(station, hub, evil, "evil", caplog)
    finally:
        evil.close()


async def test_under_tls_a_listed_console_cannot_poison_and_replies_reach_console_names(
        tmp_path: Path, cheap_passwords: None, caplog: pytest.LogCaptureFixture) -> None:
    """A listed console (the only kind that may send requests under TLS) sends the poison; the
    real console on the same certificate then logs in: its reply topic is `…/console:desk1`."""
    caplog.set_level(logging.INFO)
    add_users(tmp_path / "station.db", ("zhang", "张三", Role.DUTY))
    ca = Pki(tmp_path)
    with Mosquitto(tmp_path / "broker", tls=ca.broker, consoles=["desk1"]) as secure:
        station_cfg, hub_cfg = station_and_hub(tmp_path, ca, secure.port)
        evil = Peer(secure.port, ca.files("console:desk1"))
        assert evil.connect()
        try:
            async with StationService(station_cfg) as station, HubService(hub_cfg) as hub:
                await poison_then_press(station, hub, evil, "console:desk1", caplog)
                online: list[wire.StationStatus | None] = []
                desk = StationClient.over_mqtt(BrokerConfig.model_validate(
                    {"port": secure.port, "tls": ca.tls("console:desk1")}), on_changed=lambda _: None,
                    on_station=online.append)
                desk.start()
                try:
                    await eventually(lambda: any(s and s.online for s in online),
                                     what="the console sees the station")
                    reply = await desk.login("zhang", PASSWORD, timeout=5)
                    assert reply.ok, reply
                    assert desk.console_id == "console:desk1"
                finally:
                    desk.close()
        finally:
            evil.close()


def raw_event(**fields: object) -> dict[str, object]:
    """An alarm event of h001 as a bare client writes it: the real hub escapes its own data."""
    return {"v": 1, "type": "event", "hub": "h001", "id": new_id(), "kind": "button.press",
            "source": "bedside", "ts": time.time(),
            "alarm": {"kind": "panic", "priority": 1, "contact_id": 101}, **fields}


async def test_control_characters_from_a_hub_are_refused_or_escaped_and_no_log_line_has_one(
        broker: Mosquitto, station_cfg: StationConfig, caplog: pytest.LogCaptureFixture) -> None:
    """ESC and line breaks sent by a hub over the real broker: in an event's ``kind`` (an
    identifier) the event is refused and kept in ``rejected``; in its data's values it is
    stored with ESC and BEL escaped (``\\x1b``), line breaks kept. No line the station logs
    carries a raw control character, which could forge a log line or clear a terminal."""
    caplog.set_level(logging.DEBUG)
    hub = Peer(broker.port, None)
    assert hub.connect()
    forged = raw_event(kind="button.press\x1b[2J\n12:00:00 INFO alarm a1 resolved")
    dirty = raw_event(data={"location": "卧室\x1b[31m", "note": "一行\n两行\x07"})
    try:
        async with StationService(station_cfg) as station:
            await eventually(lambda: station.t.connected, what="the station connected")
            hub.subscribe(wire.hub_topic("h001", wire.DOWN))
            for event in (forged, dirty):
                assert not hub.publish(wire.hub_topic("h001", "event"),
                                       json.dumps(event).encode()).is_failure
            acked = await asyncio.to_thread(hub.wait_for, wire.hub_topic("h001", wire.DOWN))
            assert [wire.decode_as(p, wire.Ack).ids for _, p in acked] == [[dirty["id"]]]
            alarm = station.store.alarm(str(dirty["id"]))
            assert alarm is not None and alarm.location == "卧室\\x1b[31m"
            (stored,) = station.store._db.execute("SELECT payload FROM events WHERE id = ?",
                                                  (dirty["id"],)).fetchone()
            assert json.loads(stored)["data"] == {"location": "卧室\\x1b[31m",
                                                  "note": "一行\n两行\\x07"}
            (kept,) = station.store._db.execute("SELECT topic, reason, payload FROM rejected")
            assert kept[0] == wire.hub_topic("h001", "event")
            assert "event.kind: control or format character '\\x1b' not allowed here" in kept[1]
            assert json.loads(kept[2])["id"] == forged["id"]  # kept as it came, for inspection
            assert station.store.alarm(str(forged["id"])) is None
    finally:
        hub.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any("rejected message on" in line for line in lines)
    assert [line for line in lines if any(unicodedata.category(c) == "Cc" for c in line)] == []


async def test_a_topic_the_broker_would_refuse_is_dropped_and_logged_not_sent_forever(
        broker: Mosquitto, caplog: pytest.LogCaptureFixture) -> None:
    """The transport's own guard, whatever a caller passes: the message is dropped with a log
    line, and the connection stays up for the next one."""
    caplog.set_level(logging.INFO, logger="hub.common.transport")
    ups: list[bool] = []
    t = PahoTransport(broker=BrokerConfig(port=broker.port), client_id="guarded",
                      loop=asyncio.get_running_loop())
    watcher = Peer(broker.port, None)
    assert watcher.connect()
    watcher.subscribe("anxin/#")
    t.start(lambda topic, payload: None, ups.append)
    try:
        await eventually(lambda: t.connected, what="connected")
        for topic in ("anxin/v1/station/reply/a\nb", "anxin/v1/station/reply/a\x7f",
                      "anxin/v1/station/reply/+", "anxin/v1/station/reply/#", ""):
            t.publish(topic, b"{}")
        t.subscribe("anxin/v1/station/reply/a\x00")
        t.publish("anxin/v1/station/reply/good", b"{}")
        await asyncio.to_thread(watcher.wait_for, "anxin/v1/station/reply/good")
        await asyncio.sleep(1.5)  # paho reconnects after 1 s: time to show a drop
        assert ups == [True] and t.connected
        assert watcher.topics() == ["anxin/v1/station/reply/good"]
        dropped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("not ")]
        assert len(dropped) == 6, dropped
        assert dropped[0] == ("not publishing on 'anxin/v1/station/reply/a\\nb': character "
                              "'\\n' refused by MQTT; dropped")
        assert "a wildcard (+ or #) in a topic name" in dropped[2]
    finally:
        t.close()
        watcher.close()
