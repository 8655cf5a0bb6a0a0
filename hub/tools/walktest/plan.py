"""What a walk test checks, in the order an installer walks the home, and what passes each.

Pure: hub.yaml in, checks out; a check and what the hub saw in, a result out. Call buttons
and the cancel button first (the installer starts at the hub), then the BLE buttons and
sensors room by room, the radar, the mains input, and last the hub's own speaker, microphone
and its round trip to the station.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hub.runtime.config import ButtonConfig, HubConfig, SensorConfig
from hub.tools.walktest.report import Check, Result, Status
from hub.tools.words import Words

WEAK_RSSI_DBM = -90  # weaker than this: the advert gets through, but not reliably
RADAR_KINDS = frozenset({"presence.on", "presence.off", "motion.active", "motion.still",
                         "motion.none", "residency.on", "residency.off"})
BUTTON_KINDS = frozenset({"button.press", "button.double", "button.triple", "button.long"})

# sensor type -> (what it is, what the installer does to it: hub/tools/words.py keys)
_SENSORS = {"smoke": ("smoke_detector", "do_detector"), "gas": ("gas_detector", "do_detector"),
            "co": ("co_detector", "do_detector"), "leak": ("leak_sensor", "do_leak"),
            "door": ("door_sensor", "do_door"), "window": ("window_sensor", "do_window"),
            "motion": ("motion_sensor", "do_motion"), "button": ("ble_button", "do_press")}
_EXPECT = {"smoke": {"smoke.on"}, "gas": {"gas.on"}, "co": {"co.on"}, "leak": {"leak.on"},
           "door": {"door.open", "door.close"}, "window": {"door.open", "door.close"},
           "motion": {"motion.active", "presence.on"}, "button": BUTTON_KINDS}


def plan(cfg: HubConfig, words: Words) -> list[Check]:
    """The checks, labelled and explained in the installer's language."""
    w = words
    checks = [_button(b, w) for b in sorted(cfg.buttons, key=lambda b: b.role != "call")]
    rooms = list(dict.fromkeys(s.room for s in cfg.ble.sensors))  # in the order hub.yaml has them
    for s in sorted(cfg.ble.sensors, key=lambda s: (s.type != "button", rooms.index(s.room))):
        checks.append(_sensor(s, w))
    if r := cfg.radar:
        label = _label(w("radar"), r.room, "in", w)  # as the installer sees it: 雷达（卧室）
        checks.append(Check(r.name, "presence", label, w("do_presence"), RADAR_KINDS, where=r.room,
                            model=r.model))
        checks.append(Check(r.name, "fall", label, w("do_fall"), frozenset({"fall.detected"}),
                            optional=True, where=r.room, model=r.model))
    if cfg.mains:
        checks.append(Check("mains", "mains-off", w("mains"), w("do_mains_off"),
                            frozenset({"mains.fail"})))
        checks.append(Check("mains", "mains-on", w("mains"), w("do_mains_on"),
                            frozenset({"mains.ok"})))
    checks += [Check("hub", what, w(what), w(f"do_{what}"))
               for what in ("speaker", "microphone", "station")]
    return checks


def _label(kind: str, where: str, preposition: str, w: Words) -> str:
    return w(preposition, kind=kind, where=where) if where else kind


def _button(b: ButtonConfig, w: Words) -> Check:
    if b.role == "cancel":
        what, kind, do, expect = "cancel", "cancel_button", "do_press", "cancel.press"
    elif b.pull_cord:
        what, kind, do, expect = "cord", "pull_cord", "do_pull", "button.press"
    else:
        what, kind, do, expect = "button", "call_button", "do_press", "button.press"
    return Check(b.name, what, _label(w(kind), b.location, "at", w), w(do), frozenset({expect}),
                 where=b.location)


def _sensor(s: SensorConfig, w: Words) -> Check:
    kind, do = _SENSORS[s.type]
    return Check(s.name, s.type, _label(w(kind), s.room, "in", w), w(do),
                 frozenset(_EXPECT[s.type]), where=s.room)


def with_model(result: Result, words: Words) -> Result:
    """The device's model after the result's details: the installer knows the device by what it
    is and where; the model is for whoever reads the report later (a replacement, a recall)."""
    if not result.check.model:
        return result
    model = words("model", model=result.check.model)
    return replace(result, detail=words("and").join(d for d in (result.detail, model) if d))


def matches(check: Check, event: dict[str, Any]) -> bool:
    """Whether an event the hub saw (a walk-test record: source, kind) passes the check."""
    return event.get("source") == check.device and event.get("kind") in check.expect


def judge(check: Check, event: dict[str, Any], seconds: float, battery_low_percent: int,
          words: Words) -> Result:
    """The result for a device seen ``seconds`` after it was asked for: a battery at or below
    the hub's low mark fails it (it would raise a low-battery alarm soon after the installer
    left); a weak signal passes with a warning."""
    w, rssi, battery = words, event.get("rssi"), event.get("battery")
    detail = w("and").join([w("seen_after", s=seconds, kind=event.get("kind")),
                            *([w("rssi", rssi=rssi)] if rssi is not None else []),
                            *([w("battery", n=battery)] if battery is not None else [])])
    if battery is not None and battery <= battery_low_percent:
        return Result(check, Status.FAILED, w("battery_low", detail=detail, low=battery_low_percent),
                      seconds, rssi, battery)
    if rssi is not None and rssi < WEAK_RSSI_DBM:
        detail = w("weak_signal", detail=detail)
    return Result(check, Status.PASSED, detail, seconds, rssi, battery)
