"""Durable, ordered delivery: lanes in order through loss, backlogs that do not starve new
alarms, bounded telemetry, and the hub knowing when the station is out of reach.

Hub and station run for real over the in-memory broker, which can lose messages on demand;
tests/system/faults/ does the same against real processes and a real Mosquitto.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.service import StationService, station_will
from console.station.store.ingest import OutOfOrder
from console.station.store.station import StationStore
from hub.common import wire
from hub.common.events import Event
from hub.common.transport import MemoryBroker, MemoryTransport
from hub.runtime.config import HubConfig, LinkConfig
from hub.runtime.service import HubService
from hub.runtime.store import HubStore
from hub.runtime.uplink import Uplink, last_will
from tests.conftest import eventually


@dataclass
class Setup:
    broker: MemoryBroker
    hub: HubService
    station: StationService
    hub_link: MemoryTransport

    def stored(self, lane: str) -> list[int]:
        """The lane's outbox numbers in the order the station stored them."""
        rows = self.station.store._db.execute("SELECT payload FROM events ORDER BY rowid")
        seqs = [json.loads(r[0]).get("seq") for r in rows]
        return [s["n"] for s in seqs if s and s["lane"] == lane]


def hub_config(tmp_path: Path, **over: object) -> HubConfig:
    return HubConfig.model_validate({
        "hub_id": "h001", "data_dir": str(tmp_path / "h001"), "gpio": {"backend": "sim"},
        "buttons": [{"name": "bedside", "pin": 17}], "status_led": {"pin": 22},
        "link": {"heartbeat_s": 1, "retry_s": 1, "window": 20}, **over})


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    broker = MemoryBroker()
    links: list[MemoryTransport] = []

    def hub_transport(cfg: HubConfig, _: object) -> MemoryTransport:
        links.append(broker.client(last_will(cfg.hub_id)))
        return links[-1]

    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db")})
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())) as st, \
            HubService(hub_config(tmp_path), transport=hub_transport) as hub:
        yield Setup(broker, hub, st, links[0])


def alarm(kind: str = "panic") -> Event:
    return Event(kind=f"{kind}.test", source="bedside", alarm=kind)


def telemetry(i: int) -> Event:
    return Event(kind="presence", source="radar", data={"present": i % 2 == 0, "i": i})


async def test_a_lost_message_holds_back_its_lane_until_the_hub_resends(setup: Setup) -> None:
    lost: list[str] = []
    resends: list[bytes] = []

    def lose(topic: str, payload: bytes) -> bool:
        if topic.endswith("/resend"):
            resends.append(payload)
        if topic.endswith("/event") and b'"kind":"smoke"' in payload and not lost:
            lost.append(topic)  # the second alarm vanishes, once
            return True
        return False

    setup.broker.lose = lose
    events = [alarm("panic"), alarm("smoke"), alarm("gas"), alarm("fall"), alarm("leak")]
    for ev in events:
        setup.hub.alarms.raise_alarm(ev)
    await eventually(lambda: setup.hub.store.pending_count() == 0, what="all acknowledged")
    assert lost and resends, "the loss happened and the station asked for the lane again"
    assert [a.id for a in setup.station.store.alarms_for_hub("h001", open_only=False)] == \
        [ev.id for ev in events]
    numbers = setup.stored("alarm")
    assert numbers == sorted(numbers) and len(numbers) == len(events)  # stored in hub order


async def test_a_backlog_drains_in_order_and_a_new_alarm_goes_first(setup: Setup) -> None:
    setup.hub_link.drop()
    for i in range(400):
        setup.hub.outbox.send(telemetry(i), "telemetry")
    old = alarm("smoke")
    setup.hub.alarms.raise_alarm(old)
    assert setup.hub.store.pending_count() == 401
    setup.hub_link.reconnect()
    new = alarm("panic")
    setup.hub.alarms.raise_alarm(new)  # pressed while the backlog is still draining
    await eventually(lambda: setup.hub.store.pending_count() == 0, timeout=30, what="drained")
    order = [r[0] for r in setup.station.store._db.execute("SELECT id FROM events ORDER BY rowid")]
    assert order.index(old.id) < order.index(new.id) < 50, "alarms went ahead of the backlog"
    telemetry_order = setup.stored("telemetry")
    assert len(telemetry_order) == 400 and telemetry_order == sorted(telemetry_order)


