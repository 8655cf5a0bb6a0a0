"""An alarm's life at the station after it is stored: claimed, stepped through the county
response plan, noted, resolved, or escalated when nobody claims it. Each step is one
transaction with its timeline entry and its audit entry.
"""

from __future__ import annotations

import time

from console.station import audit
from console.station.records_store import OpRefused
from console.station.store.db import Db
from console.station.store.rows import ESCALATED, AlarmRow, StepRow
from console.station.store.writer import Writer
from hub.common.events import AlarmState


class ClaimConflict(OpRefused):
    """The alarm cannot take that step: ``code`` no_alarm, closed, taken (claimed by someone
    else) or not_claimed (resolving what nobody has claimed)."""


class Alarms(Writer):
    """The officers' steps on alarms, and escalation (a part of StationStore)."""

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
            # One statement: another worker's round escalating the same alarm at once holds
            # its row; PostgreSQL then checks the condition again on what that one committed.
            ids = [r[0] for r in sorted(db.execute(
                "UPDATE alarms SET escalated = ? WHERE state = 'delivered' AND escalated IS NULL "
                "AND received < ? RETURNING id, received", (now, cutoff)), key=lambda r: r[1])]
            for id in ids:  # literal 'delivered' above: the partial index
                db.execute("INSERT INTO alarm_log VALUES (?,?,?,?,?)",
                           (id, AlarmState.DELIVERED.value, now, None, ESCALATED))
                audit.append(db, actor="station", action="alarm.escalate", target=id,
                             detail={"unclaimed_s": round(now - cutoff, 1)}, ts=now)
        return ids

    def _mine(self, db: Db, alarm: str, username: str, may_take_over: bool) -> None:
        row = db.execute("SELECT state, claimed_by, officer FROM alarms WHERE id = ?", (alarm,)).fetchone()
        if row is None:
            raise OpRefused("no_alarm", f"no alarm {alarm}")
        if AlarmState(row[0]).closed:
            raise OpRefused("closed", f"alarm is already {row[0]}")
        if row[1] is None:
            raise OpRefused("not_claimed", "claim the alarm first")
        if row[1] != username and not may_take_over:
            raise OpRefused("not_yours", f"already claimed by {row[2]}")

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
