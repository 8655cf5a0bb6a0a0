"""Supervision with real processes on a real Mosquitto: a station service that dies is shown
at once on the consoles, a hub that dies or freezes is shown offline at the station in time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.station.store.reader import StationReader
from console.station.trust.broker import Mosquitto
from console.tui.client import StationClient
from hub.cli import demo
from hub.cli.demo import write_yaml
from hub.common.transport import BrokerConfig
from tests.conftest import eventually

OFFLINE_AFTER_S = 6


def spawn(tmp: Path, role: str, cfg: dict[str, object]) -> subprocess.Popen[bytes]:
    """``anxin ROLE`` as its own process, as the demo starts its parts."""
    path = write_yaml(tmp / role / f"{role}.yaml", cfg)
    return demo.spawn([role, "--config", str(path)], path.with_suffix(".log"))


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    running: list[subprocess.Popen[bytes]] = []
    yield running
    for p in running:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
            p.kill()
            p.wait()


def station_cfg(tmp: Path, port: int) -> dict[str, object]:
    return {"database": str(tmp / "station" / "station.db"), "broker": {"port": port},
            "offline_after_s": OFFLINE_AFTER_S}


async def test_a_killed_station_service_shows_on_the_console_at_once(
        tmp_path: Path, broker: Mosquitto, procs: list[subprocess.Popen[bytes]]) -> None:
    procs.append(spawn(tmp_path, "station", station_cfg(tmp_path, broker.port)))
    seen: list[bool | None] = []
    client = StationClient.over_mqtt(BrokerConfig(port=broker.port), on_changed=lambda c: None,
                                     on_station=lambda s: seen.append(s and s.online))
    client.start()
    try:
        await eventually(lambda: seen and seen[-1] is True, timeout=15, what="station online")
        procs[0].kill()  # kill -9: no goodbye, only the broker's last will
        t0 = time.monotonic()
        await eventually(lambda: seen[-1] is False, timeout=5, what="station offline")
        print(f"\nstation kill -9 -> console shows it offline after {time.monotonic() - t0:.2f} s")
    finally:
        client.close()


@pytest.mark.parametrize("how", ["kill", "freeze"])
async def test_a_dead_or_frozen_hub_shows_offline_at_the_station_in_time(
        tmp_path: Path, broker: Mosquitto, procs: list[subprocess.Popen[bytes]], how: str) -> None:
    procs.append(spawn(tmp_path, "station", station_cfg(tmp_path, broker.port)))
    procs.append(spawn(tmp_path, "hub", {
        "hub_id": "h001", "data_dir": str(tmp_path / "hub"), "gpio": {"backend": "sim"},
        "broker": {"port": broker.port, "keepalive_s": 60}, "link": {"heartbeat_s": 2},
        "buttons": [{"name": "bedside", "pin": 17}]}))
    log = tmp_path / "station" / "station.log"
    await eventually(lambda: log.exists() and " up, database " in log.read_text(), timeout=15,
                     what="station service up")
    store = StationReader.open(tmp_path / "station" / "station.db")

    def online() -> bool:
        home = store.home("h001")
        return bool(home and home.online)

    try:
        await eventually(online, timeout=20, what="hub online at the station")
        t0 = time.monotonic()
        os.kill(procs[1].pid, signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        await eventually(lambda: not online(), timeout=OFFLINE_AFTER_S + 6, what="hub offline")
        took = time.monotonic() - t0
        print(f"\nhub {how} -> offline at the station after {took:.1f} s "
              f"(offline_after_s {OFFLINE_AFTER_S})")
        if how == "kill":
            assert took < 3, "the broker's last will says it at once"
        else:  # silent since its last heartbeat, up to heartbeat_s before it froze
            assert took <= OFFLINE_AFTER_S + 1.5
    finally:
        store.close()
