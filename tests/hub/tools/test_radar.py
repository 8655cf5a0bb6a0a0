"""`anxin radar` against the pty radar simulator: settings set, read back, recorded in hub.yaml, and
applied by the hub at every start (and after a replug), for both frame families."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from drivers.radar.codec import Commands
from drivers.radar.micradar import C1001Commands
from drivers.radar.readings import Heartbeat, Parameters
from drivers.radar.setup import SETTLE_RETRY_S, Settle, Wanted
from drivers.radar.sim import Settings, SimRadar
from drivers.radar.tinyframe import TinyFrameCommands
from hub.cli.main import main
from hub.common.transport import MemoryBroker
from hub.runtime.config import load_hub_config
from hub.runtime.service import HubService
from hub.runtime.uplink import last_will
from hub.sim.home import SimHome
from tests.conftest import eventually

Capsys = pytest.CaptureFixture[str]

# (model, a height and a sensitivity it takes, its factory values in the simulator)
FAMILIES = [("mr60fda2", 2.45, 12, (2.2, 10)), ("c1001", 2.45, 2, (2.2, 1))]


def hub_yaml(tmp_path: Path, model: str, backend: str = "real", extra: str = "") -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(f"""# the Wangs' hub
hub_id: h001
data_dir: {tmp_path / 'data'}
gpio:
  backend: sim
buttons:
  - name: bedside       # by the bed
    pin: 17
