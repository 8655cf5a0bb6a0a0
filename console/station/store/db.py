"""One connection to the station database, on SQLite (a township's PC: the default, a file
beside the station) or PostgreSQL (a county's call centre: several station workers, a
synchronous replica), behind the little the store uses.

The store's SQL is written once, in the subset both engines take: ``?`` placeholders (turned
into psycopg's ``%s`` here), tuples as rows, ``INSERT … ON CONFLICT … DO NOTHING/UPDATE``,
``RETURNING``, ``CASE`` rather than two-argument ``max``/``min``, ``= 1`` rather than an integer
used as a truth value, and ``rowid`` for the order rows were written in (SQLite's own; a column
of the same name that PostgreSQL fills from a sequence). What cannot be written once is here,
in :class:`Db`: the DDL types (:meth:`Db.ddl`), the transactions and their durability, the
write locks, reading JSON in a column, a table's columns, the driver's errors. A thin adapter
over the two DB-API drivers rather than an ORM or SQLAlchemy: the SQL stays what is run, and
the hub-side code keeps importing nothing new (docs/architecture.md, "The station database").

psycopg is imported only when a PostgreSQL database is opened (the ``county`` extra).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
Engine = Literal["sqlite", "postgresql"]
# Tables read back in the order their rows were written (``ORDER BY rowid``): SQLite keeps a
# rowid in every table; PostgreSQL gets a column of that name, last, so that an INSERT without
# a column list still fills the others.
ORDERED = ("alarm_log", "alarm_steps", "notifications")


class Cursor(Protocol):
    """What both drivers' cursors give."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


@dataclass(frozen=True, slots=True)
class Dsn:
    """A PostgreSQL database: a libpq connection string or URI (``postgresql://…``). Its
    text is never printed: it may hold a password."""

    text: str

    def __str__(self) -> str:
        text = re.sub(r"(://[^:@/]*):[^@/]*@", r"\1:***@", self.text)  # a URI's user:password@
        return re.sub(r"password=[^\s&]+", "password=***", text)  # key=value, or a URI's query

    def __repr__(self) -> str:
        return f"Dsn({str(self)!r})"


Location = Path | Dsn  # where a station database is


@cache
def errors() -> tuple[type[Exception], ...]:
    """Every error a driver raises (``except errors():``; evaluated only when one is)."""
    return (sqlite3.Error, *_psycopg_classes("Error"))


@cache
def storage_errors() -> tuple[type[Exception], ...]:
    """The database cannot be written or reached (a full disk, a lost server): the store
    reports ``trouble`` and the consoles hear ``storage``."""
    return (sqlite3.OperationalError, *_psycopg_classes("OperationalError"))


def _psycopg_classes(name: str) -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:
        return ()
    return (getattr(psycopg, name),)


def retryable(e: BaseException) -> bool:
    """A transaction PostgreSQL gave up so another could go on (a deadlock, a serialization
    failure): running it again is right."""
    return getattr(e, "sqlstate", None) in ("40001", "40P01")


