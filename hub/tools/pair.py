"""``anxin pair``: list the BLE sensors in range that hub.yaml does not know, and add the chosen ones.

Each stranger is listed with its protocol, RSSI, name, whether it needs a bindkey, and a
best guess at its type: a MiBeacon frame names its product (xiaomi-ble's device table), a
plaintext BTHome packet shows its objects (smoke, moisture, opening, button, ...), and an
encrypted BTHome packet shows them once the installer gives the bindkey, which is also how a
bindkey is checked: the packet heard must decrypt with it. The sensors chosen are written into
``ble.sensors`` with hub/tools/configedit.py (comments kept, checked as the hub loads it).

The deciding (guess, listing, choice, the new entry) is pure; the I/O is thin: scanning with
the adapter or asking the running simulated hub what its air carried, prompts, and hub.yaml.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import re
import sys
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

from pydantic import ValidationError

from hub.common import linejson
from hub.common.configfile import ConfigError
from hub.runtime.config import HubConfig, SensorConfig, SensorType, load_hub_config
from hub.runtime.running import NotRunning, running_hub
from hub.tools import configedit

if TYPE_CHECKING:  # the BLE libraries take a while to import: only `anxin pair` needs them
    from ruamel.yaml.comments import CommentedMap

    from drivers.ble.advert import Advert
    from drivers.ble.decode import Unknown
    from drivers.ble.scanner import MakeScanner

SENSOR_TYPES: tuple[SensorType, ...] = get_args(SensorType)
# reading kind (drivers/ble/decode.py) -> sensor type; in this order, so a packet with several
# kinds is guessed as the one that matters most for safety
KIND_TYPES: dict[str, SensorType] = {
    "smoke": "smoke", "gas": "gas", "co": "co", "moisture": "leak", "door": "door",
    "window": "window", "opening": "door", "motion": "motion", "occupancy": "motion",
    "button": "button"}
# words in xiaomi-ble's product names -> sensor type; the first that occurs wins
MI_NAME_TYPES: tuple[tuple[str, SensorType | None], ...] = (
    ("Temperature", None), ("Smoke", "smoke"), ("Flood", "leak"), ("Water Leak", "leak"),
    ("Door/Window", "door"), ("Motion", "motion"), ("Presence", "motion"), ("Occupancy", "motion"),
    ("Switch", "button"), ("Button", "button"))
PROTOCOL_TITLES = {"bthome": "BTHome", "xiaomi": "MiBeacon"}

KeyState = Literal["needed", "none", "ok", "wrong", "unneeded", "unchecked"]
# needed: encrypted and no key given; none: plaintext, no key given; ok: the packet decrypts
# with the key given; wrong: it does not; unneeded: a key was given for a plaintext sensor;
# unchecked: a key was given but the packet heard carries nothing to check it against


@dataclass(frozen=True)
class Guess:
    type: SensorType | None
    what: str  # what the guess rests on, for the installer
    key: KeyState


@dataclass(frozen=True)
class Scan:
    strangers: list[Unknown]
    configured: dict[str, int | str]  # configured MAC -> RSSI, or why its packets were refused
    trouble: str | None  # the adapter's, if any


def guess(u: Unknown, bindkey: bytes | None = None) -> Guess:
    """The sensor's type as far as its packet tells, and whether ``bindkey`` decrypts it."""
    from xiaomi_ble.devices import DEVICE_TYPES

    from drivers.ble.advert import PROTOCOLS, Advert
    from drivers.ble.decode import AdvertDecoder

    if bindkey is not None and not u.encrypted:  # the hub would refuse its packets: a downgrade
        return dataclasses.replace(guess(u), key="unneeded")
    uuid = next(uuid for uuid, protocol in PROTOCOLS.items() if protocol == u.protocol)
    advert = Advert(u.mac, u.rssi, u.name, {uuid: u.data}, {}, 0.0)
    result = AdvertDecoder({u.mac: bindkey}).decode(advert)
    refused = result.rejected.reason if result.rejected else None
    key: KeyState
    if bindkey is None:
        key = "needed" if u.encrypted else "none"
    else:
        key = "wrong" if refused == "decrypt_failed" else "ok" if result.readings else "unchecked"
    kinds = sorted({r.kind for r in result.readings},
                   key=lambda k: list(KIND_TYPES).index(k) if k in KIND_TYPES else len(KIND_TYPES))
    from_kinds = next((KIND_TYPES[k] for k in kinds if k in KIND_TYPES), None)
    if u.protocol == "xiaomi" and len(u.data) >= 4:
        product = int.from_bytes(u.data[2:4], "little")
        entry = DEVICE_TYPES.get(product)
        if entry is None:
            return Guess(from_kinds, f"MiBeacon product 0x{product:04X}, not in xiaomi-ble's table", key)
        typ = next((t for word, t in MI_NAME_TYPES if word in entry.name), None)
        return Guess(typ or from_kinds, f"{entry.name} {entry.model}"
                     + (f"; objects: {', '.join(kinds)}" if kinds else ""), key)
    if kinds:
        return Guess(from_kinds, f"BTHome objects: {', '.join(kinds)}", key)
    if key == "needed":
        return Guess(None, "encrypted: its objects show once its bindkey is given", key)
    if key == "wrong":
        return Guess(None, "does not decrypt with that bindkey", key)
    return Guess(None, "no objects this hub reads", key)


