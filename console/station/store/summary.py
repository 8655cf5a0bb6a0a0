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
again what was not acknowledged), and one made again from the stored events (:func:`of_events`)
equals the one kept at ingest. Folding is idempotent too (a word taken twice is the same
word), so two summaries of a home's events merge into the one of them all (:func:`merge`).

An alarm event repeats its trigger's kind, source and data (hub/rules/engine.py): it is the
trigger's word again, at the trigger's time (``trigger_ts``), never at the alarm's (a wandering
alarm comes 15 minutes after the door opened): the same word as the trigger's own when that
was sent too, and the only one when it was not. One naming a trigger without its time says
nothing.

A summary keeps at most :data:`MAX_THINGS` doors and as many sensors: words on more are not
kept (the events are, as always), and which are kept then depends on the order they came in.
An older database gets the table made empty at start, and each home with events listed in
``summary_backfill``: the station's background task (:mod:`~console.station.store.backfill`)
then makes each listed home's summary from its :data:`MIGRATED_EVENTS` latest events, as the
card read them before (a word only said before them is not in it), and merges it into what
ingest has folded meanwhile. Until then a home's summary says what it heard since the upgrade.
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
BACKFILL = """
CREATE TABLE IF NOT EXISTS summary_backfill (  -- homes whose summary is still to be made from
    hub TEXT PRIMARY KEY                       -- their stored events (store/backfill.py)
);
"""
ACTIVITY = ("presence.on", "motion.active", "residency.on", "door.open", "door.close",
            "button.press", "button.long", "button.again", "cancel.press")  # someone moved
SENSOR_EVENTS = ("presence", "motion", "residency", "door", "smoke", "gas", "co", "leak", "tamper",
                 "battery", "device", "button", "fall", "cancel")  # kinds a device reports
HAZARDS = ("smoke", "gas", "co", "leak")  # sensors that are on (alarming) or off
# the doors, and the sensors, a summary keeps at most: a home has a few dozen devices; a hub
# naming more is broken or hostile, and its summary (read and written at each commit) stays small
MAX_THINGS = 200
# the backfill reads each home's latest events, at most this many (the card read as many
# before the summary): a county's years of events would take it hours more
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
    fold_rows(s, stored(db, hub, latest))
    return s


Row = tuple[str, float, str, str]  # a stored event as fold_rows takes it: kind, ts, payload, id


def stored(db: Db, hub: str, latest: int | None = None,
           below: tuple[float, str] | None = None) -> list[Row]:
    """The home's stored events (or its ``latest``, newest first, ``below`` the (ts, id) of
    one: the next of them after a part read)."""
    sql = "SELECT kind, ts, payload, id FROM events WHERE hub = ?"
    if latest is None:
        return db.execute(sql, (hub,)).fetchall()
    if below is None:
        return db.execute(f"{sql} ORDER BY ts DESC, id DESC LIMIT ?", (hub, latest)).fetchall()
    return db.execute(f"{sql} AND (ts < ? OR (ts = ? AND id < ?)) ORDER BY ts DESC, id DESC LIMIT ?",
                      (hub, below[0], below[0], below[1], latest)).fetchall()


def fold_rows(s: Summary, rows: Iterable[Row]) -> None:
    """Take stored events' words (:func:`stored`) into ``s``."""
    for kind, ts, payload, _ in rows:
        p = json.loads(payload)
        data = p.get("data")
        fold(s, kind, ts, p.get("source"), data if isinstance(data, dict) else {})


def to_backfill(db: Db) -> None:
    """List every home with stored events for the backfill (the migration that makes the
    table, in its transaction): one index probe a home (a recursive skip over ``events_hub``),
    never a read of the events, so an upgrade starts at once however long the history."""
    db.execute("WITH RECURSIVE h(hub) AS (SELECT min(hub) FROM events UNION ALL "
               "SELECT (SELECT min(hub) FROM events WHERE hub > h.hub) FROM h WHERE h.hub IS NOT NULL) "
               "INSERT INTO summary_backfill SELECT hub FROM h WHERE hub IS NOT NULL "
               "ON CONFLICT DO NOTHING")


def backfill(db: Db, hub: str, made: Summary) -> bool:
    """Merge ``made`` (:func:`of_events`, read before) into the home's summary and take it off
    the backfill's list, in the caller's transaction (which holds the hub's lock, as ingest's
    does); False, writing nothing, if it was not listed (another worker did it)."""
    if not db.execute("DELETE FROM summary_backfill WHERE hub = ?", (hub,)).rowcount:
        return False
    row = db.execute("SELECT readings FROM home_summary WHERE hub = ?", (hub,)).fetchone()
    s = json.loads(row[0]) if row else empty()
    merge(s, made)
    _write(db, {hub: s})
    return True


def merge(s: Summary, other: Summary) -> None:
    """Take ``other``'s words into ``s``: as if ``s`` had folded ``other``'s events too."""
    if "activity" in other:
        s["activity"] = max(other["activity"], s.get("activity", other["activity"]))
    if "presence" in other:
        _later(s, "presence", *other["presence"])
    for door, word in other["doors"].items():
        if _room_for(s["doors"], door):
            _later(s["doors"], door, *word)
    for name, words in other["sensors"].items():
        if not _room_for(s["sensors"], name):
            continue
        sensor = s["sensors"].setdefault(name, {"seen": words["seen"]})
        sensor["seen"] = max(words["seen"], sensor["seen"])
        for key, word in words.items():
            if key != "seen":
                _later(sensor, key, *word)


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
