"""``anxin``: the one entry point for the hub, the station, the console, the demo and tools."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.cli import demo_dir
from hub.cli.commands import LazyCommands

if TYPE_CHECKING:
    import asyncio

    from hub.runtime.config import HubConfig


def _serve(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run a service until SIGTERM or SIGINT, then let it shut down cleanly."""
    import asyncio  # a third of `anxin --help`'s time: only the services need it

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)
    asyncio.run(runner())


def cmd_hub(a: argparse.Namespace) -> int:
    from hub.cli.daemon import run_hub
    from hub.runtime.config import load_hub_config

    cfg = load_hub_config(a.config)
    from hub.cli import logs

    logs.in_zone(cfg.tz)
    if a.action == "reload":
        return _reload(cfg)
    _serve(lambda stop: run_hub(cfg, stop))
    return 0


def _reload(cfg: HubConfig) -> int:
    """Check the rules here first, so the installer sees the errors; then signal the hub."""
    from hub.runtime.config import load_hub_rules
    from hub.runtime.running import NotRunning, running_hub

    rules, warnings = load_hub_rules(cfg)  # ConfigError: reported by main(), nothing is signalled
    for w in warnings:
        print(f"anxin hub reload: warning: {w}", file=sys.stderr)
    try:
        pid = running_hub(cfg.data_dir)
        os.kill(pid, signal.SIGHUP)
    except (NotRunning, OSError) as e:
        print(f"anxin hub reload: {e}", file=sys.stderr)
        return 1
    n = len(rules.rules)
    print(f"anxin hub reload: {n} rule(s) checked; hub {pid} is reloading them")
    return 0


def cmd_station(a: argparse.Namespace) -> int:
    if a.action == "migrate":
        return cmd_station_migrate(a)
    if a.action == "import":
        from console.station.roster import run_import

        return run_import(a.config, a.file, actor=a.actor, dry_run=a.dry_run)
    from console.casework.county import load_county
    from console.station.config import load_station_config
    from console.station.notify.config import load_notify
    from console.station.service import run_station
    from hub.cli.sms import station_channels

    cfg = load_station_config(a.config)
    notify = load_notify(cfg.notify_file)
    from hub.cli import logs

    logs.in_zone(load_county(cfg.county_file).tz)
    _serve(lambda stop: run_station(cfg, stop, station_channels(notify)))
    return 0


def cmd_console(a: argparse.Namespace) -> int:
    from console.station.config import load_station_config
    from console.tui.app import ConsoleApp
    from drivers.audio import AudioUnavailable
    from hub.voice.officer_phone import console_phone

    cfg = load_station_config(a.config)
    if cfg.broker.tls and not cfg.broker.tls.identity.startswith("console:"):
        print(f"anxin console: {a.config}: broker.tls is the certificate of "
              f"{cfg.broker.tls.identity!r}, not of a console. A console needs its own (`anxin ca "
              "issue-console NAME`, docs/security.md); the demo writes desk1.yaml, desk2.yaml "
              "and desk3.yaml beside its station.yaml", file=sys.stderr)
        return 2
    try:
        phone = console_phone(a.audio)
    except AudioUnavailable as e:  # the desk still takes alarms; it cannot talk until fixed
        print(f"anxin console: no headset, voice calls are off: {e} (`anxin audio devices` "
              "lists what this PC has; --audio loopback runs calls without sound)", file=sys.stderr)
        phone = None
    ConsoleApp(cfg, user=a.user, password_file=a.password_file, language=a.lang or cfg.language,
               demo_dir=a.demo_dir, phone=phone).run()
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from hub.cli.demo import run_demo

    return run_demo(a.dir, homes=a.homes, lang=a.lang, headless=a.headless)


