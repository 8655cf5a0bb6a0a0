"""``anxin loadgen``: simulated hubs against a station's broker, and its figures.

The hubs are hub/sim/fleet.py's; this command points them at the station's broker (plain MQTT
only: under TLS each hub would need its own certificate) and reads from the station's database,
read-only, when each alarm was stored. ``--write-homes`` writes a homes.yaml with a made-up
elder for each simulated hub instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hub.common.argtypes import number

if TYPE_CHECKING:
    from console.station.store.db import Location

MAX_HUBS = 100_000  # ids h00001 … h99999 and one more: far past what one process holds

hubs_count = number(f"a number of hubs from 1 to {MAX_HUBS}", lambda n: 1 <= n <= MAX_HUBS, int)
positive = number("a number above 0", lambda n: n > 0, float)
not_negative = number("a number from 0", lambda n: n >= 0, float)
count = number("a whole number from 0", lambda n: n >= 0, int)


def arguments(s: argparse.ArgumentParser) -> None:
    s.description = (
        "Simulate HUBS homes in this process, each with the hub's own outbox and uplink (a "
        "persistent MQTT session, retained status and last will, heartbeats, lanes, acks), "
        "against the broker and station of a station.yaml. They connect over one heartbeat "
        "period, raise alarms at random for --duration seconds, then a storm if asked; it "
        "prints press -> stored (from the station's database) and press -> acked. Plain MQTT "
        "only: point it at a test broker, never a station in service. Each hub is one "
        "connection: raise the file-descriptor limit (ulimit -n) of this shell and the "
        "broker's for thousands.")
    s.add_argument("hubs", type=hubs_count, metavar="HUBS")
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/station.yaml"),
                   help="the station's config: its broker, and its database for stored times")
    s.add_argument("--first", type=hubs_count, default=1, help="number of the first hub id "
                   "(h00001 by default); run several generators with different ranges")
    s.add_argument("--heartbeat", type=positive, default=30.0, metavar="S")
    s.add_argument("--retry", type=positive, default=5.0, metavar="S",
                   help="resend what the station has not acknowledged after S (the hub's retry_s)")
    s.add_argument("--ramp", type=not_negative, metavar="S",
                   help="start the hubs at random within S seconds (default: one heartbeat)")
    s.add_argument("--rate", type=not_negative, default=1.0, metavar="A",
                   help="alarms per 100 homes per minute (default 1)")
    s.add_argument("--duration", type=not_negative, default=60.0, metavar="S")
    s.add_argument("--storm", type=count, default=0, metavar="K",
                   help="then K alarms from K homes …")
    s.add_argument("--storm-within", type=positive, default=10.0, metavar="S", help="… within S")
    s.add_argument("--grace", type=not_negative, default=30.0, metavar="S",
                   help="how long to wait for the acks after the last alarm")
    s.add_argument("--write-homes", type=Path, metavar="FILE",
                   help="write a homes.yaml with an elder for each of the hubs, and stop")
    s.set_defaults(fn=cmd_loadgen)


def cmd_loadgen(a: argparse.Namespace) -> int:
    from console.station.config import load_station_config
    from hub.sim.fleet import hub_ids
    from hub.sim.loadgen import LoadPlan, run

    if a.write_homes:
        return write_homes(a.write_homes, hub_ids(a.hubs, first=a.first))
    cfg = load_station_config(a.config)
    if cfg.broker.tls:
        print(f"anxin loadgen: {a.config}: the broker takes TLS clients only; the load "
              "generator speaks plain MQTT (run it against a test broker)", file=sys.stderr)
        return 2
    plan = LoadPlan(hubs=a.hubs, broker=cfg.broker, first=a.first, heartbeat_s=a.heartbeat,
                    retry_s=a.retry, ramp_s=a.ramp, per_100_per_min=a.rate,
                    duration_s=a.duration, storm=a.storm, storm_s=a.storm_within,
                    grace_s=a.grace)
    return asyncio.run(run(plan, lambda ids: stored_times(cfg.readonly_location, ids)))


def stored_times(database: Location, ids: list[str]) -> dict[str, float]:
    """When the station stored each of these alarms (its ``received``), read-only."""
    from console.station.store.reader import StationReader

    reader = StationReader.open(database)
    try:
        return {i: a.received for i in ids if (a := reader.alarm(i)) is not None}
    finally:
        reader.close()


def write_homes(path: Path, hubs: list[str]) -> int:
    """A homes.yaml for the simulated hubs (made-up elders), checked as the station loads it;
    says how close it is to the config loader's limits."""
    import yaml

    from console.station.config import load_homes
    from hub.common.configfile import MAX_CONFIG_BYTES, MAX_VALUES, ConfigError

    homes = [{"hub": h, "elder": {"name": f"测试老人{h}", "category": "general",
                                  "address": f"测试镇测试村{h}号",
                                  "contacts": [{"name": "家属", "phone": "138-0000-0000"}]}}
             for h in hubs]
    path.write_text("# made-up elders for `anxin loadgen`\n"
                    + yaml.safe_dump({"homes": homes}, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    size = path.stat().st_size
    print(f"{path}: {len(hubs)} homes in {size} bytes (a config file may have {MAX_CONFIG_BYTES} "
          f"bytes and {MAX_VALUES} values)")
    try:
        load_homes(path)
    except ConfigError as e:
        print(f"anxin loadgen: the station will not load it: {e}", file=sys.stderr)
        return 1
    return 0
