"""The hub's built-in reactions to events: which raise an alarm, which sound the siren.

Pure and table-driven. This is the fixed default behaviour until the YAML rule engine
(issue 4) takes over the decision; the tables say what each sense means for the home.
"""

from __future__ import annotations

from dataclasses import dataclass

# event kind -> alarm kind it raises
ALARM_FOR: dict[str, str] = {
    "button.press": "panic",
    "fall.detected": "fall",
    "smoke.on": "smoke",
    "gas.on": "gas",
    "co.on": "co",
    "leak.on": "leak",
    "tamper.on": "tamper",
    "battery.low": "battery_low",
    "device.silent": "sensor_silent",
    "device.lost": "sensor_silent",
    "mains.fail": "mains_fail",
}
# hazards that sound the siren while the sensor reports them, with the standard cadence
SIREN_FOR: dict[str, str] = {"smoke": "fire", "co": "co", "gas": "co"}
# relay energised by a hazard (the valve stays shut until someone resets it on purpose)
RELAY_FOR: dict[str, str] = {"gas": "gas_valve"}
PROMPT_FOR: dict[str, str] = {"gas": "gas_advice"}
# what the elder may cancel: their own calls and well-being checks, never a hazard
CANCELLABLE = frozenset({"panic", "fall", "wandering", "inactivity", "checkin_missed"})
CANCEL_GESTURES = frozenset({"cancel.press", "button.long"})


@dataclass(frozen=True, slots=True)
class Reaction:
    alarm: str | None = None
    siren: str | None = None  # pattern to sound
    relay: str | None = None  # relay to energise
    prompt: str | None = None  # advice to speak


def react(kind: str) -> Reaction:
    alarm = ALARM_FOR.get(kind)
    hazard = kind.removesuffix(".on") if kind.endswith(".on") else ""
    return Reaction(alarm=alarm, siren=SIREN_FOR.get(hazard), relay=RELAY_FOR.get(hazard),
                    prompt=PROMPT_FOR.get(hazard))
