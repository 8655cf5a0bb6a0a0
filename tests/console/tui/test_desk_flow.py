"""The desk's guard rails and its record, as a duty officer meets them: resolving asks for a
claim first, leaving asks while alarms are open, refusals and the timeline read in the
console's language (notes as notes, a call's end, the calls with their recordings)."""

from __future__ import annotations

import time
from pathlib import Path

from textual.command import CommandInput, CommandPalette

from console.station.calls import CALL_ENDED
from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.resolve import ResolveScreen
from console.tui.widgets.alarm_queue import AlarmQueue
from console.tui.widgets.elder_card import ElderCard
from hub.common import wire
from hub.common.events import CANCEL_KIND, AlarmState, Event
from tests.conftest import eventually
from tests.support.desk import Clock, at_desk
from tests.support.desk_station import DeskStation


def toasts(app: object) -> list[str]:
    return [str(n.message) for n in app._notifications]  # type: ignore[attr-defined]


async def test_resolving_an_unclaimed_alarm_asks_for_the_claim_first(station: DeskStation,
                                                                      tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, pilot):
        station.raise_alarm("h002")
        app.query_one(AlarmQueue).focus()
        await eventually(lambda: app.desk.queue.row_count == 1, what="the alarm in the queue")
        await pilot.press("r")
        await eventually(lambda: "请先接警（c），再处置" in toasts(app), what="the warning")
        assert not isinstance(app.screen, ResolveScreen) and station.requests == []


async def test_a_refusal_reads_in_the_console_language(station: DeskStation, tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, pilot):
        alarm = station.raise_alarm("h002")
        app.query_one(AlarmQueue).focus()
        await eventually(lambda: app.desk.queue.row_count == 1, what="the alarm in the queue")
        station.store.claim(alarm, "li", "李四")  # another console got there first
        await pilot.press("c")
        await eventually(lambda: "李四 已接警" in toasts(app), what="the refusal, naming who has it")
        await pilot.pause()
        assert not any("already claimed" in m for m in toasts(app))


async def test_leaving_asks_while_alarms_are_open(station: DeskStation, tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, pilot):
        station.raise_alarm("h002")
        app.query_one(AlarmQueue).focus()
        await pilot.press("q")
        await eventually(lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "还有 1 条报警未处置" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("enter")  # Enter is "stay": the focus starts on it
        await eventually(lambda: not isinstance(app.screen, ConfirmScreen), what="stayed")
        assert app.is_running
        await pilot.press("q", "y")
        await eventually(lambda: not app.is_running, what="left")


async def test_the_timeline_tells_notes_calls_and_the_outcome(station: DeskStation,
                                                             tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, pilot):
        alarm = station.raise_alarm("h001", kind="fall")
        app.query_one(AlarmQueue).focus()
        await pilot.press("c")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="alarm screen")
        screen = app.screen
        assert isinstance(screen, AlarmScreen)
        # a call that opened and ended, as the station stores it
        with station.store._tx() as db:
            db.execute("INSERT INTO calls(id, hub, alarm, console, username, officer, started, "
                       "answered, ended, reason, duration, recording, recorded) "
                       "VALUES ('c1','h001',?,'k','zhang','张三',?,?,?,'hangup',42,'/rec/c1.ogg',42)",
                       (alarm, time.time(), time.time(), time.time()))
            db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)",
                       (alarm, AlarmState.CLAIMED.value, time.time(), "张三", CALL_ENDED))
        await pilot.press("n", *"老人说头晕", "enter")
        timeline = lambda: str(screen.query_one("#alarm-timeline").render())  # noqa: E731
        await eventually(lambda: "备注 张三: 老人说头晕" in timeline(), what="the note as a note")
        assert "已接警 张三: 老人说头晕" not in timeline()
        assert "通话结束 张三" in timeline()
        assert "通话: " in timeline() and "0:42" in timeline() and "/rec/c1.ogg" in timeline()
        await pilot.press("escape")
        card = str(app.query_one(ElderCard).render())
        assert "王秀英  " in card and "备注 张三: 老人说头晕" in card
        await pilot.press("r")
        await eventually(lambda: isinstance(app.screen, ResolveScreen), what="resolve")
        await pilot.press("down", "down", "enter", *"已联系儿子", "enter")
        await eventually(lambda: "已处置：王秀英 · 跌倒 · 电话确认平安" in toasts(app), what="the toast")
        log = station.store.alarm_log(alarm)
        assert log[-1][0] is AlarmState.RESOLVED


async def test_an_alarm_cancelled_at_home_says_so_as_it_leaves(station: DeskStation,
                                                               tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, _):
        alarm = station.raise_alarm("h002")
        await eventually(lambda: app.desk.queue.row_count == 1, what="the alarm in the queue")
        cancel = Event(kind=CANCEL_KIND, source="bedside", ts=time.time(), data={"ref": alarm})
        station.store.store_event(wire.event_msg("h002", cancel))
        station.on_changed(wire.Changed(what="alarm", id=alarm))
        await eventually(lambda: app.desk.queue.row_count == 0, what="gone from the queue")
        await eventually(lambda: "张建国 在家中取消了报警（紧急呼叫）" in toasts(app), what="the toast")


async def test_the_home_state_names_rooms_shows_an_alarming_sensor_and_keeps_time(
        station: DeskStation, tmp_path: Path) -> None:
    clock = Clock(time.time())
    async with at_desk(station, tmp_path, clock=clock) as (app, pilot):
        smoke = Event(kind="smoke.on", source="kitchen_smoke", ts=clock.now - 30, data={"room": "厨房"})
        station.store.store_event(wire.event_msg("h001", smoke))
        station.raise_alarm("h001", kind="smoke")
        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="alarm screen")
        home = lambda: str(app.screen.query_one("#alarm-home").render())  # noqa: E731
        assert "厨房 烟感 报警中" in home() and "kitchen_smoke" not in home()
        assert "30秒前" in home()
        clock.now += 60
        await eventually(lambda: "90秒前" in home(), what="the age moves on by itself")


async def test_the_command_palette_speaks_the_console_language(station: DeskStation,
                                                              tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"配色主题", "退出值班台", "按键说明", "截图", "全部住户"} <= set(titles)
        assert not {"Theme", "Quit", "Keys", "Screenshot"} & set(titles)
        assert app.active_bindings["ctrl+p"].binding.description == "命令"
        await pilot.press("ctrl+p")
        await eventually(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        assert app.screen.query_one(CommandInput).placeholder == "查找命令…"
        await pilot.press("escape", "l")
        await eventually(lambda: app.texts.language == "en", what="English")
        assert "Theme" in [c.title for c in app.get_system_commands(app.screen)]
