"""``anxin doctor``: check a hub's or station's machine and say what to fix.

One line per finding (OK, WARN, FAIL or SKIP), and for WARN and FAIL the command or action that
fixes it; exit status 1 when anything FAILs. The checks (``devices``, ``network``, ``host``)
decide from what the probes in ``system`` report, so each is tested with the machine's real
answers or with a single probe swapped.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

CONFIGS = (Path("/etc/anxin/hub.yaml"), Path("/etc/anxin/station.yaml"))


def arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin doctor``'s arguments."""
    s.description = (
        "Check what the hub (hub.yaml) or the station (station.yaml) needs on this machine: the "
        "config, the radar's serial port and its frames, Bluetooth, GPIO, sound devices, the "
        "broker (name, TCP, MQTT login, TLS), the TLS files, clock sync, disk space and the "
        "databases; on a station, the SMS modem (SIM, registration, signal) and whether the "
        "group robots take its key (nothing is posted: `anxin notify test` sends a message). "
        "Each line is OK, WARN, FAIL or SKIP; WARN and FAIL lines say what to fix. "
        "Exit status 1 when a line FAILs. Run it as the user the service runs as (`sudo -u anxin "
        "…`): permissions are checked for whoever runs it.")
    s.add_argument("--config", type=Path, help=f"hub.yaml or station.yaml (default: {CONFIGS[0]}, "
                   f"or {CONFIGS[1]} when there is no hub.yaml)")
    s.add_argument("--json", action="store_true", help="print the findings as JSON")
    s.set_defaults(fn=cmd_doctor)


def cmd_doctor(a: argparse.Namespace) -> int:
    from hub.cli.doctor.report import exit_code, render_json, render_text
    from hub.cli.doctor.run import run
    from hub.cli.doctor.system import System

    path = a.config or next((p for p in CONFIGS if p.exists()), CONFIGS[0])
    system = System()
    loaded, findings = run(path, system)
    if a.json:
        print(render_json({"config": str(path), "kind": loaded.kind, "user": system.user}, findings))
    else:
        print(render_text(f"anxin doctor: {loaded.name} ({path}), checked as {system.user}"
                          + (ROOT_NOTE if os.geteuid() == 0 else ""), findings))
    return exit_code(findings)


ROOT_NOTE = ("\n(as root every file is readable and writable: run `sudo -u anxin anxin doctor` to "
             "check what the service's user may do)")
