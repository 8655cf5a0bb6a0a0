"""A county roster into the station database (`anxin station import`): rows per second on
SQLite and PostgreSQL, then what the console's roster screen reads at that size, through a
read-only StationReader as a console opens it. Durable commits on both (SQLite
synchronous=FULL, PostgreSQL fsync on). Figures only; no pass/fail.

The import is timed whole (the file read and checked, the records stored in one
transaction), and its check alone (``--dry-run``). Then ``--events`` events a home are stored
through the station's ingest (``store_events``, ``--batch`` to a commit; each home's summary
kept with them). The roster's reads are those of ``RosterScreen.reload``: every home, every
elder, the visit histories, every home's sensors and activity (``home_figures``, kept with the
home's summary: one query), then the search
index built and one query; beside them, for comparison, each home's state read alone
(``home_state``: one query a home, as the roster read them before the summary), and what a
grouped query over the events instead would read at least: every event, in one query. Last,
a database from before the summaries: its opening timed (the migration only lists the
homes), then the station's backfill task making every home's summary (homes/s), with the
longest the event loop was held meanwhile.

    .venv/bin/python -m tests.bench.bench_roster [--homes 20000] [--events 5] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from console.casework.county import load_county
from console.casework.importer import write_elders
from console.casework.search import ElderIndex
from console.station.roster import import_roster
from console.station.store import summary
from console.station.store.backfill import Backfill
from console.station.store.db import Location
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from hub.common import wire
from hub.common.shipped import SHIPPED
from tests.support.population import population

T = TypeVar("T")
TICK_S = 0.005  # the loop's responsiveness probe during the backfill
RULES = load_county(SHIPPED / "county.yaml")
WORDS: list[tuple[str, str, dict[str, Any]]] = [
    ("presence.on", "radar", {"room": "卧室"}), ("door.open", "front", {"location": "大门", "type": "door"}),
    ("battery.level", "front", {"percent": 80}), ("door.close", "front", {"location": "大门"}),
    ("button.press", "button", {"location": "卧室床头"}), ("presence.off", "radar", {})]


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def events(n: int, per_home: int) -> Iterator[wire.EventMsg]:
    """What a home's devices say in a day or so: someone in, the door, a battery, a press."""
    t = time.time() - 86400
    for k in range(per_home):
        kind, source, data = WORDS[k % len(WORDS)]
        for i in range(n):
            yield wire.EventMsg(hub=f"h{i:05d}", id=f"h{i:05d}-{k}", kind=kind, source=source,
                                ts=t + k * 60 + i / n, data=data)


def store_events(store: StationStore, n: int, per_home: int, batch: int) -> int:
    todo = list(events(n, per_home))
    for i in range(0, len(todo), batch):
        store.store_events(todo[i:i + batch])
    return len(todo)


def every_event(reader: StationReader) -> int:
    """What a grouped query over the events would have to read at least: every event of
    every home, once (here folded as the summary folds them)."""
    homes: dict[str, summary.Summary] = defaultdict(summary.empty)
    n = 0
    for hub, kind, ts, payload in reader._db.execute("SELECT hub, kind, ts, payload FROM events"):
        p = json.loads(payload)
        summary.fold(homes[hub], kind, ts, p["source"], p["data"])
        n += 1
    return n


