"""A home's status and heartbeats are taken in the order the hub sent them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from console.station.config import StationConfig
from console.station.service import StationService, station_will
from hub.common import wire
from hub.common.transport import MemoryBroker


async def test_a_heartbeat_just_before_the_goodbye_does_not_bring_the_home_back(
        tmp_path: Path) -> None:
    """Heartbeats wait for the next loop turn to be stored together; a goodbye that came
    right behind one was stored first, and the heartbeat then showed the home online again
    (until the silence check, 90 s later)."""
    broker = MemoryBroker()
    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db")})
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())) as st:
        hub = broker.client()
        hub.start(lambda t, p: None, lambda up: None)
        hub.publish(wire.hub_topic("h001", "status"),
                    wire.encode(wire.Status(hub="h001", online=True, ts=time.time())))
        await asyncio.sleep(0.05)
        hub.publish(wire.hub_topic("h001", "heartbeat"), wire.encode(wire.Heartbeat(
            hub="h001", ts=time.time(), seq=1, pending=0)))
        hub.publish(wire.hub_topic("h001", "status"),
                    wire.encode(wire.Status(hub="h001", online=False, ts=time.time())))
        await asyncio.sleep(0.05)
        home = st.store.home("h001")
        assert home is not None and home.last_heartbeat is not None  # the heartbeat was stored
        assert not home.online
