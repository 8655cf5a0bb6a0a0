"""The faked clock itself: a step must reach every thread of a process at once, or the fault
tests measure libfaketime instead of the hub."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.system.faults.fakeclock import WallClock

ROOT = Path(__file__).resolve().parents[3]


def test_a_step_reaches_every_thread_and_stays(clock: WallClock) -> None:
    """Four threads read the clock through a -3600 s step: none reads the old time after
    another has seen the new one (the plain libfaketime did, a few times a second)."""
    probe = "import tests.system.faults.fakeclock as f; print(*f.stale_reads(2.0))"
    rounds = []
    for _ in range(3):
        clock.step(0)
        child = subprocess.Popen([sys.executable, "-c", probe], env=clock.env, cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        clock.step(-3600)
        out, _ = child.communicate(timeout=30)
        rounds.append(tuple(int(x) for x in out.split()))
    assert all(reads > 1000 for reads, _ in rounds), f"too few reads to tell: {rounds}"
    assert all(stale == 0 for _, stale in rounds), f"(reads, stale reads) per round: {rounds}"
