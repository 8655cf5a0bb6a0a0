"""A throwaway PostgreSQL cluster for the tests, and the ``store_at`` fixture that runs a
store test on each engine.

One cluster per test session (initdb takes seconds), on a free loopback port with its unix
socket in its own temporary folder; each test gets a fresh database copied from a template
that already has the station's schema (``CREATE DATABASE … TEMPLATE``: milliseconds). initdb
and postgres refuse to run as root, which the tests and CI are: the cluster then runs as an
unprivileged user (``anxin-test`` if .ci/setup made it, else ``nobody``) through runuser.
The binaries are PostgreSQL's own (Debian's postgresql package; .ci/setup installs it).

Consoles read through a role granted SELECT only (``anxin_console``), as in a county
(docs/county.md): :attr:`StoreAt.readonly` is its connection.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from console.station.store import db as engine
from console.station.store.db import Dsn, Location
from console.station.store.station import StationStore
from console.station.trust.broker import free_port
from hub.common import wire

READER = "anxin_console"  # the consoles' role: SELECT only
TEMPLATE = "anxin_template"
ENGINES = ("sqlite", "postgresql")
# WAL archiving as docs/county.md has it (and PostgreSQL's manual, "Continuous Archiving")
ARCHIVE = ("archive_mode = on\n"
           "archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'\n")


class PostgresError(RuntimeError):
    pass


def bindir() -> Path:
    """PostgreSQL's server programs (initdb, pg_ctl, postgres)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    if which := shutil.which("initdb"):
        return Path(which).parent
    raise PostgresError("PostgreSQL is not installed (apt-get install postgresql; .ci/setup does)")


