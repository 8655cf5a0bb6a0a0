"""`anxin doctor` on a county station (store on PostgreSQL): the database reached and the
primary, the standby it waits for, the WAL archive (the backups), the consoles' role
read-only."""

from __future__ import annotations

import time
from pathlib import Path

from console.station.config import StationConfig
from hub.cli.doctor.report import Finding, Status
from hub.cli.doctor.store import archive, postgresql, replica, rewind
from tests.support.postgres import PgCluster, StoreAt, archive_now


def station(tmp_path: Path, dsn: str, readonly: str | None) -> StationConfig:
    return StationConfig.model_validate({"database": str(tmp_path / "x.db"), "store": {
        "engine": "postgresql", "dsn": dsn, **({"readonly_dsn": readonly} if readonly else {})}})


def by_check(findings: list[Finding]) -> dict[str, tuple[Status, str]]:
    return {f.check: (f.status, f.found) for f in findings}


def test_a_county_database_is_checked(tmp_path: Path, pg_at: StoreAt) -> None:
    found = by_check(postgresql(station(tmp_path, str(pg_at.location.text),  # type: ignore[union-attr]
                                        pg_at.readonly.text)))  # type: ignore[union-attr]
    status, text = found["database"]
    assert status is Status.OK and "the primary, its tables made" in text
    assert found["replica"][0] is Status.WARN  # no standby in this test
    assert found["rewind"][0] is Status.OK  # wal_log_hints on (tests/support/postgres.py)
    assert found["archive"][0] is Status.WARN and "no WAL archiving" in found["archive"][1]
    assert found["consoles"] == (Status.OK, "role anxin_console reads only")


def test_consoles_on_the_stations_role_or_an_unreachable_server_are_named(
        tmp_path: Path, pg_at: StoreAt) -> None:
    dsn = pg_at.location.text  # type: ignore[union-attr]
    found = by_check(postgresql(station(tmp_path, dsn, dsn)))  # the owner: it may write
    assert found["consoles"][0] is Status.FAIL and "could change the station database" in \
        found["consoles"][1]
    down = by_check(postgresql(station(tmp_path, "host=127.0.0.1 port=1 dbname=x", None)))
    assert down["database"][0] is Status.FAIL and "cannot connect" in down["database"][1]


def test_the_wal_archive_lately_written_late_or_failing_is_named(
        tmp_path: Path, pg_archiving: PgCluster) -> None:
    cfg = station(tmp_path, pg_archiving.dsn("anxin").text, None)
    segment = archive_now(pg_archiving)
    status, text = by_check(postgresql(cfg))["archive"]
    assert status is Status.OK and f"({segment}) 0 min ago" in text

    pg_archiving.sql("ALTER SYSTEM SET archive_command = 'false'", "SELECT pg_reload_conf()",
                     "CREATE TABLE more (n int)", "SELECT pg_switch_wal()", db="anxin")
    deadline = time.monotonic() + 30
    while not pg_archiving.value("SELECT failed_count FROM pg_stat_archiver"):
        assert time.monotonic() < deadline, "archive_command never failed"
        time.sleep(0.1)
    status, text = by_check(postgresql(cfg))["archive"]
    assert status is Status.FAIL and "archive_command fails" in text

    late = archive("on", segment, 2 * 3600.0, None)
    assert late.status is Status.WARN and "is 2.0 h old" in late.found


def test_a_primary_whose_commits_wait_for_no_streaming_standby_fails(
        tmp_path: Path, pg_pair: tuple[PgCluster, PgCluster]) -> None:
    """As after a promotion: the new primary names a standby that is not there (the old
    primary, not yet rejoined), while another streams unnamed: every alarm's commit waits."""
    primary, _ = pg_pair
    cfg = station(tmp_path, primary.dsn("anxin").text, None)
    assert by_check(postgresql(cfg))["replica"] == (
        Status.OK, "streaming to replica1; commits wait for replica1")
    primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (db1)'",
                "SELECT pg_reload_conf()")
    status, text = by_check(postgresql(cfg))["replica"]
    assert status is Status.FAIL and text == (
        "streaming to replica1, none of them named in synchronous_standby_names "
        "('FIRST 1 (db1)'): commits wait, so no alarm is acknowledged")


def test_the_standbys_against_synchronous_standby_names() -> None:
    names = "FIRST 1 (db1, db2)"
    assert replica(names, [("db1", "sync"), ("db3", "async")]).status is Status.OK
    assert replica(names, [("db2", "potential")]).status is Status.FAIL  # catching up
    assert "not synchronous yet" in replica(names, [("db2", "potential")]).found
    assert "no standby is connected" in replica(names, []).found
    alone = replica("", [("db3", "async")])  # a promoted server's names emptied
    assert alone.status is Status.WARN and "may be on this server only" in alone.found


def test_a_server_that_could_not_be_rewound_is_named() -> None:
    assert rewind(True, True).status is Status.OK
    assert rewind(False, True).status is Status.WARN
    assert rewind(True, False).found.startswith("full_page_writes off:")