def listing(cfg: HubConfig, strangers: list[Unknown], configured: dict[str, int | str] | None) -> str:
    """The numbered table the installer chooses from (numbers as in :func:`ordered`)."""
    lines = []
    if configured is not None:
        for s in cfg.ble.sensors:
            got = configured.get(s.mac)
            lines.append(f"  configured {s.name:<16} {s.mac}  " + (
                "NOT heard" if got is None else f"heard, RSSI {got} dBm" if isinstance(got, int)
                else f"heard, but {got} (check its bindkey)"))
    if not strangers:
        lines.append("no unpaired BTHome / MiBeacon sensors in range")
        return "\n".join(lines)
    lines.append(f"  {'#':>2}  {'MAC':<17}  {'protocol':<8}  {'type':<6}  {'RSSI':>8}  "
                 f"{'bindkey':<10}  {'name':<12}  seen as")
    for n, u in enumerate(ordered(strangers), 1):
        g = guess(u)
        lines.append(f"  {n:>2}  {u.mac:<17}  {PROTOCOL_TITLES[u.protocol]:<8}  {g.type or '?':<6}  "
                     f"{u.rssi:>4} dBm  {'needed' if u.encrypted else 'not needed':<10}  "
                     f"{u.name or '-':<12}  {g.what}")
    return "\n".join(lines)


def ordered(strangers: Iterable[Unknown]) -> list[Unknown]:
    """Nearest first (strongest signal): the sensor the installer holds is usually the top one."""
    return sorted(strangers, key=lambda u: (-u.rssi, u.mac))


def numbers(text: str, count: int) -> list[int]:
    """The choice "1 3" or "1,3" as indices into the listing; ValueError says what is wrong."""
    picked = []
    for word in re.split(r"[\s,]+", text.strip()):
        if not word:
            continue
        if not word.isdigit() or not 1 <= int(word) <= count:
            raise ValueError(f"{word!r} is not one of the numbers 1 to {count}")
        if int(word) - 1 not in picked:
            picked.append(int(word) - 1)
    return picked


def default_name(typ: str, taken: set[str]) -> str:
    """kitchen_smoke is better, but smoke_1 is unique and valid until the installer says so."""
    n = 1
    while f"{typ}_{n}" in taken:
        n += 1
    return f"{typ}_{n}"


