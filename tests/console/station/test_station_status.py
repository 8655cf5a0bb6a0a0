"""The station's retained status: online while it is up, whatever the topic said before."""

from __future__ import annotations

import asyncio
from pathlib import Path

from console.station.config import StationConfig
from console.station.service import StationService, station_will
from hub.common import wire
from hub.common.transport import MemoryBroker
from tests.conftest import eventually


def said(broker: MemoryBroker) -> wire.StationStatus:
    return wire.decode_as(broker.retained[wire.STATION_STATUS], wire.StationStatus)


async def test_an_offline_status_while_the_station_is_up_is_answered_at_once(tmp_path: Path) -> None:
    """A last will that outlived the station's connection (or another worker's) says offline:
    the station says online again at once, not on a timer that sent its status to every hub
    every 5 s."""
    broker = MemoryBroker()
    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db")})
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())):
        await eventually(lambda: said(broker).online, what="the station online")
        other = broker.client()
        other.start(lambda t, p: None, lambda up: None)
        heard: list[bool] = []
        hub = broker.client()
        hub.start(lambda t, p: heard.append(wire.decode_as(p, wire.StationStatus).online),
                  lambda up: None)
        hub.subscribe(wire.STATION_STATUS)
        other.publish(wire.STATION_STATUS, wire.encode(wire.StationStatus(online=False, ts=0.0)),
                      retain=True)
        await eventually(lambda: said(broker).online, timeout=0.5, what="online said again")
        await asyncio.sleep(1.5)  # a few rounds of the station's loops: nothing more to say
        assert heard == [True, False, True]
