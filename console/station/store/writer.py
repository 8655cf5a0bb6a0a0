"""The station database's one writer: the station service, on one connection, each change in
one transaction.

Alarm writes use ``synchronous=FULL`` before the hub is acknowledged; heartbeats, which the
next one replaces, commit with ``synchronous=NORMAL`` (no fsync of their own: a power cut loses
at most the last few, never an alarm).

A write that fails (a full disk, an I/O error) is rolled back and raised, and ``trouble`` says
why until a later write succeeds; ``check_writable`` is that later write when nothing else
comes. The service tells the consoles (``StationStatus.writable``).

The writes are in modules by role, each a part of :class:`~console.station.store.station.
StationStore` on this connection: ingest (what hubs send), alarms (the officers' steps),
homes (online or not, the elder records of homes.yaml); users, calls and casework records
(:mod:`console.station.users`, :mod:`~console.station.calls`,
:mod:`~console.station.records_store`) take its transactions as ``tx``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path

from console.station.config import LoginConfig
from console.station.store import schema
from console.station.store.reader import StationReader


class Writer(StationReader):
    """The store on the writing connection: every read, and the transactions the writes of
    its parts use."""

    def __init__(self, path: Path, *, login: LoginConfig | None = None,
                 tz: tzinfo | None = None) -> None:
        self.trouble: str | None = None  # why the last write failed, until one succeeds
        super().__init__(schema.connect(path), tz=tz, tx=self._tx, login=login)

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction; not ``durable``: committed without an fsync of its own (the
        next durable commit carries it to disk). A failed COMMIT (a full disk) is rolled back
        too, if SQLite has not done so itself: a transaction left open would make every later
        BEGIN fail."""
        if not durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        changes = self._db.total_changes
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            self.trouble = str(e)
            raise
        else:
            if self._db.total_changes != changes:  # an empty commit proves nothing
                self.trouble = None
        finally:
            if not durable:
                self._db.execute("PRAGMA synchronous=FULL")

    def check_writable(self, now: float) -> None:
        """A small write (no fsync of its own): ``trouble`` is cleared if it succeeds."""
        with self._tx(durable=False) as db:
            db.execute("INSERT OR REPLACE INTO write_check VALUES (1, ?)", (now,))
