"""A tmux server of the test's own, for the demo in a real terminal.

tmux runs a window with the environment of its server, not of the command that asks for it: a
server of the test's own starts with the test's (its home and state folder, tests/conftest.py),
where a server the developer already runs would give the demo theirs. Nobody else's sessions
either, and a pane stays on the screen when its command ends, so a demo that fails to start
shows why."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


class Tmux:
    def __init__(self, folder: Path) -> None:
        self.socket = f"anxin-{folder.name}-{os.getpid()}"
        self.conf = folder / "tmux.conf"
        self.conf.write_text("set -g remain-on-exit on\n")

    def __call__(self, *args: str, check: bool = True) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.conf), *args],
                              check=check, capture_output=True, text=True).stdout

    def wait_screen(self, *needles: str, timeout: float = 20, session: str = "demo") -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self("capture-pane", "-p", "-t", session)
            if all(n in screen for n in needles):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"never saw {needles} on the screen:\n{screen}")
