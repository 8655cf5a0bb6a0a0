"""Station workers on a county's NATS cluster: what hubs send comes through JetStream.

Hubs speak MQTT to the three nodes' gateway (a real hub service, or the load generator's
fleet); station workers consume the stream console/station/jetstream.py makes, each its
partitions, store, acknowledge to the hub over MQTT QoS 1 and only then to JetStream. Each
test starts its own cluster (tests/support/nats.py).

Two workers here each write their own SQLite file (a county's workers share PostgreSQL, being
added beside): so each takes its own partitions, and what they stored is compared across the
two files.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import nats
import pytest

from console.station.config import StationConfig
from console.station.jetstream import STREAM, JetStreamTransport, consumer_name, tls_context
from console.station.service import StationService
from console.station.store.reader import StationReader
from console.station.trust.natsconf import STATION_INBOX
from drivers.gpio.sim import SimPins
from hub.common.transport import BrokerConfig
from hub.runtime.config import LinkConfig
from hub.runtime.service import HubService
from hub.sim.fleet import Fleet, hub_ids
from tests.conftest import REPO, eventually
from tests.support.nats import NatsCluster, county_hub
from tests.support.postgres import StoreAt
from tests.support.tls import Pki

WAIT_S = 30.0
HUBS = 24
PARTITIONS = 8


@pytest.fixture
def county(tmp_path: Path, ca: Pki) -> Iterator[NatsCluster]:
    """Three nodes that let in h001 and the fleet's hubs, and station:station."""
    with NatsCluster(tmp_path / "nats", ca, hubs=["h001", *hub_ids(HUBS)]) as c:
        yield c


def worker_cfg(tmp_path: Path, ca: Pki, cluster: NatsCluster, name: str,
               take: list[int] | None = None, homes: bool = False,
               partitions: int = PARTITIONS, store: StoreAt | None = None) -> StationConfig:
    """A station worker: MQTT to the gateway (its replies), JetStream for what it hears; its
    own SQLite file, or the ``store`` the workers share."""
    return StationConfig.model_validate({
        **({"store": {"engine": store.engine, "dsn": str(store.location)}} if store else {}),
        "database": str(tmp_path / f"station-{name}.db"),
        "homes_file": str(REPO / "config/homes.yaml") if homes else None,
        "broker": {"hosts": cluster.endpoints, "tls": ca.tls("station:station")},
        "nats": {"servers": cluster.nats_endpoints, "worker": name, "partitions": partitions,
                 "take": take, "batch": 50}})


def fleet_broker(ca: Pki, cluster: NatsCluster) -> Any:
    return lambda hub: BrokerConfig.model_validate(
        {"hosts": cluster.endpoints, "tls": ca.tls(hub), "keepalive_s": 5})


def alarm_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT id, hub FROM alarms").fetchall()


async def test_a_hubs_alarm_comes_through_jetstream_stored_then_acknowledged(
        tmp_path: Path, ca: Pki, county: NatsCluster) -> None:
    """A real hub through the gateway; the station hears it only by JetStream (it has no MQTT
    subscription to hub events), stores the alarm, the hub gets its ack, JetStream its ack."""
    cfg = worker_cfg(tmp_path, ca, county, "w1", homes=True)
    hub_cfg = county_hub(tmp_path, ca, county.endpoints, retry_s=2)
    async with StationService(cfg) as station:
        assert isinstance(station.t, JetStreamTransport)
        reader = StationReader.open(cfg.database)
        # online once the stream keeps what hubs send (a hub that knows no status sends anyway)
        await eventually(lambda: station.t.connected, WAIT_S, "the station online")
        async with HubService(hub_cfg) as hub:
            await eventually(lambda: hub.link.reachable, WAIT_S, "the hub sees the station")
            await eventually(lambda: (h := reader.home("h001")) and h.online, WAIT_S,
                             "h001 online (its status and heartbeats by JetStream)")
            await asyncio.to_thread(SimPins(hub.pins).click, 17)
            await eventually(lambda: reader.open_alarms(), WAIT_S, "the alarm stored")
            await eventually(lambda: hub.store.pending_count() == 0, WAIT_S, "the hub's ack")
        assert station.t.handed > 0
        info = await stream_info(county, ca)
        assert info["state"]["consumer_count"] == PARTITIONS
        await eventually(lambda: all(c["num_ack_pending"] == 0 and c["num_pending"] == 0
                                     for c in consumers(county)), WAIT_S,
                         "every message acknowledged to JetStream")


