"""The county's backup, restored as docs/county.md has it ("Backups and restore"): a base
backup with pg_basebackup, every finished WAL segment archived by ``archive_command``, and a
restore into a new data directory with ``restore_command`` and ``recovery.signal``, after the
database's machine is gone (kill -9; its own WAL directory never read again). The restore has
every alarm committed before the last archived WAL segment ended and the audit chain whole, to
the head the station had then, also after pg_archivecleanup removed the WAL older than the base
backup; a point-in-time restore (``recovery_target_time``) stops at
the last commit before the time asked."""

from __future__ import annotations

import time

from console.station.store.station import StationStore
from hub.common import wire
from tests.support.postgres import PgCluster, archive_now

FIRST, SECOND, LOST = 15, 15, 5  # alarms before the base backup, after it, after the archive


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


def stored(cluster: PgCluster, ids: list[str]) -> list[str]:
    store = StationStore(cluster.dsn("anxin"))
    try:
        return [a for a in ids if store.alarm(a) is not None]
    finally:
        store.close()


def test_a_restore_from_the_base_backup_and_the_archive_has_every_archived_alarm(
        pg_archiving: PgCluster) -> None:
    store = StationStore(pg_archiving.dsn("anxin"))
    first = raise_alarms(store, range(1, FIRST + 1))
    base = pg_archiving.backup()
    time.sleep(0.05)  # the server's clock moves on between the last of FIRST and the mark
    mark = pg_archiving.value("SELECT clock_timestamp()::text")
    time.sleep(0.05)
    second = raise_alarms(store, range(FIRST + 1, FIRST + SECOND + 1))
    audit = store.verify_audit()
    segment = archive_now(pg_archiving)
    assert (pg_archiving.archive / segment).exists()
    lost = raise_alarms(store, range(FIRST + SECOND + 1, FIRST + SECOND + LOST + 1))
    store.close()
    pg_archiving.kill()  # the machine is gone: its pg_wal with the last alarms with it
    before = sorted(f.name for f in pg_archiving.archive.iterdir())
    oldest = pg_archiving.clean_archive(base)  # what no kept backup needs any more
    kept = sorted(f.name for f in pg_archiving.archive.iterdir())
    assert before[0] < oldest and kept == [f for f in before if f >= oldest], kept

    restored = pg_archiving.restore(base)
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

    to_mark = pg_archiving.restore(base, target_time=mark)
    try:
        assert stored(to_mark, first + second + lost) == first
        back = StationStore(to_mark.dsn("anxin"))
        verdict = back.verify_audit()
        assert verdict.ok and verdict.count == FIRST, verdict
        back.close()
    finally:
        to_mark.close()
