"""The hub's local rule engine: events and a clock in, actions out.

Pure: no I/O, no sleeping, no reading the system clock. The service passes wall-clock ``now``
(epoch seconds) to every call, sleeps until :meth:`Engine.next_deadline`, then calls
:meth:`Engine.tick`; tests drive it with a fake clock, so hours pass in microseconds.

Rules are indexed by event kind, so an event looks only at the rules that name its kind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from zoneinfo import ZoneInfo

from hub.common.configfile import DEFAULT_TIMEZONE
from hub.common.events import ALARM_TYPES, Event
from hub.rules.actions import (
    CancelAlarm,
    OpenCall,
    RaiseAlarm,
    Relay,
    RuleAction,
    Say,
    SendAlarm,
    ShowLed,
    Siren,
)
from hub.rules.clock import advance, last_at, next_at, second_of_day
from hub.rules.model import (
    AlarmAction,
    AnyAction,
    Category,
    Conditions,
    LedAction,
    RelayAction,
    Rule,
    RuleSet,
    SayAction,
    SirenAction,
)
from hub.rules.state import HomeState

DEFAULT_TZ = ZoneInfo(DEFAULT_TIMEZONE)
TIMER_SOURCE = "hub"  # the source of alarms that a timer, not an event, raised


@dataclass(slots=True)
class _Window:
    """A trigger's wait in progress; one per rule at a time."""

    trigger: Event
    deadline: float
    alarms: list[RaiseAlarm]  # raised at the trigger: sent (if held) when it runs out, cancelled if ended
    merged: dict[str, str] = field(default_factory=dict)  # alarm id -> the open alarm the hub
    # added it to instead of raising it (Engine.merged): nothing of it to send or cancel


@dataclass(slots=True)
class _Absence:
    last: float  # the last counted event, or when the engine (or the rule) started
    due: float  # when the rule fires if nothing comes
    fired: bool = False  # fired already; waits for the next counted event


@dataclass(slots=True)
class _Daily:
    last: float  # the last counted event (-inf: none seen)
    due: float  # the next `by`


@dataclass(slots=True)
class _Plan:
    """The rules one event kind concerns."""

    triggers: list[Rule] = field(default_factory=list)
    ends: list[Rule] = field(default_factory=list)  # it may end their wait
    releases: list[Rule] = field(default_factory=list)  # it releases their once_until latch
    counts: list[Rule] = field(default_factory=list)  # absence / daily rules it counts for


