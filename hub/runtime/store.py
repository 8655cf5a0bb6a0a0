"""The hub's durable store: the outbox of messages for the station, alarm states, BLE counts.

Alarms are committed with ``synchronous=FULL`` (WAL) before the elder is told the call is
sent or anything is published, so a power cut after the prompt cannot lose them. Telemetry
commits without an fsync (``synchronous=NORMAL``): the OS batches those writes, which spares
the SD card, and the next alarm commit or checkpoint makes them durable. Delivery is
at-least-once: a row stays pending until the station acknowledges its id. The outbox has two
lanes, alarms and telemetry, each delivered in order (see :mod:`hub.runtime.uplink`); pending telemetry
is bounded by size, oldest dropped first, while alarms are never dropped or expired. The BLE
decoder's replay protection (each encrypted sensor's count and the packets it remembers,
drivers/ble/decode.py) is kept here too, so that it holds across restarts; those rows are written
without an fsync, like telemetry. So are the SMS fallback's (:mod:`hub.runtime.fallback`): the
station's contacts message, and each text of an alarm, planned before it is sent.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from drivers.ble.advert import Protocol
from drivers.ble.decode import MAX_REMEMBERED, Count, Counted, Kept
from hub.common.configfile import DEFAULT_TIMEZONE
from hub.common.events import AlarmState

log = logging.getLogger(__name__)

Lane = Literal["alarm", "telemetry"]
LANES: tuple[Lane, ...] = ("alarm", "telemetry")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- publication order
    id TEXT NOT NULL UNIQUE,                -- event id, the station's de-duplication key
    payload BLOB NOT NULL,                  -- encoded wire message
    alarm INTEGER NOT NULL,                 -- 1 if it raises or ends an alarm
    created REAL NOT NULL,
    acked REAL                              -- station's store time; NULL while pending, 0 set aside
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(seq) WHERE acked IS NULL;
CREATE INDEX IF NOT EXISTS outbox_lane ON outbox(alarm, seq) WHERE acked IS NULL;
CREATE TABLE IF NOT EXISTS meta (          -- epoch: this outbox's identity, so the station
    key TEXT PRIMARY KEY,                   -- knows seq numbers restarted with a new database;
    value TEXT NOT NULL                     -- dropped: telemetry rows dropped by the size bound
);
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    raised REAL NOT NULL,
    source TEXT NOT NULL DEFAULT ''         -- the device that raised it
);
CREATE INDEX IF NOT EXISTS alarms_open ON alarms(kind) WHERE state NOT IN ('resolved', 'cancelled');
CREATE TABLE IF NOT EXISTS held (          -- pre-alarms inside their window: on disk, not yet sent
    id TEXT PRIMARY KEY,                    -- the alarm's id
    payload BLOB NOT NULL                   -- its encoded wire message, for the outbox on release
);
CREATE TABLE IF NOT EXISTS alarm_log (     -- every lifecycle step, stamped where it happened
    alarm TEXT NOT NULL,
    state TEXT NOT NULL,
    ts REAL NOT NULL,                       -- when it happened (station time for station steps)
    seen REAL NOT NULL,                     -- when the hub learnt of it
    PRIMARY KEY (alarm, state)
);
CREATE TABLE IF NOT EXISTS ble_count (     -- each encrypted BLE sensor's count (decode.Count)
    mac TEXT NOT NULL,
    protocol TEXT NOT NULL,                 -- bthome, xiaomi
    last INTEGER NOT NULL,                  -- counter of the last packet taken
    high INTEGER NOT NULL,                  -- the highest ever taken
    time REAL NOT NULL,                     -- when the last was taken
    digest BLOB NOT NULL,                   -- its counter and MIC
    PRIMARY KEY (mac, protocol)
);
CREATE TABLE IF NOT EXISTS ble_remembered ( -- packets taken early in a count: seen again, replays
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- oldest first; each sensor keeps its newest ones
    mac TEXT NOT NULL,
    protocol TEXT NOT NULL,
    digest BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ble_remembered_sensor ON ble_remembered(mac, protocol, seq);
CREATE TABLE IF NOT EXISTS contacts (      -- whom the hub texts itself (wire.HubContacts): the newest
    hub TEXT PRIMARY KEY,
    rev REAL NOT NULL,                      -- the station's stamp: a lower one is older
    payload BLOB NOT NULL                   -- the message as it came (checked)
);
CREATE TABLE IF NOT EXISTS fallback (      -- the hub's own texts of an alarm, each planned before sent
    alarm TEXT NOT NULL,
    phone TEXT NOT NULL,                    -- '': nobody to text (planned all the same: once an alarm)
    person TEXT NOT NULL,                   -- JSON {name, role, relation}
    text TEXT NOT NULL,
    state TEXT NOT NULL,                    -- queued, sent, failed
    at REAL,                                -- when the modem took it, or gave up
    error TEXT,                             -- why not (the modem's error code)
    recorded INTEGER NOT NULL DEFAULT 0,    -- 1: the notify.fallback event is in the outbox
    PRIMARY KEY (alarm, phone)
);
"""


