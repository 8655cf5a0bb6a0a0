"""What each home's devices last said (the elder's card, the roster's sensors and last
activity), kept per home in ``home_summary`` and brought up to date at ingest, in the
transaction that stores the events: the roster reads every home's figures in one query (kept
beside the summary, without parsing it), however many homes a county has, and a home's card
reads one row, however long its history.

Each event is a word on a few things: someone present or not, a door open or shut, a sensor's
battery, room, kind, silence or alarm. The summary keeps, for each thing, the latest word: the
one said last (hub time), and of words said at the same time the more alarming one (present,
open, silent, alarming, the lower battery; else the greater text). So a summary is the same
whatever order its events arrived in (the alarm and telemetry lanes interleave, a hub sends
again what was not acknowledged), and one made again from the stored events (:func:`of_events`,
which the migration that makes the table runs for every home) equals the one kept at ingest.

An alarm event repeats its trigger's kind, source and data (hub/rules/engine.py): it is the
trigger's word again, at the trigger's time (``trigger_ts``), never at the alarm's (a wandering
alarm comes 15 minutes after the door opened): the same word as the trigger's own when that
was sent too, and the only one when it was not. One naming a trigger without its time says
nothing.

A summary keeps at most :data:`MAX_THINGS` doors and as many sensors: words on more are not
kept (the events are, as always), and which are kept then depends on the order they came in.
The migration reads a home's :data:`MIGRATED_EVENTS` latest events, as the card did before:
a word only said before them is not in the summary it makes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import astuple
from typing import Any

from console.station.store.db import Db
from console.station.store.rows import HomeFigures, HomeState, SensorRow
from hub.common import wire

SCHEMA = """
CREATE TABLE IF NOT EXISTS home_summary (  -- per home: what its devices last said
    hub TEXT PRIMARY KEY,
    readings TEXT NOT NULL,          -- JSON, folded from the home's events (store/summary.py)
    sensors INTEGER NOT NULL,        -- the roster's figures, written with `readings` from it:
    silent INTEGER NOT NULL,         -- its sensors, those silent, the lowest battery (NULL:
    battery INTEGER,                 -- none reported), the hub time someone last moved
    activity REAL
)"""
ACTIVITY = ("presence.on", "motion.active", "residency.on", "door.open", "door.close",
            "button.press", "button.long", "button.again", "cancel.press")  # someone moved
SENSOR_EVENTS = ("presence", "motion", "residency", "door", "smoke", "gas", "co", "leak", "tamper",
                 "battery", "device", "button", "fall", "cancel")  # kinds a device reports
HAZARDS = ("smoke", "gas", "co", "leak")  # sensors that are on (alarming) or off
# the doors, and the sensors, a summary keeps at most: a home has a few dozen devices; a hub
# naming more is broken or hostile, and its summary (read and written at each commit) stays small
MAX_THINGS = 200
# the migration reads each home's latest events, at most this many (the card read as many
# before the summary): a county's years of events would hold its first start for hours
MIGRATED_EVENTS = 5000
PART = 100  # homes a statement reads or writes (SQL has a bound on '?')
# how words said at the same time rank: the greater wins (a lower battery is the more urgent)
_RANK: dict[str, Callable[[Any], Any]] = {"battery": lambda percent: -percent}

Summary = dict[str, Any]  # the JSON of home_summary.readings
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # made once: json.dumps makes one a call


def empty() -> Summary:
    return {"doors": {}, "sensors": {}}


def fold(s: Summary, kind: str, ts: float, source: str | None, data: dict[str, Any]) -> None:
    """Take one event's words into ``s``."""
    at = data.get("trigger_ts")
    if isinstance(at, int | float) and not isinstance(at, bool):
        ts = float(at)
    elif data.get("trigger_id") is not None:
        return  # an alarm naming its trigger but not when: the trigger's time is unknown
    family, _, state = kind.partition(".")
    if kind in ACTIVITY:
        s["activity"] = max(ts, s.get("activity", ts))
    if kind in ("presence.on", "presence.off"):
        _later(s, "presence", state == "on", ts)
    if family == "door":
        door = str(data.get("location") or data.get("room") or source)
        if _room_for(s["doors"], door):
            _later(s["doors"], door, state == "open", ts)
    if family not in SENSOR_EVENTS or not source or source == "hub" or not _room_for(s["sensors"], source):
        return
    sensor = s["sensors"].setdefault(source, {"seen": ts})
    sensor["seen"] = max(ts, sensor["seen"])
    where = data.get("room") or data.get("location")  # a sensor's room, a button's place
    if isinstance(where, str):
        _later(sensor, "room", where, ts)
    if family in HAZARDS and state in ("on", "off"):
        _later(sensor, "alarming", state == "on", ts)
    said = data.get("type")
    if isinstance(said, str) or family not in ("battery", "device", "tamper"):
        _later(sensor, "kind", said if isinstance(said, str) else family, ts)
    percent = data.get("percent")
    if family == "battery" and isinstance(percent, int) and not isinstance(percent, bool):
        _later(sensor, "battery", percent, ts)
    if kind in ("device.silent", "device.back"):
        _later(sensor, "silent", state == "silent", ts)


