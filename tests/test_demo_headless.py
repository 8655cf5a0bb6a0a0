"""The headless demo stops like a service: SIGTERM stops the broker, the station and the homes
it started, so none is left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_stops_the_headless_demo_and_its_parts(tmp_path: Path) -> None:
    demo = subprocess.Popen([sys.executable, "-m", "hub.cli", "demo", "--headless", "--homes", "1",
                             "--dir", str(tmp_path / "demo")], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    pids: list[int] = []
    try:
        assert demo.stdout is not None
        lines = []
        while not any("running on 127.0.0.1" in line for line in lines):
            line = demo.stdout.readline()
            assert line, "the demo ended before it ran:\n" + "".join(lines)
            lines.append(line)
        pids = json.loads((tmp_path / "demo" / "demo.json").read_text())["pids"]
        assert pids and all(alive(p) for p in pids)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(20) == 0
        assert not [p for p in pids if alive(p)]  # stopped and reaped, not left to init
    finally:  # a failed run leaves nothing behind either
        if demo.poll() is None:
            demo.kill()
        for pid in filter(alive, pids):
            os.kill(pid, signal.SIGKILL)
