"""After a promotion the old primary rejoins as the new primary's synchronous standby, as
docs/county.md has it ("The old primary rejoins"): both servers name each other in
``synchronous_standby_names``; the primary ``db1`` is killed (kill -9) while a hub keeps
raising alarms, ``db2`` is promoted, and its alarms' commits wait, as there is no standby
left to hold a copy, until ``db1``, rewound with pg_rewind (what it alone had written is
discarded), streams from it. Then ``db1`` has every alarm, and an alarm acknowledged on
``db2`` just before ``db2`` dies too is on ``db1``, promoted in its turn."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from console.station.config import StationConfig
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from hub.cli.doctor.report import Finding, Status
from hub.cli.doctor.store import postgresql
from tests.support.postgres import AlarmingHub, PgCluster, both

BEFORE, AFTER = 20, 10  # alarms acknowledged before the kill, and after the rejoin
WINDOW = 2.0  # seconds the promoted server runs without a standby
# On every server alike: whichever is the primary waits for the other (a server is never its
# own standby), so a promotion needs no change to it.
STANDBYS = "FIRST 1 (db1, db2)"
# The WAL a server keeps after a checkpoint: pg_rewind reads the old primary's from the last
# checkpoint the two servers shared (the crash recovery it runs first removes the rest).
KEEP = "wal_keep_size = 256MB\n"


@pytest.fixture
def db1_db2() -> Iterator[tuple[PgCluster, PgCluster]]:
    primary = PgCluster(settings=f"cluster_name = 'db1'\n{KEEP}").start()
    try:
        primary.sql("CREATE DATABASE anxin")
        standby = primary.replica("db2")
        try:
            for server in (primary, standby):
                server.sql(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBYS}'",
                           "SELECT pg_reload_conf()")
            assert primary.sync_state() == "sync"
            yield primary, standby
        finally:
            standby.close()
    finally:
        primary.close()


def doctor(a: PgCluster, b: PgCluster) -> Finding:
    """`anxin doctor`'s ``replica`` line, on whichever server is the primary."""
    cfg = StationConfig.model_validate({"store": {"engine": "postgresql", "dsn": both(a, b).text}})
    return next(f for f in postgresql(cfg) if f.check == "replica")


def alarms(cluster: PgCluster) -> set[str]:
    """The hub's alarms on a server, read as a console reads (a hot standby answers too)."""
    reader = StationReader.open(cluster.dsn("anxin"))
    try:
        return {a.id for a in reader.alarms_for_hub("h001", open_only=False)}
    finally:
        reader.close()


def waiting_commits(cluster: PgCluster) -> int:
    """Sessions whose commit waits for a synchronous standby."""
    return int(cluster.value("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"))


def test_the_old_primary_rejoins_as_the_synchronous_standby(
        db1_db2: tuple[PgCluster, PgCluster]) -> None:
    db1, db2 = db1_db2
    hub = AlarmingHub(both(db1, db2))
    hub.start()
    try:
        hub.until(BEFORE)
        # db1 writes what db2 never receives: its WAL sender frozen, a commit that does not
        # wait for the standby, and the hub's next alarm, whose commit waits (not acknowledged)
        os.kill(db1.wal_sender(), signal.SIGSTOP)
        db1.sql("SET synchronous_commit = local", "CREATE TABLE only_on_db1 (n int)", db="anxin")
        time.sleep(0.2)
        assert waiting_commits(db1) >= 1, "the hub's alarm did not wait for db2"
        db1.kill()
        acked_by_db1 = list(hub.acked)
        killed = time.monotonic()
        db2.promote()
        promoted = time.monotonic() - killed

        # db2 runs alone: its alarms' commits wait for a standby, and the doctor says so
        time.sleep(WINDOW)
        assert hub.acked == acked_by_db1, "an alarm was acknowledged with one copy only"
        waiting = waiting_commits(db2)
        assert waiting >= 1, "no alarm's commit waits on db2"
        alone = doctor(db1, db2)
        assert alone.status is Status.FAIL and "no standby is connected" in alone.found, alone

        started = time.monotonic()
        report = db1.rejoin(db2, "db1")
        rewound = time.monotonic() - started
        assert "servers diverged at WAL location" in report, report
        assert db2.sync_state() == "sync", "db1 never became db2's synchronous standby"
        caught_up = time.monotonic() - started
        hub.until(len(acked_by_db1) + 1)  # the alarm that waited on db2
        released = time.monotonic() - started
        hub.until(len(acked_by_db1) + AFTER)
    finally:
        hub.finish()
    assert hub.error is None
    assert len(hub.acked) >= len(acked_by_db1) + AFTER, "no alarm acknowledged after the rejoin"
    rejoined = doctor(db1, db2)
    assert rejoined.status is Status.OK and rejoined.found.startswith("streaming to db1"), rejoined

    on_db2 = alarms(db2)
    assert set(hub.acked) <= on_db2
    deadline = time.monotonic() + 20  # db1, a hot standby, replays what it has received
    while (on_db1 := alarms(db1)) != on_db2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert on_db1 == on_db2
    # What db1 alone had committed was discarded by pg_rewind
    for db in (db1, db2):
        assert db.value("SELECT to_regclass('only_on_db1')", db="anxin") is None

    # One more alarm, acknowledged on db2, which then dies: db1 had it (synchronous)
    last = AlarmingHub.alarm(len(hub.acked) + 1)
    store = StationStore(db2.dsn("anxin"))
    assert store.store_event(last)
    db2.kill()
    store.close()
    db1.promote()  # (its own commits now wait for db2: read only)
    assert alarms(db1) == on_db2 | {last.id}, "the alarm acknowledged on db2 is lost"
    print(f"\nrejoin: {len(acked_by_db1)} alarms acknowledged by db1; db2 promoted in "
          f"{promoted:.2f} s, then {WINDOW:.0f} s with no standby: 0 acknowledged, "
          f"{waiting} commit(s) waiting; pg_rewind and start {rewound:.2f} s, "
          f"synchronous {caught_up:.2f} s, the waiting alarm acknowledged {released:.2f} s "
          f"after the rejoin began; {len(hub.acked)} acknowledged in all, the longest wait "
          f"{max(hub.waited):.2f} s")