def run(engine: str, at: Location, readonly: Location, sheet: Path, n: int, per_home: int,
        batch: int) -> None:
    store = StationStore(at, tz=RULES.tz)
    try:
        checked, check_s = timed(lambda: import_roster(store, sheet, RULES, actor="bench",
                                                       now=time.time(), dry_run=True))
        done, import_s = timed(lambda: import_roster(store, sheet, RULES, actor="bench",
                                                     now=time.time()))
        stored, events_s = timed(lambda: store_events(store, n, per_home, batch))
    finally:
        store.close()
    assert checked.good == done.imported == n and not done.problems, done.problems[:3]
    print(f"{engine:<10} import {n} rows: check {check_s:5.2f} s ({n / check_s:6.0f} rows/s), "
          f"check + store {import_s:5.2f} s ({n / import_s:6.0f} rows/s)")
    print(f"{engine:<10} {stored} events ({per_home} a home, {batch} a commit): {events_s:5.1f} s "
          f"({stored / events_s:5.0f} events/s)")
    reader = StationReader.open(readonly, tz=RULES.tz)
    try:
        homes, homes_s = timed(reader.homes)
        elders, elders_s = timed(reader.elders)
        _, hist_s = timed(reader.visit_histories)
        figures, states_s = timed(reader.home_figures)
        _, again_s = timed(reader.home_figures)  # PostgreSQL's first read after the writes sets hint bits
        _, each_s = timed(lambda: [reader.home_state(h.hub) for h in homes])
        scanned, scan_s = timed(lambda: every_event(reader))
    finally:
        reader.close()
    assert sum(f.sensors for f in figures.values()) == n * len({w[1] for w in WORDS[:per_home]})
    index, index_s = timed(lambda: ElderIndex(elders))
    _, search_s = timed(lambda: index.search(elders[n // 2][1].name[:2]))
    print(f"{engine:<10} roster reads at {len(homes)} homes: homes {homes_s * 1000:5.0f} ms, "
          f"elders {elders_s * 1000:5.0f} ms, visit histories {hist_s * 1000:5.0f} ms, "
          f"every home's sensors and activity {states_s * 1000:4.0f} ms (again {again_s * 1000:3.0f} ms); "
          f"index {index_s * 1000:5.0f} ms, a search {search_s * 1000:4.1f} ms")
    print(f"{engine:<10} (each home's state read alone, one query a home: {each_s * 1000:6.0f} ms; "
          f"made from every event, one query over them all: {scan_s * 1000:6.0f} ms for {scanned} events)")
    store = StationStore(at, tz=RULES.tz)
    store._db.execute("DROP TABLE home_summary")  # as a database from before the summary
    store.close()
    store, open_s = timed(lambda: StationStore(at, tz=RULES.tz))
    try:
        listed = store.summaries_to_build()
        (backfill_s, lag_s, idle_s), _ = timed(lambda: asyncio.run(backfilled(store, at)))
        assert store.home_figures() == figures
    finally:
        store.close()
    print(f"{engine:<10} a database from before the summary: opened in {open_s * 1000:5.0f} ms "
          f"({listed} homes listed); their summaries made from the {stored} events in the "
          f"background in {backfill_s:5.1f} s ({listed / backfill_s:4.0f} homes/s), the loop held "
          f"at most {lag_s * 1000:4.0f} ms (idle, for a second before: {idle_s * 1000:3.0f} ms)")


async def backfilled(store: StationStore, at: Location) -> tuple[float, float, float]:
    """The station's backfill task until every home is made, and the longest the loop was
    held meanwhile (a ticker's lateness: an alarm would have waited as long), and before it
    (the machine's own lateness)."""
    task, late = Backfill(store), [0.0]

    async def ticker() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(TICK_S)
            late[0] = max(late[0], time.perf_counter() - t - TICK_S)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(1.0)
    idle, late[0] = late[0], 0.0
    t = time.perf_counter()
    while store.summaries_to_build():
        await task.round()
    took = time.perf_counter() - t
    ticking.cancel()
    return took, late[0], idle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--homes", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=5, help="events a home (default 5)")
    ap.add_argument("--batch", type=int, default=100, help="events a commit (default 100)")
    ap.add_argument("--dir", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        sheet = write_elders(Path(tmp) / "county.csv",
                             ((f"h{i:05d}", r) for i, (_, r) in enumerate(population(a.homes))))
        print(f"county.csv: {a.homes} rows, {sheet.stat().st_size / 1e6:.1f} MB")
        db = Path(tmp) / "station.db"
        run("sqlite", db, db, sheet, a.homes, a.events, a.batch)
        from tests.support.postgres import PgCluster

        cluster = PgCluster(durable=True).start()
        try:
            cluster.sql("CREATE DATABASE roster")
            run("postgresql", cluster.dsn("roster"), cluster.dsn("roster"), sheet, a.homes, a.events,
                a.batch)
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
