"""The people told, at the desk (issue 19): the alarm screen's panel of messages and dispatches,
its keys (``d`` dispatch, ``A`` arrival, ``k`` acceptance) done by the station service's own
notifier over a real database, refusals said, the queue's dispatch timer flagged late past
the promise at a fake clock, and on-site help closed only with its dispatch and arrival on
record."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.station.notify.responders import Responder
from console.station.store.notify import NotificationRow
from console.tui.i18n import Texts
from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.pick import PickScreen
from console.tui.screens.resolve import ResolveScreen
from console.tui.widgets.alarm_queue import AlarmQueue
from console.tui.widgets.notify_panel import failure, message_line
from hub.common import wire
from tests.conftest import eventually
from tests.support.desk import HOMES, Clock, at_desk
from tests.support.desk_station import DeskStation

T0 = 1_790_000_000.0
SUN = Responder(name="孙丽", phone="13600000007", role="volunteer", villages=[])


def toasts(app: object) -> list[str]:
    return [str(n.message) for n in app._notifications]  # type: ignore[attr-defined]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def station(tmp_path: Path, clock: Clock) -> DeskStation:
    s = DeskStation(tmp_path / "station.db", HOMES, clock=clock)
    s.store.notify.load_responders([SUN], actor="test", now=T0)
    return s


def panel(screen: AlarmScreen) -> str:
    return str(screen.query_one("#alarm-notify").render())


async def test_the_panel_and_dispatch_arrival_acceptance_by_hand(station: DeskStation, tmp_path: Path,
                                                                clock: Clock) -> None:
    alarm = station.raise_alarm("h001", kind="fall", now=T0)
    station.notify_stored(alarm, attended=False)  # nobody at a console: the contacts are texted
    async with at_desk(station, tmp_path, clock=clock, size=(120, 40)) as (app, pilot):
        app.query_one(AlarmQueue).focus()
        await pilot.press("c")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="the alarm screen")
        screen = app.screen
        assert isinstance(screen, AlarmScreen)
        # no modem on this station: each message failed, and says why in the console's language
        await eventually(lambda: "李明（儿子） 13800000001 短信 · 发送失败：该通道未配置" in panel(screen),
                         what="the failed message with its reason")
        assert "李红（女儿） 13900000002 短信 第2轮 · 发送失败" in panel(screen)  # round 2 of the cascade
        palette = [c.title for c in app.get_system_commands(screen)]
        assert {"派遣", "到达", "确认"} <= set(palette)

        await pilot.press("d")
        await eventually(lambda: isinstance(app.screen, PickScreen), what="whom to send")
        offered = [str(o.prompt) for o in app.screen.query_one("#pick-list").options]  # type: ignore[attr-defined]
        assert offered == ["网格员 · 陈网格 136-0000-0004", "钥匙保管人 · 赵大妈（邻居） 137-0000-0003",
                           "家属 · 李明（儿子） 138-0000-0001", "家属 · 李红（女儿） 139-0000-0002",
                           "志愿者 · 孙丽 13600000007", "120急救", "119消防"]
        await pilot.press("down", "down", "down", "down", "enter")
        await eventually(lambda: "已派遣：孙丽" in toasts(app), what="dispatched")
        (d,) = station.store.notify.dispatches(alarm)
        assert (d.kind, d.name, d.phone, d.promise_s, d.dispatched) == ("volunteer", "孙丽", "13600000007",
                                                                      900.0, T0)
        (text,) = [n.text for n in station.store.notify.for_alarm(alarm) if n.topic == "dispatch"]
        for told in ("王秀英", "青石镇王秀英家", "村口大槐树往东第三家", "跌倒",
                     "钥匙：赵大妈（邻居） 137-0000-0003"):
            assert told in text, told
        for medical in ("硝苯地平", "青霉素", "高血压", "82"):
            assert medical not in text, medical
        timer = "孙丽（志愿者） 13600000007 张三派 · 在途 0:00（承诺 15:00）"
        await eventually(lambda: timer in panel(screen), what="the dispatch timer")

        clock.now = T0 + 16 * 60  # past the 15-minute promise
        await eventually(lambda: "超时未到 16:00（承诺 15:00）" in panel(screen), what="late on the panel")
        queue = app.query_one(AlarmQueue)
        assert str(queue.cell(alarm, "state")) == "迟到 16:00"

        await pilot.press("A")  # the volunteer phoned: she is there
        await eventually(lambda: isinstance(app.screen, PickScreen), what="who arrived")
        await pilot.press("enter")
        await eventually(lambda: "已记录到达：孙丽" in toasts(app), what="arrival recorded")
        (d,) = station.store.notify.dispatches(alarm)
        assert (d.arrived, d.arrived_by) == (T0 + 16 * 60, "zhang")
        await eventually(lambda: "到达，用时 16:00（承诺 15:00）" in panel(screen), what="the arrival")
        at = app.texts.time(T0 + 16 * 60, "%H:%M")
        await eventually(lambda: str(queue.cell(alarm, "state")) == f"已到 {at}",
                         what="the arrival in the queue")

        await pilot.press("k")  # the son phoned back: he is coming
        await eventually(lambda: isinstance(app.screen, PickScreen), what="who accepted")
        offered = [str(o.prompt) for o in app.screen.query_one("#pick-list").options]  # type: ignore[attr-defined]
        assert [o.split(" · ")[0] for o in offered] == ["李明（儿子） 13800000001",
                                                      "李红（女儿） 13900000002"]
        await pilot.press("enter")
        await eventually(lambda: "已记录确认：李明" in toasts(app), what="acceptance recorded")
        assert station.told_hub == [(alarm, wire.Accepted(name="李明", relation="儿子"))]
        await eventually(lambda: "（zhang 记录）" in panel(screen), what="the acceptance on the panel")
        timeline = str(screen.query_one("#alarm-timeline").render())
        for entry in ("22:13:20 已派出： 孙丽", "22:29:20 已到达： 孙丽（志愿者）",
                      "22:29:20 已确认，正在赶来： 李明（儿子）"):
            assert entry in timeline, entry


async def test_refusals_and_nothing_to_pick_are_said(station: DeskStation, tmp_path: Path,
                                                     clock: Clock) -> None:
    alarm = station.raise_alarm("h002", now=T0)
    async with at_desk(station, tmp_path, clock=clock) as (app, pilot):
        app.query_one(AlarmQueue).focus()
        await pilot.press("enter")  # opened, not claimed
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="the alarm screen")
        assert app.screen.query_one("#notify-box").has_class("hidden")  # nobody told yet
        await pilot.press("k")
        await eventually(lambda: "没有待确认的通知" in toasts(app), what="nobody to accept")
        await pilot.press("A")
        await eventually(lambda: "没有在途的派遣或已通知的人：先按 d 派遣" in toasts(app),
                         what="nobody arriving")
        await pilot.press("d")
        await eventually(lambda: isinstance(app.screen, PickScreen), what="whom to send")
        assert "档案中没有网格员、钥匙保管人、联系人或志愿者：只能派 120/119" not in toasts(app)
        await pilot.press("end", "enter")  # 119, on an alarm not claimed: the station refuses
        await eventually(lambda: "请先接警（c）" in toasts(app), what="the refusal")
        assert station.store.notify.dispatches(alarm) == []


async def test_the_queue_times_a_dispatch_and_flags_it_late(station: DeskStation, tmp_path: Path,
                                                            clock: Clock) -> None:
    alarm = station.raise_alarm("h003", now=T0)
    async with at_desk(station, tmp_path, clock=clock) as (app, _):
        station.store.claim(alarm, "zhang", "张三", now=T0 + 10)
        d = station.store.notify.dispatch(alarm, kind="grid_worker", name="陈网格", phone="13600000004",
                                          username="zhang", officer="张三", promise_s=900, now=T0 + 20)
        station.on_changed(wire.Changed(what="alarm", id=alarm))
        queue = app.query_one(AlarmQueue)
        clock.now = T0 + 20 + 14 * 60
        await eventually(lambda: str(queue.cell(alarm, "state")) == "已派 14:00", what="the timer")
        assert "red" not in str(queue.cell(alarm, "state").style)  # type: ignore[union-attr]
        clock.now = T0 + 20 + 15 * 60 + 1
        await eventually(lambda: str(queue.cell(alarm, "state")) == "迟到 15:01", what="late")
        assert str(queue.cell(alarm, "state").style) == "bold white on red"  # type: ignore[union-attr]
        station.store.notify.arrive(d.id, by="reply", actor="sms:13600000004", now=T0 + 20 + 16 * 60)
        station.on_changed(wire.Changed(what="alarm", id=alarm))
        arrived = app.texts.time(T0 + 20 + 16 * 60, "%H:%M")
        await eventually(lambda: str(queue.cell(alarm, "state")) == f"已到 {arrived}", what="arrived")
        assert str(queue.cell(alarm, "state").style) == "bold red"  # type: ignore[union-attr]  # late


async def test_on_site_help_is_closed_only_with_its_dispatch_and_arrival_on_record(
        station: DeskStation, tmp_path: Path, clock: Clock) -> None:
    alarm = station.raise_alarm("h001", kind="fall", now=T0)
    async with at_desk(station, tmp_path, clock=clock) as (app, pilot):
        app.query_one(AlarmQueue).focus()
        await pilot.press("c")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="the alarm screen")

        async def resolve_on_site() -> None:
            await pilot.press("r")
            await eventually(lambda: isinstance(app.screen, ResolveScreen), what="resolve")
            await pilot.press("enter", "enter")  # the fall plan's first outcome: on-site help

        await resolve_on_site()
        await eventually(lambda: "按“已派人上门处置”结案前，请先按 d 记录派遣" in toasts(app),
                         what="no dispatch")
        station.store.notify.dispatch(alarm, kind="key_holder", name="赵大妈", phone="13700000003",
                                      username="zhang", officer="张三", promise_s=900, now=T0 + 60)
        await resolve_on_site()
        await eventually(lambda: "按“已派人上门处置”结案前，请先按 A 记录到达：赵大妈" in toasts(app),
                         what="no arrival")
        assert not any(op == "resolve" for op, _, _ in station.requests)
        (d,) = station.store.notify.dispatches(alarm)
        station.store.notify.arrive(d.id, by="zhang", actor="zhang", now=T0 + 600)
        await resolve_on_site()
        await eventually(lambda: (a := station.store.alarm(alarm)) is not None and a.state.closed,
                         what="closed")
        (record,) = station.store.alarm_records(T0, T0 + 1)
        assert record.outcome == "onsite_help"
        assert [(x.dispatched, x.arrived) for x in record.dispatches] == [(T0 + 60, T0 + 600)]
        notes = [note for _, ts, _, note in station.store.alarm_log(alarm)]
        assert "notify_dispatched" in notes


def test_a_failure_says_why_in_either_language() -> None:
    zh, en = Texts("zh_CN"), Texts("en")
    assert failure("sms.cms_500", "SMS refused by the network (CMS 500)", zh) == "短信中心拒收（500）"
    assert failure("sms.cms_500", "SMS refused by the network (CMS 500)", en) == \
        "SMS refused by the network (CMS 500) (sms.cms_500)"
    assert failure("wecom.310000", "keyword missing", zh) == "群机器人拒收（错误码 310000）"
    assert failure("sms.no_sim", "no SIM", zh) == "短信猫未插SIM卡"
    assert failure("webhook.too_long", "too long", zh) == "内容太长"
    assert failure("withdrawn.accepted", None, zh) == "未发出：已有人确认"
    assert failure("withdrawn.claimed", None, en) == "not sent: the station claimed it"
    assert failure("robot.new_thing", "something new", zh) == "something new (robot.new_thing)"


def test_a_text_the_home_s_hub_sent_itself_says_so() -> None:
    """The hub's own fallback (docs/modem.md): stored as sent, at the hub's time."""
    row = NotificationRow("k", "a1", "fallback", 1, 1, "王建国", "13800000001", "contact", "儿子",
                          "sms", 1, "【安心】…", "sent", 0, None, 1_765_000_000.0, 1_765_000_000.0,
                          None, None, None, None, None)
    assert "王建国（儿子） 13800000001 短信 家中终端代发（服务站失联时） · 已发" in \
        message_line(row, Texts("zh_CN")).plain
    assert "texted by the home's hub (station out of reach)" in message_line(row, Texts("en")).plain


async def test_the_panel_and_keys_in_english_at_80_columns(station: DeskStation, tmp_path: Path,
                                                           clock: Clock) -> None:
    alarm = station.raise_alarm("h001", kind="fall", now=T0)
    station.notify_stored(alarm, attended=False)
    async with at_desk(station, tmp_path, clock=clock, size=(80, 24), language="en") as (app, pilot):
        app.query_one(AlarmQueue).focus()
        await pilot.press("enter")  # opened, not yet claimed: the claim shows, d/A/k wait for it
        screen = await eventually(lambda: app.alarm_screen, what="the alarm screen")
        keys = lambda: {b.binding.action for b in app.active_bindings.values()  # noqa: E731
                        if b.binding.show and b.enabled}
        assert "claim" in keys() and not {"dispatch", "arrival", "accept"} & keys()
        await pilot.press("c")
        await eventually(lambda: {"dispatch", "arrival", "accept", "resolve"} <= keys(),
                         what="the alarm's own keys, once it is this officer's")
        assert "claim" not in keys()
        assert "SMS · failed: the sms channel is not configured (sms.not_configured)" in panel(screen)
        assert str(screen.query_one("#notify-title").render()) == "People told and sent"
