"""The duty desk end to end: the console (ConsoleApp with its own StationClient) over a real
Mosquitto to a real station service, driven by Pilot as an officer would. The records and
alarm screens are tested on fakes elsewhere; here each workflow must land in the station's
database: an alarm worked through its plan, an elder's record edited, a visit with its
follow-up, and the month's ledger exported."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static, TextArea

from console.casework.county import load_county
from console.casework.ledger import read_figures
from console.station.config import DEFAULT_COUNTY, StationConfig
from console.station.service import StationService
from console.station.users import Role
from console.tui.app import ConsoleApp
from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.elder_form import ElderForm
from console.tui.screens.ledger import LedgerScreen
from console.tui.screens.resolve import ResolveScreen
from console.tui.screens.roster import RosterScreen
from console.tui.screens.visit_form import VisitForm
from console.tui.screens.visits import VisitsScreen
from console.tui.widgets.alarm_queue import AlarmQueue
from console.tui.widgets.checklist import Checklist
from console.tui.widgets.vtable import VirtualTable
from drivers.gpio.sim import SimPins
from hub.common import wire
from hub.common.events import AlarmState, Event, new_id
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually
from tests.support.accounts import add_users, log_in


def county_today() -> date:
    """Today as the county reads it (county.yaml timezone): the day a visit is recorded on."""
    return datetime.now(load_county(DEFAULT_COUNTY).tz).date()


@pytest.fixture(autouse=True)
def officer(station_cfg: StationConfig, cheap_passwords: None) -> None:
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY))


@asynccontextmanager
async def console(cfg: StationConfig) -> AsyncIterator[tuple[ConsoleApp, Pilot[None]]]:
    """The console logged in as zhang, the station seen online."""
    app = ConsoleApp(cfg)
    app.bell = lambda: None  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await log_in(pilot, app, "zhang")
        await eventually(lambda: app.station_online, what="the station online")
        yield app, pilot


def text(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


def audit(station: StationService, target: str, since: float) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in station.store.audit_entries(target=target, since=since)]


async def test_an_alarm_from_a_hub_is_claimed_stepped_noted_and_resolved_at_the_station(
        station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, HubService(hub_cfg()) as hub, \
            console(station_cfg) as (app, pilot):
        await eventually(lambda: hub.link.connected, what="the hub linked")
        t0 = time.time()
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        queue = app.query_one(AlarmQueue)
        await eventually(lambda: queue.row_count == 1, what="the alarm in the queue")
        [alarm] = station.store.open_alarms()
        assert alarm.hub == "h001" and queue.selected and queue.selected.id == alarm.id

        queue.focus()
        await pilot.press("c")  # claim: the alarm screen opens
        screen = await eventually(lambda: app.alarm_screen, what="the alarm screen")
        assert "已接警 张三" in text(screen, "#alarm-title")
        await pilot.press("escape")
        assert app.alarm_screen is None
        await pilot.press("enter")  # open it again from the queue
        screen = await eventually(lambda: app.alarm_screen, what="the alarm screen again")
        assert isinstance(screen, AlarmScreen) and "王秀英" in text(screen, "#alarm-card")

        checklist = screen.query_one(Checklist)
        assert checklist.plan is not None
        first, second = (s.key for s in checklist.plan.steps[:2])
        await pilot.press("enter")  # stamp the first step
        await eventually(lambda: len(checklist.done) == 1, what="a step stamped")
        await pilot.press("space")  # and the second: the cursor went on to it
        await eventually(lambda: len(checklist.done) == 2, what="two steps stamped")
        await pilot.press("n", *"老人说没受伤", "enter")
        await eventually(lambda: "老人说没受伤" in text(screen, "#alarm-timeline"), what="the note")

        await pilot.press("r")
        resolve = await eventually(lambda: isinstance(app.screen, ResolveScreen) and app.screen,
                                   what="the resolve dialog")
        assert isinstance(resolve, ResolveScreen)
        codes = [o for o, _ in resolve.outcomes]
        await pilot.press(*["down"] * codes.index("safe_by_phone"), "enter", *"已电话确认", "enter")
        await eventually(lambda: not isinstance(app.screen, AlarmScreen | ResolveScreen),
                         what="back to the queue")
        await eventually(lambda: queue.row_count == 0, what="the queue empty")
        t1 = time.time()

        s = station.store
        row = s.alarm(alarm.id)
        assert row and row.state is AlarmState.RESOLVED and row.outcome == "safe_by_phone"
        assert (row.claimed_by, row.officer, row.notes) == ("zhang", "张三", "已电话确认")
        steps = s.alarm_steps(alarm.id)
        assert [(st.step, st.officer) for st in steps] == [(first, "张三"), (second, "张三")]
        assert t0 <= steps[0].ts <= steps[1].ts <= t1
        log = [(state, who, note) for state, _, who, note in s.alarm_log(alarm.id)]
        assert (AlarmState.CLAIMED, "张三", None) in log
        assert (AlarmState.CLAIMED, "张三", "老人说没受伤") in log
        assert log[-1] == (AlarmState.RESOLVED, "张三", "safe_by_phone: 已电话确认")
        trail = [(e.actor, e.action, e.detail.get("step")) for e in s.audit_entries(target=alarm.id)
                 if e.action.startswith("alarm.")]
        assert trail == [("zhang", "alarm.claim", None), ("zhang", "alarm.step", first),
                         ("zhang", "alarm.step", second), ("zhang", "alarm.note", None),
                         ("zhang", "alarm.resolve", None)]
        assert s.verify_audit().ok


async def test_roster_finds_by_pinyin_and_the_elder_form_saves_at_the_station(
        station_cfg: StationConfig) -> None:
    async with StationService(station_cfg) as station, console(station_cfg) as (app, pilot):
        before = station.store.elder("h001")
        assert before and before.medicines == ["硝苯地平缓释片"]
        await pilot.press("f2")
        roster = await eventually(lambda: isinstance(app.screen, RosterScreen) and app.screen,
                                  what="the roster")
        table = roster.query_one(VirtualTable)
        await pilot.press("slash", *"wxy", "enter")
        assert table.keys == ["h001"]
        await pilot.press("e")
        form = await eventually(lambda: isinstance(app.screen, ElderForm) and app.screen,
                                what="the elder form")
        assert isinstance(form, ElderForm) and form.query_one("#f-name", Input).value == "王秀英"

        # an invalid phone: the error at the field, nothing sent, nothing stored
        t0 = time.time()
        form.query_one("#f-phone", Input).value = "12ab"
        form.query_one("#f-medicines", Input).value = "硝苯地平缓释片、阿司匹林"
        await pilot.press("ctrl+s")
        assert "「12ab」不是电话号码" in text(form, "#err-phone")
        await pilot.pause(0.3)
        assert app.screen is form and station.store.elder("h001") == before
        assert audit(station, "h001", t0) == []

        form.query_one("#f-phone", Input).value = "0531-8800-0199"
        await pilot.press("ctrl+s")
        await eventually(lambda: app.screen is roster, what="the form saved and closed")
        after = station.store.elder("h001")
        assert after and after.medicines == ["硝苯地平缓释片", "阿司匹林"]
        assert after.phone == "0531-8800-0199"
        assert after.key_holder == before.key_holder and after.category is before.category
        [entry] = [e for e in station.store.audit_entries(target="h001", since=t0)]
        assert (entry.actor, entry.action) == ("zhang", "elder.record")
        assert entry.detail == {"added": False, "fields": ["medicines", "phone"]}


async def test_a_phone_visit_with_a_followup_is_recorded_and_the_followup_closed(
        station_cfg: StationConfig) -> None:
    async with StationService(station_cfg) as station, console(station_cfg) as (app, pilot):
        await pilot.press("f3")
        visits = await eventually(lambda: isinstance(app.screen, VisitsScreen) and app.screen,
                                  what="the visits")
        assert isinstance(visits, VisitsScreen)
        table = visits.query_one(VirtualTable)
        # nothing is overdue: it opens on today's list (homes added today are due today)
        assert visits.which == "due" and "h002" in table.keys
        while table.selected != "h002":
            await pilot.press("down")
        await pilot.press("n")
        form = await eventually(lambda: isinstance(app.screen, VisitForm) and app.screen,
                                what="the visit form")
        assert isinstance(form, VisitForm) and form.mode == "phone"
        form.query_one("#c-health", Checkbox).value = True
        form.query_one("#c-home_safety", Checkbox).value = True
        form.query_one("#fu-home_safety", Input).value = "燃气软管老化"
        form.query_one("#visit-notes", TextArea).text = "血压正常"
        await pilot.press("ctrl+s")
        await eventually(lambda: app.screen is visits, 3, "the visit saved")  # a loopback reply

        [v] = station.store.visits("h002")
        assert (v.mode, v.day, v.contents, v.notes, v.reached) == (
            "phone", county_today(), ("health", "home_safety"), "血压正常", True)
        [f] = station.store.followups()
        assert (f.elder, f.content, f.text, f.visit) == ("h002", "home_safety", "燃气软管老化", v.id)
        assert v.by == "张三"  # who visited: the officer saving it, by the name the desk shows
        assert "h002" not in table.keys and "h001" in table.keys  # h001 (key) is due a home visit

        await pilot.press("tab")
        assert visits.which == "followups" and table.keys == [f.id]
        await pilot.press("x", *"已更换", "enter")
        await eventually(lambda: station.store.followups() == [], what="the follow-up closed")
        [closed] = station.store.followups(open_only=False)
        assert closed.closed == county_today()
        await eventually(lambda: f.id not in table.keys, what="the list without it")
        actions = [(e.actor, e.action) for e in station.store.audit_entries()
                   if e.action in ("visit.save", "followup.close")]
        assert actions == [("zhang", "visit.save"), ("zhang", "followup.close")]


async def test_the_ledger_exported_from_the_console_counts_the_visit_and_the_alarm(
        station_cfg: StationConfig, tmp_path: Path) -> None:
    async with StationService(station_cfg) as station, console(station_cfg) as (app, pilot):
        s, now = station.store, time.time()
        ev = Event(kind="button.press", source="bedside", ts=now - 30, alarm="panic", id=new_id())
        s.store_event(wire.event_msg("h002", ev, priority=1), now=now - 30)
        s.claim(ev.id, "zhang", "张三", now=now - 20)
        s.resolve(ev.id, "zhang", "张三", "safe_by_phone", now=now - 10)
        s.records.save_visit("h002", {"day": county_today().isoformat(), "mode": "phone",
                                      "contents": ["health"]}, station.rules, actor="zhang",
                             officer="张三", now=now)

        await pilot.press("t")
        ledger = await eventually(lambda: isinstance(app.screen, LedgerScreen) and app.screen,
                                  what="the ledger")
        assert isinstance(ledger, LedgerScreen)
        out = tmp_path / "ledger"
        await pilot.press("f")
        ledger.query_one("#ledger-folder", Input).value = str(out)
        await pilot.press("enter")
        month = f"{county_today():%Y-%m}"
        xlsx = out / f"ledger-{month}.xlsx"
        await eventually(lambda: "已导出" in text(ledger, "#ledger-status"), what="the export")
        figures = read_figures(xlsx)
        assert figures["month"] == month
        assert figures["visits.total"] == 1 and figures["visits.secondary.phone"] == 1
        assert figures["alarms.total"] == 1 and figures["alarms.panic.safe_by_phone"] == 1
        assert figures["answer.counted"] == 1 and figures["answer.within_60s"] == 1
