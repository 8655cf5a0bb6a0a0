"""Which hub process runs on a config's data: ``data_dir/hub.pid``, checked against the process.

`anxin hub reload` signals it; `anxin radar` must not open a serial port that it holds; `anxin
pair` says whether it needs a restart. A pid file can outlive its hub (a power cut) and the pid
be reused by something else, so the process's own command line must say it is a hub.
"""

from __future__ import annotations

from pathlib import Path

PID_FILE = "hub.pid"  # in data_dir, written by `anxin hub` while it runs


class NotRunning(Exception):
    """No hub runs on this data_dir; str() says why (no pid file, a stale one, …)."""


def running_hub(data_dir: Path) -> int:
    """The pid of the hub whose data_dir this is."""
    pid_file = data_dir / PID_FILE
    try:
        pid = int(pid_file.read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        if not is_hub(argv):
            raise ValueError(f"process {pid} is not an Anxin hub (a stale pid file?)")
    except (OSError, ValueError) as e:
        raise NotRunning(f"no running hub found through {pid_file} ({e})") from None
    return pid


def is_hub(argv: list[str]) -> bool:
    """``anxin hub …`` or ``python -m hub.cli.main … hub …``: not merely any command naming "hub"."""
    entry = next((i for i, arg in enumerate(argv)
                  if Path(arg).name == "anxin" or arg == "hub.cli.main"), None)
    return entry is not None and "hub" in argv[entry + 1:]
