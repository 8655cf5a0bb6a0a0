"""The alarm desk in the console, driven by Pilot over a real station database: the queue's
order, its timers and escalation (on a fake clock), the tone per priority, and the alarm
screen's workflow claim -> steps -> note -> resolve with a county outcome."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from console.station.config import StationConfig
from console.tui.alarm_sound import PATTERNS, REPEAT_S, Ringer, pattern
from console.tui.app import ConsoleApp
from console.tui.i18n import STRINGS, Texts
from console.tui.i18n_desk import STRINGS as DESK
from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.resolve import ResolveScreen
from console.tui.widgets.alarm_queue import AlarmQueue
from console.tui.widgets.checklist import Checklist
from hub.common import wire
from hub.voice.officer_phone import console_phone
from tests.conftest import eventually
from tests.support.desk import T0, Clock, at_desk, console, logged_in
from tests.support.desk_station import DeskStation


def test_every_desk_string_has_both_languages() -> None:
    assert all(len(v) == 2 and all(v) for v in DESK.values())
    assert set(DESK) <= set(STRINGS)


def test_each_priority_sounds_different() -> None:
    clips = {p: pattern(p, 16000) for p in PATTERNS}
    assert all(c.dtype == np.int16 and 0 < len(c) < 16000 for c in clips.values())
    assert len({c.tobytes() for c in clips.values()}) == len(PATTERNS)
    assert np.abs(clips[1]).max() < 32767 * 0.31  # at LEVEL, never clipped


def test_the_ringer_rings_the_bell_whatever_the_headset() -> None:
    rang: list[None] = []
    tones: list[int] = []

    class Broken:
        rate = 16000

        def play(self, clip: np.ndarray) -> float:
            raise OSError("card gone")

    class Working:  # a loopback headset plays into nobody's ear
        rate = 16000

        def play(self, clip: np.ndarray) -> float:
            tones.append(len(clip))
            return len(clip) / self.rate

    for player in (None, Broken(), Working()):
        r = Ringer(player, lambda: rang.append(None))
        r.ring(1)
        assert r.played == [1]
    assert len(rang) == 3 and tones == [len(pattern(1, 16000))]


async def test_a_new_alarm_and_an_escalation_ring_the_bell_with_a_loopback_headset(
        station: DeskStation, tmp_path: Path) -> None:
    """`anxin console --audio loopback` (an SSH session, a PC without a sound card): the tone
    goes to a silent loopback, so the terminal bell must ring too."""
    clock = Clock(T0)
    phone = console_phone("loopback")
    cfg = StationConfig(database=tmp_path / "station.db", escalate_after_s=60)
    app = ConsoleApp(cfg, user="zhang", client=station.client,  # type: ignore[arg-type]
                     phone=phone, clock=clock)
    bells: list[float] = []
    app.bell = lambda: bells.append(clock.now)  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            app._pilot = pilot  # type: ignore[attr-defined]
            await logged_in(app)
            assert bells == []
            station.raise_alarm("h001", now=T0)
            assert bells == [T0], "a new alarm rings the bell"
            clock.now = T0 + 61  # unclaimed past escalate_after_s
            await eventually(lambda: len(bells) == 2, what="the escalation's bell")
            clock.now += REPEAT_S
            await eventually(lambda: len(bells) == 3, what="and again until claimed")
            assert app.ringer.played == [1, 1, 1] and app.ringer.player is not None
    finally:
        phone.close()


async def test_queue_order_timer_and_escalation(station: DeskStation, tmp_path: Path) -> None:
    clock = Clock(T0)
    app = console(station, tmp_path, clock)
    played: list[int] = []
    async with app.run_test(size=(120, 30)) as pilot:
        app._pilot = pilot  # type: ignore[attr-defined]
        await logged_in(app)
        app.ringer.ring = played.append  # type: ignore[method-assign,assignment]
        ids = {hub: station.raise_alarm(hub, now=T0 + i) for i, hub in
               enumerate(("h004", "h003", "h001", "h002"))}
        low = station.raise_alarm("h001", kind="battery_low", priority=4, now=T0 + 5)
        queue = app.query_one(AlarmQueue)
        # priority, then care group, then the oldest elder (unknown age last), then raised
        assert [a.id for a in queue.alarms] == [ids["h002"], ids["h001"], ids["h004"],
                                               ids["h003"], low]
        assert played == [1, 1, 1, 1, 4]  # a tone per new alarm, by its priority

        clock.now = T0 + 42
        await pilot.pause(1.2)
        assert str(queue.cell(ids["h003"], "wait")) == "0:41"
        assert not queue.escalated()

        played.clear()
        clock.now = T0 + 61.5  # h004 and h003 (stored at T0, T0 + 1) are over the 60 s limit
        await pilot.pause(1.2)
        assert str(queue.cell(ids["h004"], "wait")) == "1:01"  # the state says it is overdue
        assert str(queue.cell(ids["h004"], "state")) == "超时 ⚑主管"
        assert [a.id for a in queue.escalated()] == [ids["h004"], ids["h003"]]
        assert played == [1]  # sounded once now, then every REPEAT_S
        clock.now += REPEAT_S
        await pilot.pause(1.2)
        assert played == [1, 1]
        # the station's own flag escalates too, whatever this console's timer says
        station.store.escalate(cutoff=T0 + 3, now=T0 + 62)
        assert {a.id for a in queue.escalated(now=T0)} == set()
        app._changed(wire.Changed(what="alarm", id=ids["h001"]))
        assert {a.id for a in queue.escalated(now=T0)} == {ids["h004"], ids["h003"], ids["h001"]}

        await pilot.press("slash", *"刘")
        assert [a.id for a in queue.alarms] == [ids["h003"]]


async def test_a_press_again_shows_rings_and_moves_the_alarm_ahead(station: DeskStation,
                                                                  tmp_path: Path) -> None:
    """Issue 17, 12: the elder pressed again while waiting: the queue says so (再次呼叫 ×N),
    rings again, and the alarm goes ahead of its priority (a P2 becomes P1)."""
    clock = Clock(T0)
    played: list[int] = []
    async with at_desk(station, tmp_path, size=(120, 30), clock=clock) as (app, pilot):
        app.ringer.ring = played.append  # type: ignore[method-assign,assignment]
        h002, h001 = (station.raise_alarm(hub, now=T0 + i) for i, hub in enumerate(("h002", "h001")))
        h003 = station.raise_alarm("h003", priority=2, now=T0 + 2)  # a rule's own priority
        queue = app.query_one(AlarmQueue)
        assert [a.id for a in queue.alarms] == [h002, h001, h003]  # the oldest key-group elder first
        played.clear()

        station.press_again("h001", h001, now=T0 + 30)
        assert [a.id for a in queue.alarms] == [h001, h002, h003]
        assert str(queue.cell(h001, "kind")) == "紧急呼叫 再次呼叫 ×1"
        assert played == [1]
        await eventually(lambda: any("王秀英 再次呼叫（第 1 次）" in str(n.message)
                                     for n in app._notifications), what="told who pressed again")

        station.press_again("h003", h003, now=T0 + 40)
        station.press_again("h003", h003, now=T0 + 45)
        assert [a.id for a in queue.alarms] == [h001, h003, h002]  # P1 now; pressed, then group
        assert str(queue.cell(h003, "priority")) == " P1 "
        assert str(queue.cell(h003, "kind")) == "紧急呼叫 再次呼叫 ×2"
        assert played == [1, 1, 1]

        queue.focus()
        queue.cursor = 1
        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="alarm screen")
        screen = app.screen
        assert isinstance(screen, AlarmScreen) and screen.alarm_id == h003
        title = str(screen.query_one("#alarm-title").render())
        assert f"再次呼叫 ×2 最近 {Texts('zh_CN').clock(T0 + 45)}" in title and title.startswith(" P1 ")
        assert str(screen.query_one("#alarm-timeline").render()).count("老人再次按下呼叫") == 2


async def test_claim_steps_note_resolve_on_the_alarm_screen(station: DeskStation,
                                                            tmp_path: Path) -> None:
    app = console(station, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app._pilot = pilot  # type: ignore[attr-defined]
        await logged_in(app)
        old = station.raise_alarm("h001", now=time.time() - 86400)
        station.store.claim(old, "zhang", "张三")
        station.store.resolve(old, "zhang", "张三", "false_alarm")
        alarm = station.raise_alarm("h001", kind="fall")
        app.query_one(AlarmQueue).focus()
        await pilot.press("c")  # claim: the alarm screen opens
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="alarm screen")
        screen = app.screen
        assert isinstance(screen, AlarmScreen)
        text = lambda id: str(screen.query_one(id).render())  # noqa: E731
        card = text("#alarm-card")
        for seen in ("王秀英", "82岁", "重点", "年满80周岁", "短白发，戴眼镜", "村口大槐树往东第三家",
                     "硝苯地平", "青霉素", "联系人1: 李明(儿子) 138-0000-0001",
                     "联系人2: 李红(女儿)", "钥匙保管人: 赵大妈", "网格员: 陈网格"):
            assert seen in card, seen
        assert "误报" in text("#alarm-history")
        assert "已接警 张三" in text("#alarm-title")

        checklist = screen.query_one(Checklist)
        assert [s.key for s in checklist.plan.steps][:3] == ["receive", "locate", "assess"]  # type: ignore[union-attr]
        await pilot.press("enter")  # stamp the first step: the cursor goes on to the second
        await eventually(lambda: checklist.current == "locate", what="on to the next step")
        # the highlighted step's hint shows in full below the list
        await eventually(lambda: text("#plan-hint") == "核对住址、指路说明和钥匙保管人", what="the hint")
        await pilot.press("space")  # and stamp the second
        await eventually(lambda: len(checklist.done) == 2, what="two steps stamped")
        await pilot.press("up")
        await eventually(lambda: text("#plan-hint") == "张三", what="who did it, once stamped")
        await pilot.press("space")  # stamped already: it says by whom, and sends nothing
        await eventually(lambda: any("这一步已完成" in str(n.message) for n in app._notifications),
                         what="already done")
        assert str(checklist.get_cell("receive", checklist.ordered_columns[0].key)).startswith("✓")

        await pilot.press("n", *"老人说没受伤", "enter")
        await eventually(lambda: "老人说没受伤" in text("#alarm-timeline"), what="the note")

        await pilot.press("r")
        await eventually(lambda: isinstance(app.screen, ResolveScreen), what="resolve")
        resolve = app.screen
        assert isinstance(resolve, ResolveScreen)
        assert [o for o, _ in resolve.outcomes][:3] == ["onsite_help", "transferred_120",
                                                       "safe_by_phone"]  # the fall plan's first
        await pilot.press("down", "down", "enter", "enter")
        await eventually(lambda: not isinstance(app.screen, AlarmScreen | ResolveScreen),
                         what="back to the queue")
        assert [(op, a) for op, a, _ in station.requests] == [
            ("claim", alarm), ("alarm_step", alarm), ("alarm_step", alarm),
            ("alarm_note", alarm), ("resolve", alarm)]
        assert [f.get("step") for _, _, f in station.requests[1:3]] == ["receive", "locate"]
        row = station.store.alarm(alarm)
        assert row and row.outcome == "safe_by_phone" and row.state.closed


async def test_the_alarm_screen_in_english(station: DeskStation, tmp_path: Path) -> None:
    app = console(station, tmp_path, language="en")
    async with app.run_test(size=(80, 24)) as pilot:
        app._pilot = pilot  # type: ignore[attr-defined]
        await logged_in(app)
        station.raise_alarm("h001", kind="smoke")
        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="alarm screen")
        screen = app.screen
        assert "Response plan · Smoke" in str(screen.query_one("#plan-title").render())
        assert "Key holder: 赵大妈" in str(screen.query_one("#alarm-card").render())
        await pilot.press("l")
        assert "处置预案 · 烟雾" in str(screen.query_one("#plan-title").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, AlarmScreen)
