"""How a call ends besides the officer's hangup: the elder's cancel gesture (the elder can
always close the microphone) and the hub going away. Real Mosquitto, station and hub."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.users import Role
from drivers.gpio.sim import SimPins
from hub.config import HubConfig
from hub.service import HubService
from tests.accounts import add_users, desk
from tests.callkit import home_with_voice
from tests.conftest import eventually
from tests.test_call_refusals import online

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
