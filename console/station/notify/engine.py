"""The notification engine: the policy applied to each open alarm. Pure: events and the clock
in, actions out; the station service stores them and does the sending
(:mod:`console.station.notifier`).

What it knows of an alarm (a :class:`Case`: who can be told, what to say of it, whether it is
claimed or escalated) comes from the service, as does whether the station is attended. Each
policy step that fires becomes a :class:`Cascade`: the people to tell in order, how many were
told so far, when the next is due, and whether it still runs. The service keeps every cascade
as a row, with each message (:class:`Send`) in the same transaction, so a restart
(:meth:`NotifyEngine.restore`) carries on where it stopped: a message is never planned twice,
and the store refuses a second row for the same message anyway.

The stop rules are state, checked at every step (so a restart applies them too): an
acceptance stops every cascade of its alarm; a claim stops those that fired because nobody at
the station had the alarm (``unattended``, ``unclaimed_after_s``) and keeps the others from
firing; closing the alarm stops all of them and tells those told (the ``resolved`` steps).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from console.station.notify.policy import Policy, Rule, Step, Unclaimed
from console.station.notify.texts import About, Person, Wording

Why = Literal["done", "accepted", "claimed", "closed", "exhausted"]
Topic = Literal["alarm", "dispatch", "closed", "accepted", "arrived", "dispatched", "exhausted",
                "fallback"]
EVENT_STEP = -1  # ``Send.step`` of a group's post about an event (an acceptance …), not a step
# timeline notes (alarm_log.note) the engine writes; the consoles translate them
NOTE_ACCEPTED = "notify_accepted"
NOTE_ARRIVED = "notify_arrived"
NOTE_EXHAUSTED = "notify_exhausted"
NOTE_NOBODY = "notify_nobody"  # a step fired with nobody to tell (no on-call officer, no mobile)
NOTE_HELD = "notify_held"  # a step fired in its quiet hours: it waits for their end
NOTE_NO_MOBILE = "notify_no_mobile"  # someone to tell has no mobile: not texted
NOTE_FALLBACK = "notify_fallback"  # the hub texted these itself while the station was away


@dataclass(frozen=True, slots=True)
class People:
    """Who can be told of one alarm: the elder's record and the township's responders."""

    contacts: tuple[Person, ...] = ()
    key_holder: Person | None = None
    grid_worker: Person | None = None
    on_call: tuple[Person, ...] = ()
    volunteers: tuple[Person, ...] = ()


@dataclass(frozen=True, slots=True)
class Case:
    """An open alarm as the engine needs it."""

    alarm: str
    kind: str
    priority: int
    received: float  # station time it was stored: the unclaimed_after_s clock
    about: About
    people: People
    claimed: bool = False
    escalated: bool = False  # unclaimed past the station's escalate_after_s


@dataclass(frozen=True, slots=True)
class Cascade:
    """One policy step fired for one alarm: ``persons`` told one at a time (with
    ``next_after_s``) ``rounds`` times, or all at once; ``position`` messages so far."""

    alarm: str
    step: int
    persons: tuple[Person, ...]
    channels: tuple[str, ...]
    next_after_s: float | None
    rounds: int
    by_absence: bool  # fired because nobody at the station had the alarm: a claim stops it
    started: float
    next_at: float  # when the next person is due (at start: the end of quiet hours, or now)
    position: int = 0
    state: Literal["running", "stopped"] = "running"
    why: Why | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """A message to store (once: its key is alarm, topic, step, round, phone and channel) and
    send. ``step`` is the policy step (or a dispatch's id for its message, EVENT_STEP for a
    group's post about an event); ``round`` the time through the list, or the event's count."""

    alarm: str
    topic: Topic
    step: int
    round: int
    person: Person
    channel: str
    text: str
    priority: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Store this cascade as it now is."""

    cascade: Cascade

    @property
    def alarm(self) -> str:
        return self.cascade.alarm


@dataclass(frozen=True, slots=True)
class Withdraw:
    """The alarm's messages of these steps (None: all its alarm and dispatch messages) not
    sent yet are no longer wanted."""

    alarm: str
    steps: tuple[int, ...] | None
    why: Why


@dataclass(frozen=True, slots=True)
class Note:
    """An entry on the alarm's timeline: ``note`` a code the consoles translate."""

    alarm: str
    note: str
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class TellHub:
    """The elder hears who is coming (wire.AlarmUpdate.accepted)."""

    alarm: str
    person: Person


@dataclass(frozen=True, slots=True)
class Recorded:
    """A message sent elsewhere (the hub's own fallback text): stored as sent at ``at``,
    never sent from here."""

    send: Send
    at: float

    @property
    def alarm(self) -> str:
        return self.send.alarm


Action = Send | Plan | Withdraw | Note | TellHub | Recorded


@dataclass(frozen=True, slots=True)
class Told:
    """A message already stored, as :meth:`NotifyEngine.restore` reads it back."""

    topic: str
    step: int
    round: int
    person: Person
    channel: str
    accepted: bool = False  # the person accepted (or arrived)
    at: float | None = None  # when it was sent


@dataclass
class _Open:
    case: Case
    rule: Rule
    cascades: dict[int, Cascade] = field(default_factory=dict)
    told: dict[str, Person] = field(default_factory=dict)  # phone -> person sent an alarm or dispatch text
    texted: set[tuple[str, str, int]] = field(default_factory=set)  # (phone, channel, round): alarm text
    accepted: dict[str, Person] = field(default_factory=dict)  # phone -> person, in order
    by_hub: dict[str, float] = field(default_factory=dict)  # phone -> when the hub texted them
    posts: Counter[str] = field(default_factory=Counter)  # group posts per topic


class NotifyEngine:
    """``groups``: the group channels the station has (a rule's others are skipped)."""

    def __init__(self, policy: Policy, wording: Wording, *, groups: Iterable[str] = ()) -> None:
        self.policy, self.wording = policy, wording
        self.groups = frozenset(groups)
        self.attended = True  # as the service last said; it says so at start
        self._open: dict[str, _Open] = {}

    # --- state --------------------------------------------------------------------------------

    def restore(self, case: Case, cascades: Iterable[Cascade], told: Iterable[Told]) -> None:
        """Take up an open alarm after a restart, with what was stored of it."""
        if (o := self._track(case)) is None:
            return
        o.cascades = {c.step: c for c in cascades}
        for t in told:
            if not t.person.phone:
                o.posts[t.topic] = max(o.posts[t.topic], t.round)
                continue
            if t.topic in ("alarm", "dispatch"):
                o.told.setdefault(t.person.phone, t.person)
            if t.topic == "alarm":
                o.texted.add((t.person.phone, t.channel, t.round))
            if t.topic == "fallback":
                self._by_hub(o, t.person, t.at or o.case.received)
            if t.accepted:
                o.accepted.setdefault(t.person.phone, t.person)

    def cascades(self, alarm: str) -> list[Cascade]:
        o = self._open.get(alarm)
        return list(o.cascades.values()) if o else []

    def is_open(self, alarm: str) -> bool:
        return alarm in self._open

    def next_due(self) -> float | None:
        """The next time :meth:`tick` has something to do (None: nothing is waiting)."""
        due = [c.next_at for o in self._open.values() for c in o.cascades.values() if c.running]
        for o in self._open.values():
            if not o.case.claimed:
                due += [o.case.received + wait for i, s in enumerate(o.rule.steps)
                        if i not in o.cascades and (wait := s.unclaimed_after()) is not None]
        return min(due, default=None)

    # --- events -------------------------------------------------------------------------------

    def alarm(self, case: Case, now: float) -> list[Action]:
        """An alarm was stored."""
        if self._track(case) is None:
            return []
        return self.tick(now)

    def set_attended(self, attended: bool, now: float) -> list[Action]:
        """Whether a console is attended (the service decides: sessions used lately)."""
        self.attended = attended
        return [] if attended else self.tick(now)

    def claimed(self, alarm: str, now: float) -> list[Action]:
        if (o := self._open.get(alarm)) is None:
            return []
        o.case = dataclasses.replace(o.case, claimed=True)
        return self._reconcile(o, now)

    def escalated(self, alarm: str, now: float) -> list[Action]:
        """Unclaimed past the station's limit: unattended, whoever is logged in."""
        if (o := self._open.get(alarm)) is None:
            return []
        o.case = dataclasses.replace(o.case, escalated=True)
        return self._reconcile(o, now)

    def accepted(self, alarm: str, person: Person, now: float) -> list[Action]:
        """``person`` accepted (a reply, or the officer told by phone): the cascades stop, the
        elder hears who is coming, the groups are told. Once per person and alarm."""
        o = self._open.get(alarm)
        note = Note(alarm, NOTE_ACCEPTED, person.label(self.wording.language))
        if o is None:
            return [note]  # closed meanwhile: on the timeline, nothing more to stop
        if person.phone in o.accepted:
            return []
        o.accepted[person.phone] = person
        return [note, TellHub(alarm, person), *self._posts(o, "accepted", now, who=person),
                *self._reconcile(o, now)]

    def arrived(self, alarm: str, person: Person, now: float) -> list[Action]:
        """``person`` is at the door (a reply, or the officer): on the timeline and to the groups."""
        o = self._open.get(alarm)
        note = Note(alarm, NOTE_ARRIVED, person.label(self.wording.language))
        return [note] if o is None else [note, *self._posts(o, "arrived", now, who=person)]

    def dispatched(self, alarm: str, person: Person, dispatch: int, officer: str,
                   now: float) -> list[Action]:
        """The officer sent ``person`` (dispatch row ``dispatch``) to the alarm."""
        o = self._open.get(alarm)
        if o is None:
            return []
        out: list[Action] = []
        text = self.wording.dispatch(o.case.about, officer, now)
        for s in o.rule.steps:
            if "dispatched" in s.when and "dispatched" in s.who and person.phone:
                out += [self._send(o, "dispatch", dispatch, 1, person, ch, text) for ch in s.channels]
                o.told.setdefault(person.phone, person)
        return out + self._posts(o, "dispatched", now, who=person, officer=officer)

    def fallback(self, case: Case, told: Iterable[tuple[Person, float]], text: str,
                 now: float) -> list[Action]:
        """The hub texted ``told`` itself (each with when) while the station was out of reach:
        they count as told by SMS in the first round of the steps that would text them (a
        row each, as sent, and a timeline note); nobody is texted again for those, and a
        cascade that reaches one of them goes on to the next ``next_after_s`` after the hub's
        text. Whatever comes before the alarm itself (the same batch) is taken in order."""
        if (o := self._track(case)) is None:
            return []
        out: list[Action] = []
        new = [(p, at) for p, at in told if p.phone and p.phone not in o.by_hub]
        for p, at in new:
            self._by_hub(o, p, at)
            step = next((i for i, s in enumerate(o.rule.steps) if "sms" in s.channels
                         and p.phone in {q.phone for q in self._who(o, s)}), 0)
            out.append(Recorded(self._send(o, "fallback", step, 1, p, "sms", text), at))
        if new:
            out.append(Note(case.alarm, NOTE_FALLBACK,
                            "、".join(p.label(self.wording.language) for p, _ in new)))
        return out + self._reconcile(o, now)

    def failed(self, alarm: str, step: int, phone: str, now: float) -> list[Action]:
        """A cascade's message could not be delivered: the next person need not wait for the
        one who never got it."""
        o = self._open.get(alarm)
        c = o.cascades.get(step) if o else None
        if o is None or c is None or not c.running or c.next_after_s is None or not c.position:
            return []
        if c.persons[(c.position - 1) % len(c.persons)].phone != phone:
            return []
        o.cascades[step] = dataclasses.replace(c, next_at=min(c.next_at, now))
        return self.tick(now)

    def closed(self, alarm: str, outcome: str | None, now: float) -> list[Action]:
        """Resolved with ``outcome`` (its label), or cancelled at home (None): every cascade
        stops, the ``resolved`` steps tell those told or who accepted, then the alarm is
        forgotten."""
        o = self._open.pop(alarm, None)
        if o is None:
            return []
        out: list[Action] = [a for a in self._stop(o, lambda c: True, "closed", now)
                             if not isinstance(a, Withdraw)]
        out.append(Withdraw(alarm, None, "closed"))
        text = self.wording.closed(o.case.about, outcome, now)
        for i, s in enumerate(o.rule.steps):
            if "resolved" not in s.when:
                continue
            people: list[Person] = []
            for w in s.who:
                people += o.accepted.values() if w == "accepted" else o.told.values() if w == "told" else []
            for p in _unique(people):
                out += [self._send(o, "closed", i, 1, p, ch, text) for ch in s.channels]
        return out + self._posts(o, "closed", now, text=text)

    def tick(self, now: float) -> list[Action]:
        """Whatever is due at ``now``: steps whose trigger holds, cascades whose next is due."""
        out: list[Action] = []
        for o in list(self._open.values()):
            out += self._reconcile(o, now)
        return out

    # --- inside ------------------------------------------------------------------------------

    def _track(self, case: Case) -> _Open | None:
        rule = self.policy.rule(case.kind, case.priority)
        if rule is None:
            return None
        o = self._open.get(case.alarm)
        if o is None:
            o = self._open[case.alarm] = _Open(case, rule)
        else:
            o.case = case
        return o

    def _reconcile(self, o: _Open, now: float) -> list[Action]:
        """Apply the stop rules, fire the steps whose trigger holds, run what is due."""
        out: list[Action] = []
        if o.accepted:
            out += self._stop(o, lambda c: True, "accepted", now)
        if o.case.claimed:
            out += self._stop(o, lambda c: c.by_absence, "claimed", now)
        for i, s in enumerate(o.rule.steps):
            if i not in o.cascades and self._fires(o, s, now):
                out += self._start(o, i, s, now)
        for c in list(o.cascades.values()):
            if c.running and c.next_at <= now:
                out += self._run(o, c, now)
        return out

    def _fires(self, o: _Open, s: Step, now: float) -> bool:
        case = o.case
        if s.by_absence and (case.claimed or o.accepted):
            return False
        for t in s.when:
            if t == "at_once":
                return True
            if t == "unattended" and (not self.attended or case.escalated):
                return True
            if isinstance(t, Unclaimed) and now >= case.received + t.unclaimed_after_s:
                return True
        return False

    def _start(self, o: _Open, i: int, s: Step, now: float) -> list[Action]:
        out: list[Action] = []
        persons: list[Person] = []
        unreachable: list[Person] = []
        for p in self._who(o, s):
            (persons if p.phone else unreachable).append(p)
        for p in unreachable:
            out.append(Note(o.case.alarm, NOTE_NO_MOBILE, p.label(self.wording.language)))
        start = now
        if s.quiet_hours and o.case.priority > 1 and (end := s.quiet_hours.ends(now, self.wording.tz)):
            start = end
            out.append(Note(o.case.alarm, NOTE_HELD, str(s.quiet_hours)))
        c = Cascade(o.case.alarm, i, tuple(persons), tuple(s.channels), s.next_after_s, s.rounds,
                    s.by_absence, started=now, next_at=start)
        o.cascades[i] = c
        if s.who and not persons:
            out.append(Note(o.case.alarm, NOTE_NOBODY))
        if start > now:
            out.append(Plan(c))
            return out
        return out + self._run(o, c, now)

    def _run(self, o: _Open, c: Cascade, now: float) -> list[Action]:
        """Tell whoever is due of a running cascade, and store it as it then is."""
        out: list[Action] = []
        if o.posts["alarm"] == 0:
            out += self._posts(o, "alarm", now)
        text = self.wording.alarm(o.case.about, now)
        wait = c.next_after_s
        if wait is None:  # everyone at once
            for p in c.persons:
                out += self._alarm_text(o, c, p, 1, text)
            c = dataclasses.replace(c, position=len(c.persons), state="stopped", why="done")
        elif c.position >= len(c.persons) * c.rounds:
            c = dataclasses.replace(c, state="stopped", why="exhausted")
            if c.persons:
                out.append(Note(o.case.alarm, NOTE_EXHAUSTED))
                out += self._posts(o, "exhausted", now)
        else:
            p, round = c.persons[c.position % len(c.persons)], c.position // len(c.persons) + 1
            if round == 1 and p.phone in o.by_hub:  # the hub told them: the next after that
                c = dataclasses.replace(c, position=c.position + 1, next_at=o.by_hub[p.phone] + wait)
                o.cascades[c.step] = c
                return out + (self._run(o, c, now) if c.next_at <= now else [Plan(c)])
            out += self._alarm_text(o, c, p, round, text)
            c = dataclasses.replace(c, position=c.position + 1, next_at=now + wait)
        o.cascades[c.step] = c
        return [*out, Plan(c)]

    def _alarm_text(self, o: _Open, c: Cascade, p: Person, round: int, text: str) -> list[Action]:
        """The alarm's text to ``p``: once per channel and round, whichever step sends it."""
        out: list[Action] = []
        for ch in c.channels:
            if (p.phone, ch, round) in o.texted:
                continue
            o.texted.add((p.phone, ch, round))
            o.told.setdefault(p.phone, p)
            out.append(self._send(o, "alarm", c.step, round, p, ch, text))
        return out

    @staticmethod
    def _by_hub(o: _Open, p: Person, at: float) -> None:
        o.by_hub[p.phone] = at
        o.told.setdefault(p.phone, p)
        o.texted.add((p.phone, "sms", 1))

    def _stop(self, o: _Open, which: Callable[[Cascade], bool], why: Why,
              now: float) -> list[Action]:
        out: list[Action] = []
        for step, c in list(o.cascades.items()):
            if c.running and which(c):
                o.cascades[step] = c = dataclasses.replace(c, state="stopped", why=why)
                out.append(Plan(c))
        steps = tuple(c.step for c in (p.cascade for p in out if isinstance(p, Plan)))
        return [*out, Withdraw(o.case.alarm, steps, why)] if steps else out

    def _who(self, o: _Open, s: Step) -> list[Person]:
        ppl = o.case.people
        found: list[Person] = []
        for w in s.who:
            match w:
                case "on_call":
                    found += ppl.on_call
                case "volunteers":
                    found += ppl.volunteers
                case "contacts":
                    found += ppl.contacts
                case "key_holder":
                    found += [ppl.key_holder] if ppl.key_holder else []
                case "grid_worker":
                    found += [ppl.grid_worker] if ppl.grid_worker else []
        return _unique(found)

    def _posts(self, o: _Open, topic: Topic, now: float, *, who: Person | None = None,
               officer: str = "", text: str | None = None) -> list[Action]:
        """The rule's groups told of ``topic``: the alarm (once), or an event."""
        groups = [g for g in o.rule.groups if g in self.groups]
        if not groups or (topic == "alarm" and o.posts["alarm"]):
            return []
        o.posts[topic] += 1
        if text is None:
            text = self.wording.alarm(o.case.about, now) if topic == "alarm" else \
                self.wording.group(topic, o.case.about, now, who=who, officer=officer)
        return [self._send(o, topic, EVENT_STEP, o.posts[topic], Person(g, "", "group"), g, text)
                for g in groups]

    def _send(self, o: _Open, topic: Topic, step: int, round: int, p: Person, channel: str,
              text: str) -> Send:
        return Send(o.case.alarm, topic, step, round, p, channel, text, o.case.priority)


def _unique(people: Iterable[Person]) -> list[Person]:
    """In order, each mobile once (the first entry naming it); those without one kept."""
    seen: set[str] = set()
    out = []
    for p in people:
        if p.phone and p.phone in seen:
            continue
        seen.add(p.phone)
        out.append(p)
    return out
