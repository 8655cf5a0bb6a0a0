"""How a call ends besides the officer's hangup: the elder's cancel gesture (the elder can
always close the microphone) and the hub going away. Real Mosquitto, station and hub."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from console.station.calls import CALL_ENDED
from console.station.config import StationConfig
from console.station.service import StationService
from console.station.trust.broker import Mosquitto
from console.station.users import Role
from console.tui.client import StationClient
from drivers.gpio.sim import SimPins
from hub.common import wire
from hub.common.events import AlarmState
from hub.common.transport import BrokerConfig, PahoTransport
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually
from tests.support.accounts import add_users, desk
from tests.support.callkit import home_with_voice, online

BUTTONS = [{"name": "bedside", "pin": 17}, {"name": "cancel", "pin": 23, "role": "cancel"}]


@pytest.fixture(autouse=True)
def officer(station_cfg: StationConfig, cheap_passwords: None) -> None:
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY))


async def test_the_cancel_button_hangs_up(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    cfg = home_with_voice(lambda **kw: hub_cfg(buttons=BUTTONS, **kw), tmp_path, None, silence_s=30)
    async with StationService(station_cfg) as station, HubService(cfg) as hub, \
            desk(station_cfg, "zhang") as zhang:
        await online(station, "h001")
        reply = await zhang.request("call_start", hub="h001", timeout=5)
        await eventually(lambda: hub.calls.mic_open, what="mic open")
        await asyncio.to_thread(SimPins(hub.pins).click, 23)
        await eventually(lambda: hub.hw.phone is not None and not hub.hw.phone.mic_open,
                         what="the elder closed the microphone")
        call = await eventually(lambda: (c := station.store.calls.get(reply.call or "")) and
                                c.ended and c, what="ended at the station")
        assert call.reason == "elder_hangup" and call.duration is not None
        heard = [k for _, k, _ in hub.speaker.heard]  # type: ignore[attr-defined]
        assert heard[-1] == "call_ended" and "cancel_too_late" not in heard


async def test_a_hub_that_stops_ends_its_call(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, desk(station_cfg, "zhang") as zhang:
        async with HubService(home_with_voice(hub_cfg, tmp_path, None, silence_s=30)) as hub:
            await online(station, "h001")
            reply = await zhang.request("call_start", hub="h001", timeout=5)
            await eventually(lambda: hub.calls.mic_open, what="mic open")
        assert hub.hw.phone is not None and not hub.hw.phone.mic_open
        call = await eventually(lambda: (c := station.store.calls.get(reply.call or "")) and
                                c.ended and c, what="ended at the station")
        assert call.reason in ("hub_stopped", "hub_offline")  # whichever the station heard first


async def test_a_console_stops_hearing_a_hub_when_its_call_ends(broker: Mosquitto,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker stops sending a hub's voice to the console once its call ends (a console
    used to stay subscribed to every hub it had called, its packets dropped unread)."""
    cfg = BrokerConfig(port=broker.port)
    loop = asyncio.get_running_loop()
    line = PahoTransport(broker=cfg, client_id="anxin-console-test", loop=loop, persistent_session=False)
    arrived: list[str] = []
    real_start = line.start
    monkeypatch.setattr(line, "start", lambda on_message, on_connection: real_start(
        lambda topic, payload: (arrived.append(topic), on_message(topic, payload)), on_connection))
    changed: list[wire.Changed] = []
    console = StationClient(transport=line, console_id="desk-1", on_changed=changed.append,
                            on_station=lambda up: None)
    hub = PahoTransport(broker=cfg, client_id="anxin-h001", loop=loop)
    console.start()
    hub.start(lambda topic, payload: None, lambda up: None)
    up = wire.hub_topic("h001", wire.VOICE_UP)
    try:
        await eventually(lambda: line.connected and hub.connected, what="both connected")
        heard: list[bytes] = []
        console.listen("h001", heard.append)
        await eventually(lambda: hub.publish(up, b"\x01", qos=0) or heard, what="the call heard")
        console.listen("h001", None)  # the call ended
        await asyncio.sleep(0.3)
        arrived.clear()
        for _ in range(20):
            hub.publish(up, b"\x02", qos=0)
        # published after the packets on the same connection: when it is in, they would be too
        hub.publish(wire.STATION_CHANGED, wire.encode(wire.Changed(what="home", id="h001")))
        await eventually(lambda: changed, what="the marker")
        assert arrived == [wire.STATION_CHANGED] and b"\x02" not in heard
    finally:
        console.close()
        hub.close()


async def test_an_alarm_is_in_call_only_while_its_call_is_open(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    """Hung up, the alarm is the officer's again ("claimed"), with the end on its timeline; a
    second call puts it in a call again."""
    cfg = home_with_voice(lambda **kw: hub_cfg(buttons=BUTTONS, **kw), tmp_path, None, silence_s=30)
    async with StationService(station_cfg) as station, HubService(cfg) as hub, \
            desk(station_cfg, "zhang") as zhang:
        await online(station, "h001")
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        alarm = (await eventually(station.store.open_alarms, what="alarm"))[0].id
        assert (await zhang.request("claim", alarm, timeout=5)).ok

        def state() -> AlarmState | None:
            return a.state if (a := station.store.alarm(alarm)) else None

        for _ in range(2):
            reply = await zhang.request("call_start", alarm, timeout=5)
            await eventually(lambda: state() is AlarmState.IN_CALL, what="in call")
            assert (await zhang.request("call_end", call=reply.call, timeout=5)).ok
            assert state() is AlarmState.CLAIMED
            await eventually(lambda: not hub.calls.mic_open, what="the hub's mic closed")
        log = station.store.alarm_log(alarm)
        assert [(s, who, note) for s, _, who, note in log][-4:] == [
            (AlarmState.IN_CALL, "张三", None), (AlarmState.CLAIMED, "张三", CALL_ENDED)] * 2
        assert hub.store.open_alarms()[0].state is AlarmState.IN_CALL  # the hub's own never goes back
        assert (await zhang.request("resolve", alarm, outcome="false_alarm", timeout=5)).ok
