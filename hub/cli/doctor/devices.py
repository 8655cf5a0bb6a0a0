"""The home's devices: the radar's serial port, the Bluetooth adapter, GPIO and sound."""

from __future__ import annotations

import grp
import os
import re
import stat
from pathlib import Path

import serial  # type: ignore[import-untyped]  # pyserial ships no type information

from drivers.gpio.pins import GpioUnavailable
from drivers.radar.models import MODELS
from hub.cli.doctor.report import Finding, fail, ok, problem, skip, warn
from hub.cli.doctor.system import AudioUnavailable, PortBusy, System
from hub.runtime.config import BleConfig, GpioConfig, RadarConfig, SpeakerConfig

RW = os.R_OK | os.W_OK
ONBOARD_UART = re.compile(r"^(ttyAMA\d+|ttyS\d+|serial\d)$")  # the Pi's own UARTs, not USB adapters
RELOGIN = "then log out and in again (the hub's systemd unit adds the group by itself)"


def radar(cfg: RadarConfig | None, system: System) -> list[Finding]:
    """The port exists and is ours, and valid frames of the configured model come out of it."""
    if cfg is None:
        return [skip("radar", "no radar in the config")]
    if cfg.backend == "sim":
        return [skip("radar", "simulated (radar.backend: sim)")]
    port = Path(cfg.port)
    onboard = bool(ONBOARD_UART.match(port.name))
    pi = pi_uart_hints(port.name, system.boot_file("config.txt"), system.boot_file("cmdline.txt")) \
        if onboard else []
    if not port.exists():
        if onboard:
            fix = "; ".join(pi) or ("enable the Pi's UART: `sudo raspi-config nonint do_serial_hw "
                                    "0`, reboot; `ls -l /dev/serial*` shows the UARTs there are")
        else:
            fix = ("plug in the radar's USB-serial adapter; `ls -l /dev/serial/by-id/` lists the "
                   "ports there: set radar.port to one")
        return [fail("radar", f"{port} does not exist", fix)]
    mode = port.stat().st_mode
    if not stat.S_ISCHR(mode):
        return [fail("radar", f"{port} is not a serial device ({stat.filemode(mode)})",
                     "set radar.port to the radar's serial port (/dev/ttyAMA0, /dev/serial/by-id/…)")]
    if not system.access(port, RW):
        group = group_of(port)
        return [fail("radar", f"{system.user} may not read and write {port} ({owner_of(port)})",
                     f"`sudo usermod -aG {group} {system.user}`, {RELOGIN}")]
    try:
        heard = system.listen_radar(str(port), cfg.model, system.listen_s)
    except PortBusy:
        return [warn("radar", f"{port} is in use by another program (the running hub?): frames "
                     "not checked", "to test the radar, stop the hub (`sudo systemctl stop "
                     "anxin-hub`), run doctor, then `sudo systemctl start anxin-hub`")]
    except (OSError, serial.SerialException) as e:
        return [fail("radar", f"cannot open {port}: {e}", "check radar.port and the adapter")]
    if heard.frames:
        return [ok("radar", f"{port}: valid {cfg.model} frames within {system.listen_s:g} s")]
    if heard.received:
        families = "; ".join(f"family {f}: {', '.join(n for n, m in MODELS.items() if m.family == f)}"
                             for f in ("T", "S"))
        return [fail("radar", f"{port}: {heard.received} bytes in {system.listen_s:g} s but no valid "
                     f"{cfg.model} frame", _also(f"check radar.model ({families}) and that the "
                                                 "port runs at 115200 8N1", pi))]
    return [fail("radar", f"{port}: nothing from the radar in {system.listen_s:g} s", _also(
        "check the radar's 5 V and GND, and that its TX goes to the Pi's RX and its RX to TX", pi))]


def pi_uart_hints(port_name: str, config_txt: str | None, cmdline: str | None) -> list[str]:
    """Why a Pi's own UART may say nothing: it is off, the kernel's serial console has it, or
    (ttyAMA0 on a Pi 3, 4 or Zero 2 W) Bluetooth has it. ``None``: no such file, not a Pi."""
    hints = []
    if config_txt is not None and not re.search(r"^\s*enable_uart\s*=\s*1", config_txt, re.M):
        hints.append("config.txt has no enable_uart=1: `sudo raspi-config nonint do_serial_hw 0` "
                     "and reboot")
    if config_txt is not None and port_name == "ttyAMA0" and not re.search(
            r"^\s*dtoverlay\s*=\s*(pi3-)?(miniuart|disable)-bt", config_txt, re.M):
        hints.append("on a Pi 3, 4 or Zero 2 W Bluetooth has ttyAMA0: add dtoverlay=miniuart-bt to "
                     "config.txt (Bluetooth moves to the mini-UART, the sensors keep working) and reboot")
    if cmdline is not None and re.search(r"\bconsole=(serial\d|ttyAMA\d+|ttyS\d+)", cmdline):
        hints.append("the serial console is on (console= in cmdline.txt) and talks over the radar: "
                     "`sudo raspi-config nonint do_serial_cons 1` and reboot")
    return hints


