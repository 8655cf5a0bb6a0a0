"""Driver readings become hub events (docs/events.md): pure, readings and a clock in.

Every input of the hub comes through here (BLE adverts after :mod:`hub.runtime.ble` has
decoded them): buttons, the radar, the mains, the devices' health. Names and rooms come
from hub.yaml. State readings become events only when the state changes, because radars
repeat their state every second and sensors repeat each advert.

A call button pressed while the elder is being asked (a fall in its window) or while their
call is open is *undecided*: a hold will mean "cancel", a short press "help" (or "I am still
here"); which one is known at the hold or the release, so a cancel is not first answered as
a press again. A press's time is carried to its hold or release on the clock as it reads
then: ``steps`` is the sum of the wall clock's steps seen (:class:`hub.runtime.clockjump.Clock`).
"""

from __future__ import annotations

import logging
from typing import Any

from drivers.ble.decode import BleReading
from drivers.ble.scanner import ScanStatus
from drivers.radar import readings as radar
from drivers.radar.port import PortStatus
from hub.common.events import Event
from hub.runtime.config import ButtonConfig, HubConfig, SensorConfig

log = logging.getLogger(__name__)

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
        self._buttons: dict[str, ButtonConfig] = {b.name: b for b in cfg.buttons}
        self._state: dict[tuple[str, str], object] = {}  # (device, sense) -> last value sent
        self._pressed_at: dict[str, tuple[float, float]] = {}  # call button -> (time of its
        # latest press, clock steps seen by then)
        self._undecided: set[str] = set()  # call buttons pressed: a hold or a call?

    def forget(self) -> None:
        """Forget the devices' states (after a walk test, whose readings reached no rules): a
        detector still in alarm raises its alarm at its next reading."""
        self._state.clear()

    def sensor(self, mac: str) -> SensorConfig | None:
        return self._by_mac.get(mac)

    def press(self, button: str, ts: float, *, steps: float, undecided: bool) -> list[Event]:
        """A button went down: a call button calls for help, the cancel button cancels.
        ``undecided``: the elder is being asked, or their call is open (see above)."""
        b = self._buttons[button]
        if b.role == "cancel":
            return [Event(kind="cancel.press", source=button, ts=ts)]
        self._pressed_at[button] = (ts, steps)
        if undecided:
            self._undecided.add(button)
            return []
        return [_call(b, ts)]

    def hold(self, button: str, ts: float, *, steps: float) -> list[Event]:
        """A call button held down: cancels calls made before this press, never its own."""
        self._undecided.discard(button)
        return [Event(kind="button.long", source=button, ts=ts,
                      data={"pressed": self._press_time(button, ts, steps)})]

    def release(self, button: str, ts: float, *, steps: float) -> list[Event]:
        if button not in self._undecided:
            return []
        self._undecided.discard(button)  # released before hold_s: a call for help after all
        return [_call(self._buttons[button], self._press_time(button, ts, steps))]

    def _press_time(self, button: str, default: float, steps: float) -> float:
        """When the button went down, on the clock as it reads now (it may have been stepped)."""
        ts, then = self._pressed_at.get(button, (default, steps))
        return ts + steps - then

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

    def radar_status(self, st: PortStatus, now: float) -> list[Event]:
        """The radar's port: silent (no valid frame for silence_s) and talking again, lost
        (unplugged) and open again."""
        assert self._cfg.radar
        name, room = self._cfg.radar.name, self._cfg.radar.room
        log.log(logging.INFO if st.state in ("open", "talking") else logging.WARNING,
                "radar %s: %s %s", name, st.state, st.reason)
        if st.state == "silent":  # reported once no valid frame has come for silence_s
            quiet = self._cfg.radar.silence_s
            return self.status(name, room, "silent", False, st.ts, type="radar", reason=st.reason,
                               silent_s=round(quiet), last_heard=st.ts - quiet)
        if st.state == "talking":
            return self.status(name, room, "silent", True, st.ts, type="radar", reason=st.reason)
        return self.status(name, room, "lost", st.state == "open", now, type="radar",
                           reason=st.reason)

    def ble_status(self, st: ScanStatus) -> list[Event]:
        """The Bluetooth adapter failed (lost) or works again (found)."""
        log.log(logging.WARNING if st.state == "lost" else logging.INFO, "bluetooth: %s %s",
                st.state, st.reason)
        if st.state not in ("lost", "found"):
            return []
        return self.status("bluetooth", "", "lost", st.state == "found", st.ts,
                           type="ble_adapter", reason=st.reason)

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


def _call(b: ButtonConfig, ts: float) -> Event:
    return Event(kind="button.press", source=b.name, ts=ts,
                 data={"location": b.location} if b.location else {})


def _event(kind: str, device: str, room: str, now: float, **data: Any) -> Event:
    return Event(kind=kind, source=device, ts=now, data={"room": room, **data} if room else data)
