"""Elder records, visits and follow-ups in the station database (the casework of the desk).

The station service is the only writer: a console sends ``elder_save``, ``elder_override``,
``visit_save`` or ``followup_close`` and the service applies it here. Each change and its audit
entry are written in one transaction; the audit names the fields that changed, never their
values (the record itself is the personal data). The category in effect is always the
station's: the county rules over the record's facts, or a supervisor's override.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from pydantic import Field, ValidationError

from console.casework import category
from console.casework.county import CountyRules
from console.casework.elder import STORED, Category, ElderRecord
from console.casework.records import FollowUp, VisitRecord, visit_problems
from console.casework.schedule import History
from console.station import audit
from console.station.store.db import Db
from console.station.users import Tx
from hub.common.configfile import Strict
from hub.common.events import new_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    id TEXT PRIMARY KEY,             -- made by the station
    hub TEXT NOT NULL,               -- the elder's home
    name TEXT NOT NULL,              -- the elder's name on the day
    category TEXT NOT NULL,          -- the elder's group on the day
    day TEXT NOT NULL,               -- ISO date of the visit
    mode TEXT NOT NULL,              -- a county visit mode key
    home INTEGER NOT NULL,           -- the mode is a home visit (入户), as the rules said then
    visitor TEXT NOT NULL,           -- who visited
    contents TEXT NOT NULL,          -- JSON list of county content keys
    reached INTEGER NOT NULL,        -- 0: tried, nobody answered (not counted as a visit)
    notes TEXT NOT NULL,
    saved_by TEXT NOT NULL,          -- username that recorded it
    saved REAL NOT NULL              -- station time
);
CREATE INDEX IF NOT EXISTS visits_hub ON visits(hub, day);
CREATE INDEX IF NOT EXISTS visits_day ON visits(day);
CREATE TABLE IF NOT EXISTS followups (
    id TEXT PRIMARY KEY,
    hub TEXT NOT NULL,
    name TEXT NOT NULL,
    content TEXT NOT NULL,           -- the content key it came from
    text TEXT NOT NULL,
    opened TEXT NOT NULL,            -- ISO date
    visit TEXT NOT NULL,             -- the visit that found it
    closed TEXT,                     -- ISO date; NULL while open
    closed_by TEXT,
    closed_notes TEXT
);
CREATE INDEX IF NOT EXISTS followups_open ON followups(hub) WHERE closed IS NULL;
"""

DESK = "desk:"  # a home's ``seed`` so marked: its record is the desk's, homes.yaml no longer applies
_DESK_SEED = (f"CASE WHEN homes.seed LIKE '{DESK}%' THEN homes.seed "
              f"ELSE '{DESK}' || coalesce(homes.seed, '') END")
_VISIT_COLS = "hub, name, category, day, mode, visitor, contents, reached, notes, id"
_FOLLOWUP_COLS = "hub, name, content, text, opened, closed, id, visit"


