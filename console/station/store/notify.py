"""Telling people outside the station, in the station database: responders, every message as
a row committed before it is sent, the cascades as they stand, dispatches and their arrivals,
and the SMS replies.

A message's row id is its channel Message key. A row is unique by alarm, topic, step, round,
phone and channel, so a message planned again (after a restart) is refused by the database
and never sent twice; a row still ``queued`` when the station stopped is sent after the
restart: a crash between the send and the commit of ``sent`` sends that one message again
(at-least-once, docs/notify.md). The engine's plan for each alarm (``cascades``) is written in
the same transaction as the messages it makes.

Reads are open to the consoles (:class:`Notifications` on a reader refuses writes): the desk's
notification panel, dispatch timers and the ledger read them here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from console.station import audit
from console.station.notify.channel import ChannelError
from console.station.notify.engine import (
    Action,
    Cascade,
    Note,
    Plan,
    Recorded,
    Send,
    Told,
    Withdraw,
)
from console.station.notify.responders import Responder
from console.station.notify.texts import Meaning, Person
from console.station.records_store import OpRefused
from console.station.store.db import Db
from console.station.users import Tx
from hub.common.events import new_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS responders (  -- the township's on-call officers and volunteers
    phone TEXT PRIMARY KEY,          -- their mobile, 11 digits: the person
    name TEXT NOT NULL,
    role TEXT NOT NULL,              -- on_call | volunteer
    villages TEXT NOT NULL,          -- JSON list of village names; [] covers the township
    active INTEGER NOT NULL DEFAULT 1,  -- 0: no longer in the responders file
    seed TEXT,                       -- sha256 of the file's entry last applied
    changed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (  -- every message, committed before it is sent
    id TEXT PRIMARY KEY,             -- the channel Message key
    alarm TEXT NOT NULL,
    topic TEXT NOT NULL,             -- alarm, dispatch, closed, fallback (the hub texted them
                                     -- itself: stored as sent); a group's accepted, arrived, …
    step INTEGER NOT NULL,           -- policy step; a dispatch's id; -1: a group's event post
    round INTEGER NOT NULL,          -- time through the list, or the event's count
    person TEXT NOT NULL,            -- name; the channel for a group
    phone TEXT NOT NULL,             -- 11-digit mobile; '' for a group
    role TEXT NOT NULL,              -- on_call, volunteer, contact, key_holder, grid_worker, …, group
    relation TEXT NOT NULL,          -- as the elder's record says (儿子)
    channel TEXT NOT NULL,           -- sms, wecom, dingtalk, webhook
    priority INTEGER NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL,             -- queued, sent, failed, cancelled, accepted, arrived
    attempts INTEGER NOT NULL DEFAULT 0,  -- failed tries so far
    next_try REAL,                   -- not before then (a backoff)
    created REAL NOT NULL,           -- station time it was planned
    sent REAL,                       -- station time the channel took it
    error_code TEXT,                 -- the last failure: ChannelError.code (sms.no_sim …)
    error TEXT,
    fix TEXT,
    answered REAL,                   -- station time it was accepted / arrived
    answered_by TEXT,                -- 'reply', or the officer's username
    UNIQUE (alarm, topic, step, round, phone, channel)
);
CREATE INDEX IF NOT EXISTS notifications_phone ON notifications(phone, created);
CREATE INDEX IF NOT EXISTS notifications_queued ON notifications(state) WHERE state = 'queued';
CREATE TABLE IF NOT EXISTS cascades (  -- each policy step fired for an alarm, as it stands
    alarm TEXT NOT NULL,
    step INTEGER NOT NULL,
    persons TEXT NOT NULL,           -- JSON [[name, phone, role, relation]] in order
    channels TEXT NOT NULL,          -- JSON list
    next_after_s REAL,               -- NULL: everyone at once
    rounds INTEGER NOT NULL,
    by_absence INTEGER NOT NULL,     -- a claim stops it
    position INTEGER NOT NULL,       -- messages planned so far
    next_at REAL NOT NULL,
    state TEXT NOT NULL,             -- running | stopped
    why TEXT,                        -- done, accepted, claimed, closed, exhausted
    started REAL NOT NULL,
    changed REAL NOT NULL,
    PRIMARY KEY (alarm, step)
);
CREATE INDEX IF NOT EXISTS cascades_running ON cascades(alarm) WHERE state = 'running';
CREATE TABLE IF NOT EXISTS dispatches (  -- a responder the officer sent to an alarm
    id INTEGER PRIMARY KEY,
    alarm TEXT NOT NULL,
    kind TEXT NOT NULL,              -- grid_worker, key_holder, volunteer, family, 120, 119
    name TEXT NOT NULL,
    phone TEXT NOT NULL,             -- as dialled; '' when none (120, 119)
    username TEXT NOT NULL,          -- the officer who dispatched
    officer TEXT NOT NULL,           -- their display name
    dispatched REAL NOT NULL,        -- station time
    promise_s REAL NOT NULL,         -- on site within this (the county's promise)
    arrived REAL,                    -- station time
    arrived_by TEXT                  -- 'reply', or the officer's username
);
CREATE INDEX IF NOT EXISTS dispatches_alarm ON dispatches(alarm);
CREATE INDEX IF NOT EXISTS dispatches_open ON dispatches(dispatched) WHERE arrived IS NULL;
CREATE TABLE IF NOT EXISTS replies (  -- texts people sent back (SMS), once each
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    phone TEXT NOT NULL,             -- the sender as the network gave it, 11 digits for a mobile
    text TEXT NOT NULL,
    sent_at REAL NOT NULL,           -- the sender's network's time (SMS centre stamp)
    received REAL NOT NULL,          -- station time
    meaning TEXT NOT NULL,           -- accept, arrive, other
    notification TEXT,               -- the message it answers; NULL: none found
    alarm TEXT,
    UNIQUE (channel, phone, sent_at, text)
);
"""

