"""One station at scale: Mosquitto + `anxin station` (SQLite) + N simulated hubs on this machine.

(a) Steps of N homes (30 s heartbeats, one alarm per 100 homes per minute, hub/sim/fleet.py):
    press -> stored (the station's ``received``) and press -> acked (back at the hub), p50/p99,
    with the CPU of the station, the broker and the generator; goal: p99 <= 50 ms at 10 000.
(b) A storm in the step of --storm-at homes: 2 000 alarms from 2 000 homes within 10 s, all
    stored and acknowledged within how long (target <= 30 s).
(c) The broker's memory per hub connection: Mosquitto's RSS with the fleet connected, less
    before, over N.

Each step runs a fresh broker, station and database (homes loaded through the store first:
N elder records do not fit homes.yaml's 1 MiB). Each hub is a socket in the generator and one
in the broker: the soft file-descriptor limit is raised to the hard one (N up to about it).

    .venv/bin/python -m tests.bench.bench_scale [--steps 1000,2000,5000,10000] [--duration 120]

--cluster: a county instead (docs/county.md): three NATS nodes on loopback (tests/support/
nats.py), hubs over TLS each with its certificate, two `anxin station` workers each taking half
the partitions (each its own SQLite file until the workers share PostgreSQL). Under the steady
load, one worker is killed (kill -9) and restarted 2 s later, as systemd would, and then NATS
node 1 is killed (kill -9) and later restarted. Printed: alarms raised / stored / twice / lost,
press -> stored and press -> acked, the longest an alarm waited, and the nodes' memory per hub
connection.

    .venv/bin/python -m tests.bench.bench_scale --cluster --steps 200,1000 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from console.station.config import Home
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from console.station.trust.broker import Mosquitto
from console.station.trust.localca import LocalCa
from hub.common.transport import BrokerConfig
from hub.runtime.config import LinkConfig
from hub.sim.fleet import Fleet, Press, hub_ids
from hub.sim.loadgen import acked_latency, percentile, report, stored_latency, storm_span
from tests.support.nats import NatsCluster, NatsError
from tests.support.population import population

REPO = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


@dataclass
class Usage:
    """CPU used by the three parts between two moments, as a share of one core."""

    pids: dict[str, int]
    start: dict[str, float]
    wall: float

    @classmethod
    def now(cls, pids: dict[str, int]) -> Usage:
        return cls(pids, {k: cpu_s(p) if p else own_cpu_s() for k, p in pids.items()},
                   time.monotonic())

    def line(self) -> str:
        wall = time.monotonic() - self.wall
        return "CPU " + ", ".join(
            f"{k} {((cpu_s(p) if p else own_cpu_s()) - self.start[k]) / wall * 100:.0f}%"
            for k, p in self.pids.items())


class LoopLag:
    """How late the generator's own loop runs a 50 ms sleep: if it lags, its figures do."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.05)
            self.lags.append(time.monotonic() - t - 0.05)

    def start(self) -> None:
        self.lags.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def line(self) -> str:
        if self._task:
            self._task.cancel()
        lags = self.lags or [0.0]
        return f"generator loop lag p99 {percentile(lags, 99) * 1e3:.0f} ms, max {max(lags) * 1e3:.0f} ms"


def prepare(work: Path, port: int, n: int, *, name: str = "station",
            extra: dict[str, object] | None = None) -> Path:
    """The station's config and its database with N homes' elder records."""
    db = work / f"{name}.db"
    store = StationStore(db)
    homes = [Home(hub=hub, elder=elder) for hub, elder in population(n)]
    store.load_homes(homes, actor="bench")
    store.close()
    cfg = work / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({"database": str(db), "broker": {"port": port}, **(extra or {})}))
    return cfg


def stored_times(db: Path, presses: list[Press]) -> dict[str, float]:
    reader = StationReader.open(db)
    try:
        return {p.id: a.received for p in presses if (a := reader.alarm(p.id)) is not None}
    finally:
        reader.close()


async def all_offline(db: Path, since: float, timeout: float = 300.0) -> str:
    """How long until the station shows every home offline."""
    reader = StationReader.open(db)
    try:
        said = []
        while time.monotonic() - since < timeout:
            online = sum(h.online for h in reader.homes())
            if not online:
                return (f"the station shows them offline {time.monotonic() - since:.1f} s later"
                        + (f" ({', '.join(said)})" if said else ""))
            if len(said) < 3:
                said.append(f"{online} online after {time.monotonic() - since:.0f} s")
            await asyncio.sleep(1.0 if len(said) < 3 else 5.0)
        return f"{online} still shown online after {timeout:g} s"
    finally:
        reader.close()


