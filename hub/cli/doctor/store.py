"""The station database on PostgreSQL (docs/county.md): reached, the primary, its commits
durable, a synchronous standby holding each one, able to be rewound should it die (to rejoin
as a standby), its WAL archived lately (the backups), and the consoles' role unable to write.
The SQLite file is checked by :func:`hub.cli.doctor.host.database`."""

from __future__ import annotations

from typing import Any

from console.station.config import StationConfig
from console.station.store.db import Dsn
from hub.cli.doctor.report import Finding, fail, ok, warn

DOC = "docs/county.md, \"The station database on PostgreSQL\""
BACKUPS = "docs/county.md, \"Backups and restore\""
REJOIN = "docs/county.md, \"The old primary rejoins\""
# The archive's last segment older than this: a restore would lose more than the hour since
# (archive_timeout = 5min, as docs/county.md has it, keeps it minutes behind)
ARCHIVE_LATE_S = 3600.0


def postgresql(cfg: StationConfig) -> list[Finding]:
    import psycopg

    assert cfg.store.dsn is not None  # engine postgresql: the config says so
    dsn = Dsn(cfg.store.dsn)
    try:
        with psycopg.connect(dsn.text, autocommit=True, connect_timeout=5) as c:
            found = [*_primary(c, dsn), *_replica(c), _archive(c)]
    except psycopg.Error as e:
        return [fail("database", f"{dsn}: cannot connect ({_first_line(e)})",
                     "check store.dsn, that the server runs and listens, and ~/.pgpass")]
    return found + _consoles(cfg)


def _primary(c: Any, dsn: Dsn) -> list[Finding]:
    standby, commit, version, made = c.execute(
        "SELECT pg_is_in_recovery(), current_setting('synchronous_commit'), "
        "current_setting('server_version'), to_regclass('alarms') IS NOT NULL").fetchone()
    if standby:
        return [fail("database", f"{dsn}: a standby (read-only), not the primary",
                     "list both servers in store.dsn with target_session_attrs=read-write")]
    tables = "its tables made" if made else "no tables yet (made at the station's first start)"
    found = [ok("database", f"{dsn}: PostgreSQL {version}, the primary, {tables}")]
    if commit in ("off", "local"):
        found.append(warn("database", f"synchronous_commit is {commit} for this role (the "
                          "station sets it on for its sessions)",
                          f"ALTER ROLE … RESET synchronous_commit; see {DOC}"))
    return found


def _replica(c: Any) -> list[Finding]:
    names = c.execute("SELECT current_setting('synchronous_standby_names')").fetchone()[0]
    standbys = [(r[0], r[1]) for r in c.execute(
        "SELECT application_name, sync_state FROM pg_stat_replication")]
    hints, checksums, full_pages = c.execute(
        "SELECT current_setting('wal_log_hints'), current_setting('data_checksums'), "
        "current_setting('full_page_writes')").fetchone()
    return [replica(names, standbys), rewind(hints == "on" or checksums == "on", full_pages == "on")]


def replica(names: str, standbys: list[tuple[str, str]]) -> Finding:
    """The standbys from pg_stat_replication (name, sync_state) against
    ``synchronous_standby_names``: does an acknowledged alarm exist on two machines?"""
    streaming = ", ".join(name for name, _ in standbys) or "none"
    if not names:
        return warn("replica", f"no synchronous standby (streaming to {streaming}): an "
                    "acknowledged alarm may be on this server only",
                    f"a streaming replica and synchronous_standby_names ({DOC})")
    if not standbys:
        return fail("replica", f"synchronous_standby_names is {names!r} and no standby is "
                    "connected: commits wait, so no alarm is acknowledged",
                    f"start the standby (after a promotion, the old primary rejoins: {REJOIN}), "
                    "or empty synchronous_standby_names (giving up the replica's copy)")
    states = {state for _, state in standbys}
    if not states & {"sync", "quorum"}:
        why = ("named in synchronous_standby_names but not synchronous yet (catching up)"
               if "potential" in states else f"none of them named in synchronous_standby_names "
               f"({names!r})")
        return fail("replica", f"streaming to {streaming}, {why}: commits wait, so no alarm is "
                    "acknowledged", f"name a streaming standby in synchronous_standby_names, or "
                    f"wait for it to catch up ({REJOIN})")
    return ok("replica", f"streaming to {streaming}; commits wait for {names}")


