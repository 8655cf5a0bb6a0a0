"""The station database's writer: the station service, on one connection, each change in one
transaction (on PostgreSQL several station workers, each a writer; see
:meth:`~console.station.store.db.Db.lock` for what keeps them in order).

Alarm writes are durable (SQLite ``synchronous=FULL``, PostgreSQL ``synchronous_commit``)
before the hub is acknowledged; heartbeats, which the next one replaces, commit without an
fsync of their own (a power cut loses at most the last few, never an alarm).

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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import tzinfo
from typing import TypeVar

from console.station import audit
from console.station.config import LoginConfig
from console.station.store import db as engine
from console.station.store import schema
from console.station.store.db import Db, Location
from console.station.store.reader import StationReader

T = TypeVar("T")
RETRIES = 5  # a transaction PostgreSQL gave up (a deadlock) is run again, at most this often


class Writer(StationReader):
    """The store on the writing connection: every read, and the transactions the writes of
    its parts use."""

    def __init__(self, location: Location, *, login: LoginConfig | None = None,
                 tz: tzinfo | None = None) -> None:
        self.trouble: str | None = None  # why the last write failed, until one succeeds
        super().__init__(schema.connect(location), tz=tz, tx=self._tx, login=login)

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[Db]:
        """A write transaction; not ``durable``: committed without an fsync of its own (the
        next durable commit carries it to disk). A failed COMMIT (a full disk) is rolled back
        too, if SQLite has not done so itself: a transaction left open would make every later
        BEGIN fail."""
        db = self._db
        changes = db.total_changes
        try:
            db.begin(durable=durable)
            try:
                yield db
                audit.chain(db)
                db.commit()
            except BaseException:
                db.rollback()
                raise
        except engine.storage_errors() as e:
            self.trouble = str(e)
            raise
        else:
            if db.total_changes != changes:  # an empty commit proves nothing
                self.trouble = None
        finally:
            db.end(durable=durable)

    def _retrying(self, work: Callable[[], T]) -> T:
        """Run ``work`` (its own transactions) again when PostgreSQL rolled it back for another
        writer's sake (a deadlock, a serialization failure); SQLite never does."""
        for attempt in range(RETRIES):
            try:
                return work()
            except engine.errors() as e:
                if not engine.retryable(e) or attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def check_writable(self, now: float) -> None:
        """A small write (no fsync of its own): ``trouble`` is cleared if it succeeds."""
        with self._tx(durable=False) as db:
            db.execute("INSERT INTO write_check VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
                       "ts = excluded.ts", (now,))