def sensor(cfg: HubConfig, fields: dict[str, Any]) -> SensorConfig:
    """A new ble.sensors entry, checked alone and against hub.yaml; ValueError says why not."""
    try:
        new = SensorConfig.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        raise ValueError("; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                                   for err in e.errors())) from None
    if new.name in cfg.device_names:
        raise ValueError(f"a device named {new.name!r} is already in hub.yaml")
    if same := next((s for s in cfg.ble.sensors if s.mac == new.mac), None):
        raise ValueError(f"{new.mac} is already in hub.yaml, as {same.name!r}")
    return new


def key_problem(u: Unknown, bindkey: bytes | None) -> str | None:
    """Why this bindkey (or its absence) would leave the hub unable to read the sensor."""
    g = guess(u, bindkey)
    return {
        "needed": f"{u.mac} encrypts its packets: give its bindkey (32 hex digits)",
        "wrong": f"that bindkey does not decrypt the packet heard from {u.mac}: wrong key?",
        "unneeded": f"{u.mac} sends plaintext packets: it needs no bindkey (with one, the hub "
                    "would refuse all its packets as a downgrade)",
    }.get(g.key)


def add(doc: CommentedMap, sensors: list[SensorConfig]) -> None:
    """Append to ble.sensors in hub.yaml's own style (MAC and bindkey quoted, as the example)."""
    from ruamel.yaml.comments import CommentedMap

    listed = configedit.sequence(doc, "ble", "sensors")
    for s in sensors:
        entry = CommentedMap(name=configedit.scalar(s.name), mac=configedit.scalar(s.mac, quote=True),
                             type=s.type)
        if s.room:
            entry["room"] = configedit.scalar(s.room)
        if s.bindkey:
            entry["bindkey"] = configedit.scalar(s.bindkey, quote=True)
        if s.silence_s is not None:
            entry["silence_s"] = int(s.silence_s) if s.silence_s.is_integer() else s.silence_s
        listed.append(entry)


def remove(doc: CommentedMap, name: str) -> None:
    """Take the sensor named ``name`` out of ble.sensors (a rule naming it then refuses the edit)."""
    listed = configedit.sequence(doc, "ble", "sensors")
    at = next((i for i, s in enumerate(listed) if isinstance(s, dict) and s.get("name") == name), None)
    if at is None:
        names = ", ".join(str(s.get("name")) for s in listed if isinstance(s, dict))
        raise ConfigError(f"no sensor {name!r} in ble.sensors; there are: {names or 'none'}")
    del listed[at]


# --- the installer's side ------------------------------------------------------------------------

Ask = Callable[[str], str]
Say = Callable[[str], None]


def interview(cfg: HubConfig, strangers: list[Unknown], ask: Ask, say: Say) -> list[SensorConfig]:
    """Ask which of the listed strangers to add, then bindkey, type, name and room of each;
    each answer is checked at once and asked again until it is right."""
    listed = ordered(strangers)
    chosen = _until(ask, say, "Add which? Numbers, e.g. 1 3 (Enter: none): ",
                    lambda text: numbers(text, len(listed)))
    out: list[SensorConfig] = []
    for i in chosen:
        u = listed[i]
        say(f"#{i + 1} {u.mac} ({PROTOCOL_TITLES[u.protocol]}{', ' + u.name if u.name else ''})")
        got = _bindkey(u, ask, say)
        if got is None:
            say("  skipped")
            continue
        key, g = got
        typ = _until(ask, say, f"  type ({', '.join(SENSOR_TYPES)}) [{g.type or ''}]: ", _one_of(g.type))
        chosen_names = {s.name for s in out}
        name = default_name(typ, cfg.device_names | chosen_names)
        base = {"mac": u.mac, "type": typ, "bindkey": key}
        name = _until(ask, say, f"  name [{name}]: ", _field(cfg, base, "name", name, chosen_names))
        room = _until(ask, say, "  room, e.g. 厨房 []: ", _field(cfg, {**base, "name": name}, "room", ""))
        out.append(sensor(cfg, {**base, "name": name, "room": room}))
    return out


def _one_of(default: str | None) -> Callable[[str], SensorType]:
    def check(text: str) -> SensorType:
        typ = text.strip() or default
        if typ not in SENSOR_TYPES:
            raise ValueError(f"the type is one of {', '.join(SENSOR_TYPES)}")
        return typ
    return check


def _field(cfg: HubConfig, base: dict[str, Any], field: str, default: str,
           chosen: Collection[str] = ()) -> Callable[[str], str]:
    """A check of one answer: the entry with it must be valid and its name not chosen already."""
    def check(text: str) -> str:
        value = text.strip() or default
        if sensor(cfg, {**base, field: value}).name in chosen:
            raise ValueError(f"{value!r} is already chosen above")
        return value
    return check


T = TypeVar("T")


def _until(ask: Ask, say: Say, prompt: str, check: Callable[[str], T]) -> T:
    """Ask until check() takes the answer; its ValueError is said, then the question again."""
    while True:
        try:
            return check(ask(prompt))
        except ValueError as e:
            say(f"  {e}")


def _bindkey(u: Unknown, ask: Ask, say: Say) -> tuple[str | None, Guess] | None:
    """The sensor's bindkey, checked against its packet; (None, guess) when it needs none;
    None when the installer gives up on this sensor."""
    g = guess(u)
    if not u.encrypted:
        return None, g
    while True:
        text = ask("  bindkey, 32 hex digits (Enter: skip this sensor): ").strip().replace(" ", "")
        if not text:
            return None
        if not re.fullmatch(r"[0-9A-Fa-f]{32}", text):
            say(f"  a bindkey is 32 hex digits (0-9, a-f); that is {len(text)} characters")
            continue
        g = guess(u, bytes.fromhex(text))
        if g.key == "wrong":
            say(f"  that bindkey does not decrypt the packet heard from {u.mac}: wrong key? again:")
            continue
        say("  bindkey checked: the packet heard decrypts with it" + (
            f"; {g.what}" if g.key == "ok" else " (nothing in it to check it against)"))
        return text.lower(), g


async def scan(cfg: HubConfig, seconds: float, *, until: str | None = None,
               make_scanner: MakeScanner | None = None) -> Scan:
    """Listen for ``seconds`` (or until the MAC ``until`` is heard as a stranger)."""
    from drivers.ble.decode import AdvertDecoder
    from drivers.ble.scanner import BleScanner, ScanStatus

    decoder = AdvertDecoder(cfg.ble.keys)
    known = {s.mac for s in cfg.ble.sensors}
    configured: dict[str, int | str] = {}
    trouble: list[str] = []
    found = asyncio.Event()

    def advert(a: Advert) -> None:
        result = decoder.decode(a)
        if a.mac in known:
            configured[a.mac] = f"packets refused: {result.rejected.reason}" if result.rejected else a.rssi
        if until is not None and until in decoder.unknown:
            found.set()

    def status(st: ScanStatus) -> None:
        if st.state == "lost":
            trouble.append(st.reason)

    more: dict[str, Any] = {"make_scanner": make_scanner} if make_scanner else {}
    async with BleScanner(on_advert=advert, on_status=status, scanning_mode=cfg.ble.scan_mode,
                          adapter=cfg.ble.adapter, **more):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(found.wait(), seconds)
    return Scan(list(decoder.unknown.values()), configured, trouble[-1] if trouble else None)


def from_running_sim(cfg: HubConfig) -> list[Unknown]:
    """What the running simulated hub's decoder heard from strangers (its `strangers` verb)."""
    from drivers.ble.decode import Unknown

    rows: list[dict[str, Any]] = linejson.call(cfg.sim_socket_path, "strangers")
    return [Unknown(**{**r, "data": bytes.fromhex(r.get("data", ""))}) for r in rows]


def arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin pair``'s arguments."""
    s.description = (
        "List the BTHome / MiBeacon sensors in range that hub.yaml does not know, numbered, with "
        "protocol, a guess at the type, RSSI, name and whether a bindkey is needed; then ask "
        "which to add (on a terminal). --add writes one without asking; --remove takes one out. "
        "hub.yaml keeps its comments; the old one is kept as hub.yaml.bak. The hub reads its "
        "sensors when it starts: restart it afterwards.")
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/hub.yaml"))
    s.add_argument("--seconds", type=float, default=15.0,
                   help="how long to scan (with --add: at most; 0 does not check the sensor)")
    s.add_argument("--add", metavar="MAC", help="add this sensor (with --name and --type)")
    s.add_argument("--name", help="its name in events and rules, e.g. kitchen_smoke")
    s.add_argument("--type", choices=SENSOR_TYPES)
    s.add_argument("--room", default="", help="e.g. 厨房")
    s.add_argument("--bindkey", metavar="HEX", help="32 hex digits, for an encrypted sensor")
    s.add_argument("--silence-s", type=float, metavar="N",
                   help="supervision: report it silent after N seconds (0: never)")
    s.add_argument("--remove", metavar="NAME", help="take this sensor out of hub.yaml")
    s.set_defaults(fn=cmd_pair)


def cmd_pair(a: argparse.Namespace) -> int:
    cfg = load_hub_config(a.config)
    for library in ("bthome_ble", "xiaomi_ble"):  # a wrong bindkey tried is said here, not logged
        logging.getLogger(library).setLevel(logging.CRITICAL)
    try:
        if a.add and a.remove:
            return _fail("--add and --remove: one at a time")
        if a.remove:
            backup = configedit.edit(a.config, lambda doc: remove(doc, a.remove))
            print(f"anxin pair: removed {a.remove} from {a.config}; the previous file is {backup}")
            _restart_hint(cfg, a.config)
            return 0
        return _add(cfg, a) if a.add else _choose(cfg, a)
    except (ConfigError, linejson.SimError) as e:
        return _fail(e)


def _add(cfg: HubConfig, a: argparse.Namespace) -> int:
    if not (a.name and a.type):
        return _fail("--add needs --name and --type")
    try:
        new = sensor(cfg, {"name": a.name, "mac": a.add, "type": a.type, "room": a.room,
                           "bindkey": a.bindkey, "silence_s": a.silence_s})
    except ValueError as e:
        return _fail(e)
    if a.seconds <= 0:
        print(f"anxin pair: not listening for {new.mac} (--seconds 0): its bindkey is not checked")
    elif (u := next((u for u in _hear(cfg, a.seconds, until=new.mac).strangers
                     if u.mac == new.mac), None)) is None:
        print(f"anxin pair: {new.mac} was not heard: its bindkey is not checked (is it in range "
              "and awake? press its test button)")
    elif problem := key_problem(u, new.key):
        return _fail(problem)
    else:
        print(f"anxin pair: heard {new.mac} at {u.rssi} dBm: {guess(u, new.key).what}")
    _write(cfg, a.config, [new])
    return 0


def _choose(cfg: HubConfig, a: argparse.Namespace) -> int:
    heard = _hear(cfg, a.seconds)
    if heard.trouble:
        print(f"anxin pair: Bluetooth trouble: {heard.trouble}", file=sys.stderr)
    print(listing(cfg, heard.strangers, heard.configured if cfg.ble.backend == "real" else None))
    chosen = interview(cfg, heard.strangers, input, print) if heard.strangers and sys.stdin.isatty() else []
    if chosen:
        _write(cfg, a.config, chosen)
    return 1 if heard.trouble and not heard.configured and not heard.strangers else 0


def _hear(cfg: HubConfig, seconds: float, until: str | None = None) -> Scan:
    if cfg.ble.backend == "sim":
        return Scan(from_running_sim(cfg), {}, None)
    print(f"anxin pair: scanning on {cfg.ble.adapter} for {seconds:g} s …")
    return asyncio.run(scan(cfg, seconds, until=until))


def _write(cfg: HubConfig, config: Path, sensors: list[SensorConfig]) -> None:
    backup = configedit.edit(config, lambda doc: add(doc, sensors))
    for s in sensors:
        print(f"anxin pair: added {s.name} ({s.mac}, {s.type}" + (f", {s.room}" if s.room else "")
              + (", encrypted" if s.bindkey else "") + f") to {config}")
    print(f"anxin pair: the previous file is {backup}")
    _restart_hint(cfg, config)


def _restart_hint(cfg: HubConfig, config: Path) -> None:
    """The hub reads ble.sensors only at start; SIGHUP (`anxin hub reload`) reloads the rules."""
    try:
        pid = running_hub(cfg.data_dir)
    except NotRunning:
        print("anxin pair: no hub is running here; it reads the sensors when it starts")
        return
    print(f"anxin pair: hub {pid} reads its sensors only when it starts (`anxin hub reload` "
          "reloads the rules only): restart it: " + (
              f"stop it and run `anxin hub --config {config}` again (`anxin demo` writes its "
              "homes' hub.yaml afresh when it starts)" if cfg.simulated
              else "sudo systemctl restart anxin-hub"))


def _fail(e: object) -> int:
    print(f"anxin pair: {e}", file=sys.stderr)
    return 1
