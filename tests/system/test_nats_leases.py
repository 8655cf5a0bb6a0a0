"""A county station worker dies for good: another takes its partitions over, and gives them
back when it returns (console/station/leases.py; docs/county.md, "Taking over a dead worker's
partitions").

Worker ``a`` is a real `anxin station run` process, killed with SIGKILL (no goodbye: its leases
stay in the bucket until they lapse); worker ``b`` runs in the test. Both write one PostgreSQL
database, as a county's do, so an event the two both see is stored once. Short leases here
(LEASE_S); the default is 10 s.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from nats.errors import TimeoutError as NatsTimeout

from console.station import jetstream
from console.station.config import StationConfig
from console.station.jetstream import (
    LEASES,
    JetStreamTransport,
    connect,
    lease_bucket,
    read_view,
    server_urls,
)
from console.station.service import StationService
from console.station.store.reader import StationReader
from console.station.trust import natsconf
from hub.runtime.config import LinkConfig
from hub.sim.fleet import Fleet, Press, hub_ids
from tests.conftest import REPO, eventually
from tests.support.nats import NatsCluster
from tests.support.postgres import StoreAt
from tests.support.tls import Pki
from tests.system.test_nats_station import (
    HUBS,
    PARTITIONS,
    WAIT_S,
    alarm_rows,
    fleet_broker,
    worker_cfg,
)

LEASE_S = 4.0
HALF = PARTITIONS // 2
A_HOME, B_HOME = list(range(HALF)), list(range(HALF, PARTITIONS))
STORED = re.compile(r"alarm (\S+) from ")  # the service's log line for a stored alarm


@pytest.fixture
def county(tmp_path: Path, ca: Pki) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "nats", ca, hubs=hub_ids(HUBS)) as c:
        yield c


def leased(tmp_path: Path, ca: Pki, cluster: NatsCluster, name: str, take: list[int],
           store: StoreAt) -> StationConfig:
    return short_leases(worker_cfg(tmp_path, ca, cluster, name, take, store=store))


def short_leases(cfg: StationConfig) -> StationConfig:
    assert cfg.nats is not None
    return cfg.model_copy(update={"nats": cfg.nats.model_copy(update={"lease_s": LEASE_S})})


class Process:
    """Worker ``a``: `anxin station run` in a process of its own, logging to a file."""

    def __init__(self, cfg: StationConfig, folder: Path) -> None:
        self.config, self.log = folder / "station-a.yaml", folder / "station-a.log"
        self.err = folder / "station-a.err"
        self.config.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_defaults=True)))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.err.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub.cli.main", "--log-file", str(self.log), "station",
                 "run", "--config", str(self.config)], cwd=REPO, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=err)

    def kill(self) -> None:
        """kill -9: its leases stay in the bucket until they lapse."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stored(self) -> list[str]:
        return STORED.findall(self.log.read_text()) if self.log.exists() else []


async def holders(cfg: StationConfig) -> dict[int, str]:
    """Who holds each partition's lease, read as a worker reads it."""
    assert cfg.nats is not None
    nc = await connect(server_urls(cfg.broker, cfg.nats), cfg.broker, "test-leases",
                       allow_reconnect=False)
    try:
        kv, _ = await lease_bucket(nc.jetstream(timeout=5), cfg.nats)
        return {p: lease.holder for p, lease in (await read_view(kv, PARTITIONS)).leases.items()}
    finally:
        await nc.close()


async def until_held(cfg: StationConfig, want: dict[int, str], timeout: float) -> float:
    """Seconds until the leases are ``want``."""
    t0 = time.monotonic()
    while (now := await holders(cfg)) != want:
        assert time.monotonic() - t0 < timeout, f"leases {now}, not {want}"
        await asyncio.sleep(0.2)
    return time.monotonic() - t0


