"""A hub back after a long outage: how fast its backlog drains, in order, and how long a new
alarm raised during the drain waits.

The hub's outbox is filled as an outage would leave it (telemetry at ``--per-minute`` for
``--hours``, plus ``--alarms`` alarms spread through it); then a real Mosquitto, the station
service in its own process and the hub (here, on the real uplink) start, and a call is
raised half a second into the drain. Prints the drain time and rate, the new call's
hub -> station -> acknowledged time, and checks the station stored each lane in order.

    .venv/bin/python -m tests.bench.bench_backlog [--hours 24 --per-minute 10 --alarms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from console.station.trust.broker import Mosquitto
from hub.cli.demo import spawn, write_yaml
from hub.common import wire
from hub.common.events import AlarmState, Event
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from hub.runtime.store import HubStore


def fill(store: HubStore, hub: str, telemetry: int, alarms: int, span_s: float) -> None:
    start = time.time() - span_s
    every = max(1, telemetry // max(alarms, 1))
    for i in range(telemetry):
        ts = start + span_s * i / telemetry
        ev = Event(kind="presence.on" if i % 2 else "presence.off", source="radar", ts=ts,
                   data={"room": "卧室"})
        store.put(ev.id, wire.encode(wire.event_msg(hub, ev)), alarm=False, now=ts)
        if alarms and i % every == 0 and i // every < alarms:
            a = Event(kind="door.open", source="front_door", ts=ts, alarm="wandering")
            store.put(a.id, wire.encode(wire.event_msg(hub, a)), alarm=True, alarm_kind="wandering",
                      raised=ts, source=a.source, now=ts)


def in_order(db: Path) -> bool:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    last: dict[str, int] = {}
    for (payload,) in con.execute("SELECT payload FROM events ORDER BY rowid"):
        seq = json.loads(payload).get("seq")
        if seq:
            if seq["n"] <= last.get(seq["lane"], 0):
                return False
            last[seq["lane"]] = seq["n"]
    return True


async def run(work: Path, hours: float, per_minute: float, alarms: int) -> None:
    telemetry = int(hours * 60 * per_minute)
    hub_cfg = HubConfig.model_validate({
        "hub_id": "h001", "data_dir": str(work / "hub"), "gpio": {"backend": "sim"},
        "buttons": [{"name": "bedside", "pin": 17}], "link": {"heartbeat_s": 5}})
    store = HubStore(hub_cfg.data_dir / "hub.db")
    t0 = time.perf_counter()
    fill(store, hub_cfg.hub_id, telemetry, alarms, hours * 3600)
    store.close()
    print(f"outbox filled: {telemetry} telemetry + {alarms} alarms ({hours:g} h at "
          f"{per_minute:g}/min) in {time.perf_counter() - t0:.1f} s")
    with Mosquitto(work / "broker") as broker:
        hub_cfg = hub_cfg.model_copy(update={"broker": hub_cfg.broker.model_copy(
            update={"port": broker.port})})
        station_yaml = write_yaml(work / "station.yaml", {"database": str(work / "station.db"),
                                                          "broker": {"port": broker.port}})
        station = spawn(["--log-level", "warning", "station", "--config", str(station_yaml)],
                        work / "station.log")
        try:
            while not (work / "station.db").exists():
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            async with HubService(hub_cfg) as hub:
                start = time.perf_counter()
                await asyncio.sleep(0.5)
                backlog_left = hub.store.pending_count()
                call = Event(kind="button.press", source="bedside", alarm="panic")
                hub.alarms.raise_alarm(call)
                while hub.store.pending_count():
                    await asyncio.sleep(0.01)
                drained = time.perf_counter() - start
                steps = {s: seen for s, _, seen in hub.store.timeline(call.id)}
                waited = steps[AlarmState.DELIVERED] - steps[AlarmState.SENT]
        finally:
            station.terminate()
            station.wait(10)
    total = telemetry + alarms + 1
    print(f"drained {total} messages in {drained:.2f} s = {total / drained:,.0f} messages/s "
          f"(window {hub_cfg.link.window})")
    print(f"a call raised with {backlog_left} messages still waiting was acknowledged by the "
          f"station after {waited * 1e3:.1f} ms")
    print(f"station stored each lane in hub order: {in_order(work / 'station.db')}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=24)
    p.add_argument("--per-minute", type=float, default=10)
    p.add_argument("--alarms", type=int, default=20)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp), a.hours, a.per_minute, a.alarms))


if __name__ == "__main__":
    main()
