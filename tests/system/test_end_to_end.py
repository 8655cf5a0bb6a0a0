"""A press in a simulated home travels to the console and back, over a real Mosquitto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.store.rows import PRESSED_AGAIN
from console.station.users import Role
from console.tui.app import ConsoleApp
from console.tui.screens.pick import PickScreen
from console.tui.widgets.alarm_queue import AlarmQueue
from console.tui.widgets.roster import Roster
from drivers.gpio.sim import SimPins
from drivers.speaker.sim import LogSpeaker
from hub.common.events import AlarmState
from hub.common.transport import PahoTransport
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually
from tests.support.accounts import add_users, desk, log_in


def heard(hub: HubService) -> list[str]:
    assert isinstance(hub.speaker, LogSpeaker)
    return [key for _, key, _ in hub.speaker.heard]


@pytest.fixture(autouse=True)
def officers(station_cfg: StationConfig, cheap_passwords: None) -> None:
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY), ("li", "李四", Role.DUTY))


def screen_text(app: ConsoleApp) -> str:
    queue = app.query_one(AlarmQueue)
    return "\n".join(" ".join(str(c) for c in queue.row(key)) for key in queue.keys)


async def test_press_to_claim_to_resolve(station_cfg: StationConfig,
                                         hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, HubService(hub_cfg()) as hub:
        app = ConsoleApp(station_cfg)
        async with app.run_test(size=(100, 30)) as pilot:
            await eventually(lambda: app.station_online, what="station online in the console")
            await log_in(pilot, app, "zhang")
            assert "值班员: 张三" in app.sub_title
            await eventually(lambda: hub.link.connected, what="hub connected")
            await asyncio.to_thread(SimPins(hub.pins).click, 17)

            # persisted at the station, acknowledged back to the hub, told to the elder
            alarm = (await eventually(station.store.open_alarms, what="alarm stored"))[0]
            assert (alarm.kind, alarm.priority, alarm.contact_id) == ("panic", 1, 101)
            assert alarm.location == "卧室床头"
            await eventually(lambda: "station_has_it" in heard(hub), what="delivered prompt")
            assert hub.store.pending_count() == 0

            # shown in the console queue with name, address and care group
            await eventually(lambda: "王秀英" in screen_text(app), what="alarm in the queue")
            row = screen_text(app)
            assert "青石镇桃源村三组12号" in row and "重点" in row and "紧急呼叫" in row

            await pilot.press("c")
            await eventually(lambda: "officer_claimed" in heard(hub), what="claimed prompt")
            claimed = station.store.alarm(alarm.id)
            assert claimed and (claimed.claimed_by, claimed.officer) == ("zhang", "张三")
            assert hub.hw.led is not None and hub.hw.led.pattern == "talking"

            # the grid worker sent, then there: on-site help is closed with both on record
            await pilot.press("d")
            await eventually(lambda: isinstance(app.screen, PickScreen), what="whom to send")
            await pilot.press("enter")
            await eventually(lambda: station.store.notify.dispatches(alarm.id), what="dispatched")
            await pilot.press("A")
            await eventually(lambda: isinstance(app.screen, PickScreen), what="who arrived")
            await pilot.press("enter")
            await eventually(lambda: station.store.notify.dispatches(alarm.id)[0].arrived,
                             what="arrival stamped")
            (sent,) = station.store.notify.dispatches(alarm.id)
            assert sent.kind == "grid_worker" and sent.arrived_by == "zhang"

            await pilot.press("r")
            await pilot.pause()
            await pilot.press("down", "enter")  # outcome: on-site help sent
            await pilot.press(*"door opened by neighbour", "enter")
            await eventually(lambda: "resolved" in heard(hub), what="resolved prompt")
            done = station.store.alarm(alarm.id)
            assert done is not None and done.state is AlarmState.RESOLVED
            assert (done.outcome, done.notes) == ("onsite_help", "door opened by neighbour")
            await eventually(lambda: app.query_one(AlarmQueue).row_count == 0, what="queue empty")
            trail = [(e.actor, e.action) for e in station.store.audit_entries(target=alarm.id)]
            assert trail == [("zhang", "alarm.claim"), ("zhang", "alarm.dispatch"),  # the dispatch
                             ("zhang", "alarm.arrived"), ("zhang", "notify.arrived"),  # and its text
                             ("zhang", "alarm.resolve")]

        assert heard(hub) == ["call_sent", "station_has_it", "officer_claimed", "resolved"]
        steps = [s for s, _, _ in hub.store.timeline(alarm.id)]
        assert steps == [AlarmState.RAISED, AlarmState.SENT, AlarmState.DELIVERED,
                         AlarmState.CLAIMED, AlarmState.RESOLVED]


async def test_two_consoles_claim_only_once(station_cfg: StationConfig,
                                            hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, HubService(hub_cfg()) as hub:
        a, b = ConsoleApp(station_cfg), ConsoleApp(station_cfg)
        async with a.run_test(size=(100, 30)) as pa, b.run_test(size=(100, 30)) as pb:
            await log_in(pa, a, "zhang")
            await log_in(pb, b, "li")
            await eventually(lambda: a.station_online and b.station_online and hub.link.connected)
            await asyncio.to_thread(SimPins(hub.pins).click, 17)
            await eventually(lambda: a.query_one(AlarmQueue).row_count == 1 and
                             b.query_one(AlarmQueue).row_count == 1, what="alarm in both")
            await pa.press("c")
            await eventually(lambda: "张三" in screen_text(b), what="A's claim shown in B")
            await pb.press("c")
            await eventually(lambda: any("张三 已接警" in str(n.message)
                                         for n in b._notifications), what="B refused")
            alarm = station.store.open_alarms()[0]
            assert alarm.officer == "张三"
            assert [s for s, *_ in station.store.alarm_log(alarm.id)].count(AlarmState.CLAIMED) == 1


async def test_consoles_see_station_service_stop_and_homes_go_offline(
        station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    station = StationService(station_cfg)
    await station.__aenter__()
    app = ConsoleApp(station_cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, app, "zhang")
        async with HubService(hub_cfg()):
            await eventually(lambda: app.query_one(Roster).homes["h001"].online,
                             what="h001 online in the roster")
        await eventually(lambda: not app.query_one(Roster).homes["h001"].online,
                         what="h001 offline after the hub stopped")
        await station.__aexit__(None, None, None)
        await eventually(lambda: app.station_online is False, what="station offline banner")
        assert app.query_one("#banner").has_class("offline")


async def test_bad_payloads_are_rejected_and_kept(station_cfg: StationConfig) -> None:
    async with StationService(station_cfg) as station:
        loop = asyncio.get_running_loop()
        evil = PahoTransport(broker=station_cfg.broker, client_id="evil", loop=loop,
                             persistent_session=False)
        evil.start(lambda t, p: None, lambda up: None)
        await eventually(lambda: evil.connected)
        evil.publish("anxin/v1/hub/h001/event", b"\xff\xfe garbage")
        evil.publish("anxin/v1/hub/h001/event",  # hub h002 pretending on h001's topic
                     b'{"v":1,"type":"event","hub":"h002","id":"x","kind":"k","source":"s",'
                     b'"ts":1}')
        await eventually(lambda: station.store.count("rejected") == 2, what="2 rejections")
        rows = station.store._db.execute("SELECT reason FROM rejected ORDER BY rowid").fetchall()
        assert "Invalid JSON" in rows[0][0]
        assert "payload says hub 'h002' on hub 'h001'" in rows[1][0]
        assert station.store.count("events") == 0
        evil.close()


async def test_hub_away_during_claim_hears_it_when_back(
        station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station:
        cfg = hub_cfg()
        async with HubService(cfg) as hub:
            await eventually(lambda: hub.link.connected)
            await asyncio.to_thread(SimPins(hub.pins).click, 17)
            await eventually(lambda: "station_has_it" in heard(hub), what="delivered")
        alarm = station.store.open_alarms()[0]
        station.store.claim(alarm.id, "zhang", "张三")  # while the hub is away (and drop its session)
        async with HubService(cfg, speaker=LogSpeaker()) as back:
            await eventually(lambda: "officer_claimed" in heard(back), what="claim after return")
            assert back.store.open_alarms()[0].state is AlarmState.CLAIMED


async def test_a_press_again_is_answered_at_once_and_raises_the_alarm_at_the_station(
        station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig], tmp_path: Path) -> None:
    """Issue 17, 12: an elder who presses again while their call waits hears at once that the
    station has it; the station marks the alarm pressed again and raises it (here a P2, by the
    home's own rule, becomes P1 and goes ahead); while it waits the elder is reassured at the
    set interval, until an officer takes it."""
    rules = tmp_path / "p2.yaml"
    rules.write_text("rules:\n  - name: panic\n    trigger: button.press\n"
                     "    actions: [{alarm: panic, priority: 2}]\n")
    async with (StationService(station_cfg) as station, HubService(hub_cfg()) as first,
                HubService(hub_cfg("h002", rules=[str(rules)], reassure_s=1)) as hub,
                desk(station_cfg, "zhang") as zhang):
        await eventually(lambda: first.link.connected and hub.link.connected, what="hubs connected")
        await asyncio.to_thread(SimPins(first.pins).click, 17)
        await eventually(lambda: len(station.store.open_alarms()) == 1, what="h001's alarm")
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        await eventually(lambda: "station_has_it" in heard(hub), what="h002's alarm delivered")
        h001, h002 = station.store.open_alarms()
        assert (h001.hub, h001.priority, h002.hub, h002.priority) == ("h001", 1, "h002", 2)
        await eventually(lambda: "please_wait" in heard(hub), timeout=5, what="reassured")

        said = len(heard(hub))
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        await eventually(lambda: "pressed_again" in heard(hub)[said:], timeout=2,
                         what="the press answered at once")
        row = await eventually(lambda: (a := station.store.alarm(h002.id)) and a.pressed and a,
                               what="the station marks it pressed again")
        assert (row.priority, row.state, row.pressed) == (1, AlarmState.DELIVERED, 1)
        assert row.pressed_last is not None and row.pressed_last > h002.raised
        assert [a.id for a in station.store.open_alarms()] == [h002.id, h001.id]  # ahead now
        assert station.store.count("alarms") == 2  # no second alarm
        assert [n for *_, n in station.store.alarm_log(h002.id)].count(PRESSED_AGAIN) == 1

        assert (await zhang.request("claim", h002.id, timeout=5)).ok
        await eventually(lambda: "officer_claimed" in heard(hub), what="claimed")
        reassured = heard(hub).count("please_wait")
        await asyncio.sleep(2.5)
        assert heard(hub).count("please_wait") == reassured  # taken: no more please_wait
        assert "please_wait" not in heard(first)  # reassure_s 60: not yet
