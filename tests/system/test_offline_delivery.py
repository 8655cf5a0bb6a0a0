"""Alarms raised while the uplink is down reach the station later, each once, in order, with the
times they happened at home: the broker is stopped, the home raises alarms, the broker returns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.trust.broker import Mosquitto
from hub.common.events import Event
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import eventually

KINDS = ["panic", "smoke", "gas", "fall", "leak"]


async def test_offline_alarms_arrive_later_in_order_with_home_times(
        broker: Mosquitto, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    async with StationService(station_cfg) as station, HubService(hub_cfg()) as hub:
        await eventually(lambda: hub.link.connected, what="hub connected")
        broker.stop()
        await eventually(lambda: not hub.link.connected, what="hub notices the broker is gone")
        raised = []
        for kind in KINDS:
            ev = Event(kind=f"{kind}.test", source="bedside", alarm=kind)
            hub.alarms.raise_alarm(ev)
            raised.append((ev.id, ev.ts))
            await asyncio.sleep(0.05)
        assert hub.store.pending_count() == len(KINDS)
        back = time.time()
        broker.start()
        await eventually(lambda: hub.store.pending_count() == 0, timeout=30,
                         what="backlog acknowledged after the broker returns")
        stored = station.store.alarms_for_hub("h001", open_only=False)  # ordered by home time
        assert [(a.id, a.raised) for a in stored] == raised
        assert all(a.raised < back <= a.received for a in stored)
        # stored in the order they happened, even when the restarting broker drops one and it
        # comes again after the others: the station stores nothing past a gap in a lane
        arrival = [r[0] for r in station.store._db.execute("SELECT id FROM alarms ORDER BY rowid")]
        assert arrival == [i for i, _ in raised]
