"""A full disk at the station, then freed: the station service (a real process on a real
Mosquitto, its database unable to grow: tests/support/diskfull.py) goes on supervising through it.
While it cannot write, the console says so on every screen; once space is back, the alarm
left unclaimed meanwhile is escalated, the hub that froze meanwhile is marked offline, the
station's status is said again, and a note typed meanwhile is filed at the time it was
written."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from console.station.config import StationConfig
from console.station.store.reader import StationReader
from console.station.trust.broker import Mosquitto
from console.station.users import Role
from console.tui.app import ConsoleApp
from console.tui.screens.roster import RosterScreen
from console.tui.widgets.alarm_queue import AlarmQueue
from console.tui.widgets.station_banner import StationBanner
from drivers.gpio.sim import SimPins
from hub.cli import demo
from hub.cli.demo import write_yaml
from hub.common import wire
from hub.common.transport import BrokerConfig, PahoTransport
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from hub.runtime.uplink import last_will
from tests.conftest import REPO, eventually
from tests.support.accounts import add_users, log_in
from tests.support.diskfull import disk_full

LIMIT_S = 5  # escalate_after_s and offline_after_s: both fall due while the disk is full
FULL = "服务站无法写入数据库"


@pytest.fixture
def station(tmp_path: Path, broker: Mosquitto) -> Iterator[tuple[StationConfig, subprocess.Popen[bytes]]]:
    data = {"database": str(tmp_path / "station" / "station.db"), "broker": {"port": broker.port},
            "homes_file": str(REPO / "config/homes.yaml"), "escalate_after_s": LIMIT_S,
            "offline_after_s": LIMIT_S}
    cfg = StationConfig.model_validate(data)
    add_users(cfg.database, ("zhang", "张三", Role.DUTY))
    path = write_yaml(tmp_path / "station" / "station.yaml", data)
    proc = demo.spawn(["station", "--config", str(path)], path.with_suffix(".log"))
    try:
        yield cfg, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def heartbeats(hub: str, port: int) -> None:
    """A hub that only says it is there, once a second, until cancelled: then it is frozen
    (its broker connection stays up, nothing more comes)."""
    t = PahoTransport(broker=BrokerConfig(port=port), client_id=f"anxin-hub-{hub}",
                      loop=asyncio.get_running_loop(), will=last_will(hub))
    t.start(lambda topic, payload: None, lambda up: None)
    try:
        await eventually(lambda: t.connected, what=f"{hub} connected")
        t.publish(wire.hub_topic(hub, "status"),
                  wire.encode(wire.Status(hub=hub, online=True, ts=time.time())), retain=True)
        for seq in range(1, 10**6):
            t.publish(wire.hub_topic(hub, "heartbeat"), wire.encode(wire.Heartbeat(
                hub=hub, ts=time.time(), seq=seq, pending=0)), qos=0)
            await asyncio.sleep(1)
    finally:
        t.close()


def banner(screen: object) -> str:
    """The station banner's text on ``screen`` ("" while it is hidden)."""
    b = screen.query_one(StationBanner)  # type: ignore[attr-defined]
    return str(b.render()) if b.display else ""


async def test_a_full_disk_then_freed(station: tuple[StationConfig, subprocess.Popen[bytes]],
                                      hub_cfg: Callable[..., HubConfig], broker: Mosquitto) -> None:
    cfg, proc = station
    read = StationReader.open(cfg.database)
    app = ConsoleApp(cfg)
    app.bell = lambda: None  # type: ignore[method-assign]
    frozen = asyncio.create_task(heartbeats("h002", broker.port))
    async with HubService(hub_cfg()) as hub, app.run_test(size=(120, 40)) as pilot:
        hub_online = lambda: (h := read.home("h002")) is not None and h.online  # noqa: E731
        await eventually(lambda: app.station_online and hub.link.connected and hub_online(),
                         timeout=20, what="station, hub and the second hub up")
        await log_in(pilot, app, "zhang")
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        queue = app.query_one(AlarmQueue)
        await eventually(lambda: queue.row_count == 1, what="the alarm in the queue")
        [alarm] = read.open_alarms()

        frozen.cancel()  # h002 freezes
        with disk_full(proc.pid, cfg.database):
            full_since = time.time()
            await eventually(lambda: FULL in banner(app.screen), what="the desk's banner")
            await pilot.press("enter")  # the alarm screen says so too
            screen = await eventually(lambda: app.alarm_screen, what="the alarm screen")
            await eventually(lambda: FULL in banner(screen), what="the alarm screen's banner")
            await pilot.press("n", *"家属已赶往", "enter")  # the station cannot store it now
            timeline = screen.query_one("#alarm-timeline", Static)
            await eventually(lambda: "待发送" in str(timeline.render()), what="the note kept")
            written = time.time()
            await pilot.press("escape", "f2")
            roster = await eventually(lambda: isinstance(app.screen, RosterScreen) and app.screen,
                                      what="the roster")
            await eventually(lambda: FULL in banner(roster), what="the roster's banner")
            # past both limits while full: the escalation and the offline mark cannot be written
            await asyncio.sleep(max(0.0, full_since + LIMIT_S + 3 - time.time()))
            assert read.alarm(alarm.id).escalated is None  # type: ignore[union-attr]
            assert hub_online()
        freed = time.time()

        await eventually(lambda: (a := read.alarm(alarm.id)) is not None and a.escalated,
                         timeout=10, what="the alarm escalated once space is back")
        await eventually(lambda: not hub_online(), timeout=10, what="the frozen hub offline")
        await eventually(lambda: app.station and app.station.writable and app.station.ts > freed,
                         timeout=10, what="the station's status said again, writable")
        assert banner(roster) == "" and "服务站服务在线" in banner(app.screen_stack[0])
        await pilot.press("escape")
        await eventually(lambda: [a.id for a in queue.escalated()] == [alarm.id],
                         what="the console shows it escalated")
        notes = [(ts, note) for _, ts, who, note in read.alarm_log(alarm.id) if who == "张三"]
        assert [n for _, n in notes] == ["家属已赶往"], "the kept note sent once, after"
        assert notes[0][0] < written, "filed at the time it was written"
    read.close()
