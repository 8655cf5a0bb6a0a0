"""What the station says to a hub goes on its ``…/down`` (protocol 1.1), and, while
``legacy_hub_topics`` is on, on the topic of its type too, where a hub from before listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.service import StationService, station_will
from hub.common import wire
from hub.common.events import Event
from hub.common.transport import MemoryBroker
from tests.conftest import eventually


@pytest.mark.parametrize("legacy", [True, False])
async def test_an_ack_goes_on_down_and_on_ack_only_for_hubs_from_before(
        tmp_path: Path, legacy: bool) -> None:
    broker = MemoryBroker()
    heard: list[tuple[str, wire.Message]] = []
    hub = broker.client()
    hub.start(lambda t, p: heard.append((t, wire.decode(p))), lambda up: None)
    for leaf in (wire.DOWN, *wire.LEGACY_DOWN):
        hub.subscribe(wire.hub_topic("h001", leaf))
    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db"),
                                        "legacy_hub_topics": legacy})
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())) as st:
        await eventually(lambda: st.t.connected, what="the station connected")
        ev = Event(kind="button.press", source="bedside", alarm="panic")
        hub.publish(wire.hub_topic("h001", "event"), wire.encode(wire.event_msg("h001", ev)))
        await eventually(lambda: len(heard) >= 1, what="the ack")
        await eventually(lambda: st.store.alarm(ev.id) is not None, what="stored")
    expected = [wire.DOWN, "ack"] if legacy else [wire.DOWN]
    assert [t for t, _ in heard] == [wire.hub_topic("h001", leaf) for leaf in expected]
    assert all(isinstance(m, wire.Ack) and m.ids == [ev.id] for _, m in heard)
