"""A county roster into the station database: ``anxin station import FILE``.

At county scale the homes and their elders live in the database (homes.yaml is a township's
first setup). A county's sheet (the console's import columns, casework.importer) is read on
the station PC, checked against the records already stored, and imported whole or not at all:
every bad row, duplicate and row without a hub id is named and nothing is stored until the
file is clean. The import is one transaction and one audit entry (the file, its sha256, the
count). It only adds records: a home that holds one already is a duplicate, since changing a
record is the desk's work (``elder_save``, audited field by field).
"""

from __future__ import annotations

import getpass
import hashlib
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from console.casework.county import CountyRules
from console.casework.importer import COLUMNS, RowError, read_elders
from console.casework.problem import Problem
from console.station.store.station import StationStore

_HUB_HEADER = next(c.zh_CN for c in COLUMNS if c.field == "hub")


@dataclass(frozen=True, slots=True)
class RosterImport:
    good: int  # rows that can be imported
    problems: list[RowError]  # bad rows, duplicates, rows without a hub: any refuses the file
    imported: int  # records stored: 0 when refused or only checked (dry run)


def import_roster(store: StationStore, path: Path, rules: CountyRules, *, actor: str,
                  now: float, dry_run: bool = False) -> RosterImport:
    """Check ``path`` and, when every row is good (and not ``dry_run``), store its records.
    SheetError or OSError when the file cannot be read as a table; RosterClash when a home
    got its record from elsewhere while the file was read."""
    data = path.read_bytes()  # the bytes hashed are the bytes read
    known = store.records.elders()
    result = read_elders(path, rules, today=datetime.fromtimestamp(now, store.tz).date(),
                         now=datetime.fromtimestamp(now, UTC), actor=actor,
                         known_hubs=[hub for hub, _ in known],
                         known_files=[r.file_no for _, r in known if r.file_no])
    no_hub = [RowError(path.name, i.row, _HUB_HEADER,
                       Problem("no_hub", "no hub id: the station keeps each record under its home's "
                               "hub id")) for i in result.records if i.hub is None]
    problems = sorted([*result.errors, *result.duplicates, *no_hub], key=lambda e: e.row)
    good = len(result.records) - len(no_hub)
    if problems or dry_run:
        return RosterImport(good, problems, 0)
    store.import_elders([(i.hub, i.record) for i in result.records if i.hub is not None],
                        file=path.name, digest=hashlib.sha256(data).hexdigest(), actor=actor,
                        now=now)
    return RosterImport(good, [], good)


def run_import(config: Path, file: Path, *, actor: str | None, dry_run: bool) -> int:
    """``anxin station import``: the problems on standard error, the count on standard
    output; 1 when nothing was imported for a problem."""
    from console.casework.county import load_county
    from console.casework.sheets import SheetError
    from console.station.config import load_station_config
    from console.station.store.homes import RosterClash

    cfg = load_station_config(config)
    rules = load_county(cfg.county_file)
    store = StationStore(cfg.location, login=cfg.login, tz=rules.tz)
    try:
        done = import_roster(store, file, rules, actor=actor or f"os:{getpass.getuser()}",
                             now=time.time(), dry_run=dry_run)
    except (SheetError, OSError, RosterClash) as e:
        print(f"anxin station import: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    for p in done.problems:
        print(p, file=sys.stderr)
    if done.problems:
        print(f"anxin station import: {file}: {len(done.problems)} problem(s) in the rows above; "
              f"nothing imported ({done.good} good row(s))", file=sys.stderr)
        return 1
    print(f"{file}: {done.good} record(s) checked, none imported (dry run)" if dry_run
          else f"{file}: {done.imported} record(s) imported")
    return 0
