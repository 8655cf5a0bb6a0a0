"""The station's notification channels: its SMS modem (SIM, registration, signal) and whether the
group robots and the county platform can be reached, when the notify file configures them.

Nothing is sent: the modem is asked, not made to text; a robot is sent an empty text, which it
refuses after checking the key (and DingTalk the signature), so the group sees nothing; the
platform's webhook is only connected to, since any post to it would be a record there.
`anxin notify test` sends a real test message through each.
"""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import urlsplit

from console.station.config import StationConfig
from console.station.notify.config import Channels, ModemConfig, NotifyFile, build, load_notify
from console.station.notify.robot import GroupRobot
from drivers.modem import WeakSignal
from drivers.modem.modem import PORT_HINT
from hub.cli.doctor.devices import RW, owner_of
from hub.cli.doctor.report import Finding, fail, ok, skip, warn
from hub.cli.doctor.system import PortBusy, System
from hub.common.configfile import ConfigError

TEST = "`anxin notify test --to YOUR_MOBILE --channel {channel}` sends a test message"


def channels(cfg: StationConfig, system: System) -> list[Finding]:
    if cfg.notify_file is None:
        return [warn("notify", "no notify_file: nobody outside the station is told of an alarm",
                     "set notify_file in station.yaml (config/notify.yaml, docs/notify.md)")]
    try:
        notify: NotifyFile = load_notify(cfg.notify_file)
    except ConfigError as e:
        return [fail("notify", line, f"edit {cfg.notify_file.name}; `anxin check-config "
                     f"{cfg.notify_file}` checks it again") for line in str(e).splitlines()]
    return [*modem(notify.modem, system), *robots(notify.channels, system)]


def modem(cfg: ModemConfig | None, system: System) -> list[Finding]:
    """The port is there and ours, the modem answers, its SIM is ready, it is registered on a
    network and the signal is good enough."""
    if cfg is None:
        return [skip("modem", "no modem in the notify file: nothing goes by SMS")]
    if cfg.backend == "sim":
        return [skip("modem", "simulated (modem.backend: sim)")]
    port = Path(cfg.port)
    if not port.exists():
        return [fail("modem", f"{port} does not exist", PORT_HINT)]
    if not stat.S_ISCHR(port.stat().st_mode):
        return [fail("modem", f"{port} is not a serial device", PORT_HINT)]
    if not system.access(port, RW):
        return [fail("modem", f"{system.user} may not read and write {port} ({owner_of(port)})",
                     f"`sudo usermod -aG dialout {system.user}` (the group of the port), then "
                     "restart the station")]
    try:
        status = system.modem_status(cfg.port, cfg.pin.get_secret_value() if cfg.pin else None,
                                     system.timeout_s)
    except PortBusy:
        return [warn("modem", f"{port} is in use by another program (the running station?): SIM, "
                     "network and signal not checked", "to check them, stop the station (`sudo "
                     "systemctl stop anxin-station`), run doctor, then start it again")]
    if status.trouble is not None and not isinstance(status.trouble, WeakSignal):
        return [fail("modem", f"{port}: {status.trouble.problem}", status.trouble.fix)]
    found = [ok("modem", f"{port}: {status.model or 'the modem'} answers; SIM {status.sim or 'ready'}"),
             ok("modem", f"registered ({status.registration}) on {status.operator or 'a network'}"
                + (f", {status.technology}" if status.technology else ""))]
    signal = f"signal {status.signal_dbm} dBm ({status.bars} of 4 bars)"
    if status.trouble is not None:
        return [*found, warn("modem", f"{signal}: SMS may be slow or fail", status.trouble.fix)]
    return [*found, ok("modem", signal)]


def robots(cfg: Channels, system: System) -> list[Finding]:
    """Each robot reached and its key accepted (nothing shown in the group); the platform reached."""
    found = []
    for channel in build(cfg):
        if isinstance(channel, GroupRobot):
            error = system.probe_robot(channel)
            found.append(ok(channel.name, "reached, the robot takes our key; nothing was posted "
                            "(a keyword is checked only on a real message: "
                            + TEST.format(channel=channel.name) + ")") if error is None else
                         fail(channel.name, f"{error.text} [{error.code}]", error.fix or
                              TEST.format(channel=channel.name)))
    if cfg.webhook is not None:
        found.append(_platform(cfg.webhook.url, system))
    return found


def _platform(url: str, system: System) -> Finding:
    u = urlsplit(url)
    host, port = u.hostname or "", u.port or (443 if u.scheme == "https" else 80)
    try:
        for address in system.resolve(host, port)[:1]:
            system.tcp(address, port, system.timeout_s)
    except OSError as e:
        return fail("webhook", f"cannot reach {host}:{port} ({e})", "check the station's network "
                    "and notify.channels.webhook.url; ask the county platform whether it is up")
    return ok("webhook", f"{host}:{port} reached (TCP); nothing was posted, as a post would be a "
              f"record on the platform: {TEST.format(channel='webhook')}")