def rewind(hints: bool, full_pages: bool) -> Finding:
    """Whether this server, should it die and a standby be promoted, can be rewound with
    pg_rewind to rejoin as a standby; if not, it must be copied whole (pg_basebackup)."""
    if hints and full_pages:
        return ok("rewind", "wal_log_hints or data checksums on: after a promotion this server "
                  "can be rewound to rejoin as a standby")
    missing = " and ".join([*([] if hints else ["neither wal_log_hints nor data checksums"]),
                            *([] if full_pages else ["full_page_writes off"])])
    return warn("rewind", f"{missing}: after a promotion this server cannot be rewound "
                "(pg_rewind), only copied whole (pg_basebackup) to rejoin",
                f"wal_log_hints = on and full_page_writes = on, then a restart ({REJOIN})")


def _archive(c: Any) -> Finding:
    mode, wal, age, failed = c.execute(
        "SELECT current_setting('archive_mode'), last_archived_wal, "
        "extract(epoch FROM now() - last_archived_time)::float8, "
        "CASE WHEN last_failed_time > coalesce(last_archived_time, '-infinity') "
        "THEN last_failed_wal END FROM pg_stat_archiver").fetchone()
    return archive(mode, wal, age, failed)


def archive(mode: str, wal: str | None, age_s: float | None, failing: str | None) -> Finding:
    """The WAL archive from pg_stat_archiver: what a restore from the backups would lose."""
    if mode == "off":
        return warn("archive", "no WAL archiving: a restore goes back to the last base backup "
                    "only", f"archive_mode = on and an archive_command ({BACKUPS})")
    if failing:
        return fail("archive", f"archive_command fails (at {failing}): the WAL piles up on "
                    "this server's disk and the backups stop there",
                    "check the archive's disk and the server's log")
    if wal is None or age_s is None:
        return warn("archive", "archiving on, nothing archived yet",
                    "SELECT pg_switch_wal(); then run the doctor again")
    if age_s > ARCHIVE_LATE_S:
        return warn("archive", f"the last WAL segment archived ({wal}) is {age_s / 3600:.1f} h "
                    "old: a restore would lose what came after",
                    f"archive_timeout = 5min, or check archive_command ({BACKUPS})")
    return ok("archive", f"WAL archived, the last segment ({wal}) {age_s / 60:.0f} min ago")


def _consoles(cfg: StationConfig) -> list[Finding]:
    import psycopg

    if not cfg.store.readonly_dsn:
        return [warn("consoles", "no store.readonly_dsn: consoles use the station's role "
                     "(in read-only sessions)", f"a role granted SELECT only ({DOC})")]
    dsn = Dsn(cfg.store.readonly_dsn)
    try:
        with psycopg.connect(dsn.text, autocommit=True, connect_timeout=5) as c:
            row = c.execute(
                "SELECT current_user, count(*) FROM information_schema.table_privileges WHERE "
                "grantee = current_user AND privilege_type IN ('INSERT', 'UPDATE', 'DELETE', "
                "'TRUNCATE')").fetchone()
            assert row is not None
            user, writes = row
    except psycopg.Error as e:
        return [fail("consoles", f"{dsn}: cannot connect ({_first_line(e)})",
                     "check store.readonly_dsn and the role's password in the consoles' ~/.pgpass")]
    if writes:
        return [fail("consoles", f"role {user} holds {writes} grant(s) to write tables: a "
                     "console could change the station database",
                     f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public "
                     f"FROM {user}")]
    return [ok("consoles", f"role {user} reads only")]


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