async def test_a_killed_workers_partitions_are_taken_over_and_given_back(
        tmp_path: Path, ca: Pki, county: NatsCluster, pg_at: StoreAt) -> None:
    a_cfg = leased(tmp_path, ca, county, "a", A_HOME, pg_at)
    b_cfg = leased(tmp_path, ca, county, "b", B_HOME, pg_at)
    a = Process(a_cfg, tmp_path)
    told: list[str] = []
    homes = {p: "a" for p in A_HOME} | {p: "b" for p in B_HOME}
    link = LinkConfig(heartbeat_s=2, retry_s=3)
    a.start()
    try:
        async with StationService(b_cfg) as b, \
                Fleet(hub_ids(HUBS), broker=fleet_broker(ca, county), link=link) as fleet:
            assert isinstance(b.t, JetStreamTransport)
            b.on_alarm_stored = told.append
            await until_held(b_cfg, homes, WAIT_S)
            fleet.start(ramp_s=1.0)
            assert await fleet.until_reachable(WAIT_S) == HUBS
            before = [fleet.press(h) for h in fleet.ids]
            assert await fleet.until_acked(before, WAIT_S) == HUBS
            a_hubs = {p.hub for p in before if p.id in a.stored()}
            assert a_hubs and a_hubs != set(fleet.ids), "each worker stores its hubs' alarms"

            await asyncio.to_thread(a.kill)
            killed = time.time()
            during = [fleet.press(h) for h in fleet.ids]
            taken = await until_held(b_cfg, dict.fromkeys(range(PARTITIONS), "b"), 4 * LEASE_S)
            assert await fleet.until_acked(during, 4 * LEASE_S) == HUBS
            waited = max((p.acked or killed) - killed for p in during if p.hub in a_hubs)
            assert b.t.leases is not None and b.t.leases.held == list(range(PARTITIONS))

            a.start()
            back = await until_held(b_cfg, homes, 4 * LEASE_S)
            after = [fleet.press(h) for h in fleet.ids]
            assert await fleet.until_acked(after, WAIT_S) == HUBS
            await eventually(lambda: set(a.stored()) >= {p.id for p in after if p.hub in a_hubs},
                             WAIT_S, "worker a storing its hubs' alarms again")
    finally:
        await asyncio.to_thread(a.kill)

    presses: list[Press] = [*before, *during, *after]
    reader = StationReader.open(pg_at.readonly)
    try:
        lost = [p.id for p in presses if not reader.alarm(p.id)]
    finally:
        reader.close()
    stored_by = Counter([*told, *a.stored()])
    twice = [i for i, n in stored_by.items() if n > 1]
    print(f"\nworker a killed: its {len(a_hubs)} hubs' alarms stored by b {waited:.1f} s after "
          f"the kill (leases held by b after {taken:.1f} s; lease {LEASE_S:g} s); a back: its "
          f"partitions home after {back:.1f} s. Alarms {len(presses)}, lost {len(lost)}, "
          f"twice {len(twice)}")
    assert lost == [] and twice == []
    assert {p.id for p in during} <= set(told)  # b stored what was raised while a was dead
    assert waited < LEASE_S + 5


async def test_a_worker_the_nodes_refuse_the_bucket_consumes_its_home_partitions_until_allowed(
        tmp_path: Path, ca: Pki, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A county whose users.conf was written before the leases: the worker says so, and
    consumes its home partitions as workers did before, rather than nothing. Once users.conf
    is written again and the nodes reloaded, it takes them by lease (a worker with leases
    would otherwise see them free, take them over, and both would pull them)."""
    monkeypatch.setattr(natsconf, "STATION_JS_PUBLISH", [
        s for s in natsconf.STATION_JS_PUBLISH if natsconf.STATION_LEASES not in s])
    with NatsCluster(tmp_path / "nats", ca, hubs=hub_ids(HUBS)) as cluster:
        cfg = short_leases(worker_cfg(tmp_path, ca, cluster, "w1", list(range(PARTITIONS))))
        link = LinkConfig(heartbeat_s=2, retry_s=3)
        async with StationService(cfg) as w1, \
                Fleet(hub_ids(HUBS), broker=fleet_broker(ca, cluster), link=link) as fleet:
            assert isinstance(w1.t, JetStreamTransport)
            fleet.start(ramp_s=1.0)
            assert await fleet.until_reachable(WAIT_S) == HUBS
            presses = [fleet.press(h) for h in fleet.ids]
            assert await fleet.until_acked(presses, WAIT_S) == HUBS
            assert w1.t.leases is None

            monkeypatch.undo()
            cluster.reload_users()
            await until_held(cfg, dict.fromkeys(range(PARTITIONS), "w1"), WAIT_S)
            assert w1.t.leases is not None and w1.t.leases.held == list(range(PARTITIONS))
            after = [fleet.press(h) for h in fleet.ids]
            assert await fleet.until_acked(after, WAIT_S) == HUBS
    assert len(alarm_rows(cfg.database)) == 2 * HUBS
    assert f"NATS refused bucket {LEASES}" in caplog.text and "write it again" in caplog.text


async def test_a_worker_says_it_is_online_only_once_it_consumes(
        tmp_path: Path, ca: Pki, county: NatsCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream is there but the bucket not yet (no answer from JetStream, not a refusal):
    MQTT, whose station status hubs go by (online: no SMS fallback), waits for the leases."""
    found = jetstream.lease_bucket
    asked, ready = [], asyncio.Event()

    async def not_yet(js: Any, cfg: Any) -> Any:
        asked.append(time.monotonic())
        if not ready.is_set():
            raise NatsTimeout
        return await found(js, cfg)

    monkeypatch.setattr(jetstream, "lease_bucket", not_yet)
    cfg = short_leases(worker_cfg(tmp_path, ca, county, "w1", list(range(PARTITIONS))))
    async with StationService(cfg) as w1:
        assert isinstance(w1.t, JetStreamTransport)
        await eventually(lambda: len(asked) >= 3, WAIT_S, "the bucket asked for")
        assert not w1.t.connected and w1.t.leases is None
        ready.set()
        await eventually(lambda: w1.t.connected, WAIT_S, "MQTT connected")
        assert w1.t.leases is not None and w1.t.leases.held == list(range(PARTITIONS))
