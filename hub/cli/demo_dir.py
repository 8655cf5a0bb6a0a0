"""Which folder the demo keeps its state in, so `anxin sim` finds the running demo's homes.

`anxin demo --dir D` writes D into ``RUNNING`` while it runs; `anxin sim` without
``--demo-dir`` reads it, so a demo started anywhere is driven from a second terminal without
repeating its folder. With two demos running, ``RUNNING`` names the one started last: name the
other with ``--demo-dir``. A demo that was killed leaves ``RUNNING`` behind; then `anxin sim`
finds no hub listening there and says so, and the next demo writes it again.

Both live in ``$XDG_STATE_HOME/anxin`` (default ``~/.local/state/anxin``), read when asked, not
at import: the tests give each test a state folder of its own (tests/conftest.py), so a demo a
test ran is never the one a bare `anxin sim` finds on the developer's machine.
"""

from __future__ import annotations

import os
from pathlib import Path


def state() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local/state") / "anxin"


def default() -> Path:
    """The demo's folder without ``--dir``."""
    return state() / "demo"


def _running_file() -> Path:
    return state() / "demo.running"  # the running demo's folder, one line


def record(folder: Path) -> None:
    """Tell `anxin sim` that the demo in ``folder`` runs (replacing any other it knew)."""
    file = _running_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    part = file.with_name(f".{file.name}.{os.getpid()}")
    part.write_text(f"{folder.resolve()}\n", encoding="utf-8")
    os.replace(part, file)  # whole or not at all: a second terminal may read it meanwhile


def forget(folder: Path) -> None:
    """The demo in ``folder`` has stopped; a demo started later keeps its record."""
    if running() == folder.resolve():
        _running_file().unlink(missing_ok=True)


def running() -> Path | None:
    """The folder of the demo that runs, as recorded; None if none is."""
    try:
        line = _running_file().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(line) if line else None


def current() -> Path:
    """Where `anxin sim` looks without ``--demo-dir``: the running demo's folder, else the
    default one."""
    return running() or default()
