"""A full disk for one process, without root or a small filesystem: its RLIMIT_FSIZE set to 0
(prlimit), after the SQLite WAL of its database has been truncated, so every commit it makes
must grow a file and fails (SQLITE_IOERR_WRITE where a full disk gives SQLITE_FULL: nothing
is written either way); its log file cannot grow either. Python ignores the SIGXFSZ that
comes with it. Setting the limit back frees the "disk"."""

from __future__ import annotations

import resource
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def disk_full(pid: int, db: Path) -> Iterator[None]:
    """Process ``pid`` cannot write ``db`` (or grow any file) inside the block."""
    before = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, before[1]))
    try:
        truncate_wal(db)
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, before)


def truncate_wal(db: Path, timeout: float = 10.0) -> None:
    """Checkpoint ``db`` and truncate its WAL to nothing (from this process, which may)."""
    con = sqlite3.connect(db, timeout=timeout)
    try:
        deadline = time.monotonic() + timeout
        while con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:  # 1: busy
            assert time.monotonic() < deadline, f"could not truncate the WAL of {db}"
            time.sleep(0.05)
    finally:
        con.close()
