"""The queue and the desk's roster as a reviewer found them in tmux, driven by Pilot over a real
station database: Escape in the queue's filter gives the keys back to the queue, the filter says
how many alarms it hides (and whether an urgent one is among them) and finds elders by pinyin
initials as the roster does; the state and the officer stay on screen at 80 columns; nothing
moves sideways when an alarm escalates; and the roster follows the heartbeats, which the
station stores without announcing them."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from textual.widgets import Input

from console.station.config import Home
from console.tui.app import ConsoleApp
from console.tui.screens.roster import RosterScreen
from console.tui.widgets.alarm_queue import AlarmQueue, QueueFilter
from console.tui.widgets.roster import Roster
from console.tui.widgets.vtable import VirtualTable
from tests.conftest import eventually
from tests.support.desk import HOMES, T0, Clock, at_desk
from tests.support.desk_station import DeskStation

# the demo's addresses (config/homes.yaml): as long as a township's are
ADDRESSES = {"h001": "青石镇桃源村三组12号", "h002": "青石镇河西街45号2单元101",
             "h003": "青石镇柳湾村一组3号", "h004": "青石镇东山村五组8号"}


@pytest.fixture
def desk(tmp_path: Path) -> DeskStation:
    return DeskStation(tmp_path / "station.db", [
        Home(hub=h.hub, elder=h.elder.model_copy(update={"address": ADDRESSES[h.hub]}))
        for h in HOMES if h.elder])


def screen_text(app: ConsoleApp) -> str:
    """The terminal's lines as drawn now."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def line_of(table: VirtualTable, key: str) -> str:
    """The row of ``key`` as the table draws it (the table shows every row in these tests)."""
    return table.render_line(table.keys.index(key) + 1 - table.scroll_offset.y).text


async def test_escape_clears_and_closes_the_filter_and_c_claims(desk: DeskStation,
                                                                tmp_path: Path) -> None:
    async with at_desk(desk, tmp_path, size=(120, 30)) as (app, pilot):
        ids = {hub: desk.raise_alarm(hub) for hub in ("h001", "h002", "h003")}
        queue, box = app.query_one(AlarmQueue), app.query_one("#queue-filter", Input)
        assert isinstance(box, QueueFilter)

        await pilot.press("slash", *"张")
        assert [a.id for a in queue.alarms] == [ids["h002"]]
        # the filter says what it hides: two more alarms, both P1
        title = str(box.border_title)
        assert "显示 1/3" in title and "另有 2 条紧急/超时报警被筛选隐藏" in title
        assert "显示 1/3" in screen_text(app)

        await pilot.press("escape")
        assert box.has_class("hidden") and not box.has_focus and box.value == ""
        assert queue.has_focus and queue.filter == "" and queue.row_count == 3
        assert "显示" not in screen_text(app)

        await pilot.press("c")  # claims the alarm under the cursor, types nothing anywhere
        assert box.value == ""
        await eventually(lambda: any(op == "claim" for op, _, _ in desk.requests),
                         what="the claim requested")

        # Enter keeps the filter, with its count, and gives the keys back to the queue too
        app.pop_screen()  # the claimed alarm's screen
        await pilot.press("slash", *"刘", "enter")
        assert queue.has_focus and not box.has_class("hidden")
        assert [a.id for a in queue.alarms] == [ids["h003"]]
        assert "显示 1/3" in str(box.border_title)


async def test_the_filter_finds_elders_by_pinyin_as_the_roster_does(desk: DeskStation,
                                                                     tmp_path: Path) -> None:
    async with at_desk(desk, tmp_path, size=(120, 30), language="en") as (app, pilot):
        ids = {hub: desk.raise_alarm(hub) for hub in ("h001", "h002", "h003")}
        smoke = desk.raise_alarm("h004", kind="smoke", priority=2)
        queue, box = app.query_one(AlarmQueue), app.query_one(QueueFilter)
        await pilot.press("slash", *"zjg")  # 张建国 by initials
        assert [a.id for a in queue.alarms] == [ids["h002"]]
        assert "showing 1 of 4" in str(box.border_title)
        box.value = ""
        await pilot.press(*"wangxy")  # 王秀英, part spelled out
        assert [a.id for a in queue.alarms] == [ids["h001"]]
        box.value = ""
        await pilot.press(*"smoke")  # the kind, in the console's language, still finds
        assert [a.id for a in queue.alarms] == [smoke]
        box.value = ""
        await pilot.press(*"h003")  # and the hub
        assert [a.id for a in queue.alarms] == [ids["h003"]]


async def test_an_escalated_alarm_the_filter_hides_is_still_announced(desk: DeskStation,
                                                                       tmp_path: Path) -> None:
    clock = Clock(T0)
    async with at_desk(desk, tmp_path, size=(120, 30), clock=clock) as (app, pilot):
        late = desk.raise_alarm("h003", kind="battery_low", priority=4, now=T0)
        desk.raise_alarm("h002", kind="battery_low", priority=4, now=T0 + 50)
        queue, box = app.query_one(AlarmQueue), app.query_one(QueueFilter)
        await pilot.press("slash", *"张", "enter")
        assert "另有" not in str(box.border_title)  # nothing urgent hidden yet
        clock.now = T0 + 61
        await pilot.pause(1.2)
        assert [a.id for a in queue.escalated()] == [late]
        assert "另有 1 条紧急/超时报警被筛选隐藏" in str(box.border_title)


