"""Voice calls in the station database: who called which home about what, when it was
answered and ended, why, and where the recording is.

A call is started by the station service for a console user, either on an alarm that user
has claimed or as an online visit to a home. Each start and end is audited in the same
transaction. The end is whatever came first: the officer's hangup, the hub's ``call.end``
(timeout, the elder's hangup, busy …) or the station's own supervision (no answer, hub
offline); a later end changes only the duration the hub measured. An alarm is ``in_call`` only
while its call is open: the end returns it to ``claimed``, noted on its timeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.station import audit
from console.station.store.db import Db
from console.station.users import Tx
from hub.common.events import AlarmState

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,             -- the call id, made by the station
    hub TEXT NOT NULL,
    alarm TEXT,                      -- the alarm it is about; NULL for an online visit
    visit TEXT,                      -- online visit: free reference to the visit record (the
                                     -- visit ledger, issue 6, does not exist yet)
    console TEXT NOT NULL,           -- the console that started it
    username TEXT NOT NULL,          -- the officer
    officer TEXT NOT NULL,           -- their display name
    started REAL NOT NULL,           -- station time the start went to the hub
    answered REAL,                   -- hub time the microphone opened (call.open)
    ended REAL,                      -- station time it ended
    reason TEXT,                     -- why (docs/events.md: hangup, timeout, hub_busy, …)
    duration REAL,                   -- seconds the hub's microphone was open
    recording TEXT,                  -- the Ogg/Opus file
    recorded REAL,                   -- seconds in it
    recording_note TEXT              -- e.g. incomplete: the station stopped during the call
);
CREATE INDEX IF NOT EXISTS calls_open ON calls(hub) WHERE ended IS NULL;
CREATE INDEX IF NOT EXISTS calls_alarm ON calls(alarm);
"""

CALL_ENDED = "call_ended"  # alarm_log note: the alarm's call ended, the officer still has it
CALL_STATES = (AlarmState.CLAIMED.value, AlarmState.IN_CALL.value)  # an alarm one may call on
_COLS = ("id, hub, alarm, visit, console, username, officer, started, answered, ended, reason, "
         "duration, recording, recorded, recording_note")


@dataclass(frozen=True, slots=True)
class CallRow:
    id: str
    hub: str
    alarm: str | None
    visit: str | None
    console: str
    username: str
    officer: str
    started: float
    answered: float | None
    ended: float | None
    reason: str | None
    duration: float | None
    recording: str | None
    recorded: float | None
    recording_note: str | None

    @property
    def open(self) -> bool:
        return self.ended is None