class Engine:
    """Evaluates a RuleSet for one home, whose elder is in ``category`` (key 重点, secondary, general)."""

    def __init__(self, rules: RuleSet, *, now: float, category: Category, tz: tzinfo = DEFAULT_TZ) -> None:
        self.category: Category = category
        self.tz = tz
        self.state = HomeState()
        self._now = now  # the latest time seen
        self._windows: dict[str, _Window] = {}
        self._latched: set[tuple[str, str]] = set()  # (rule, device) that fired and await once_until
        self._absence: dict[str, _Absence] = {}
        self._daily: dict[str, _Daily] = {}
        self._earliest = -math.inf  # no timer is due before this (it may be earlier than the true one)
        self._install(rules)

    @property
    def rules(self) -> RuleSet:
        return self._rules

    def handle(self, ev: Event, now: float) -> list[RuleAction]:
        """Timers due by ``now`` first, then this event. Alarm events (``ev.alarm`` set) are ignored."""
        out = self.tick(now)
        if ev.alarm is not None:
            return out
        self.state.apply(ev)
        plan = self._plans.get(ev.kind)
        if plan is None:
            return out
        for r in plan.ends:
            w = self._windows.get(r.name)
            assert r.wait
            if w and (ev.kind in r.wait.unless.events
                      or (ev.kind in r.wait.unless.same_device and ev.source == w.trigger.source)):
                del self._windows[r.name]
                out += self._end(r, w, ev, ev.ts)
        for r in plan.releases:
            self._latched.discard((r.name, ev.source))
        for r in plan.counts:
            if r.absence:
                a = self._absence[r.name] = _Absence(now, self._absence_due(r, now))
                self._earliest = min(self._earliest, a.due)
            else:
                self._daily[r.name].last = now
        for r in plan.triggers:
            out += self._trigger(r, ev, now)
        return out

    def tick(self, now: float) -> list[RuleAction]:
        """Fire every timer due by ``now``, in time order: waits running out, absences, daily deadlines."""
        self._now = max(self._now, now)
        if now < self._earliest:
            return []
        out: list[RuleAction] = []
        while (due := self._next_due()) and due[0] <= now:
            at, r = due
            if w := self._windows.pop(r.name, None):
                out += self._expire(r, w)
            elif r.absence:
                self._absence[r.name].fired = True
                if self._holds(r.conditions, at):
                    out += self._do(r, r.actions, None, at)
            else:
                assert r.daily
                d = self._daily[r.name]
                missed = d.last < last_at(at, r.daily.from_, self.tz)
                d.due = next_at(max(at, now), r.daily.by, self.tz)  # once, even after sleeping for days
                if missed and self._holds(r.conditions, at):
                    out += self._do(r, r.actions, None, at)
        self._earliest = due[0] if due else math.inf
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has something to do; None: only an event can change anything."""
        due = self._next_due()
        self._earliest = due[0] if due else math.inf
        return due[0] if due else None

    def merged(self, alarm_id: str, into: str) -> None:
        """The hub did not raise ``alarm_id``: the same alarm (kind, device) was still open and
        the trigger went to that one. Its window then has nothing of it to send or cancel, and
        a window that ends having cancelled nothing skips its ``else`` (which says "cancelled")."""
        for w in self._windows.values():
            if any(a.event.id == alarm_id for a in w.alarms):
                w.merged[alarm_id] = into

    def clock_jumped(self, step: float) -> None:
        """The wall clock was stepped by ``step`` seconds: waits and absences keep their
        length (a fall is still asked about for 30 s, not an hour); daily deadlines stay at
        their time of day, so a step past one fires it at the next tick."""
        for w in self._windows.values():
            w.deadline += step
        for name, a in self._absence.items():
            a.last += step
            a.due = self._absence_due(self._by_name[name], a.last)
        for d in self._daily.values():
            d.last += step
        self._now += step
        self._earliest = -math.inf

    def replace(self, rules: RuleSet) -> list[RuleAction]:
        """Swap in reloaded rules, keeping the home state and the timers of rules still there.

        A wait whose rule is gone (or no longer waits) ends; its held alarms are sent, never
        dropped: the returned actions say so.
        """
        keep = {r.name: r for r in rules.rules}
        out: list[RuleAction] = []
        for name, w in list(self._windows.items()):
            if not ((r := keep.get(name)) and r.wait):
                del self._windows[name]
                out += [SendAlarm(a.event.id, name) for a in w.alarms
                        if a.hold and a.event.id not in w.merged]
        self._latched = {(n, d) for n, d in self._latched if n in keep and keep[n].once_until}
        self._absence = {n: a for n, a in self._absence.items() if n in keep and keep[n].absence}
        self._daily = {n: d for n, d in self._daily.items() if n in keep and keep[n].daily}
        self._install(rules)
        return out

    # --- internals --------------------------------------------------------------------------

    def _install(self, rules: RuleSet) -> None:
        self._rules = rules
        self._order = {r.name: i for i, r in enumerate(rules.rules)}
        self._by_name = {r.name: r for r in rules.rules}
        plans: dict[str, _Plan] = {}

        def plan(kind: str) -> _Plan:
            return plans.setdefault(kind, _Plan())

        for r in rules.rules:
            if r.trigger:
                for k in dict.fromkeys(r.trigger.event):
                    plan(k).triggers.append(r)
                if r.wait:
                    for k in dict.fromkeys([*r.wait.unless.events, *r.wait.unless.same_device]):
                        plan(k).ends.append(r)
                for k in dict.fromkeys(r.once_until):
                    plan(k).releases.append(r)
                continue
            counted = r.absence.events if r.absence else r.daily.events if r.daily else []
            for k in dict.fromkeys(counted):
                plan(k).counts.append(r)
            if r.absence:
                a = self._absence.setdefault(r.name, _Absence(self._now, 0.0))
                a.due = self._absence_due(r, a.last)
            elif r.daily:
                d = self._daily.setdefault(r.name, _Daily(-math.inf, 0.0))
                d.due = next_at(self._now, r.daily.by, self.tz)
        self._plans = plans
        self._earliest = -math.inf  # recomputed at the next tick

    def _absence_due(self, r: Rule, last: float) -> float:
        assert r.absence
        return advance(last, r.absence.for_[self.category], r.absence.hours, self.tz)

    def _next_due(self) -> tuple[float, Rule] | None:
        best: tuple[float, int, str] | None = None
        for name, at in self._timers():
            cand = (at, self._order[name], name)
            if best is None or cand < best:
                best = cand
        return (best[0], self._by_name[best[2]]) if best else None

    def _timers(self) -> list[tuple[str, float]]:
        return ([(n, w.deadline) for n, w in self._windows.items()]
                + [(n, a.due) for n, a in self._absence.items() if not a.fired]
                + [(n, d.due) for n, d in self._daily.items()])

    def _holds(self, c: Conditions, at: float) -> bool:
        if c.category and self.category not in c.category:
            return False
        if c.time and second_of_day(at, self.tz) not in c.time:
            return False
        return all(self.state[flag] == want for flag, want in c.state.items())

    def _trigger(self, r: Rule, ev: Event, now: float) -> list[RuleAction]:
        t = r.trigger
        assert t
        if ((t.device and ev.source not in t.device)
                or (t.room and ev.data.get("room") not in t.room)
                or any(ev.data.get(k) != v for k, v in t.data.items())
                or r.name in self._windows  # a running wait is not restarted (nor postponed)
                or (r.name, ev.source) in self._latched
                or not self._holds(r.conditions, now)):
            return []
        out = self._do(r, r.actions, ev, ev.ts)
        if r.once_until:
            self._latched.add((r.name, ev.source))
        if r.wait:
            w = _Window(ev, now + r.wait.for_, [a for a in out if isinstance(a, RaiseAlarm)])
            self._windows[r.name] = w
            self._earliest = min(self._earliest, w.deadline)
        return out

    def _expire(self, r: Rule, w: _Window) -> list[RuleAction]:
        assert r.wait
        unless = r.wait.unless.state
        if unless and all(self.state[flag] == want for flag, want in unless.items()):
            return self._end(r, w, None, w.deadline)
        sent: list[RuleAction] = [SendAlarm(a.event.id, r.name) for a in w.alarms
                                  if a.hold and a.event.id not in w.merged]
        last = w.alarms[-1].event.id if w.alarms else None
        return sent + self._do(r, r.wait.then, w.trigger, w.deadline, w.merged.get(last or "", last))

    def _end(self, r: Rule, w: _Window, cause: Event | None, at: float) -> list[RuleAction]:
        """The wait ended early: its alarms are cancelled and ``else`` runs, unless every alarm
        it raised went to one still open (nothing was cancelled, so nothing may say so)."""
        assert r.wait
        cancelled: list[RuleAction] = [CancelAlarm(a.event.id, r.name, cause) for a in w.alarms
                                       if a.event.id not in w.merged]
        if w.alarms and not cancelled:
            return []
        return cancelled + self._do(r, r.wait.else_, w.trigger, at)

    def _do(self, r: Rule, specs: Sequence[AnyAction], trigger: Event | None, at: float,
            alarm_id: str | None = None) -> list[RuleAction]:
        """Turn a rule's action specs into actions; ``at`` stamps the alarms they raise."""
        out: list[RuleAction] = []
        for s in specs:
            if isinstance(s, SayAction):
                out.append(Say(s.say))
            elif isinstance(s, LedAction):
                out.append(ShowLed(s.led))
            elif isinstance(s, AlarmAction):
                alarm = self._alarm(r, s, trigger, at)
                alarm_id = alarm.event.id
                out.append(alarm)
            elif isinstance(s, SirenAction):
                out.append(Siren(None if s.siren == "silent" else s.siren))
            elif isinstance(s, RelayAction):
                out.append(Relay(s.relay, s.energise))
            else:
                out.append(OpenCall(alarm_id))
        return out

    def _alarm(self, r: Rule, s: AlarmAction, trigger: Event | None, at: float) -> RaiseAlarm:
        """The alarm carries what caused it (docs/events.md): the trigger's data, id and time
        (a door's opening, when the alarm comes at the end of its wait), and when someone was
        last seen indoors."""
        kind = ALARM_TYPES[s.alarm]
        if trigger:
            data = {**trigger.data, "rule": r.name, "trigger_id": trigger.id, "trigger_ts": trigger.ts}
            ev = Event(kind=trigger.kind, source=trigger.source, ts=at, alarm=s.alarm, data=data)
        else:
            data = {"rule": r.name}
            ev = Event(kind="timer.absence" if r.absence else "timer.daily", source=TIMER_SOURCE, ts=at,
                       alarm=s.alarm, data=data)
        if (seen := self.state.last_seen(at)) is not None:
            data["last_seen"] = seen
        if s.text:
            data["text"] = s.text
        return RaiseAlarm(ev, r.name, s.priority or kind.priority,
                          kind.contact_id if s.contact_id is None else s.contact_id, s.hold)

