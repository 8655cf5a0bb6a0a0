"""``anxin sim [--demo-dir D] HUB VERB [ARGS]``: drive a simulated home of the running demo.

``anxin sim [--demo-dir D] modem sent|reply``: the station's simulated modem (HUB is ``modem``):
what it sent, as a JSON list of ``{to, text, time}``, read from its record (drivers/modem/sim.py
:func:`sent_json`); a person's reply delivered to it through its control socket (hub/cli/sms.py).

Each verb is a subcommand with its own arguments and argparse types, so a bad argument
(``battery-low bath_leak x``) is refused here with a one-line reason and exit code 2, before
anything reaches the hub. The hub (hub/sim/home.py) carries the verbs out; those of its
devices are named in hub/sim/verbs.py, and a test checks both sides name the same verbs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.radar.setup import ACTIONS
from hub.cli import demo_dir
from hub.cli.phones import mobile
from hub.common.argtypes import number
from hub.sim.verbs import RADAR_CONTROLS, SENSOR_VERBS

if TYPE_CHECKING:
    from hub.runtime.config import HubConfig

MAX_HOLD_S = 60.0


percent = number("a battery level is a whole number from 0 to 100", lambda n: 0 <= n <= 100, int)
seconds = number(f"seconds are a number above 0 and at most {MAX_HOLD_S:g}",
                 lambda s: 0 < s <= MAX_HOLD_S, float)
value = number("a number", lambda _: True, float)  # a radar setting: the hub knows its range


def wav_path(text: str) -> str:
    """The file as this terminal means it: the hub runs elsewhere, in another folder."""
    path = Path(text).expanduser().resolve()
    if " " in str(path):  # the control socket's command is split at spaces
        raise argparse.ArgumentTypeError(f"a path without spaces, not {text!r}")
    return str(path)


@dataclass(frozen=True, slots=True)
class Arg:
    name: str  # as the usage shows it
    help: str
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    optional: bool = True


BUTTON = Arg("BUTTON", "a button's name in hub.yaml (default: the home's first call button)")
SENSOR = Arg("SENSOR", "a sensor's name in hub.yaml (default: the home's first of its type)")
HOLD = Arg("S", f"seconds, up to {MAX_HOLD_S:g} (default: the button's hold_s and a little)",
           seconds)
RADAR_HELP = {"fall": "the radar reports a fall", "getup": "the fallen elder gets up",
              "walk-in": "someone walks in under the radar", "leave": "everyone leaves its view",
              "still": "someone is there, keeping still", "radar-silent": "the radar stops "
              "sending frames", "radar-resume": "it sends them again", "radar-unplug": "its "
              "serial port goes away", "radar-plug": "it is plugged in again"}
# verb -> (what it does, its arguments); the hub's handlers (hub/sim/home.py) take the same verbs
VERBS: dict[str, tuple[str, tuple[Arg, ...]]] = {
    "press": ("press a call button", (BUTTON,)),
    "cord": ("pull the pull cord", ()),
    "hold": ("hold a call button down (a long press cancels an earlier call)", (BUTTON, HOLD)),
    "cancel": ("press the cancel button (a home without one: hold a call button)",
               (BUTTON, HOLD)),
    **{verb: (f"a {type_} sensor reports {'on' if on else 'clear'}", (SENSOR,))
       for verb, (type_, on) in SENSOR_VERBS.items()},
    **{verb: (RADAR_HELP[verb], ()) for verb in RADAR_CONTROLS},
    "ble-button": ("press a BLE button", (SENSOR, Arg("EVENT", "how (default: press)",
                                                      choices=("press", "double", "long")))),
    "battery-low": ("a BLE sensor reports a low battery",
                    (SENSOR, Arg("PCT", "its battery level, 0-100 (default: 5)", percent))),
    "sensor-silent": ("a BLE sensor stops advertising", (SENSOR,)),
    "sensor-resume": ("it advertises again", (SENSOR,)),
    "stranger": ("a neighbour's sensor comes into range",
                 (Arg("plain", "unencrypted (default: encrypted)", choices=("plain",)),)),
    "strangers": ("the sensors in range that hub.yaml does not list", ()),
    "mains-fail": ("mains power fails (the UPS keeps the hub running)", ()),
    "mains-ok": ("mains power is back", ()),
    "relay": ("switch a relay", (Arg("NAME", "the relay's name in hub.yaml", optional=False),
                                 Arg("STATE", "on or off", choices=("on", "off"), optional=False))),
    "radar-cmd": ("what `anxin radar` asks the radar, through the hub",
                  (Arg("ACTION", "what to do", choices=ACTIONS, optional=False),
                   Arg("VALUE", "height in m, or sensitivity", value))),
    "state": ("open alarms, LED, siren, relays, mains, outbox, refused BLE packets and the "
              "voice call", ()),
    "prompts": ("what the elder has heard, in order", ()),
    "played": ("write what the simulated loudspeaker played (prompts and the officer's voice) "
               "to a WAV file (with speaker.backend: sim)",
               (Arg("FILE", "the WAV file to write", wav_path, optional=False),)),
}


# Verbs answered here, not by the hub: what its simulated modem sent is read from the record
# the modem keeps in data_dir, which outlives the hub (``anxin sim h001 modem sent``).
LOCAL_VERBS: dict[str, tuple[str, tuple[Arg, ...]]] = {
    "modem": ("what the home's own simulated modem sent (the hub's SMS fallback), as JSON",
              (Arg("WHAT", "sent: the messages it sent", choices=("sent",), optional=False),)),
}
STATION_MODEM = "modem"  # HUB for the station's simulated modem
MODEM_VERBS = {"sent": "(modem) the messages the station's simulated modem sent, as JSON",
               "reply": "(modem) a person's SMS reply arrives at the station's simulated modem"}


def sms_text(text: str) -> str:
    if not text.strip() or "\n" in text:
        raise argparse.ArgumentTypeError("a text on one line")
    return text


def cmd_station_modem(a: argparse.Namespace, folder: Path) -> int:
    """``anxin sim modem sent|reply``: the demo station's simulated modem."""
    from console.station.config import load_station_config
    from console.station.notify.config import load_notify
    from drivers.modem.sim import sent_json
    from hub.cli.sms import sim_files
    from hub.common import linejson

    path = folder / "station" / "station.yaml"
    if not path.exists():
        print(f"anxin sim: no demo station in {folder}; is the demo running? (--demo-dir names "
              "its folder)", file=sys.stderr)
        return 2
    modem = load_notify(load_station_config(path).notify_file).modem
    if modem is None or modem.backend != "sim":
        print(f"anxin sim: the station of {path} has no simulated modem (modem.backend: sim in "
              "its notify file)", file=sys.stderr)
        return 2
    record, control = sim_files(modem.port)
    if a.verb == "sent":
        print(sent_json(record))
        return 0
    try:
        result = linejson.call(control, f"reply {a.arg0} {a.arg1}",
                               who="station's simulated modem", hint="is the demo running?")
    except linejson.SimError as e:
        print(f"anxin sim: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def cmd_sim(a: argparse.Namespace) -> int:
    from hub.common import linejson
    from hub.runtime.config import load_hub_config

    folder: Path = a.demo_dir or demo_dir.current()
    if (a.hub == STATION_MODEM) != (a.verb in MODEM_VERBS):
        print(f"anxin sim: {', '.join(MODEM_VERBS)} are the station modem's verbs (`anxin sim "
              f"{STATION_MODEM} sent`); a home takes the others", file=sys.stderr)
        return 2
    if a.hub == STATION_MODEM:
        return cmd_station_modem(a, folder)
    cfg_path = folder / "hubs" / a.hub / "hub.yaml"
    if not cfg_path.exists():
        known = sorted(p.name for p in (folder / "hubs").glob("*")) if folder.exists() else []
        print(f"anxin sim: no simulated hub {a.hub!r} in {folder}"
              + (f"; there are: {', '.join(known)}" if known else
                 "; is the demo running? (--demo-dir names its folder)"), file=sys.stderr)
        return 2
    if a.verb == "modem":
        return _modem_sent(load_hub_config(cfg_path))
    given = [getattr(a, f"arg{i}") for i in range(len(VERBS[a.verb][1]))]
    command = " ".join([a.verb, *(str(v) for v in given if v is not None)])
    try:
        result = linejson.call(load_hub_config(cfg_path).sim_socket_path, command)
    except linejson.SimError as e:
        print(f"anxin sim: {e}", file=sys.stderr)
        return 1
    print(result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _modem_sent(cfg: HubConfig) -> int:
    from drivers.modem.sim import sent_json
    from hub.runtime.fallback import Fallback

    if cfg.modem is None or cfg.modem.backend != "sim":
        print(f"anxin sim: hub {cfg.hub_id} has no simulated modem (hub.yaml modem.backend: sim)",
              file=sys.stderr)
        return 2
    print(sent_json(Fallback.sent_file(cfg)))
    return 0


def arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin sim``'s arguments."""
    demo = ("the demo's folder (default: the running demo's, as `anxin demo --dir` recorded "
            f"it, else {demo_dir.default()})")
    s.description = ("Drive a simulated home of the running demo through its simulated devices. "
                     "`anxin sim HUB VERB --help` tells a verb's arguments. HUB `modem` is the "
                     "station's simulated modem: `anxin sim modem sent` (what it sent, as JSON), "
                     "`anxin sim modem reply PHONE TEXT` (a person's reply arrives). `anxin sim "
                     "HUB modem sent`: what a home's own simulated modem sent (its SMS fallback).")
    s.add_argument("--demo-dir", type=Path, help=demo)
    s.add_argument("hub", metavar="HUB")
    verbs = s.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, (what, args) in {**VERBS, **LOCAL_VERBS}.items():
        v = verbs.add_parser(verb, help=what, description=what[:1].upper() + what[1:] + ".")
        v.add_argument("--demo-dir", type=Path, default=argparse.SUPPRESS, help=demo)
        for i, arg in enumerate(args):
            v.add_argument(f"arg{i}", metavar=arg.name, help=arg.help, type=arg.type,
                           choices=arg.choices, nargs="?" if arg.optional else None)
    for verb, what in MODEM_VERBS.items():
        v = verbs.add_parser(verb, help=what, description=what + ".")
        v.add_argument("--demo-dir", type=Path, default=argparse.SUPPRESS, help=demo)
        if verb == "reply":
            v.add_argument("arg0", metavar="PHONE", type=mobile, help="the sender: a contact's "
                           "or responder's mobile")
            v.add_argument("arg1", metavar="TEXT", type=sms_text, help="what they texted: 1 "
                           "(accept), 到 (arrived), anything else goes on the alarm's timeline")
    s.set_defaults(fn=cmd_sim)
