"""Help reaches people (issue 19), with the real parts: a Mosquitto on loopback, the station
service and a hub, the simulated modem on a pseudo-terminal, and the robots' verifiers.

An unattended press texts the on-call officer and the first contact (the Chinese read back from
the PDUs), the next contact after next_after_s (2 s here; the minutes of the shipped policy are
the engine's tests, on a fake clock), a "1" stops the cascade and the elder hears who is coming.
A dispatch and its "到"; the modem taken away and put back; a robot that refuses; a station
restart in the middle of a cascade."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.notify.engine import NOTE_ACCEPTED
from console.tui.client import StationClient
from drivers.modem.sim import SimModem
from drivers.speaker.sim import LogSpeaker
from hub.common import wire
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually
from tests.support.accounts import desk
from tests.support.notify import GRID, NEXT_S, ON_CALL, SON, TZ, VOLUNTEER, press, sms, station
from tests.support.robots import DingTalkRobotServer, WeComRobotServer


@pytest.fixture
def cfg(notify_cfg: StationConfig) -> StationConfig:
    return notify_cfg


def heard(hub: HubService) -> list[tuple[str, str]]:
    assert isinstance(hub.speaker, LogSpeaker)
    return [(key, text) for _, key, text in hub.speaker.heard]


async def test_an_unattended_press_cascades_until_someone_accepts_and_the_elder_hears_who(
        cfg: StationConfig, sim: SimModem, modem_link: Path, hub_cfg: Callable[..., HubConfig],
        robots: tuple[WeComRobotServer, DingTalkRobotServer]) -> None:
    wecom, _ding = robots
    async with station(cfg, modem_link) as s, HubService(hub_cfg()) as hub:
        assert s.notifier.attended is False  # no console is in use
        alarm = await press(hub, s)
        await eventually(lambda: len(sms(sim)) >= 2, what="on-call and contact 1 texted")
        received = s.store.alarm(alarm).received  # type: ignore[union-attr]
        text = ("【安心】王秀英（青石镇桃源村三组12号，村委会往东200米，门口有棵枣树）紧急呼叫（卧室床头） "
                f"{datetime.fromtimestamp(received, TZ):%H:%M}。钥匙：王建国（儿子） 138-0000-0001。"
                "回复1确认，到达后回复到。")
        assert sms(sim) == [(ON_CALL, text), (SON, text)]  # decoded from the PDUs the modem got
        for medical in ("高血压", "硝苯地平", "青霉素", "行动不便"):
            assert medical not in text
        # the duty group hears it; the DingTalk robot refuses us (310000), which the desk sees
        await eventually(lambda: wecom.accepted, what="the WeCom group told")
        assert wecom.accepted[0].json()["text"]["content"] == text
        failed = await eventually(lambda: [n for n in s.store.notify.for_alarm(alarm)
                                           if n.channel == "dingtalk" and n.state == "failed"],
                                  what="the DingTalk post failed")
        assert failed[0].error_code == "dingtalk.310000" and failed[0].fix

        # nobody answers: the next contact, next_after_s later
        await eventually(lambda: len(sms(sim)) == 3, timeout=NEXT_S + 5, what="contact 2 texted")
        assert sms(sim)[2] == (GRID, text)
        first = {n.phone: n.sent for n in s.store.notify.for_alarm(alarm) if n.phone}
        assert first[GRID] - first[SON] == pytest.approx(NEXT_S, abs=1.0)  # type: ignore[operator]

        sim.inject("+86" + GRID, "1")  # 李梅 accepts
        await eventually(lambda: ("contact_accepted", "您的网格员李梅已收到，正在赶来") in heard(hub),
                         what="the elder hears who is coming")
        log = [(actor, note) for _, _, actor, note in s.store.alarm_log(alarm)]
        assert ("李梅（网格员）", NOTE_ACCEPTED) in log
        assert [c.why for c in s.store.notify.cascades(alarm)] == ["done", "accepted"]
        grid = next(n for n in s.store.notify.for_alarm(alarm) if n.phone == GRID)
        assert (grid.state, grid.answered_by) == ("accepted", "reply")
        await eventually(lambda: any("李梅（网格员）已确认" in r.json()["text"]["content"]
                                     for r in wecom.accepted), what="the group hears it")
        await asyncio.sleep(NEXT_S + 0.5)
        assert len(sms(sim)) == 3  # the cascade stopped: nobody else texted


async def test_a_dispatch_is_texted_and_its_reply_stamps_the_arrival(
        cfg: StationConfig, sim: SimModem, modem_link: Path, hub_cfg: Callable[..., HubConfig]) -> None:
    async with station(cfg, modem_link) as s, HubService(hub_cfg()) as hub, \
            desk(cfg, "zhang") as console:
        await eventually(lambda: s.notifier.attended, what="the console attends")
        alarm = await press(hub, s)
        assert (await console.request("claim", alarm)).ok
        reply = await console.request("dispatch", alarm, kind="volunteer", name="孙丽",
                                      phone="136-0000-0007")
        assert reply.ok, reply.error
        await eventually(lambda: any(to == VOLUNTEER for to, _ in sms(sim)), what="the volunteer texted")
        text = next(t for to, t in sms(sim) if to == VOLUNTEER)
        assert "请上门" in text and "服务站张三派" in text and "青石镇桃源村三组12号" in text
        assert [to for to, _ in sms(sim)] == [VOLUNTEER]  # attended: nobody else was texted
        sim.inject("+86" + VOLUNTEER, "到了")
        d = (await eventually(lambda: [d for d in s.store.notify.dispatches(alarm) if d.arrived],
                              what="the arrival stamped"))[0]
        assert (d.kind, d.name, d.arrived_by, d.promise_s) == ("volunteer", "孙丽", "reply", 900)
        assert not d.late(d.arrived or 0)
        bad = await console.request("dispatch", alarm, kind="family", name="王建国", phone="110")
        assert (bad.ok, bad.code) == (False, "invalid")


async def test_a_missing_modem_is_station_trouble_with_the_fix_and_its_messages_wait(
        cfg: StationConfig, modem_link: Path, hub_cfg: Callable[..., HubConfig]) -> None:
    said: list[wire.StationStatus | None] = []
    async with station(cfg, modem_link) as s, HubService(hub_cfg()) as hub:
        client = StationClient.over_mqtt(cfg.broker, on_changed=lambda _: None, on_station=said.append)
        client.start()
        try:
            status = await eventually(lambda: [x for x in said if x and x.trouble], what="trouble said")
            trouble = status[-1].trouble[0]
            assert (trouble.what, trouble.code) == ("sms", "sms.unavailable")
            assert "modem.port names its AT port" in trouble.fix
            alarm = await press(hub, s)
            waiting = await eventually(lambda: [n for n in s.store.notify.for_alarm(alarm)
                                                if n.channel == "sms" and n.error_code], what="waiting")
            assert all(n.state == "queued" and n.error_code == "sms.unavailable" for n in waiting)
            with SimModem(link=modem_link) as sim:  # the modem is plugged in
                await eventually(lambda: {to for to, _ in sms(sim)} == {ON_CALL, SON}, timeout=15,
                                 what="what waited goes")
                await eventually(lambda: said[-1] and not said[-1].trouble, what="trouble cleared")
        finally:
            client.close()


async def test_a_sim_taken_out_is_reported_with_its_fix(
        cfg: StationConfig, sim: SimModem, modem_link: Path) -> None:
    async with station(cfg, modem_link) as s:
        sim.sim = "NOT INSERTED"
        await eventually(lambda: "sms" in s.notifier.trouble, what="the trouble")
        t = s.notifier.trouble["sms"]
        assert t.code == "sms.no_sim" and "insert a SIM card" in t.fix


async def test_a_station_restart_in_the_middle_of_a_cascade_resumes_and_sends_nothing_twice(
        cfg: StationConfig, sim: SimModem, modem_link: Path, hub_cfg: Callable[..., HubConfig]) -> None:
    async with HubService(hub_cfg()) as hub:
        async with station(cfg, modem_link) as s:
            alarm = await press(hub, s)
            await eventually(lambda: len(sms(sim)) == 2, what="on-call and contact 1 texted")
        await asyncio.sleep(NEXT_S + 0.5)  # contact 2 fell due while the station was down
        assert len(sms(sim)) == 2
        async with station(cfg, modem_link) as s:
            await eventually(lambda: len(sms(sim)) == 3, what="contact 2 texted after the restart")
            await asyncio.sleep(NEXT_S + 0.5)  # the cascade has run out: one round
            counted = Counter(to for to, _ in sms(sim))
            assert counted == {ON_CALL: 1, SON: 1, GRID: 1}
            assert [c.why for c in s.store.notify.cascades(alarm)] == ["done", "exhausted"]
