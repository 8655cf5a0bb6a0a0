"""`anxin provision`: a bundle issued on the station, applied on the hub, gets the hub onto the
real TLS broker under its own identity; bad bundles and wrong hubs change nothing."""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from console.station.trust.broker import Mosquitto
from drivers.gpio.sim import SimPins
from hub.cli.main import main
from hub.common import wire
from hub.runtime.config import BleConfig, GpioConfig, LinkConfig, load_hub_config
from hub.runtime.service import HubService
from tests.conftest import REPO, eventually
from tests.support.tls import Peer, Pki

Capsys = pytest.CaptureFixture[str]


def _issue(ca: Pki, out: Path, *extra: str, hub: str = "h001", port: int = 8883) -> int:
    return main(["provision", "issue", hub, "--ca-dir", str(ca.dir), "--broker-host", "127.0.0.1",
                 "--broker-port", str(port), "--out", str(out), *extra])


def _apply(bundle: Path, home: Path, *extra: str) -> int:
    """Apply as the user running the tests: the default owner, anxin, may not exist here."""
    return main(["provision", "apply", str(bundle), "--config", str(home / "hub.yaml"),
                 "--tls-dir", str(home / "tls"), "--owner", getpass.getuser(), *extra])


def _home(tmp_path: Path, hub_id: str = "h001") -> Path:
    """A hub's /etc/anxin: the shipped example hub.yaml, with the given hub_id."""
    home = tmp_path / "etc"
    home.mkdir()
    text = (REPO / "config/hub.yaml").read_text(encoding="utf-8")
    (home / "hub.yaml").write_text(text.replace("hub_id: h001", f"hub_id: {hub_id}"),
                                   encoding="utf-8")
    return home


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_provisioned_hub_reaches_the_station_over_tls(tmp_path: Path) -> None:
    ca = Pki(tmp_path)
    with Mosquitto(tmp_path / "broker", tls=ca.broker) as broker:
        bundle = tmp_path / "h001.bundle.yaml"
        assert _issue(ca, bundle, port=broker.port) == 0
        home = _home(tmp_path)
        assert _apply(bundle, home) == 0

        cfg = load_hub_config(home / "hub.yaml")
        assert cfg.broker.tls and cfg.broker.tls.identity == "h001"
        assert (cfg.broker.host, cfg.broker.port) == ("127.0.0.1", broker.port)
        assert cfg.broker.tls.key == (home / "tls/hub.key").resolve()
        assert _mode(cfg.broker.tls.key) == 0o600 and cfg.broker.tls.key.stat().st_uid == os.getuid()
        assert [b.name for b in cfg.buttons] == ["bedside", "cord", "cancel"]  # the rest is kept
        assert cfg.radar and cfg.radar.model == "mr60fda2" and len(cfg.ble.sensors) == 3
        old = (home / "hub.yaml.bak").read_text(encoding="utf-8")
        new = (home / "hub.yaml").read_text(encoding="utf-8")
        assert old == (REPO / "config/hub.yaml").read_text(encoding="utf-8")
        for line in old.splitlines():  # every comment and every untouched line is kept as it was
            if "#" in line and not line.lstrip().startswith(("host:", "port:")):
                assert line in new.splitlines(), line

        station = Peer(broker.port, ca.files("station:station"))
        assert station.connect()
        station.subscribe(wire.hub_wildcard("status"), wire.hub_wildcard("event"))
        # The installer's hub.yaml names real hardware; run the same identity on simulated pins.
        sim = cfg.model_copy(update={
            "data_dir": tmp_path / "data", "gpio": GpioConfig(backend="sim"), "radar": None,
            "ble": BleConfig(backend="sim"), "link": LinkConfig(heartbeat_s=1, retry_s=1)})
        try:
            async with HubService(sim) as hub:
                await eventually(lambda: hub.link.connected, what="provisioned hub connected")
                await asyncio.to_thread(station.wait_for, wire.hub_topic("h001", "status"))
                await asyncio.to_thread(SimPins(hub.pins).click, 17)
                await asyncio.to_thread(station.wait_for, wire.hub_topic("h001", "event"))
        finally:
            station.close()