class CallRefused(Exception):
    """A call that may not start; ``code`` is what the console says (i18n ``err_<code>``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Calls:
    """``tx`` opens a write transaction on ``db`` (the store's)."""

    def __init__(self, db: Db, tx: Tx) -> None:
        self._db, self._tx = db, tx

    def start(self, call: str, *, hub: str, alarm: str | None, visit: str | None, console: str,
              username: str, officer: str, recording: str, now: float) -> CallRow:
        """Record a new call, or raise CallRefused: the alarm is not this user's to call on,
        the home is offline, or a call to it is already open."""
        with self._tx() as db:
            if alarm is not None:
                row = db.execute("SELECT hub, state, claimed_by FROM alarms WHERE id = ?",
                                 (alarm,)).fetchone()
                if row is None or row[1] not in CALL_STATES or row[2] != username:
                    raise CallRefused("not_yours", "only the officer who claimed an open "
                                      "alarm can call its home")
                hub = row[0]
            online = db.execute("SELECT online FROM homes WHERE hub = ?", (hub,)).fetchone()
            if not online or not online[0]:
                raise CallRefused("hub_offline", f"home {hub} is offline")
            if busy := db.execute("SELECT officer FROM calls WHERE hub = ? AND ended IS NULL",
                                  (hub,)).fetchone():
                raise CallRefused("hub_busy", f"{busy[0]} is already on a call with home {hub}")
            db.execute("INSERT INTO calls(id, hub, alarm, visit, console, username, officer, "
                       "started, recording) VALUES (?,?,?,?,?,?,?,?,?)",
                       (call, hub, alarm, visit, console, username, officer, now, recording))
            audit.append(db, actor=username, action="call.start", target=alarm or hub,
                         detail={"call": call, "hub": hub, "visit": visit}, ts=now)
        return self._must(call)

    def end(self, call: str, reason: str, *, actor: str, now: float) -> CallRow | None:
        """End an open call; None if it had already ended (or never existed)."""
        with self._tx() as db:
            if not self._end(db, call, reason, actor, now):
                return None
        return self._must(call)

    @staticmethod
    def _end(db: Db, call: str, reason: str, actor: str, now: float,
             hub: str | None = None) -> bool:
        cur = db.execute("UPDATE calls SET ended = ?, reason = ? WHERE id = ? AND ended IS NULL "
                         "AND (CAST(? AS TEXT) IS NULL OR hub = ?) RETURNING alarm, hub, officer",
                         (now, reason, call, hub, hub)).fetchall()
        if not cur:
            return False
        alarm, hub_, officer = cur[0]
        if alarm and db.execute("UPDATE alarms SET state = ? WHERE id = ? AND state = ?",
                                (AlarmState.CLAIMED.value, alarm, AlarmState.IN_CALL.value)).rowcount:
            db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)",
                       (alarm, AlarmState.CLAIMED.value, now, officer, CALL_ENDED))
        audit.append(db, actor=actor, action="call.end", target=alarm or hub_,
                     detail={"call": call, "reason": reason}, ts=now)
        return True

    @classmethod
    def from_hub(cls, db: Db, hub: str, kind: str, data: dict[str, object],
                 ts: float, now: float) -> str | None:
        """A hub's ``call.open`` / ``call.end`` event, inside the transaction that stores it;
        returns the call id if it was this hub's call. The alarm of an opened call goes
        ``in_call``."""
        call = data.get("call")
        if not isinstance(call, str):
            return None
        row = db.execute("SELECT alarm, officer FROM calls WHERE id = ? AND hub = ?",
                         (call, hub)).fetchone()
        if row is None:
            return None
        alarm, officer = row
        if kind == "call.open":
            db.execute("UPDATE calls SET answered = ? WHERE id = ? AND answered IS NULL", (ts, call))
            if alarm and db.execute("UPDATE alarms SET state = ? WHERE id = ? AND state = ?",
                                    (AlarmState.IN_CALL.value, alarm,
                                     AlarmState.CLAIMED.value)).rowcount:
                db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)",
                           (alarm, AlarmState.IN_CALL.value, ts, officer, None))
        elif kind == "call.end":
            seconds = data.get("seconds")
            if isinstance(seconds, int | float) and seconds >= 0:
                db.execute("UPDATE calls SET duration = ? WHERE id = ?", (float(seconds), call))
            cls._end(db, call, str(data.get("reason", "hangup"))[:32], hub, now, hub)
        return call

    def recorded(self, call: str, seconds: float, note: str | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE calls SET recorded = ?, recording_note = coalesce(?, "
                       "recording_note) WHERE id = ?", (seconds, note, call))

    def interrupted(self, note: str) -> list[CallRow]:
        """At start: calls the station was recording when it stopped. A call does not pass
        through the station, so it goes on; its recording ends where the station stopped
        and is marked incomplete."""
        calls = self.open_calls()
        with self._tx() as db:
            db.executemany("UPDATE calls SET recording_note = ? WHERE id = ?",
                           [(note, c.id) for c in calls])
        return [self._must(c.id) for c in calls]

    # --- reads ------------------------------------------------------------------------------

    def get(self, call: str) -> CallRow | None:
        row = self._db.execute(f"SELECT {_COLS} FROM calls WHERE id = ?", (call,)).fetchone()
        return CallRow(*row) if row else None

    def open_calls(self) -> list[CallRow]:
        return [CallRow(*r) for r in self._db.execute(
            f"SELECT {_COLS} FROM calls WHERE ended IS NULL ORDER BY started")]

    def open_call(self, hub: str) -> CallRow | None:
        row = self._db.execute(f"SELECT {_COLS} FROM calls WHERE hub = ? AND ended IS NULL",
                               (hub,)).fetchone()
        return CallRow(*row) if row else None

    def for_alarm(self, alarm: str) -> list[CallRow]:
        return [CallRow(*r) for r in self._db.execute(
            f"SELECT {_COLS} FROM calls WHERE alarm = ? ORDER BY started", (alarm,))]

    def _must(self, call: str) -> CallRow:
        row = self.get(call)
        assert row is not None
        return row
