"""A station worker whose PostgreSQL connection is cut (a failover, a restarted server): the
transaction it was in fails, for its caller to see (the hub is not acknowledged and sends
again); the next one runs on a new connection. Nothing runs outside a transaction in between."""

from __future__ import annotations

import psycopg
import pytest

from console.station.store import db as engine
from console.station.store.station import StationStore
from hub.common import wire
from tests.support.postgres import StoreAt


def alarm(id: str) -> wire.EventMsg:
    return wire.EventMsg(hub="h001", id=id, kind="button.press", source="b", ts=1.0,
                         alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101))


def cut(s: StationStore, at: StoreAt) -> None:
    """The server ends the store's connection, as a failover does."""
    with psycopg.connect(at.location.text, autocommit=True) as admin:  # type: ignore[union-attr]
        admin.execute("SELECT pg_terminate_backend(%s)", (s._db.raw.info.backend_pid,))


def test_a_cut_connection_fails_its_transaction_and_the_next_reconnects(pg_at: StoreAt) -> None:
    s = StationStore(pg_at.location)
    assert s.store_event(alarm("a1"))
    cut(s, pg_at)
    assert s.store_event(alarm("a2"))  # between transactions: a new connection, unnoticed

    with pytest.raises(engine.storage_errors()), s._tx() as db:
        db.execute("INSERT INTO alarm_log VALUES ('a2', 'delivered', 1.0, 'x', 'first half')")
        cut(s, pg_at)
        db.execute("INSERT INTO alarm_log VALUES ('a2', 'delivered', 2.0, 'x', 'second half')")
    assert s.trouble  # the consoles hear the station cannot write, until a write succeeds
    assert [note for *_, note in s.alarm_log("a2")] == [None, None]  # neither half
    assert s.store_event(alarm("a3")) and s.trouble is None
    assert {a.id for a in s.open_alarms()} == {"a1", "a2", "a3"}
    s.close()


def test_the_station_commits_durably_whatever_the_servers_default(
        pg_at: StoreAt, caplog: pytest.LogCaptureFixture) -> None:
    """An alarm is acknowledged after its commit: a database set to commit without waiting for
    the disk (or the replica) does not get to decide that for the station."""
    name = pg_at.location.text.split("dbname=")[1].split()[0]  # type: ignore[union-attr]
    with psycopg.connect(pg_at.location.text, autocommit=True) as admin:  # type: ignore[union-attr]
        admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")  # type: ignore[arg-type]
    s = StationStore(pg_at.location)
    assert s._db.execute("SHOW synchronous_commit").fetchone()[0] == "on"
    assert "synchronous_commit is off for this role" in caplog.text
    s.close()
