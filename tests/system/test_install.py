"""systemd/install.sh, run for real into a temporary prefix: a hub and a station installed into
one tree (one venv build), then both run again. The tree is checked with the installed software
itself (check-config, provisioning), systemd-analyze, and a real Mosquitto started the way
Debian starts it, with the broker configuration the installer rendered into conf.d."""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.station.trust import pki
from console.station.trust.broker import Mosquitto
from console.station.trust.brokerconf import TlsFiles
from hub.common.wire import hub_topic
from hub.rules import load_rules
from tests.conftest import REPO
from tests.support.tls import Peer
from tests.support.units import settings

SCRIPT = "systemd/install.sh"
PYTHON = Path("/usr/bin/python3")  # the interpreter install.sh builds its venv from
SHIPPED_RULES = len(load_rules([REPO / "config/rules"]).rules)

pytestmark = pytest.mark.skipif(
    subprocess.run([PYTHON, "-c", "import sys, ensurepip; sys.exit(sys.version_info < (3, 11))"],
                   capture_output=True).returncode != 0,
    reason="install.sh needs Debian's python3 (3.11+) with python3-venv")


def install(src: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(src / SCRIPT), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every path under root: its kind, mode and content hash (or link target)."""
    tree = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            tree[str(path.relative_to(root))] = ("link", 0, os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            tree[str(path.relative_to(root))] = ("dir", stat.S_IMODE(st.st_mode), "")
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            tree[str(path.relative_to(root))] = ("file", stat.S_IMODE(st.st_mode), digest)
    return tree


@dataclass
class Installed:
    src: Path  # a copy of the checkout, as an unpacked release would be
    root: Path  # the --prefix
    hub: str  # what the first runs printed
    station: str
    hub_again: str  # ... and the second runs
    station_again: str
    before: dict[str, tuple[str, int, str]]  # the tree after the first runs
    after: dict[str, tuple[str, int, str]]  # ... and after the second

    def anxin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.root / "opt/anxin/venv/bin/anxin"), *args],
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("install")
    src, root = tmp / "src", tmp / "root"
    src.mkdir()
    for part in ("pyproject.toml", "README.md", "hub", "drivers", "console", "config", "docs",
                 "systemd"):  # a copy: other work in the checkout must not change it mid-test
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, src / part, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / part, src / part)
    hub_args = ("hub", "--prefix", str(root), "--hub-id", "h042", "--broker-host", "station.test")
    station_args = ("station", "--prefix", str(root), "--broker-host", "station.test")

    def run(*args: str) -> str:
        r = install(src, *args)
        assert r.returncode == 0, f"install.sh {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    hub, station = run(*hub_args), run(*station_args)
    before = snapshot(root)
    hub_again, station_again = run(*hub_args), run(*station_args)
    return Installed(src, root, hub, station, hub_again, station_again, before, snapshot(root))


def lines(out: str, step: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith(f"{step}:")]


def test_the_hub_is_installed_with_its_config_rules_and_system_steps(installed: Installed) -> None:
    root = installed.root
    assert os.readlink(root / "usr/local/bin/anxin") == str(root / "opt/anxin/venv/bin/anxin")
    r = installed.anxin("check-config", str(root / "etc/anxin/hub.yaml"))
    assert (r.returncode, r.stdout.strip()) == (0, f"{root}/etc/anxin/hub.yaml: ok (hub config; "
                                                   f"{SHIPPED_RULES} rule(s))"), r.stderr
    # The rules came from the installed package (hub/shipped, package data), not the checkout
    # (run from the prefix: `python -c` would import hub/ from the current folder first).
    r = subprocess.run([str(root / "opt/anxin/venv/bin/python"), "-c",
                        "from hub.runtime.config import DEFAULT_RULES as d; "
                        "print(d, len(list(d.glob('*.yaml'))))"],
                       capture_output=True, text=True, check=True, cwd=root)
    assert r.stdout.startswith(f"{root}/opt/anxin/venv/lib/") and r.stdout.split()[1] == "1"
    hub_yaml = (root / "etc/anxin/hub.yaml").read_text()
    for line in ("hub_id: h042", "  host: station.test", "  port: 8883", f"data_dir: {root}/var/lib/anxin"):
        assert re.search(rf"^{re.escape(line)}\b", hub_yaml, re.M), line
    assert stat.S_IMODE((root / "etc/anxin/hub.yaml").stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "var/lib/anxin").stat().st_mode) == 0o750

    packages = " ".join(lines(installed.hub, "packages"))
    for p in ("python3-venv", "libportaudio2", "libopus0", "bluez", "espeak-ng", "python3-lgpio"):
        assert p in packages, p  # to be installed, or already there
    user = lines(installed.hub, "user")
    assert (f"would run: useradd --system --user-group --home-dir {root}/var/lib/anxin --no-create-home "
            "--shell /usr/sbin/nologin --groups gpio,dialout,audio,bluetooth anxin") in user
    for group in ("gpio", "dialout", "audio", "bluetooth"):
        missing = subprocess.run(["getent", "group", group], capture_output=True).returncode != 0
        assert (f"would run: groupadd --system {group}" in user) == missing, group
    assert "would run: chown anxin:anxin " + f"{root}/var/lib/anxin" in lines(installed.hub, "owner")
    assert "would run: systemctl enable --quiet anxin-hub.service" in lines(installed.hub, "units")
    assert lines(installed.hub, "service") == [
        "not starting anxin-hub.service: not provisioned yet (no broker.tls in hub.yaml)"]
    assert any("anxin provision apply h042.bundle.yaml" in n for n in lines(installed.hub, "next"))


def test_the_station_has_its_ca_certificates_config_and_broker(installed: Installed) -> None:
    root, etc = installed.root, installed.root / "etc/anxin"
    modes = {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in [*(etc / "ca").iterdir(), *(etc / "tls").iterdir(),
                       *(root / "etc/mosquitto/anxin").iterdir()]}
    assert modes == {
        "etc/anxin/ca/ca.crt": 0o644, "etc/anxin/ca/ca.key": 0o600,
        "etc/anxin/tls/ca.crt": 0o644, "etc/anxin/tls/station-station.crt": 0o644,
        "etc/anxin/tls/station-station.key": 0o600,
        # mosquitto reads these after dropping root: group mosquitto (the chown below)
        **{f"etc/mosquitto/anxin/{f}": 0o640
           for f in ("ca.crt", "broker.crt", "broker.key", "acl", "mosquitto.conf")}}
    assert stat.S_IMODE((etc / "ca").stat().st_mode) == 0o700
    r = installed.anxin("check-config", str(etc / "station.yaml"), str(etc / "homes.yaml"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"{etc}/station.yaml: ok (station config)",
                                     f"{etc}/homes.yaml: ok (homes file)"]
    assert os.readlink(root / "etc/mosquitto/conf.d/anxin.conf") == "../anxin/mosquitto.conf"

    out = installed.station
    assert "mosquitto" in " ".join(lines(out, "packages"))  # to be installed or already there
    assert (f"would run: useradd --system --user-group --home-dir {root}/var/lib/anxin --no-create-home "
            "--shell /usr/sbin/nologin anxin") in lines(out, "user")  # no hardware groups
    assert f"would run: chown root:mosquitto {root}/etc/mosquitto/anxin" in " ".join(lines(out, "owner"))
    assert lines(out, "service") == ["would run: systemctl restart mosquitto.service",
                                     "would run: systemctl restart anxin-station.service"]
    assert any("anxin user add NAME --role admin" in n for n in lines(out, "next"))


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_installed_units_verify_and_point_into_the_prefix(installed: Installed) -> None:
    units = sorted((installed.root / "etc/systemd/system").glob("*.service"))
    assert [u.name for u in units] == ["anxin-hub.service", "anxin-station.service"]
    r = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True)
    assert (r.returncode, r.stderr.strip()) == (0, "")
    hub, root = settings(units[0]), installed.root
    assert hub["ExecStart"] == f"{root}/opt/anxin/venv/bin/anxin hub --config {root}/etc/anxin/hub.yaml"
    assert hub["ReadWritePaths"] == f"{root}/var/lib/anxin"
    assert (installed.root / "opt/anxin/README.md").exists()  # the units' Documentation=


class DebianMosquitto(Mosquitto):
    """Mosquitto started as Debian's package starts it: a main mosquitto.conf that sets
    persistence and logging and then includes conf.d, here holding the installed anxin.conf
    with only its listener moved to a free loopback port."""

    def __init__(self, workdir: Path, anxin_conf: Path, broker_files: TlsFiles) -> None:
        super().__init__(workdir, tls=broker_files)
        self.anxin_conf = anxin_conf

    def _write_secure(self, conf: Path, tls: TlsFiles) -> None:
        conf_d = self.workdir / "conf.d"
        conf_d.mkdir()
        installed = self.anxin_conf.read_text()
        assert re.search(r"^listener 8883$", installed, re.M)
        (conf_d / "anxin.conf").write_text(
            re.sub(r"^listener 8883$", f"listener {self.port} 127.0.0.1", installed, flags=re.M))
        conf.write_text(f"user {pwd.getpwuid(os.geteuid()).pw_name}\npersistence true\n"
                        f"persistence_location {self.workdir}/\nlog_dest file {self.workdir}/mosquitto.log\n"
                        f"include_dir {conf_d}\n")


def test_the_installed_broker_config_lets_in_station_and_hub_only(installed: Installed,
                                                                  tmp_path: Path) -> None:
    etc, broker_dir = installed.root / "etc/anxin", installed.root / "etc/mosquitto/anxin"
    hub = pki.issue_client(etc / "ca", "h042", stem="h042", out=tmp_path / "hub")  # by the installed CA
    files = TlsFiles(ca=broker_dir / "ca.crt", cert=broker_dir / "broker.crt", key=broker_dir / "broker.key")
    with DebianMosquitto(tmp_path / "broker", installed.root / "etc/mosquitto/conf.d/anxin.conf", files) as b:
        tls = etc / "tls"
        station = Peer(b.port, (tls / "ca.crt", tls / "station-station.crt", tls / "station-station.key"))
        hub_peer = Peer(b.port, (hub.ca, hub.cert, hub.key))
        stranger = Peer(b.port, (tls / "ca.crt", None, None))
        try:
            assert station.connect() and hub_peer.connect()
            station.subscribe("anxin/v1/hub/+/event")
            assert not hub_peer.publish(hub_topic("h042", "event")).is_failure
            station.wait_for(hub_topic("h042", "event"))
            assert hub_peer.publish(hub_topic("h001", "event")).is_failure  # the installed ACL
            assert not stranger.connect()
        finally:
            for p in (station, hub_peer):
                p.close()
    assert "peer did not return a certificate" in (tmp_path / "broker/mosquitto.log").read_text()


def test_a_second_run_changes_nothing_and_says_so(installed: Installed) -> None:
    changed = sorted(p for p in installed.before.keys() | installed.after.keys()
                     if installed.before.get(p) != installed.after.get(p))
    assert changed == []
    for out in (installed.hub_again, installed.station_again):
        assert lines(out, "done") == ["nothing changed: already installed"], out
        assert not re.search(r"^\w+: +(wrote|created|installed|issued|linked) ", out, re.M), out
    assert "ok, already installed from this source" in " ".join(lines(installed.hub_again, "anxin"))
    etc = installed.root / "etc/anxin"
    assert lines(installed.hub_again, "config")[0] == f"kept {etc}/hub.yaml (never overwritten)"
    assert lines(installed.station_again, "ca") == [f"ok, already there: {etc}/ca (never re-issued)"]
    assert lines(installed.station_again, "service") == ["would run: systemctl start mosquitto.service",
                                                         "would run: systemctl start anxin-station.service"]


def test_a_provisioned_hub_is_started(installed: Installed, tmp_path: Path) -> None:
    bundle = tmp_path / "h042.bundle.yaml"
    etc = installed.root / "etc/anxin"
    r = installed.anxin("provision", "issue", "h042", "--ca-dir", str(etc / "ca"), "--broker-host",
                        "station.test", "--out", str(bundle))
    assert r.returncode == 0, r.stderr
    r = installed.anxin("provision", "apply", str(bundle), "--config", str(etc / "hub.yaml"),
                        "--tls-dir", str(tmp_path / "hub-tls"), "--owner", pwd.getpwuid(os.geteuid()).pw_name)
    assert r.returncode == 0, r.stderr
    r = install(installed.src, "hub", "--prefix", str(installed.root), "--hub-id", "h042")
    assert r.returncode == 0, r.stderr
    assert lines(r.stdout, "config")[1].startswith("checked, provisioned:")
    assert lines(r.stdout, "service") == ["would run: systemctl start anxin-hub.service"]
    assert lines(r.stdout, "next") == []


@pytest.mark.parametrize(("args", "error"), [
    ([], "say what to install: hub or station"),
    (["router"], "unknown argument: router"),
    (["hub", "--bogus"], "unknown argument: --bogus"),
    (["hub", "--prefix"], "--prefix needs a value"),
    (["hub", "--hub-id", "--prefix", "x"], "--hub-id needs a value"),
    (["hub", "--hub-id", "Home 1"], "--hub-id Home 1: use a-z, 0-9, - and _"),
    (["station", "--hub-id", "h001"], "--hub-id is for a hub"),
    (["hub", "--broker-port", "99999"], "--broker-port 99999: not a port number"),
    (["hub", "station"], "give hub or station once"),
])
def test_a_bad_argument_is_a_clear_error_and_exit_2(tmp_path: Path, args: list[str], error: str) -> None:
    # A prefix at the end, so that a case which wrongly got through would still touch no system.
    r = subprocess.run(["bash", str(REPO / SCRIPT), *args, "--prefix", str(tmp_path / "root")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith(f"install.sh: {error}"), r.stderr
    assert not (tmp_path / "root").exists()


def test_an_unsupported_system_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('ID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40"\n')
    r = install(REPO, "hub", "--prefix", str(tmp_path / "root"), env={"ANXIN_OS_RELEASE": str(os_release)})
    assert r.returncode == 1
    assert "install.sh: error: unsupported system: Fedora Linux 40" in r.stderr
    assert not (tmp_path / "root").exists()


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed")
def test_the_script_is_shellcheck_clean() -> None:
    r = subprocess.run(["shellcheck", str(REPO / SCRIPT)], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "")


def test_help_exits_0() -> None:
    r = subprocess.run(["bash", str(REPO / SCRIPT), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: sudo bash systemd/install.sh hub|station")


@pytest.mark.parametrize(("model", "line"), [
    ("Raspberry Pi 4 Model B Rev 1.5", "dtoverlay=miniuart-bt"),  # Bluetooth gives up the PL011
    ("Raspberry Pi Zero 2 W Rev 1.0", "dtoverlay=miniuart-bt"),
    ("Raspberry Pi 5 Model B Rev 1.0", "dtparam=uart0=on"),  # Bluetooth has its own UART
])
def test_the_radar_uart_overlay_suits_the_pi_model(installed: Installed, model: str, line: str) -> None:
    boot = installed.root / "boot/firmware/config.txt"
    boot.unlink(missing_ok=True)
    r = install(installed.src, "hub", "--prefix", str(installed.root), env={"ANXIN_DT_MODEL": model})
    assert r.returncode == 0, r.stderr
    assert f"would run: echo {line} >> {boot}" in lines(r.stdout, "uart")
    boot.parent.mkdir(parents=True, exist_ok=True)
    boot.write_text(f"[all]\n{line}\n")
    r = install(installed.src, "hub", "--prefix", str(installed.root), env={"ANXIN_DT_MODEL": model})
    assert f"ok, already {line} in {boot}" in lines(r.stdout, "uart")
    boot.unlink()
