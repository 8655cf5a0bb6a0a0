"""Start-up: how long `anxin` takes to answer --help, and to import the hub and the console.

Each figure is the best of N fresh interpreters, wall time, as an installer meets it: the
`anxin` console script of this virtual environment (``python -m hub.cli.main`` if there is
none), and ``python -c "import …"`` for the hub's runtime (hub.cli.daemon: the service, its
drivers and the simulation it may attach) and the console (console.tui.app), with the resident
memory the import leaves. Beside them, the interpreter alone. Target (issue 18): `anxin --help`
<= 0.3 s on the 2-core machine. Figures only; no pass/fail.

    .venv/bin/python -m tests.bench.bench_startup [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

SCRIPT = Path(sys.executable).parent / "anxin"
ANXIN = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "hub.cli.main"]
RSS = ("; print(next(int(line.split()[1]) for line in open('/proc/self/status') "
       "if line.startswith('VmRSS:')))")


def best(command: list[str], runs: int) -> tuple[float, str]:
    """The shortest wall time of ``runs`` runs, and the last run's standard output."""
    times, out = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    print(f"best of {runs}, wall time ({' '.join(ANXIN)})")
    for args in (["--help"], ["hub", "--help"], ["console", "--help"], ["demo", "--help"]):
        took, _ = best([*ANXIN, *args], runs)
        print(f"  anxin {' '.join(args):<16} {took:5.2f} s")
    took, _ = best([sys.executable, "-c", "pass"], runs)
    print(f"  python -c pass         {took:5.2f} s")
    for what, module in (("hub runtime", "hub.cli.daemon"), ("console", "console.tui.app")):
        took, out = best([sys.executable, "-c", f"import {module}{RSS}"], runs)
        print(f"  import {what:<15} {took:5.2f} s, RSS {int(out) / 1024:5.1f} MB ({module})")


if __name__ == "__main__":
    main()
