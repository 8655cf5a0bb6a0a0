"""``anxin radar``: the fall radar's mounting height and sensitivity, set from the command line.

``height`` and ``sensitivity`` send the setting, read the radar's parameters back to confirm it,
and record it in hub.yaml (``radar.height_m`` / ``radar.sensitivity``, comments kept), from
where the hub sets it on the radar at every start, so a replaced module gets it too. The
ranges are the model's own (drivers/radar/models.py). A real radar's UART is held by the running
hub, so the hub must be stopped first; a simulated hub is asked through its sim socket instead
(`radar-cmd`), since its radar lives inside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import queue
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from hub.common import linejson
from hub.common.configfile import ConfigError
from hub.runtime.config import HubConfig, RadarConfig, load_hub_config
from hub.runtime.running import NotRunning, running_hub
from hub.tools import configedit

if TYPE_CHECKING:
    from ruamel.yaml.comments import CommentedMap

OPEN_S = 5.0  # how long to wait for the serial port to open


def arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``anxin radar show | height | sensitivity | firmware | reset``'s arguments."""
    p.description = (
        "Talk to the fall radar named in hub.yaml. `height` and `sensitivity` set the value, read "
        "it back from the radar to confirm it, and record it in hub.yaml (radar.height_m / "
        "radar.sensitivity); the hub sets it on the radar at every start. Stop the hub first "
        "(sudo systemctl stop anxin-hub): it holds the serial port. A simulated hub "
        "(radar.backend: sim) is asked through its sim socket while it runs.")
    p.add_argument("--config", type=Path, default=Path("/etc/anxin/hub.yaml"))
    p.add_argument("--port", help="the radar's serial device, instead of radar.port in hub.yaml")
    verbs = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    verbs.add_parser("show", help="its mounting height, sensitivity and firmware, as it reports them")
    s = verbs.add_parser("height", help="set the mounting height (metres above the floor)")
    s.add_argument("value", type=float, metavar="METRES")
    s = verbs.add_parser("sensitivity", help="set the fall sensitivity (scale per model: family T "
                         "3-30 frames averaged, C1001 0-3)")
    s.add_argument("value", type=int, metavar="N")
    verbs.add_parser("firmware", help="its firmware version (family S models)")
    verbs.add_parser("reset", help="restore its factory settings")
    p.set_defaults(fn=cmd_radar, value=None)


def cmd_radar(a: argparse.Namespace) -> int:
    from drivers.radar.models import model
    from drivers.radar.setup import RadarError, check

    cfg = load_hub_config(a.config)
    if cfg.radar is None:
        return _fail(f"{a.config} has no radar: add a radar section with its model first")
    radar = cfg.radar
    try:
        check(a.action, a.value, model(radar.model).commands)
    except RadarError as e:
        return _fail(e)
    logging.getLogger("anxin.radar").setLevel(logging.WARNING)  # not the port's open/close
    sim = radar.backend == "sim" and not a.port
    where = f"the simulated hub's radar ({cfg.sim_socket_path})" if sim else a.port or radar.port
    try:
        if sim:
            report = _via_sim(cfg, a.action, a.value)
        else:
            if (busy := _hub_holding(cfg, a.port or radar.port)) is not None:
                return _fail(f"hub {busy} holds the radar's serial port {radar.port}: stop the hub "
                             "first: sudo systemctl stop anxin-hub (and start it again afterwards)")
            report = _direct(radar, a.port or radar.port, a.action, a.value)
    except (RadarError, linejson.SimError) as e:
        return _fail(f"{radar.model} on {where}: {e}")
    print(f"anxin radar: {model(radar.model).title} ({radar.model}) on {where}: {report['done']}")
    for key, label, unit in (("install_height_m", "install height", " m"),
                             ("fall_threshold_m", "fall threshold", " m"),
                             ("sensitivity", "sensitivity", ""), ("mode", "mode", ""),
                             ("firmware", "firmware", "")):
        if report.get(key) is not None:
            print(f"  {label:<15} {report[key]}{unit}")
    try:
        _record(a.config, radar, a.action, a.value, report)
    except ConfigError as e:
        return _fail(e)
    return 0


def _record(config: Path, radar: RadarConfig, action: str, value: float | None,
            report: dict[str, Any]) -> None:
    """Write a confirmed setting into hub.yaml; say when the radar differs from what hub.yaml asks."""
    from drivers.radar.readings import Parameters

    if action in ("height", "sensitivity"):
        key = "height_m" if action == "height" else "sensitivity"

        def change(doc: CommentedMap) -> None:
            configedit.mapping(doc, "radar")[key] = value

        backup = configedit.edit(config, change)
        print(f"anxin radar: recorded radar.{key}: {value:g} in {config} (the previous file is "
              f"{backup}); the hub sets it on the radar at every start")
        return
    reported = Parameters(install_height_m=report["install_height_m"], sensitivity=report["sensitivity"])
    if action in ("show", "reset") and radar.settings.differences(reported):
        print(f"anxin radar: hub.yaml asks for {radar.settings}: the hub sets it on the radar when "
              "it starts")


def _hub_holding(cfg: HubConfig, port: str) -> int | None:
    """The running hub's pid if it has this serial device open (its radar.port)."""
    assert cfg.radar
    if os.path.realpath(port) != os.path.realpath(cfg.radar.port):
        return None  # another device (a spare radar on a USB adapter): not the hub's
    try:
        return running_hub(cfg.data_dir)
    except NotRunning:
        return None


def _direct(radar: RadarConfig, port: str, action: str, value: float | None) -> dict[str, Any]:
    from drivers.radar.port import PortStatus, RadarPort, RadarUnavailable
    from drivers.radar.setup import Action, RadarError, run

    statuses: queue.Queue[PortStatus] = queue.Queue()
    with RadarPort(port=port, model=radar.model, on_reading=lambda _: None, on_status=statuses.put,
                   keepalive_s=radar.keepalive_s, silence_s=radar.silence_s, reopen_s=OPEN_S) as rp:
        rp.start()
        try:
            first = statuses.get(timeout=OPEN_S)
        except queue.Empty:
            raise RadarError(f"the serial port did not open within {OPEN_S:g} s") from None
        if first.state != "open":
            raise RadarError(f"{first.reason} (the right device? is this user in the dialout "
                             "group? `anxin doctor` checks the port)")
        try:
            return dataclasses.asdict(run(cast(Action, action), value, rp.commands, rp.ask))
        except RadarUnavailable as e:
            raise RadarError(str(e)) from None


def _via_sim(cfg: HubConfig, action: str, value: float | None) -> dict[str, Any]:
    result: dict[str, Any] = linejson.call(cfg.sim_socket_path, " ".join(
        ["radar-cmd", action, *([f"{value:g}"] if value is not None else [])]))
    return result


def _fail(e: object) -> int:
    print(f"anxin radar: {e}", file=sys.stderr)
    return 1
