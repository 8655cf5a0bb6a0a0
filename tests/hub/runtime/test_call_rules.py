"""A rule's `call: station`: the hub cannot open a call by itself (only an officer starts
one), so it asks; the request reaches the station after its alarm and shows on the alarm."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.store.rows import CALL_REQUESTED
from drivers.gpio.sim import SimPins
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually

RULES = """
rules:
  - name: cord_calls
    trigger: button.press
    actions: [{alarm: panic}, {call: station}]
"""


async def test_a_rules_call_action_asks_the_station(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    async with StationService(station_cfg) as station, \
            HubService(hub_cfg(rules=[str(tmp_path / "rules.yaml")])) as hub:
        await eventually(lambda: hub.link.connected)
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        alarm = (await eventually(station.store.open_alarms, what="alarm"))[0]
        log = await eventually(lambda: [e for e in station.store.alarm_log(alarm.id)
                                        if e[3] == CALL_REQUESTED], what="the call request")
        assert log[0][2] == "h001"
        assert hub.calls.call is None and station.store.calls.open_calls() == []  # asked only
