"""Which folder the demo keeps its state in, so `anxin sim` finds the running demo's homes.

`anxin demo --dir D` writes D into ``RUNNING`` while it runs; `anxin sim` without
``--demo-dir`` reads it, so a demo started anywhere is driven from a second terminal without
repeating its folder. With two demos running, ``RUNNING`` names the one started last: name the
other with ``--demo-dir``. A demo that was killed leaves ``RUNNING`` behind; then `anxin sim`
finds no hub listening there and says so, and the next demo writes it again.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state")) / "anxin"
DEFAULT = STATE / "demo"
RUNNING = STATE / "demo.running"  # the running demo's folder, one line


def record(folder: Path) -> None:
    """Tell `anxin sim` that the demo in ``folder`` runs (replacing any other it knew)."""
    RUNNING.parent.mkdir(parents=True, exist_ok=True)
    part = RUNNING.with_name(f".{RUNNING.name}.{os.getpid()}")
    part.write_text(f"{folder.resolve()}\n", encoding="utf-8")
    os.replace(part, RUNNING)  # whole or not at all: a second terminal may read it meanwhile


def forget(folder: Path) -> None:
    """The demo in ``folder`` has stopped; a demo started later keeps its record."""
    if running() == folder.resolve():
        RUNNING.unlink(missing_ok=True)


def running() -> Path | None:
    """The folder of the demo that runs, as recorded; None if none is."""
    try:
        line = RUNNING.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(line) if line else None


def current() -> Path:
    """Where `anxin sim` looks without ``--demo-dir``: the running demo's folder, else the
    default one."""
    return running() or DEFAULT