State = Literal["queued", "sent", "failed", "cancelled", "accepted", "arrived"]
ANSWERED = ("accepted", "arrived")
REPLY_WINDOW_S = 24 * 3600  # a reply answers a message sent this recently
DISPATCH_KINDS = ("grid_worker", "key_holder", "volunteer", "family", "120", "119")
NOTE_DISPATCHED = "notify_dispatched"  # alarm_log note; its actor is who was sent
_NCOLS = ("id, alarm, topic, step, round, person, phone, role, relation, channel, priority, text, "
          "state, attempts, next_try, created, sent, error_code, error, fix, answered, answered_by")
_DCOLS = "id, alarm, kind, name, phone, username, officer, dispatched, promise_s, arrived, arrived_by"
_CCOLS = ("alarm, step, persons, channels, next_after_s, rounds, by_absence, started, next_at, "
          "position, state, why")


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: str
    alarm: str
    topic: str
    step: int
    round: int
    person: str
    phone: str
    role: str
    relation: str
    channel: str
    priority: int
    text: str
    state: State
    attempts: int
    next_try: float | None
    created: float
    sent: float | None
    error_code: str | None
    error: str | None
    fix: str | None
    answered: float | None
    answered_by: str | None

    @property
    def who(self) -> Person:
        return Person(self.person, self.phone, self.role, self.relation)


@dataclass(frozen=True, slots=True)
class DispatchRow:
    id: int
    alarm: str
    kind: str
    name: str
    phone: str
    username: str
    officer: str
    dispatched: float
    promise_s: float
    arrived: float | None
    arrived_by: str | None

    def late(self, now: float) -> bool:
        """Past the promise and not there yet (or there after it)."""
        return (self.arrived or now) - self.dispatched > self.promise_s


@dataclass(frozen=True, slots=True)
class ResponderRow:
    responder: Responder
    active: bool


