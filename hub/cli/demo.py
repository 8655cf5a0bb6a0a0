"""``anxin demo``: a private broker, simulated homes, the station service and the console.

Every part runs as its own process, exactly as in the field (``anxin hub``, ``anxin
station``), only with simulated hardware and a Mosquitto on a free loopback port. The broker
runs a station's configuration: TLS, a certificate per part from the demo's own CA (made in
the demo folder on the first start), the ACL; nobody else on the machine gets in. State lives
in the demo folder so ``anxin sim`` can find the homes from a second terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from shlex import quote
from typing import Any

import yaml

from console.station.trust.broker import Mosquitto
from console.station.trust.localca import LocalCa
from console.station.trust.pki import console_identity, hub_identity, station_identity
from hub.cli import demo_dir
from hub.common.configfile import ConfigError
from hub.common.shipped import SHIPPED
from hub.runtime.config import DEFAULT_PROMPTS

SOURCE_CONFIG = SHIPPED  # the repository's config/
MAX_HOMES = 10
DEMO_RADARS = ("mr60fda2", "c1001", "mr60fda1")
DEMO_BINDKEY = "231d39c1d7cc1ab1aee224cd096db932"  # a public test key: the demo's sensors only
# The demo console's account, a supervisor; the password is public: the demo's station only.
DEMO_USER, DEMO_DISPLAY, DEMO_PASSWORD = "demo", "演示主管", "anxin-demo"
DEMO_STATION = "demo"  # station_id
# Console identities, a config each beside station.yaml (station/desk1.yaml, …): the demo's
# own console is the first; consoles on one certificate would read each other's replies.
DESKS = ("desk1", "desk2", "desk3")


ANXIN = (sys.executable, "-m", "hub.cli.main")  # every part runs the same CLI as in the field


def write_yaml(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def spawn(args: list[str], log: Path, *, launcher: Sequence[str] = ANXIN,
          env: Mapping[str, str] | None = None,
          own_session: bool = False) -> subprocess.Popen[bytes]:
    """Start one part (``anxin ARGS``) as its own process, logging to ``log`` and its stderr
    beside it (``.err``); ``launcher`` and ``env`` let a test wrap it (e.g. with a faked clock).
    ``own_session``: out of the terminal's reach (its Ctrl-C, its hangup), so only whoever
    started it stops it, with SIGTERM: a hub takes SIGHUP for "reload", it would outlive a
    closed terminal."""
    return subprocess.Popen([*launcher, "--log-file", str(log), *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(log.with_suffix(".err"), "wb"), env=env,
                            start_new_session=own_session)


def wait_for(paths: list[Path], procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Until every path exists; fails as soon as a part has exited."""
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            missing = ", ".join(str(p) for p in paths if not p.exists())
            raise RuntimeError(f"demo parts did not start (waiting for {missing}); see the "
                               "*.log and *.err files beside them")
        time.sleep(0.05)


def demo_homes(homes: int) -> list[dict[str, Any]]:
    """The first ``homes`` elder records of the shipped homes.yaml."""
    if not 1 <= homes <= MAX_HOMES:
        raise ConfigError(f"--homes must be between 1 and {MAX_HOMES}")
    records = yaml.safe_load((SOURCE_CONFIG / "homes.yaml").read_text(encoding="utf-8"))
    return list(records["homes"][:homes])


def demo_station(port: int, tls: dict[str, str] | None = None) -> dict[str, Any]:
    """station.yaml for a station folder that holds homes.yaml; a console's config is the
    same with the console's certificate."""
    return {"station_id": DEMO_STATION, "database": "station.db", "homes_file": "homes.yaml",
            "broker": demo_broker(port, tls), "offline_after_s": 15, "escalate_after_s": 60}


def demo_notify(station: Path) -> dict[str, Any]:
    """The station's notify file: a simulated modem in its folder, the shipped policy."""
    return {"modem": {"port": str(station / "modem.tty"), "backend": "sim"}}


def demo_broker(port: int, tls: dict[str, str] | None) -> dict[str, Any]:
    """``broker``: plain without ``tls`` (the tests' brokers), else TLS with this identity."""
    return {"port": port, **({"tls": tls} if tls else {})}


