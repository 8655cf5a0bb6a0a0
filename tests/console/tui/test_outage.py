"""The station service stops while an officer works an alarm (a real station service and
console over a real Mosquitto): every screen says so, modal ones too; what the officer asks
for is refused at once with the reason; a note typed meanwhile is kept, shown as waiting,
and filed with the time it was written once the station is back."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Any

from textual.widgets import Input, OptionList, Static

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.users import Role
from console.tui.app import ConsoleApp
from console.tui.screens.resolve import ResolveScreen
from console.tui.widgets.checklist import Checklist
from console.tui.widgets.station_banner import StationBanner
from hub.common import wire
from hub.common.events import Event
from tests.conftest import eventually
from tests.support.accounts import add_users, log_in

OFFLINE = "服务站服务离线"


def banner(screen: object) -> str:
    b = screen.query_one(StationBanner)  # type: ignore[attr-defined]
    return str(b.render()) if b.display else ""


def notices(app: ConsoleApp) -> list[str]:
    """Everything the app tells the officer from now on (a toast goes after a few seconds)."""
    told: list[str] = []
    notify = app.notify

    def keep(message: str, **kw: Any) -> None:
        told.append(message)
        notify(message, **kw)

    app.notify = keep  # type: ignore[method-assign,assignment]
    return told


def said(told: list[str], text: str) -> int:
    return sum(text in m for m in told)


async def test_an_outage_on_the_alarm_screen(station_cfg: StationConfig,
                                             cheap_passwords: None) -> None:
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY))
    app = ConsoleApp(station_cfg)
    app.bell = lambda: None  # type: ignore[method-assign]
    told = notices(app)
    async with AsyncExitStack() as first, app.run_test(size=(120, 40)) as pilot:
        station = await first.enter_async_context(StationService(station_cfg))
        msg = wire.event_msg("h001", Event(kind="button.press", source="bedside", alarm="panic"),
                             priority=1)
        station.store.store_events([msg])
        await eventually(lambda: app.station_online, what="the station online")
        await log_in(pilot, app, "zhang")
        await pilot.press("c")  # claim: the alarm screen opens
        screen = await eventually(lambda: app.alarm_screen, what="the alarm screen")
        assert banner(screen) == ""  # all is well: nothing in the way

        await first.aclose()  # the station service stops
        await eventually(lambda: OFFLINE in banner(screen), what="the banner on the alarm screen")
        await pilot.press("space")  # stamp a step: refused, and said why
        await eventually(lambda: said(told, "无法连接服务站，未发送"), what="the step refused")
        checklist = screen.query_one(Checklist)
        assert not checklist.done
        await pilot.press("n", *"已联系家属", "enter")
        written = time.time()
        timeline = screen.query_one("#alarm-timeline", Static)
        await eventually(lambda: "备注 (待发送): 已联系家属" in str(timeline.render()),
                         what="the note kept, shown as waiting")
        await eventually(lambda: said(told, "已留在本机"), what="said so")
        await pilot.press("r")  # the resolve dialog says it too
        resolve = await eventually(lambda: isinstance(app.screen, ResolveScreen) and app.screen,
                                   what="the resolve dialog")
        await eventually(lambda: OFFLINE in banner(resolve), what="the banner on the dialog")
        # transferred to 120 (on-site help would first ask for its dispatch on record)
        await pilot.press("down", "down", "enter", *"已送医", "enter")  # refused, said why ...
        await eventually(lambda: app.screen is screen, what="back on the alarm screen")
        refused = app.texts("err_station_unreachable")
        await eventually(lambda: told.count(refused) == 2, what="the resolve refused too")
        await pilot.press("r")  # ... and asked again, what was chosen and typed is still there
        again = await eventually(lambda: isinstance(app.screen, ResolveScreen) and app.screen,
                                 what="the resolve dialog again")
        assert again.query_one(Input).value == "已送医"
        assert again.query_one(OptionList).highlighted == 2
        await pilot.press("escape")

        async with StationService(station_cfg) as back:  # back: the note goes now
            await eventually(lambda: "待发送" not in str(timeline.render()),
                             what="the kept note sent")
            notes = [(ts, who, note) for _, ts, who, note in back.store.alarm_log(msg.id)
                     if note == "已联系家属"]
            assert len(notes) == 1 and notes[0][1] == "张三"
            assert notes[0][0] <= written, "filed at the time it was written"
            assert "已联系家属" in str(timeline.render())
            await eventually(lambda: said(told, "已补发"), what="said so")
            assert banner(screen) == ""
            assert back.store.alarm_steps(msg.id) == []  # the refused step was not done later
