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
from tests.conftest import REPO, eventually


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


async def test_every_home_hears_its_own_contacts_at_start(tmp_path: Path) -> None:
    """All homes' retained contacts are made from one read of the records (a county's worker
    starts with tens of thousands); each is its own home's."""
    broker = MemoryBroker()
    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db"),
                                        "homes_file": str(REPO / "config/homes.yaml")})
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())) as st:
        await eventually(lambda: st.t.connected, what="the station connected")
        hubs = [h.hub for h in st.store.homes()]
        elders = dict(st.store.records.elders())
    said = {t: wire.decode_as(p, wire.HubContacts) for t, p in broker.retained.items()
            if t.endswith("/" + wire.CONTACTS)}
    assert len(hubs) > 1 and set(said) == {wire.hub_topic(h, wire.CONTACTS) for h in hubs}
    named = 0
    for hub in hubs:
        msg = said[wire.hub_topic(hub, wire.CONTACTS)]
        assert msg.hub == hub
        if hub in elders and elders[hub].contacts:  # the elder's first contact, by name
            assert elders[hub].contacts[0].name in [p.name for p in msg.people], hub
            named += 1
    assert named > 1


async def test_a_hub_from_before_is_named_when_the_station_no_longer_speaks_its_topics(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = MemoryBroker()
    hub = broker.client()
    hub.start(lambda t, p: None, lambda up: None)
    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db"),
                                        "legacy_hub_topics": False})
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())) as st:
        await eventually(lambda: st.t.connected, what="the station connected")
        for hub_id, down in (("h001", True), ("h002", False)):
            hub.publish(wire.hub_topic(hub_id, "status"), wire.encode(
                wire.Status(hub=hub_id, online=True, ts=1.0, down=down)))
        await eventually(lambda: "runs protocol 1.0" in caplog.text, what="the error")
    named = [r.getMessage() for r in caplog.records if "runs protocol 1.0" in r.getMessage()]
    assert len(named) == 1 and named[0].startswith("hub h002 ")
