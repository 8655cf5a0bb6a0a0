"""Call-button edge -> alarm stored at the station (a) and rendered in the console (b).

Hub and station run in this process, each on its own thread and event loop; the console runs
in its own process, as in the field (it reports render times on stdout, wall clock).

Prints p50/p99 of both, beside the floor measured in the same run against the same broker:
a bare paho publish -> receive plus two bare SQLite commits with synchronous=FULL (the hub's
and the station's durable writes). Target: p99(a) <= 2x p99(floor).

    .venv/bin/python -m tests.bench.bench_press_latency [--presses 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.trust.broker import Mosquitto
from console.station.users import Role
from drivers.gpio.sim import SimPins
from hub.common.events import AlarmState
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.support.accounts import PASSWORD, add_users

REPO = Path(__file__).resolve().parents[2]


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1] if len(xs) > 1 else xs[0]


def line(name: str, xs: list[float]) -> str:
    return f"{name:<46} p50 {pct(xs, 50) * 1e3:7.2f} ms   p99 {pct(xs, 99) * 1e3:7.2f} ms"


def floor(port: int, work: Path, n: int) -> list[float]:
    """The bare path: durable commit, publish -> receive through the broker, durable commit."""
    dbs = []
    for name in ("hub", "station"):
        db = sqlite3.connect(work / f"floor-{name}.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)")
        dbs.append(db)
    got = threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="floor-sub")
    sub.on_message = lambda *_: got.set()
    sub.connect("127.0.0.1", port)
    sub.subscribe("floor", qos=1)
    sub.loop_start()
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="floor-pub")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    time.sleep(0.5)
    payload = b"x" * 300  # about the size of an alarm message
    out = []
    for _ in range(n):
        got.clear()
        t0 = time.perf_counter()
        dbs[0].execute("BEGIN IMMEDIATE")
        dbs[0].execute("INSERT INTO t(payload) VALUES (?)", (payload,))
        dbs[0].execute("COMMIT")
        pub.publish("floor", payload, qos=1)
        got.wait(5)
        dbs[1].execute("BEGIN IMMEDIATE")
        dbs[1].execute("INSERT INTO t(payload) VALUES (?)", (payload,))
        dbs[1].execute("COMMIT")
        out.append(time.perf_counter() - t0)
        time.sleep(0.005)
    for c in (sub, pub):
        c.disconnect()
        c.loop_stop()
    return out


class LoopThread:
    """Run one service in its own thread and event loop, as it runs in its own process."""

    def __init__(self, main: Callable[[asyncio.Event, threading.Event], Coroutine[Any, Any, None]]) -> None:
        self.ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

        def run() -> None:
            async def go() -> None:
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                await main(self._stop, self.ready)
            asyncio.run(go())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not self.ready.wait(20):
            raise RuntimeError("service did not start")

    def call(self, fn: Callable[..., object], *args: object) -> None:
        """Run fn on the service's loop, as its own callbacks do."""
        assert self._loop
        self._loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        assert self._loop and self._stop
        self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


async def measure(port: int, work: Path, n: int) -> tuple[list[float], list[float]]:
    station_cfg = StationConfig.model_validate({
        "database": str(work / "station.db"), "broker": {"port": port},
        "homes_file": str(REPO / "config/homes.yaml")})
    hub_cfg = HubConfig.model_validate({
        "hub_id": "h001", "data_dir": str(work / "h001"), "broker": {"port": port},
        "gpio": {"backend": "sim"}, "buttons": [{"name": "bedside", "pin": 17}]})
    stored: dict[str, float] = {}
    shown: dict[str, float] = {}
    raised: list[str] = []
    arrived = threading.Condition()

    def note(id: str) -> None:
        with arrived:
            stored[id] = time.perf_counter()
            arrived.notify_all()

    async def station_main(stop: asyncio.Event, ready: threading.Event) -> None:
        async with StationService(station_cfg) as st:
            st.on_alarm_stored = note
            await asyncio.sleep(0.5)
            ready.set()
            await stop.wait()

    holder: dict[str, HubService] = {}

    async def hub_main(stop: asyncio.Event, ready: threading.Event) -> None:
        async with HubService(hub_cfg) as hub:
            hub.alarms.on_raised = lambda ev: raised.append(ev.id)
            holder["hub"] = hub
            while not hub.link.connected:
                await asyncio.sleep(0.01)
            ready.set()
            await stop.wait()

    add_users(station_cfg.database, ("bench", "压测", Role.DUTY))  # the console logs in as it
    password_file = work / "bench.password"
    password_file.write_text(PASSWORD)
    password_file.chmod(0o600)
    station = LoopThread(station_main)
    hub = LoopThread(hub_main)
    cfg_file = work / "station.yaml"
    cfg_file.write_text(json.dumps({"database": str(station_cfg.database),
                                    "broker": {"port": port}}))
    console = subprocess.Popen([sys.executable, "-m", "tests.bench.console_probe", str(cfg_file),
                                str(password_file)], cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert console.stdout and console.stdin
    assert console.stdout.readline().strip() == "ready"

    def read_console() -> None:
        assert console.stdout
        for out in console.stdout:
            _, id, wall = out.split()
            with arrived:
                shown[id] = float(wall)
                arrived.notify_all()

    threading.Thread(target=read_console, daemon=True).start()
    edges: list[float] = []
    walls: list[float] = []

    def press_all() -> None:
        pins = SimPins(holder["hub"].pins)
        for i in range(n):
            walls.append(time.time())
            edges.append(time.perf_counter())
            pins.click(17)
            with arrived:
                arrived.wait_for(lambda i=i: len(raised) > i and raised[i] in stored
                                 and raised[i] in shown, timeout=10)
            if len(raised) > i:  # close the call, so the next press is a new call, not a repeat
                hub.call(holder["hub"].store.advance, raised[i], AlarmState.RESOLVED, time.time())
            time.sleep(0.01)

    try:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(press_all)
    finally:
        console.stdin.close()
        console.wait(10)
        hub.stop()
        station.stop()
    a = [stored[id] - t for id, t in zip(raised, edges, strict=False) if id in stored]
    b = [shown[id] - t for id, t in zip(raised, walls, strict=False) if id in shown]
    if len(a) < n or len(b) < n:
        print(f"WARNING: only {len(a)} stored and {len(b)} rendered of {n} presses")
    return a, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=200)
    n = ap.parse_args().presses
    with tempfile.TemporaryDirectory() as d, Mosquitto(Path(d) / "broker") as broker:
        work = Path(d)
        base = floor(broker.port, work, n)
        a, b = asyncio.run(measure(broker.port, work, n))
    print(f"{n} presses, broker 127.0.0.1:{broker.port}, SQLite WAL synchronous=FULL in {work}")
    print(line("floor: paho pub->recv + 2 x SQLite FULL commit", base))
    print(line("(a) GPIO edge -> alarm stored at the station", a))
    print(line("(b) GPIO edge -> alarm rendered in the console", b))
    print(f"ratio p99(a) / p99(floor) = {pct(a, 99) / pct(base, 99):.2f}  (target <= 2.00)")
    print(f"ratio p50(a) / p50(floor) = {pct(a, 50) / pct(base, 50):.2f}")


if __name__ == "__main__":
    main()
