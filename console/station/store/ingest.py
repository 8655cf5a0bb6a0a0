"""What hubs send, stored: events (each alarm with them, durably, before the hub is
acknowledged) and what their devices said (:mod:`~console.station.store.summary`), their place
in each lane of the hub's outbox, walk tests, cancels and presses again at home, the hub's
reports on calls, heartbeats, and the messages refused at the door.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from console.station import audit, calls
from console.station.store import summary
from console.station.store.db import Db
from console.station.store.rows import CALL_REQUESTED, CANCELLED_AT_HOME, OPEN_STATES, PRESSED_AGAIN
from console.station.store.writer import Writer
from hub.common import wire
from hub.common.events import CANCEL_KIND, WALKTEST, AlarmState

AGAIN_KIND = "button.again"  # a press while the home's call is open (docs/events.md)
CALL_EVENTS = ("call.open", "call.end")  # the hub's reports on a call (docs/events.md)
WALKTEST_MAX_S = 24 * 3600  # a walk-test mode is shown at most this long, whatever a hub says


class OutOfOrder(Exception):
    """A message came before an earlier one of its lane: not stored, the hub must resend."""

    def __init__(self, lane: Literal["alarm", "telemetry"], prev: int, last: int | None) -> None:
        super().__init__(f"{lane} lane: message after {prev} arrived, but the last stored is {last}")
        self.lane = lane


class Ingest(Writer):
    """The writes of what hubs send (a part of StationStore)."""

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

        def store() -> list[bool | OutOfOrder]:
            with self._tx() as db:
                db.lock(*(f"hub:{m.hub}" for m in msgs))  # each hub's lanes: one writer at a time
                results = [self._store_one(db, msg, now) for msg in msgs]
                summary.add(db, (m for m, stored in zip(msgs, results, strict=True) if stored is True))
                return results
        return self._retrying(store)

    def summaries_to_build(self) -> int:
        """Homes whose summary the backfill has still to make (:mod:`.backfill`)."""
        return int(self._db.execute("SELECT count(*) FROM summary_backfill").fetchone()[0])

    def homes_to_build(self, limit: int, *, after: str = "", skip: int = 0) -> list[str]:
        """Of those, the first ``limit`` after ``after`` (in order), ``skip`` of them skipped."""
        return [hub for (hub,) in self._db.execute(
            "SELECT hub FROM summary_backfill WHERE hub > ? ORDER BY hub LIMIT ? OFFSET ?",
            (after, limit, skip))]

    def events_of(self, hub: str, limit: int, below: tuple[float, str] | None) -> list[summary.Row]:
        """The home's latest ``limit`` events ``below`` a (ts, id) (:func:`summary.stored`)."""
        return summary.stored(self._db, hub, limit, below)

    def backfill_summary(self, hub: str, made: summary.Summary) -> bool:
        """Merge a home's summary made from its stored events into the one kept since the
        upgrade (:func:`summary.backfill`), under the hub's lock as ingest takes it; False if
        another worker did it. A short commit without an fsync of its own: lost with a power
        cut, the home stays listed and is made again."""
        def write() -> bool:
            with self._tx(durable=False) as db:
                db.lock(f"hub:{hub}")
                return summary.backfill(db, hub, made)
        return self._retrying(write)

    def _store_one(self, db: Db, msg: wire.EventMsg, now: float) -> bool | OutOfOrder:
        if db.execute("SELECT 1 FROM events WHERE id = ?", (msg.id,)).fetchone():
            return False
        if msg.seq and (gap := self._in_order(db, msg.hub, msg.seq)):
            return gap
        if not db.execute("INSERT INTO events VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                          (msg.id, msg.hub, msg.kind, msg.ts, now, msg.model_dump_json())).rowcount:
            return False  # another hub's event of that id: it stays the first one's
        db.execute("INSERT INTO homes(hub) VALUES (?) ON CONFLICT DO NOTHING", (msg.hub,))
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
    def _walktest(db: Db, msg: wire.EventMsg, now: float) -> None:
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
    def _in_order(db: Db, hub: str, seq: wire.Seq) -> OutOfOrder | None:
        """Accept a message whose predecessor is stored (or acknowledged: prev 0), and
        remember it as the lane's last; otherwise say why not."""
        row = db.execute("SELECT epoch, last FROM lanes WHERE hub = ? AND lane = ?",
                         (hub, seq.lane)).fetchone()
        last = row[1] if row and row[0] == seq.epoch else None
        if seq.prev and (last is None or seq.prev > last):
            return OutOfOrder(seq.lane, seq.prev, last)
        db.execute("INSERT INTO lanes VALUES (?,?,?,?) ON CONFLICT(hub, lane) DO UPDATE SET "
                   "epoch = excluded.epoch, last = CASE WHEN lanes.epoch = excluded.epoch AND "
                   "lanes.last > excluded.last THEN lanes.last ELSE excluded.last END",
                   (hub, seq.lane, seq.epoch, seq.n))
        return None

    def _cancel_from_home(self, db: Db, msg: wire.EventMsg) -> None:
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
    def _pressed_again(db: Db, msg: wire.EventMsg) -> None:
        """The elder pressed again while the call was open: it is counted on the alarm, noted
        on its timeline, and the alarm becomes priority 1 (docs/protocol.md §7); a press for
        a closed or unknown alarm changes nothing."""
        marks = ",".join("?" * len(OPEN_STATES))
        cur = db.execute(f"UPDATE alarms SET pressed = pressed + 1, pressed_last = CASE WHEN "
                         f"pressed_last > ? THEN pressed_last ELSE ? END, priority = CASE WHEN "
                         f"priority < 1 THEN priority ELSE 1 END "
                         f"WHERE id = ? AND hub = ? AND state IN ({marks})",
                         (msg.ts, msg.ts, msg.ref, msg.hub, *OPEN_STATES))
        if cur.rowcount:
            db.execute("INSERT INTO alarm_log SELECT id, state, ?, ?, ? FROM alarms WHERE id = ?",
                       (msg.ts, msg.hub, PRESSED_AGAIN, msg.ref))

    def heartbeat(self, hub: str, pending: int, now: float, dropped: int = 0) -> tuple[bool, int]:
        """Record a heartbeat; returns whether it brought the home back online, and how much
        telemetry its outbox dropped since the last one."""
        [result] = self.heartbeats([(hub, pending, dropped)], now)
        return result

    def heartbeats(self, beats: list[tuple[str, int, int]], now: float) -> list[tuple[bool, int]]:
        """Record heartbeats (hub, pending, dropped) in one commit without an fsync of its own:
        with 10 000 homes they arrive hundreds a second, and the next one says the same."""
        return self._retrying(lambda: self._heartbeats(beats, now))

    def _heartbeats(self, beats: list[tuple[str, int, int]], now: float) -> list[tuple[bool, int]]:
        results = []
        with self._tx(durable=False) as db:
            db.lock(*(f"hub:{hub}" for hub, _, _ in beats))
            for hub, pending, dropped in beats:
                db.execute("INSERT INTO homes(hub) VALUES (?) ON CONFLICT DO NOTHING", (hub,))
                back = db.execute("UPDATE homes SET online = 1, status_ts = ? WHERE hub = ? AND "
                                  "online = 0", (now, hub)).rowcount
                before = db.execute("SELECT dropped FROM homes WHERE hub = ?", (hub,)).fetchone()[0]
                db.execute("UPDATE homes SET last_heartbeat = ?, pending = ?, dropped = ? "
                           "WHERE hub = ?", (now, pending, dropped, hub))
                results.append((bool(back), max(0, dropped - before)))
        return results

    def reject(self, topic: str, reason: str, payload: bytes, now: float | None = None) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO rejected VALUES (?,?,?,?)",
                       (time.time() if now is None else now, topic[:256], reason[:1000],
                        payload[:1024]))
