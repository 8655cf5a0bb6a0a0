"""The county's backup, restored as docs/county.md has it ("Backups and restore"): a base
backup with pg_basebackup, every finished WAL segment archived by ``archive_command``, and a
restore into a new data directory with ``restore_command`` and ``recovery.signal``, after the
database's machine is gone (kill -9; its own WAL directory never read again). The restore has
every alarm committed before the last archived WAL segment ended and the audit chain whole, to
the head the station had then; a point-in-time restore (``recovery_target_time``) stops at
the last commit before the time asked."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from console.station.store.station import StationStore
from hub.common import wire
from tests.support.postgres import PgCluster

FIRST, SECOND, LOST = 15, 15, 5  # alarms before the base backup, after it, after the archive


@pytest.fixture
def archived() -> Iterator[PgCluster]:
    """A station's database server archiving its WAL, with database ``anxin``."""
    primary = PgCluster(archive=True).start()
    try:
        primary.sql("CREATE DATABASE anxin")
        yield primary
    finally:
        primary.close()


def raise_alarms(store: StationStore, numbers: range) -> list[str]:
    """Alarms stored as the station stores a hub's, each claimed (an audit entry)."""
    ids = []
    for n in numbers:
        msg = wire.EventMsg(hub="h001", id=f"a{n}", kind="button.press", source="b", ts=float(n),
                            seq=wire.Seq(epoch="e", lane="alarm", n=n, prev=n - 1),
                            alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101))
        assert store.store_event(msg)
        store.claim(msg.id, "duty1", "Officer Li")
        ids.append(msg.id)
    return ids


def archive_now(primary: PgCluster) -> str:
    """Close the WAL segment being written and wait until the archiver has copied it."""
    segment = primary.value("SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 30
    while (primary.value("SELECT last_archived_wal FROM pg_stat_archiver") or "") < segment:
        assert time.monotonic() < deadline, f"{segment} never archived"
        time.sleep(0.1)
    assert (primary.archive / segment).exists()
    return str(segment)


def stored(cluster: PgCluster, ids: list[str]) -> list[str]:
    store = StationStore(cluster.dsn("anxin"))
    try:
        return [a for a in ids if store.alarm(a) is not None]
    finally:
        store.close()


def test_a_restore_from_the_base_backup_and_the_archive_has_every_archived_alarm(
        archived: PgCluster) -> None:
    store = StationStore(archived.dsn("anxin"))
    first = raise_alarms(store, range(1, FIRST + 1))
    base = archived.backup()
    time.sleep(0.05)  # the server's clock moves on between the last of FIRST and the mark
    mark = archived.value("SELECT clock_timestamp()::text")
    time.sleep(0.05)
    second = raise_alarms(store, range(FIRST + 1, FIRST + SECOND + 1))
    audit = store.verify_audit()
    archive_now(archived)
    lost = raise_alarms(store, range(FIRST + SECOND + 1, FIRST + SECOND + LOST + 1))
    store.close()
    archived.kill()  # the machine is gone: its pg_wal with the last alarms with it

    restored = archived.restore(base)
    try:
        assert stored(restored, first + second) == first + second
        assert stored(restored, lost) == []  # written after the last archived segment
        back = StationStore(restored.dsn("anxin"))
        verdict = back.verify_audit(expect=audit.head)
        assert verdict.ok, verdict.reason
        assert verdict.count == audit.count == FIRST + SECOND
        assert back.count("alarms") == FIRST + SECOND
        raise_alarms(back, range(FIRST + SECOND + 1, FIRST + SECOND + 3))  # writable: promoted
        back.close()
    finally:
        restored.close()

    to_mark = archived.restore(base, target_time=mark)
    try:
        assert stored(to_mark, first + second + lost) == first
        back = StationStore(to_mark.dsn("anxin"))
        verdict = back.verify_audit()
        assert verdict.ok and verdict.count == FIRST, verdict
        back.close()
    finally:
        to_mark.close()