radar:                  # on the bedroom ceiling
  model: {model}        # as on its label
  backend: {backend}
  port: {tmp_path / 'radar.tty'}
  keepalive_s: 1
{extra}""", encoding="utf-8")
    return path


@pytest.fixture
def sim_radar(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SimRadar]:
    with SimRadar(model=request.param, link=tmp_path / "radar.tty") as radar:
        yield radar


def radar(config: Path, *args: str) -> int:
    return main(["radar", "--config", str(config), *args])


@pytest.mark.parametrize(("sim_radar", "height", "sensitivity", "factory"),
                         [(m, h, s, f) for m, h, s, f in FAMILIES], indirect=["sim_radar"])
def test_height_and_sensitivity_set_read_back_and_recorded(
        tmp_path: Path, sim_radar: SimRadar, height: float, sensitivity: int,
        factory: tuple[float, int], capsys: Capsys) -> None:
    config = hub_yaml(tmp_path, sim_radar.model)
    before = config.read_text(encoding="utf-8")
    assert radar(config, "show") == 0
    out = capsys.readouterr().out.splitlines()
    assert f"  install height  {factory[0]} m" in out and f"  sensitivity     {factory[1]}" in out

    assert radar(config, "height", str(height)) == 0
    out = capsys.readouterr().out
    assert f"set install height {height} m, read back and confirmed" in out
    assert f"recorded radar.height_m: {height}" in out
    assert sim_radar.settings.install_height_m == height  # the module has it, not only the file
    assert radar(config, "sensitivity", str(sensitivity)) == 0
    assert sim_radar.settings.sensitivity == sensitivity

    cfg = load_hub_config(config)
    assert cfg.radar and (cfg.radar.height_m, cfg.radar.sensitivity) == (height, sensitivity)
    text = config.read_text(encoding="utf-8")
    assert all(line in text.splitlines() for line in before.splitlines())  # comments and all kept
    assert text.endswith(f"  keepalive_s: 1\n  height_m: {height}\n  sensitivity: {sensitivity}\n")
    assert (tmp_path / "hub.yaml.bak").read_text(encoding="utf-8") != text

    assert radar(config, "reset") == 0  # factory settings; hub.yaml still says what the home needs
    out = capsys.readouterr().out
    assert f"install height  {factory[0]} m" in out
    assert f"hub.yaml asks for install height {height} m, sensitivity {sensitivity}" in out
    assert load_hub_config(config).radar.height_m == height  # type: ignore[union-attr]


@pytest.mark.parametrize(("sim_radar", "args", "error"), [
    ("mr60fda2", ["height", "5.5"], "install height 5.5 is out of range (above 1.0 m, at most 5.0 m)"),
    ("mr60fda2", ["height", "1.0"], "install height 1.0 is out of range (above 1.0 m"),
    ("mr60fda2", ["sensitivity", "2"], "sensitivity 2 is out of range (whole number of frames "
                                       "averaged, 3 to 30)"),
    ("mr60fda2", ["firmware"], "radar model 'mr60fda2' has no product-info query"),
    ("c1001", ["sensitivity", "4"], "fall sensitivity 4 is out of range (0 to 3)"),
    ("c1001", ["height", "0.9"], "install height 0.9 is out of range (1.0 to 5.0 m)"),
    ("mr60fda1", ["height", "2.4"], "radar model 'mr60fda1' has no set-install-height command"),
], indirect=["sim_radar"])
def test_what_the_model_cannot_take_is_refused_before_anything_is_sent(
        tmp_path: Path, sim_radar: SimRadar, args: list[str], error: str, capsys: Capsys) -> None:
    config = hub_yaml(tmp_path, sim_radar.model)
    before = config.read_bytes()
    assert radar(config, *args) == 1
    err = capsys.readouterr().err
    assert error in err and "Traceback" not in err
    assert sim_radar.heard == []  # the port was not even opened
    assert config.read_bytes() == before and not (tmp_path / "hub.yaml.bak").exists()


def test_a_running_hub_holds_the_port(tmp_path: Path, capsys: Capsys) -> None:
    config = hub_yaml(tmp_path, "mr60fda2")
    (tmp_path / "data").mkdir()
    fake_hub = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "hub.cli.main", "hub"])
    try:
        (tmp_path / "data/hub.pid").write_text(f"{fake_hub.pid}\n")
        assert radar(config, "height", "2.4") == 1
        err = capsys.readouterr().err
        assert f"hub {fake_hub.pid} holds the radar's serial port" in err
        assert "stop the hub first: sudo systemctl stop anxin-hub" in err
    finally:
        fake_hub.kill()
        fake_hub.wait()
    assert radar(config, "show") == 1  # the hub is gone now; nothing is on the port either
    assert "radar.tty" in capsys.readouterr().err


def test_no_answer_is_said_with_what_to_check(tmp_path: Path, capsys: Capsys) -> None:
    with SimRadar(model="c1001", link=tmp_path / "radar.tty") as sim:
        sim.go_silent()
        assert radar(hub_yaml(tmp_path, "c1001"), "height", "2.4") == 1
    err = capsys.readouterr().err
    assert "no answer to the set install height within 3 s" in err and "TX wired" in err


@pytest.mark.parametrize(("radar_keys", "error"), [
    ("model: mr60fda1, height_m: 2.4", "radar.height_m: Value error, radar model 'mr60fda1' has no "
                                       "set-install-height command"),
    ("model: c1001, sensitivity: 5", "radar.sensitivity: Value error, radar model 'c1001': fall "
                                     "sensitivity 5 is out of range (0 to 3)"),
])
def test_hub_yaml_settings_are_checked_against_the_model(tmp_path: Path, radar_keys: str, error: str,
                                                         capsys: Capsys) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(f"hub_id: h1\nbuttons: [{{name: b, pin: 17}}]\nradar: {{{radar_keys}}}\n")
    assert main(["check-config", str(path)]) == 1
    assert f"{path}: {error}" in capsys.readouterr().err


# --- the hub applies hub.yaml's settings ------------------------------------------------------------


@pytest.fixture
async def hub(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[HubService]:
    model, height, sensitivity = request.param
    config = hub_yaml(tmp_path, model, backend="sim",
                      extra=f"  height_m: {height}\n  sensitivity: {sensitivity}\n")
    broker = MemoryBroker()
    async with HubService(load_hub_config(config),
                          transport=lambda cfg, _: broker.client(last_will(cfg.hub_id))) as h, \
            SimHome(h):
        yield h


@pytest.mark.parametrize("hub", [(m, h, s) for m, h, s, _ in FAMILIES], indirect=True)
async def test_hub_sets_the_radar_at_start_and_after_a_replug(
        hub: HubService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="anxin.radar")
    cfg, sim = hub.cfg.radar, hub.hw.sim_radar
    assert cfg and sim and hub.hw.radar
    wanted = (cfg.height_m, cfg.sensitivity)
    await eventually(lambda: (sim.settings.install_height_m, sim.settings.sensitivity) == wanted,
                     what="the radar set at start")
    # A read-back that raced the settings is retried after SETTLE_RETRY_S: allow two of those.
    await eventually(lambda: "settings confirmed" in caplog.text, timeout=3 * SETTLE_RETRY_S,
                     what="confirmation in the log")
    sim.settings = Settings()  # a replaced module, at its factory settings, plugged in
    sim.unplug()
    sim.plug()
    await eventually(lambda: (sim.settings.install_height_m, sim.settings.sensitivity) == wanted,
                     what="the replaced radar set")


@pytest.mark.parametrize("hub", [("mr60fda2", 2.3, 10)], indirect=True)
async def test_simulated_hub_is_asked_through_its_sim_socket(
        tmp_path: Path, hub: HubService, capsys: Capsys) -> None:
    config = tmp_path / "hub.yaml"
    sim = hub.hw.sim_radar
    assert sim and hub.hw.radar
    await eventually(lambda: sim.settings.install_height_m == 2.3, what="set at start")
    assert await asyncio.to_thread(radar, config, "height", "2.6") == 0
    out = capsys.readouterr().out
    assert "the simulated hub's radar" in out and "read back and confirmed" in out
    assert sim.settings.install_height_m == 2.6
    assert load_hub_config(config).radar.height_m == 2.6  # type: ignore[union-attr]
    assert hub.hw.radar.settle and hub.hw.radar.settle.wanted == Wanted(2.6, 10)  # kept on a replug
    assert await asyncio.to_thread(radar, config, "sensitivity", "40") == 1
    assert "3 to 30" in capsys.readouterr().err and sim.settings.sensitivity == 10


# --- Settle, the hub's side, on a fake clock ---------------------------------------------------------


@pytest.mark.parametrize(("commands", "wanted", "answer"), [
    (TinyFrameCommands("mr60fda2"), Wanted(2.4, 12), [Parameters(2.4, 0.6, 12)]),
    (C1001Commands("c1001"), Wanted(2.4, 3),  # the C1001 answers the query in three frames
     [Parameters(install_height_m=2.4), Parameters(sensitivity=3), Parameters(mode="fall")]),
])
def test_settle_confirms_on_the_read_back_and_retries_until_then(
        commands: Commands, wanted: Wanted, answer: list[Parameters]) -> None:
    said: list[tuple[bool, str]] = []
    settle = Settle(commands, wanted, lambda ok, line: said.append((ok, line)), retry_s=5, tries=3)
    settle.opened()
    first = settle.due(0.0)
    assert first is not None and first.endswith(commands.query_parameters())
    assert settle.due(4.9) is None  # not before retry_s
    settle.feed(Heartbeat())
    assert settle.due(5.0) == first  # no answer yet: again
    for r in answer:
        settle.feed(r)
    assert settle.state == "confirmed" and said == [(True, f"settings confirmed: {wanted}")]
    assert settle.due(100.0) is None


def test_settle_gives_up_and_says_so() -> None:
    said: list[tuple[bool, str]] = []
    settle = Settle(TinyFrameCommands("mr60fda2"), Wanted(2.4), lambda ok, line: said.append((ok, line)),
                    retry_s=1, tries=2)
    settle.opened()
    assert settle.due(0) and settle.due(1)
    settle.feed(Parameters(2.2, 0.6, 10))  # answered, but not taken
    assert settle.state == "failed"
    assert said == [(False, "settings NOT taken after 2 tries: the radar reports install height 2.2 m, "
                            "not 2.4 m (check radar.model; `anxin radar show`)")]
    settle.opened()  # a new open starts over; a radar that never answers is said once too
    said.clear()
    assert settle.due(10) and settle.due(11) and settle.due(12) is None and settle.due(13) is None
    assert [ok for ok, _ in said] == [False] and "no answer to the settings" in said[0][1]