@lru_cache(maxsize=2048)
def _pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s``; a literal ``%`` doubled (psycopg reads the
    whole text, quoted or not)."""
    parts = re.split(r"('(?:[^']|'')*')", sql)  # the string literals are the odd parts
    return "".join(p.replace("%", "%%") if i % 2 else p.replace("%", "%%").replace("?", "%s")
                   for i, p in enumerate(parts))


class Db:
    """A connection, in autocommit: ``begin``/``commit`` make the transactions (the store's
    writer does; a reader never does)."""

    def __init__(self, raw: Any, engine: Engine, location: Location, readonly: bool) -> None:
        self.raw, self.engine, self.location, self.readonly = raw, engine, location, readonly
        self._changes = 0  # PostgreSQL: rows changed on this connection (SQLite counts its own)
        # the open transaction's audit.Entry's, chained at commit (audit.chain); typed there,
        # since the audit log's module sits above this one
        self.audit_pending: list[Any] = []
        self._began = False  # PostgreSQL: a transaction of ours is open

    @classmethod
    def open(cls, location: Location, *, readonly: bool = False) -> Db:
        if isinstance(location, Dsn):
            return cls(_pg_connect(location, readonly), "postgresql", location, readonly)
        if readonly:
            raw = sqlite3.connect(f"file:{location}?mode=ro", uri=True, isolation_level=None,
                                  check_same_thread=False)
        else:
            location.parent.mkdir(parents=True, exist_ok=True)
            raw = sqlite3.connect(location, isolation_level=None, check_same_thread=False)
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=FULL")
        raw.execute("PRAGMA busy_timeout=5000")
        return cls(raw, "sqlite", location, readonly)

    @property
    def pg(self) -> bool:
        return self.engine == "postgresql"

    def close(self) -> None:
        self.raw.close()

    # --- statements -------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if not self.pg:
            return self.raw.execute(sql, params)
        query = _pyformat(sql)
        if self._began:  # inside a transaction, a lost connection must fail it
            cur = self.raw.execute(query, tuple(params))
        else:  # a read (or the schema's IF NOT EXISTS): safe to send again
            cur = self._again_if_lost(lambda: self.raw.execute(query, tuple(params)))
        if cur.rowcount > 0 and not sql.lstrip().upper().startswith("SELECT"):
            self._changes += cur.rowcount
        return cur

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if not self.pg:
            self.raw.executemany(sql, rows)
            return
        for row in rows:
            self.execute(sql, row)

    def script(self, ddl: str) -> None:
        """Statements without parameters (the schema), in this engine's DDL."""
        if self.pg:
            self.raw.execute(self.ddl(ddl))
        else:
            self.raw.executescript(ddl)

    # --- transactions -----------------------------------------------------------------------

    def begin(self, *, durable: bool = True) -> None:
        """A write transaction. SQLite: ``BEGIN IMMEDIATE``, the one write lock of the file, so
        writers go one at a time. PostgreSQL: several workers write at once; what must stay in
        order takes :meth:`lock` first. Not ``durable``: committed without waiting for the disk
        (heartbeats); an alarm's commit always waits (``synchronous_commit``, on a primary with
        a synchronous replica: for the replica too), and only then is the hub acknowledged."""
        self.audit_pending.clear()
        if not self.pg:
            if not durable:
                self.raw.execute("PRAGMA synchronous=NORMAL")
            self.raw.execute("BEGIN IMMEDIATE")
            return
        self._again_if_lost(lambda: self.raw.execute("BEGIN"))
        self._began = True
        if not durable:
            self.raw.execute("SET LOCAL synchronous_commit TO off")

    def commit(self) -> None:
        self._began = False
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back an open transaction (none open, or the connection lost: nothing to do)."""
        self.audit_pending.clear()
        self._began = False
        if self.pg and (self.raw.closed or self.raw.broken):
            return
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def end(self, *, durable: bool = True) -> None:
        """After a transaction, committed or not: SQLite's next ones are durable again."""
        if not self.pg and not durable:
            self.raw.execute("PRAGMA synchronous=FULL")

    @property
    def in_transaction(self) -> bool:
        if not self.pg:
            return bool(self.raw.in_transaction)
        from psycopg.pq import TransactionStatus
        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    @property
    def total_changes(self) -> int:
        return int(self.raw.total_changes) if not self.pg else self._changes

    def lock(self, *keys: str) -> None:
        """Hold these names until the transaction ends (PostgreSQL), all at once in one fixed
        order (of their keys), so that two writers never wait on each other in a circle: the
        hubs whose lanes a transaction stores (``hub:<id>``), first; the audit chain's head
        (``audit``), last, just before the commit (:func:`console.station.audit.chain`).
        SQLite's ``BEGIN IMMEDIATE`` already holds the whole file."""
        if self.pg and keys:  # one round trip; unnest keeps the array's (sorted) order
            self.raw.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k",
                             (sorted({_key(k) for k in keys}),))

    # --- what the engines spell differently ---------------------------------------------------

    def json(self, column: str, *path: str) -> str:
        """SQL for the value at ``path`` in a JSON text column: a string or number as itself,
        an object as JSON text, NULL when it is missing."""
        if not self.pg:
            return f"json_extract({column}, '$.{'.'.join(path)}')"
        return f"({column}::jsonb #>> '{{{','.join(path)}}}')"

    def json_number(self, column: str, *path: str) -> str:
        """SQL for a number at ``path`` in a JSON text column; NULL when it is not a number."""
        if not self.pg:
            return (f"CASE WHEN json_type({column}, '$.{'.'.join(path)}') IN ('integer', 'real') "
                    f"THEN {self.json(column, *path)} END")
        return (f"CASE WHEN jsonb_typeof({column}::jsonb #> '{{{','.join(path)}}}') = 'number' "
                f"THEN {self.json(column, *path)}::double precision END")

    def columns(self, table: str) -> set[str]:
        if not self.pg:
            return {r[1] for r in self.raw.execute(f"PRAGMA table_info({table})")}
        return {r[0] for r in self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ?", (table,))}

    def tables(self) -> list[str]:
        if not self.pg:
            return [r[0] for r in self.raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name")]
        return [r[0] for r in self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")]

    def ddl(self, script: str) -> str:
        """The schema as this engine takes it. PostgreSQL: 64-bit integers (an INTEGER PRIMARY
        KEY numbered by an identity, as SQLite's rowid alias is), 8-byte floats (its REAL is
        4 bytes: a station time would lose its seconds), BYTEA, and a ``rowid`` in
        :data:`ORDERED` tables."""
        if not self.pg:
            return script
        s = re.sub(r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY "
                   "PRIMARY KEY", script)
        s = re.sub(r"\bINTEGER\b", "BIGINT", s)
        s = re.sub(r"\bREAL\b", "DOUBLE PRECISION", s)
        s = re.sub(r"\bBLOB\b", "BYTEA", s)
        return re.sub(rf"(CREATE TABLE IF NOT EXISTS ({'|'.join(ORDERED)}) \(.*?)\n\);",
                      r"\1\n    , rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE\n);", s,
                      flags=re.S)

    def append_only(self, table: str) -> str:
        """DDL that refuses every UPDATE and DELETE of ``table`` (the audit log)."""
        message = f"the {table} log is append-only"
        if not self.pg:
            return "".join(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table}\n"
                f"    BEGIN SELECT RAISE(ABORT, '{message}'); END;\n" for op in ("UPDATE", "DELETE"))
        return (f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql "
                f"AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$;\n"
                f"CREATE OR REPLACE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only();\n")

    def reset_sequences(self) -> None:
        """PostgreSQL: each identity continues after the highest id stored (rows copied in
        with their ids, ``anxin station migrate``)."""
        if not self.pg:
            return
        for table, column in self.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE "
                "table_schema = current_schema() AND is_identity = 'YES'").fetchall():
            self.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                         f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)")

    def _again_if_lost(self, send: Callable[[], T]) -> T:
        """Send outside a transaction; a PostgreSQL connection found lost (the primary failed
        over, the server restarted: it shows only when used) is made again and the statement
        sent once more. A transaction cut off in the middle still raises, for its caller."""
        if self.raw.closed or self.raw.broken:
            self.raw = _pg_connect(self.location, self.readonly)  # type: ignore[arg-type]
        try:
            return send()
        except storage_errors():
            if not self.raw.broken:
                raise
        self.raw = _pg_connect(self.location, self.readonly)  # type: ignore[arg-type]
        return send()


def _key(name: str) -> int:
    """A 64-bit advisory-lock key for a name (stable across processes and versions)."""
    return zlib.crc32(name.encode()) | (1 << 40)


def _pg_connect(dsn: Dsn, readonly: bool) -> Any:
    """A connection in autocommit; a reader's sessions are read-only. A writer's commits
    wait for the disk (and a synchronous replica) whatever the server's or role's default:
    the hub is acknowledged after them."""
    import psycopg

    extra: dict[str, Any] = {"options": "-c default_transaction_read_only=on"} if readonly else {}
    raw = psycopg.connect(dsn.text, autocommit=True, connect_timeout=10, **extra)
    if not readonly and raw.execute("SHOW synchronous_commit").fetchone() in (("off",), ("local",)):
        log.warning("%s: synchronous_commit is off for this role: on for the station's "
                    "commits (docs/county.md)", dsn)
        raw.execute("SET synchronous_commit TO on")
    return raw
