"""The station's write path on each engine: alarms stored per second and the commit's
latency, one alarm per commit (as a hub's press arrives alone) and 20 per commit (a burst),
with 1 writer on SQLite and 1 and 4 writers on PostgreSQL (a county's station workers, each
its own connection and its own hubs). Durable commits on both (SQLite synchronous=FULL,
PostgreSQL fsync and synchronous_commit on; no replica). Figures only; no pass/fail.

    .venv/bin/python -m tests.bench.bench_store_engines [--seconds 5] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import threading
import time
from pathlib import Path

from console.station.store.db import Location
from console.station.store.station import StationStore
from hub.common import wire
from tests.support.postgres import PgCluster

_ids = itertools.count()


def alarm(hub: str, n: int) -> wire.EventMsg:
    return wire.EventMsg(hub=hub, id=f"{hub}-{n}-{next(_ids)}", kind="button.press", source="b",
                         ts=time.time(), seq=wire.Seq(epoch="e", lane="alarm", n=n, prev=n - 1),
                         alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101))


def writer(at: Location, worker: int, batch: int, seconds: float, latencies: list[float],
           counts: list[int]) -> None:
    store = StationStore(at)
    hubs = [f"w{worker}h{i:03d}" for i in range(50)]
    n = dict.fromkeys(hubs, 0)
    done, start = 0, time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            msgs = []
            for k in range(batch):
                hub = hubs[(done + k) % len(hubs)]
                n[hub] += 1
                msgs.append(alarm(hub, n[hub]))
            t = time.perf_counter()
            assert all(r is True for r in store.store_events(msgs))
            latencies.append((time.perf_counter() - t) * 1000)
            done += batch
    finally:
        store.close()
    counts.append(done)


def run(at: Location, workers: int, batch: int, seconds: float) -> str:
    latencies: list[float] = []
    counts: list[int] = []
    threads = [threading.Thread(target=writer, args=(at, w, batch, seconds, latencies, counts))
               for w in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = sum(counts) / (time.perf_counter() - start)
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    return (f"{rate:7.0f} alarms/s   commit p50 {statistics.median(latencies):6.1f} ms   "
            f"p99 {p99:6.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--dir", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        for batch in (1, 20):
            db = Path(tmp) / f"b{batch}.db"
            print(f"sqlite      writers 1, {batch:2d}/commit: {run(db, 1, batch, a.seconds)}")
        cluster = PgCluster(durable=True).start()
        try:
            for workers, batch in ((1, 1), (4, 1), (1, 20), (4, 20)):
                name = f"bench{workers}x{batch}"
                cluster.sql(f"CREATE DATABASE {name}")
                print(f"postgresql  writers {workers}, {batch:2d}/commit: "
                      f"{run(cluster.dsn(name), workers, batch, a.seconds)}")
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
