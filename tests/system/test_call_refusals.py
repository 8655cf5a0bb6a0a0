"""Calls that must not happen, and input that must not hurt: refused with a reason the
console can say, over a real Mosquitto with the real station service and hubs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.users import Role
from drivers.gpio.sim import SimPins
from hub.common import wire
from hub.common.events import new_id
from hub.common.transport import PahoTransport
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from hub.voice.packet import VoicePacket, encode_packet
from tests.conftest import eventually
from tests.support.accounts import add_users, desk
from tests.support.callkit import home_with_voice, online


@pytest.fixture(autouse=True)
def officers(station_cfg: StationConfig, cheap_passwords: None) -> None:
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY), ("li", "李四", Role.DUTY))


async def intruder(cfg: StationConfig) -> PahoTransport:
    t = PahoTransport(broker=cfg.broker, client_id=f"evil-{new_id()[:6]}",
                      loop=asyncio.get_running_loop(), persistent_session=False)
    t.start(lambda _t, _p: None, lambda _up: None)
    await eventually(lambda: t.connected, what="intruder connected")
    return t


async def test_only_the_claiming_officer_calls_and_only_online_homes(
        station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, HubService(hub_cfg()) as hub, \
            desk(station_cfg, "zhang") as zhang, desk(station_cfg, "li") as li:
        await eventually(lambda: hub.link.connected)
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        alarm = (await eventually(station.store.open_alarms, what="alarm"))[0].id
        refused = await zhang.request("call_start", alarm, timeout=5)  # nobody has claimed it
        assert (refused.ok, refused.code) == (False, "not_yours")
        assert (await zhang.request("claim", alarm, timeout=5)).ok
        refused = await li.request("call_start", alarm, timeout=5)
        assert (refused.ok, refused.code, refused.call) == (False, "not_yours", None)
        refused = await zhang.request("call_start", hub="h002", timeout=5)  # never came online
        assert (refused.ok, refused.code) == (False, "hub_offline")
        assert station.store.calls.open_calls() == []
        # this hub has no speakerphone (speaker.backend: log): it refuses, the station is told
        await online(station, "h001")
        ok = await zhang.request("call_start", alarm, timeout=5)
        assert ok.ok and ok.call
        call = await eventually(lambda: (c := station.store.calls.get(ok.call or "")) and c.ended
                                and c, what="the hub's refusal")
        assert call.reason == "no_audio" and call.answered is None
        assert not hub.calls.mic_open and hub.calls.call is None
        assert (await zhang.request("call_end", call=call.id, timeout=5)).code == "no_call"


async def test_a_busy_home_refuses_a_second_call(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, \
            HubService(home_with_voice(hub_cfg, tmp_path, None, silence_s=30)) as hub, \
            desk(station_cfg, "zhang") as zhang, desk(station_cfg, "li") as li:
        await online(station, "h001")
        first = await zhang.request("call_start", hub="h001", timeout=5)
        assert first.ok and first.call
        busy = await li.request("call_start", hub="h001", timeout=5)  # the station knows it
        assert (busy.ok, busy.code) == (False, "hub_busy")
        await eventually(lambda: hub.calls.mic_open, what="the first call open")
        # a start that reaches the hub anyway (a second station worker, say): the hub refuses
        # it and the open call goes on
        evil = await intruder(station_cfg)
        second = new_id()
        evil.publish(wire.hub_topic("h001", wire.DOWN), wire.encode(wire.CallControl(
            op="start", call=second, visit="v2", ts=1.0)))
        refusal = await eventually(lambda: [p for p in pending_payloads(hub) if second in p],
                                   what="call.end hub_busy in the outbox")
        assert '"reason":"hub_busy"' in refusal[0]
        assert hub.calls.call and hub.calls.call.id == first.call and hub.calls.mic_open
        hung = await li.request("call_end", call=first.call, timeout=5)  # not li's call
        assert (hung.ok, hung.code) == (False, "not_yours")
        assert (await zhang.request("call_end", call=first.call, timeout=5)).ok
        await eventually(lambda: not hub.calls.mic_open, what="hung up")
        evil.close()


def pending_payloads(hub: HubService) -> list[str]:
    return [p if isinstance(p, str) else bytes(p).decode()
            for (p,) in hub.store._db.execute("SELECT payload FROM outbox")]


async def test_bad_payloads_on_call_and_voice_topics_are_refused_not_fatal(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, \
            HubService(home_with_voice(hub_cfg, tmp_path, None, silence_s=30)) as hub, \
            desk(station_cfg, "zhang") as zhang:
        await online(station, "h001")
        evil = await intruder(station_cfg)
        good = encode_packet(VoicePacket("someone-elses-call", 1, 0, b"\xf8\xff\xfe"))
        evil.publish(wire.request_topic("c"), b'{"v":1,"type":"request","req":"r","console":"c",'
                     b'"op":"call_start","ts":1e9}')  # neither alarm nor hub
        evil.publish(wire.request_topic("c"), b'{"v":1,"type":"request","req":"r","console":"c",'
                     b'"op":"call_end","ts":1e9}')  # which call?
        evil.publish(wire.hub_topic("h001", wire.VOICE_UP), b"\x00garbage")
        evil.publish(wire.hub_topic("h001", wire.DOWN), b'{"v":1,"type":"call","op":"start",'
                     b'"call":"x","ts":1}')  # neither alarm nor visit
        evil.publish(wire.hub_topic("h001", wire.DOWN), b"\xff")
        evil.publish(wire.hub_topic("h001", wire.VOICE_DOWN), b"\xa1\x00")
        evil.publish(wire.hub_topic("h001", wire.VOICE_DOWN), good)  # well formed, foreign
        await eventually(lambda: station.store.count("rejected") == 4, what="4 kept")
        reasons = [r for (r,) in station.store._db.execute("SELECT reason FROM rejected")]
        assert any("needs exactly one of alarm and hub" in r for r in reasons)
        assert any("call_end.call: Field required" in r for r in reasons)
        assert sum("not a voice packet: truncated packet" in r for r in reasons) == 2  # up, down
        await eventually(lambda: hub.link.rejected == 2 and hub.calls.rejected == 1,
                         what="the hub counted its refusals")
        assert hub.calls.call is None and not hub.calls.mic_open
        # and calls work as before
        ok = await zhang.request("call_start", hub="h001", timeout=5)
        assert ok.ok
        await eventually(lambda: hub.calls.mic_open, what="a good call opens")
        evil.publish(wire.hub_topic("h001", wire.VOICE_DOWN), good)  # not this call's: dropped
        evil.publish(wire.hub_topic("h001", wire.DOWN), b"\xff")  # the sentinel: after the packet
        await eventually(lambda: hub.link.rejected == 3, what="the sentinel")
        assert hub.calls.audio and hub.calls.audio.stats["received_packets"] == 0
        assert (await zhang.request("call_end", call=ok.call, timeout=5)).ok
        evil.close()


class DeadHeadset:
    """A headset whose sound card will not open."""

    def start_call(self, on_mic: object, far: object) -> None:
        raise RuntimeError("the sound card would not open")

    def end_call(self) -> None:
        pass


async def test_a_headset_that_will_not_open_hangs_up_at_once(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    from console.tui.call_line import CallLine

    async with StationService(station_cfg) as station, \
            HubService(home_with_voice(hub_cfg, tmp_path, None, silence_s=30)), \
            desk(station_cfg, "zhang") as zhang:
        await online(station, "h001")
        reply = await CallLine(zhang, DeadHeadset()).start(hub="h001")
        assert not reply.ok and reply.error and "would not open" in reply.error
        [(reason, ended)] = station.store._db.execute("SELECT reason, ended FROM calls").fetchall()
        assert reason == "hangup" and ended is not None
