"""Shared fixtures: a real Mosquitto on a free loopback port, configs for hubs and station."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console.station.config import StationConfig
from console.station.trust.broker import Mosquitto
from hub.runtime.config import HubConfig

REPO = Path(__file__).resolve().parent.parent
# Fixtures shared across folders live in tests/support/ and are registered here, once.
pytest_plugins = ["tests.support.desk", "tests.support.home", "tests.support.nats",
                  "tests.support.notify", "tests.support.postgres", "tests.support.tls"]


@pytest.fixture(autouse=True)
def own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test, and every process it starts (they inherit the environment), has a home and
    XDG folders of its own: `anxin demo` records its folder in $XDG_STATE_HOME/anxin/demo.running
    (hub/cli/demo_dir.py), and a test's demo left there was what a bare `anxin sim` then found
    on the developer's machine (espeak-ng's PulseAudio leaves a link in $XDG_CONFIG_HOME). What
    a test writes into its home would have gone into the developer's: it fails the test."""
    folder = tmp_path_factory.mktemp("own-home")
    home = folder / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for xdg in ("STATE", "CONFIG", "CACHE", "DATA"):
        monkeypatch.setenv(f"XDG_{xdg}_HOME", str(folder / xdg.lower()))
    yield home
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert written == [], f"the test wrote into the home folder: {written}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as b:
        yield b


@pytest.fixture
def station_cfg(tmp_path: Path, broker: Mosquitto) -> StationConfig:
    return StationConfig.model_validate({
        "database": str(tmp_path / "station.db"), "broker": {"port": broker.port},
        "homes_file": str(REPO / "config/homes.yaml"), "offline_after_s": 5})


@pytest.fixture
def hub_cfg(tmp_path: Path, broker: Mosquitto) -> Callable[..., HubConfig]:
    def make(hub_id: str = "h001", **over: Any) -> HubConfig:
        data: dict[str, Any] = {
            "hub_id": hub_id, "data_dir": str(tmp_path / hub_id), "broker": {"port": broker.port},
            "link": {"heartbeat_s": 1, "retry_s": 1}, "gpio": {"backend": "sim"},
            "buttons": [{"name": "bedside", "pin": 17, "location": "卧室床头"}],
            "status_led": {"pin": 22}}
        data.update(over)
        return HubConfig.model_validate(data)
    return make


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll until check() is truthy; fail with ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")


@pytest.fixture
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Console passwords hashed at a tiny scrypt cost: the real one (~0.6 s a hash) would
    dominate the tests. tests/console/station/test_users.py checks the real cost once. The hash
    checked for unknown users is made again afterwards, at the real cost, for the tests
    that time logins (tests/console/station/test_logins.py)."""
    from console.station import users

    monkeypatch.setattr(users, "SCRYPT", users.ScryptParams(n=2**4, r=8, p=1))
    users._dummy_hash.cache_clear()
    yield
    users._dummy_hash.cache_clear()
