"""A county roster into the station database (`anxin station import`): rows per second on
SQLite and PostgreSQL, then what the console's roster screen reads at that size, through a
read-only StationReader as a console opens it. Durable commits on both (SQLite
synchronous=FULL, PostgreSQL fsync on). Figures only; no pass/fail.

The import is timed whole (the file read and checked, the records stored in one
transaction), and its check alone (``--dry-run``). The roster's reads are those of
``RosterScreen.reload``: every home, every elder, the visit histories, each home's state (one
query a home), then the search index built and one query.

    .venv/bin/python -m tests.bench.bench_roster [--homes 20000] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from console.casework.county import load_county
from console.casework.importer import write_elders
from console.casework.search import ElderIndex
from console.station.roster import import_roster
from console.station.store.db import Location
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from hub.common.shipped import SHIPPED
from tests.support.population import population

T = TypeVar("T")
RULES = load_county(SHIPPED / "county.yaml")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def run(engine: str, at: Location, readonly: Location, sheet: Path, n: int) -> None:
    store = StationStore(at, tz=RULES.tz)
    try:
        checked, check_s = timed(lambda: import_roster(store, sheet, RULES, actor="bench",
                                                       now=time.time(), dry_run=True))
        done, import_s = timed(lambda: import_roster(store, sheet, RULES, actor="bench",
                                                     now=time.time()))
    finally:
        store.close()
    assert checked.good == done.imported == n and not done.problems, done.problems[:3]
    print(f"{engine:<10} import {n} rows: check {check_s:5.2f} s ({n / check_s:6.0f} rows/s), "
          f"check + store {import_s:5.2f} s ({n / import_s:6.0f} rows/s)")
    reader = StationReader.open(readonly, tz=RULES.tz)
    try:
        homes, homes_s = timed(reader.homes)
        elders, elders_s = timed(reader.elders)
        _, hist_s = timed(reader.visit_histories)
        _, state_s = timed(lambda: [reader.home_state(h.hub) for h in homes])
    finally:
        reader.close()
    index, index_s = timed(lambda: ElderIndex(elders))
    _, search_s = timed(lambda: index.search(elders[n // 2][1].name[:2]))
    print(f"{engine:<10} roster reads at {len(homes)} homes: homes {homes_s * 1000:5.0f} ms, "
          f"elders {elders_s * 1000:5.0f} ms, visit histories {hist_s * 1000:5.0f} ms, "
          f"each home's state {state_s * 1000:6.0f} ms; index {index_s * 1000:5.0f} ms, "
          f"a search {search_s * 1000:4.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--homes", type=int, default=20_000)
    ap.add_argument("--dir", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        sheet = write_elders(Path(tmp) / "county.csv",
                             ((f"h{i:05d}", r) for i, (_, r) in enumerate(population(a.homes))))
        print(f"county.csv: {a.homes} rows, {sheet.stat().st_size / 1e6:.1f} MB")
        db = Path(tmp) / "station.db"
        run("sqlite", db, db, sheet, a.homes)
        from tests.support.postgres import PgCluster

        cluster = PgCluster(durable=True).start()
        try:
            cluster.sql("CREATE DATABASE roster")
            run("postgresql", cluster.dsn("roster"), cluster.dsn("roster"), sheet, a.homes)
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
