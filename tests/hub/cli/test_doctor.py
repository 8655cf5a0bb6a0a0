"""`anxin doctor`: on a machine with every piece missing or wrong, each is reported with its fix;
on a healthy one (real TLS Mosquitto, a pty radar playing frames) every check is OK.

Real parts where this machine has them: Mosquitto, pseudo-terminals, certificates, SQLite files,
the filesystem. What a test machine cannot have (a Bluetooth adapter, GPIO chips, a nearly full
disk, a synchronised clock) comes from a System with those probes swapped or its /sys, /dev
and /proc pointed at folders the test builds.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from console.station.config import StationConfig
from console.station.trust import pki
from console.station.trust.broker import Mosquitto, free_port
from console.station.trust.brokerconf import TlsFiles
from drivers.modem.sim import SimModem
from drivers.radar.port import open_uart
from drivers.radar.sim import SimRadar
from hub.cli.demo import ANXIN, demo_hub, write_yaml
from hub.cli.doctor import devices, host, network
from hub.cli.doctor import notify as doctor_notify
from hub.cli.doctor.report import Finding, Status, exit_code, render_text
from hub.cli.doctor.run import run
from hub.cli.doctor.system import AudioDevice, AudioUnavailable, System
from hub.common.transport import BrokerConfig
from hub.runtime.config import BleConfig, GpioConfig, RadarConfig, SpeakerConfig
from hub.runtime.store import HubStore
from tests.conftest import REPO
from tests.support.robots import DingTalkRobotServer, WebhookServer, WeComRobotServer
from tests.support.tls import Pki

UTC = dt.UTC
SPEAKERPHONE = AudioDevice("USB speakerphone", inputs=1, outputs=2)


def machine(tmp_path: Path, **probes: Any) -> System:
    """An empty machine (no /sys entries, no /dev/gpiochip*, no processes, no Pi boot files),
    short timeouts; every other probe real unless given."""
    for d in ("sys", "dev", "proc", "boot"):
        (tmp_path / d).mkdir(exist_ok=True)
    base: dict[str, Any] = {
        "sys_root": tmp_path / "sys", "dev_root": tmp_path / "dev", "proc_root": tmp_path / "proc",
        "boot_dirs": (tmp_path / "boot",), "bluez": lambda adapter, timeout: None,
        "audio_devices": lambda: [], "ntp_synchronized": lambda: False, "listen_s": 0.5,
        "timeout_s": 1.0}
    return System(**{**base, **probes})


def with_bluetooth(system: System, *, blocked: str | None = None, bluetoothd: bool = True) -> None:
    """hci0 in /sys with its rfkill switch, and bluetoothd in /proc."""
    switch = system.sys_root / "class/bluetooth/hci0/rfkill3"
    switch.mkdir(parents=True)
    (switch / "soft").write_text("1\n" if blocked == "soft" else "0\n")
    (switch / "hard").write_text("1\n" if blocked == "hard" else "0\n")
    if bluetoothd:
        (system.proc_root / "412").mkdir()
        (system.proc_root / "412/comm").write_text("bluetoothd\n")


def hub_yaml(tmp_path: Path, **over: Any) -> Path:
    data: dict[str, Any] = {
        "hub_id": "h001", "data_dir": str(tmp_path / "data"),
        "broker": {"host": "127.0.0.1", "port": free_port()},
        "buttons": [{"name": "bedside", "pin": 17}], "relays": [{"name": "gas_valve", "pin": 25}],
        "radar": {"model": "mr60fda2", "port": str(tmp_path / "dev/ttyUSB0")},
        "ble": {"sensors": [{"name": "kitchen_smoke", "mac": "A4:C1:38:00:00:01", "type": "smoke"}]}}
    return write_yaml(tmp_path / "etc/hub.yaml", {**data, **over})


def lines(findings: list[Finding], check: str) -> list[tuple[Status, str, str]]:
    return [(f.status, f.found, f.fix) for f in findings if f.check == check]


def only(findings: list[Finding], check: str) -> Finding:
    [found] = [f for f in findings if f.check == check]
    return found


def sign(ca_dir: Path, cn: str, out: Path, start: dt.datetime, end: dt.datetime) -> Path:
    """A certificate from the CA in ca_dir with the given validity (pki only issues current ones)."""
    ca_cert = x509.load_pem_x509_certificate((ca_dir / pki.CA_CERT).read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / pki.CA_KEY).read_bytes(), None)
    holder = serialization.load_pem_private_key((ca_dir / "h001.key").read_bytes(), None)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_cert.subject).public_key(holder.public_key())  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return out


# --- everything missing or wrong --------------------------------------------------------------


def test_a_hub_with_every_piece_missing_or_wrong(tmp_path: Path) -> None:
    ca = Pki(tmp_path)
    ca.files("h001")
    ca.files("h002")
    expired = sign(ca.dir, "h001", tmp_path / "old.crt", dt.datetime(2020, 1, 1, tzinfo=UTC),
                   dt.datetime(2021, 1, 1, tzinfo=UTC))
    other_key = ca.dir / "h002.key"  # the key of another certificate ...
    other_key.chmod(0o644)  # ... readable by everyone
    closed = free_port()  # nothing listens
    cfg = hub_yaml(tmp_path, gpio={"backend": "real"}, broker={
        "host": "127.0.0.1", "port": closed,
        "tls": {"ca": str(ca.dir / "ca.crt"), "cert": str(expired), "key": str(other_key)}})
    data = tmp_path / "data"
    data.mkdir()
    (data / "hub.db").write_bytes(b"this is not a database, it was cut short" * 100)
    nearly_full = os.statvfs_result((4096, 4096, 250_000, 12_000, 12_000, 0, 0, 0, 0, 255))
    system = machine(tmp_path, statvfs=lambda path: nearly_full)

    loaded, findings = run(cfg, system)

    assert loaded.hub is not None and loaded.tls_broken  # only TLS is wrong: the rest still checked
    [config] = lines(findings, "config")
    assert config[0] is Status.FAIL and "is not the key of the certificate" in config[1]
    assert config[2] == "see the tls lines"
    radar = only(findings, "radar")
    assert radar.status is Status.FAIL and radar.found == f"{tmp_path}/dev/ttyUSB0 does not exist"
    assert "`ls -l /dev/serial/by-id/`" in radar.fix
    bt = only(findings, "bluetooth")
    assert (bt.status, bt.found) == (Status.FAIL, "no Bluetooth adapter hci0")
    assert "USB Bluetooth adapter" in bt.fix
    gpio = only(findings, "gpio")
    assert gpio.status is Status.FAIL and "gpio.backend: sim" in gpio.fix
    assert lines(findings, "audio") == [
        (Status.WARN, "no sound output device", "plug in the USB speakerphone; `aplay -l` must list it"),
        (Status.WARN, "no microphone (sound input device)",
         "two-way voice needs the speakerphone's microphone; `arecord -l` must list it")]
    broker = only(findings, "broker")
    assert broker.status is Status.FAIL
    assert broker.found == f"127.0.0.1:{closed} refused the connection: nothing listens there"
    assert broker.fix == "start Mosquitto: `sudo systemctl enable --now mosquitto`"
    tls = {found: (status, fix) for status, found, fix in lines(findings, "tls")}
    assert tls == {
        f"{other_key} is mode 0644: other users can read the private key":
            (Status.FAIL, f"`chmod 600 {other_key}`"),
        f"{other_key} is not the key of {expired}": (Status.FAIL, tls_fix(closed)),
        f"{expired} expired on 2021-01-01": (Status.FAIL, tls_fix(closed))}
    clock = only(findings, "clock")
    assert clock.status is Status.WARN and "`sudo timedatectl set-ntp true`" in clock.fix
    disk = only(findings, "disk")
    assert disk.status is Status.FAIL and disk.found == f"{data}: only 47 MB free of 977 MB"
    assert "journalctl --vacuum-size" in disk.fix
    outbox = only(findings, "outbox")
    assert outbox.status is Status.FAIL and "cannot be read as a database" in outbox.found
    assert "moves a damaged outbox aside" in outbox.fix
    assert exit_code(findings) == 1
    assert all(f.fix for f in findings if f.status in (Status.WARN, Status.FAIL))


def tls_fix(port: int) -> str:
    return ("on the station, `anxin provision issue h001 --ca-dir /etc/anxin/ca --broker-host "
            "127.0.0.1`; here, `sudo anxin provision apply h001.bundle.yaml`")


def test_the_cli_reports_a_broken_hub_line_by_line_and_exits_1(tmp_path: Path) -> None:
    """The real command, as the installer runs it: nothing injected."""
    cfg = hub_yaml(tmp_path, ble={"adapter": "hci9", "sensors": [
        {"name": "kitchen_smoke", "mac": "A4:C1:38:00:00:01", "type": "smoke"}]})
    out = subprocess.run([*ANXIN, "doctor", "--config", str(cfg)], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 1, out.stderr
    text = out.stdout.splitlines()
    assert text[0].startswith(f"anxin doctor: hub h001 ({cfg}), checked as {getpass.getuser()}")
    assert any(re.fullmatch(r"OK    config     hub h001: config and \d+ rules load", line) for line in text)
    assert f"FAIL  radar      {tmp_path}/dev/ttyUSB0 does not exist — fix: plug in the radar's " \
        "USB-serial adapter; `ls -l /dev/serial/by-id/` lists the ports there: set radar.port to one" in text
    assert any(line.startswith("FAIL  bluetooth  no Bluetooth adapter hci9") for line in text)
    assert any(line.startswith("FAIL  broker     127.0.0.1:") and "refused the connection" in line
               for line in text)
    assert "SKIP  tls        plain MQTT on this machine's loopback" in text
    assert text[-1].startswith(("3 FAIL", "4 FAIL"))  # gpio FAILs unless this machine is a Pi

    out = subprocess.run([*ANXIN, "doctor", "--config", str(cfg), "--json"], capture_output=True,
                         text=True, timeout=60, cwd=REPO)
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and doc["ok"] is False and doc["kind"] == "hub"
    radar = next(c for c in doc["checks"] if c["check"] == "radar")
    assert radar["status"] == "FAIL" and "does not exist" in radar["found"] and radar["fix"]


# --- a healthy hub ----------------------------------------------------------------------------


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Pki, Mosquitto]]:
    ca = Pki(tmp_path)
    with Mosquitto(tmp_path / "broker", tls=ca.broker) as broker:
        yield ca, broker


def test_a_healthy_hub_is_all_ok(tmp_path: Path, tls_broker: tuple[Pki, Mosquitto]) -> None:
    ca, broker = tls_broker
    link = tmp_path / "dev/ttyUSB0"
    cfg = hub_yaml(tmp_path, gpio={"backend": "real"}, broker={
        "host": "127.0.0.1", "port": broker.port, "tls": ca.tls("h001")})
    store = HubStore(tmp_path / "data/hub.db")
    store.put("e1", b"{}", alarm=True, alarm_kind="panic", raised=time.time())
    store.close()
    system = machine(tmp_path, bluez=lambda adapter, timeout: "on", pin_factory=lambda: "LGPIOFactory",
                  audio_devices=lambda: [SPEAKERPHONE], ntp_synchronized=lambda: True)
    with_bluetooth(system)
    (system.dev_root / "gpiochip0").touch()

    with SimRadar(model="mr60fda2", link=link) as radar:
        _, findings = run(cfg, system)
        assert radar.heard  # the doctor asked the radar, as the hub does

    assert [f for f in findings if f.status is not Status.OK] == []
    found = {f.check: f.found for f in findings}
    assert found["radar"] == f"{link}: valid mr60fda2 frames within 0.5 s"
    assert found["bluetooth"] == "hci0: present, not blocked, powered; bluetoothd running"
    assert found["gpio"] == "gpiochip0; pin factory LGPIOFactory"
    assert found["audio"] == "output USB speakerphone; input USB speakerphone"
    assert found["broker"] == f"127.0.0.1:{broker.port}: MQTT login accepted (TLS, as h001)"
    assert found["tls"].startswith("h001.crt: CN h001, signed by ca.crt, valid until ")
    assert found["outbox"].startswith(f"{tmp_path}/data/hub.db: intact (quick_check), ")
    assert exit_code(findings) == 0


def test_a_healthy_station_passes_through_the_cli(tmp_path: Path, broker: Mosquitto) -> None:
    """The real command on a station with a real broker, database and homes file: no FAIL.
    (The clock line is whatever this machine's clock is: a WARN does not fail.)"""
    db = tmp_path / "var/station.db"
    db.parent.mkdir()
    HubStore(db).close()  # any intact SQLite file: quick_check reads it
    cfg = write_yaml(tmp_path / "station.yaml", {
        "station_id": "qingshi", "database": str(db), "homes_file": str(REPO / "config/homes.yaml"),
        "broker": {"port": broker.port}})
    out = subprocess.run([*ANXIN, "doctor", "--config", str(cfg)], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout.splitlines()
    assert text[0].startswith(f"anxin doctor: station qingshi ({cfg})")
    assert "OK    config    station qingshi: config loads" in text
    assert f"OK    homes     {REPO}/config/homes.yaml: 5 homes" in text
    assert f"OK    broker    127.0.0.1:{broker.port}: MQTT login accepted (plain MQTT)" in text
    assert any(line.startswith(f"OK    database  {db}: intact (quick_check)") for line in text)
    assert "FAIL" not in out.stdout


def test_a_station_with_missing_pieces(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    db.write_bytes(b"\0" * 4096)
    cfg = write_yaml(tmp_path / "station.yaml", {
        "database": str(db), "homes_file": "homes.yaml", "broker": {"port": free_port()}})
    _, findings = run(cfg, machine(tmp_path))
    homes = only(findings, "homes")
    assert homes.status is Status.FAIL
    assert homes.found == f"{tmp_path}/homes.yaml: cannot read: No such file or directory"
    assert only(findings, "database").status is Status.FAIL
    broker = only(findings, "broker")
    assert broker.status is Status.FAIL and "systemctl enable --now mosquitto" in broker.fix
    assert exit_code(findings) == 1


# --- the radar --------------------------------------------------------------------------------


def radar_check(tmp_path: Path, port: Path, model: str = "mr60fda2", **probes: Any) -> Finding:
    [finding] = devices.radar(RadarConfig(model=model, port=str(port)), machine(tmp_path, **probes))
    return finding


def test_a_radar_of_another_model_is_heard_but_not_understood(tmp_path: Path) -> None:
    link = tmp_path / "dev/ttyUSB0"
    with SimRadar(model="c1001", link=link, heartbeat_s=0.05):  # family S bytes on the line
        finding = radar_check(tmp_path, link, model="mr60fda2")
    assert finding.status is Status.FAIL
    assert "bytes in 0.5 s but no valid mr60fda2 frame" in finding.found
    assert "check radar.model" in finding.fix and "115200 8N1" in finding.fix


def test_a_silent_radar_points_at_the_wiring_and_the_pi_uart(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        link = tmp_path / "dev/ttyAMA0"  # named as the Pi's own UART
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.ttyname(slave))
        (tmp_path / "boot").mkdir()
        (tmp_path / "boot/config.txt").write_text("[all]\ndtparam=audio=on\n#enable_uart=1\n")
        (tmp_path / "boot/cmdline.txt").write_text("console=serial0,115200 console=tty1 root=PARTUUID=x\n")
        finding = radar_check(tmp_path, link)
    finally:
        os.close(master)
        os.close(slave)
    assert (finding.status, finding.found) == (Status.FAIL, f"{link}: nothing from the radar in 0.5 s")
    assert finding.fix == (
        "check the radar's 5 V and GND, and that its TX goes to the Pi's RX and its RX to TX; "
        "config.txt has no enable_uart=1: `sudo raspi-config nonint do_serial_hw 0` and reboot; "
        "on a Pi 3, 4 or Zero 2 W Bluetooth has ttyAMA0: add dtoverlay=miniuart-bt to config.txt "
        "(Bluetooth moves to the mini-UART, the sensors keep working) and reboot; "
        "the serial console is on (console= in cmdline.txt) and talks over the radar: "
        "`sudo raspi-config nonint do_serial_cons 1` and reboot")


def test_a_missing_pi_uart_says_why(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot/config.txt").write_text("enable_uart=1\ndtoverlay=miniuart-bt\n")
    finding = radar_check(tmp_path, tmp_path / "dev/ttyAMA0")
    assert finding.fix == ("enable the Pi's UART: `sudo raspi-config nonint do_serial_hw 0`, reboot; "
                           "`ls -l /dev/serial*` shows the UARTs there are")
    (tmp_path / "boot/config.txt").write_text("dtparam=audio=on\n")
    assert radar_check(tmp_path, tmp_path / "dev/serial0").fix == (
        "config.txt has no enable_uart=1: `sudo raspi-config nonint do_serial_hw 0` and reboot")


def test_a_radar_port_the_hub_holds_is_a_warning(tmp_path: Path) -> None:
    link = tmp_path / "dev/ttyUSB0"
    with SimRadar(model="mr60fda2", link=link), open_uart(str(link)):  # as the running hub holds it
        finding = radar_check(tmp_path, link)
    assert finding.status is Status.WARN and "in use by another program" in finding.found
    assert "sudo systemctl stop anxin-hub" in finding.fix


def test_a_radar_port_that_is_no_serial_device_or_not_ours(tmp_path: Path) -> None:
    plain = tmp_path / "dev/ttyUSB0"
    plain.parent.mkdir(parents=True)
    plain.write_text("")
    assert "is not a serial device" in radar_check(tmp_path, plain).found
    master, slave = os.openpty()
    try:
        tty = Path(os.ttyname(slave))
        denied = radar_check(tmp_path, tty, access=lambda path, mode: path != tty)
    finally:
        os.close(master)
        os.close(slave)
    assert denied.status is Status.FAIL
    assert denied.found.startswith(f"{getpass.getuser()} may not read and write {tty} (crw")
    assert denied.fix.startswith("`sudo usermod -aG ")


# --- Bluetooth, GPIO, sound -------------------------------------------------------------------


@pytest.mark.parametrize(("blocked", "bluetoothd", "bluez", "found", "fix"), [
    ("soft", True, "off", "hci0 is blocked (rfkill)", "`sudo rfkill unblock bluetooth`"),
    ("hard", True, "off", "hci0 is blocked by a hardware switch (rfkill hard)", "turn the switch"),
    (None, False, None, "bluetoothd is not running", "`sudo systemctl enable --now bluetooth`"),
    (None, True, "no-bluez", "bluetoothd is not running", "`sudo systemctl enable --now bluetooth`"),
    (None, True, "off", "hci0 is powered off", "`bluetoothctl power on`"),
    (None, True, "no-adapter", "BlueZ does not know hci0", "`sudo systemctl restart bluetooth`"),
])
def test_bluetooth_problems_each_have_their_fix(tmp_path: Path, blocked: str | None, bluetoothd: bool,
                                                bluez: str | None, found: str, fix: str) -> None:
    system = machine(tmp_path, bluez=lambda adapter, timeout: bluez)
    with_bluetooth(system, blocked=blocked, bluetoothd=bluetoothd)
    with_sensor = BleConfig.model_validate({"sensors": [
        {"name": "smoke", "mac": "A4:C1:38:00:00:01", "type": "smoke"}]})
    [finding] = devices.bluetooth(with_sensor, system)
    assert (finding.status, finding.found) == (Status.FAIL, found) and finding.fix.startswith(fix)
    [unpaired] = devices.bluetooth(BleConfig(), system)  # no sensors yet: only `anxin pair` needs it
    assert (unpaired.status, unpaired.found) == (Status.WARN, found)


def test_bluetooth_without_an_answer_from_bluez(tmp_path: Path) -> None:
    system = machine(tmp_path)  # bluez: None, as where this user may not reach the system bus
    with_bluetooth(system)
    [finding] = devices.bluetooth(BleConfig(), system)
    assert finding.status is Status.WARN and "BlueZ does not answer" in finding.found
    assert "group bluetooth" in finding.fix


def test_bluetooth_names_the_adapter_that_is_there(tmp_path: Path) -> None:
    system = machine(tmp_path)
    (system.sys_root / "class/bluetooth/hci1").mkdir(parents=True)
    [finding] = devices.bluetooth(BleConfig(adapter="hci0"), system)
    assert finding.found == "no Bluetooth adapter hci0 (there is hci1)"
    assert finding.fix == "set ble.adapter to hci1"


def test_gpio_the_user_may_not_use(tmp_path: Path) -> None:
    system = machine(tmp_path, access=lambda path, mode: False, pin_factory=lambda: "LGPIOFactory")
    (system.dev_root / "gpiochip0").touch()
    [finding] = devices.gpio(GpioConfig(backend="real"), system)
    assert finding.status is Status.FAIL
    assert finding.found.startswith(f"{system.user} may not use {system.dev_root}/gpiochip0 (-rw-")
    assert finding.fix.startswith("`sudo usermod -aG ") and "log out and in again" in finding.fix
    assert devices.gpio(GpioConfig(backend="sim"), system)[0].status is Status.SKIP


def test_no_portaudio(tmp_path: Path) -> None:
    def missing() -> list[AudioDevice]:
        raise AudioUnavailable("PortAudio library not found")

    [finding] = devices.audio(SpeakerConfig(backend="audio"), machine(tmp_path, audio_devices=missing))
    assert finding == Finding("audio", Status.WARN, "PortAudio does not load (PortAudio library not "
                              "found)", "`sudo apt install libportaudio2`")


def test_a_simulated_home_needs_no_hardware(tmp_path: Path) -> None:
    """The demo's hub.yaml on a PC without a sound card, Bluetooth, GPIO or a radar: every
    device is simulated, so none is warned about (the speaker was: "no sound output device")."""
    cfg = write_yaml(tmp_path / "hub.yaml", demo_hub("h001", 0, free_port()))
    _, findings = run(cfg, machine(tmp_path))
    assert [(f.check, f.status, f.found) for f in findings
            if f.check in ("radar", "bluetooth", "gpio", "audio")] == [
        ("radar", Status.SKIP, "simulated (radar.backend: sim)"),
        ("bluetooth", Status.SKIP, "simulated (ble.backend: sim)"),
        ("gpio", Status.SKIP, "simulated (gpio.backend: sim)"),
        ("audio", Status.SKIP, "simulated (speaker.backend: sim)")]


# --- the broker and TLS -----------------------------------------------------------------------


def hub_identity() -> network.Identity:
    return network.Identity("h001", "REISSUE")


def broker_check(tmp_path: Path, cfg: dict[str, Any], **probes: Any) -> Finding:
    [finding] = network.broker(BrokerConfig.model_validate(cfg), machine(tmp_path, **probes),
                               identity=hub_identity(), client_id="anxin-doctor-test")
    return finding


def test_broker_tls_failures_are_told_apart(tmp_path: Path, tls_broker: tuple[Pki, Mosquitto]) -> None:
    ca, broker = tls_broker
    other = Pki(tmp_path / "other")  # another station's CA
    at = {"host": "127.0.0.1", "port": broker.port}

    wrong_ca = broker_check(tmp_path, {**at, "tls": {**ca.tls("h001"), "ca": str(other.dir / "ca.crt")}})
    assert wrong_ca.status is Status.FAIL
    assert wrong_ca.found.startswith(f"127.0.0.1:{broker.port}: the broker's certificate is not "
                                     f"signed by {other.dir / 'ca.crt'} (")
    assert wrong_ca.fix == "broker.tls.ca must be the station CA: REISSUE"

    stranger = broker_check(tmp_path, {**at, "tls": {**other.tls("h001"), "ca": str(ca.dir / "ca.crt")}})
    assert stranger.found == (f"127.0.0.1:{broker.port} closed the connection at login: it did not "
                              "accept this client certificate (from another CA?)")

    by_name = broker_check(tmp_path, {**at, "host": "localhost", "tls": ca.tls("h001")})
    assert by_name.status is Status.OK  # the broker certificate names localhost too

    plain = broker_check(tmp_path, at)  # plain MQTT to a TLS-only port
    assert plain.found == f"127.0.0.1:{broker.port} closed the connection at login (a TLS-only port?)"
    assert plain.fix == "a TLS broker needs broker.tls: REISSUE"


def test_broker_certificate_for_another_host(tmp_path: Path) -> None:
    ca = Pki(tmp_path)
    pki.issue_server(ca.dir, ["station.lan"], stem="lan")
    with Mosquitto(tmp_path / "broker", tls=TlsFiles(ca.dir / "ca.crt", ca.dir / "lan.crt",
                                                     ca.dir / "lan.key")) as broker:
        finding = broker_check(tmp_path, {"host": "127.0.0.1", "port": broker.port,
                                          "tls": ca.tls("h001")})
    assert finding.found.startswith(f"127.0.0.1:{broker.port}: the broker's certificate does not "
                                    "name 127.0.0.1 (IP address mismatch")
    assert "`anxin ca issue-broker --host 127.0.0.1 …`" in finding.fix


@pytest.fixture
def login_required(tmp_path: Path) -> Iterator[int]:
    """A Mosquitto that lets nobody in without a password (none is set up)."""
    port, folder = free_port(), tmp_path / "strict"
    folder.mkdir()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\nuser {getpass.getuser()}\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "mosquitto did not start"
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def test_broker_login_refused(tmp_path: Path, login_required: int) -> None:
    anonymous = broker_check(tmp_path, {"port": login_required})
    assert anonymous.found == f"127.0.0.1:{login_required} refused the MQTT login: Not authorized"
    assert anonymous.fix == "this broker wants a login: REISSUE"
    wrong = broker_check(tmp_path, {"port": login_required, "username": "h001", "password": "x"})
    assert wrong.fix == "check broker.username and broker.password"


def test_broker_that_never_answers_mqtt(tmp_path: Path) -> None:
    with socket.socket() as mute:  # the kernel accepts the connection; nobody speaks
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        port = mute.getsockname()[1]
        finding = broker_check(tmp_path, {"port": port}, timeout_s=0.3)
    assert finding.found == f"127.0.0.1:{port}: no MQTT answer within 0.3 s (no answer to CONNECT)"


@pytest.mark.parametrize(("error", "found"), [
    (socket.gaierror(-2, "Name or service not known"),
     "cannot resolve station.lan (Name or service not known)"),
    (TimeoutError(), "no answer from station.lan:8883 within 1 s"),
    (OSError(113, "No route to host"), "cannot reach station.lan:8883 (No route to host)"),
])
def test_network_failures_before_mqtt(tmp_path: Path, error: OSError, found: str) -> None:
    """What loopback cannot show (no DNS name, a dropped packet, no route), through the probes."""
    def fails(*_: object) -> Any:
        raise error

    probes: dict[str, Callable[..., Any]] = {"tcp": fails, "resolve": lambda host, port: ["10.0.0.9"]}
    if isinstance(error, socket.gaierror):
        probes = {"resolve": fails}
    finding = broker_check(tmp_path, {"host": "station.lan", "port": 8883}, **probes)
    assert (finding.status, finding.found) == (Status.FAIL, found)


def test_tls_expiring_soon_or_not_yet_valid(tmp_path: Path) -> None:
    ca = Pki(tmp_path)
    ca_file, cert, key = ca.files("h001")
    files = TlsFiles(ca_file, cert, key)
    end = x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc

    soon = machine(tmp_path, now=lambda: end - dt.timedelta(days=10, hours=1))
    [warning] = network.tls(files, "station.lan", hub_identity(), soon)
    assert warning == Finding("tls", Status.WARN, f"{cert} expires on {end.date()}, in 10 days",
                              "before then: REISSUE")

    booted = machine(tmp_path, now=lambda: dt.datetime(1970, 1, 1, tzinfo=UTC))  # no RTC, no NTP yet
    found = network.tls(files, "station.lan", hub_identity(), booted)
    assert {f.fix for f in found} == {"fix the clock (see clock)"} and len(found) == 2  # cert and CA

    [plain] = network.tls(None, "station.lan", hub_identity(), soon)
    assert plain.status is Status.WARN and plain.found.startswith("plain MQTT to station.lan")


def test_tls_certificate_of_another_hub(tmp_path: Path) -> None:
    ca = Pki(tmp_path)
    cfg = hub_yaml(tmp_path, broker={"host": "127.0.0.1", "port": free_port(), "tls": ca.tls("h002")})
    loaded, findings = run(cfg, machine(tmp_path))
    assert loaded.tls_broken
    assert only(findings, "config").found.endswith(
        "the certificate is for 'h002', not for hub_id 'h001' (issue one with `anxin ca issue-hub h001`)")
    assert only(findings, "tls").found == f"{ca.dir / 'h002.crt'} is for 'h002', not 'h001'"
    assert only(findings, "broker").status is Status.FAIL  # still checked: nothing listens


# --- config, clock, disk ----------------------------------------------------------------------


def test_a_config_that_does_not_load(tmp_path: Path) -> None:
    loaded, findings = run(tmp_path / "hub.yaml", machine(tmp_path))
    assert loaded.kind is None
    assert [(f.check, f.status) for f in findings] == [("config", Status.FAIL), ("clock", Status.WARN)]
    assert findings[0].found.endswith("hub.yaml: cannot read: No such file or directory")

    bad = hub_yaml(tmp_path, buttons=[{"name": "bedside", "pin": 40}])
    loaded, findings = run(bad, machine(tmp_path))
    assert loaded.kind == "hub" and loaded.hub is None
    assert findings[0].found == f"{bad}: buttons.0.pin: Input should be less than or equal to 27"
    assert findings[0].fix == f"edit hub.yaml; `anxin check-config {bad}` checks it again"
    assert {f.check for f in findings if f.status is Status.SKIP} == {
        "radar", "bluetooth", "gpio", "audio", "broker", "tls", "disk", "outbox"}


@pytest.mark.parametrize(("timedatectl", "kernel", "status", "found"), [
    (True, None, Status.OK, "synchronised (timedatectl)"),
    (None, True, Status.OK, "synchronised (the kernel (adjtimex))"),
    (None, False, Status.WARN, "not synchronised, says the kernel (adjtimex)"),
    (None, None, Status.WARN, "cannot tell whether the clock is synchronised"),
])
def test_clock(tmp_path: Path, timedatectl: bool | None, kernel: bool | None, status: Status,
               found: str) -> None:
    system = machine(tmp_path, ntp_synchronized=lambda: timedatectl, kernel_synchronized=lambda: kernel,
                  now=lambda: dt.datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    [finding] = host.clock(system)
    assert (finding.status, finding.found) == (status, f"{found}; it is 2026-11-24 09:30 UTC here")


def test_the_real_clock_probes_answer(tmp_path: Path) -> None:
    """timedatectl or adjtimex(2) on this machine: one of them says something, without hanging."""
    system = System()
    assert system.ntp_synchronized() is not None or system.kernel_synchronized() is not None


def test_disk_space_and_access(tmp_path: Path) -> None:
    def free(mb: int) -> Callable[[Path], os.statvfs_result]:
        return lambda path: os.statvfs_result((4096, 4096, 10**6, 0, mb * 256, 0, 0, 0, 0, 255))

    [low] = host.disk(tmp_path, machine(tmp_path, statvfs=free(500)), service="anxin-hub")
    assert low.status is Status.WARN and low.found == f"{tmp_path}: only 500 MB free of 3906 MB"
    [locked] = host.disk(tmp_path, machine(tmp_path, access=lambda p, m: False), service="anxin-hub")
    assert (locked.status, locked.fix) == (Status.FAIL, f"`sudo chown -R {getpass.getuser()} {tmp_path}`")
    [unmade] = host.disk(tmp_path / "var/lib/anxin", machine(tmp_path, access=lambda p, m: False),
                         service="anxin-hub")
    assert unmade.status is Status.WARN and "StateDirectory" in unmade.fix


def test_the_report_text() -> None:
    findings = [Finding("radar", Status.OK, "/dev/ttyAMA0: valid mr60fda2 frames within 2 s"),
                Finding("clock", Status.WARN, "not synchronised", "`sudo timedatectl set-ntp true`")]
    assert render_text("anxin doctor: hub h001", findings) == (
        "anxin doctor: hub h001\n"
        "OK    radar  /dev/ttyAMA0: valid mr60fda2 frames within 2 s\n"
        "WARN  clock  not synchronised — fix: `sudo timedatectl set-ntp true`\n"
        "1 WARN, 1 OK: nothing is failing")


# --- the station's notification channels --------------------------------------------------------

KEY, TOKEN = "693a91f6-7f9c-4bc4-97a0-0ec2e1fa5aaa", "a" * 64
SECRET = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"


def notify_findings(tmp_path: Path, notify: dict[str, Any] | None, **probes: Any) -> list[Finding]:
    """The doctor's notify lines for a station whose notify file holds ``notify``."""
    data: dict[str, Any] = {"database": str(tmp_path / "station.db")}
    if notify is not None:
        write_yaml(tmp_path / "notify.yaml", notify)
        data["notify_file"] = str(tmp_path / "notify.yaml")
    cfg = StationConfig.model_validate(data)
    return doctor_notify.channels(cfg, machine(tmp_path, **probes))


@pytest.fixture
def modem_sim(tmp_path: Path) -> Iterator[SimModem]:
    with SimModem(link=tmp_path / "dev/ttyUSB2") as sim:
        yield sim


def test_a_healthy_modem_says_its_sim_network_and_signal(tmp_path: Path, modem_sim: SimModem) -> None:
    found = notify_findings(tmp_path, {"modem": {"port": str(modem_sim.link)}})
    assert [f.status for f in found] == [Status.OK] * 3
    assert found[0].found.endswith("answers; SIM READY")
    assert found[1].found == "registered (home) on CHINA MOBILE, LTE"
    assert found[2].found == "signal -65 dBm (4 of 4 bars)"
    assert modem_sim.sent == []  # asked, not made to text


@pytest.mark.parametrize(("trouble", "status", "found", "fix"), [
    (lambda s: setattr(s, "sim", "NOT INSERTED"), Status.FAIL, "+CME ERROR 10 (SIM not inserted)",
     "insert a SIM card"),
    (lambda s: setattr(s, "registration", 2), Status.FAIL, "not registered on a network (searching)",
     "antenna"),
    (lambda s: setattr(s, "rssi", 5), Status.WARN, "signal -103 dBm (1 of 4 bars): SMS may be slow",
     "nearer a window"),
], ids=["no-sim", "not-registered", "weak-signal"])
def test_the_modems_trouble_with_its_fix(tmp_path: Path, modem_sim: SimModem,
                                         trouble: Callable[[SimModem], None], status: Status,
                                         found: str, fix: str) -> None:
    trouble(modem_sim)
    lines = notify_findings(tmp_path, {"modem": {"port": str(modem_sim.link)}})
    assert lines[-1].status is status and found in lines[-1].found, lines
    assert fix in lines[-1].fix
    assert exit_code(lines) == (1 if status is Status.FAIL else 0)


def test_a_modem_the_station_holds_missing_or_simulated(tmp_path: Path, modem_sim: SimModem) -> None:
    held = open_uart(str(modem_sim.link))  # exclusively, as the running station holds it
    try:
        [busy] = notify_findings(tmp_path, {"modem": {"port": str(modem_sim.link)}})
    finally:
        held.close()
    assert busy.status is Status.WARN and "in use by another program" in busy.found
    assert "systemctl stop anxin-station" in busy.fix
    [missing] = notify_findings(tmp_path, {"modem": {"port": str(tmp_path / "dev/ttyUSB9")}})
    assert missing.status is Status.FAIL and "ttyUSB9 does not exist" in missing.found
    [sim] = notify_findings(tmp_path, {"modem": {"port": str(tmp_path / "m"), "backend": "sim"}})
    assert sim.status is Status.SKIP
    [none] = notify_findings(tmp_path, None)
    assert none.status is Status.WARN and "nobody outside the station is told" in none.found


def test_robots_are_probed_without_a_post_in_the_group(tmp_path: Path) -> None:
    with WeComRobotServer(KEY) as wecom, DingTalkRobotServer(TOKEN, secret=SECRET) as ding, \
            WebhookServer() as hook:
        good = notify_findings(tmp_path, {"channels": {
            "wecom": {"key": KEY, "base_url": wecom.base_url},
            "dingtalk": {"access_token": TOKEN, "secret": SECRET, "base_url": ding.base_url},
            "webhook": {"url": hook.url}}})[1:]  # after the modem's SKIP
        assert [f.status for f in good] == [Status.OK] * 3, good
        assert len(wecom.received) == len(ding.received) == 1  # asked once each…
        assert wecom.accepted == ding.accepted == [] and hook.received == []  # …nothing shown
        assert "nothing was posted" in good[0].found and "notify test" in good[2].found
        bad = notify_findings(tmp_path, {"channels": {
            "wecom": {"key": "0" * 36, "base_url": wecom.base_url},
            "dingtalk": {"access_token": TOKEN, "secret": SECRET[:-4] + "0000",
                         "base_url": ding.base_url},
            "webhook": {"url": f"http://127.0.0.1:{free_port()}/anxin"}}})[1:]
    assert [f.status for f in bad] == [Status.FAIL] * 3
    assert "errcode 93000" in bad[0].found and "notify.channels.wecom.key" in bad[0].fix
    assert "errcode 310000" in bad[1].found and "sign not match" in bad[1].found
    assert "加签" in bad[1].fix
    assert "cannot reach 127.0.0.1" in bad[2].found
