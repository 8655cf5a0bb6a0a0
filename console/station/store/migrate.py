"""``anxin station migrate``: a township's SQLite station database moved into PostgreSQL, when
the township joins a county's call centre (docs/county.md).

Every table is copied as it is, ids and all (and the order of the rows read back in write
order: SQLite's rowid), in one transaction; then each identity continues after the highest
id copied, and the audit chain is walked on the new database: it must end at the same head as
the old one. A target that already holds any row is refused, so running it twice copies
nothing twice. The station must be stopped meanwhile (the source is read as it stands).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from console.station import audit
from console.station.store import schema
from console.station.store.db import ORDERED, Db, Dsn


class MigrateError(Exception):
    """Nothing was copied (or the copy was rolled back): why."""


@dataclass(frozen=True, slots=True)
class Migrated:
    rows: dict[str, int]  # table -> rows copied
    audit: audit.Verdict  # the chain on the new database


def migrate(source: Path, target: Dsn) -> Migrated:
    if not source.is_file():
        raise MigrateError(f"no station database at {source}")
    src = schema.connect(source)  # an older database gets today's tables and columns first
    try:
        before = audit.verify(src)
        if not before.ok:
            raise MigrateError(f"the audit log of {source} is broken at entry {before.broken_seq} "
                               f"({before.reason}): not migrated")
        dst = schema.connect(target)
        try:
            return _copy(src, dst, before)
        finally:
            dst.close()
    finally:
        src.close()


def _copy(src: Db, dst: Db, before: audit.Verdict) -> Migrated:
    tables = dst.tables()
    if full := [t for t in tables if dst.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()]:
        raise MigrateError(f"the target database is not empty (table {full[0]} has rows): "
                           "migrate only into a new database")
    rows: dict[str, int] = {}
    dst.begin()
    try:
        for table in tables:
            have = src.columns(table)
            columns = [c for c in _ordered_columns(dst, table) if c in have or c == "rowid"]
            if table not in ORDERED:
                columns = [c for c in columns if c != "rowid"]
            names = ", ".join(columns)
            order = " ORDER BY rowid" if table in ORDERED else ""
            n = 0
            with dst.raw.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in src.execute(f"SELECT {names} FROM {table}{order}"):
                    copy.write_row(row)
                    n += 1
            rows[table] = n
        dst.reset_sequences()
        after = audit.verify(dst)
        if not after.ok or (after.count, after.head) != (before.count, before.head):
            raise MigrateError(f"the audit log did not arrive whole ({after.count} entries, "
                               f"head {after.head}; {after.reason}): rolled back")
        dst.commit()
    except BaseException:
        dst.rollback()
        raise
    return Migrated(rows, after)


def _ordered_columns(db: Db, table: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]