async def step(n: int, a: argparse.Namespace, work: Path, storm: bool) -> None:
    with Mosquitto(work / "broker") as broker:
        assert broker.proc
        cfg = prepare(work, broker.port, n)
        log = (work / "station.log").open("w")
        station = subprocess.Popen([sys.executable, "-m", "hub.cli.main", "--log-level",
                                    "warning", "station", "--config", str(cfg)],
                                   stderr=log, cwd=REPO)
        pids = {"station": station.pid, "broker": broker.proc.pid, "generator": 0}
        try:
            time.sleep(2.0)  # the station connects and says it is online
            before = rss_mb(broker.proc.pid)
            link = LinkConfig(heartbeat_s=a.heartbeat, retry_s=5)
            lag = LoopLag()
            async with Fleet(hub_ids(n), broker=BrokerConfig(port=broker.port),
                             link=link) as fleet:
                t0 = time.monotonic()
                use = Usage.now(pids)
                fleet.start(a.heartbeat)
                await asyncio.sleep(a.heartbeat)
                up = await fleet.until_reachable(120)
                print(f"\n== {n} homes: {up} connected and see the station online after "
                      f"{time.monotonic() - t0:.0f} s; ramp {use.line()}")
                after = rss_mb(broker.proc.pid)
                print(f"   (c) broker RSS {before:.0f} -> {after:.0f} MB: "
                      f"{(after - before) * 2**20 / max(up, 1) / 1024:.1f} KiB per hub connection")
                await asyncio.sleep(a.heartbeat)  # past the ramp's connects and statuses
                use = Usage.now(pids)
                lag.start()
                raised = await fleet.alarms(a.rate / 100 / 60, a.duration)
                steady = list(fleet.presses.values())
                print(f"   steady {a.duration:g} s, {raised} alarms: {use.line()}; {lag.line()}")
                await fleet.until_acked(steady, 30)
                times = stored_times(cfg.parent / "station.db", steady)
                s = stored_latency(steady, times)
                print(f"   (a) {s.line()}")
                print(f"       {acked_latency(steady).line()}")
                if s.delays:
                    ok = percentile(s.delays, 99) <= 0.050
                    print(f"       p99 press -> stored {'<=' if ok else '>'} 50 ms "
                          f"({len(times)} of {len(steady)} stored)")
                if storm:
                    k = min(a.storm, n)
                    use = Usage.now(pids)
                    lag.start()
                    presses = await fleet.storm(k, a.storm_within)
                    await fleet.until_acked(presses, 60)
                    print(f"   (b) storm of {k} alarms from {k} homes within {a.storm_within:g} s: "
                          f"{storm_span(presses)}; {use.line()}; {lag.line()}")
                    for line in report(presses, lambda _: stored_times(cfg.parent / "station.db",
                                                                       presses)):
                        print(f"       {line}")
                gone = time.monotonic()
            offline = await all_offline(cfg.parent / "station.db", gone)
            print(f"   (d) all {n} hubs said goodbye at once: {offline}")
        finally:
            station.terminate()
            try:
                station.wait(120)
            except subprocess.TimeoutExpired:
                station.kill()
                print("   the station did not stop within 120 s of SIGTERM: killed")
            log.close()
        errors = [ln for ln in (work / "station.log").read_text().splitlines() if "ERROR" in ln]
        if errors:
            print(f"   station logged {len(errors)} error(s), the first: {errors[0][:200]}")


PARTITIONS = 16


def start_worker(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, "-m", "hub.cli.main", "--log-level", "warning",
                                 "station", "--config", str(cfg)], stderr=out, cwd=REPO)


def stored_everywhere(dbs: list[Path], presses: list[Press]) -> tuple[dict[str, float], int]:
    """When each alarm was stored (the first worker that has it), and how many were stored by
    two workers."""
    times: dict[str, float] = {}
    twice = 0
    for db in dbs:
        for i, t in stored_times(db, presses).items():
            twice += i in times
            times.setdefault(i, t)
    return times, twice


def node_errors(folder: Path) -> str:
    """The nodes' [ERR] lines, counted by kind (client names, ids and times left out)."""
    kinds: Counter[str] = Counter()
    for log in folder.glob("node*/nats.log"):
        for line in log.read_text(errors="replace").splitlines():
            if "[ERR]" in line:
                what = line.split("[ERR]", 1)[1].split(" - ")[-1]
                kinds[re.sub(r'"[^"]*"|\S*\d\S*', "…", what)[:120]] += 1
    return "; ".join(f"{n}x {k}" for k, n in kinds.most_common(6)) or "no errors"


