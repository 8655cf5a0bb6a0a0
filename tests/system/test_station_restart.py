"""Kill -9 the station service mid-stream and restart it: no alarm is lost or doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from console.station.config import StationConfig
from console.station.store.reader import StationReader
from hub.common.events import Event
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import REPO, eventually

PRESSES = 40
KILL_AFTER = 15


def start_station(cfg_file: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli.main", "--log-file", str(log), "station",
                             "--config", str(cfg_file)], cwd=REPO)


async def test_station_killed_mid_stream_loses_nothing(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    cfg_file = tmp_path / "station.yaml"
    cfg_file.write_text(yaml.safe_dump({
        "database": str(station_cfg.database), "homes_file": str(station_cfg.homes_file),
        "broker": {"port": station_cfg.broker.port}}))
    station = start_station(cfg_file, tmp_path / "station1.log")
    try:
        await eventually(station_cfg.database.exists, what="station database")
        async with HubService(hub_cfg()) as hub:
            await eventually(lambda: hub.link.connected)
            for i in range(PRESSES):  # distinct alarms: a repeated press joins the open call
                hub.alarms.raise_alarm(Event(kind="button.press", source="bedside", alarm="panic"))
                await asyncio.sleep(0.02)
                if i == KILL_AFTER:
                    os.kill(station.pid, signal.SIGKILL)
                    station.wait()
                if i == KILL_AFTER + 10:
                    station = start_station(cfg_file, tmp_path / "station2.log")
            await eventually(lambda: hub.store.pending_count() == 0, timeout=30,
                             what="every alarm acknowledged after the restart")
            raised = {a.id for a in hub.store.open_alarms()}
        store = StationReader.open(station_cfg.database)
        stored = [a.id for a in store.open_alarms()]
        print(f"\nalarms raised {len(raised)} / stored at station {len(set(stored))} / "
              f"shown twice {len(stored) - len(set(stored))} / lost {len(raised - set(stored))}")
        assert len(raised) == PRESSES
        assert set(stored) == raised
        assert len(stored) == len(set(stored))
    finally:
        station.terminate()
        station.wait(10)
