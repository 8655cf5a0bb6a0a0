"""What caused an alarm, and when, as its raising event's data says (docs/events.md).

The moments first, each labelled with the one it counts (design.md, "Time"): raised at the
home (a held alarm, a fall, was raised when it was detected), sent by the hub (a held alarm,
when its window ran out), received at the station, claimed. Then the cause: the door that
opened and when (a wandering alarm comes 15 minutes later: searchers need when the elder
left), when someone was last seen indoors, the sensor that went silent and when it was last
heard, the device whose battery is low and its level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from console.station.store.rows import AlarmRow, SensorRow
from console.tui.i18n import STRINGS, Texts

# the kinds whose cause is "nobody seen": the last sight is said even when unknown
NOBODY_SEEN = ("wandering", "inactivity", "checkin_missed")


def alarm_facts(a: AlarmRow, data: Mapping[str, Any], t: Texts,
                sensors: Sequence[SensorRow] = ()) -> Text:
    """``data``: the raising event's; ``sensors``: the home's, to name a device by its room
    and type when the event does not say them."""
    sent = _time(data.get("sent"))
    moments = [t("facts_detected" if sent else "facts_raised", time=t.clock(a.raised))]
    if sent:
        moments.append(t("facts_sent", time=t.clock(sent)))
    moments.append(t("facts_received", time=t.clock(a.received)))
    if a.claimed:
        moments.append(t("facts_claimed", time=t.clock(a.claimed)))
    out = Text(" · ".join(moments))
    for line in _cause(a, data, t, sensors):
        out.append(f"\n{line}", style="bold")
    return out


def _cause(a: AlarmRow, data: Mapping[str, Any], t: Texts, sensors: Sequence[SensorRow]) -> list[str]:
    device = device_label(a.source, data, t, sensors)
    lines = []
    if a.kind == "wandering" and (opened := _time(data.get("trigger_ts"))):
        lines.append(t("facts_door", door=device, time=t.clock(opened)))
    elif a.kind == "sensor_silent":
        if heard := _time(data.get("last_heard")):
            lines.append(t("facts_silent", device=device, time=t.clock(heard)))
        else:  # a port or adapter gone (device.lost), or a hub from before last_heard
            lines.append(t("facts_lost", device=device, reason=str(data.get("reason") or "-")))
    elif a.kind == "battery_low":
        n = data.get("percent")
        lines.append(t("facts_battery", device=device, n=n) if isinstance(n, int)
                     else t("facts_battery_unknown", device=device))
    if seen := _time(data.get("last_seen")):
        lines.append(t("facts_last_seen", time=t.clock(seen)))
    elif a.kind in NOBODY_SEEN:
        lines.append(t("facts_never_seen"))
    return lines


def device_label(name: str, data: Mapping[str, Any], t: Texts, sensors: Sequence[SensorRow] = ()) -> str:
    """A device as the officer knows it: its room (or, without one, its name in hub.yaml)
    and what it is (门厅 门磁), as the home's state lists it."""
    known = next((s for s in sensors if s.name == name), None)
    room = str(data.get("location") or data.get("room") or (known.room if known else "") or name)
    kind = data.get("type") or (known.kind if known else "")
    key = f"desk_sensor_{kind}"
    return f"{room} {t(key)}" if key in STRINGS else room


def _time(v: object) -> float | None:
    """A time from the event's data; anything else (a hub's bad data) is no time."""
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v > 0 else None