def run_as() -> str | None:
    """The user the cluster runs as when we are root (None: ourselves)."""
    if os.geteuid() != 0:
        return None
    for user in ("anxin-test", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    raise PostgresError("running as root, and no unprivileged user (anxin-test, nobody) to run "
                        "PostgreSQL as")


class PgCluster:
    """initdb, start, stop; ``dsn(db)`` connects as the superuser ``postgres`` (trust, on
    loopback only)."""

    def __init__(self, *, durable: bool = False, archive: bool = False, settings: str = "") -> None:
        """``durable``: fsync on, as in production (the benchmarks); the tests' is off.
        ``archive``: each finished WAL segment copied to :attr:`archive` (docs/county.md,
        "Backups and restore"). ``settings``: more lines of its postgresql.conf (a standby
        made from it by :meth:`replica` copies them)."""
        self.durable, self.archiving, self.settings = durable, archive, settings
        self.bin = bindir()
        self.user = run_as()
        # Not under pytest's tmp folder: it is root's, mode 0700, closed to the cluster's user.
        self.dir = Path(tempfile.mkdtemp(prefix="anxin-pg-"))
        self.data, self.socket, self.port = self.dir / "data", self.dir / "sock", free_port()
        self.archive = self.dir / "archive"
        for p in (self.socket, self.archive):
            p.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            for p in (self.dir, self.socket, self.archive):
                os.chown(p, entry.pw_uid, entry.pw_gid)

    def _run(self, *argv: str) -> str:
        """Run a PostgreSQL program as the cluster's user; what it printed."""
        cmd = [*(["runuser", "-u", self.user, "--"] if self.user else []), *argv]
        done = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise PostgresError(f"{' '.join(argv[:2])} failed: {done.stderr}{done.stdout}{log[-2000:]}")
        return done.stdout + done.stderr

    def start(self) -> PgCluster:
        if not (self.data / "PG_VERSION").exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
            with (self.data / "postgresql.conf").open("a") as conf:
                # A test cluster: durability is the production config's (docs/county.md);
                # fsync off keeps two shared cores for the tests themselves. Commit times:
                # the order in which writers' transactions landed (the concurrency tests).
                # wal_log_hints, and full_page_writes left on: a killed primary can be
                # rewound to rejoin as a standby (:meth:`rejoin`), as docs/county.md sets up.
                conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                           f"unix_socket_directories = '{self.socket}'\n"
                           + ("" if self.durable else "fsync = off\n")
                           + "max_connections = 100\nwal_log_hints = on\n"
                           "shared_buffers = 32MB\ntrack_commit_timestamp = on\n"
                           + (ARCHIVE.format(archive=self.archive) if self.archiving else "")
                           + self.settings)
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``immediate``: as if killed (no checkpoint; recovery at the next start)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def replica(self, name: str) -> PgCluster:
        """A synchronous streaming standby of this cluster (pg_basebackup -R), started; this
        cluster then waits for it at each commit (``synchronous_standby_names``)."""
        standby = PgCluster()
        standby._run(str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port),
                     "-U", "postgres", "-D", str(standby.data), "-R", "-X", "stream", "--no-sync",
                     "--checkpoint=fast")
        with (standby.data / "postgresql.conf").open("a") as conf:
            # cluster_name: its WAL receiver's application_name; a dead primary retried often
            conf.write(f"port = {standby.port}\nunix_socket_directories = '{standby.socket}'\n"
                       f"cluster_name = '{name}'\nwal_retrieve_retry_interval = 100ms\n")
        standby.start()
        self.sql(f"ALTER SYSTEM SET synchronous_standby_names = '{name}'", "SELECT pg_reload_conf()")
        return standby

    def rejoin(self, primary: PgCluster, name: str) -> str:
        """This server, a primary killed since, rewound onto the timeline of ``primary`` (its
        standby once, promoted) and started as its standby ``name``, as docs/county.md has it
        ("The old primary rejoins"): a checkpoint on ``primary`` first, then pg_rewind
        recovers this server from the crash, copies back what
        changed since the timelines forked (what only this server wrote is gone) and writes
        standby.signal and a primary_conninfo (-R). It also copies ``primary``'s
        configuration files: this server's own postgresql.conf is put back (Debian keeps it
        in /etc, out of pg_rewind's reach). pg_rewind's report."""
        conf = (self.data / "postgresql.conf").read_text()
        # pg_rewind reads the source's timeline from its control file, which a promotion
        # updates only at the next checkpoint: without it, "no rewind required"
        primary.sql("CHECKPOINT")
        report = self._run(str(self.bin / "pg_rewind"), "--target-pgdata", str(self.data),
                           "--source-server", primary.dsn().text, "--write-recovery-conf",
                           "--no-sync")
        (self.data / "postgresql.conf").write_text(f"{conf}cluster_name = '{name}'\n")
        self.start()
        return report

    def backup(self) -> Path:
        """A base backup (pg_basebackup, plain files with the WAL it needs), in this
        cluster's folder: it outlives the server, as a backup on another disk would."""
        base = self.dir / "base"
        self._run(str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "-D", str(base), "-X", "stream", "--no-sync",
                  "--checkpoint=fast")
        return base

    def clean_archive(self, base: Path) -> str:
        """Remove the archived WAL older than what a base backup needs (pg_archivecleanup,
        as docs/county.md has it); the oldest segment kept."""
        label = (base / "backup_label").read_text()
        oldest = re.search(r"^START WAL LOCATION: .* \(file (\w+)\)$", label, re.M)
        if oldest is None:
            raise PostgresError(f"no start WAL file in {base}/backup_label: {label}")
        self._run(str(self.bin / "pg_archivecleanup"), str(self.archive), oldest[1])
        return oldest[1]

    def restore(self, base: Path, *, target_time: str | None = None) -> PgCluster:
        """A new server from a base backup and this cluster's WAL archive, started: to the
        end of the archive, or to the last commit before ``target_time``. Its configuration
        is its own, as docs/county.md writes it (the old server's is not in a backup on
        Debian); it does not archive: a restore must not write into the archive it reads."""
        restored = PgCluster()
        restored._run("cp", "-a", str(base), str(restored.data))
        (restored.data / "postgresql.auto.conf").write_text("")  # the old server's ALTER SYSTEM
        with (restored.data / "postgresql.conf").open("w") as conf:  # the pg_hba.conf kept: trust
            conf.write(f"port = {restored.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{restored.socket}'\n"
                       "fsync = off\nshared_buffers = 32MB\n"
                       f"archive_mode = off\nrestore_command = 'cp {self.archive}/%f %p'\n"
                       + (f"recovery_target_time = '{target_time}'\n"
                          "recovery_target_action = 'promote'\n" if target_time else ""))
        restored._run("touch", str(restored.data / "recovery.signal"))
        restored.start()  # ready once consistent: read-only, still replaying
        deadline = time.monotonic() + 60
        while restored.value("SELECT pg_is_in_recovery()"):
            if time.monotonic() > deadline:
                raise PostgresError(f"recovery did not end: {(restored.dir / 'log').read_text()}")
            time.sleep(0.1)
        return restored

    def kill(self) -> None:
        """kill -9 the server and every process of it, as when its machine dies."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                    and _parent(p) == postmaster]
        for pid in (postmaster, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def sync_state(self, timeout: float = 20.0) -> str:
        """How its standby replicates (``sync`` once it streams and commits wait for it;
        ``""``: none connected), waiting up to ``timeout`` for ``sync``."""
        deadline = time.monotonic() + timeout
        while (state := str(self.value("SELECT sync_state FROM pg_stat_replication") or "")) \
                != "sync" and time.monotonic() < deadline:
            time.sleep(0.1)
        return state

    def wal_sender(self) -> int:
        """The process id of the WAL sender streaming to its standby."""
        pid = self.value("SELECT pid FROM pg_stat_replication")
        if pid is None:
            raise PostgresError("no standby is streaming")
        return int(pid)

    def promote(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "promote")

    def dsn(self, db: str = "postgres", user: str = "postgres") -> Dsn:
        return Dsn(f"host=127.0.0.1 port={self.port} dbname={db} user={user}")

    def sql(self, *statements: str, db: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(db).text, autocommit=True) as c:
            for s in statements:
                c.execute(s)  # type: ignore[arg-type]  # our own fixed SQL

    def value(self, query: str, db: str = "postgres") -> Any:
        """The first column of the first row of a query."""
        import psycopg

        with psycopg.connect(self.dsn(db).text, autocommit=True) as c:
            row = c.execute(query).fetchone()  # type: ignore[arg-type]  # our own fixed SQL
        return row[0] if row else None

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                with contextlib.suppress(PostgresError):  # killed: nothing left to stop
                    self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


class AlarmingHub:
    """A hub raising alarm after alarm through the station's store, in a thread from
    :meth:`start` to :meth:`finish`; each is sent again until the station stores it (its ack),
    as a hub's are."""

    def __init__(self, dsn: Dsn) -> None:
        self.store = StationStore(dsn)
        self.acked: list[str] = []
        self.waited: list[float] = []  # first try to ack, per alarm
        self.failures = 0
        self.error: BaseException | None = None  # OutOfOrder: an acknowledged alarm is gone
        self.stop = threading.Event()

    @staticmethod
    def alarm(n: int) -> wire.EventMsg:
        """Its ``n``th alarm (``a<n>``), the ``n``th of its alarm lane."""
        return wire.EventMsg(hub="h001", id=f"a{n}", kind="button.press", source="b",
                             ts=float(n), seq=wire.Seq(epoch="e", lane="alarm", n=n, prev=n - 1),
                             alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def until(self, count: int, timeout: float = 30.0) -> None:
        """Wait until ``count`` alarms are acknowledged, or ``timeout`` has passed."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def finish(self) -> None:
        self.stop.set()
        self._thread.join(30)
        self.store.close()

    def _run(self) -> None:
        try:
            self._raise()
        except BaseException as e:
            self.error = e

    def _raise(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            msg = self.alarm(n)
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


@dataclass(frozen=True, slots=True)
class StoreAt:
    """A station database for one test: where the service writes it, where consoles read."""

    engine: str
    location: Location
    readonly: Location


class Databases:
    """Fresh databases on one cluster, each a copy of the template with the schema."""

    def __init__(self, cluster: PgCluster) -> None:
        from console.station.store import schema

        self.cluster, self._n = cluster, itertools.count(1)
        cluster.sql(f"CREATE ROLE {READER} LOGIN", f"CREATE DATABASE {TEMPLATE}")
        schema.connect(cluster.dsn(TEMPLATE)).close()
        cluster.sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}", db=TEMPLATE)

    def fresh(self, *, empty: bool = False) -> StoreAt:
        """A new database with the schema (``empty``: without, as a DBA makes one)."""
        name = f"t{next(self._n)}"
        self.cluster.sql(f"CREATE DATABASE {name} TEMPLATE {'template0' if empty else TEMPLATE}")
        return StoreAt("postgresql", self.cluster.dsn(name), self.cluster.dsn(name, READER))

    def drop(self, at: StoreAt) -> None:
        assert isinstance(at.location, Dsn)
        name = at.location.text.split("dbname=")[1].split()[0]
        self.cluster.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Databases]:
    cluster = PgCluster().start()
    try:
        yield Databases(cluster)
    finally:
        cluster.close()


@contextlib.contextmanager
def replicated(*, durable: bool = False) -> Iterator[tuple[PgCluster, PgCluster]]:
    """A primary with database ``anxin`` and its synchronous standby ``replica1``, streaming
    (``durable``: fsync on, the benchmarks')."""
    primary = PgCluster(durable=durable).start()
    try:
        primary.sql("CREATE DATABASE anxin")
        standby = primary.replica("replica1")
        try:
            if (state := primary.sync_state()) != "sync":
                raise PostgresError(f"the replica is not a synchronous standby: {state!r}")
            yield primary, standby
        finally:
            standby.close()
    finally:
        primary.close()


@pytest.fixture
def pg_pair() -> Iterator[tuple[PgCluster, PgCluster]]:
    """A primary with database ``anxin`` and its synchronous standby ``replica1``."""
    with replicated() as pair:
        yield pair


@pytest.fixture
def pg_archiving() -> Iterator[PgCluster]:
    """A server archiving its WAL (:attr:`PgCluster.archive`), with database ``anxin``."""
    primary = PgCluster(archive=True).start()
    try:
        primary.sql("CREATE DATABASE anxin")
        yield primary
    finally:
        primary.close()


def archive_now(cluster: PgCluster) -> str:
    """Close the WAL segment being written and wait until the archiver has copied it."""
    segment = str(cluster.value("SELECT pg_walfile_name(pg_switch_wal())"))
    deadline = time.monotonic() + 30
    while (cluster.value("SELECT last_archived_wal FROM pg_stat_archiver") or "") < segment:
        if time.monotonic() > deadline:
            raise PostgresError(f"{segment} never archived")
        time.sleep(0.1)
    return segment


def both(primary: PgCluster, standby: PgCluster) -> Dsn:
    """The station's DSN for a pair: whichever is the primary (read-write) now."""
    return Dsn(f"host=127.0.0.1,127.0.0.1 port={primary.port},{standby.port} dbname=anxin "
               "user=postgres target_session_attrs=read-write")


@pytest.fixture
def pg_at(pg_databases: Databases) -> Iterator[StoreAt]:
    """A fresh PostgreSQL station database (tests of PostgreSQL alone)."""
    at = pg_databases.fresh()
    try:
        yield at
    finally:
        pg_databases.drop(at)


@pytest.fixture(params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    """Each engine in turn: a store test runs on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def store_at(store_engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StoreAt]:
    """A fresh station database on the test's engine."""
    if store_engine == "sqlite":
        yield StoreAt("sqlite", tmp_path / "station.db", tmp_path / "station.db")
        return
    yield request.getfixturevalue("pg_at")
