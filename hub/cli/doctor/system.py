"""The doctor's view of the machine: every probe that touches devices, files, the network or
the clock is a field of :class:`System`, so the checks stay plain decisions over what these
return. Tests swap single probes (an empty /sys, a nearly full disk, an unsynchronised clock)
and keep the others real.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import errno
import os
import pwd
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import serial  # type: ignore[import-untyped]  # pyserial ships no type information
from paho.mqtt.reasoncodes import ReasonCode

from drivers.audio import AudioUnavailable
from drivers.audio.device import portaudio
from drivers.gpio.pins import pin_factory
from drivers.modem import Modem, ModemStatus
from drivers.radar.models import model as model_spec
from drivers.radar.port import open_uart
from drivers.radar.readings import Received
from hub.common.configfile import ConfigError
from hub.common.transport import BrokerConfig, paho_client

if TYPE_CHECKING:  # the robots' HTTP client: only for a station with robots
    from console.station.notify.channel import ChannelError
    from console.station.notify.robot import GroupRobot

BluezAnswer = Literal["on", "off", "no-adapter", "no-bluez"] | None  # None: BlueZ not reachable
LoginOutcome = Literal["accepted", "refused", "tls-verify", "tls", "closed", "timeout", "error"]


@dataclass(frozen=True, slots=True)
class Heard:
    """What came out of the radar's port while the doctor listened."""

    received: int  # bytes
    frames: int  # valid frames of the configured model, a family T receipt aside (an echo is alike)


class PortBusy(Exception):
    """Another process holds the serial port (pyserial's exclusive lock): the running hub."""


@dataclass(frozen=True, slots=True)
class AudioDevice:
    name: str
    inputs: int  # channels
    outputs: int


@dataclass(frozen=True, slots=True)
class Login:
    """How one MQTT login went, in the terms the fix depends on."""

    outcome: LoginOutcome
    detail: str = ""  # the broker's reason, the TLS library's message, ...
    code: int | None = None  # OpenSSL's certificate verify code, for tls-verify


def _whoami() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def timedatectl_synced() -> bool | None:
    """systemd's NTPSynchronized; None where there is no timedatectl or no systemd."""
    try:
        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"yes": True, "no": False}.get(out.stdout.strip()) if out.returncode == 0 else None


class _Timex(ctypes.Structure):
    """The head of the kernel's struct timex (adjtimex(2)); the tail is room the call may fill."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("rest", ctypes.c_byte * 256)]


TIME_ERROR = 5  # adjtimex's return value for a clock nothing keeps synchronised
STA_UNSYNC = 0x0040


def adjtimex_synced() -> bool | None:
    """The kernel's own view (what timedatectl reads too): usable without systemd."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        timex = _Timex()  # modes 0: read only
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR and not timex.status & STA_UNSYNC


def bluez_powered(adapter: str, timeout: float) -> BluezAnswer:
    """Ask BlueZ over the system D-Bus (as bleak does) whether the adapter is powered."""
    from dbus_fast.errors import DBusFastError

    try:
        return asyncio.run(asyncio.wait_for(_bluez(adapter), timeout))
    except (OSError, TimeoutError, EOFError, DBusFastError):  # no system bus, not allowed, silent
        return None


async def _bluez(adapter: str) -> BluezAnswer:
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(Message(
            destination="org.bluez", path=f"/org/bluez/{adapter}", member="Get",
            interface="org.freedesktop.DBus.Properties", signature="ss",
            body=["org.bluez.Adapter1", "Powered"]))
    finally:
        bus.disconnect()
    if reply.message_type != MessageType.ERROR:
        return "on" if reply.body[0].value else "off"
    error = (reply.error_name or "").rsplit(".", 1)[-1]
    if error in ("ServiceUnknown", "NameHasNoOwner"):
        return "no-bluez"
    if error in ("UnknownObject", "UnknownMethod", "UnknownInterface", "InvalidArgs"):
        return "no-adapter"
    return None


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """PortAudio's ALSA probing writes to file descriptor 2 on many Pis; it is not our output."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def sounddevice_devices() -> list[AudioDevice]:
    """The sound devices PortAudio sees (what the voice path will open)."""
    with _stderr_silenced():
        sounddevice = portaudio()  # the audio driver's loader: AudioUnavailable says the fix
        try:
            found = sounddevice.query_devices()
        except Exception as e:  # sounddevice.PortAudioError: PortAudio could not start
            raise AudioUnavailable(f"{type(e).__name__}: {e}") from None
    return [AudioDevice(str(d["name"]), int(d["max_input_channels"]), int(d["max_output_channels"]))
            for d in found]


def real_pin_factory() -> str:
    """Build the pin factory the hub would use; its name, or GpioUnavailable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpiozero warns about each factory it falls back from
        factory = pin_factory("real")
    name = type(factory).__name__
    factory.close()
    return name


def listen_radar(port: str, model: str, seconds: float) -> Heard:
    """Open the port as the hub does, ask the model's keepalive query once and decode what comes
    back until the first valid frame or ``seconds``. PortBusy when another process holds it."""
    spec = model_spec(model)
    decoder = spec.decoder()
    try:
        ser = open_uart(port)
    except serial.SerialException as e:
        if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            raise PortBusy(str(e)) from None
        raise
    received = frames = 0
    with contextlib.closing(ser):
        ser.write(spec.commands.keepalive())
        deadline = time.monotonic() + seconds
        while not frames and time.monotonic() < deadline:
            data = ser.read(ser.in_waiting or 1)
            received += len(data)
            frames += sum(not isinstance(r, Received) for r in decoder.feed(data))
    return Heard(received, frames)