def demo_hub(hub: str, i: int, port: int, tls: dict[str, str] | None = None) -> dict[str, object]:
    """A fully equipped simulated home; the radar model and BLE protocol vary between homes.
    Its speakerphone is a simulated room whose elder says `demo_elder` into the microphone,
    so an officer who calls hears someone."""
    mac = f"A4:C1:38:{i:02X}:00:"
    return {
        "hub_id": hub, "data_dir": ".", "broker": demo_broker(port, tls),
        "link": {"heartbeat_s": 5, "retry_s": 5}, "gpio": {"backend": "sim"},
        "speaker": {"backend": "sim", "sim_voice": str(DEFAULT_PROMPTS / "zh_CN" / "demo_elder.wav")},
        "buttons": [{"name": "bedside", "pin": 17, "location": "卧室床头"},
                    {"name": "cord", "pin": 27, "location": "卫生间拉绳"},
                    {"name": "cancel", "pin": 23, "role": "cancel"}],
        "status_led": {"pin": 22}, "siren": {"pin": 24}, "mains": {"pin": 5},
        "relays": [{"name": "gas_valve", "pin": 25}],
        "radar": {"model": DEMO_RADARS[i % len(DEMO_RADARS)], "backend": "sim", "room": "卧室"},
        "ble": {"backend": "sim", "sensors": [
            {"name": "kitchen_smoke", "mac": mac + "01", "type": "smoke", "room": "厨房",
             "bindkey": DEMO_BINDKEY},
            {"name": "kitchen_gas", "mac": mac + "02", "type": "gas", "room": "厨房"},
            {"name": "front_door", "mac": mac + "03", "type": "door", "room": "门厅"},
            {"name": "bath_leak", "mac": mac + "04", "type": "leak", "room": "卫生间"},
            {"name": "pendant", "mac": mac + "05", "type": "button", "room": "随身"}]},
        # the first home has its own SMS modem: with the station away, it texts the contacts
        **({"modem": {"backend": "sim"}} if i == 0 else {}),
    }