async def cluster_step(n: int, a: argparse.Namespace, work: Path) -> None:
    ids = hub_ids(n)
    # every hub says "station unreachable" while its node is down or the workers' status
    # changes hands: thousands of lines
    logging.getLogger("hub.runtime.uplink").setLevel(logging.ERROR)
    ca = LocalCa(work / "ca")
    t0 = time.monotonic()
    tls = {hub: ca.tls(hub) for hub in ids}
    station_tls = ca.tls("station:station")
    print(f"\n== county, {n} homes: {n + 1} certificates issued in {time.monotonic() - t0:.0f} s")
    with NatsCluster(work / "nats", ca, hubs=ids) as cluster:
        workers, cfgs = [], []
        half = PARTITIONS // 2
        for w, take in (("w1", list(range(half))), ("w2", list(range(half, PARTITIONS)))):
            cfgs.append(prepare(work, 0, n, name=w, extra={
                "legacy_hub_topics": False,  # the fleet speaks protocol 1.1
                "broker": {"hosts": cluster.endpoints, "tls": station_tls},
                "nats": {"servers": cluster.nats_endpoints, "worker": w,
                         "partitions": PARTITIONS, "take": take, "ack_wait_s": 10}}))
            workers.append(start_worker(cfgs[-1], work / f"{w}.log"))
        dbs = [c.parent / f"{w}.db" for c, w in zip(cfgs, ("w1", "w2"), strict=True)]
        try:
            time.sleep(3.0)  # the workers make the stream and their consumers
            rss = lambda: sum(rss_mb(p.pid) for p in cluster.procs.values())  # noqa: E731
            before = rss()
            link = LinkConfig(heartbeat_s=a.heartbeat, retry_s=5)
            broker = lambda hub: BrokerConfig.model_validate(  # noqa: E731
                {"hosts": cluster.endpoints, "tls": tls[hub], "keepalive_s": 15})
            async with Fleet(ids, broker=broker, link=link) as fleet:
                t0 = time.monotonic()
                fleet.start(min(a.heartbeat, 30.0))
                up = await fleet.until_reachable(180)
                after = rss()
                print(f"   {up} connected and see the station online after "
                      f"{time.monotonic() - t0:.0f} s; the three nodes' RSS {before:.0f} -> "
                      f"{after:.0f} MB: {(after - before) * 2**20 / max(up, 1) / 1024:.1f} KiB "
                      "per hub connection (each hub's session and QoS 1 subscriptions are "
                      "replicated on every node)")
                raising = asyncio.create_task(fleet.alarms(a.rate / 100 / 60, a.duration))
                await asyncio.sleep(a.duration / 3)
                workers[0].kill()
                workers[0].wait()
                print(f"   worker w1 killed (kill -9) {a.duration / 3:.0f} s in; restarted 2 s later")
                await asyncio.sleep(2)
                workers[0] = start_worker(cfgs[0], work / "w1.log")
                await asyncio.sleep(a.duration / 3 - 2)
                await asyncio.to_thread(cluster.kill, 1)
                killed = time.monotonic()
                print(f"   NATS node 1 killed (kill -9) {2 * a.duration / 3:.0f} s in")
                await raising
                presses = list(fleet.presses.values())
                for _ in range(8):  # how the failover goes on
                    if await fleet.until_acked(presses, 15) == len(presses):
                        break
                    connected = sum(h.link.connected for h in fleet.hubs.values())
                    print(f"   {time.monotonic() - killed:.0f} s after the kill: {connected} hubs "
                          f"connected, {fleet.connected()} see the station, "
                          f"{sum(p.acked is not None for p in presses)} of {len(presses)} "
                          "alarms acknowledged")
                times, twice = stored_everywhere(dbs, presses)
                try:
                    await asyncio.to_thread(cluster.start_node, 1)
                    print(f"   node 1 back and caught up {time.monotonic() - killed:.0f} s "
                          "after its kill")
                except NatsError as e:
                    print(f"   node 1 restarted, not caught up: {str(e)[:300]}")
                lost = sum(p.id not in times for p in presses)
                waited = max(((p.acked or time.time()) - p.pressed for p in presses), default=0.0)
                print(f"   alarms raised {len(presses)}, stored {len(times)}, twice {twice}, "
                      f"lost {lost}, acked {sum(p.acked is not None for p in presses)}; "
                      f"the longest wait {waited:.1f} s")
                print(f"       {stored_latency(presses, times).line()}")
                print(f"       {acked_latency(presses).line()}")
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                try:
                    w.wait(60)
                except subprocess.TimeoutExpired:
                    w.kill()
        print(f"   the nodes' log: {node_errors(work / 'nats')}")
        for w in ("w1", "w2"):
            errors = [ln for ln in (work / f"{w}.log").read_text().splitlines() if "ERROR" in ln]
            if errors:
                print(f"   worker {w} logged {len(errors)} error(s), the first: {errors[0][:200]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="1000,2000,5000,10000",
                    help="numbers of homes, comma-separated")
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of steady load a step")
    ap.add_argument("--heartbeat", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=1.0, help="alarms per 100 homes per minute")
    ap.add_argument("--storm", type=int, default=2000)
    ap.add_argument("--storm-within", type=float, default=10.0)
    ap.add_argument("--storm-at", type=int, default=10000, help="the step the storm follows")
    ap.add_argument("--cluster", action="store_true", help="a county: three NATS nodes, two "
                    "station workers, a worker and a node killed under load")
    a = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the broker inherits it
    steps = [int(s) for s in a.steps.split(",")]
    print(f"bench_scale: {os.cpu_count()} cores, file descriptors {hard}; heartbeats every "
          f"{a.heartbeat:g} s, {a.rate:g} alarm(s) per 100 homes per minute, steps {steps}")
    for n in steps:
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{n}-") as d:
            if a.cluster:
                asyncio.run(cluster_step(n, a, Path(d)))
            else:
                asyncio.run(step(n, a, Path(d), storm=n == a.storm_at))


if __name__ == "__main__":
    main()