@dataclass(frozen=True, slots=True)
class Applied:
    """What :meth:`Notifications.apply` changed: messages new to the database, and the
    (key, channel) of those withdrawn before they went."""

    new: list[NotificationRow]
    withdrawn: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply stored, and the message it answers (None: no message to that phone lately)."""

    id: int
    meaning: Meaning
    answers: NotificationRow | None


class Notifications:
    """``tx`` opens a write transaction on ``db`` (the store's; a reader's refuses)."""

    def __init__(self, db: Db, tx: Tx) -> None:
        self._db, self._tx = db, tx

    # --- responders ---------------------------------------------------------------------------

    def load_responders(self, people: Sequence[Responder], *, actor: str, now: float) -> list[str]:
        """The responders file applied: an entry new or changed since it was last applied is
        stored, one no longer in the file is made inactive (no longer told); each audited.
        Returns the phones that changed."""
        changed = []
        listed = {r.phone for r in people}
        with self._tx() as db:
            for r in people:
                data = r.model_dump(mode="json")
                seed = hashlib.sha256(audit.canonical(data).encode()).hexdigest()
                row = db.execute("SELECT seed, active FROM responders WHERE phone = ?",
                                 (r.phone,)).fetchone()
                if row and row[0] == seed and row[1]:
                    continue
                db.execute("INSERT INTO responders VALUES (?,?,?,?,1,?,?) ON CONFLICT(phone) DO "
                           "UPDATE SET name = excluded.name, role = excluded.role, villages = "
                           "excluded.villages, active = 1, seed = excluded.seed, changed = "
                           "excluded.changed", (r.phone, r.name, r.role,
                                                json.dumps(r.villages, ensure_ascii=False), seed, now))
                audit.append(db, actor=actor, action="responder.save", target=r.phone,
                             detail={"added": row is None, "name": r.name, "role": r.role,
                                     "villages": r.villages}, ts=now)
                changed.append(r.phone)
            for (gone,) in db.execute("SELECT phone FROM responders WHERE active = 1").fetchall():
                if gone not in listed:
                    db.execute("UPDATE responders SET active = 0, changed = ? WHERE phone = ?",
                               (now, gone))
                    audit.append(db, actor=actor, action="responder.remove", target=gone,
                                 detail={}, ts=now)
                    changed.append(gone)
        return changed

    def responders(self, *, active_only: bool = True) -> list[ResponderRow]:
        rows = self._db.execute("SELECT name, phone, role, villages, active FROM responders "
                                + ("WHERE active = 1 " if active_only else "") + "ORDER BY role, name")
        return [ResponderRow(Responder.model_construct(name=n, phone=p, role=r,
                                                       villages=json.loads(v)), bool(a))
                for n, p, r, v, a in rows]

    # --- the engine's actions -------------------------------------------------------------------

    def apply(self, actions: Iterable[Action], now: float) -> Applied:
        """Store what the engine decided, in one transaction: each cascade as it now stands, the
        new messages (queued), the timeline notes, the messages withdrawn. A message planned
        again is not new."""
        new: list[str] = []
        withdrawn: list[tuple[str, str]] = []
        with self._tx() as db:
            for a in actions:
                match a:
                    case Send():
                        if key := self._insert(db, a, now):
                            new.append(key)
                    case Plan(c):
                        db.execute(
                            "INSERT INTO cascades(alarm, step, persons, channels, "
                            "next_after_s, rounds, by_absence, position, next_at, state, why, "
                            "started, changed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                            "ON CONFLICT (alarm, step) DO UPDATE SET persons = excluded.persons, "
                            "channels = excluded.channels, next_after_s = excluded.next_after_s, "
                            "rounds = excluded.rounds, by_absence = excluded.by_absence, "
                            "position = excluded.position, next_at = excluded.next_at, "
                            "state = excluded.state, why = excluded.why, "
                            "started = excluded.started, changed = excluded.changed",
                            (c.alarm, c.step, json.dumps([list(_person(p)) for p in c.persons],
                                                         ensure_ascii=False),
                             json.dumps(c.channels), c.next_after_s, c.rounds, int(c.by_absence),
                             c.position, c.next_at, c.state, c.why, c.started, now))
                    case Withdraw():
                        steps = "" if a.steps is None else \
                            f" AND step IN ({','.join(str(int(s)) for s in a.steps)})"
                        withdrawn += db.execute(
                            "UPDATE notifications SET state = 'cancelled', error_code = ? WHERE "
                            "alarm = ? AND state = 'queued' AND topic IN ('alarm', 'dispatch')"
                            + steps + " RETURNING id, channel", (f"withdrawn.{a.why}", a.alarm)
                        ).fetchall()
                    case Note():
                        _timeline(db, a.alarm, now, a.actor, a.note)
                    case Recorded(send, at):  # sent by the hub: stored as sent, never sent here
                        if key := self._insert(db, send, now):
                            db.execute("UPDATE notifications SET state = 'sent', sent = ? "
                                       "WHERE id = ?", (at, key))
        return Applied([self._must(k) for k in new], withdrawn)

    def _insert(self, db: Db, s: Send, now: float) -> str | None:
        key = new_id()
        cur = db.execute(
            "INSERT INTO notifications(id, alarm, topic, step, round, person, phone, "
            "role, relation, channel, priority, text, state, created) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'queued',?) ON CONFLICT DO NOTHING",
            (key, s.alarm, s.topic, s.step, s.round, *_person(s.person), s.channel, s.priority,
             s.text, now))
        return key if cur.rowcount else None

    # --- what the channels said -------------------------------------------------------------

    def sent(self, key: str, at: float) -> bool:
        """The channel took the message; False when it was no longer queued (withdrawn)."""
        with self._tx() as db:
            return bool(db.execute("UPDATE notifications SET state = 'sent', sent = ?, "
                                   "next_try = NULL WHERE id = ? AND state IN ('queued', "
                                   "'cancelled')", (at, key)).rowcount)

    def retrying(self, key: str, *, attempts: int, next_try: float, code: str, error: str,
                 fix: str) -> None:
        """A try failed; another comes at ``next_try`` (the desk shows why meanwhile)."""
        with self._tx() as db:
            db.execute("UPDATE notifications SET attempts = ?, next_try = ?, error_code = ?, "
                       "error = ?, fix = ? WHERE id = ? AND state = 'queued'",
                       (attempts, next_try, code, error[:500], fix[:500], key))

    def failed(self, failures: Sequence[tuple[str, ChannelError]]) -> list[NotificationRow]:
        """Given up on (they cannot work, or failed every try), in one transaction; the rows
        that were still queued, as they now are."""
        done = []
        with self._tx() as db:
            for key, e in failures:
                if db.execute("UPDATE notifications SET state = 'failed', attempts = attempts + 1, "
                              "next_try = NULL, error_code = ?, error = ?, fix = ? WHERE id = ? "
                              "AND state = 'queued'", (e.code, e.text[:500], e.fix[:500], key)
                              ).rowcount:
                    done.append(key)
        return [self._must(k) for k in done]

    # --- answers ------------------------------------------------------------------------------

    def reply(self, *, channel: str, phone: str, text: str, sent_at: float, meaning: Meaning,
              now: float) -> Reply | None:
        """Store a reply once (the same sender, time and text again: None) with the message it
        answers: the newest alarm or dispatch message to that phone in the last day. A reply
        that is not a known word goes on that alarm's timeline."""
        with self._tx() as db:
            row = db.execute(
                f"SELECT {_NCOLS} FROM notifications WHERE phone = ? AND topic IN ('alarm', "
                "'dispatch') AND state IN ('sent', 'accepted', 'arrived') AND created >= ? "
                "ORDER BY created DESC, rowid DESC LIMIT 1", (phone, now - REPLY_WINDOW_S)).fetchone()
            answers = NotificationRow(*row) if row else None
            stored = db.execute("INSERT INTO replies(channel, phone, text, sent_at, received, "
                                "meaning, notification, alarm) VALUES (?,?,?,?,?,?,?,?) "
                                "ON CONFLICT DO NOTHING RETURNING id",
                                (channel, phone, text, sent_at, now, meaning,
                                 answers.id if answers else None,
                                 answers.alarm if answers else None)).fetchone()
            if stored is None:
                return None
            if answers and meaning == "other":
                _timeline(db, answers.alarm, now, f"{answers.person} {phone}", text)
        return Reply(int(stored[0]), meaning, answers)

    def answer(self, key: str, what: Literal["accepted", "arrived"], *, by: str, actor: str,
               now: float, officer: bool = False) -> bool:
        """The message was accepted (or its person arrived); audited. False when it already
        was (an arrival moves an acceptance on; nothing moves back). A reply answers a message
        that went; the ``officer``, told by phone, answers for one that did not go too."""
        allowed: tuple[str, ...] = ("queued", "failed", "cancelled") if officer else ()
        allowed += ("sent",) if what == "accepted" else ("sent", "accepted")
        with self._tx() as db:
            row = db.execute("SELECT alarm, phone, person FROM notifications WHERE id = ?",
                             (key,)).fetchone()
            if row is None:
                raise OpRefused("no_notification", f"no notification {key}")
            marks = ",".join("?" * len(allowed))
            if not db.execute(f"UPDATE notifications SET state = ?, answered = ?, answered_by = ? "
                              f"WHERE id = ? AND state IN ({marks})", (what, now, by, key, *allowed)
                              ).rowcount:
                return False
            audit.append(db, actor=actor, action=f"notify.{what}", target=row[0],
                         detail={"notification": key, "person": row[2], "phone": row[1], "by": by},
                         ts=now)
        return True

    # --- dispatches -------------------------------------------------------------------------

    def dispatch(self, alarm: str, *, kind: str, name: str, phone: str, username: str,
                 officer: str, promise_s: float, now: float) -> DispatchRow:
        """The officer sends someone; on the timeline and audited."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM alarms WHERE id = ?", (alarm,)).fetchone() is None:
                raise OpRefused("no_alarm", f"no alarm {alarm}")
            [id] = db.execute("INSERT INTO dispatches(alarm, kind, name, phone, username, "
                              "officer, dispatched, promise_s) VALUES (?,?,?,?,?,?,?,?) "
                              "RETURNING id",
                              (alarm, kind, name, phone, username, officer, now, promise_s)
                              ).fetchone()
            _timeline(db, alarm, now, name, NOTE_DISPATCHED)
            audit.append(db, actor=username, action="alarm.dispatch", target=alarm,
                         detail={"dispatch": id, "kind": kind, "name": name,
                                 "phone": phone, "promise_s": promise_s}, ts=now)
        return self._dispatch(int(id))

    def arrive(self, dispatch: int, *, by: str, actor: str, now: float) -> DispatchRow | None:
        """Stamp the arrival; None when it was already stamped."""
        with self._tx() as db:
            row = db.execute("SELECT alarm, name FROM dispatches WHERE id = ?", (dispatch,)).fetchone()
            if row is None:
                raise OpRefused("no_dispatch", f"no dispatch {dispatch}")
            if not db.execute("UPDATE dispatches SET arrived = ?, arrived_by = ? WHERE id = ? AND "
                              "arrived IS NULL", (now, by, dispatch)).rowcount:
                return None
            audit.append(db, actor=actor, action="alarm.arrived", target=row[0],
                         detail={"dispatch": dispatch, "name": row[1], "by": by}, ts=now)
        return self._dispatch(dispatch)

    # --- reads ------------------------------------------------------------------------------

    def get(self, key: str) -> NotificationRow | None:
        row = self._db.execute(f"SELECT {_NCOLS} FROM notifications WHERE id = ?", (key,)).fetchone()
        return NotificationRow(*row) if row else None

    def for_alarm(self, alarm: str) -> list[NotificationRow]:
        """The alarm's messages in the order they were planned (the desk's panel)."""
        return [NotificationRow(*r) for r in self._db.execute(
            f"SELECT {_NCOLS} FROM notifications WHERE alarm = ? ORDER BY created, rowid", (alarm,))]

    def queued(self) -> list[NotificationRow]:
        """Messages not sent yet (at start: they go now, or at their next_try)."""
        return [NotificationRow(*r) for r in self._db.execute(
            f"SELECT {_NCOLS} FROM notifications WHERE state = 'queued' ORDER BY created, rowid")]

    def told(self, alarm: str) -> list[Told]:
        return [Told(n.topic, n.step, n.round, n.who, n.channel, n.state in ANSWERED, n.sent)
                for n in self.for_alarm(alarm)]

    def cascades(self, alarm: str | None = None) -> list[Cascade]:
        """An alarm's cascades, or every running one."""
        sql = f"SELECT {_CCOLS} FROM cascades WHERE " + ("alarm = ?" if alarm else "state = 'running'")
        return [_cascade(r) for r in self._db.execute(sql + " ORDER BY alarm, step",
                                                      (alarm,) if alarm else ())]

    def dispatches(self, alarm: str) -> list[DispatchRow]:
        return [DispatchRow(*r) for r in self._db.execute(
            f"SELECT {_DCOLS} FROM dispatches WHERE alarm = ? ORDER BY id", (alarm,))]

    def dispatches_of(self, alarms: Iterable[str]) -> dict[str, list[DispatchRow]]:
        """The dispatches of these alarms (the queue's), by alarm; one read whatever their number."""
        out: dict[str, list[DispatchRow]] = {}
        ids = list(alarms)
        if not ids:
            return out
        for r in self._db.execute(f"SELECT {_DCOLS} FROM dispatches WHERE alarm IN "
                                  f"({','.join('?' * len(ids))}) ORDER BY id", ids):
            d = DispatchRow(*r)
            out.setdefault(d.alarm, []).append(d)
        return out

    def waiting_arrivals(self) -> list[DispatchRow]:
        """Dispatches not arrived yet, oldest first (the queue's running timers)."""
        return [DispatchRow(*r) for r in self._db.execute(
            f"SELECT {_DCOLS} FROM dispatches WHERE arrived IS NULL ORDER BY dispatched")]

    def dispatches_between(self, since: float, until: float, *,
                           received: bool = False) -> list[DispatchRow]:
        """Dispatched from ``since`` to before ``until``; with ``received``, those to alarms
        received then (the ledger files a dispatch under its alarm's month)."""
        where = "alarm IN (SELECT id FROM alarms WHERE received >= ? AND received < ?)" if received \
            else "dispatched >= ? AND dispatched < ?"
        return [DispatchRow(*r) for r in self._db.execute(
            f"SELECT {_DCOLS} FROM dispatches WHERE {where} ORDER BY id", (since, until))]

    def between(self, since: float, until: float) -> list[NotificationRow]:
        """Messages planned from ``since`` to before ``until`` (the ledger)."""
        return [NotificationRow(*r) for r in self._db.execute(
            f"SELECT {_NCOLS} FROM notifications WHERE created >= ? AND created < ? "
            "ORDER BY created", (since, until))]

    def _dispatch(self, id: int) -> DispatchRow:
        return DispatchRow(*self._db.execute(f"SELECT {_DCOLS} FROM dispatches WHERE id = ?",
                                             (id,)).fetchone())

    def _must(self, key: str) -> NotificationRow:
        row = self.get(key)
        assert row is not None
        return row


def _timeline(db: Db, alarm: str, now: float, actor: str | None, note: str) -> None:
    """An entry on the alarm's timeline, in the alarm's state of the moment."""
    db.execute("INSERT INTO alarm_log SELECT id, state, ?, ?, ? FROM alarms WHERE id = ?",
               (now, actor, note, alarm))


def _person(p: Person) -> tuple[str, str, str, str]:
    return (p.name, p.phone, p.role, p.relation)


def _cascade(r: tuple[Any, ...]) -> Cascade:
    return Cascade(alarm=r[0], step=r[1], persons=tuple(Person(*p) for p in json.loads(r[2])),
                   channels=tuple(json.loads(r[3])), next_after_s=r[4], rounds=r[5],
                   by_absence=bool(r[6]), started=r[7], next_at=r[8], position=r[9], state=r[10],
                   why=r[11])