def test_bundle_is_private_and_never_overwritten(tmp_path: Path, capsys: Capsys) -> None:
    ca = Pki(tmp_path)
    bundle = tmp_path / "out" / "h001.bundle.yaml"
    assert _issue(ca, bundle) == 0
    assert _mode(bundle) == 0o600
    assert "-----BEGIN PRIVATE KEY-----" in bundle.read_text()
    assert [p.name for p in bundle.parent.iterdir()] == [bundle.name]  # no key left lying about
    before = bundle.read_bytes()
    capsys.readouterr()
    assert _issue(ca, bundle) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert bundle.read_bytes() == before
    assert _issue(ca, bundle, "--force") == 0
    assert bundle.read_bytes() != before and _mode(bundle) == 0o600
    assert _issue(ca, tmp_path / "bad.yaml", hub="H001/x") == 1
    assert "bad hub id 'H001/x'" in capsys.readouterr().err
    assert not (tmp_path / "bad.yaml").exists()


def test_apply_refuses_a_hub_yaml_with_another_hub_id(tmp_path: Path, capsys: Capsys,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ca = Pki(tmp_path)
    bundle = tmp_path / "h001.bundle.yaml"
    assert _issue(ca, bundle) == 0
    home = _home(tmp_path, hub_id="h002")
    before = (home / "hub.yaml").read_bytes()
    capsys.readouterr()
    assert _apply(bundle, home) == 1
    err = capsys.readouterr().err
    assert "hub_id is 'h002'" in err and str(home / "hub.yaml") in err and "'h001'" in err
    assert (home / "hub.yaml").read_bytes() == before
    assert not (home / "tls").exists()
    monkeypatch.chdir(tmp_path)  # relative paths, as an installer types them
    assert _apply(Path(bundle.name), Path(home.name), "--force") == 0
    cfg = load_hub_config(home / "hub.yaml")
    assert cfg.hub_id == "h001" and cfg.broker.tls and cfg.broker.tls.identity == "h001"
    assert _apply(Path(bundle.name), Path("nowhere")) == 1
    assert "nowhere/hub.yaml: no such file; copy config/hub.yaml" in capsys.readouterr().err
    assert _apply(Path(bundle.name), Path(home.name), "--owner", "no-such-user-here") == 1
    assert "no user 'no-such-user-here' here" in capsys.readouterr().err


@pytest.mark.parametrize(("damage", "error"), [
    (lambda t: t[: t.index("-----END PRIVATE KEY-----")], r"\.bundle\.yaml: key: .*not an unencrypted PEM"),
    (lambda t: t.replace("BEGIN CERTIFICATE", "BEGIN CERTIFICAT", 1), r"\.bundle\.yaml: ca: .*not a PEM"),
    (lambda t: t.replace("hub_id: h001", "hub_id: h002"),
     r"bundle\.yaml was not applied; with it, .*hub\.yaml: .*broker\.tls\.cert: the certificate "
     r"is for 'h001', not for hub_id 'h002'"),
    (lambda t: t.replace("broker:", "broker: [", 1), r"\.bundle\.yaml: line \d+.*invalid YAML"),
    (lambda t: "", r"\.bundle\.yaml: the file is empty"),
])
def test_a_damaged_bundle_is_a_clear_error_and_changes_nothing(
        tmp_path: Path, capsys: Capsys, damage: Callable[[str], str], error: str) -> None:
    ca = Pki(tmp_path)
    bundle = tmp_path / "h001.bundle.yaml"
    assert _issue(ca, bundle) == 0
    bundle.write_text(damage(bundle.read_text()))
    home = _home(tmp_path, hub_id="h002")  # so that an edited hub_id passes the id check
    before = (home / "hub.yaml").read_bytes()
    capsys.readouterr()
    assert _apply(bundle, home, "--force") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(error, err), err
    assert (home / "hub.yaml").read_bytes() == before
    assert not (home / "tls").exists() or not any((home / "tls").iterdir())
