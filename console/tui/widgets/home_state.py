"""The home's live state on the alarm screen: is anyone there, doors, the last sign of life,
each sensor with its battery, and whether the hub itself is heard from. What the officer
reads before calling: a home where the door opened a minute ago is a different call from one
silent since last night."""

from __future__ import annotations

from rich.text import Text

from console.station.store.rows import HomeState
from console.tui.i18n import STRINGS, Texts

LOW_BATTERY = 20  # % and below: shown in red, someone should bring a battery


def home_state_text(s: HomeState, t: Texts, now: float) -> Text:
    out = Text()
    out.append(t("online") if s.online else t("offline"),
               style="bold green" if s.online else "bold white on red")
    out.append(f"  {t('desk_heartbeat')} {_ago(s.last_heartbeat, t, now)}")
    since = s.presence_since
    key = {True: "desk_present", False: "desk_absent", None: "desk_presence_unknown"}[s.presence]
    out.append(f"\n{t(key)}" + (f" {t('desk_since', time=t.clock(since))}" if since else ""),
               style="bold")
    out.append(f"\n{t('desk_last_activity')}: {_ago(s.last_activity, t, now)}")
    for name, (is_open, ts) in sorted(s.doors.items()):
        out.append(f"\n{name}: ")
        out.append(t("desk_door_open" if is_open else "desk_door_closed"),
                   style="bold yellow" if is_open else "")
        out.append(f" {t.clock(ts)}", style="dim")
    for d in s.sensors:
        out.append("\n" + sensor_label(d.room, d.kind, d.name, t), style="red" if d.silent else "")
        if d.alarming:
            out.append(f" {t('desk_sensor_alarming')}", style="bold white on red")
        if d.battery is not None:
            out.append(f" {t('desk_battery', n=d.battery)}",
                       style="bold red" if d.battery <= LOW_BATTERY else "")
        out.append(f" {_ago(d.last_seen, t, now)}" + (f" {t('desk_silent')}" if d.silent else ""),
                   style="bold red" if d.silent else "dim")
    return out


def _ago(ts: float | None, t: Texts, now: float) -> str:
    return t("never") if ts is None else t.ago(now - ts)


def sensor_label(room: str, kind: str, name: str, t: Texts) -> str:
    """A device as the officer knows it: where hub.yaml puts it, then its kind's label (门厅
    门磁); its name in hub.yaml (an installer's word, often English) only for a kind the
    console has no label for."""
    label = t(f"desk_sensor_{kind}") if f"desk_sensor_{kind}" in STRINGS else kind or name
    return " ".join(w for w in (room, label) if w)