async def test_a_batch_the_station_could_not_commit_comes_again_from_jetstream(
        tmp_path: Path, ca: Pki, county: NatsCluster) -> None:
    """The first commit of events fails (a full disk): the batch is not acknowledged to
    JetStream, which delivers it again, and the alarm is stored without the hub sending it
    again (its retry is 10 minutes off here)."""
    cfg = worker_cfg(tmp_path, ca, county, "w1", homes=True)
    hub_cfg = county_hub(tmp_path, ca, county.endpoints, retry_s=600)
    async with StationService(cfg) as station:
        store_events, failed = station.store.store_events, []

        def full_disk_once(msgs: list[Any], now: float | None = None) -> Any:
            if not failed:
                failed.append(len(msgs))
                raise sqlite3.OperationalError("database or disk is full")
            return store_events(msgs, now)

        station.store.store_events = full_disk_once  # type: ignore[method-assign]
        reader = StationReader.open(cfg.database)
        # online once the stream keeps what hubs send (a hub that knows no status sends anyway)
        await eventually(lambda: station.t.connected, WAIT_S, "the station online")
        async with HubService(hub_cfg) as hub:
            await eventually(lambda: hub.link.reachable, WAIT_S, "the hub sees the station")
            await asyncio.to_thread(SimPins(hub.pins).click, 17)
            await eventually(lambda: failed, WAIT_S, "the failed commit")
            await eventually(lambda: reader.open_alarms(), WAIT_S, "the alarm stored after all")
            await eventually(lambda: hub.store.pending_count() == 0, WAIT_S, "the hub's ack")


async def stream_info(cluster: NatsCluster, ca: Pki) -> dict[str, Any]:
    found = await asyncio.to_thread(
        lambda: next(s for n in cluster.procs for a in cluster.monitor(
            n, "jsz?streams=true").get("account_details", []) for s in a.get("stream_detail", [])
            if s["name"] == STREAM))
    return dict(found)


def consumers(cluster: NatsCluster) -> list[dict[str, Any]]:
    """Each consumer of the stream, as the node leading it reports it."""
    out = {}
    for n in cluster.procs:
        jsz = cluster.monitor(n, "jsz?consumers=true")
        for a in jsz.get("account_details", []):
            for s in a.get("stream_detail", []):
                for c in s.get("consumer_detail") or []:
                    if s["name"] == STREAM and c.get("cluster", {}).get("leader") == f"anxin-{n}":
                        out[c["name"]] = c
    return list(out.values())


class Workers:
    """Station workers, each its partitions and its own SQLite file."""

    def __init__(self, tmp_path: Path, ca: Pki, cluster: NatsCluster, takes: list[list[int]],
                 store: StoreAt | None = None):
        self.cfgs = [worker_cfg(tmp_path, ca, cluster, f"w{i + 1}", take, store=store)
                     for i, take in enumerate(takes)]
        self.stored: list[list[str]] = [[] for _ in takes]
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Workers:
        for cfg, stored in zip(self.cfgs, self.stored, strict=True):
            station = await self._stack.enter_async_context(StationService(cfg))
            station.on_alarm_stored = stored.append
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def rows(self) -> list[list[tuple[str, str]]]:
        return [alarm_rows(cfg.database) for cfg in self.cfgs]


@pytest.fixture
async def two_workers(tmp_path: Path, ca: Pki, county: NatsCluster) -> AsyncIterator[Workers]:
    half = PARTITIONS // 2
    async with Workers(tmp_path, ca, county, [list(range(half)),
                                              list(range(half, PARTITIONS))]) as w:
        yield w


