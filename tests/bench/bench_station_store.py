"""The station database at county scale: heartbeats, the home list, the alarm queue, start-up.

With 10 000 homes at one heartbeat per 30 s the station stores ~333 heartbeats/s. They commit
with ``synchronous=NORMAL`` (no fsync of their own) and, in the service, one commit per event
loop turn; alarms keep ``synchronous=FULL``. Measured here, on a real SQLite file in --dir:
heartbeats/s one commit each (as before, FULL, for comparison, and as now) and in batches;
``homes()`` over 10 000 homes with elder records; ``open_alarms()`` with 100 000 events (and
an alarm for every 100th) stored; and how long opening the store takes on that database.
Figures only; no pass/fail.

    .venv/bin/python -m tests.bench.bench_station_store [--homes 10000] [--events 100000] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from console.station.config import Category, Elder, Home
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from hub.common import wire


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median and worst of ``rounds`` calls, in ms."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def heartbeat_rate(store: StationStore, hubs: list[str], seconds: float, batch: int,
                   full: bool = False) -> float:
    """Heartbeats stored per second, ``batch`` per commit; ``full``: the old FULL commit each."""
    n, i, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        beats = [(hubs[(i + k) % len(hubs)], 0, 0) for k in range(batch)]
        i += batch
        if full:
            for hub, pending, dropped in beats:
                with store._tx() as db:  # the old path: one durable commit a heartbeat
                    db.execute("UPDATE homes SET last_heartbeat = ?, pending = ?, dropped = ? "
                               "WHERE hub = ?", (time.time(), pending, dropped, hub))
        else:
            store.heartbeats(beats, time.time())
        n += batch
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--homes", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=3.0, help="per heartbeat figure")
    ap.add_argument("--dir", type=Path, default=None, help="where the database goes (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        db = Path(tmp) / "station.db"
        store = StationStore(db)
        hubs = [f"h{i:05d}" for i in range(args.homes)]
        cats = list(Category)
        t = time.perf_counter()
        store.load_homes([Home(hub=h, elder=Elder(
            name=f"老人{i}", age=60 + i % 40, category=cats[i % 3], address=f"青石镇{i}号",
            conditions=["高血压"], medicines=["硝苯地平"],
            contacts=[{"name": "家属", "relation": "儿子", "phone": "138-0000-0001"}]))  # type: ignore[list-item]
            for i, h in enumerate(hubs)], now=1.0)
        print(f"homes.yaml load, {args.homes} homes: {time.perf_counter() - t:.2f} s")

        print(f"heartbeats/s (needed at {args.homes} homes / 30 s: {args.homes / 30:.0f}):")
        print(f"  one FULL commit each (before):  {heartbeat_rate(store, hubs, args.seconds, 1, True):8.0f}")
        print(f"  one NORMAL commit each (now):   {heartbeat_rate(store, hubs, args.seconds, 1):8.0f}")
        for batch in (10, 100):
            print(f"  {batch:3d} per NORMAL commit:         "
                  f"{heartbeat_rate(store, hubs, args.seconds, batch):8.0f}")

        store.records._parsed.clear()
        cold, _ = timed(store.homes, 1)
        med, worst = timed(store.homes, 10)
        print(f"homes() over {args.homes} homes: first {cold:.0f} ms, then median {med:.0f} ms, "
              f"worst {worst:.0f} ms")

        t = time.perf_counter()
        step = 5000
        for start in range(0, args.events, step):
            store.store_events([wire.EventMsg(
                hub=hubs[k % len(hubs)], id=f"e{k}", kind="presence.on" if k % 100 else "button.press",
                source="radar" if k % 100 else "bedside", ts=1000.0 + k,
                alarm=None if k % 100 else wire.AlarmInfo(kind="panic", priority=1, contact_id=101))
                for k in range(start, min(start + step, args.events))], now=1000.0 + start)
        print(f"stored {args.events} events ({args.events // 100} alarms) in "
              f"{time.perf_counter() - t:.1f} s")
        store._db.execute("UPDATE alarms SET state = 'resolved', closed = received + 60 "
                          "WHERE rowid % 10 != 0")  # one in ten still open
        med, worst = timed(store.open_alarms, 20)
        print(f"open_alarms() ({len(store.open_alarms())} open of {store.count('alarms')}): "
              f"median {med:.1f} ms, worst {worst:.1f} ms")
        med, _ = timed(lambda: store.home_state(hubs[0]), 20)
        print(f"home_state() of one home ({args.events // args.homes} events): median {med:.1f} ms")
        med, _ = timed(lambda: store.alarm_records(0, 1e12), 3)
        print(f"alarm_records() for the ledger, all alarms: median {med:.0f} ms")
        store.close()

        size = db.stat().st_size / 2**20
        med, worst = timed(lambda: StationStore(db).close(), 5)
        print(f"StationStore start-up on that database ({size:.0f} MiB): median {med:.1f} ms, "
              f"worst {worst:.1f} ms")
        ro = StationReader.open(db)
        med, _ = timed(ro.homes, 5)
        print(f"homes() from a console's read-only store: median {med:.0f} ms")


if __name__ == "__main__":
    main()
