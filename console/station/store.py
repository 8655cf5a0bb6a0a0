"""The station database (SQLite): homes and elders, every event, alarms and their history.

The station service is the only writer. Consoles open it read-only and re-read rows when the
service announces a change, so a console can start, stop or run twice without affecting
what is stored. Alarm writes use ``synchronous=FULL`` before the hub is acknowledged; heartbeats, which the
next one replaces, commit with ``synchronous=NORMAL`` (no fsync of their own: a power cut loses
at most the last few, never an alarm).

A write that fails (a full disk, an I/O error) is rolled back and raised, and ``trouble`` says
why until a later write succeeds; ``check_writable`` is that later write when nothing else
comes. The service tells the consoles (``StationStatus.writable``).

Elder records come from homes.yaml at start and from the consoles (``elder_save``). The file
creates the homes it lists that are missing; for a home already stored, its entry replaces the
stored record only when the entry itself changed since it was last applied (its hash is kept
as ``seed``), so a record edited at the console survives a restart with the same file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from console.casework.records import AlarmRecord, FollowUp, VisitRecord
from console.casework.schedule import History
from console.station import audit, calls, records_store, users
from console.station.config import Category, Elder, Home, LoginConfig
from console.station.records_store import OpRefused
from hub.common import wire
from hub.common.configfile import DEFAULT_TIMEZONE
from hub.common.events import CANCEL_KIND, WALKTEST, AlarmState

SCHEMA = """
CREATE TABLE IF NOT EXISTS homes (
    hub TEXT PRIMARY KEY,
    elder TEXT,                      -- Elder record as JSON; NULL for a hub not in homes.yaml
    online INTEGER NOT NULL DEFAULT 0,
    status_ts REAL,                  -- station time of the last online/offline change
    last_heartbeat REAL,             -- station time the last heartbeat arrived
    pending INTEGER NOT NULL DEFAULT 0, -- messages the hub reported not yet acknowledged
    dropped INTEGER NOT NULL DEFAULT 0, -- telemetry the hub's outbox size bound ever dropped
    walktest_until REAL,             -- station time the home's walk-test mode ends; NULL: none
    walktest_by TEXT,                -- the installer who started it
    walktest_last TEXT,              -- id of the home's latest walk test (walktests.id)
    seed TEXT,                       -- sha256 of the homes.yaml entry last applied to `elder`
    added REAL                       -- station time the elder record was first stored
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,             -- the hub's event id: de-duplication key
    hub TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts REAL NOT NULL,                -- hub time
    received REAL NOT NULL,          -- station time
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_hub ON events(hub, ts);
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,             -- id of the raising event
    hub TEXT NOT NULL,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    raised REAL NOT NULL,            -- hub time of the trigger
    received REAL NOT NULL,          -- station time it was stored
    officer TEXT,
    claimed REAL,
    closed REAL,
    outcome TEXT,
    notes TEXT,
    claimed_by TEXT,                 -- username of the officer; `officer` is their display name
    escalated REAL,                  -- station time it was flagged unclaimed past the limit
    pressed INTEGER NOT NULL DEFAULT 0, -- times the elder pressed again while it was open
    pressed_last REAL                -- hub time of the latest of those presses
);
CREATE INDEX IF NOT EXISTS alarms_hub ON alarms(hub, raised);
CREATE INDEX IF NOT EXISTS alarms_open ON alarms(state) WHERE state NOT IN ('resolved', 'cancelled');
CREATE INDEX IF NOT EXISTS alarms_unclaimed ON alarms(received) WHERE state = 'delivered';
CREATE TABLE IF NOT EXISTS alarm_log (  -- every step, stamped where it happened
    alarm TEXT NOT NULL,
    state TEXT NOT NULL,
    ts REAL NOT NULL,
    actor TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS alarm_log_alarm ON alarm_log(alarm);
CREATE TABLE IF NOT EXISTS alarm_steps (  -- the response checklist: county plan steps stamped
    alarm TEXT NOT NULL,
    step TEXT NOT NULL,              -- a step key of the county response plan
    ts REAL NOT NULL,                -- station time
    officer TEXT NOT NULL,           -- display name
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_steps_alarm ON alarm_steps(alarm);
CREATE TABLE IF NOT EXISTS lanes (     -- per hub and outbox lane: the last message stored
    hub TEXT NOT NULL,
    lane TEXT NOT NULL,
    epoch TEXT NOT NULL,             -- the hub outbox's identity (a new database restarts n)
    last INTEGER NOT NULL,           -- highest seq n stored
    PRIMARY KEY (hub, lane)
);
CREATE TABLE IF NOT EXISTS walktests (  -- walk-test events: the record of each test, never alarms
    id TEXT PRIMARY KEY,             -- the hub's event id
    hub TEXT NOT NULL,
    kind TEXT NOT NULL,              -- the device's own event (button.press), or walktest.start,
    source TEXT NOT NULL,            -- .end, .ping, .report from the hub itself (source 'hub')
    ts REAL NOT NULL,                -- hub time
    received REAL NOT NULL,          -- station time
    data TEXT NOT NULL               -- the event's data as JSON (room, location, rssi, battery, …)
);
CREATE INDEX IF NOT EXISTS walktests_hub ON walktests(hub, ts);
CREATE TABLE IF NOT EXISTS rejected (   -- inputs refused at the door, kept for inspection
    ts REAL NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL            -- first 1 KiB
);
CREATE TABLE IF NOT EXISTS write_check (  -- rewritten while writes fail: can it write again?
    id INTEGER PRIMARY KEY CHECK (id = 1),
    ts REAL NOT NULL
);
"""

CANCELLED_AT_HOME = "cancelled_at_home"  # outcome code of an alarm the elder cancelled
CALL_REQUESTED = "call_requested"  # alarm_log note: a hub rule asked for a voice call
ESCALATED = "escalated"  # alarm_log note: unclaimed past the station's limit
PRESSED_AGAIN = "pressed_again"  # alarm_log note: the elder pressed the call button again
AGAIN_KIND = "button.again"  # a press while the home's call is open (docs/events.md)
CALL_EVENTS = ("call.open", "call.end")  # the hub's reports on a call (docs/events.md)
OPEN_STATES = tuple(s.value for s in AlarmState if not s.closed)
WALKTEST_MAX_S = 24 * 3600  # a walk-test mode is shown at most this long, whatever a hub says
ACTIVITY = ("presence.on", "motion.active", "residency.on", "door.open", "door.close",
            "button.press", "button.long", "button.again", "cancel.press")  # someone moved
SENSOR_EVENTS = ("presence", "motion", "residency", "door", "smoke", "gas", "co", "leak", "tamper",
                 "battery", "device", "button", "fall", "cancel")  # kinds a device reports
HAZARDS = ("smoke", "gas", "co", "leak")  # sensors that are on (alarming) or off
HOME_STATE_EVENTS = 5000  # home_state reads the home's latest events, at most this many
_HOME_SQL = ("SELECT h.hub, h.elder, h.online, h.status_ts, h.last_heartbeat, h.pending, h.dropped, "
             "h.walktest_until, h.walktest_by, w.id, w.hub, w.kind, w.source, w.ts, w.data "
             "FROM homes h LEFT JOIN walktests w ON w.id = h.walktest_last")


@dataclass(frozen=True, slots=True)
class WalkTestRow:
    """One walk-test event: a device the installer worked, or the hub's own (mode, report)."""

    id: str
    hub: str
    kind: str
    source: str
    ts: float  # hub time
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return str(self.data.get("location") or self.data.get("room") or "")


@dataclass(frozen=True, slots=True)
class HomeRow:
    hub: str
    elder: Elder | None
    online: bool
    status_ts: float | None
    last_heartbeat: float | None
    pending: int
    dropped: int
    walktest_until: float | None = None  # station time its walk-test mode ends
    walktest_by: str | None = None
    walktest_last: WalkTestRow | None = None

    def in_walktest(self, now: float) -> bool:
        return self.walktest_until is not None and now < self.walktest_until


@dataclass(frozen=True, slots=True)
class AlarmRow:
    id: str
    hub: str
    kind: str
    priority: int
    contact_id: int
    source: str
    location: str
    state: AlarmState
    raised: float
    received: float
    officer: str | None
    claimed_by: str | None
    claimed: float | None
    closed: float | None
    outcome: str | None
    notes: str | None
    elder: Elder | None
    escalated: float | None = None  # station time it was flagged unclaimed past the limit
    pressed: int = 0  # times the elder pressed again while it was open
    pressed_last: float | None = None  # hub time of the latest

    def order(self, today: date) -> tuple[int, bool, int, bool, int, float]:
        """Queue order: priority, then pressed again before not, then the elder's care group,
        then the elder's age on ``today`` (the oldest first, unknown ages after known ones),
        then when it was raised."""
        rank = self.elder.category.rank if self.elder else len(Category)
        age = self.elder.age_on(today) if self.elder else None
        return (self.priority, not self.pressed, rank, age is None, -(age or 0), self.raised)


@dataclass(frozen=True, slots=True)
class StepRow:
    """A step of the response checklist, stamped when the officer did it."""

    step: str
    ts: float
    officer: str
    note: str


@dataclass(frozen=True, slots=True)
class SensorRow:
    name: str  # the event source: the device's name in hub.yaml
    kind: str  # door, smoke, presence … (the device's type when it said so)
    battery: int | None  # percent, last reported
    last_seen: float  # hub time of its last event
    silent: bool  # supervision reported it silent, and not back since
    room: str = ""  # where hub.yaml puts it: a sensor's room, a button's location
    alarming: bool = False  # a smoke, gas, CO or leak sensor whose last word was "on"


@dataclass(frozen=True, slots=True)
class HomeState:
    """What the home's devices last said, for the elder's card."""

    presence: bool | None  # someone in range; None: no presence sensor has spoken
    presence_since: float | None
    doors: dict[str, tuple[bool, float]]  # name -> (open, hub time)
    last_activity: float | None  # hub time someone last moved, opened a door or pressed
    sensors: list[SensorRow]
    online: bool
    last_heartbeat: float | None


class OutOfOrder(Exception):
    """A message came before an earlier one of its lane: not stored, the hub must resend."""

    def __init__(self, lane: Literal["alarm", "telemetry"], prev: int, last: int | None) -> None:
        super().__init__(f"{lane} lane: message after {prev} arrived, but the last stored is {last}")
        self.lane = lane


class ClaimConflict(OpRefused):
    """The alarm cannot take that step: ``code`` no_alarm, closed, taken (claimed by someone
    else) or not_claimed (resolving what nobody has claimed)."""


class StationStore:
    def __init__(self, path: Path, *, readonly: bool = False,
                 login: LoginConfig | None = None, tz: tzinfo | None = None) -> None:
        """``tz`` is the county's zone (county.yaml; default Asia/Shanghai): where a station
        time's day begins."""
        self.path, self.tz = path, tz or ZoneInfo(DEFAULT_TIMEZONE)
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA + audit.SCHEMA + users.SCHEMA + calls.SCHEMA)
            self._db.executescript(records_store.SCHEMA)
            self._migrate()
        self._db.execute("PRAGMA busy_timeout=5000")
        self.trouble: str | None = None  # why the last write failed, until one succeeds
        self.users = users.Users(self._db, self._tx, login or LoginConfig())
        self.calls = calls.Calls(self._db, self._tx)
        self.records = records_store.Records(self._db, self._tx, self.tz)

    def _migrate(self) -> None:
        """Columns added since a database was made (older databases)."""
        added = {"alarms": (("claimed_by", "TEXT"), ("escalated", "REAL"),
                            ("pressed", "INTEGER NOT NULL DEFAULT 0"), ("pressed_last", "REAL")),
                 "homes": (("dropped", "INTEGER NOT NULL DEFAULT 0"), ("walktest_until", "REAL"),
                           ("walktest_by", "TEXT"), ("walktest_last", "TEXT"), ("seed", "TEXT"),
                           ("added", "REAL")),
                 "users": (("slowed_until", "REAL"),)}  # its locked_until is no longer read
        for table, columns in added.items():
            have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            for column, decl in columns:
                if column not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
                    if (table, column) == ("homes", "added"):  # join date unknown: from now
                        self._db.execute("UPDATE homes SET added = ? WHERE elder IS NOT NULL",
                                         (time.time(),))

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction; not ``durable``: committed without an fsync of its own (the
        next durable commit carries it to disk). A failed COMMIT (a full disk) is rolled back
        too, if SQLite has not done so itself: a transaction left open would make every later
        BEGIN fail."""
        if not durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        changes = self._db.total_changes
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            self.trouble = str(e)
            raise
        else:
            if self._db.total_changes != changes:  # an empty commit proves nothing
                self.trouble = None
        finally:
            if not durable:
                self._db.execute("PRAGMA synchronous=FULL")

    # --- writes (station service) -----------------------------------------------------------

    def load_homes(self, homes: list[Home], *, actor: str = "homes.yaml",
                   now: float | None = None) -> list[str]:
        """Store the elder records of homes.yaml: a missing home is created, a stored one
        replaced only when its entry in the file changed since it was last applied (see the
        module docstring). Each home whose record changed gets an audit entry naming the fields
        that changed (not their values: the record itself is the personal data).
        Returns the hubs that changed."""
        now = time.time() if now is None else now
        changed = []
        with self._tx() as db:
            for h in homes:
                new = h.elder.model_dump(mode="json")
                seed = hashlib.sha256(audit.canonical(new).encode()).hexdigest()
                row = db.execute("SELECT elder, seed FROM homes WHERE hub = ?", (h.hub,)).fetchone()
                old = json.loads(row[0]) if row and row[0] else None
                if old is not None and row[1] == seed:
                    continue  # the file's entry is as last applied: the stored record stands
                db.execute("INSERT INTO homes(hub, elder, seed, added) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT(hub) DO UPDATE SET elder = excluded.elder, seed = "
                           "excluded.seed, added = coalesce(added, excluded.added)",
                           (h.hub, h.elder.model_dump_json(), seed, now))
                if old == new:
                    continue
                fields = sorted(h.elder.model_dump(exclude_defaults=True) if old is None else
                                (k for k in new.keys() | old.keys() if old.get(k) != new.get(k)))
                audit.append(db, actor=actor, action="elder.record", target=h.hub,
                             detail={"added": old is None, "fields": fields}, ts=now)
                if old is not None and old.get("category") != new["category"]:
                    # as the desk's changes of group are: a past month's roster reads it back
                    audit.append(db, actor=actor, action="elder.category", target=h.hub,
                                 detail={"from": old.get("category"), "to": new["category"]}, ts=now)
                changed.append(h.hub)
        return changed

    def store_event(self, msg: wire.EventMsg, now: float | None = None) -> bool:
        """Store an event (and the alarm it raises) durably; False if it was a duplicate.

        Raises OutOfOrder, storing nothing, when an earlier message of its lane is missing.
        """
        [result] = self.store_events([msg], now)
        if isinstance(result, OutOfOrder):
            raise result
        return result

    def store_events(self, msgs: list[wire.EventMsg],
                     now: float | None = None) -> list[bool | OutOfOrder]:
        """Store events in one durable commit (one fsync for a whole burst): per message True
        (stored), False (a duplicate) or OutOfOrder (not stored: an earlier one is missing)."""
        now = time.time() if now is None else now
        results: list[bool | OutOfOrder] = []
        with self._tx() as db:
            for msg in msgs:
                results.append(self._store_one(db, msg, now))
        return results

    def _store_one(self, db: sqlite3.Connection, msg: wire.EventMsg, now: float) -> bool | OutOfOrder:
        if db.execute("SELECT 1 FROM events WHERE id = ?", (msg.id,)).fetchone():
            return False
        if msg.seq and (gap := self._in_order(db, msg.hub, msg.seq)):
            return gap
        db.execute("INSERT INTO events VALUES (?,?,?,?,?,?)",
                   (msg.id, msg.hub, msg.kind, msg.ts, now, msg.model_dump_json()))
        db.execute("INSERT OR IGNORE INTO homes(hub) VALUES (?)", (msg.hub,))
        if msg.alarm and msg.alarm.kind == WALKTEST:
            self._walktest(db, msg, now)
        elif msg.alarm:
            where = str(msg.data.get("location") or msg.data.get("room", ""))  # button, else room
            db.execute(
                "INSERT INTO alarms(id, hub, kind, priority, contact_id, source, location, "
                "state, raised, received) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (msg.id, msg.hub, msg.alarm.kind, msg.alarm.priority, msg.alarm.contact_id,
                 msg.source, where, AlarmState.DELIVERED.value, msg.ts, now))
            db.executemany("INSERT INTO alarm_log VALUES (?,?,?,?,?)", [
                (msg.id, AlarmState.RAISED.value, msg.ts, msg.hub, None),
                (msg.id, AlarmState.DELIVERED.value, now, None, None)])
        elif msg.kind == CANCEL_KIND and msg.ref:
            self._cancel_from_home(db, msg)
        elif msg.kind == AGAIN_KIND and msg.ref:
            self._pressed_again(db, msg)
        elif msg.kind in CALL_EVENTS:
            calls.Calls.from_hub(db, msg.hub, msg.kind, msg.data, msg.ts, now)
        elif msg.kind == "call.request" and msg.ref:
            db.execute("INSERT INTO alarm_log SELECT id, state, ?, ?, ? FROM alarms "
                       "WHERE id = ? AND hub = ?", (msg.ts, msg.hub, CALL_REQUESTED, msg.ref, msg.hub))
        return True

    @staticmethod
    def _walktest(db: sqlite3.Connection, msg: wire.EventMsg, now: float) -> None:
        """A walk test is kept as a record of the home, never as an alarm: it cannot enter the
        queue or ring. The mode's start and end set how the home is shown; they and the
        commissioning report go into the audit log."""
        db.execute("INSERT INTO walktests VALUES (?,?,?,?,?,?,?)",
                   (msg.id, msg.hub, msg.kind, msg.source, msg.ts, now,
                    json.dumps(msg.data, ensure_ascii=False)))
        d = msg.data
        if msg.kind == "walktest.start":
            minutes = d.get("minutes")
            seconds = float(minutes) * 60 if isinstance(minutes, int | float) else WALKTEST_MAX_S
            installer = str(d.get("installer", ""))[:64]
            db.execute("UPDATE homes SET walktest_until = ?, walktest_by = ? WHERE hub = ?",
                       (now + min(max(seconds, 0.0), WALKTEST_MAX_S), installer, msg.hub))
            detail: dict[str, Any] = {"event": msg.id, "installer": installer, "minutes": minutes}
        elif msg.kind == "walktest.end":
            db.execute("UPDATE homes SET walktest_until = NULL WHERE hub = ?", (msg.hub,))
            detail = {"event": msg.id, "reason": str(d.get("reason", ""))[:200]}
        else:
            db.execute("UPDATE homes SET walktest_last = ? WHERE hub = ?", (msg.id, msg.hub))
            if msg.kind != "walktest.report":
                return
            detail = {"event": msg.id, **{k: d.get(k) for k in ("result", "passed", "checks",
                                                                  "installer")}}
        audit.append(db, actor=msg.hub, action=msg.kind, target=msg.hub, detail=detail,
                     ts=time.time())

    @staticmethod
    def _in_order(db: sqlite3.Connection, hub: str, seq: wire.Seq) -> OutOfOrder | None:
        """Accept a message whose predecessor is stored (or acknowledged: prev 0), and
        remember it as the lane's last; otherwise say why not."""
        row = db.execute("SELECT epoch, last FROM lanes WHERE hub = ? AND lane = ?",
                         (hub, seq.lane)).fetchone()
        last = row[1] if row and row[0] == seq.epoch else None
        if seq.prev and (last is None or seq.prev > last):
            return OutOfOrder(seq.lane, seq.prev, last)
        db.execute("INSERT INTO lanes VALUES (?,?,?,?) ON CONFLICT(hub, lane) DO UPDATE SET "
                   "epoch = excluded.epoch, last = max(CASE WHEN epoch = excluded.epoch THEN last "
                   "ELSE 0 END, excluded.last)", (hub, seq.lane, seq.epoch, seq.n))
        return None

    def _cancel_from_home(self, db: sqlite3.Connection, msg: wire.EventMsg) -> None:
        """The elder cancelled at home. An alarm no officer has taken yet closes as
        cancelled; one already claimed stays open with a note, for the officer to check."""
        cur = db.execute("UPDATE alarms SET state = ?, closed = ?, outcome = ? "
                         "WHERE id = ? AND hub = ? AND state = ?",
                         (AlarmState.CANCELLED.value, msg.ts, CANCELLED_AT_HOME, msg.ref, msg.hub,
                          AlarmState.DELIVERED.value))
        if not cur.rowcount:
            row = db.execute("SELECT state FROM alarms WHERE id = ? AND hub = ?",
                             (msg.ref, msg.hub)).fetchone()
            if row is None:
                return  # nothing of that hub's to cancel; the event itself is kept
        state = AlarmState.CANCELLED.value if cur.rowcount else row[0]
        db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)",
                   (msg.ref, state, msg.ts, msg.hub, CANCELLED_AT_HOME))
        audit.append(db, actor=msg.hub, action="alarm.cancel_at_home", target=msg.ref or "",
                     detail={"event": msg.id, "closed": bool(cur.rowcount), "state": state},
                     ts=time.time())

    @staticmethod
    def _pressed_again(db: sqlite3.Connection, msg: wire.EventMsg) -> None:
        """The elder pressed again while the call was open: it is counted on the alarm, noted
        on its timeline, and the alarm becomes priority 1 (docs/protocol.md §7); a press for
        a closed or unknown alarm changes nothing."""
        marks = ",".join("?" * len(OPEN_STATES))
        cur = db.execute(f"UPDATE alarms SET pressed = pressed + 1, pressed_last = "
                         f"max(coalesce(pressed_last, ?), ?), priority = min(priority, 1) "
                         f"WHERE id = ? AND hub = ? AND state IN ({marks})",
                         (msg.ts, msg.ts, msg.ref, msg.hub, *OPEN_STATES))
        if cur.rowcount:
            db.execute("INSERT INTO alarm_log SELECT id, state, ?, ?, ? FROM alarms WHERE id = ?",
                       (msg.ts, msg.hub, PRESSED_AGAIN, msg.ref))

    def claim(self, alarm: str, username: str, officer: str, now: float | None = None) -> AlarmRow:
        """Atomically take an alarm for a user (``officer``: their display name); raises
        ClaimConflict if someone else has it."""
        now = time.time() if now is None else now
        with self._tx() as db:
            cur = db.execute("UPDATE alarms SET state = ?, claimed_by = ?, officer = ?, claimed = ? "
                             "WHERE id = ? AND state = ?", (AlarmState.CLAIMED.value, username,
                                                            officer, now, alarm,
                                                            AlarmState.DELIVERED.value))
            if not cur.rowcount:
                raise ClaimConflict(*self._why_not(alarm, "claim"))
            db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)",
                       (alarm, AlarmState.CLAIMED.value, now, officer, None))
            audit.append(db, actor=username, action="alarm.claim", target=alarm,
                         detail={"officer": officer}, ts=now)
        return self._must_get(alarm)

    def resolve(self, alarm: str, username: str, officer: str, outcome: str, notes: str = "",
                now: float | None = None, *, may_take_over: bool = False) -> AlarmRow:
        """Close an alarm with an outcome: the user who claimed it may, and with
        ``may_take_over`` (a supervisor) also one claimed by someone else."""
        now = time.time() if now is None else now
        with self._tx() as db:
            open_ = (AlarmState.CLAIMED.value, AlarmState.IN_CALL.value)
            row = db.execute("SELECT claimed_by, officer FROM alarms WHERE id = ? AND state IN (?, ?)",
                             (alarm, *open_)).fetchone()
            if row is None or (row[0] != username and not may_take_over):
                raise ClaimConflict(*self._why_not(alarm, "resolve", username))
            db.execute("UPDATE alarms SET state = ?, closed = ?, outcome = ?, notes = ?, "
                       "claimed_by = ?, officer = ? WHERE id = ?",
                       (AlarmState.RESOLVED.value, now, outcome, notes, username, officer, alarm))
            db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)",
                       (alarm, AlarmState.RESOLVED.value, now, officer, f"{outcome}: {notes}"))
            if row[0] != username:
                audit.append(db, actor=username, action="alarm.takeover", target=alarm,
                             detail={"from": row[0], "from_officer": row[1]}, ts=now)
            audit.append(db, actor=username, action="alarm.resolve", target=alarm,
                         detail={"outcome": outcome, "notes": notes}, ts=now)
        return self._must_get(alarm)

    def step_alarm(self, alarm: str, step: str, username: str, officer: str, notes: str = "",
                   now: float | None = None, *, may_take_over: bool = False) -> StepRow:
        """Stamp a step of the response checklist on an open alarm the user has claimed (a
        supervisor: any claimed one). The step key is checked against the plan by the caller."""
        now = time.time() if now is None else now
        with self._tx() as db:
            self._mine(db, alarm, username, may_take_over)
            db.execute("INSERT INTO alarm_steps VALUES (?,?,?,?,?)", (alarm, step, now, officer, notes))
            audit.append(db, actor=username, action="alarm.step", target=alarm,
                         detail={"step": step, "notes": notes}, ts=now)
        return StepRow(step, now, officer, notes)

    def note_alarm(self, alarm: str, username: str, officer: str, notes: str,
                   now: float | None = None, *, written: float | None = None) -> None:
        """A free note on the alarm's timeline, open or closed (what was learnt afterwards).
        ``written``: earlier, when the officer wrote it (a note a console kept while the
        station could not take it): on the timeline then; the same note sent again (its
        answer was lost) is taken as done."""
        now = time.time() if now is None else now
        at = now if written is None else written
        with self._tx() as db:
            row = db.execute("SELECT state FROM alarms WHERE id = ?", (alarm,)).fetchone()
            if row is None:
                raise OpRefused("no_alarm", f"no alarm {alarm}")
            if written is not None and db.execute(
                    "SELECT 1 FROM alarm_log WHERE alarm = ? AND abs(ts - ?) < 1 AND actor = ? "
                    "AND note = ?", (alarm, at, officer, notes)).fetchone():
                return
            db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)", (alarm, row[0], at, officer, notes))
            audit.append(db, actor=username, action="alarm.note", target=alarm,
                         detail={"notes": notes, **({"written": at} if written else {})}, ts=now)

    def escalate(self, cutoff: float, now: float) -> list[str]:
        """Flag alarms still unclaimed that were stored before ``cutoff`` (station time), once
        each; returns their ids. Each is noted on its timeline and audited."""
        with self._tx() as db:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM alarms WHERE state = 'delivered' AND escalated IS NULL "
                "AND received < ? ORDER BY received", (cutoff,))]  # literal: the partial index
            for id in ids:
                db.execute("UPDATE alarms SET escalated = ? WHERE id = ?", (now, id))
                db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)",
                           (id, AlarmState.DELIVERED.value, now, None, ESCALATED))
                audit.append(db, actor="station", action="alarm.escalate", target=id,
                             detail={"unclaimed_s": round(now - cutoff, 1)}, ts=now)
        return ids

    def _mine(self, db: sqlite3.Connection, alarm: str, username: str, may_take_over: bool) -> None:
        row = db.execute("SELECT state, claimed_by, officer FROM alarms WHERE id = ?", (alarm,)).fetchone()
        if row is None:
            raise OpRefused("no_alarm", f"no alarm {alarm}")
        if AlarmState(row[0]).closed:
            raise OpRefused("closed", f"alarm is already {row[0]}")
        if row[1] is None:
            raise OpRefused("not_claimed", "claim the alarm first")
        if row[1] != username and not may_take_over:
            raise OpRefused("not_yours", f"already claimed by {row[2]}")

    def set_online(self, hub: str, online: bool, now: float) -> bool:
        """Record availability; True if it changed."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO homes(hub) VALUES (?)", (hub,))
            cur = db.execute("UPDATE homes SET online = ?, status_ts = ? WHERE hub = ? AND "
                             "online != ?", (int(online), now, hub, int(online)))
        return bool(cur.rowcount)

    def heartbeat(self, hub: str, pending: int, now: float, dropped: int = 0) -> tuple[bool, int]:
        """Record a heartbeat; returns whether it brought the home back online, and how much
        telemetry its outbox dropped since the last one."""
        [result] = self.heartbeats([(hub, pending, dropped)], now)
        return result

    def heartbeats(self, beats: list[tuple[str, int, int]], now: float) -> list[tuple[bool, int]]:
        """Record heartbeats (hub, pending, dropped) in one commit without an fsync of its own:
        with 10 000 homes they arrive hundreds a second, and the next one says the same."""
        results = []
        with self._tx(durable=False) as db:
            for hub, pending, dropped in beats:
                db.execute("INSERT OR IGNORE INTO homes(hub) VALUES (?)", (hub,))
                back = db.execute("UPDATE homes SET online = 1, status_ts = ? WHERE hub = ? AND "
                                  "online = 0", (now, hub)).rowcount
                before = db.execute("SELECT dropped FROM homes WHERE hub = ?", (hub,)).fetchone()[0]
                db.execute("UPDATE homes SET last_heartbeat = ?, pending = ?, dropped = ? "
                           "WHERE hub = ?", (now, pending, dropped, hub))
                results.append((bool(back), max(0, dropped - before)))
        return results

    def mark_silent_offline(self, cutoff: float, now: float) -> list[str]:
        """Homes online but silent since before ``cutoff`` go offline; returns their ids."""
        with self._tx() as db:
            hubs = [r[0] for r in db.execute(
                "SELECT hub FROM homes WHERE online = 1 AND coalesce(last_heartbeat, status_ts, 0) < ?",
                (cutoff,))]
            db.executemany("UPDATE homes SET online = 0, status_ts = ? WHERE hub = ?",
                           [(now, h) for h in hubs])
        return hubs

    def check_writable(self, now: float) -> None:
        """A small write (no fsync of its own): ``trouble`` is cleared if it succeeds."""
        with self._tx(durable=False) as db:
            db.execute("INSERT OR REPLACE INTO write_check VALUES (1, ?)", (now,))

    def reject(self, topic: str, reason: str, payload: bytes, now: float | None = None) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO rejected VALUES (?,?,?,?)",
                       (time.time() if now is None else now, topic[:256], reason[:1000],
                        payload[:1024]))

    # --- reads (service and consoles) -------------------------------------------------------

    _ALARM_SQL = ("SELECT a.id, a.hub, a.kind, a.priority, a.contact_id, a.source, a.location, "
                  "a.state, a.raised, a.received, a.officer, a.claimed_by, a.claimed, a.closed, "
                  "a.outcome, a.notes, h.elder, a.escalated, a.pressed, a.pressed_last "
                  "FROM alarms a LEFT JOIN homes h ON h.hub = a.hub")

    def alarm(self, id: str) -> AlarmRow | None:
        row = self._db.execute(f"{self._ALARM_SQL} WHERE a.id = ?", (id,)).fetchone()
        return self._alarm(row) if row else None

    def open_alarms(self) -> list[AlarmRow]:
        marks = ",".join("?" * len(OPEN_STATES))
        rows = self._db.execute(f"{self._ALARM_SQL} WHERE a.state IN ({marks})", OPEN_STATES)
        today = datetime.now(self.tz).date()
        return sorted(map(self._alarm, rows), key=lambda a: a.order(today))

    def alarms_for_hub(self, hub: str, *, open_only: bool = True) -> list[AlarmRow]:
        rows = self._db.execute(f"{self._ALARM_SQL} WHERE a.hub = ? ORDER BY a.raised", (hub,))
        return [a for a in map(self._alarm, rows) if not (open_only and a.state.closed)]

    def alarm_calls(self, alarm: str) -> list[calls.CallRow]:
        return self.calls.for_alarm(alarm)

    def alarm_history(self, hub: str, limit: int = 50) -> list[AlarmRow]:
        """The home's alarms, open and closed, newest first."""
        rows = self._db.execute(f"{self._ALARM_SQL} WHERE a.hub = ? ORDER BY a.raised DESC LIMIT ?",
                                (hub, limit))
        return list(map(self._alarm, rows))

    def alarm_data(self, alarm: str) -> dict[str, Any]:
        """The data of the event that raised the alarm: what caused it (the door and when it
        opened, the silent sensor, the battery; docs/events.md); empty if unknown."""
        row = self._db.execute("SELECT json_extract(payload, '$.data') FROM events WHERE id = ?",
                               (alarm,)).fetchone()
        data = json.loads(row[0]) if row and row[0] else {}
        return data if isinstance(data, dict) else {}

    def alarm_steps(self, alarm: str) -> list[StepRow]:
        rows = self._db.execute("SELECT step, ts, officer, note FROM alarm_steps WHERE alarm = ? "
                                "ORDER BY rowid", (alarm,))
        return [StepRow(*r) for r in rows]

    def alarm_records(self, since: float, until: float) -> list[AlarmRecord]:
        """Alarms stored from ``since`` to before ``until`` (station time), for the ledger, each
        with the group its elder had when it came (a later change of group does not move it)."""
        rows = self._db.execute(f"{self._ALARM_SQL} WHERE a.received >= ? AND a.received < ? "
                                "ORDER BY a.received", (since, until))
        changes = self.records.group_changes(since)
        return [AlarmRecord(id=a.id, hub=a.hub, name=a.elder.name if a.elder else "",
                            category=records_store.group_then(changes.get(a.hub, []), a.received,
                                                              a.elder.category) if a.elder else None,
                            kind=a.kind, received=a.received, claimed=a.claimed, closed=a.closed,
                            outcome=a.outcome, officer=a.officer or "", notes=a.notes or "",
                            raised=a.raised) for a in map(self._alarm, rows)]

    def alarm_log(self, id: str) -> list[tuple[AlarmState, float, str | None, str | None]]:
        rows = self._db.execute("SELECT state, ts, actor, note FROM alarm_log WHERE alarm = ? "
                                "ORDER BY rowid", (id,))
        return [(AlarmState(s), ts, actor, note) for s, ts, actor, note in rows]

    def home(self, hub: str) -> HomeRow | None:
        row = self._db.execute(f"{_HOME_SQL} WHERE h.hub = ?", (hub,)).fetchone()
        return self._home(row) if row else None

    def homes(self) -> list[HomeRow]:
        return [self._home(r) for r in self._db.execute(f"{_HOME_SQL} ORDER BY h.hub")]

    def elder(self, hub: str) -> Elder | None:
        return self.records.elder(hub)

    def elders(self) -> list[tuple[str, Elder]]:
        return self.records.elders()

    def visits(self, hub: str | None = None, since: date | None = None,
               until: date | None = None) -> list[VisitRecord]:
        return self.records.visits(hub, since, until)

    def followups(self, open_only: bool = True) -> list[FollowUp]:
        return self.records.followups(open_only)

    def roster_at(self, end: float) -> dict[str, Category]:
        return self.records.roster_at(end)

    def visit_histories(self, now: float | None = None) -> list[History]:
        return self.records.visit_histories(time.time() if now is None else now)

    def home_state(self, hub: str) -> HomeState:
        """The home's devices as their latest events say (at most HOME_STATE_EVENTS read); a
        hub never heard of is offline with nothing known.

        An alarm event repeats its trigger's kind (a wandering alarm is a ``door.open`` raised
        15 minutes after the door opened): it is a reading only when its trigger was not sent
        on its own, and then at the trigger's time, never at the alarm's."""
        home = self._db.execute("SELECT online, last_heartbeat FROM homes WHERE hub = ?",
                                (hub,)).fetchone() or (0, None)
        rows = self._db.execute(
            "SELECT kind, CASE WHEN json_type(payload, '$.data.trigger_ts') IN ('integer', 'real') "
            "THEN json_extract(payload, '$.data.trigger_ts') ELSE ts END, "
            "json_extract(payload, '$.source'), json_extract(payload, '$.data') FROM events e "
            "WHERE hub = ? AND NOT EXISTS (SELECT 1 FROM events t WHERE "
            "t.id = json_extract(e.payload, '$.data.trigger_id')) ORDER BY ts DESC LIMIT ?",
            (hub, HOME_STATE_EVENTS)).fetchall()
        rows.sort(key=lambda r: r[1], reverse=True)  # by when each reading was taken
        presence: tuple[bool | None, float | None] = (None, None)
        doors: dict[str, tuple[bool, float]] = {}
        activity = None
        sensors: dict[str, dict[str, Any]] = {}
        for kind, ts, source, data_text in rows:  # newest first: the first word on a thing wins
            data = json.loads(data_text) if data_text else {}
            family, _, state = kind.partition(".")
            if activity is None and kind in ACTIVITY:
                activity = ts
            if presence[0] is None and kind in ("presence.on", "presence.off"):
                presence = (state == "on", ts)
            if family == "door":
                doors.setdefault(str(data.get("location") or data.get("room") or source),
                                 (state == "open", ts))
            if family not in SENSOR_EVENTS or not source or source == "hub":
                continue
            s = sensors.setdefault(source, {"kind": None, "battery": None, "seen": ts, "silent": None,
                                            "room": None, "alarming": None})
            where = data.get("room") or data.get("location")  # a sensor's room, a button's place
            if s["room"] is None and isinstance(where, str):
                s["room"] = where
            if s["alarming"] is None and family in HAZARDS and state in ("on", "off"):
                s["alarming"] = state == "on"
            if s["kind"] is None and (isinstance(data.get("type"), str) or family not in (
                    "battery", "device", "tamper")):
                s["kind"] = data.get("type") if isinstance(data.get("type"), str) else family
            if s["battery"] is None and family == "battery" and isinstance(data.get("percent"), int):
                s["battery"] = data["percent"]
            if s["silent"] is None and kind in ("device.silent", "device.back"):
                s["silent"] = state == "silent"
        return HomeState(presence[0], presence[1], doors, activity,
                         [SensorRow(name, s["kind"] or "", s["battery"], s["seen"], bool(s["silent"]),
                                    s["room"] or "", bool(s["alarming"]))
                          for name, s in sorted(sensors.items())],
                         bool(home[0]), home[1])

    def walktests(self, hub: str, *, since: float = 0.0) -> list[WalkTestRow]:
        """The home's walk tests from ``since`` (hub time), oldest first."""
        rows = self._db.execute("SELECT id, hub, kind, source, ts, data FROM walktests "
                                "WHERE hub = ? AND ts >= ? ORDER BY ts", (hub, since))
        return [_walktest(r) for r in rows]

    def audit_entries(self, *, since: float | None = None,
                      target: str | None = None) -> list[audit.Entry]:
        return audit.entries(self._db, since=since, target=target)

    def verify_audit(self, expect: str | None = None) -> audit.Verdict:
        return audit.verify(self._db, expect)

    def count(self, table: str) -> int:
        assert table in ("events", "alarms", "rejected", "homes")
        return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def _alarm(self, r: tuple[Any, ...]) -> AlarmRow:
        return AlarmRow(id=r[0], hub=r[1], kind=r[2], priority=r[3], contact_id=r[4], source=r[5],
                        location=r[6], state=AlarmState(r[7]), raised=r[8], received=r[9],
                        officer=r[10], claimed_by=r[11], claimed=r[12], closed=r[13], outcome=r[14],
                        notes=r[15], elder=self.records.parse(r[16]), escalated=r[17],
                        pressed=r[18], pressed_last=r[19])

    def _home(self, r: tuple[Any, ...]) -> HomeRow:
        return HomeRow(r[0], self.records.parse(r[1]), bool(r[2]), r[3], r[4], r[5], r[6], r[7],
                       r[8], _walktest(r[9:]) if r[9] else None)

    def _must_get(self, alarm: str) -> AlarmRow:
        row = self.alarm(alarm)
        assert row is not None
        return row

    def _why_not(self, alarm: str, op: str, username: str | None = None) -> tuple[str, str]:
        """(code, message) of a refused claim or resolve."""
        a = self.alarm(alarm)
        if a is None:
            return "no_alarm", f"no alarm {alarm}"
        if a.state.closed:
            return "closed", f"alarm is already {a.state.value}"
        if a.claimed_by and a.claimed_by != username:
            return "taken", f"already claimed by {a.officer}"
        return "not_claimed", f"cannot {op} an alarm that is {a.state.value}"




def _walktest(r: tuple[Any, ...]) -> WalkTestRow:
    return WalkTestRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))
