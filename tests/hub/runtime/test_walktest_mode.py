"""Walk-test mode in the hub, every simulated device, the in-memory broker: device events are
tests (recorded, sent as walk-test events, a chirp and a prompt), never alarms; supervision
still raises its technical alarms; a detector still in alarm when the mode ends raises its
real alarm; the control socket (mode 0660) starts, reads and stops it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.common import wire
from hub.common.events import WALKTEST
from hub.common.linejson import SimError
from hub.common.transport import MemoryBroker
from hub.runtime import control
from hub.runtime.service import HubService
from hub.runtime.store import HubStore
from hub.runtime.uplink import last_will
from hub.runtime.walktest_session import CHIRP_S
from hub.sim.home import SimHome
from tests.conftest import eventually
from tests.support.home import Home, home_config


@pytest.fixture
def memory() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
async def home(tmp_path: Path, memory: MemoryBroker) -> AsyncIterator[Home]:
    async with HubService(home_config(tmp_path),
                          transport=lambda cfg, _: memory.client(last_will(cfg.hub_id))) as hub, \
            SimHome(hub) as sim:
        yield Home(hub, sim)


def sent(hub: HubService) -> list[wire.EventMsg]:
    """What the hub has put in its outbox for the station, oldest first."""
    return [wire.decode_as(p.payload, wire.EventMsg) for p in hub.store.pending()]


def walktests(hub: HubService) -> list[tuple[str, str]]:
    return [(m.source, m.kind) for m in sent(hub) if m.alarm and m.alarm.kind == WALKTEST]


async def test_device_events_in_walk_test_mode_are_tests_not_alarms(home: Home) -> None:
    hub = home.hub
    hub.walktest.start(600, "王工")
    for verb in ("press bedside", "cancel", "ble-button pendant press", "smoke", "gas", "leak",
                 "door-open", "walk-in", "fall", "mains-fail"):
        await home.do(verb)
    tested = {("bedside", "button.press"), ("cancel", "cancel.press"), ("pendant", "button.press"),
              ("kitchen_smoke", "smoke.on"), ("kitchen_gas", "gas.on"), ("bath_leak", "leak.on"),
              ("front_door", "door.open"), ("radar", "presence.on"), ("radar", "fall.detected"),
              ("mains", "mains.fail")}
    await eventually(lambda: tested <= set(walktests(hub)), what="every device as a walk test")
    await asyncio.sleep(CHIRP_S + 0.2)
    assert home.alarms() == {}  # no call, no fall question, no smoke or gas alarm
    assert not hub.hw.relays["gas_valve"].energised  # the valve stays open
    assert hub.hw.siren and hub.hw.siren.pattern is None  # the chirps are over, no T3/T4
    assert not {"call_sent", "fall_question", "smoke_warning", "gas_advice"} & set(home.heard())
    assert home.heard()[0] == "walktest_on" and "walktest_seen" in home.heard()

    msgs = {m.source: m for m in sent(hub)}
    smoke = msgs["kitchen_smoke"]
    assert smoke.alarm and (smoke.alarm.priority, smoke.alarm.contact_id) == (4, 601)
    assert smoke.data == {"room": "厨房", "rssi": -60, "battery": 90}
    assert msgs["bedside"].data == {"location": "卧室床头"}
    start = next(m for m in sent(hub) if m.kind == "walktest.start")
    assert start.data["installer"] == "王工" and start.data["minutes"] == 10
    seen = hub.walktest.mode.since(0)
    assert [(s.source, s.kind) for s in seen][:2] == [("bedside", "button.press"),
                                                     ("cancel", "cancel.press")]
    assert next(s for s in seen if s.source == "kitchen_smoke").where == "厨房"


async def test_each_device_seen_chirps_once(home: Home) -> None:
    hub = home.hub
    assert hub.hw.siren
    hub.walktest.start(600, "")
    await home.do("press bedside")
    await eventually(lambda: hub.hw.siren and hub.hw.siren.pattern == "chirp", what="a chirp")
    await asyncio.sleep(CHIRP_S + 0.2)
    assert hub.hw.siren.pattern is None
    await home.do("press bedside")  # the same device again at once: recorded, not announced
    await eventually(lambda: walktests(hub).count(("bedside", "button.press")) == 2)
    assert home.heard().count("walktest_seen") == 1


async def test_supervision_still_raises_technical_alarms_in_walk_test_mode(home: Home) -> None:
    home.hub.walktest.start(600, "")
    await home.do("battery-low bath_leak 8")
    await eventually(lambda: "battery_low" in home.alarms(), what="low battery alarm")
    assert ("bath_leak", "battery.low") not in walktests(home.hub)


async def test_a_detector_still_in_alarm_when_the_mode_ends_raises_its_real_alarm(home: Home) -> None:
    hub = home.hub
    hub.walktest.start(600, "")
    await home.do("smoke")
    await eventually(lambda: ("kitchen_smoke", "smoke.on") in walktests(hub))
    await home.do("mains-fail")
    await eventually(lambda: ("mains", "mains.fail") in walktests(hub))
    assert home.alarms() == {}
    hub.walktest.end("stopped by the installer")
    assert home.heard()[-1] == "walktest_off"
    assert ("hub", "walktest.end") in walktests(hub)
    assert home.kinds()[-1] == "mains.fail"  # read again at once: the rules' delay starts now
    home.sim.advertise("kitchen_smoke")  # the detector's next regular advert: still smoke
    await eventually(lambda: "smoke" in home.alarms(), what="the real smoke alarm")
    assert hub.hw.siren and hub.hw.siren.pattern == "fire"


async def test_the_mode_ends_by_itself_then_a_press_is_a_call_again(home: Home) -> None:
    hub = home.hub
    hub.walktest.start(0.3, "")
    await home.do("press bedside")
    await eventually(lambda: ("bedside", "button.press") in walktests(hub))
    await eventually(lambda: ("hub", "walktest.end") in walktests(hub), timeout=3,
                     what="the mode ended when its time ran out")
    end = next(m for m in sent(hub) if m.kind == "walktest.end")
    assert end.data["reason"] == "its time ran out"
    await home.do("press bedside")
    await eventually(lambda: "panic" in home.alarms(), what="a real call")


async def test_a_hub_stopping_in_walk_test_mode_tells_the_station(tmp_path: Path,
                                                                  memory: MemoryBroker) -> None:
    cfg = home_config(tmp_path)
    async with HubService(cfg, transport=lambda c, _: memory.client(last_will(c.hub_id))) as hub:
        hub.walktest.start(600, "")
    store = HubStore(cfg.data_dir / "hub.db")
    try:
        kinds = [wire.decode_as(p.payload, wire.EventMsg).kind for p in store.pending()]
    finally:
        store.close()
    assert "walktest.end" in kinds  # stored: it goes when the hub is back
    assert not (cfg.data_dir / "control.sock").exists()


async def test_the_control_socket_drives_the_mode(home: Home, memory: MemoryBroker) -> None:
    hub, cfg = home.hub, home.hub.cfg

    async def call(command: str) -> Any:
        return await asyncio.to_thread(control.call, cfg, command, 5.0)

    assert (cfg.data_dir / "control.sock").stat().st_mode & 0o777 == 0o660
    with pytest.raises(SimError, match="walk-test mode is not on"):
        await call("walktest speaker")
    with pytest.raises(SimError, match="at most 120"):
        await call("walktest start 500")
    with pytest.raises(SimError, match="bad arguments"):
        await call("walktest start soon")
    with pytest.raises(SimError, match="usage: walktest start"):
        await call("walktest dance")

    started = await call("walktest start 30 王 工")
    assert isinstance(started, dict) and started["hub"] == "h001" and started["version"]
    assert hub.walktest.mode.installer == "王 工" and started["cursor"] == 0
    assert 29 * 60 < started["until"] - time.time() <= 30 * 60
    await home.do("press cord")
    got = await eventually(lambda: hub.walktest.mode.since(0), what="the press recorded")
    seen = await call("walktest events 0")
    assert isinstance(seen, dict) and seen["active"] and seen["cursor"] == 1
    assert [(e["source"], e["kind"], e["where"]) for e in seen["events"]] == [
        ("cord", "button.press", "卫生间拉绳")]
    assert (await call("walktest events 1"))["events"] == []
    assert got[0].n == 1
    assert await call("walktest speaker") == {"text": "这是扬声器测试"}
    assert home.heard()[-1] == "walktest_speaker"

    # no station on this broker: the ping is not acknowledged
    assert (await call("walktest ping 0.2"))["rtt_ms"] is None
    # a stand-in station acknowledges every event: the round trip is timed
    station = memory.client()
    station.subscribe(wire.hub_wildcard("event"))
    station.start(lambda topic, p: station.publish(wire.hub_topic("h001", wire.DOWN), wire.encode(
        wire.Ack(ids=[wire.decode_as(p, wire.EventMsg).id], ts=time.time()))), lambda up: None)
    rtt = (await call("walktest ping 5"))["rtt_ms"]
    assert isinstance(rtt, float) and 0 <= rtt < 1000

    summary = {"result": "PASS", "passed": 3, "checks": 3, "problems": []}
    assert await call("walktest report " + json.dumps(summary)) == {"sent": True}
    assert await call("walktest stop") == {"active": False}
    assert not (await call("walktest events 0"))["active"]
    await eventually(lambda: len(hub.walktest.mode.rtt) >= 2, what="the report acknowledged too")