async def test_the_led_shows_when_the_station_is_out_of_reach(setup: Setup) -> None:
    led = setup.hub.hw.led
    assert led
    await eventually(lambda: led.pattern == "idle", what="resting LED")
    station_link = setup.station.t
    assert isinstance(station_link, MemoryTransport)
    station_link.drop()  # the station gone: the broker publishes its last will
    await eventually(lambda: led.pattern == "fault", what="LED shows the station is gone")
    station_link.reconnect()  # back: it says it is online
    await eventually(lambda: led.pattern == "idle", what="LED back to rest")
    setup.hub_link.drop()  # the broker itself out of reach
    await eventually(lambda: led.pattern == "fault", what="LED shows the link is down")
    setup.hub.alarms.raise_alarm(alarm())  # an alarm's own pattern wins while it is open
    assert led.pattern == "calling"


def test_telemetry_is_bounded_oldest_first_and_alarms_never_drop(tmp_path: Path) -> None:
    s = HubStore(tmp_path / "hub.db", telemetry_max_bytes=10_000)
    for i in range(5):
        s.put(f"a{i}", b"A" * 500, alarm=True, alarm_kind="panic")
    for i in range(1000):
        s.put(f"t{i}", b"T" * 100, alarm=False)
    kept = [p.id for p in s.lane("telemetry", limit=2000)]
    assert 0 < len(kept) * 100 <= 10_000
    assert kept == [f"t{i}" for i in range(1000 - len(kept), 1000)], "newest kept, in order"
    assert [p.id for p in s.lane("alarm")] == [f"a{i}" for i in range(5)]
    assert s.dropped == 1000 - len(kept)
    s.close()
    s = HubStore(tmp_path / "hub.db", telemetry_max_bytes=10_000)  # the count survives a restart
    assert s.dropped == 1000 - len(kept)
    assert s.prev_pending("telemetry", int(s.lane("telemetry")[0].seq)) == 0


def _msg(id: str, epoch: str, n: int, prev: int, lane: str = "alarm") -> wire.EventMsg:
    seq = wire.Seq(epoch=epoch, lane=lane, n=n, prev=prev)  # type: ignore[arg-type]
    return wire.EventMsg(hub="h1", id=id, kind="door.open", source="door", ts=1.0, seq=seq)


