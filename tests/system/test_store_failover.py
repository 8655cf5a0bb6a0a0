"""PostgreSQL primary with a synchronous streaming replica: the primary is killed while a hub
keeps raising alarms, the replica is promoted, and the station's store finds it (a DSN with
both hosts, target_session_attrs=read-write). No alarm the station acknowledged is lost: it
acknowledges after its commit, and a commit waits for the replica, even one fallen behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from console.station.config import StationConfig
from console.station.store import db as engine
from console.station.store.db import Dsn
from console.station.store.station import StationStore
from hub.cli.doctor.report import Status
from hub.cli.doctor.store import postgresql
from hub.common import wire
from tests.support.postgres import PgCluster

BEFORE, AFTER = 30, 20  # alarms acknowledged before the kill, and after it


@pytest.fixture
def pair() -> Iterator[tuple[PgCluster, PgCluster]]:
    primary = PgCluster().start()
    try:
        primary.sql("CREATE DATABASE anxin")
        standby = primary.replica("replica1")
        try:
            yield primary, standby
        finally:
            standby.close()
    finally:
        primary.close()


def sync_state(primary: PgCluster) -> str:
    import psycopg

    with psycopg.connect(primary.dsn().text, autocommit=True) as c:
        row = c.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
    return str(row[0]) if row else ""


class Hub:
    """Raises alarm after alarm; each is sent again until the station stores it (its ack)."""

    def __init__(self, dsn: Dsn) -> None:
        self.store = StationStore(dsn)
        self.acked: list[str] = []
        self.waited: list[float] = []  # first try to ack, per alarm
        self.failures = 0
        self.error: BaseException | None = None  # OutOfOrder: an acknowledged alarm is gone
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            self._raise()
        except BaseException as e:
            self.error = e

    def _raise(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            msg = wire.EventMsg(hub="h001", id=f"a{n}", kind="button.press", source="b",
                                ts=float(n), seq=wire.Seq(epoch="e", lane="alarm", n=n, prev=n - 1),
                                alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101))
            first = time.monotonic()
            while True:
                try:
                    self.store.store_event(msg)  # True, or False: stored before the cut
                    break
                except engine.errors():
                    self.failures += 1
                    time.sleep(0.05)
            self.acked.append(msg.id)
            self.waited.append(time.monotonic() - first)


def test_promoting_the_replica_loses_no_acknowledged_alarm(
        pair: tuple[PgCluster, PgCluster]) -> None:
    primary, standby = pair
    assert eventually_sync(primary) == "sync"
    both = Dsn(f"host=127.0.0.1,127.0.0.1 port={primary.port},{standby.port} dbname=anxin "
               "user=postgres target_session_attrs=read-write")
    doctor = {f.check: f for f in postgresql(StationConfig.model_validate(
        {"store": {"engine": "postgresql", "dsn": both.text}}))}
    assert doctor["replica"].status is Status.OK, doctor["replica"]
    assert doctor["replica"].found == "streaming to replica1; commits wait for replica1"
    hub = Hub(both)
    thread = threading.Thread(target=hub.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(hub.acked) < BEFORE and time.monotonic() < deadline:
            time.sleep(0.01)
        # The replica falls behind (the primary's WAL sender frozen) just before the primary's
        # machine dies: an alarm committed only on the primary would be lost with it.
        # Synchronous replication holds the commit, so the hub was not acknowledged and sends
        # the alarm again.
        os.kill(wal_sender(primary), signal.SIGSTOP)
        time.sleep(0.3)
        primary.kill()
        acked_by_primary = list(hub.acked)
        killed = time.monotonic()
        standby.promote()
        promoted = time.monotonic() - killed
        deadline = time.monotonic() + 60
        while len(hub.acked) < len(acked_by_primary) + AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        hub.stop.set()
        thread.join(30)
    now = StationStore(Dsn(f"host=127.0.0.1 port={standby.port} dbname=anxin user=postgres"))
    lost = [a for a in acked_by_primary if now.alarm(a) is None]
    stored = {a.id for a in now.alarms_for_hub("h001", open_only=False)}
    print(f"\nfailover: {len(hub.acked)} alarms acknowledged, {len(acked_by_primary)} before the "
          f"kill; lost {len(lost)}, stored twice {now.count('alarms') - len(stored)}; promoted "
          f"in {promoted:.2f} s; the longest an alarm waited {max(hub.waited):.2f} s")
    assert lost == []
    assert hub.error is None
    assert hub.failures > 0  # the cut was seen, and got over
    assert len(hub.acked) >= len(acked_by_primary) + AFTER, "the store never found the new primary"
    assert stored == set(hub.acked) and now.count("alarms") == len(stored)
    now.close()
    hub.store.close()


def wal_sender(primary: PgCluster) -> int:
    import psycopg

    with psycopg.connect(primary.dsn().text, autocommit=True) as c:
        row = c.execute("SELECT pid FROM pg_stat_replication").fetchone()
    assert row is not None, "the replica is not streaming"
    return int(row[0])


def eventually_sync(primary: PgCluster) -> str:
    deadline = time.monotonic() + 20
    while (state := sync_state(primary)) != "sync" and time.monotonic() < deadline:
        time.sleep(0.1)
    return state