def cmd_check_config(a: argparse.Namespace) -> int:
    from console.casework.county import CountyRules
    from console.station.config import HomesFile, StationConfig, load_homes
    from console.station.notify.config import NotifyFile, load_notify
    from console.station.notify.responders import load_responders
    from hub.common.configfile import ConfigError, load_yaml, validate
    from hub.rules import load_rules
    from hub.runtime.config import HubConfig, load_hub_rules

    bad = 0
    for path in a.files:
        try:
            data = load_yaml(path)
            keys = data.keys() if isinstance(data, dict) else set()
            if "hub_id" in keys:
                rules, warnings = load_hub_rules(validate(path, data, HubConfig))
                kind = f"hub config; {len(rules.rules)} rule(s)"
                for w in warnings:
                    print(f"{path}: warning: {w}", file=sys.stderr)
            elif "rules" in keys:
                kind = f"rules file; {len(load_rules([path]).rules)} rule(s)"
            elif "homes" in keys:
                validate(path, data, HomesFile)
                load_homes(path)
                kind = "homes file"
            elif keys & {"station_id", "database", "store", "homes_file"}:
                cfg = validate(path, data, StationConfig)
                if cfg.homes_file:
                    load_homes(cfg.homes_file)
                if cfg.responders_file:
                    load_responders(cfg.responders_file)
                if cfg.notify_file is None:
                    print(f"{path}: warning: no notify_file: nobody outside the station is told "
                          "of an alarm (config/notify.yaml, docs/notify.md)", file=sys.stderr)
                for w in load_notify(cfg.notify_file).warnings() if cfg.notify_file else ():
                    print(f"{cfg.notify_file}: warning: {w}", file=sys.stderr)
                kind = "station config"
            elif "county" in keys:
                county = validate(path, data, CountyRules)
                kind = f"county rules; {len(county.response.kinds)} alarm plan(s)"
            elif "responders" in keys:
                people = load_responders(path)
                on_call = sum(r.role == "on_call" for r in people)
                kind = f"responders: {on_call} on call, {len(people) - on_call} volunteer(s)"
                if not on_call:
                    print(f"{path}: warning: nobody is on call: an unattended station tells no "
                          "officer", file=sys.stderr)
            elif keys & NotifyFile.model_fields.keys():
                notify = validate(path, data, NotifyFile)
                for w in notify.warnings():
                    print(f"{path}: warning: {w}", file=sys.stderr)
                kind = (f"notify: channels {', '.join(sorted(notify.configured())) or 'none'}; "
                        f"{len(notify.policy)} policy rule(s)")
            else:
                raise ConfigError(f"{path}: cannot tell what this is: a hub config has hub_id, "
                                  "a station config has database, a homes file has homes, "
                                  "a rules file has rules, county rules have county, a notify "
                                  "file has channels, modem or policy, a responders file has responders")
            print(f"{path}: ok ({kind})")
        except ConfigError as e:
            bad += 1
            print(e, file=sys.stderr)
    return 1 if bad else 0


def _hub_arguments(s: argparse.ArgumentParser) -> None:
    s.description = ("Run a home hub; `anxin hub reload` checks the rule files and makes the "
                     "running hub load them (SIGHUP). Bad rules leave the old ones running.")
    s.add_argument("action", nargs="?", choices=["run", "reload"], default="run")
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/hub.yaml"))
    s.set_defaults(fn=cmd_hub)


def cmd_station_migrate(a: argparse.Namespace) -> int:
    from console.station.store.db import Dsn
    from console.station.store.migrate import MigrateError, migrate

    try:
        done = migrate(a.source, Dsn(a.target))
    except MigrateError as e:
        print(f"anxin station migrate: {e}", file=sys.stderr)
        return 1
    for table, n in done.rows.items():
        print(f"{table:<16} {n:>9} rows")
    print(f"audit log: {done.audit.count} entries, head {done.audit.head} (as in {a.source})")
    return 0


def _station_arguments(s: argparse.ArgumentParser) -> None:
    s.description = ("Run the station service (ingest, store, ack), or one of its maintenance "
                     "actions (docs/county.md).")
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/station.yaml"))
    s.set_defaults(fn=cmd_station, action="run")
    actions = s.add_subparsers(dest="action", metavar="ACTION", title="actions (default: run)")
    run = actions.add_parser("run", help="run the service (what `anxin station` alone does)")
    imp = actions.add_parser("import", help="add a county's roster of elders (xlsx/csv) to the "
                             "station database, all rows or none (docs/county.md, \"The roster\")")
    imp.add_argument("file", type=Path, metavar="FILE", help="the county's sheet of elders "
                     "(.xlsx or .csv, the console's import columns)")
    imp.add_argument("--actor", help="who the audit names (default: os:<your login>)")
    imp.add_argument("--dry-run", action="store_true", help="check the file and name every bad "
                     "row; store nothing")
    mig = actions.add_parser("migrate", help="move a township's SQLite database into a new, "
                             "empty PostgreSQL database, with the station stopped")
    mig.add_argument("--from", dest="source", type=Path, metavar="STATION_DB", required=True,
                     help="the township's SQLite station database")
    mig.add_argument("--to", dest="target", metavar="DSN", required=True, help="the PostgreSQL "
                     "database (libpq string or postgresql:// URI); it must hold no rows yet")
    for action in (run, imp, mig):  # --config before or after the action, as one types it
        action.add_argument("--config", type=Path, default=argparse.SUPPRESS)


def _console_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/station.yaml"))
    s.add_argument("--user", default="", help="your username, filled in on the login screen")
    s.add_argument("--password-file", type=Path, help="log in with the password in this file "
                   "(readable by you only; the demo writes one). There is no password option.")
    s.add_argument("--lang", choices=["zh_CN", "en"], help="interface language (default: config)")
    s.add_argument("--demo-dir", type=Path, help="demo mode: a key presses a simulated home's "
                   "button")
    s.add_argument("--audio", choices=["device", "loopback"], default="device",
                   help="the officer's headset for voice calls: device (this PC's sound card, "
                   "the default; without one the console runs with calls off) or loopback (no "
                   "sound: tests, the demo, an SSH session)")
    s.set_defaults(fn=cmd_console)


