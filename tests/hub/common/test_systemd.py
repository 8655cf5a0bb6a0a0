"""systemd units: they verify cleanly, and the services speak sd_notify (READY, watchdog
pings from the event loop, STOPPING), checked with a fake NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from console.station.trust.broker import Mosquitto
from hub.common.systemd import supervised
from hub.common.tasks import Tasks
from tests.conftest import REPO, eventually
from tests.support.units import settings

UNITS = sorted((REPO / "systemd").glob("*.service"))


def test_there_is_a_unit_for_the_hub_and_the_station() -> None:
    assert [u.name for u in UNITS] == ["anxin-hub.service", "anxin-station.service"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_units_verify_without_a_warning(tmp_path: Path) -> None:
    exe = tmp_path / "venv/bin/anxin"  # the install prefix, here a stand-in executable
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/anxin", str(tmp_path)))
    r = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / u.name) for u in UNITS)],
                       capture_output=True, text=True)
    assert (r.returncode, r.stderr.strip()) == (0, "")


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_units_are_supervised_and_hardened(unit: Path) -> None:
    s = settings(unit)
    assert (s["Type"], s["Restart"], s["NotifyAccess"]) == ("notify", "always", "main")
    assert 0 < int(s["WatchdogSec"]) <= 60
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "ProtectKernelTunables"):
        assert s[key] == "yes", key
    assert s["ProtectSystem"] == "strict" and s["ReadWritePaths"] == "/var/lib/anxin"
    assert s["User"] == "anxin" and "StandardOutput" not in s  # logs go to the journal


class FakeSystemd:
    """The receiving end of NOTIFY_SOCKET, read all the time as systemd does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.got: list[tuple[float, str]] = []  # (monotonic time, message)
        self._open = True
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self._open:
            with contextlib.suppress(TimeoutError, OSError):
                self.got.append((time.monotonic(), self.sock.recv(4096).decode()))

    def messages(self) -> list[str]:
        return [m for _, m in self.got]

    def wait_for(self, text: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not any(text in m for m in self.messages()):
            assert time.monotonic() < end, f"no {text!r} within {timeout} s; got {self.got}"
            time.sleep(0.05)

    def close(self) -> None:
        self._open = False
        self._reader.join()
        self.sock.close()


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.close()


async def test_a_hung_event_loop_stops_the_watchdog_pings(systemd: FakeSystemd,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(systemd.path))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # pings every 50 ms
    async with supervised("test"):
        await asyncio.sleep(0.3)
        time.sleep(0.6)  # the loop hangs
        await asyncio.sleep(0.3)
    systemd.wait_for("STOPPING=1", timeout=1)
    pings = [t for t, m in systemd.got if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert systemd.got[0][1].startswith("READY=1") and systemd.got[-1][1].startswith("STOPPING=1")
    assert len(pings) >= 8 and max(gaps) >= 0.55, "pings stopped while the loop hung, and only then"
    assert sorted(gaps)[-2] < 0.2


async def test_a_dead_task_stops_the_watchdog_pings(systemd: FakeSystemd,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A service whose loop is still running but one of whose tasks died is not whole:
    systemd must restart it, so the pings stop (and the status says which task)."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(systemd.path))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # pings every 50 ms

    async def dies() -> None:
        await asyncio.sleep(0.3)
        raise RuntimeError("a bug outside any round")

    tasks = Tasks()
    async with supervised("test", lambda: tasks.dead):
        tasks.watch("escalation", asyncio.create_task(dies()))
        tasks.every("heartbeat", 0.01, lambda: None)  # the loop itself goes on
        await eventually(lambda: tasks.dead, what="the task died")
        died = time.monotonic()
        await asyncio.sleep(0.5)
    await tasks.close()
    systemd.wait_for("STOPPING=1", timeout=1)
    pings = [t for t, m in systemd.got if m == "WATCHDOG=1"]
    assert len(pings) >= 4, "pinged while all was well"
    assert max(pings) < died + 0.1, "no pings once a task had died"
    assert any("escalation died" in m for m in systemd.messages())


@pytest.mark.parametrize("role", ["hub", "station"])
def test_the_services_say_ready_ping_and_stopping(tmp_path: Path, systemd: FakeSystemd,
                                                   broker: Mosquitto, role: str) -> None:
    cfg = tmp_path / f"{role}.yaml"
    cfg.write_text(yaml.safe_dump(
        {"hub_id": "h001", "data_dir": str(tmp_path / "hub"), "gpio": {"backend": "sim"},
         "buttons": [{"name": "bedside", "pin": 17}], "broker": {"port": broker.port}}
        if role == "hub" else {"database": str(tmp_path / "station.db"), "broker": {"port": broker.port}}))
    env = {**os.environ, "NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli.main", "--log-file", str(tmp_path / "log"),
                             role, "--config", str(cfg)], env=env)
    try:
        systemd.wait_for("READY=1", timeout=20)
        time.sleep(1.0)
        assert systemd.messages().count("WATCHDOG=1") >= 3
        proc.send_signal(signal.SIGTERM)
        systemd.wait_for("STOPPING=1", timeout=10)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()