class OpRefused(Exception):
    """A console's request the station will not apply; ``code`` is what the console says
    in its language (invalid, unknown_hub, not_allowed, not_yours, closed, no_followup …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


VISIT_NOTES_MAX = 2000  # characters of a visit's notes (the console's form stops there)
FOLLOWUP_TEXT_MAX = 500  # characters of a follow-up item


class FollowUpForm(Strict):
    content: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=FOLLOWUP_TEXT_MAX)


class VisitForm(Strict):
    """A visit as a console sends it (``visit_save``'s record); the station adds the elder's
    name and group of the day."""

    day: date
    mode: str = Field(min_length=1, max_length=32)
    by: str = Field("", max_length=32, description="who visited; empty: the officer saving it")
    contents: list[str] = Field(default_factory=list, max_length=32)
    reached: bool = True
    notes: str = Field("", max_length=VISIT_NOTES_MAX)
    followups: list[FollowUpForm] = Field(default_factory=list, max_length=16)


def invalid(e: ValidationError, what: str) -> OpRefused:
    """The first problem of a record, with the field named, for the officer to fix."""
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or what
    return OpRefused("invalid", f"{what}.{where}: {first['msg'].removeprefix('Value error, ')}")


@dataclass(frozen=True, slots=True)
class Saved:
    """What a save changed, for the reply and the Changed notice."""

    record: ElderRecord
    created: bool
    fields: list[str]
    category: category.Change | None


class Records:
    """``tx`` opens a write transaction on ``db`` (the store's); ``tz`` is the
    county's zone, in which a station time falls on a day (a visit's, a join date)."""

    def __init__(self, db: Db, tx: Tx, tz: tzinfo) -> None:
        self._db, self._tx, self.tz = db, tx, tz
        self._parsed: dict[str, ElderRecord] = {}  # record JSON -> record: homes() stays cheap

    def _day(self, ts: float) -> date:
        """The county's calendar day of a station time."""
        return datetime.fromtimestamp(ts, self.tz).date()

    # --- elder records ----------------------------------------------------------------------

    def parse(self, text: str | None) -> ElderRecord | None:
        if not text:
            return None
        if (rec := self._parsed.get(text)) is None:
            if len(self._parsed) > 50_000:
                self._parsed.clear()
            rec = self._parsed[text] = ElderRecord.model_validate_json(text, context=STORED)
        return rec

    def elder(self, hub: str) -> ElderRecord | None:
        row = self._db.execute("SELECT elder FROM homes WHERE hub = ?", (hub,)).fetchone()
        return self.parse(row[0]) if row else None

    def elders(self) -> list[tuple[str, ElderRecord]]:
        rows = self._db.execute("SELECT hub, elder FROM homes WHERE elder IS NOT NULL ORDER BY hub")
        return [(hub, rec) for hub, text in rows if (rec := self.parse(text))]

    def save_elder(self, hub: str, data: dict[str, Any], rules: CountyRules, *, actor: str,
                   now: float) -> Saved:
        """Create or edit a record from a console. The override stays the stored one (only
        ``elder_override`` changes it) and the category is recomputed by the county rules."""
        today = self._day(now)
        with self._tx() as db:
            old = self._stored(db, hub)
            facts = {"category": Category.GENERAL.value, **data, "override": None}
            if old is not None:
                facts["category"] = old.category.value  # from here the rules decide
            try:
                rec = ElderRecord.model_validate(facts)
                if old and old.override:
                    rec = rec.model_copy(update={"override": old.override,
                                                 "category": old.override.category})
                    rec = ElderRecord.model_validate(rec.model_dump())
            except ValidationError as e:
                raise invalid(e, "record") from None
            change = category.reassess(rec, rules, today)
            new = change.record if change else rec
            before = old.model_dump(mode="json") if old else {}
            after = new.model_dump(mode="json", exclude_defaults=old is None)
            fields = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            if old is not None and not fields:
                return Saved(new, False, [], None)
            db.execute("INSERT INTO homes(hub, elder, added) VALUES (?, ?, ?) ON CONFLICT(hub) "
                       f"DO UPDATE SET elder = excluded.elder, seed = {_DESK_SEED}, "
                       "added = coalesce(homes.added, excluded.added)",
                       (hub, new.model_dump_json(), now))
            audit.append(db, actor=actor, action="elder.record", target=hub,
                         detail={"added": old is None, "fields": fields}, ts=now)
            if change:
                audit.append(db, actor=actor, action=change.action, target=hub,
                             detail=change.detail, ts=now)
        return Saved(new, old is None, fields, change)

    def override(self, hub: str, cat: Category | None, reason: str, rules: CountyRules, *,
                 actor: str, now: float) -> category.Change:
        """Put the elder in ``cat`` against the rules (None: back to the rules' group)."""
        today, at = self._day(now), datetime.fromtimestamp(now, UTC)
        with self._tx() as db:
            old = self._stored(db, hub)
            if old is None:
                raise OpRefused("unknown_hub", f"no elder record for home {hub}")
            try:
                change = (category.clear_override(old, rules, today, by=actor, at=at) if cat is None
                          else category.set_override(old, rules, today, category=cat, reason=reason,
                                                     by=actor, at=at))
            except ValidationError as e:
                raise invalid(e, "override") from None
            db.execute(f"UPDATE homes SET elder = ?, seed = {_DESK_SEED} WHERE hub = ?",
                       (change.record.model_dump_json(), hub))
            audit.append(db, actor=actor, action=change.action, target=hub, detail=change.detail, ts=now)
        return change

    def _stored(self, db: Db, hub: str) -> ElderRecord | None:
        row = db.execute("SELECT elder FROM homes WHERE hub = ?", (hub,)).fetchone()
        return self.parse(row[0]) if row else None

    # --- visits and follow-ups --------------------------------------------------------------

    def save_visit(self, hub: str, data: dict[str, Any], rules: CountyRules, *, actor: str,
                   officer: str, now: float) -> VisitRecord:
        """Record a visit (and the follow-ups it found); refused with every problem named."""
        try:
            form = VisitForm.model_validate(data)
        except ValidationError as e:
            raise invalid(e, "record") from None
        with self._tx() as db:
            rec = self._stored(db, hub)
            if rec is None:
                raise OpRefused("unknown_hub", f"no elder record for home {hub}")
            visit = VisitRecord(elder=hub, name=rec.name, category=rec.category, day=form.day,
                                mode=form.mode, by=form.by.strip() or officer,
                                contents=tuple(form.contents), reached=form.reached,
                                notes=form.notes, id=new_id())
            problems: list[str] = [*visit_problems(visit, rules, self._day(now))]
            contents = {c.key for c in rules.visits.contents}
            problems += [f"follow-up {i}: unknown content {f.content!r}"
                         for i, f in enumerate(form.followups) if f.content not in contents]
            if problems:
                raise OpRefused("invalid", "; ".join(problems))
            db.execute(f"INSERT INTO visits({_VISIT_COLS}, home, saved_by, saved) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (hub, visit.name, visit.category.value, visit.day.isoformat(), visit.mode,
                        visit.by, json.dumps(list(visit.contents)), int(visit.reached), visit.notes,
                        visit.id, int(rules.mode(visit.mode).home), actor, now))
            ids = [new_id() for _ in form.followups]
            db.executemany(f"INSERT INTO followups({_FOLLOWUP_COLS}) VALUES (?,?,?,?,?,NULL,?,?)",
                           [(hub, visit.name, f.content, f.text, visit.day.isoformat(), i, visit.id)
                            for f, i in zip(form.followups, ids, strict=True)])
            audit.append(db, actor=actor, action="visit.save", target=hub,
                         detail={"visit": visit.id, "day": visit.day.isoformat(), "mode": visit.mode,
                                 "reached": visit.reached, "followups": ids}, ts=now)
        return visit

    def close_followup(self, id: str, notes: str, *, actor: str, now: float) -> FollowUp:
        with self._tx() as db:
            cur = db.execute("UPDATE followups SET closed = ?, closed_by = ?, closed_notes = ? "
                             "WHERE id = ? AND closed IS NULL",
                             (self._day(now).isoformat(), actor, notes, id))
            if not cur.rowcount:
                known = db.execute("SELECT 1 FROM followups WHERE id = ?", (id,)).fetchone()
                raise OpRefused("closed" if known else "no_followup",
                                f"follow-up {id} is already closed" if known else f"no follow-up {id}")
            audit.append(db, actor=actor, action="followup.close", target=id,
                         detail={"notes": notes}, ts=now)
            row = db.execute(f"SELECT {_FOLLOWUP_COLS} FROM followups WHERE id = ?", (id,)).fetchone()
        return _followup(row)

    def visits(self, hub: str | None = None, since: date | None = None,
               until: date | None = None) -> list[VisitRecord]:
        """Visits, oldest first; ``since`` and ``until`` are both included."""
        sql, args = f"SELECT {_VISIT_COLS} FROM visits WHERE 1 = 1", list[object]()
        for cond, value in (("hub = ?", hub), ("day >= ?", since and since.isoformat()),
                            ("day <= ?", until and until.isoformat())):
            if value is not None:
                sql, args = f"{sql} AND {cond}", [*args, value]
        return [_visit(r) for r in self._db.execute(f"{sql} ORDER BY day, saved", args)]

    def followups(self, open_only: bool = True) -> list[FollowUp]:
        where = " WHERE closed IS NULL" if open_only else ""
        rows = self._db.execute(f"SELECT {_FOLLOWUP_COLS} FROM followups{where} ORDER BY opened, id")
        return [_followup(r) for r in rows]

    def roster_at(self, end: float) -> dict[str, Category]:
        """Each elder on the roster just before ``end`` (a station time) and their group then,
        so a past month's ledger counts that month's roster: homes added later are left out,
        and a group changed since is read back (``group_then``). Homes stored before the join
        date was kept count from the day of that upgrade, as ``schedule.agenda`` counts them."""
        changes = self.group_changes(end)
        rows = self._db.execute("SELECT hub, elder FROM homes WHERE elder IS NOT NULL AND "
                                "(added IS NULL OR added < ?)", (end,))
        return {hub: group_then(changes.get(hub, []), end, rec.category)
                for hub, text in rows if (rec := self.parse(text))}

    def group_changes(self, since: float) -> dict[str, list[tuple[float, Category]]]:
        """Each home's changes of group at or after ``since`` (station time), oldest first, as
        (when, the group it had before): every change of group is audited with its ``from``."""
        out: dict[str, list[tuple[float, Category]]] = {}
        for hub, ts, detail in self._db.execute(
                "SELECT target, ts, detail FROM audit WHERE action LIKE 'elder.category%' AND ts >= ? "
                "ORDER BY seq", (since,)):
            out.setdefault(hub, []).append((ts, Category(json.loads(detail)["from"])))
        return out

    def visit_histories(self, now: float) -> list[History]:
        """Each elder's group, join date and last visits, for ``schedule.agenda``."""
        rows = self._db.execute(
            "SELECT h.hub, h.elder, h.added, max(v.day), max(CASE WHEN v.home = 1 THEN v.day END) "
            "FROM homes h LEFT JOIN visits v ON v.hub = h.hub AND v.reached = 1 "
            "WHERE h.elder IS NOT NULL GROUP BY h.hub ORDER BY h.hub")
        out = []
        for hub, text, added, last, last_home in rows:
            if rec := self.parse(text):
                out.append(History(hub, rec.category, self._day(added if added is not None else now),
                                   date.fromisoformat(last) if last else None,
                                   date.fromisoformat(last_home) if last_home else None))
        return out


def group_then(changes: list[tuple[float, Category]], at: float, now: Category) -> Category:
    """A home's group just before ``at``: the first later change says what it was; without
    one, it is the group ``now``. ``changes`` are the home's from ``group_changes``."""
    return next((was for ts, was in changes if ts >= at), now)


def _visit(r: tuple[Any, ...]) -> VisitRecord:
    return VisitRecord(elder=r[0], name=r[1], category=Category(r[2]), day=date.fromisoformat(r[3]),
                       mode=r[4], by=r[5], contents=tuple(json.loads(r[6])), reached=bool(r[7]),
                       notes=r[8], id=r[9])


def _followup(r: tuple[Any, ...]) -> FollowUp:
    return FollowUp(elder=r[0], name=r[1], content=r[2], text=r[3], opened=date.fromisoformat(r[4]),
                    closed=date.fromisoformat(r[5]) if r[5] else None, id=r[6], visit=r[7])