def _demo_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--dir", type=Path, default=demo_dir.default(), help="where the demo keeps state "
                   "(`anxin sim` finds it there by itself while the demo runs)")
    s.add_argument("--homes", type=int, default=3, help="how many simulated homes (1-10)")
    s.add_argument("--lang", choices=["zh_CN", "en"], default="zh_CN")
    s.add_argument("--headless", action="store_true",
                   help="no console: keep the demo running until Ctrl-C or SIGTERM")
    s.set_defaults(fn=cmd_demo)


def _check_config_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("files", nargs="+", type=Path, metavar="FILE")
    s.set_defaults(fn=cmd_check_config)


def _provision_arguments(s: argparse.ArgumentParser) -> None:
    s.description = (
        "On the station, `issue` signs a certificate for the hub and writes it, its key, the CA "
        "certificate and the broker address into one bundle (mode 0600). Copy it to the hub and "
        "run `apply` there: it installs the TLS files and sets hub_id and broker in hub.yaml, "
        "after checking the result as the hub would. Then delete the bundle. See "
        "docs/security.md.")
    verbs = LazyCommands.of(s, dest="verb", metavar="VERB")
    verbs.command("issue", "on the station: write a hub's bundle",
                  "console.station.trust.provision:arguments")
    verbs.command("apply", "on the hub: install a bundle and update hub.yaml",
                  "hub.tools.provision:arguments")


def parser() -> argparse.ArgumentParser:
    """The ``anxin`` command line. Each command's arguments are declared, and its modules
    imported, only when the command line names it (hub/cli/commands.py says why)."""
    p = argparse.ArgumentParser(prog="anxin", description="Anxin (安心): home safety hub and "
                                "township station console for elders living alone.")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-file", type=Path, help="log here instead of standard error")
    sub = LazyCommands.of(p, dest="command", metavar="COMMAND")
    sub.command("hub", "run a home hub (drivers, rules, alarms, outbox, uplink)", _hub_arguments)
    sub.command("station", "run the headless station service (ingest, store, ack)",
                _station_arguments)
    sub.command("console", "open the duty console (Textual) on a station", _console_arguments)
    sub.command("demo", "start broker, simulated homes, station and console", _demo_arguments)
    sub.command("sim", "drive a simulated home: press, fall, smoke, … prompts, state",
                "hub.cli.sim:arguments")
    sub.command("check-config", "validate hub, station, homes, rules, county or notify YAML "
                "files", _check_config_arguments)
    sub.command("ca", "the station's certificate authority: identities for hubs, station, "
                "consoles", "console.station.trust.ca_cli:ca_arguments")
    sub.command("broker-config", "write the station's mosquitto.conf and ACL, or a county NATS "
                "node's configuration (TLS, identities)",
                "console.station.trust.ca_cli:broker_config_arguments")
    sub.command("provision", "one file with a hub's certificate, key and broker address: issue "
                "on the station, apply on the hub", _provision_arguments)
    sub.command("pair", "list BLE sensors in range that hub.yaml does not know, and add them",
                "hub.tools.pair:arguments")
    sub.command("audio", "the sound devices: list them, and which the hub would use",
                "hub.tools.audio:arguments")
    sub.command("prompts", "the voice prompts as audio files: render them with espeak-ng",
                "hub.tools.prompts_render:arguments")
    sub.command("radar", "the fall radar: show its settings, set its mounting height and "
                "sensitivity", "hub.tools.radar:arguments")
    sub.command("walktest", "walk-test every device of a home and write the commissioning "
                "report", "hub.tools.walktest.walk:arguments")
    sub.command("doctor", "check this hub's or station's devices, broker, TLS, clock and disk; "
                "say what to fix", "hub.cli.doctor:arguments")
    sub.command("notify", "the station's notification channels: `notify test` sends a test "
                "message and says what failed", "hub.cli.notify:arguments")
    sub.command("loadgen", "simulate many hubs against a station's broker; print how long "
                "their alarms took to be stored", "hub.cli.loadgen:arguments")
    sub.command("user", "console users: add, passwd, role, disable, enable, unlock, list",
                "console.station.cli:user_arguments")
    sub.command("audit", "check or show the station's tamper-evident audit log",
                "console.station.cli:audit_arguments")
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    from hub.common.configfile import ConfigError  # pydantic: not for `--help`

    if a.command not in ("console", "demo"):
        from hub.cli import logs  # logging and zoneinfo: not for `--help`

        logs.configure(a.log_level, a.log_file)
    try:
        return int(a.fn(a))
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