def _room_for(things: dict[str, Any], name: str) -> bool:
    return name in things or len(things) < MAX_THINGS


def _later(words: dict[str, Any], key: str, value: Any, ts: float) -> None:
    """``words[key]`` becomes ``[value, ts]`` if that is the later word (see the module)."""
    rank = _RANK.get(key, lambda v: v)
    old = words.get(key)
    if old is None or (ts, rank(value)) > (old[1], rank(old[0])):
        words[key] = [value, ts]


def add(db: Db, events: Iterable[wire.EventMsg]) -> None:
    """Fold stored events into their homes' summaries, in the caller's transaction (which
    holds each hub's lock: :meth:`Db.lock`): one read and one write for a commit's homes (in
    parts of :data:`PART`), not one a home (on PostgreSQL each is a round trip)."""
    by_hub: dict[str, list[wire.EventMsg]] = defaultdict(list)
    for e in events:
        by_hub[e.hub].append(e)
    hubs = list(by_hub)
    kept: dict[str, str] = {}
    for i in range(0, len(hubs), PART):
        part = hubs[i:i + PART]
        kept.update(db.execute(f"SELECT hub, readings FROM home_summary WHERE hub IN "
                               f"({','.join('?' * len(part))})", part))
    summaries = {}
    for hub, stored in by_hub.items():
        s = summaries[hub] = json.loads(kept[hub]) if hub in kept else empty()
        for e in stored:
            fold(s, e.kind, e.ts, e.source, e.data)
    _write(db, summaries)


def of_events(db: Db, hub: str, latest: int | None = None) -> Summary:
    """The home's summary made again from every event of it stored (or its ``latest``)."""
    s = empty()
    sql = "SELECT kind, ts, payload FROM events WHERE hub = ?"
    rows = db.execute(sql, (hub,)) if latest is None else db.execute(
        f"{sql} ORDER BY ts DESC LIMIT ?", (hub, latest))
    for kind, ts, payload in rows:
        p = json.loads(payload)
        data = p.get("data")
        fold(s, kind, ts, p.get("source"), data if isinstance(data, dict) else {})
    return s


def rebuild(db: Db) -> None:
    """Every home's summary made from its latest events (the migration that makes the table;
    one home's read at a time, not the whole table at once)."""
    for (hub,) in db.execute("SELECT DISTINCT hub FROM events").fetchall():
        _write(db, {hub: of_events(db, hub, MIGRATED_EVENTS)})


def _write(db: Db, summaries: dict[str, Summary]) -> None:
    rows = [(hub, _JSON.encode(s), *astuple(figures(s))) for hub, s in summaries.items()]
    for i in range(0, len(rows), PART):
        part = rows[i:i + PART]
        db.execute(f"INSERT INTO home_summary VALUES {','.join(['(?, ?, ?, ?, ?, ?)'] * len(part))} "
                   "ON CONFLICT(hub) DO UPDATE SET readings = excluded.readings, sensors = "
                   "excluded.sensors, silent = excluded.silent, battery = excluded.battery, "
                   "activity = excluded.activity", [x for row in part for x in row])


def figures(s: Summary) -> HomeFigures:
    """The roster's figures of a summary."""
    sensors = s["sensors"].values()
    lowest = min((_word(x, "battery", None) for x in sensors if "battery" in x), default=None)
    return HomeFigures(len(sensors), sum(_word(x, "silent", False) for x in sensors), lowest,
                       s.get("activity"))


def home_state(readings: str | None, online: bool, last_heartbeat: float | None) -> HomeState:
    """The elder's card of a home from its summary (None: nothing heard yet)."""
    s = json.loads(readings) if readings else empty()
    presence = s.get("presence") or (None, None)
    return HomeState(presence[0], presence[1], {name: (d[0], d[1]) for name, d in s["doors"].items()},
                     s.get("activity"),
                     [SensorRow(name, _word(x, "kind", ""), _word(x, "battery", None), x["seen"],
                                _word(x, "silent", False), _word(x, "room", ""),
                                _word(x, "alarming", False))
                      for name, x in sorted(s["sensors"].items())],
                     online, last_heartbeat)


def _word(sensor: dict[str, Any], key: str, default: Any) -> Any:
    word = sensor.get(key)
    return default if word is None else word[0]
