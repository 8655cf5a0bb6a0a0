"""A simulated home on a hub on an in-memory broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from drivers.speaker.sim import LogSpeaker
from hub.common.events import AlarmState, Event
from hub.common.transport import MemoryBroker
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from hub.runtime.uplink import last_will
from hub.sim.home import SimHome
from tests.conftest import eventually

SMOKE_KEY = "231d39c1d7cc1ab1aee224cd096db932"


def home_config(tmp_path: Path, **over: Any) -> HubConfig:
    data: dict[str, Any] = {
        "hub_id": "h001", "data_dir": str(tmp_path / "hub"), "gpio": {"backend": "sim"},
        "buttons": [{"name": "bedside", "pin": 17, "location": "卧室床头", "hold_s": 1.0},
                    {"name": "cord", "pin": 27, "location": "卫生间拉绳"},
                    {"name": "cancel", "pin": 23, "role": "cancel"}],
        "status_led": {"pin": 22}, "siren": {"pin": 24}, "mains": {"pin": 5},
        "relays": [{"name": "gas_valve", "pin": 25, "active_high": False}],
        "radar": {"model": "mr60fda1", "backend": "sim", "room": "卧室", "silence_s": 5,
                  "keepalive_s": 1},
        "ble": {"backend": "sim", "sensors": [
            {"name": "kitchen_smoke", "mac": "A4:C1:38:00:00:01", "type": "smoke", "room": "厨房",
             "bindkey": SMOKE_KEY},
            {"name": "kitchen_gas", "mac": "A4:C1:38:00:00:02", "type": "gas", "room": "厨房"},
            {"name": "front_door", "mac": "A4:C1:38:00:00:03", "type": "door", "room": "门厅",
             "silence_s": 1},
            {"name": "bath_leak", "mac": "A4:C1:38:00:00:04", "type": "leak", "room": "卫生间"},
            {"name": "pendant", "mac": "A4:C1:38:00:00:05", "type": "button"}]}}
    data.update(over)
    return HubConfig.model_validate(data)


class Home:
    def __init__(self, hub: HubService, sim: SimHome) -> None:
        self.hub, self.sim = hub, sim
        self.events: list[Event] = []
        hub.on_event = self.events.append

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def alarms(self) -> dict[str, AlarmState]:
        return {a.kind: a.state for a in self.hub.store.open_alarms()}

    def heard(self) -> list[str]:
        assert isinstance(self.hub.speaker, LogSpeaker)
        return [k for _, k, _ in self.hub.speaker.heard]

    async def do(self, command: str) -> Any:
        verb, *args = command.split()
        return await self.sim.handlers()[verb](args)


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[Home]:
    broker = MemoryBroker()
    async with HubService(home_config(tmp_path),
                          transport=lambda cfg, _: broker.client(last_will(cfg.hub_id))) as hub, \
            SimHome(hub) as sim:
        radar = hub.hw.radar  # its reader thread opens the pty; a frame played before is lost
        await eventually(lambda: radar is None or radar.is_open, what="the radar's port open")
        yield Home(hub, sim)