@dataclass(frozen=True, slots=True)
class FallbackRow:
    """One text of the hub's fallback (or, phone '', the note that there was nobody to text)."""

    alarm: str
    phone: str
    person: dict[str, str]
    text: str
    state: Literal["queued", "sent", "failed"]
    at: float | None
    error: str | None


class StoreError(Exception):
    """The hub database is unusable (corrupt, truncated, not a database)."""


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    id: str
    payload: bytes
    alarm: bool
    inherited: bool = False  # stored before this start, perhaps by an older version: its
    # message is checked again as it goes (rows stored since were encoded from checked messages)

    @property
    def lane(self) -> Lane:
        return "alarm" if self.alarm else "telemetry"


@dataclass(frozen=True, slots=True)
class OpenAlarm:
    id: str
    kind: str
    state: AlarmState
    raised: float
    sent: float | None  # when it went into the outbox; None while held
    source: str


class HubStore:
    def __init__(self, path: Path, *, telemetry_max_bytes: int = 64 << 20) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.telemetry_max_bytes = telemetry_max_bytes
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"{path}: database is damaged: {check}")
            self._db.executescript(SCHEMA)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(alarms)")}
            if "source" not in columns:  # a hub.db from before devices were named on alarms
                self._db.execute("ALTER TABLE alarms ADD COLUMN source TEXT NOT NULL DEFAULT ''")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", (uuid.uuid4().hex[:16],))
            self.epoch: str = self._meta("epoch")
            self._telemetry_bytes = int(self._db.execute(
                "SELECT coalesce(sum(length(payload)), 0) FROM outbox "
                "WHERE acked IS NULL AND alarm = 0").fetchone()[0])
            self._inherited_upto = int(self._db.execute(
                "SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0])
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path}: cannot open the hub database: {e}") from None

    @classmethod
    def open_or_recover(cls, path: Path, tz: tzinfo | None = None,
                        **kw: Any) -> tuple[HubStore, str | None]:
        """Open the store; a damaged one is moved aside (kept for inspection, named with the
        time in ``tz``, the county's zone) and a fresh one started, because a hub that refuses
        to start protects nobody. The second value says what happened, for the technical alarm
        the hub then raises."""
        try:
            return cls(path, **kw), None
        except StoreError as e:
            now = datetime.now(tz or ZoneInfo(DEFAULT_TIMEZONE))
            aside = path.with_name(f"{path.name}.damaged-{now:%Y%m%dT%H%M%S}")
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{path}{suffix}")
                if part.exists():
                    part.rename(f"{aside}{suffix}")
            log.error("%s; moved it to %s and started a new one", e, aside)
            return cls(path, **kw), f"{e}; moved to {aside.name}"

    def _meta(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    @property
    def dropped(self) -> int:
        """Telemetry messages dropped by the size bound, ever (reported in heartbeats)."""
        return int(self._meta("dropped", "0"))

    def close(self) -> None:
        self._db.close()

    def put(self, id: str, payload: bytes, *, alarm: bool, alarm_kind: str | None = None,
            raised: float | None = None, source: str = "", now: float | None = None) -> None:
        """Persist one outgoing message in one durable commit.

        With ``alarm_kind`` it also records a new alarm as raised (at ``raised``, the trigger
        time) and sent (now: it is in the outbox, which delivers it), so the hot path costs
        one fsync, not two.
        """
        now = time.time() if now is None else now
        if not alarm:
            self._put_telemetry(id, payload, now)
            return
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO outbox(id, payload, alarm, created) VALUES (?,?,1,?)",
                (id, payload, now))
            if alarm_kind:
                self._db.execute(
                    "INSERT OR IGNORE INTO alarms(id, kind, state, raised, source) VALUES (?,?,?,?,?)",
                    (id, alarm_kind, AlarmState.SENT.value, now, source))
                self._log(id, AlarmState.RAISED, now if raised is None else raised, now)
                self._log(id, AlarmState.SENT, now, now)

    def _put_telemetry(self, id: str, payload: bytes, now: float) -> None:
        with self._tx(durable=False):
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox(id, payload, alarm, created) VALUES (?,?,0,?)",
                (id, payload, now))
            self._telemetry_bytes += len(payload) if cur.rowcount else 0
            if self._telemetry_bytes > self.telemetry_max_bytes:
                self._trim_telemetry()

    def _trim_telemetry(self) -> None:
        """Drop the oldest pending telemetry until a tenth of the bound is free again, so the
        trim (and its log line) comes once per batch, not with every message."""
        target = self.telemetry_max_bytes * 9 // 10
        freed, upto, n = 0, 0, 0
        rows = self._db.execute("SELECT seq, length(payload) FROM outbox "
                                "WHERE acked IS NULL AND alarm = 0 ORDER BY seq")
        for seq, size in rows:
            if self._telemetry_bytes - freed <= target:
                break
            freed, upto, n = freed + size, seq, n + 1
        self._db.execute("DELETE FROM outbox WHERE acked IS NULL AND alarm = 0 AND seq <= ?", (upto,))
        self._db.execute("INSERT INTO meta VALUES ('dropped', ?) ON CONFLICT(key) DO UPDATE SET "
                         "value = CAST(value AS INTEGER) + excluded.value", (str(n),))
        self._telemetry_bytes -= freed
        log.warning("outbox: telemetry over its %d-byte bound; dropped the oldest %d message(s) "
                    "(alarms are never dropped)", self.telemetry_max_bytes, n)

    def hold(self, id: str, payload: bytes, *, alarm_kind: str, raised: float, source: str = "",
             now: float | None = None) -> None:
        """Persist a pre-alarm (e.g. a fall while the elder is asked) without sending it."""
        now = time.time() if now is None else now
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO held VALUES (?, ?)", (id, payload))
            self._db.execute(
                "INSERT OR IGNORE INTO alarms(id, kind, state, raised, source) VALUES (?,?,?,?,?)",
                (id, alarm_kind, AlarmState.RAISED.value, now, source))
            self._log(id, AlarmState.RAISED, raised, now)

    def release(self, id: str, now: float | None = None,
                stamp: Callable[[bytes], bytes | None] | None = None) -> bool:
        """Move a held alarm into the outbox (one commit); False if it is not held. ``stamp``
        rewrites its message on the way (the outbox adds when it was sent); None from it: the
        message can no longer be sent, and goes in set aside (:meth:`set_aside`)."""
        now = time.time() if now is None else now
        with self._tx():
            return self._release(id, now, stamp)

    def _release(self, id: str, now: float,
                 stamp: Callable[[bytes], bytes | None] | None = None) -> bool:
        row = self._db.execute("SELECT payload FROM held WHERE id = ?", (id,)).fetchone()
        if row is None:
            return False
        payload = stamp(row[0]) if stamp else row[0]
        self._db.execute("DELETE FROM held WHERE id = ?", (id,))
        self._db.execute("INSERT OR IGNORE INTO outbox(id, payload, alarm, created, acked) "
                         "VALUES (?,?,1,?,?)", (id, row[0] if payload is None else payload, now,
                                                0 if payload is None else None))
        self._db.execute("UPDATE alarms SET state = ? WHERE id = ?", (AlarmState.SENT.value, id))
        self._log(id, AlarmState.SENT, now, now)
        return True

    def cancel_held(self, id: str, cancel_id: str, cancel_payload: bytes, ts: float,
                    now: float | None = None) -> bool:
        """A held alarm cancelled in its window: in one commit it goes to the outbox followed by
        its cancellation, so a power cut cannot send the alarm without the cancel."""
        now = time.time() if now is None else now
        with self._tx():
            if not self._release(id, now):
                return False
            self._db.execute("INSERT OR IGNORE INTO outbox(id, payload, alarm, created) VALUES (?,?,1,?)",
                             (cancel_id, cancel_payload, now))
            self._db.execute("UPDATE alarms SET state = ? WHERE id = ?", (AlarmState.CANCELLED.value, id))
            self._log(id, AlarmState.CANCELLED, ts, now)
        return True

    def held(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM held ORDER BY rowid")]

    def pending(self, limit: int = 500) -> list[Pending]:
        rows = self._db.execute(
            "SELECT seq, id, payload, alarm FROM outbox WHERE acked IS NULL "
            "ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [self._pending(*r) for r in rows]

    def lane(self, lane: Lane, *, after: int = 0, limit: int = 500) -> list[Pending]:
        """Pending messages of one lane past seq ``after``, oldest first."""
        rows = self._db.execute(
            "SELECT seq, id, payload, alarm FROM outbox WHERE acked IS NULL AND alarm = ? "
            "AND seq > ? ORDER BY seq LIMIT ?", (int(lane == "alarm"), after, limit)).fetchall()
        return [self._pending(*r) for r in rows]

    def _pending(self, seq: int, id: str, payload: bytes, alarm: int) -> Pending:
        return Pending(seq, id, payload, bool(alarm), inherited=seq <= self._inherited_upto)

    def prev_pending(self, lane: Lane, seq: int) -> int:
        """The pending message before ``seq`` in its lane (0: none). The station stores a
        message only when that one is already stored, which keeps each lane in order."""
        row = self._db.execute("SELECT max(seq) FROM outbox WHERE acked IS NULL AND alarm = ? "
                               "AND seq < ?", (int(lane == "alarm"), seq)).fetchone()
        return int(row[0] or 0)

    def set_aside(self, id: str) -> None:
        """Take a message that can no longer be sent (it fails today's wire checks) out of
        its lane, so it cannot hold back the ones after it; it stays in the table to see."""
        with self._tx():
            self._db.execute("UPDATE outbox SET acked = 0 WHERE id = ? AND acked IS NULL", (id,))

    def prune(self, before: float) -> int:
        """Forget acknowledged messages created before ``before``; the alarms table keeps the
        alarms' history. Returns how many went."""
        with self._tx():
            return self._db.execute("DELETE FROM outbox WHERE acked IS NOT NULL AND created < ?",
                                    (before,)).rowcount

    def pending_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM outbox WHERE acked IS NULL").fetchone()[0])

    def ack(self, ids: list[str], station_ts: float) -> list[str]:
        """Mark ids delivered; return those that were pending (a repeated ack returns [])."""
        fresh = []
        with self._tx(durable=False):  # a lost ack only means a resend, which the station ignores
            for i in ids:
                row = self._db.execute(
                    "UPDATE outbox SET acked = ? WHERE id = ? AND acked IS NULL "
                    "RETURNING alarm, length(payload)", (station_ts, i)).fetchall()
                if row:
                    fresh.append(i)
                    self._telemetry_bytes -= 0 if row[0][0] else row[0][1]
        return fresh

    def advance(self, alarm: str, state: AlarmState, ts: float, now: float | None = None) -> bool:
        """Record a lifecycle step if it moves the alarm forward; False for stale or repeats."""
        now = time.time() if now is None else now
        row = self._db.execute("SELECT state FROM alarms WHERE id = ?", (alarm,)).fetchone()
        if row is None or not AlarmState(row[0]).may_become(state):
            return False
        with self._tx():
            self._db.execute("UPDATE alarms SET state = ? WHERE id = ?", (state.value, alarm))
            self._log(alarm, state, ts, now)
        return True

    def open_alarm(self, kind: str, source: str | None = None) -> str | None:
        """The id of an open alarm of this kind (from this device), if there is one."""
        closed = (AlarmState.RESOLVED.value, AlarmState.CANCELLED.value)
        row = self._db.execute(
            "SELECT id FROM alarms WHERE kind = ? AND (? IS NULL OR source = ?) AND state NOT IN (?, ?) "
            "ORDER BY raised LIMIT 1", (kind, source, source, *closed)).fetchone()
        return row[0] if row else None

    def kind_of(self, alarm: str) -> str | None:
        row = self._db.execute("SELECT kind FROM alarms WHERE id = ?", (alarm,)).fetchone()
        return row[0] if row else None

    def open_alarms(self) -> list[OpenAlarm]:
        closed = (AlarmState.RESOLVED.value, AlarmState.CANCELLED.value)
        rows = self._db.execute(
            "SELECT a.id, a.kind, a.state, a.raised, l.ts, a.source FROM alarms a LEFT JOIN alarm_log l "
            "ON l.alarm = a.id AND l.state = ? WHERE a.state NOT IN (?, ?) ORDER BY a.raised",
            (AlarmState.SENT.value, *closed)).fetchall()
        return [OpenAlarm(r[0], r[1], AlarmState(r[2]), r[3], r[4], r[5]) for r in rows]

    def timeline(self, alarm: str) -> list[tuple[AlarmState, float, float]]:
        """The alarm's latency record: (state, when it happened, when the hub learnt it)."""
        rows = self._db.execute(
            "SELECT state, ts, seen FROM alarm_log WHERE alarm = ? ORDER BY seen", (alarm,))
        return [(AlarmState(s), ts, seen) for s, ts, seen in rows]

    def ble_counts(self) -> dict[tuple[str, Protocol], Kept]:
        """The BLE decoder's replay protection as it was left: (MAC, protocol) -> count and
        remembered digests, oldest first."""
        remembered: dict[tuple[str, str], list[bytes]] = {}
        for mac, protocol, digest in self._db.execute(
                "SELECT mac, protocol, digest FROM ble_remembered ORDER BY seq"):
            remembered.setdefault((mac, protocol), []).append(bytes(digest))
        return {(mac, cast(Protocol, protocol)): (Count(last, high, time, bytes(digest)),
                                                  remembered.get((mac, protocol), []))
                for mac, protocol, last, high, time, digest in self._db.execute(
                    "SELECT mac, protocol, last, high, time, digest FROM ble_count")}

    def keep_ble_count(self, counted: Counted) -> None:
        """Persist a move of a sensor's count (without an fsync: the next durable commit or the
        OS writes it); a sensor keeps its newest MAX_REMEMBERED digests."""
        c, key = counted.count, (counted.mac, counted.protocol)
        with self._tx(durable=False):
            self._db.execute("INSERT INTO ble_count VALUES (?,?,?,?,?,?) ON CONFLICT(mac, protocol) "
                             "DO UPDATE SET last = excluded.last, high = excluded.high, "
                             "time = excluded.time, digest = excluded.digest",
                             (*key, c.last, c.high, c.time, c.digest))
            if counted.remember is not None:
                self._db.execute("INSERT INTO ble_remembered(mac, protocol, digest) VALUES (?,?,?)",
                                 (*key, counted.remember))
                self._db.execute(
                    "DELETE FROM ble_remembered WHERE mac = ? AND protocol = ? AND seq <= (SELECT seq "
                    "FROM ble_remembered WHERE mac = ? AND protocol = ? ORDER BY seq DESC LIMIT 1 "
                    "OFFSET ?)", (*key, *key, MAX_REMEMBERED))

    # --- the hub's own fallback (hub.runtime.fallback) -----------------------------------------

    def keep_contacts(self, hub: str, rev: float, payload: bytes) -> bool:
        """Keep the station's contacts message unless an equal or newer one is kept already."""
        with self._tx():
            return bool(self._db.execute(
                "INSERT INTO contacts VALUES (?,?,?) ON CONFLICT(hub) DO UPDATE SET rev = "
                "excluded.rev, payload = excluded.payload WHERE excluded.rev > contacts.rev",
                (hub, rev, payload)).rowcount)

    def contacts(self, hub: str) -> bytes | None:
        row = self._db.execute("SELECT payload FROM contacts WHERE hub = ?", (hub,)).fetchone()
        return bytes(row[0]) if row else None

    def payload(self, id: str) -> bytes | None:
        """A message still in the outbox (an alarm's: what it said of itself)."""
        row = self._db.execute("SELECT payload FROM outbox WHERE id = ?", (id,)).fetchone()
        return bytes(row[0]) if row else None

    def fallback_alarms(self) -> set[str]:
        """The alarms the fallback has planned texts for (each once, whatever happens after)."""
        return {r[0] for r in self._db.execute("SELECT DISTINCT alarm FROM fallback")}

    def plan_fallback(self, rows: list[FallbackRow]) -> None:
        """An alarm's texts, queued in one durable commit before the first is sent."""
        with self._tx():
            self._db.executemany(
                "INSERT OR IGNORE INTO fallback(alarm, phone, person, text, state, at, error) "
                "VALUES (?,?,?,?,?,?,?)",
                [(r.alarm, r.phone, json.dumps(r.person, ensure_ascii=False), r.text, r.state,
                  r.at, r.error) for r in rows])

    def fallback(self, alarm: str | None = None, *, unrecorded: bool = False) -> list[FallbackRow]:
        """An alarm's fallback texts (all alarms': None), in the order planned; ``unrecorded``:
        only those whose event is not in the outbox yet."""
        rows = self._db.execute(
            "SELECT alarm, phone, person, text, state, at, error FROM fallback WHERE "
            "(? IS NULL OR alarm = ?) AND (? = 0 OR recorded = 0) ORDER BY rowid",
            (alarm, alarm, int(unrecorded), )).fetchall()
        return [FallbackRow(a, p, json.loads(who), t, st, at, e) for a, p, who, t, st, at, e in rows]

    def fallback_done(self, alarm: str, phone: str, *, sent: bool, at: float,
                      error: str | None = None) -> None:
        with self._tx():
            self._db.execute("UPDATE fallback SET state = ?, at = ?, error = ? WHERE alarm = ? "
                             "AND phone = ?", ("sent" if sent else "failed", at, error, alarm, phone))

    def fallback_recorded(self, alarm: str) -> None:
        with self._tx():
            self._db.execute("UPDATE fallback SET recorded = 1 WHERE alarm = ?", (alarm,))

    def _log(self, alarm: str, state: AlarmState, ts: float, seen: float) -> None:
        self._db.execute("INSERT OR IGNORE INTO alarm_log VALUES (?,?,?,?)",
                         (alarm, state.value, ts, seen))

    def _tx(self, *, durable: bool = True) -> _Tx:
        return _Tx(self._db, durable)


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (sqlite3's own context is implicit).

    Not durable: committed without an fsync (synchronous=NORMAL, WAL); the next durable
    commit or checkpoint writes it to disk. Only for what may be lost in a power cut.
    """

    def __init__(self, db: sqlite3.Connection, durable: bool) -> None:
        self._db, self._durable = db, durable

    def __enter__(self) -> None:
        if not self._durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            if not self._durable:
                self._db.execute("PRAGMA synchronous=FULL")
