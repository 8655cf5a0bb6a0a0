"""Files written whole or not at all: a reader (or a power cut) sees the old file or the new one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int, replace: bool = True) -> None:
    """Write beside path and rename, so a reader (or a power cut) sees the old file or the new
    one. Without replace, an existing path raises FileExistsError rather than being overwritten."""
    with staged(path, data, mode=mode) as new:
        if replace:
            os.replace(new, path)
        else:
            os.link(new, path)  # fails if path exists: no check-then-write race


@contextlib.contextmanager
def staged(path: Path, data: bytes, *, mode: int) -> Iterator[Path]:
    """data, synced to disk with its mode set, in a temporary file beside path (same file
    system, so a rename is atomic); removed afterwards unless the block renamed it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)
