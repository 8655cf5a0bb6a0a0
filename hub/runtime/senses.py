"""Driver readings become hub events (docs/events.md): pure, readings and a clock in.

Names and rooms come from hub.yaml. State readings become events only when the state
changes, because radars repeat their state every second and sensors repeat each advert.
"""

from __future__ import annotations

from typing import Any

from drivers.ble.decode import BleReading
from drivers.radar import readings as radar
from hub.common.events import Event
from hub.runtime.config import HubConfig, SensorConfig

BATTERY_STEP = 5  # percent change worth telling the station
BATTERY_HYSTERESIS = 5  # percent above the low mark before the battery counts as ok again

# BLE reading kind -> (sense, event suffix for True, for False)
_BLE_BINARY: dict[str, tuple[str, str, str]] = {
    "smoke": ("smoke", "on", "off"),
    "gas": ("gas", "on", "off"),
    "co": ("co", "on", "off"),
    "moisture": ("leak", "on", "off"),
    "tamper": ("tamper", "on", "off"),
    "opening": ("door", "open", "close"),
    "door": ("door", "open", "close"),
    "window": ("door", "open", "close"),
    "motion": ("motion", "active", "none"),
    "occupancy": ("presence", "on", "off"),
    "battery_low": ("battery", "low", "ok"),
}
_BUTTON_EVENTS = {"press": "press", "double": "double", "triple": "triple", "long": "long",
                  "hold": "long"}


class Senses:
    def __init__(self, cfg: HubConfig) -> None:
        self._cfg = cfg
        self._by_mac: dict[str, SensorConfig] = {s.mac: s for s in cfg.ble.sensors}
        self._state: dict[tuple[str, str], object] = {}  # (device, sense) -> last value sent

    def sensor(self, mac: str) -> SensorConfig | None:
        return self._by_mac.get(mac)

    def radar(self, r: radar.Reading, now: float) -> list[Event]:
        assert self._cfg.radar
        name, room = self._cfg.radar.name, self._cfg.radar.room
        match r:
            case radar.Fall(fallen=f):
                return self._change(name, room, "fall", f, "detected" if f else "cleared", now)
            case radar.Presence(present=p):
                return self._change(name, room, "presence", p, "on" if p else "off", now)
            case radar.Motion(state=m):
                return self._change(name, room, "motion", m, m, now)
            case radar.Residency(stationary=s):
                return self._change(name, room, "residency", s, "on" if s else "off", now)
        return []  # heartbeats, parameters, body movement: liveness only

    def ble(self, r: BleReading, now: float) -> list[Event]:
        s = self._by_mac.get(r.mac)
        if s is None:
            return []
        if r.kind in _BLE_BINARY:
            sense, yes, no = _BLE_BINARY[r.kind]
            extra = {"type": s.type} if sense in ("door", "battery") else {}
            return self._change(s.name, s.room, sense, bool(r.value), yes if r.value else no, now,
                                **extra)
        if r.kind == "battery" and isinstance(r.value, int | float):
            return self._battery(s, int(r.value), now)
        if r.kind == "button" and str(r.value) in _BUTTON_EVENTS:
            return [_event(f"button.{_BUTTON_EVENTS[str(r.value)]}", s.name, s.room, now)]
        return []

    def status(self, device: str, room: str, sense: str, ok: bool, now: float,
               **data: Any) -> list[Event]:
        """Device health: ``silent``/``back`` and ``lost``/``found`` become device.* events."""
        suffix = {"silent": ("back", "silent"), "lost": ("found", "lost")}[sense][0 if ok else 1]
        self._state.setdefault((device, f"device_{sense}"), False)  # healthy until told otherwise
        return self._change(device, room, f"device_{sense}", not ok, suffix, now, kind="device",
                            **data)

    def mains(self, ok: bool, now: float) -> list[Event]:
        return self._change("mains", "", "mains", ok, "ok" if ok else "fail", now)

    def _battery(self, s: SensorConfig, pct: int, now: float) -> list[Event]:
        out = []
        last = self._state.get((s.name, "battery_level"))
        if not isinstance(last, int) or abs(pct - last) >= BATTERY_STEP:
            self._state[(s.name, "battery_level")] = pct
            out.append(_event("battery.level", s.name, s.room, now, percent=pct))
        low_mark = self._cfg.ble.battery_low_percent
        was_low = self._state.get((s.name, "battery")) is True
        low = pct <= low_mark or (was_low and pct <= low_mark + BATTERY_HYSTERESIS)
        out += self._change(s.name, s.room, "battery", low, "low" if low else "ok", now, percent=pct,
                            type=s.type)
        return out

    def _change(self, device: str, room: str, sense: str, value: object, suffix: str, now: float,
                kind: str | None = None, **data: Any) -> list[Event]:
        if self._state.get((device, sense), _UNSET) == value:
            return []
        self._state[(device, sense)] = value
        return [_event(f"{kind or sense}.{suffix}", device, room, now, **data)]


_UNSET = object()


def _event(kind: str, device: str, room: str, now: float, **data: Any) -> Event:
    return Event(kind=kind, source=device, ts=now, data={"room": room, **data} if room else data)
