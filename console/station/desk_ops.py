"""The duty-desk requests a console sends: checklist steps and notes on alarms, elder records,
category overrides, visits and follow-ups. Each is checked against the session's role and the
county rules, applied with its audit entry, and answers what consoles must re-read.
"""

from __future__ import annotations

from console.casework.county import CountyRules
from console.casework.elder import Category
from console.station.records_store import OpRefused
from console.station.store.station import StationStore
from console.station.users import Role, User
from hub.common import wire

# A category against the county rules is a supervisor's decision (or the administrator's, who
# keeps the roster); everything else any officer on the desk may do.
ROLES: dict[type[wire.DeskRequest], frozenset[Role]] = {
    wire.ElderOverride: frozenset({Role.SUPERVISOR, Role.ADMIN})}

Changed = tuple[str, str]  # (what, id) of a wire.Changed notice
NOTE_KEPT_MAX_S = 7 * 86400  # a note a console kept through an outage is taken this late


def _written(req: wire.AlarmNote, now: float) -> float | None:
    """When a kept note was written, on the station's clock: as long before now as the
    console's clock says it was written before the request."""
    if req.written is None:
        return None
    earlier = req.ts - req.written
    if not 0 <= earlier <= NOTE_KEPT_MAX_S:
        raise OpRefused("invalid", f"written: {earlier:.0f} s before the request; a note is "
                        f"taken up to {NOTE_KEPT_MAX_S // 86400} days late, never from the future")
    return now - earlier


def apply(store: StationStore, rules: CountyRules, req: wire.DeskRequest, user: User,
          now: float) -> list[Changed]:
    """Do ``req`` for ``user``; OpRefused (with a code for the console) when it may not be."""
    if user.role not in ROLES.get(type(req), frozenset(Role)):
        raise OpRefused("not_allowed", f"{req.op} is not for the {user.role.value} role")
    match req:
        case wire.AlarmStep():
            alarm = store.alarm(req.alarm)
            if alarm is None:
                raise OpRefused("no_alarm", f"no alarm {req.alarm}")
            steps = [s.key for s in rules.plan(alarm.kind).steps]
            if req.step not in steps:
                raise OpRefused("invalid", f"step: {req.step!r} is not a step of the {alarm.kind} "
                                f"plan ({', '.join(steps)})")
            store.step_alarm(req.alarm, req.step, user.username, user.display, req.notes or "",
                             now, may_take_over=user.role.may_take_over)
            return [("alarm", req.alarm)]
        case wire.AlarmNote():
            store.note_alarm(req.alarm, user.username, user.display, req.notes, now,
                             written=_written(req, now))
            return [("alarm", req.alarm)]
        case wire.FollowupClose():
            f = store.records.close_followup(req.followup, req.notes or "", actor=user.username,
                                             now=now)
            return [("home", f.elder)]
        case wire.ElderSave():
            store.records.save_elder(req.hub, req.record, rules, actor=user.username, now=now)
            return [("home", req.hub)]
        case wire.ElderOverride():
            cat = Category(req.category) if req.category else None
            if cat is not None and not (req.notes or "").strip():
                raise OpRefused("invalid", "notes: give the reason for the override")
            store.records.override(req.hub, cat, (req.notes or "").strip(), rules,
                                   actor=user.username, now=now)
            return [("home", req.hub)]
        case wire.VisitSave():
            store.records.save_visit(req.hub, req.record, rules, actor=user.username,
                                     officer=user.display, now=now)
            return [("home", req.hub)]


def check_outcome(rules: CountyRules, outcome: str) -> None:
    """A resolve names an outcome the county offers the officer (the shipped file keeps every
    code the console offered before)."""
    chosen = [o.key for o in rules.response.outcomes if o.chosen]
    if outcome not in chosen:
        raise OpRefused("invalid", f"outcome: {outcome!r} is not one of {', '.join(chosen)}")