def modem_status(port: str, pin: str | None, timeout: float) -> ModemStatus:
    """One look at an SMS modem (SIM, registration, signal), opened as the station opens it.
    PortBusy when another process holds it."""
    from hub.cli.sms import port_busy

    if port_busy(port):
        raise PortBusy(port)

    async def look() -> ModemStatus:
        modem = Modem(port=port, pin=pin, command_s=timeout)
        try:
            return await modem.start(timeout=4 * timeout)
        finally:
            await asyncio.to_thread(modem.close)
    return asyncio.run(look())


def probe_robot(robot: GroupRobot) -> ChannelError | None:
    """What a group robot says to a probe that shows nothing in the group (GroupRobot.probe)."""
    from console.station.notify.channel import ChannelError

    async def probe() -> ChannelError | None:
        try:
            await robot.probe()
        except ChannelError as e:
            return e
        finally:
            await robot.aclose()
        return None
    return asyncio.run(probe())


def resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to (OSError, e.g. socket.gaierror, when it does not)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


def tcp_connect(address: str, port: int, timeout: float) -> None:
    socket.create_connection((address, port), timeout=timeout).close()


def mqtt_login(broker: BrokerConfig, client_id: str, timeout: float) -> Login:
    """One MQTT login with the hub's own client setup (credentials, TLS, host name check)."""
    try:
        c = paho_client(broker, client_id, persistent_session=False)
    except ConfigError as e:
        return Login("error", str(e))
    c.connect_timeout = timeout
    answer: dict[str, ReasonCode | None] = {}

    def connected(_c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        answer.setdefault("connack", rc)

    def closed(_c: Any, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        answer.setdefault("closed", None)

    c.on_connect, c.on_disconnect = connected, closed
    try:
        c.connect(broker.host, broker.port, broker.keepalive_s)
    except ssl.SSLCertVerificationError as e:
        return Login("tls-verify", str(e.verify_message), e.verify_code)
    except ssl.SSLError as e:
        return Login("tls", e.reason or str(e))
    except TimeoutError:
        return Login("timeout", "during the TLS handshake" if broker.tls else "connecting")
    except ConnectionError as e:
        return Login("closed", e.strerror or str(e))
    except OSError as e:
        return Login("error", e.strerror or str(e))
    deadline = time.monotonic() + timeout
    try:
        while not answer and time.monotonic() < deadline:
            c.loop(timeout=0.1)
        heard = dict(answer)  # before disconnect(), which calls on_disconnect itself
    finally:
        c.disconnect()
    if (rc := heard.get("connack")) is not None:
        return Login("refused", str(rc)) if rc.is_failure else Login("accepted")
    return Login("closed") if heard else Login("timeout", "no answer to CONNECT")


def quick_check(path: Path) -> str:
    """SQLite's quick_check, read-only (never creates the file; a WAL reader does not stop the
    running hub or station writing); raises sqlite3.DatabaseError for a file it cannot read."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    try:
        return "; ".join(str(r[0]) for r in db.execute("PRAGMA quick_check(1)"))
    finally:
        db.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class System:
    """Where the checks look. Defaults are this machine; tests replace fields."""

    sys_root: Path = Path("/sys")
    dev_root: Path = Path("/dev")
    proc_root: Path = Path("/proc")
    boot_dirs: tuple[Path, ...] = (Path("/boot/firmware"), Path("/boot"))  # Bookworm, then older
    user: str = field(default_factory=_whoami)
    access: Callable[[Path, int], bool] = os.access
    statvfs: Callable[[Path], os.statvfs_result] = os.statvfs
    ntp_synchronized: Callable[[], bool | None] = timedatectl_synced
    kernel_synchronized: Callable[[], bool | None] = adjtimex_synced
    bluez: Callable[[str, float], BluezAnswer] = bluez_powered
    audio_devices: Callable[[], list[AudioDevice]] = sounddevice_devices
    pin_factory: Callable[[], str] = real_pin_factory
    listen_radar: Callable[[str, str, float], Heard] = listen_radar
    modem_status: Callable[[str, str | None, float], ModemStatus] = modem_status
    probe_robot: Callable[[GroupRobot], ChannelError | None] = probe_robot
    resolve: Callable[[str, int], list[str]] = resolve
    tcp: Callable[[str, int, float], None] = tcp_connect
    mqtt_login: Callable[[BrokerConfig, str, float], Login] = mqtt_login
    quick_check: Callable[[Path], str] = quick_check
    now: Callable[[], dt.datetime] = _now
    listen_s: float = 2.0  # how long to wait for a radar frame
    timeout_s: float = 3.0  # network steps and D-Bus

    def boot_file(self, name: str) -> str | None:
        """A Raspberry Pi boot file (config.txt, cmdline.txt); None when this is not a Pi."""
        for folder in self.boot_dirs:
            with contextlib.suppress(OSError):
                return (folder / name).read_text(errors="replace")
        return None

    def processes(self) -> set[str]:
        """Names of the running programs (as in /proc/PID/comm)."""
        names = set()
        with contextlib.suppress(OSError):
            for entry in self.proc_root.iterdir():
                if entry.name.isdigit():
                    with contextlib.suppress(OSError):
                        names.add((entry / "comm").read_text().strip())
        return names
