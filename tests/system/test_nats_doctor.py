"""`anxin doctor` on a county station worker: its NATS cluster checked with the station's own
certificate, against a real three-node cluster (tests/support/nats.py) and a worker that ran."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from console.station.config import StationConfig
from console.station.jetstream import JetStreamTransport
from console.station.service import StationService
from hub.cli.doctor import cluster
from hub.cli.doctor.report import Finding, Status
from tests.support.nats import NatsCluster
from tests.support.tls import Pki

WAIT_S = 30.0


def worker(tmp_path: Path, ca: Pki, cluster: NatsCluster) -> StationConfig:
    return StationConfig.model_validate({
        "database": str(tmp_path / "station.db"),
        "broker": {"hosts": cluster.endpoints, "tls": ca.tls("station:station")},
        "nats": {"servers": cluster.nats_endpoints, "worker": "w1", "partitions": 4}})


def lines(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


async def test_a_healthy_cluster_is_all_ok_and_a_killed_node_is_named(
        tmp_path: Path, ca: Pki, nats_cluster: NatsCluster) -> None:
    cfg = worker(tmp_path, ca, nats_cluster)
    before = await asyncio.to_thread(cluster.nats, cfg)
    assert [f.status for f in lines(before, "stream")] == [Status.FAIL]  # no worker yet
    assert "missing" in lines(before, "stream")[0].found

    async with StationService(cfg) as station:
        assert isinstance(station.t, JetStreamTransport)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:  # the worker makes its stream, then its consumers
            found = await asyncio.to_thread(cluster.nats, cfg)
            if all(f.status is Status.OK for f in found):
                break
            await asyncio.sleep(0.5)
    assert all(f.status is Status.OK for f in found), found
    assert {f.check for f in found} == {"nats", "stream", "partitions", "leases"}
    assert "4 of 4 partitions consumed: 0 pending" in lines(found, "partitions")[0].found
    assert lines(found, "leases")[0].found == "4 of 4 partitions leased: w1 0,1,2,3"
    assert "3 of 3 copies" in lines(found, "stream")[0].found

    nats_cluster.kill(2)
    dead = nats_cluster.nats_endpoints[1]
    deadline = time.monotonic() + WAIT_S
    while True:  # the survivors elect the stream's leader again: meanwhile JetStream is silent,
        found = await asyncio.to_thread(cluster.nats, cfg)  # which the doctor says as a WARN
        if lines(found, "stream")[0].status is not Status.WARN or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    down = [f for f in found if f.status is Status.FAIL]
    assert len(down) == 1 and down[0].check == "nats" and dead in down[0].found, found
    stream = lines(found, "stream")
    assert stream[0].status is Status.OK and "led by" in stream[0].found, found

