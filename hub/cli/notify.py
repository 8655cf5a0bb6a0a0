"""``anxin notify test --to PHONE [--channel C] [--config station.yaml]``: a test message through
the station's configured channels, saying exactly what failed.

An installer runs it once the modem and the robots are set up, before the first alarm needs
them. One line per channel, as the doctor prints them (hub/cli/doctor/report.py): OK with what
went, or FAIL with what the modem, the network, the robot or the platform said (``+CMS ERROR
330 (SMSC address unknown)``, a robot's errcode with its meaning, an HTTP status) and the fix.
The modem is opened as the station opens it; while the station runs, it holds the port, so
this says to stop the station first rather than fight it for the port.

Exit status: 0 every channel tried sent; 1 a channel failed (its line says why); 2 a bad
command line or config (a number that is not a mainland mobile, a channel that is not
configured, a config that does not load).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli.phones import mobile

if TYPE_CHECKING:
    from console.station.notify.channel import Channel
    from console.station.notify.config import ModemConfig, NotifyFile
    from hub.cli.doctor.report import Finding

CHANNELS = ("modem", "wecom", "dingtalk", "webhook")  # modem: the SMS channel ("sms" in a policy)
SENT, FAILED, USAGE = 0, 1, 2
STOP_STATION = ("stop the station (`sudo systemctl stop anxin-station`), run the test, then "
                "start it again")


def arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin notify``'s arguments."""
    from hub.cli.commands import LazyCommands

    s.description = "The station's notification channels (docs/notify.md)."
    verbs = LazyCommands.of(s, dest="verb", metavar="VERB")
    verbs.command("test", "send a test message through the configured channels; say what "
                  "failed", _test_arguments)


def _test_arguments(t: argparse.ArgumentParser) -> None:
    t.description = (
        "Send a test message (zh_CN, saying it is a test) through each configured channel, or "
        "the one named, and say for each whether it went and, if not, exactly why and what to "
        "fix. The SMS goes to PHONE; a group robot @-mentions PHONE. Exit status: 0 sent by "
        "every channel tried, 1 a channel failed, 2 a bad number, a channel not configured or "
        "a config that does not load. Stop the station first to test its modem: it holds the "
        "port.")
    t.add_argument("--to", required=True, type=mobile, metavar="PHONE",
                   help="a mainland mobile: who gets the SMS, and is @-mentioned by the robots")
    t.add_argument("--channel", choices=CHANNELS, help="only this channel (default: every one "
                   "configured)")
    t.add_argument("--config", type=Path, default=Path("/etc/anxin/station.yaml"))
    t.set_defaults(fn=cmd_test)


def cmd_test(a: argparse.Namespace) -> int:
    from console.station.config import load_station_config
    from console.station.notify.config import load_notify
    from hub.cli.doctor.report import exit_code, render_text

    cfg = load_station_config(a.config)
    notify = load_notify(cfg.notify_file)
    configured = [c for c in CHANNELS if _configured(notify, c)]
    if a.channel and a.channel not in configured:
        where = cfg.notify_file or f"{a.config} (it names no notify_file)"
        print(f"anxin notify test: the {a.channel} channel is not configured in {where}; "
              f"configured: {', '.join(configured) or 'none'} (docs/notify.md)", file=sys.stderr)
        return USAGE
    if not configured:
        print(f"anxin notify test: no channel is configured in "
              f"{cfg.notify_file or a.config}: set modem or channels (docs/notify.md)",
              file=sys.stderr)
        return USAGE
    text = (f"【安心】测试消息：服务站 {cfg.station_id} 的通知通道工作正常 "
            f"({dt.datetime.now().astimezone():%Y-%m-%d %H:%M})。无需回复。")
    findings = asyncio.run(_test(notify, [a.channel] if a.channel else configured, a.to, text))
    print(render_text(f"anxin notify test: station {cfg.station_id} ({a.config}), to {a.to}",
                      findings))
    return SENT if exit_code(findings) == 0 else FAILED


def _configured(notify: NotifyFile, channel: str) -> bool:
    return notify.modem is not None if channel == "modem" else \
        getattr(notify.channels, channel) is not None


async def _test(notify: NotifyFile, channels: list[str], to: str, text: str) -> list[Finding]:
    from console.station.notify.config import build

    found = []
    robots = {c.name: c for c in build(notify.channels)}
    for name in channels:
        if name == "modem":
            assert notify.modem is not None
            found.append(await _modem(notify.modem, to, text))
        else:
            found.append(await _post(robots.pop(name), to, text))
    for c in robots.values():
        await c.aclose()
    return found


async def _post(channel: Channel, to: str, text: str) -> Finding:
    """One message by a robot or the webhook."""
    from console.station.notify.channel import ChannelError, Message
    from hub.cli.doctor.report import fail, ok

    try:
        sent = await channel.send(Message(key=f"notify-test-{time.time_ns()}", text=text, to=(to,)))
    except ChannelError as e:
        return fail(channel.name, f"{e.text} [{e.code}]", e.fix or "see the line before")
    finally:
        await channel.aclose()
    return ok(channel.name, f"sent ({sent.posts} post{'s' if sent.posts > 1 else ''}); the group "
              f"shows it with {to} @-mentioned" if channel.name != "webhook" else
              f"sent: the platform took it ({sent.posts} post)")


async def _modem(cfg: ModemConfig, to: str, text: str) -> Finding:
    """An SMS by the modem as the station opens it: its health first, then the send."""
    from console.station.notify.channel import ChannelError, Message
    from hub.cli.doctor.report import fail, ok
    from hub.cli.sms import SmsChannel, open_sms, port_busy

    if cfg.backend == "sim" and Path(cfg.port).exists():
        return fail("modem", f"the simulated modem {cfg.port} is the running station's (the "
                    "demo's)", "see what it sent with `anxin sim modem sent`, or stop the demo")
    if cfg.backend == "real":
        if not Path(cfg.port).exists():
            from drivers.modem.modem import PORT_HINT

            return fail("modem", f"{cfg.port} does not exist", PORT_HINT)
        if port_busy(cfg.port):
            return fail("modem", f"{cfg.port} is in use by another program (the running "
                        "station?)", STOP_STATION)
    channel: SmsChannel = open_sms(cfg)
    try:
        status = await channel.modem.start()
        if not status.ok:
            assert status.trouble is not None
            return fail("modem", status.trouble.problem, status.trouble.fix)
        try:
            sent = await channel.send(Message(key=f"notify-test-{time.time_ns()}", text=text,
                                              to=(to,)))
        except ChannelError as e:
            return fail("modem", e.text, e.fix or "see the line before")
    finally:
        await channel.aclose()
    how = ", ".join(str(x) for x in (status.operator, status.registration,
                                     f"{status.signal_dbm} dBm" if status.signal_dbm else None) if x)
    return ok("modem", f"SMS sent to {to} ({sent.posts} part{'s' if sent.posts > 1 else ''}"
              f"{'; ' + how if how else ''}{'; simulated' if cfg.backend == 'sim' else ''})")