def start(workdir: Path, homes: int) -> tuple[Mosquitto, list[subprocess.Popen[bytes]]]:
    """Start broker, station and homes; returns them for the caller to stop."""
    chosen = demo_homes(homes)
    for leftover in ("hubs", "broker", "station"):
        shutil.rmtree(workdir / leftover, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    ca = LocalCa(workdir / "tls")
    broker = Mosquitto(workdir / "broker", tls=ca.broker, stations=[DEMO_STATION], consoles=DESKS)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        broker.start()
        station = workdir / "station"
        write_yaml(station / "homes.yaml", {"homes": chosen})
        shutil.copy(SOURCE_CONFIG / "responders.yaml", station / "responders.yaml")
        write_yaml(station / "notify.yaml", demo_notify(station))
        station_cfg = write_yaml(station / "station.yaml", {
            **demo_station(broker.port, ca.tls(station_identity(DEMO_STATION))),
            "notify_file": "notify.yaml", "responders_file": "responders.yaml"})
        for desk in DESKS:
            write_yaml(station / f"{desk}.yaml",
                       demo_station(broker.port, ca.tls(console_identity(desk))))
        demo_user(station_cfg)
        procs.append(spawn(["station", "--config", str(station_cfg)], station / "station.log",
                           own_session=True))
        wait_for([station / "station.db-wal"], procs, 15)  # the service has opened the database
        sockets = []
        for i, home in enumerate(chosen):
            hub_dir = workdir / "hubs" / home["hub"]
            hub_cfg = write_yaml(hub_dir / "hub.yaml",
                                 demo_hub(home["hub"], i, broker.port, ca.tls(hub_identity(home["hub"]))))
            procs.append(spawn(["hub", "--config", str(hub_cfg)], hub_dir / "hub.log",
                               own_session=True))
            sockets.append(hub_dir / "sim.sock")
        wait_for(sockets, procs, 15)
        (workdir / "demo.json").write_text(json.dumps(
            {"broker_port": broker.port, "homes": [h["hub"] for h in chosen],
             "station_config": str(station_cfg), "pids": [p.pid for p in procs]}, indent=2))
    except BaseException:
        Stopper.ignore()  # the demo ends: a second signal must not cut this short
        stop(broker, procs)
        raise
    return broker, procs


def demo_user(station_cfg: Path) -> Path:
    """Make the demo's console account before the station starts, and a password file (0600)
    beside station.yaml, so the demo console logs in by itself."""
    from console.station.config import load_station_config
    from console.station.store.station import StationStore
    from console.station.users import Role

    cfg = load_station_config(station_cfg)
    store = StationStore(cfg.location, login=cfg.login)
    try:
        store.users.add(DEMO_USER, DEMO_DISPLAY, Role.SUPERVISOR, DEMO_PASSWORD,
                        actor=f"os:{getpass.getuser()}", now=time.time())
    finally:
        store.close()
    path = station_cfg.parent / "demo.password"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(DEMO_PASSWORD + "\n")
    return path


def stop(broker: Mosquitto, procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop the parts and reap them: SIGTERM, SIGKILL for any still there after 5 s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    broker.stop()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
CONSOLE_EXIT_S = 5  # how long a signalled console has to quit before the demo ends without it


def terminal_gone() -> bool:
    """Whether the demo's terminal has hung up (closed window, ``tmux kill-session``): then
    every operation on it fails with EIO."""
    try:
        termios.tcgetattr(sys.__stdin__.fileno())  # type: ignore[union-attr]
    except termios.error as e:
        return bool(e.args and e.args[0] == errno.EIO)
    except (AttributeError, OSError, ValueError):  # no stdin, or a closed one
        return False
    return False


class Stopper:
    """What SIGTERM (a service manager, ``kill``), SIGHUP (its terminal closed: a closed window,
    ``tmux kill-session``, a dropped SSH session) and SIGINT do to the demo: end it like Ctrl-C
    (headless) or like quitting the console, stopping its parts on the way out.

    Left to their default, SIGTERM and SIGHUP would end the demo on the spot and leave the
    broker and the homes running (a hub takes SIGHUP as "reload its rules")."""

    def __init__(self) -> None:
        self.app: Any = None  # the console, once it runs
        self.parts: tuple[Mosquitto, list[subprocess.Popen[bytes]]] | None = None
        self.exiting = False

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) != signal.SIG_IGN:  # `nohup anxin demo` outlives its terminal
                signal.signal(sig, self)

    def __call__(self, signum: int, frame: object) -> None:
        if self.app is None or self.parts is None:  # headless, or no console yet
            raise KeyboardInterrupt
        if self.exiting:  # a second signal: the first one is being dealt with
            return
        self.exiting = True
        # The console quits as on `q`, restoring the terminal if there still is one. It may be
        # anywhere in its event loop now: the loop is asked to, it is not done here.
        with contextlib.suppress(RuntimeError):  # no loop: not running yet, or not any more
            asyncio.get_running_loop().call_soon_threadsafe(self.app.exit)
        # But the parts stop now, not once the console is out: Textual can hang on its way out
        # when its terminal has gone (its output queue full, its writer dead of the hangup).
        stop(*self.parts)
        if terminal_gone():  # hung up: no screen to restore, and Textual would hang on it
            os._exit(0)
        # and a console that does hang does not keep the demo process: it is only a UI now
        watchdog = threading.Timer(CONSOLE_EXIT_S, os._exit, (0,))
        watchdog.daemon = True
        watchdog.start()

    @staticmethod
    def ignore() -> None:
        """While the parts stop: a second signal (a closed terminal after a SIGTERM, a second
        Ctrl-C) must not cut that short and leave some of them running."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def headless_hint(workdir: Path, hub: str) -> str:
    """What to type in a second terminal: the demo's folder is in each command, so they work
    whichever demo `anxin sim` would find by itself."""
    venv = ".venv/bin/anxin"
    sim = f"{venv} sim" if workdir == demo_dir.default() else f"{venv} sim --demo-dir {quote(str(workdir))}"
    station = workdir / "station"
    return (f"In a second terminal:  {sim} {hub} press   (then: {sim} {hub} prompts; what the "
            f"station texted: {sim} modem sent; a contact accepts: {sim} modem reply PHONE 1). "
            "The console: "
            f"{venv} console --config {quote(str(station / f'{DESKS[0]}.yaml'))} --password-file "
            f"{quote(str(station / 'demo.password'))} --user {DEMO_USER} (password {DEMO_PASSWORD}; "
            f"a second one at once: {DESKS[1]}.yaml, a third {DESKS[2]}.yaml).")


def run_demo(workdir: Path, *, homes: int, lang: str, headless: bool) -> int:
    from console.station.config import load_station_config
    from console.tui.app import ConsoleApp
    from drivers.audio import AudioUnavailable
    from hub.voice.officer_phone import console_phone

    stopper = Stopper()
    stopper.install()
    print(f"anxin demo: starting broker, station and {homes} simulated homes in {workdir} …")
    try:
        broker, procs = start(workdir, homes)
    except KeyboardInterrupt:  # start() has stopped what it had started
        return 0
    try:
        stopper.parts = broker, procs
        demo_dir.record(workdir)
        hubs = json.loads((workdir / "demo.json").read_text())["homes"]
        if headless:
            print(f"anxin demo: running on 127.0.0.1:{broker.port} (TLS: only the demo's parts, "
                  f"with their certificates from {workdir / 'tls'}, get in). "
                  f"{headless_hint(workdir, hubs[0])} Ctrl-C stops it.")
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
            print("anxin demo: a part stopped; see the logs in", workdir, file=sys.stderr)
            return 1
        cfg = load_station_config(workdir / "station" / f"{DESKS[0]}.yaml")
        try:  # the officer hears the simulated elder on this PC's headset, if it has one
            phone = console_phone("device")
        except AudioUnavailable as e:
            print(f"anxin demo: calls use a silent loopback headset ({e})")
            phone = console_phone("loopback")
        app = ConsoleApp(cfg, user=DEMO_USER, password_file=workdir / "station" / "demo.password",
                         language=lang, demo_dir=workdir, phone=phone)  # type: ignore[arg-type]
        app.demo_hint = {"hub": hubs[0], "user": DEMO_USER, "password": DEMO_PASSWORD}
        stopper.app = app
        app.run()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stopper.ignore()
        stop(broker, procs)
        demo_dir.forget(workdir)
