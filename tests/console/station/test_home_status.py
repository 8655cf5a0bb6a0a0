"""A home's status and heartbeats are taken in the order the hub sent them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from console.station.config import StationConfig
from console.station.service import StationService, station_will
from hub.common import wire
from hub.common.transport import MemoryBroker
from tests.conftest import REPO, eventually


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


async def test_a_hub_that_comes_online_is_told_its_contacts_again_live(tmp_path: Path) -> None:
    """A county's gateway node may not hand a hub its retained contacts (docs/county.md,
    "Retained messages after a node is lost"): the station says them again when the hub comes
    online, which reaches it live; not at every status, which comes at every connection."""
    broker = MemoryBroker()
    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db"),
                                        "homes_file": str(REPO / "config/homes.yaml")})
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())):
        heard: list[str] = []
        hub = broker.client()
        hub.start(lambda t, p: heard.append(wire.decode_as(p, wire.HubContacts).hub),
                  lambda up: None)
        hub.subscribe(wire.hub_topic("h001", wire.CONTACTS))
        broker.retained.pop(wire.hub_topic("h001", wire.CONTACTS))  # as a node that lost it

        def status(online: bool) -> None:
            hub.publish(wire.hub_topic("h001", "status"),
                        wire.encode(wire.Status(hub="h001", online=online, ts=time.time(),
                                                down=True)))

        status(True)
        await eventually(lambda: len(heard) == 2, what="the contacts said again")
        status(True)  # connected again, never seen offline: said already
        status(False)
        await asyncio.sleep(0.1)
        assert heard == ["h001", "h001"]
        status(True)
        await eventually(lambda: len(heard) == 3, what="back online: said again")
        assert wire.hub_topic("h001", wire.CONTACTS) in broker.retained  # retained, as ever
