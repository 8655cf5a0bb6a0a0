"""``anxin demo``: a private broker, simulated homes, the station service and the console.

Every part runs as its own process, exactly as in the field (``anxin hub``, ``anxin
station``), only with simulated hardware and a Mosquitto on a free loopback port. State lives
in the demo folder so ``anxin sim`` can find the homes from a second terminal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from hub.broker import Mosquitto
from hub.configfile import ConfigError

SOURCE_CONFIG = Path(__file__).resolve().parent.parent / "config"
MAX_HOMES = 10
DEMO_RADARS = ("mr60fda2", "c1001", "mr60fda1")
DEMO_BINDKEY = "231d39c1d7cc1ab1aee224cd096db932"  # a public test key: the demo's sensors only


def _write_yaml(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "--log-file", str(log), *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(log.with_suffix(".err"), "wb"))


def _wait_for(paths: list[Path], procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            missing = ", ".join(str(p) for p in paths if not p.exists())
            raise RuntimeError(f"demo parts did not start (waiting for {missing}); see the "
                               "*.log and *.err files in the demo folder")
        time.sleep(0.05)


def demo_hub(hub: str, i: int, port: int) -> dict[str, object]:
    """A fully equipped simulated home; the radar model and BLE protocol vary between homes."""
    mac = f"A4:C1:38:{i:02X}:00:"
    return {
        "hub_id": hub, "data_dir": ".", "broker": {"port": port},
        "link": {"heartbeat_s": 5, "retry_s": 5}, "gpio": {"backend": "sim"},
        "buttons": [{"name": "bedside", "pin": 17, "location": "卧室床头"},
                    {"name": "cord", "pin": 27, "location": "卫生间拉绳"},
                    {"name": "cancel", "pin": 23, "role": "cancel"}],
        "status_led": {"pin": 22}, "siren": {"pin": 24}, "mains": {"pin": 5},
        "relays": [{"name": "gas_valve", "pin": 25}],
        "radar": {"model": DEMO_RADARS[i % len(DEMO_RADARS)], "backend": "sim", "room": "卧室"},
        "ble": {"backend": "sim", "sensors": [
            {"name": "kitchen_smoke", "mac": mac + "01", "type": "smoke", "room": "厨房",
             "bindkey": DEMO_BINDKEY},
            {"name": "kitchen_gas", "mac": mac + "02", "type": "gas", "room": "厨房"},
            {"name": "front_door", "mac": mac + "03", "type": "door", "room": "门厅"},
            {"name": "bath_leak", "mac": mac + "04", "type": "leak", "room": "卫生间"},
            {"name": "pendant", "mac": mac + "05", "type": "button", "room": "随身"}]},
    }


def start(workdir: Path, homes: int) -> tuple[Mosquitto, list[subprocess.Popen[bytes]]]:
    """Start broker, station and homes; returns them for the caller to stop."""
    if not 1 <= homes <= MAX_HOMES:
        raise ConfigError(f"--homes must be between 1 and {MAX_HOMES}")
    records = yaml.safe_load((SOURCE_CONFIG / "homes.yaml").read_text(encoding="utf-8"))
    chosen = records["homes"][:homes]
    for leftover in ("hubs", "broker", "station"):
        shutil.rmtree(workdir / leftover, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(workdir / "broker").start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        station = workdir / "station"
        _write_yaml(station / "homes.yaml", {"homes": chosen})
        station_cfg = _write_yaml(station / "station.yaml", {
            "station_id": "demo", "database": "station.db", "homes_file": "homes.yaml",
            "broker": {"port": broker.port}, "offline_after_s": 15, "escalate_after_s": 60})
        procs.append(_spawn(["station", "--config", str(station_cfg)], station / "station.log"))
        _wait_for([station / "station.db"], procs, 15)
        sockets = []
        for i, home in enumerate(chosen):
            hub_dir = workdir / "hubs" / home["hub"]
            hub_cfg = _write_yaml(hub_dir / "hub.yaml", demo_hub(home["hub"], i, broker.port))
            procs.append(_spawn(["hub", "--config", str(hub_cfg)], hub_dir / "hub.log"))
            sockets.append(hub_dir / "sim.sock")
        _wait_for(sockets, procs, 15)
        (workdir / "demo.json").write_text(json.dumps(
            {"broker_port": broker.port, "homes": [h["hub"] for h in chosen],
             "station_config": str(station_cfg), "pids": [p.pid for p in procs]}, indent=2))
    except BaseException:
        stop(broker, procs)
        raise
    return broker, procs


def stop(broker: Mosquitto, procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
    broker.stop()


def run_demo(workdir: Path, *, homes: int, lang: str, officer: str, headless: bool) -> int:
    from console.station.config import load_station_config
    from console.tui.app import ConsoleApp

    print(f"anxin demo: starting broker, station and {homes} simulated homes in {workdir} …")
    broker, procs = start(workdir, homes)
    hubs = json.loads((workdir / "demo.json").read_text())["homes"]
    hint = (f"In a second terminal:  .venv/bin/anxin sim {hubs[0]} press   (then: "
            f".venv/bin/anxin sim {hubs[0]} prompts)")
    try:
        if headless:
            print(f"anxin demo: running on 127.0.0.1:{broker.port}. {hint}. Ctrl-C stops it.")
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
            print("anxin demo: a part stopped; see the logs in", workdir, file=sys.stderr)
            return 1
        cfg = load_station_config(workdir / "station" / "station.yaml")
        app = ConsoleApp(cfg, officer=officer, language=lang, demo_dir=workdir)  # type: ignore[arg-type]
        app.demo_hint = hint
        app.run()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop(broker, procs)