def check_split(workers: Workers, raised: set[str]) -> tuple[int, int, int]:
    """Each alarm stored by exactly one worker, each hub's by one only: (stored, twice,
    lost)."""
    rows = workers.rows()
    stored = Counter(i for r in rows for i, _ in r)
    hubs_of = [{hub for _, hub in r} for r in rows]
    assert sum(map(len, hubs_of)) == len(set().union(*hubs_of)), \
        "a hub's alarms went to two workers"
    assert Counter(i for s in workers.stored for i in s) == stored  # told once per row
    return len(stored), sum(n > 1 for n in stored.values()), len(raised - set(stored))


async def test_two_workers_split_the_hubs_with_no_loss_and_no_overlap(
        ca: Pki, county: NatsCluster, two_workers: Workers) -> None:
    link = LinkConfig(heartbeat_s=2, retry_s=3)
    async with Fleet(hub_ids(HUBS), broker=fleet_broker(ca, county), link=link) as fleet:
        fleet.start(ramp_s=1.0)
        assert await fleet.until_reachable(WAIT_S) == HUBS
        presses = [fleet.press(h) for h in fleet.ids for _ in range(3)]
        assert await fleet.until_acked(presses, WAIT_S) == len(presses)
    stored, twice, lost = check_split(two_workers, {p.id for p in presses})
    assert (stored, twice, lost) == (len(presses), 0, 0)
    per_worker = [len(r) for r in two_workers.rows()]
    assert all(per_worker), f"one worker got nothing: {per_worker}"
    print(f"\n{len(presses)} alarms from {HUBS} hubs: stored {per_worker} by the two workers")


async def test_a_node_killed_under_load_loses_no_alarm_and_stores_none_twice(
        ca: Pki, county: NatsCluster, two_workers: Workers) -> None:
    """Alarms at random from the fleet while node 1 is killed (kill -9) and later restarted:
    every alarm is stored once and acknowledged."""
    link = LinkConfig(heartbeat_s=2, retry_s=3)
    async with Fleet(hub_ids(HUBS), broker=fleet_broker(ca, county), link=link) as fleet:
        fleet.start(ramp_s=1.0)
        assert await fleet.until_reachable(WAIT_S) == HUBS
        raising = asyncio.create_task(fleet.alarms(per_hub_per_s=0.2, duration_s=8))
        await asyncio.sleep(3)
        await asyncio.to_thread(county.kill, 1)
        killed = time.monotonic()
        raised = await raising
        presses = list(fleet.presses.values())
        assert raised == len(presses) > 10
        acked = await fleet.until_acked(presses, 90)
        waited = max((p.acked or time.time()) - p.pressed for p in presses)
        await asyncio.to_thread(county.start_node, 1)
    stored, twice, lost = check_split(two_workers, {p.id for p in presses})
    print(f"\nnode 1 killed under load: alarms raised {raised}, stored {stored}, twice {twice}, "
          f"lost {lost}, acked {acked}; longest wait {waited:.1f} s "
          f"(the kill {time.monotonic() - killed:.0f} s ago)")
    assert (stored, twice, lost, acked) == (raised, 0, 0, raised)


async def test_a_node_replaced_with_an_empty_store_catches_up(
        tmp_path: Path, ca: Pki, county: NatsCluster) -> None:
    """docs/county.md, "Replacing a dead node": node 1 comes back with nothing in its store,
    copies the streams from the other two, and then holds the majority with node 3 when
    node 2 dies: alarms are still stored, once each."""
    link = LinkConfig(heartbeat_s=2, retry_s=3)
    async with Workers(tmp_path, ca, county, [list(range(PARTITIONS))]) as workers, \
            Fleet(hub_ids(HUBS), broker=fleet_broker(ca, county), link=link) as fleet:
        fleet.start(ramp_s=1.0)
        assert await fleet.until_reachable(WAIT_S) == HUBS
        before = [fleet.press(h) for h in fleet.ids[:8]]
        assert await fleet.until_acked(before, WAIT_S) == len(before)
        await asyncio.to_thread(county.kill, 1)
        shutil.rmtree(county.workdir / "node1" / "store")
        await asyncio.to_thread(county.start_node, 1)  # until /healthz says it caught up
        await asyncio.to_thread(county.kill, 2)
        after = [fleet.press(h) for h in fleet.ids[8:]]
        assert await fleet.until_acked(after, 90) == len(after)
    stored, twice, lost = check_split(workers, {p.id for p in before + after})
    assert (stored, twice, lost) == (len(before) + len(after), 0, 0)


