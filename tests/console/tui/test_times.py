"""Times on the desk and in the ledger are read in the county's zone (county.yaml ``timezone``),
whatever zone the console's PC is set to; each says which moment it counts; the alarm screen
shows what caused the alarm, from the raising event's data (issue 17, items 15 and 16)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from textual.widgets import Input, Static

from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.ledger import LedgerScreen
from console.tui.widgets.alarm_queue import AlarmQueue
from console.tui.widgets.header import ZonedClock
from hub.common.events import Event
from tests.support.desk import Clock, at_desk
from tests.support.desk_station import DeskStation

COUNTY = ZoneInfo("Asia/Shanghai")  # the shipped county.yaml's


def county(text: str) -> float:
    """A county wall-clock time (``2026-12-01T00:30:00``) as epoch seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=COUNTY).timestamp()


@pytest.fixture
def pc_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the console process's own zone (TZ), as a PC set to another zone has it."""
    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def text(screen: AlarmScreen, part: str) -> str:
    return str(screen.query_one(f"#alarm-{part}", Static).content)


async def test_the_desk_reads_times_in_the_countys_zone_not_the_pcs(
        station: DeskStation, tmp_path: Path, pc_zone: Callable[[str], None]) -> None:
    pc_zone("America/New_York")
    t = county("2026-12-01T00:30:00")  # 30 November, 11:30 in New York
    alarm = station.raise_alarm("h001", now=t)
    async with at_desk(station, tmp_path, clock=Clock(t + 30)) as (app, pilot):
        queue = app.query_one(AlarmQueue)
        assert str(queue.cell(alarm, "time")) == "00:30:00"
        assert app.sub_title.endswith("2026-12-01")
        assert str(app.query_one(ZonedClock).render()) == "00:30:30"
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, AlarmScreen)
        assert "00:30:00" in text(screen, "timeline") and "11:30" not in text(screen, "timeline")
        assert text(screen, "facts").startswith("发生 00:30:00 · 服务站收到 00:30:00")


async def test_the_ledger_files_an_alarm_in_the_countys_month_and_names_its_file_so(
        station: DeskStation, tmp_path: Path, pc_zone: Callable[[str], None]) -> None:
    """Received a few seconds before midnight on 30 November, county time: on a PC an hour
    ahead it is already December, but the alarm is November's, on the screen, in the file's
    name and in its rows."""
    pc_zone("Asia/Tokyo")
    t = county("2026-11-30T23:59:30")
    alarm = station.raise_alarm("h001", now=t)
    station.store.claim(alarm, "zhang", "张三", now=t + 10)
    async with at_desk(station, tmp_path, clock=Clock(t + 20)) as (app, pilot):
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, LedgerScreen) and screen.ledger is not None
        assert str(screen.month) == "2026-11" and screen.ledger.answer.counted == 1
        screen.query_one("#ledger-folder", Input).value = str(tmp_path / "out")
        await pilot.press("e")
        await pilot.pause()
        assert (tmp_path / "out/ledger-2026-11.xlsx").exists()
        await pilot.press("n")
        assert screen.ledger.answer.counted == 0  # December has none
    rows = list(openpyxl.load_workbook(tmp_path / "out/ledger-2026-11.xlsx")["报警"].values)
    assert rows[1][:2] == (datetime(2026, 11, 30, 23, 59, 30), datetime(2026, 11, 30, 23, 59, 30))


def wandering(desk: DeskStation) -> str:
    """The radar last saw someone at 23:08:40; the front door opened at 23:10:05 and nobody
    came back: the hub raised the alarm at 23:25:05 (as hub/rules makes it)."""
    desk.send("h001", Event(kind="presence.off", source="radar", ts=county("2026-11-30T23:08:40"),
                               data={"room": "卧室"}), now=county("2026-11-30T23:08:41"))
    door = Event(kind="door.open", source="front_door", ts=county("2026-11-30T23:10:05"),
                 data={"room": "门厅", "type": "door"})
    desk.send("h001", door, now=door.ts + 1)
    data: dict[str, Any] = {**door.data, "rule": "wandering", "trigger_id": door.id,
                            "trigger_ts": door.ts, "last_seen": county("2026-11-30T23:08:40"),
                            "text": "夜间开门后15分钟内未见回到室内"}
    raised = county("2026-11-30T23:25:05")
    return desk.send("h001", Event(kind="door.open", source="front_door", ts=raised,
                                      alarm="wandering", data=data), now=raised + 1, priority=2)


async def test_the_wandering_alarm_says_when_the_door_opened_and_who_was_seen_last(
        station: DeskStation, tmp_path: Path) -> None:
    wandering(station)
    async with at_desk(station, tmp_path, clock=Clock(county("2026-11-30T23:26:00"))) as (app, pilot):
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, AlarmScreen)
        facts = text(screen, "facts").splitlines()
        assert facts == ["发生 23:25:05 · 服务站收到 23:25:06", "门厅 门磁 23:10:05 开门",
                         "室内最后有人 23:08:40"]
        home = text(screen, "home")
        # the alarm repeats the door's event: the door opened at 23:10:05, not when it was raised
        assert "门厅: 开 23:10:05" in home and "23:25:05" not in home
        assert "最后活动: 15分钟前" in home  # the door, 23:10:05
        await pilot.press("l")
        assert text(screen, "facts").splitlines()[1:] == [
            "门厅 door opened at 23:10:05", "last seen indoors 23:08:40"]


async def test_a_fall_shows_when_it_was_detected_and_when_it_was_sent(
        station: DeskStation, tmp_path: Path) -> None:
    detected = county("2026-11-30T10:00:00")
    station.send("h001", Event(kind="fall.detected", source="radar", ts=detected, alarm="fall",
                               data={"room": "卧室", "rule": "fall", "sent": detected + 30}),
                 now=detected + 30.4)
    async with at_desk(station, tmp_path, clock=Clock(detected + 40)) as (app, pilot):
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, AlarmScreen)
        assert text(screen, "facts") == "检测到 10:00:00 · 发出 10:00:30 · 服务站收到 10:00:30"
        await pilot.press("l")
        assert text(screen, "facts") == "detected 10:00:00 · sent 10:00:30 · received 10:00:30"


@pytest.mark.parametrize(("kind", "source", "data", "shown"), [
    ("sensor_silent", "kitchen_smoke",
     {"room": "厨房", "type": "smoke", "silent_s": 3600, "last_heard": county("2026-11-30T09:00:00")},
     "厨房 烟感 失联，最后信号 09:00:00"),
    ("sensor_silent", "radar", {"room": "卧室", "type": "radar", "reason": "port /dev/ttyAMA0 gone"},
     "卧室 雷达 失联：port /dev/ttyAMA0 gone"),
    ("battery_low", "front_door", {"room": "门厅", "type": "door", "percent": 12}, "门厅 门磁 电量低 12%"),
])
async def test_technical_alarms_name_their_device(station: DeskStation, tmp_path: Path,
                                                  kind: str, source: str, data: dict[str, Any],
                                                  shown: str) -> None:
    t = county("2026-11-30T10:00:00")
    station.send("h001", Event(kind="device.silent", source=source, ts=t, alarm=kind, data=data),
                 now=t, priority=3)
    async with at_desk(station, tmp_path, clock=Clock(t + 5)) as (app, pilot):
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, AlarmScreen)
        assert text(screen, "facts").splitlines()[1:] == [shown]