@pytest.mark.parametrize(("language", "width", "claimed", "officer"),
                         [("zh_CN", 80, "已接警", "张三"), ("en", 80, "claimed", "张三"),
                          ("en", 100, "claimed", "张三"), ("zh_CN", 100, "已接警", "张三")])
async def test_state_and_officer_always_show_the_address_gives_way(
        desk: DeskStation, tmp_path: Path, language: str, width: int, claimed: str,
        officer: str) -> None:
    async with at_desk(desk, tmp_path, size=(width, 24), language=language) as (app, pilot):
        mine = desk.raise_alarm("h001", kind="smoke", priority=2)
        waiting = desk.raise_alarm("h002", kind="checkin_missed", priority=2)
        queue = app.query_one(AlarmQueue)
        queue.focus()
        queue.cursor = queue.keys.index(mine)
        await pilot.press("c")
        await eventually(lambda: app.screen is not app.screen_stack[0], what="the alarm screen")
        app.pop_screen()
        await pilot.pause()
        t = app.texts
        header = queue.render_line(0).text
        assert t("col_state") in header and t("col_officer") in header
        assert f"{claimed} " in line_of(queue, mine) and f" {officer} " in line_of(queue, mine)
        assert t("state_delivered") in line_of(queue, waiting)
        # the address, not the state, is cut (or hidden) when the terminal is short
        address = ADDRESSES["h001"]
        assert len(queue.render_line(0).text.rstrip()) <= width
        if width == 100 and language == "zh_CN":
            assert address in line_of(queue, mine)


async def test_columns_stay_put_when_an_alarm_escalates(desk: DeskStation, tmp_path: Path) -> None:
    clock = Clock(T0)
    async with at_desk(desk, tmp_path, size=(100, 24), clock=clock) as (app, pilot):
        a = desk.raise_alarm("h001", now=T0)
        queue = app.query_one(AlarmQueue)
        clock.now = T0 + 30
        await pilot.pause(1.2)
        before, header = list(queue.shown), queue.render_line(0).text
        assert "超时" not in line_of(queue, a)
        clock.now = T0 + 61
        await pilot.pause(1.2)
        assert "超时 ⚑主管" in line_of(queue, a)
        assert queue.shown == before and queue.render_line(0).text == header
        # nor when the language changes back and forth, nor when it is claimed
        await pilot.press("l", "l")
        assert queue.shown == before


async def test_the_desk_roster_follows_heartbeats(desk: DeskStation, tmp_path: Path) -> None:
    desk.store.heartbeat("h001", pending=0, now=time.time() - 420)
    async with at_desk(desk, tmp_path, size=(120, 30)) as (app, pilot):
        roster = app.query_one(Roster)
        await pilot.pause()
        assert "7分钟前" in line_of(roster, "h001")
        # the station stores heartbeats without announcing them (only a home back online)
        desk.store.heartbeat("h001", pending=3, now=time.time())
        # re-read once a second: waited for, not slept for (a loaded machine draws late)
        await eventually(lambda: " 3 " in line_of(roster, "h001"), timeout=5,
                         what="the heartbeat on the row")
        row = line_of(roster, "h001")
        assert "7分钟前" not in row and age(row) <= 2
        await eventually(lambda: "7分钟前" not in screen_text(app), timeout=5,
                         what="no stale age anywhere on the screen")
        # and the ages move on between heartbeats
        first = age(row)
        await eventually(lambda: age(line_of(roster, "h001")) >= first + 2, timeout=6,
                         what="the age moving on")


async def test_the_full_roster_follows_heartbeats(desk: DeskStation, tmp_path: Path) -> None:
    desk.store.heartbeat("h001", pending=0, now=time.time() - 25)
    async with at_desk(desk, tmp_path, size=(120, 30)) as (app, pilot):
        await pilot.press("f2")
        screen = await eventually(lambda: isinstance(app.screen, RosterScreen) and app.screen,
                                  what="the roster")
        table = screen.query_one(VirtualTable)
        await pilot.pause()
        first = age(screen_text(app))
        assert 25 <= first < 40
        # its age moves on without a key pressed
        await eventually(lambda: age(screen_text(app)) >= first + 2, timeout=6,
                         what="the age moving on")
        desk.store.heartbeat("h001", pending=0, now=time.time())
        await eventually(lambda: age(line_of(table, "h001")) <= 2, timeout=5,
                         what="the new heartbeat on the row")
        assert age(screen_text(app)) <= 2


def age(text: str) -> int:
    """The heartbeat age in seconds shown in ``text`` (one home with a heartbeat)."""
    [n] = re.findall(r"(\d+)秒前", text)
    return int(n)
