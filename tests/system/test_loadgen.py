"""The load generator against a real Mosquitto and station: its hubs speak as hubs do, so the
station stores every alarm once, in each lane's order, acknowledges each, and sees every home
online with its heartbeats; a fleet that stops says goodbye (retained offline)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.trust.broker import Mosquitto
from hub.common.transport import BrokerConfig
from hub.runtime.config import LinkConfig
from hub.sim.fleet import Fleet, hub_ids
from hub.sim.loadgen import report
from tests.conftest import eventually

HUBS = 50
PRESSES = 3  # per hub, at once: the later ones go out with prev set, behind the first


async def test_fleet_alarms_stored_once_in_order_and_acknowledged(
        station_cfg: StationConfig, broker: Mosquitto) -> None:
    stored: list[str] = []
    async with StationService(station_cfg) as station:
        station.on_alarm_stored = stored.append
        link = LinkConfig(heartbeat_s=1, retry_s=2)
        async with Fleet(hub_ids(HUBS), broker=BrokerConfig(port=broker.port), link=link) as fleet:
            fleet.start(ramp_s=1.0)
            assert await fleet.until_reachable(20) == HUBS
            presses = [fleet.press(h) for h in fleet.ids for _ in range(PRESSES)]
            assert await fleet.until_acked(presses, 20) == len(presses)
            assert min(p.acks for p in presses) >= 1  # counted, each ack heard

            db = station.store._db
            ids = {p.id for p in presses}
            assert sorted(stored) == sorted(ids)  # each stored once, none twice
            rows = db.execute("SELECT id, hub FROM alarms").fetchall()
            assert {r[0] for r in rows} == ids
            assert Counter(r[1] for r in rows) == dict.fromkeys(fleet.ids, PRESSES)
            for hub in fleet.ids[:5]:  # each lane stored in its order, with its epoch
                seqs = [json.loads(p)["seq"] for (p,) in db.execute(
                    "SELECT payload FROM events WHERE hub = ? ORDER BY rowid", (hub,))]
                assert [s["n"] for s in seqs] == sorted(s["n"] for s in seqs)
                assert [s["prev"] for s in seqs][1:] == [s["n"] for s in seqs][:-1]
                assert {s["epoch"] for s in seqs} == {fleet.hubs[hub].store.epoch}
            await eventually(lambda: db.execute(
                "SELECT count(*) FROM homes WHERE online = 1 AND last_heartbeat IS NOT NULL "
                "AND hub LIKE 'h0%'").fetchone()[0] == HUBS, what="every home's heartbeat")
            lines = report(presses, lambda ids: {i: station.store.alarm(i).received for i in ids})
            assert lines[0] == f"alarms raised {len(presses)}, stored {len(presses)}, acked {len(presses)}"
        await eventually(lambda: db.execute(  # closed: each hub's retained goodbye
            "SELECT count(*) FROM homes WHERE online = 1 AND hub LIKE 'h0%'").fetchone()[0] == 0,
            what="every home offline after the fleet stopped")


def test_loadgen_command_prints_its_figures(tmp_path: Path, broker: Mosquitto) -> None:
    """`anxin loadgen` against a running `anxin station`: every alarm stored and acknowledged,
    and the figures printed."""
    station_yaml = tmp_path / "station.yaml"
    station_yaml.write_text(yaml.safe_dump({
        "database": str(tmp_path / "station.db"), "broker": {"port": broker.port}}))
    station = subprocess.Popen([sys.executable, "-m", "hub.cli.main", "station", "--config",
                                str(station_yaml)], stderr=subprocess.DEVNULL)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "hub.cli.main", "loadgen", "20", "--config", str(station_yaml),
             "--heartbeat", "1", "--duration", "3", "--rate", "300", "--storm", "10",
             "--storm-within", "1", "--grace", "20"],
            capture_output=True, text=True, timeout=90)
    finally:
        station.terminate()
        station.wait(10)
    assert out.returncode == 0, out.stderr
    assert "20 of 20 hubs connected" in out.stdout
    steady = next(line for line in out.stdout.splitlines() if "alarms raised" in line)
    raised = int(steady.split()[2].rstrip(","))
    assert raised > 0 and steady.strip() == f"alarms raised {raised}, stored {raised}, acked {raised}"
    assert "press -> stored" in out.stdout and "storm: 10 alarms" in out.stdout
    assert "alarms raised 10, stored 10, acked 10" in out.stdout
