"""Step the wall clock of chosen processes, as NTP does, with libfaketime.

A process started with :attr:`WallClock.env` reads its wall-clock offset from a file on every
call (``FAKETIME_NO_CACHE``); its monotonic clock is left alone (``DONT_FAKE_MONOTONIC``), so
only ``time.time()`` jumps, as after an NTP step on a Pi that booted without network.

Run as ``python -m tests.system.faults.fakeclock ARGS`` it is ``anxin ARGS`` made safe under
libfaketime 0.9.10 (Debian 12): with ``DONT_FAKE_MONOTONIC`` that version turns Python 3.11's
``time.sleep`` (an absolute ``clock_nanosleep`` on CLOCK_MONOTONIC) into EINVAL
(wolfcw/libfaketime#426), which would break paho's reconnect wait and the simulated button
hold. Then ``time.sleep`` waits on a lock instead, which libfaketime passes through untouched.

The library is libfaketime's synchronised build (``libfaketimeMT``): the plain one parses the
timestamp file into a static buffer without a lock (wolfcw/libfaketime#547), so in a process
with several threads an odd ``time.time()`` came out unshifted hundreds of ms after a step. A
hub whose button thread stamped a hold so, an hour off, cancelled nothing (a fault test failed
about one run in five).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

LIB_NAME = "libfaketimeMT.so.1"
LIB_DIRS = ("/usr/lib/*/faketime", "/usr/lib/faketime", "/usr/lib64/faketime", "/usr/local/lib/faketime")


def find_libfaketime() -> Path | None:
    """The synchronised preload library of the Debian faketime packages, or None if not
    installed."""
    for package in ("libfaketime", "faketime"):
        try:
            listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True).stdout
        except OSError:  # no dpkg: look where distributions put it
            break
        for line in listing.splitlines():
            if line.endswith("/" + LIB_NAME) and Path(line).exists():
                return Path(line)
    found = [f for d in LIB_DIRS for f in sorted(glob.glob(f"{d}/{LIB_NAME}"))]
    return Path(found[0]) if found else None


class WallClock:
    """The faked wall clock of the processes started with :attr:`env`."""

    def __init__(self, lib: Path, file: Path) -> None:
        self.lib, self.file = lib, file
        self.offset_s = 0.0
        self.step(0)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "LD_PRELOAD": str(self.lib), "FAKETIME_TIMESTAMP_FILE": str(self.file),
                "FAKETIME_NO_CACHE": "1", "DONT_FAKE_MONOTONIC": "1"}

    def step(self, offset_s: float) -> None:
        """Set the wall clock to real time + ``offset_s``, at once (written atomically, so a
        reading process never sees half a file)."""
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(f"{offset_s:+.0f}\n")
        os.replace(tmp, self.file)
        self.offset_s = offset_s

    def check(self) -> str:
        """Show that a Python child under this clock sees the offset on its wall clock only and
        can sleep; returns the measurement, raises RuntimeError if libfaketime does not work."""
        probe = ("import time, tests.system.faults.fakeclock as f; f.sleep_safely(); time.sleep(0.01); "
                 "print(time.time(), time.monotonic())")
        before = self.offset_s
        self.step(3600)
        try:
            wall0, mono0 = time.time(), time.monotonic()
            out = subprocess.run([sys.executable, "-c", probe], env=self.env, capture_output=True,
                                 text=True, cwd=Path(__file__).resolve().parents[3], timeout=30)
            wall1, mono1 = time.time(), time.monotonic()
        finally:
            self.step(before)
        try:
            wall, mono = (float(x) for x in out.stdout.split())
        except ValueError:
            raise RuntimeError(f"libfaketime probe failed: {out.stderr.strip()}") from None
        seen = (f"child under {self.lib.name} +3600 s: wall {wall - wall0:+.1f} s, "
                f"monotonic {mono - mono0:+.1f} s against this process")
        if not (3600 <= wall - wall0 <= 3600 + (wall1 - wall0) + 1 and mono0 <= mono <= mono1):
            raise RuntimeError(f"libfaketime does not step only the wall clock: {seen}")
        return seen


def stale_reads(seconds: float, threads: int = 4) -> tuple[int, int]:
    """Read the wall clock from several threads for ``seconds`` while the test steps it an
    hour back; returns (reads, reads that came out unshifted after some thread had seen the
    step). Run in a child under :attr:`WallClock.env`."""
    offset = time.time() - time.monotonic()
    stepped, stop = threading.Event(), threading.Event()
    stale, counts = [0] * threads, [0] * threads

    def read(i: int) -> None:
        while not stop.is_set():
            after = stepped.is_set()
            step = time.time() - time.monotonic() - offset
            counts[i] += 1
            if abs(step + 3600) < 1:
                stepped.set()
            elif after:
                stale[i] += 1

    workers = [threading.Thread(target=read, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    stop.wait(seconds)
    stop.set()
    for w in workers:
        w.join()
    return sum(counts), sum(stale)


def sleep_safely() -> None:
    """Replace time.sleep when libfaketime has broken it (see the module doc)."""
    try:
        time.sleep(0.001)
    except OSError:
        time.sleep = _lock_sleep


def _lock_sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)


if __name__ == "__main__":
    sleep_safely()
    from hub.cli.main import main

    sys.exit(main())
