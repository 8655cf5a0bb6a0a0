"""Walk tests at the station: stored as the home's record, never as alarms. A real Mosquitto,
the station service, a simulated hub in walk-test mode and the console driven by Pilot: the
test shows in the roster as 测试 / "walk test" with the device, never in the queue, and
never rings; the mode's start, end and the report are in the audit log."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.store.rows import WalkTestRow
from console.station.store.station import StationStore
from console.station.users import Role
from console.tui.app import ConsoleApp
from console.tui.widgets.alarm_queue import AlarmQueue
from console.tui.widgets.roster import Roster
from drivers.gpio.sim import SimPins
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually
from tests.support.accounts import add_users, log_in


@pytest.fixture(autouse=True)
def officer(station_cfg: StationConfig, cheap_passwords: None) -> None:
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY))


T0 = 1_796_668_069.0


def roster_cell(app: ConsoleApp, hub: str) -> str:
    return str(app.query_one(Roster).cell(hub, "walktest"))


def test_a_report_from_a_hub_shows_only_what_it_can_word() -> None:
    """The summary comes off the wire: odd items are left out, an unknown check shows the
    device's name, never a crash or a raw key."""
    from console.tui.i18n import Texts

    roster = Roster(Texts("zh_CN"))
    items = [{"device": "x1", "check": "teleport", "where": "阁楼"}, "junk", 7,
             {"device": "front_door", "check": "door"}]
    assert roster._not_passed(items) == "阁楼x1、门磁"
    assert roster._not_passed({"not": "a list"}) == "" and roster._not_passed(None) == ""


@pytest.mark.parametrize(("kind", "source", "data", "zh", "en"), [
    ("button.press", "bedside", {"location": "卧室床头"}, "卧室床头 呼叫按钮", "卧室床头 call button"),
    ("cancel.press", "cancel", {}, "取消按钮", "cancel button"),  # hub.yaml gave it no place
    ("door.open", "hall_window", {"room": "客厅", "type": "window"}, "客厅 窗磁", "客厅 window"),
    ("fall.detected", "radar", {"room": "卧室"}, "卧室 跌倒雷达", "卧室 fall radar"),
    ("mains.fail", "mains", {}, "市电", "mains power"),
    ("teleport.on", "x1", {"room": "阁楼"}, "阁楼 teleport", "阁楼 teleport"),  # a kind without words
])
def test_the_device_tested_is_named_by_its_place_and_kind(kind: str, source: str, data: dict[str, str],
                                                          zh: str, en: str) -> None:
    from console.tui.i18n import Texts

    row = WalkTestRow("w1", "h001", kind, source, T0, data)
    at = Texts("zh_CN").clock(T0)
    assert Roster(Texts("zh_CN"))._tested(row) == f"测试 {zh} {at}"
    assert Roster(Texts("en"))._tested(row, "walktest_latest") == f"last: {en} {at}"


async def test_a_walk_test_shows_in_the_roster_never_in_the_queue(
        station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, HubService(hub_cfg()) as hub:
        app = ConsoleApp(station_cfg)
        bells: list[None] = []
        app.bell = lambda: bells.append(None)  # type: ignore[method-assign]
        async with app.run_test(size=(160, 30)) as pilot:
            await log_in(pilot, app, "zhang")
            await eventually(lambda: hub.link.connected and app.station_online, what="all up")
            hub.walktest.start(600, "王工")
            await asyncio.to_thread(SimPins(hub.pins).click, 17)

            await eventually(lambda: "最近" in roster_cell(app, "h001"),
                             what="the walk test in the roster")
            cell = roster_cell(app, "h001")  # the device as the officer knows it, not hub.yaml's name
            assert cell.startswith("测试中（至 ") and "最近 卧室床头 呼叫按钮 " in cell
            assert "bedside" not in cell
            assert app.query_one(AlarmQueue).row_count == 0 and not bells
            assert station.store.count("alarms") == 0 and station.store.open_alarms() == []
            [start, press] = station.store.walktests("h001")
            assert (start.kind, press.kind, press.source) == ("walktest.start", "button.press",
                                                              "bedside")
            assert press.data == {"location": "卧室床头"}

            await pilot.press("l")
            assert roster_cell(app, "h001").startswith("walk test until ")
            assert "last: 卧室床头 call button " in roster_cell(app, "h001")

            hub.walktest.send(hub.walktest.mode.report(
                {"result": "FAIL", "passed": 12, "checks": 14, "problems": [], "not_passed": [
                    {"device": "front_door", "check": "door", "where": "门厅", "status": "not seen"},
                    {"device": "cancel", "check": "cancel", "where": "", "status": "failed"}]},
                time.time()))
            hub.walktest.end("stopped by the installer")
            await eventually(lambda: "report" in roster_cell(app, "h001"), what="the report shown")
            assert roster_cell(app, "h001").startswith("walk-test report ")
            # which devices kept the home from passing, worded in the console's language
            assert roster_cell(app, "h001").endswith(": FAIL 12/14 (door sensor in 门厅, cancel "
                                                     "button)")
            await pilot.press("l")
            assert roster_cell(app, "h001").startswith("测试报告 ")
            assert roster_cell(app, "h001").endswith("：未通过 12/14（门厅门磁、取消键）")
            home = station.store.home("h001")
            assert home and home.walktest_until is None and home.walktest_by == "王工"
            trail = [(e.actor, e.action) for e in station.store.audit_entries(target="h001")
                     if e.action.startswith("walktest.")]
            assert trail == [("h001", "walktest.start"), ("h001", "walktest.report"),
                             ("h001", "walktest.end")]

            # the mode is over: the same button calls for help again, and that rings
            await asyncio.to_thread(SimPins(hub.pins).click, 17)
            await eventually(lambda: app.query_one(AlarmQueue).row_count == 1, what="a real call")
            assert bells


def test_an_older_station_database_gains_the_walk_test_columns(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    StationStore(db).close()
    with sqlite3.connect(db) as old:  # a database from before walk tests
        for column in ("walktest_until", "walktest_by", "walktest_last"):
            old.execute(f"ALTER TABLE homes DROP COLUMN {column}")
        old.execute("INSERT INTO homes(hub) VALUES ('h009')")
    store = StationStore(db)
    try:
        home = store.home("h009")
        assert home is not None and home.walktest_until is None and home.walktest_last is None
    finally:
        store.close()