def bluetooth(cfg: BleConfig, system: System) -> list[Finding]:
    """The adapter is there, not blocked, powered, and bluetoothd runs. Without sensors nothing
    scans yet (only `anxin pair` needs it), so problems are warnings then."""
    if cfg.backend == "sim":
        return [skip("bluetooth", "simulated (ble.backend: sim)")]
    serious = bool(cfg.sensors)
    adapter = cfg.adapter
    folder = system.sys_root / "class" / "bluetooth"
    if not (folder / adapter).exists():
        there = sorted(p.name for p in folder.glob("hci*")) if folder.is_dir() else []
        found = f"no Bluetooth adapter {adapter}" + (f" (there is {', '.join(there)})" if there else "")
        fix = (f"set ble.adapter to {there[0]}" if there else "on a Pi 3, 4, 5 or Zero 2 W it is "
               "built in: remove dtoverlay=disable-bt from config.txt and check `sudo systemctl "
               "status hciuart`; elsewhere plug in a USB Bluetooth adapter")
        return [problem("bluetooth", serious, found, fix)]
    findings = []
    blocked = _rfkill(folder / adapter)
    if blocked == "hard":
        findings.append(problem("bluetooth", serious, f"{adapter} is blocked by a hardware switch "
                                "(rfkill hard)", "turn the switch (or the laptop's airplane mode) off"))
    elif blocked == "soft":
        findings.append(problem("bluetooth", serious, f"{adapter} is blocked (rfkill)",
                                "`sudo rfkill unblock bluetooth`"))
    powered = system.bluez(adapter, system.timeout_s)
    running = "bluetoothd" in system.processes()
    if powered == "no-bluez" or (powered is None and not running):
        findings.append(problem("bluetooth", serious, "bluetoothd is not running",
                                "`sudo systemctl enable --now bluetooth`"))
    elif powered == "no-adapter":
        findings.append(problem("bluetooth", serious, f"BlueZ does not know {adapter}",
                                "`sudo systemctl restart bluetooth`"))
    elif powered == "off" and not blocked:
        findings.append(problem("bluetooth", serious, f"{adapter} is powered off",
                                "`bluetoothctl power on`"))
    elif powered is None:
        findings.append(warn("bluetooth", f"{adapter} is present and bluetoothd runs, but BlueZ does "
                             f"not answer {system.user} on the system D-Bus (the hub scans through it)",
                             "`systemctl status dbus bluetooth`; the user needs D-Bus access to "
                             "org.bluez (group bluetooth on Raspberry Pi OS)"))
    return findings or [ok("bluetooth", f"{adapter}: present, not blocked, powered; bluetoothd running")]


def _rfkill(adapter: Path) -> str | None:
    """'hard', 'soft' or None (not blocked, or no rfkill switch for it)."""
    for switch in adapter.glob("rfkill*"):
        for kind in ("hard", "soft"):
            try:
                if (switch / kind).read_text().strip() == "1":
                    return kind
            except OSError:
                continue
    return None


def gpio(cfg: GpioConfig, system: System) -> list[Finding]:
    """The GPIO character devices are there and ours, and gpiozero finds its pin factory."""
    if cfg.backend == "sim":
        return [skip("gpio", "simulated (gpio.backend: sim)")]
    chips = sorted(system.dev_root.glob("gpiochip*"))
    if not chips:
        return [fail("gpio", f"no {system.dev_root}/gpiochip*: not a Raspberry Pi, or its GPIO driver "
                     "is missing", "on a Pi, update Raspberry Pi OS; elsewhere set gpio.backend: sim")]
    if denied := [c for c in chips if not system.access(c, RW)]:
        group = group_of(denied[0])
        return [fail("gpio", f"{system.user} may not use {denied[0]} ({owner_of(denied[0])})",
                     f"`sudo usermod -aG {group} {system.user}`, {RELOGIN}")]
    try:
        factory = system.pin_factory()
    except GpioUnavailable as e:
        return [fail("gpio", str(e).split(";")[0],  # the rest of its text is our fix, said better here
                     "`sudo apt install python3-lgpio` (the hub's venv must be made with "
                     "--system-site-packages), or `pip install lgpio` into the venv")]
    return [ok("gpio", f"{', '.join(c.name for c in chips)}; pin factory {factory}")]


def audio(cfg: SpeakerConfig, system: System) -> list[Finding]:
    """The speakerphone: PortAudio loads and sees an output and an input. Problems are warnings
    (the hub still raises alarms without it); a simulated speaker needs no sound device."""
    if cfg.backend == "sim":
        return [skip("audio", "simulated (speaker.backend: sim)")]
    try:
        devices = system.audio_devices()
    except AudioUnavailable as e:
        return [warn("audio", f"PortAudio does not load ({e})", "`sudo apt install libportaudio2`")]
    outputs = [d.name for d in devices if d.outputs]
    inputs = [d.name for d in devices if d.inputs]
    findings = []
    if not outputs:
        findings.append(warn("audio", "no sound output device", "plug in the USB speakerphone; "
                             "`aplay -l` must list it"))
    if not inputs:
        findings.append(warn("audio", "no microphone (sound input device)", "two-way voice needs "
                             "the speakerphone's microphone; `arecord -l` must list it"))
    return findings or [ok("audio", f"output {outputs[0]}; input {inputs[0]}")]


def _also(fix: str, hints: list[str]) -> str:
    return "; ".join([fix, *hints])


def group_of(path: Path) -> str:
    gid = path.stat().st_gid
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def owner_of(path: Path) -> str:
    st = path.stat()
    return f"{stat.filemode(st.st_mode)} group {group_of(path)}"
