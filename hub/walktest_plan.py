"""What a walk test checks, in the order an installer walks the home, and what passes each.

Pure: hub.yaml in, checks out; a check and what the hub saw in, a result out. Call buttons
and the cancel button first (the installer starts at the hub), then the BLE buttons and
sensors room by room, the radar, the mains input, and last the hub's own speaker, microphone
and its round trip to the station.
"""

from __future__ import annotations

from typing import Any

from hub.config import HubConfig, SensorConfig
from hub.walktest_report import Check, Result, Status

WEAK_RSSI_DBM = -90  # weaker than this: the advert gets through, but not reliably
RADAR_KINDS = frozenset({"presence.on", "presence.off", "motion.active", "motion.still",
                         "motion.none", "residency.on", "residency.off"})
BUTTON_KINDS = frozenset({"button.press", "button.double", "button.triple", "button.long"})

_DETECTORS = {"smoke": "smoke", "gas": "gas", "co": "CO"}


def plan(cfg: HubConfig) -> list[Check]:
    checks: list[Check] = []
    for b in sorted(cfg.buttons, key=lambda b: b.role != "call"):  # call buttons, then cancel
        at = f" at {b.location}" if b.location else ""
        if b.role == "call":
            checks.append(Check(b.name, "button", f"call button{at}", "press it",
                                frozenset({"button.press"})))
        else:
            checks.append(Check(b.name, "cancel", f"cancel button{at}", "press it",
                                frozenset({"cancel.press"})))
    rooms = list(dict.fromkeys(s.room for s in cfg.ble.sensors))  # in the order hub.yaml has them
    for s in sorted(cfg.ble.sensors, key=lambda s: (s.type != "button", rooms.index(s.room))):
        checks.append(_sensor(s))
    if r := cfg.radar:
        room = f" in {r.room}" if r.room else ""
        checks.append(Check(r.name, "presence", f"{r.model} radar{room}",
                            "walk out of its view, then back in under it", RADAR_KINDS))
        checks.append(Check(r.name, "fall", f"{r.model} radar{room}",
                            "lie down on the floor under it as if fallen (it can take 10-45 s)",
                            frozenset({"fall.detected"}), optional=True))
    if cfg.mains:
        checks.append(Check("mains", "mains-off", "mains input (UPS power-good)",
                            "unplug the hub's mains adapter; the UPS keeps the hub running",
                            frozenset({"mains.fail"})))
        checks.append(Check("mains", "mains-on", "mains input (UPS power-good)",
                            "plug the mains adapter back in", frozenset({"mains.ok"})))
    checks += [
        Check("hub", "speaker", "the hub's speaker", "listen: the hub says a test prompt"),
        Check("hub", "microphone", "the hub's microphone",
              "keep quiet for a few seconds: a tone is played and recorded"),
        Check("hub", "station", "the station round trip",
              "nothing to do: a walk-test event goes to the station and its acknowledgement is timed"),
    ]
    return checks


def _sensor(s: SensorConfig) -> Check:
    room = f" in {s.room}" if s.room else ""
    if s.type == "button":
        return Check(s.name, "button", f"BLE button{room}", "press it", BUTTON_KINDS)
    if s.type in _DETECTORS:
        return Check(s.name, s.type, f"{_DETECTORS[s.type]} detector{room}",
                     "press and hold its test button until it sounds", frozenset({f"{s.type}.on"}))
    if s.type == "leak":
        return Check(s.name, "leak", f"water-leak sensor{room}",
                     "wet its probes (a damp cloth across them)", frozenset({"leak.on"}))
    if s.type in ("door", "window"):
        return Check(s.name, s.type, f"{s.type} sensor{room}", f"open the {s.type}, then close it",
                     frozenset({"door.open", "door.close"}))
    return Check(s.name, s.type, f"{s.type} sensor{room}", "walk past it",
                 frozenset({"motion.active", "presence.on"}))


def matches(check: Check, event: dict[str, Any]) -> bool:
    """Whether an event the hub saw (a walk-test record: source, kind) passes the check."""
    return event.get("source") == check.device and event.get("kind") in check.expect


def judge(check: Check, event: dict[str, Any], seconds: float, battery_low_percent: int) -> Result:
    """The result for a device seen ``seconds`` after it was asked for: a battery at or below
    the hub's low mark fails it (it would raise a low-battery alarm soon after the installer
    left); a weak signal passes with a warning."""
    rssi, battery = event.get("rssi"), event.get("battery")
    radio = [f"RSSI {rssi} dBm" if rssi is not None else "",
             f"battery {battery} %" if battery is not None else ""]
    detail = "; ".join([f"seen after {seconds:.1f} s ({event.get('kind')})", *filter(None, radio)])
    if battery is not None and battery <= battery_low_percent:
        return Result(check, Status.FAILED, f"{detail}: the battery is at or below "
                      f"{battery_low_percent} %, replace it", seconds, rssi, battery)
    if rssi is not None and rssi < WEAK_RSSI_DBM:
        detail += ": weak signal, move the hub or the sensor closer"
    return Result(check, Status.PASSED, detail, seconds, rssi, battery)
