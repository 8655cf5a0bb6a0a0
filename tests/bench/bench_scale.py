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
the partitions, both writing one PostgreSQL database (fsync on) on a primary with a synchronous
streaming replica (tests/support/postgres.py), through a DSN naming both with
target_session_attrs=read-write; the homes are loaded into it once. The steady load (20 alarms
per 100 homes per minute unless --rate) runs --duration; at each quarter of it a fault: worker
w1 killed (kill -9) and started again 2 s before the next fault (w2 takes its partitions over
once their leases lapse, and gives them back); NATS node 1 killed (kill -9),
started again after the load; the PostgreSQL primary killed (kill -9, every process) and the
replica promoted at once (`pg_ctl promote`, as tooling would), with the time from the kill to
promoted and to the first alarm committed on the promoted server. Printed per phase (the alarms
pressed from its fault to the next): raised; stored (in the database at the end, read on the
promoted server); twice (stored more than once: a second ``delivered`` step on the alarm's
timeline; the alarms table's primary key refuses a second row, so this counts the station's
de-duplication failing); again (the hub heard its ack more than once: it sent the alarm again
and the station, which had it, acknowledged it again: at-least-once at work, not a fault); lost
(raised and not stored once every ack came or two minutes passed; one acknowledged yet not
stored, which the hub has forgotten, is printed as LOST); acked; the longest an alarm waited
(press -> ack at the hub, or till now). Then press -> stored and press -> acked, the nodes' memory
per hub connection, alarms escalated twice (each worker runs the escalation round), the nodes'
[ERR] lines by kind and the workers' logged errors.

    .venv/bin/python -m tests.bench.bench_scale --cluster --steps 1000 --duration 120
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
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import yaml

from console.station.config import Home
from console.station.store.db import Dsn, Location
from console.station.store.reader import StationReader
from console.station.store.rows import ESCALATED
from console.station.store.station import StationStore
from console.station.trust.broker import Mosquitto
from console.station.trust.localca import LocalCa
from hub.common.events import AlarmState
from hub.common.transport import BrokerConfig
from hub.runtime.config import LinkConfig
from hub.sim.fleet import Fleet, Press, hub_ids
from hub.sim.loadgen import acked_latency, percentile, report, stored_latency, storm_span
from tests.support.nats import NatsCluster, NatsError
from tests.support.population import population
from tests.support.postgres import PgCluster, both, replicated

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


def load_homes(location: Location, n: int) -> None:
    """N homes' elder records, through the store (they do not fit homes.yaml's 1 MiB)."""
    store = StationStore(location)
    store.load_homes([Home(hub=hub, elder=elder) for hub, elder in population(n)], actor="bench")
    store.close()