async def test_a_worker_splitting_hubs_otherwise_consumes_nothing(
        tmp_path: Path, ca: Pki, county: NatsCluster, caplog: pytest.LogCaptureFixture) -> None:
    async with Workers(tmp_path, ca, county, [list(range(PARTITIONS))]):
        await eventually(lambda: consumers(county), WAIT_S, "the first worker's consumers")
        other = worker_cfg(tmp_path, ca, county, "w2", partitions=PARTITIONS * 2)
        async with StationService(other):
            await eventually(lambda: "consumes nothing" in caplog.text, WAIT_S, "the refusal")
        assert f"not into {PARTITIONS * 2} partitions" in caplog.text
        assert {c["name"] for c in consumers(county)} == {consumer_name(p)
                                                         for p in range(PARTITIONS)}


async def test_a_station_identity_reaches_only_its_own_stream(
        tmp_path: Path, ca: Pki, county: NatsCluster) -> None:
    """The JetStream API is granted for ANXIN_IN only: the gateway's streams, which hold every
    hub's session and queued messages, stay out of a worker's reach; a hub gets no NATS
    connection at all."""
    cfg = worker_cfg(tmp_path, ca, county, "w1")
    async with StationService(cfg):
        await eventually(lambda: consumers(county), WAIT_S, "the worker's consumers")
    assert cfg.nats is not None
    servers = [f"tls://{s}" for s in cfg.nats.servers]
    nc = await nats.connect(servers, tls=tls_context(cfg.broker), inbox_prefix=STATION_INBOX,
                            allow_reconnect=False)
    try:
        js = nc.jetstream(timeout=2)
        assert (await js.stream_info(STREAM)).config.name == STREAM
        for gateway in ("$MQTT_sess", "$MQTT_msgs", "$MQTT_rmsgs"):
            with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
                await js.stream_info(gateway)
    finally:
        await nc.close()
    hub = BrokerConfig.model_validate({"tls": ca.tls("h001")})
    with pytest.raises(nats.errors.Error):
        await nats.connect(servers, tls=tls_context(hub), allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2)


async def test_two_workers_share_postgresql_through_a_node_kill(
        tmp_path: Path, ca: Pki, county: NatsCluster, pg_at: StoreAt) -> None:
    """A county as docs/county.md has it: both workers write one PostgreSQL database, each
    its partitions; alarms at random while node 1 is killed: each stored once, none lost.
    Which worker stores which may change: one cut off from the cluster longer than its lease
    has its partitions taken over (docs/county.md)."""
    half = PARTITIONS // 2
    link = LinkConfig(heartbeat_s=2, retry_s=3)
    async with Workers(tmp_path, ca, county, [list(range(half)), list(range(half, PARTITIONS))],
                       store=pg_at) as workers, \
            Fleet(hub_ids(HUBS), broker=fleet_broker(ca, county), link=link) as fleet:
        fleet.start(ramp_s=1.0)
        assert await fleet.until_reachable(WAIT_S) == HUBS
        raising = asyncio.create_task(fleet.alarms(per_hub_per_s=0.2, duration_s=6))
        await asyncio.sleep(2)
        await asyncio.to_thread(county.kill, 1)
        raised = await raising
        presses = list(fleet.presses.values())
        acked = await fleet.until_acked(presses, 90)
    reader = StationReader.open(pg_at.readonly)
    try:
        stored = {p.id for p in presses if reader.alarm(p.id)}
    finally:
        reader.close()
    told = Counter(i for s in workers.stored for i in s)
    print(f"\ntwo workers on PostgreSQL, node 1 killed: alarms raised {raised}, stored "
          f"{len(stored)} ({' + '.join(str(len(s)) for s in workers.stored)}), "
          f"twice {sum(n > 1 for n in told.values())}, "
          f"lost {raised - len(stored)}, acked {acked}")
    assert (len(stored), acked) == (raised, raised) and set(told) == stored
    assert max(told.values()) == 1
