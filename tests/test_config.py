"""Config files: the examples are valid, and every mistake names the file and the key."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import load_hub_config
from hub.configfile import ConfigError
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
    (tmp_path / "hub.pid").write_text(f"{os.getpid()}\n")
    got: list[int] = []
    old = signal.signal(signal.SIGHUP, lambda sig, _: got.append(sig))
    try:
        assert main(["hub", "reload", "--config", str(hub)]) == 2  # bad rules: nothing signalled
        assert "actions.0.energise: required key is missing" in capsys.readouterr().err
        assert got == []
        rules.write_text("rules:\n  - name: gas\n    trigger: gas.on\n    actions: [{alarm: gas}]\n")
        assert main(["hub", "reload", "--config", str(hub)]) == 0
        assert got == [signal.SIGHUP]
        (tmp_path / "hub.pid").unlink()
        assert main(["hub", "reload", "--config", str(hub)]) == 1  # no hub running
    finally:
        signal.signal(signal.SIGHUP, old)