def prepare(work: Path, port: int, n: int) -> Path:
    """The station's config and its database with N homes."""
    load_homes(work / "station.db", n)
    cfg = work / "station.yaml"
    cfg.write_text(yaml.safe_dump({"database": str(work / "station.db"), "broker": {"port": port}}))
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
WORKERS = {"w1": list(range(PARTITIONS // 2)), "w2": list(range(PARTITIONS // 2, PARTITIONS))}
CLUSTER_RATE = 20.0  # alarms per 100 homes per minute: a few hundred homes raise one a second


class Workers:
    """The two `anxin station` workers, each taking half the partitions, run as systemd would
    (a killed one is started again); their stderr in <worker>.log."""

    def __init__(self, work: Path, cfgs: dict[str, Path]) -> None:
        self.work, self.cfgs = work, cfgs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, w: str) -> None:
        with (self.work / f"{w}.log").open("a") as out:
            self.procs[w] = subprocess.Popen(
                [sys.executable, "-m", "hub.cli.main", "--log-level", "warning", "station",
                 "--config", str(self.cfgs[w])], stderr=out, cwd=REPO)

    def kill(self, w: str) -> None:
        self.procs[w].kill()
        self.procs[w].wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()

    def errors(self) -> list[str]:
        """Per worker that logged errors: how many, by kind."""
        out = []
        for w in self.cfgs:
            errors = [ln for ln in (self.work / f"{w}.log").read_text().splitlines()
                      if " ERROR " in ln]
            if errors:
                out.append(f"worker {w} logged {len(errors)} error(s): {by_kind(errors, ' ERROR ')}")
        return out


def county_configs(work: Path, cluster: NatsCluster, tls: dict[str, str],
                   dsn: Dsn) -> dict[str, Path]:
    """Each worker's station.yaml: the nodes, its partitions, the one database."""
    cfgs = {}
    for w, take in WORKERS.items():
        cfgs[w] = work / f"{w}.yaml"
        cfgs[w].write_text(yaml.safe_dump({
            "database": str(work / "unused.db"),  # the calls' folder goes beside it
            "store": {"engine": "postgresql", "dsn": dsn.text},
            "legacy_hub_topics": False,  # the fleet speaks protocol 1.1
            "broker": {"hosts": cluster.endpoints, "tls": tls},
            "nats": {"servers": cluster.nats_endpoints, "worker": w, "partitions": PARTITIONS,
                     "take": take, "ack_wait_s": 10}}))
    return cfgs


def deliveries(location: Location,
               presses: list[Press]) -> tuple[dict[str, float], Counter[str], Counter[str]]:
    """When each alarm was stored; how many times it was stored (its timeline's ``delivered``
    steps: a second storing would add one, though the alarms table's key refuses a second
    row) and escalated (each worker runs the escalation round)."""
    reader = StationReader.open(location)
    try:
        times, stored, escalated = {}, Counter[str](), Counter[str]()
        for p in presses:
            if (a := reader.alarm(p.id)) is not None:
                times[p.id] = a.received
                for state, _ts, _actor, note in reader.alarm_log(p.id):
                    stored[p.id] += state is AlarmState.DELIVERED and note is None
                    escalated[p.id] += note == ESCALATED
        return times, stored, escalated
    finally:
        reader.close()


@dataclass
class Phase:
    """The alarms pressed from a fault until the next (the first: before any)."""

    name: str
    start: float  # wall clock, as Press.pressed

    HEADER = (f"   {'phase':<22}{'raised':>7}{'stored':>7}{'twice':>6}{'again':>6}{'lost':>5}"
              f"{'acked':>6}  longest wait")

    def line(self, presses: list[Press], times: dict[str, float], steps: Counter[str]) -> str:
        now = time.time()
        waited = max(((p.acked or now) - p.pressed for p in presses), default=0.0)
        return (f"   {self.name:<22}{len(presses):>7}{sum(p.id in times for p in presses):>7}"
                f"{sum(steps[p.id] > 1 for p in presses):>6}{sum(p.acks > 1 for p in presses):>6}"
                f"{sum(p.id not in times for p in presses):>5}"
                f"{sum(p.acked is not None for p in presses):>6}  {waited:.1f} s")


def by_phase(phases: list[Phase], presses: list[Press]) -> list[list[Press]]:
    ends = [ph.start for ph in phases[1:]] + [float("inf")]
    return [[p for p in presses if ph.start <= p.pressed < end] for ph, end in zip(phases, ends,
                                                                                 strict=True)]


async def first_stored(server: PgCluster, since: float, timeout: float = 60.0) -> float | None:
    """How long after ``since`` (monotonic) the first alarm was committed on ``server``."""
    had = server.value("SELECT count(*) FROM alarms", db="anxin")
    while time.monotonic() - since < timeout:
        if await asyncio.to_thread(server.value, "SELECT count(*) FROM alarms", "anxin") > had:
            return time.monotonic() - since
        await asyncio.sleep(0.1)
    return None


async def kill_worker(workers: Workers, down_s: float) -> str:
    """w1's machine dies and is back ``down_s`` later: meanwhile w2 takes over its partitions
    once their leases lapse (nats.lease_s, docs/county.md), and gives them back after."""
    workers.kill("w1")
    await asyncio.sleep(down_s)
    workers.start("w1")
    return f"worker w1 killed (kill -9), started again {down_s:.0f} s later"


async def kill_node(cluster: NatsCluster) -> str:
    await asyncio.to_thread(cluster.kill, 1)
    return "NATS node 1 killed (kill -9), started again after the load"


async def promote(primary: PgCluster, standby: PgCluster, fleet: Fleet) -> str:
    """The primary's machine dies; the replica is promoted at once, as tooling would (an
    operator, docs/county.md, takes longer)."""
    killed, wall = time.monotonic(), time.time()
    await asyncio.to_thread(primary.kill)
    await asyncio.to_thread(standby.promote)
    promoted = time.monotonic() - killed
    first = await first_stored(standby, killed)
    pressed = min((p.pressed - wall for p in fleet.presses.values() if p.pressed > wall),
                  default=None)
    return (f"PostgreSQL primary killed (kill -9), the replica promoted {promoted:.1f} s later; "
            "the first alarm stored on it "
            + (f"{first:.1f} s after the kill" if first is not None else "never")
            + (f" (the first press after the kill came {pressed:.1f} s after it)"
               if pressed is not None else ""))


async def noted(at: float, fault: Awaitable[str]) -> None:
    print(f"   {at:.0f} s in: {await fault}")


async def faults(a: argparse.Namespace, workers: Workers, cluster: NatsCluster,
                 pair: tuple[PgCluster, PgCluster], fleet: Fleet) -> list[Phase]:
    """The steady load, and a fault at each quarter of it; each fault's note printed when it
    is over."""
    quarter = a.duration / 4
    phases = [Phase("steady", time.time())]
    raising = asyncio.create_task(fleet.alarms(a.rate / 100 / 60, a.duration))
    noting = []
    for name, fault in (("worker w1 killed", lambda: kill_worker(workers, quarter - 2)),
                        ("NATS node 1 killed", lambda: kill_node(cluster)),
                        ("primary promoted", lambda: promote(*pair, fleet))):
        at = len(phases) * quarter
        await asyncio.sleep(phases[0].start + at - time.time())
        phases.append(Phase(name, time.time()))
        noting.append(asyncio.create_task(noted(at, fault())))
    await raising
    await asyncio.gather(*noting)
    return phases


async def settle(fleet: Fleet, since: float) -> list[Press]:
    """Wait up to two minutes for every alarm's ack; how it goes, every 15 s."""
    presses = list(fleet.presses.values())
    for _ in range(8):
        if await fleet.until_acked(presses, 15) == len(presses):
            break
        connected = sum(h.link.connected for h in fleet.hubs.values())
        print(f"   {time.monotonic() - since:.0f} s after the load: {connected} hubs "
              f"connected, {fleet.connected()} see the station, "
              f"{sum(p.acked is not None for p in presses)} of {len(presses)} "
              "alarms acknowledged")
    return presses


def report_alarms(phases: list[Phase], presses: list[Press], location: Location) -> None:
    times, steps, escalated = deliveries(location, presses)
    print(Phase.HEADER)
    for ph, its in zip(phases, by_phase(phases, presses), strict=True):
        print(ph.line(its, times, steps))
    print(Phase("all", 0.0).line(presses, times, steps))
    if twice := sum(n > 1 for n in escalated.values()):
        print(f"   TWICE: {twice} of {len(escalated)} escalated alarms escalated more than once")
    forgot = [p.id for p in presses if p.acked is not None and p.id not in times]
    if forgot:
        print(f"   LOST: {len(forgot)} acknowledged to their hubs yet not stored: {forgot[:5]}")
    print(f"       {stored_latency(presses, times).line()}")
    print(f"       {acked_latency(presses).line()}")


def by_kind(lines: list[str], after: str) -> str:
    """Log lines counted by kind: what follows ``after``, with quoted names, ids, numbers and
    times left out."""
    kinds: Counter[str] = Counter()
    for line in lines:
        what = line.split(after, 1)[1].split(" - ")[-1]
        kinds[re.sub(r'"[^"]*"|\S*\d\S*', "…", what)[:120]] += 1
    return "; ".join(f"{n}x {k}" for k, n in kinds.most_common(6))


def node_errors(folder: Path) -> str:
    """The nodes' [ERR] lines, counted by kind."""
    lines = [ln for log in folder.glob("node*/nats.log")
             for ln in log.read_text(errors="replace").splitlines() if "[ERR]" in ln]
    return by_kind(lines, "[ERR]") or "no errors"


async def cluster_step(n: int, a: argparse.Namespace, work: Path) -> None:
    ids = hub_ids(n)
    # every hub says "station unreachable" while its node is down or the workers' status
    # changes hands: thousands of lines
    logging.getLogger("hub.runtime.uplink").setLevel(logging.ERROR)
    ca = LocalCa(work / "ca")
    t0 = time.monotonic()
    tls = {hub: ca.tls(hub) for hub in ids}
    print(f"\n== county, {n} homes: {n + 1} certificates issued in {time.monotonic() - t0:.0f} s")
    with NatsCluster(work / "nats", ca, hubs=ids) as cluster, \
            replicated(durable=True) as (primary, standby):
        load_homes(both(primary, standby), n)
        workers = Workers(work, county_configs(work, cluster, ca.tls("station:station"),
                                               both(primary, standby)))
        for w in WORKERS:
            workers.start(w)
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
                phases = await faults(a, workers, cluster, (primary, standby), fleet)
                presses = await settle(fleet, time.monotonic())
                report_alarms(phases, presses, standby.dsn("anxin"))
                t0 = time.monotonic()
                try:
                    await asyncio.to_thread(cluster.start_node, 1)
                    print(f"   node 1 started again, caught up {time.monotonic() - t0:.0f} s "
                          "later")
                except NatsError as e:
                    print(f"   node 1 started again, not caught up: {str(e)[:300]}")
        finally:
            workers.stop()
        print(f"   the nodes' log: {node_errors(work / 'nats')}")
        for line in workers.errors():
            print(f"   {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="1000,2000,5000,10000",
                    help="numbers of homes, comma-separated")
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of steady load a step")
    ap.add_argument("--heartbeat", type=float, default=30.0)
    ap.add_argument("--rate", type=float, help="alarms per 100 homes per minute (default 1; "
                    f"{CLUSTER_RATE:g} with --cluster)")
    ap.add_argument("--storm", type=int, default=2000)
    ap.add_argument("--storm-within", type=float, default=10.0)
    ap.add_argument("--storm-at", type=int, default=10000, help="the step the storm follows")
    ap.add_argument("--cluster", action="store_true", help="a county: three NATS nodes, two "
                    "station workers, a worker and a node killed under load")
    a = ap.parse_args()
    if a.rate is None:
        a.rate = CLUSTER_RATE if a.cluster else 1.0
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