def test_the_station_stores_each_lane_only_in_order(tmp_path: Path) -> None:
    s = StationStore(tmp_path / "st.db")
    with pytest.raises(OutOfOrder):
        s.store_event(_msg("b", "E1", 2, prev=1))  # its predecessor was never stored
    assert s.store_event(_msg("a", "E1", 1, prev=0))
    assert s.store_event(_msg("b", "E1", 2, prev=1))
    assert not s.store_event(_msg("a", "E1", 1, prev=0))  # a repeat is acknowledged again
    with pytest.raises(OutOfOrder):
        s.store_event(_msg("d", "E1", 4, prev=3))  # 3 is missing
    assert s.store_event(_msg("t", "E1", 3, prev=0, lane="telemetry"))  # lanes are independent
    assert s.store_event(_msg("c", "E1", 5, prev=0))  # prev 0: all before it acknowledged
    with pytest.raises(OutOfOrder):
        s.store_event(_msg("x", "E2", 2, prev=1))  # a new hub database: numbering restarted
    assert s.store_event(_msg("y", "E2", 1, prev=0))
    assert s.count("events") == 5


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
async def test_a_damaged_outbox_is_moved_aside_and_reported(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "h001" / "hub.db"
    s = HubStore(path)
    for i in range(300):
        s.put(f"t{i}", b"x" * 200, alarm=False)
    s.close()
    data = path.read_bytes()
    path.write_bytes(b"not a database" * 100 if damage == "garbage" else data[: len(data) // 3])
    broker = MemoryBroker()
    async with HubService(hub_config(tmp_path),
                          transport=lambda cfg, _: broker.client(last_will(cfg.hub_id))) as hub:
        [fault] = hub.store.open_alarms()
        assert fault.kind == "hub_fault"
    assert [p.name for p in path.parent.glob("hub.db.damaged-*")][:1], "kept for inspection"


async def test_no_resends_pile_up_while_the_station_is_down(setup: Setup) -> None:
    published: list[bytes] = []

    def station_away(topic: str, payload: bytes) -> bool:
        if topic.endswith("/event"):
            published.append(payload)
            return True  # the broker keeps it for the station (here: nobody gets it)
        return False

    station_link = setup.station.t
    assert isinstance(station_link, MemoryTransport)
    station_link.drop()  # the station gone: the broker publishes its last will
    await eventually(lambda: not setup.hub.link.reachable, what="hub knows the station is down")
    setup.broker.lose = station_away
    events = [alarm("panic"), alarm("smoke")]
    for ev in events:
        setup.hub.alarms.raise_alarm(ev)
    await asyncio.sleep(3.5)  # retry_s is 1 s
    assert len(published) == len(events), "each sent once, no copies queued behind them"
    setup.broker.lose = None
    station_link.reconnect()  # back: it says it is online
    await eventually(lambda: setup.hub.store.pending_count() == 0, what="sent again, acknowledged")


def test_a_message_that_no_longer_passes_the_wire_checks_does_not_block_its_lane(tmp_path: Path) -> None:
    s = HubStore(tmp_path / "hub.db")
    good = [wire.encode(wire.event_msg("h001", alarm())) for _ in range(2)]
    old = json.loads(good[0]) | {"id": "old", "data": {"reason": "r" * 3000}}  # older, laxer limits
    s.put("g1", good[0], alarm=True)
    s.put("old", json.dumps(old).encode(), alarm=True)
    s.put("g2", good[1], alarm=True)
    s.close()
    s = HubStore(tmp_path / "hub.db")  # the newer version starts: what it inherits is checked again
    broker = MemoryBroker()
    seen: list[wire.EventMsg] = []
    station = broker.client()
    station.start(lambda t, p: seen.append(wire.decode_as(p, wire.EventMsg)), lambda up: None)
    station.subscribe(wire.hub_wildcard("event"))
    link = Uplink(hub="h001", transport=broker.client(), store=s, config=LinkConfig(),
                  on_ack=lambda ids, ts: None, on_update=lambda u: None)
    link._t.start(link._message, link._connection)  # connected: the lanes go out
    assert [m.id for m in seen] == [json.loads(good[0])["id"], json.loads(good[1])["id"]]
    assert seen[1].seq and seen[0].seq and seen[1].seq.prev == seen[0].seq.n  # chain skips it
    assert [p.id for p in s.lane("alarm")] == ["g1", "g2"]  # set aside, kept in the table


def test_the_station_keeps_how_much_telemetry_a_hub_dropped(tmp_path: Path) -> None:
    s = StationStore(tmp_path / "st.db")
    assert s.heartbeat("h1", pending=3, now=1.0, dropped=0) == (True, 0)
    assert s.heartbeat("h1", pending=900, now=2.0, dropped=120) == (False, 120)  # news: logged
    assert s.heartbeat("h1", pending=0, now=3.0, dropped=120) == (False, 0)
    home = s.home("h1")
    assert home and (home.pending, home.dropped) == (0, 120)
