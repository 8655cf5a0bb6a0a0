"""Hub CPU and memory under the targets.md load, until a Pi Zero 2 W is on the bench.

Runs ``anxin hub`` as its own process with a radar sending 10 frames/s (a pty radar owned by
this script) and 20 BLE adverts/s (re-advertised sensor states, as real sensors repeat
themselves), then reads the hub's CPU seconds and resident memory from /proc. Prints figures;
does not pass or fail.

    .venv/bin/python -m tests.bench.bench_hub_cpu [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from console.station.trust.broker import Mosquitto
from drivers.radar.sim import SimRadar
from hub.cli.demo import demo_hub
from hub.common import linejson
from tests.conftest import REPO

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(seconds: float, load: bool, work: Path, port: int) -> tuple[float, float]:
    cfg = demo_hub("h001", 0, port)
    cfg["data_dir"] = str(work)
    with SimRadar(model="mr60fda1", link=work / "bench-radar.tty", tick_s=0.1 if load else 3600) as radar:
        cfg["radar"] = {"model": "mr60fda1", "port": str(radar.link), "room": "卧室"}
        (work / "hub.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
        hub = subprocess.Popen([sys.executable, "-m", "hub.cli.main", "--log-level", "warning", "--log-file",
                                str(work / "hub.log"), "hub", "--config", str(work / "hub.yaml")], cwd=REPO)
        try:
            while not (work / "sim.sock").exists():
                time.sleep(0.05)
            radar.play("walk_in")  # someone present: body movement every tick
            time.sleep(2)
            start, t0 = cpu_s(hub.pid), time.monotonic()
            sensors = ["kitchen_smoke", "kitchen_gas", "front_door", "bath_leak"]
            n = 0
            while time.monotonic() - t0 < seconds:
                if load:
                    linejson.call(work / "sim.sock", f"sensor-resume {sensors[n % len(sensors)]}")
                    n += 1
                time.sleep(0.05)  # 20 adverts/s
            return (cpu_s(hub.pid) - start) / (time.monotonic() - t0), rss_mb(hub.pid)
        finally:
            hub.terminate()
            hub.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    seconds = ap.parse_args().seconds
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker") as broker:
        for load in (False, True):
            work = Path(tmp) / ("load" if load else "idle")
            work.mkdir()
            frac, rss = run(seconds, load, work, broker.port)
            what = "radar 10 frames/s + 20 adverts/s" if load else "idle (heartbeats only)"
            print(f"{what:<36} CPU {frac * 100:5.2f} % of one core = {frac * 3600:6.1f} CPU s per "
                  f"simulated hour; RSS {rss:5.1f} MB")


if __name__ == "__main__":
    main()
