"""Config files: the examples are valid, and every mistake names the file and the key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.cli.main import main
from hub.common.configfile import ConfigError
from hub.runtime.config import load_hub_config, load_hub_rules
from tests.conftest import REPO


def test_shipped_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (REPO / "config").glob("**/*.yaml"))
    assert main(["check-config", *files]) == 0
    out = capsys.readouterr().out
    assert "hub.yaml: ok (hub config; 14 rule(s))" in out and "station.yaml: ok (station config)" in out
    assert "default.yaml: ok (rules file; 14 rule(s))" in out


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hub.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text, expected", [
    ("hub_id: h1\nbuttons: [{name: a, pin: 17, colour: red}]\n",
     "buttons.0.colour: unknown key"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 40}]\n",
     "buttons.0.pin: Input should be less than or equal to 27"),
    ("hub_id: h1\n", "buttons: required key is missing"),
    ("hub_id: h1\nbroker: {port: 0}\nbuttons: [{name: a, pin: 1}]\n", "broker.port:"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 5}, {name: b, pin: 5}]\n",
     "GPIO 5 is already used by button 'a'"),
    ("hub_id: h1\nbuttons: [\n", "line 3, column 1: invalid YAML"),
    ("- just\n- a list\n", "expected a mapping of keys at the top, got list"),
    ("", "the file is empty"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 1}]\nradar: {model: ld6002}\n",
     "radar.model: Value error, radar model 'ld6002': the plain Hi-Link HLK-LD6002 measures breathing "
     "and heart rate"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 1}]\nradar: {model: mr60}\n", "radar.model: Input should be"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 1}]\nmodem: {backend: fake}\n",
     "modem.backend: Input should be 'real' or 'sim'"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 1}]\nmodem: {port: /dev/ttyUSB2, baud: 9600}\n",
     "modem.baud: unknown key"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 1}]\nmodem: {pin: '12'}\n", "modem.pin: String should match"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 1}]\nfallback_after_s: 5\n",
     "fallback_after_s: Input should be greater than or equal to 10"),
])
def test_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_hub_config(path)
    assert str(path) in str(e.value)
    assert expected in str(e.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_hub_config(tmp_path / "nope.yaml")


def test_check_config_reports_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "hub_id: h1\nbuttons: [{name: a, pin: 99}]\n")
    assert main(["check-config", str(path)]) == 1
    assert "buttons.0.pin" in capsys.readouterr().err


def test_relative_paths_are_beside_the_config(tmp_path: Path) -> None:
    cfg = load_hub_config(write(tmp_path, "hub_id: h1\ndata_dir: state\nbuttons: [{name: a, pin: 1}]\n"))
    assert cfg.data_dir == tmp_path / "state"
    assert cfg.sim_socket_path == tmp_path / "state" / "sim.sock"


def test_hub_reload_checks_rules_before_signalling(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: gas\n    trigger: gas.on\n    actions:\n      - relay: gas_valve\n")
    hub = tmp_path / "hub.yaml"
    hub.write_text(f"hub_id: h1\ndata_dir: {tmp_path}\nrules: [{rules}]\nbuttons: [{{name: b, pin: 17}}]\n")
    hupped = tmp_path / "hupped"
    fake_hub = subprocess.Popen([sys.executable, "-c", "import signal, sys, time; signal.signal("
                                 "signal.SIGHUP, lambda *_: open(sys.argv[1], 'w').close()); time.sleep(30)",
                                 str(hupped), "hub.cli.main", "hub"])  # looks like python -m hub.cli.main hub
    try:
        (tmp_path / "hub.pid").write_text(f"{fake_hub.pid}\n")
        assert main(["hub", "reload", "--config", str(hub)]) == 2  # bad rules: nothing signalled
        assert "actions.0.energise: required key is missing" in capsys.readouterr().err
        rules.write_text("rules:\n  - name: gas\n    trigger: gas.on\n    actions: [{relay: gas_valve, "
                         "energise: true}, {alarm: gas}]\n")
        time.sleep(0.3)  # let the stand-in install its handler
        assert not hupped.exists()
        assert main(["hub", "reload", "--config", str(hub)]) == 0
        assert "relay 'gas_valve', which hub.yaml does not have" in capsys.readouterr().err
        assert wait_for(hupped.exists)
        (tmp_path / "hub.pid").write_text(f"{os.getpid()}\n")  # a stale pid of something else
        assert main(["hub", "reload", "--config", str(hub)]) == 1
        (tmp_path / "hub.pid").unlink()
        assert main(["hub", "reload", "--config", str(hub)]) == 1  # no hub running
    finally:
        fake_hub.kill()
        fake_hub.wait()


def test_a_rule_naming_a_device_the_home_lacks_is_an_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: r\n    trigger: {event: smoke.on, device: kitchen_smok}\n"
                     "    actions: [{alarm: smoke}]\n")
    cfg = load_hub_config(write(tmp_path, f"hub_id: h1\nrules: [{rules}]\nbuttons: [{{name: b, pin: 17}}]\n"))
    with pytest.raises(ConfigError, match=r"rule 'r': trigger\.device 'kitchen_smok' is not a device"):
        load_hub_rules(cfg)


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()
