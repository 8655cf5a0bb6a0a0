"""The station database as its readers see it: every read, no write.

The consoles open it read-only (:meth:`StationReader.open`) and re-read a row when the
station service announces a change, so a console can start, stop or run twice without
affecting what is stored. The service's own store is a reader too, on its writing connection
(:mod:`console.station.store.station`). The users, calls and records of a reader read as the
service's do; a write through them is refused (only the service writes).
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from console.casework.records import AlarmRecord, DispatchRecord, FollowUp, VisitRecord
from console.casework.schedule import History
from console.station import audit, calls, records_store, users
from console.station.config import Category, Elder, LoginConfig
from console.station.notify.engine import NOTE_ACCEPTED
from console.station.store import schema, summary
from console.station.store.db import Db, Location
from console.station.store.notify import Notifications
from console.station.store.rows import (
    OPEN_STATES,
    AlarmRow,
    HomeFigures,
    HomeRow,
    HomeState,
    StepRow,
    WalkTestRow,
)
from console.station.users import Tx
from hub.common.configfile import DEFAULT_TIMEZONE
from hub.common.events import AlarmState

_ALARM_SQL = ("SELECT a.id, a.hub, a.kind, a.priority, a.contact_id, a.source, a.location, "
              "a.state, a.raised, a.received, a.officer, a.claimed_by, a.claimed, a.closed, "
              "a.outcome, a.notes, h.elder, a.escalated, a.pressed, a.pressed_last "
              "FROM alarms a LEFT JOIN homes h ON h.hub = a.hub")
_HOME_SQL = ("SELECT h.hub, h.elder, h.online, h.status_ts, h.last_heartbeat, h.pending, h.dropped, "
             "h.walktest_until, h.walktest_by, w.id, w.hub, w.kind, w.source, w.ts, w.data "
             "FROM homes h LEFT JOIN walktests w ON w.id = h.walktest_last")
_STATE_SQL = ("SELECT h.hub, h.online, h.last_heartbeat, s.readings FROM homes h "
              "LEFT JOIN home_summary s ON s.hub = h.hub")


class ReadOnly(Exception):
    """A write through a reader."""


def refuse_writes() -> AbstractContextManager[Db]:
    """The transactions of a reader: none."""
    raise ReadOnly("the station database is open read-only here: only the "
                                   "station service writes it")


class StationReader:
    """Use ``StationReader.open(location, tz=…)``; ``close()`` when done."""

    def __init__(self, db: Db, *, tz: tzinfo | None = None,
                 tx: Tx = refuse_writes, login: LoginConfig | None = None) -> None:
        """``tz`` is the county's zone (county.yaml; default Asia/Shanghai): where a station
        time's day begins; ``tx`` opens a write transaction on ``db`` (a reader's refuses)."""
        self._db, self.tz = db, tz or ZoneInfo(DEFAULT_TIMEZONE)
        self.users = users.Users(db, tx, login or LoginConfig())
        self.calls = calls.Calls(db, tx)
        self.records = records_store.Records(db, tx, self.tz)
        self.notify = Notifications(db, tx)
        self._summaries = False  # home_summary seen: a console may open a database before
        # the station's upgrade has made it (store/summary.py), and read nothing heard till then

    @classmethod
    def open(cls, location: Location, *, tz: tzinfo | None = None) -> StationReader:
        """The database at ``location``, read-only (it must exist; on PostgreSQL, a role
        that may only SELECT: docs/county.md)."""
        return cls(schema.connect(location, readonly=True), tz=tz)

    def close(self) -> None:
        self._db.close()

    def alarm(self, id: str) -> AlarmRow | None:
        row = self._db.execute(f"{_ALARM_SQL} WHERE a.id = ?", (id,)).fetchone()
        return self._alarm(row) if row else None

    def open_alarms(self) -> list[AlarmRow]:
        marks = ",".join("?" * len(OPEN_STATES))
        rows = self._db.execute(f"{_ALARM_SQL} WHERE a.state IN ({marks})", OPEN_STATES)
        today = datetime.now(self.tz).date()
        return sorted(map(self._alarm, rows), key=lambda a: a.order(today))

    def alarms_for_hub(self, hub: str, *, open_only: bool = True) -> list[AlarmRow]:
        rows = self._db.execute(f"{_ALARM_SQL} WHERE a.hub = ? ORDER BY a.raised", (hub,))
        return [a for a in map(self._alarm, rows) if not (open_only and a.state.closed)]

    def alarm_calls(self, alarm: str) -> list[calls.CallRow]:
        return self.calls.for_alarm(alarm)

    def alarm_history(self, hub: str, limit: int = 50) -> list[AlarmRow]:
        """The home's alarms, open and closed, newest first."""
        rows = self._db.execute(f"{_ALARM_SQL} WHERE a.hub = ? ORDER BY a.raised DESC LIMIT ?",
                                (hub, limit))
        return list(map(self._alarm, rows))

    def alarm_data(self, alarm: str) -> dict[str, Any]:
        """The data of the event that raised the alarm: what caused it (the door and when it
        opened, the silent sensor, the battery; docs/events.md); empty if unknown."""
        row = self._db.execute(f"SELECT {self._db.json('payload', 'data')} FROM events "
                               "WHERE id = ?", (alarm,)).fetchone()
        data = json.loads(row[0]) if row and row[0] else {}
        return data if isinstance(data, dict) else {}

    def alarm_steps(self, alarm: str) -> list[StepRow]:
        rows = self._db.execute("SELECT step, ts, officer, note FROM alarm_steps WHERE alarm = ? "
                                "ORDER BY rowid", (alarm,))
        return [StepRow(*r) for r in rows]

    def alarm_records(self, since: float, until: float) -> list[AlarmRecord]:
        """Alarms stored from ``since`` to before ``until`` (station time), for the ledger, each
        with the group its elder had when it came (a later change of group does not move it)."""
        rows = self._db.execute(f"{_ALARM_SQL} WHERE a.received >= ? AND a.received < ? "
                                "ORDER BY a.received", (since, until))
        changes = self.records.group_changes(since)
        told = self._told(since, until)
        return [AlarmRecord(id=a.id, hub=a.hub, name=a.elder.name if a.elder else "",
                            category=records_store.group_then(changes.get(a.hub, []), a.received,
                                                              a.elder.category) if a.elder else None,
                            kind=a.kind, received=a.received, claimed=a.claimed, closed=a.closed,
                            outcome=a.outcome, officer=a.officer or "", notes=a.notes or "",
                            raised=a.raised, **told.get(a.id, {})) for a in map(self._alarm, rows)]

    def _told(self, since: float, until: float) -> dict[str, dict[str, Any]]:
        """Of the alarms received from ``since`` to ``until``: their messages sent and failed,
        their first acceptance (on the timeline) and their dispatches, by alarm."""
        out: dict[str, dict[str, Any]] = {}
        of_month = "alarm IN (SELECT id FROM alarms WHERE received >= ? AND received < ?)"
        for alarm, sent, failed in self._db.execute(
                "SELECT alarm, count(sent), count(CASE WHEN state = 'failed' THEN 1 END) FROM "
                "notifications WHERE "
                f"{of_month} GROUP BY alarm", (since, until)):
            out.setdefault(alarm, {}).update(sent=sent, failed=failed)
        for alarm, first in self._db.execute(
                f"SELECT alarm, min(ts) FROM alarm_log WHERE note = ? AND {of_month} GROUP BY alarm",
                (NOTE_ACCEPTED, since, until)):
            out.setdefault(alarm, {})["accepted"] = first
        for d in self.notify.dispatches_between(since, until, received=True):
            sent_ = out.setdefault(d.alarm, {}).setdefault("dispatches", ())
            out[d.alarm]["dispatches"] = (*sent_, DispatchRecord(d.kind, d.name, d.dispatched,
                                                                 d.promise_s, d.arrived))
        return out

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
        """What the home's devices last said (:mod:`~console.station.store.summary`); a hub
        never heard of is offline with nothing known."""
        if self._has_summaries():
            row = self._db.execute(f"{_STATE_SQL} WHERE h.hub = ?", (hub,)).fetchone()
        else:
            row = self._db.execute("SELECT hub, online, last_heartbeat, NULL FROM homes "
                                   "WHERE hub = ?", (hub,)).fetchone()
        _, online, heartbeat, readings = row or (hub, 0, None, None)
        return summary.home_state(readings, bool(online), heartbeat)

    def home_figures(self) -> dict[str, HomeFigures]:
        """What the roster shows of every home's devices, in one query (a county's tens of
        thousands of homes); a home none of whose devices has spoken is not in it. After
        the upgrade that brought the summary, a home's figures say what was heard since, until
        the station has made its summary from its stored events (store/backfill.py)."""
        if not self._has_summaries():
            return {}
        return {hub: HomeFigures(*figures) for hub, *figures in self._db.execute(
            "SELECT hub, sensors, silent, battery, activity FROM home_summary")}

    def _has_summaries(self) -> bool:
        self._summaries = self._summaries or "home_summary" in self._db.tables()
        return self._summaries

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


def _walktest(r: tuple[Any, ...]) -> WalkTestRow:
    return WalkTestRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))
