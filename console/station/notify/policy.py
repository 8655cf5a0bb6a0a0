"""Who is told of an alarm, when, and how: the notification policy, as data.

``policy`` in the station's notify file (config/notify.yaml; docs/notify.md, "The policy") is a
list of rules. The rule for an alarm is the one naming its kind, else the one naming its
priority (a kind overrides a priority); an alarm no rule matches tells nobody. A rule's steps
each fire once per alarm, at the first of their ``when``:

- ``at_once``: the alarm is stored;
- ``unattended``: the alarm is unclaimed and the station is unattended: no console is in use
  (``attended_s``), or the alarm has been unclaimed past the station's escalate_after_s;
- ``{unclaimed_after_s: N}``: nobody has claimed it N seconds after it was stored;
- ``dispatched``: the officer dispatched a responder (``who: [dispatched]``);
- ``resolved``: the alarm was closed, resolved or cancelled (``who: [accepted]`` or ``[told]``).

``who`` lists the people in order (the elder's contacts in the record's order); with
``next_after_s`` they are told one at a time, the next when nobody has accepted meanwhile
(the cascade), ``rounds`` times through the list; without it, all at once. ``quiet_hours``
holds a step that fires at night until the morning, unless the alarm is P1. ``groups`` are the
duty groups' robots and the county platform: they hear every step that fires, and every
acceptance, dispatch, arrival and close. Technical alarms (P3) tell the on-call officer only, by
default, and a rule that would tell the family about them must keep quiet hours.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from hub.common.configfile import Strict
from hub.common.events import ALARM_TYPES

PERSON_CHANNELS = ("sms", "webhook")  # a message to one person's phone
GROUP_CHANNELS = ("wecom", "dingtalk", "webhook")  # a message to a group or the county platform
Who = Literal["on_call", "volunteers", "contacts", "key_holder", "grid_worker", "dispatched",
              "accepted", "told"]
FAMILY = frozenset({"contacts", "key_holder"})  # the people technical alarms must not wake
EVENT_WHO = {"dispatched": "dispatched", "accepted": "resolved", "told": "resolved"}  # who -> its when
PersonChannel = Literal["sms", "webhook"]
GroupChannel = Literal["wecom", "dingtalk", "webhook"]
HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
MAX_WAIT_S = 7 * 86400.0


class Unclaimed(Strict):
    """Fires when nobody has claimed the alarm this long after it was stored."""

    unclaimed_after_s: float = Field(ge=0, le=MAX_WAIT_S)


Trigger = Literal["at_once", "unattended", "dispatched", "resolved"] | Unclaimed


def _as_list(v: object) -> object:
    return v if isinstance(v, list) else [v]


class QuietHours(Strict):
    """A span of the day in the county's zone, e.g. 22:00-07:00 (across midnight) or
    12:00-14:00."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        start, sep, end = text.partition("-")
        if not sep or not (a := HHMM.fullmatch(start.strip())) or not (b := HHMM.fullmatch(end.strip())):
            raise ValueError(f"{text!r}: write quiet hours as HH:MM-HH:MM, e.g. 22:00-07:00")
        if a.group(0) == b.group(0):
            raise ValueError(f"{text!r}: the quiet hours start and end at the same time")
        return cls(start=time(int(a[1]), int(a[2])), end=time(int(b[1]), int(b[2])))

    def ends(self, now: float, tz: tzinfo) -> float | None:
        """When the quiet hours around ``now`` end (epoch s); None when ``now`` is not in them."""
        local = datetime.fromtimestamp(now, tz)
        t = local.time()
        across_midnight = self.end < self.start
        if not (t >= self.start or t < self.end if across_midnight else self.start <= t < self.end):
            return None
        end = datetime.combine(local.date(), self.end, tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tz)
        return end.timestamp()

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _quiet(v: object) -> object:
    return QuietHours.parse(v) if isinstance(v, str) else v


class Step(Strict):
    when: Annotated[list[Trigger], BeforeValidator(_as_list), Field(min_length=1, max_length=4)]
    who: list[Who] = Field(default_factory=list, max_length=8, description="in order; empty: "
                           "only the groups hear the step")
    channels: list[PersonChannel] = Field(["sms"], min_length=1)
    next_after_s: float | None = Field(None, gt=0, le=MAX_WAIT_S, description="one person at a "
                                       "time: the next after this long without an acceptance")
    rounds: int = Field(1, ge=1, le=5, description="times through the list (with next_after_s)")
    quiet_hours: Annotated[QuietHours | None, BeforeValidator(_quiet)] = Field(
        None, description="HH:MM-HH:MM in the county's zone: a step that fires then waits for "
        "the end, unless the alarm is P1")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        events = {t for t in self.when if t in ("dispatched", "resolved")}
        if events and len(self.when) > 1:
            raise ValueError(f"when: {sorted(events)[0]} is an event of its own: it cannot be "
                             "combined with other triggers")
        for w in self.who:
            if w in EVENT_WHO and EVENT_WHO[w] not in events:
                raise ValueError(f"who: {w} needs when: {EVENT_WHO[w]}")
        if len(set(self.who)) != len(self.who) or len(set(self.channels)) != len(self.channels):
            raise ValueError("who and channels each name a thing once")
        if self.rounds > 1 and self.next_after_s is None:
            raise ValueError("rounds: more than one round needs next_after_s (one person at a time)")
        return self

    @property
    def by_absence(self) -> bool:
        """It fires because nobody at the station has the alarm: a claim stops it."""
        return all(t == "unattended" or isinstance(t, Unclaimed) for t in self.when)

    def unclaimed_after(self) -> float | None:
        """The soonest ``unclaimed_after_s`` among its triggers."""
        waits = [t.unclaimed_after_s for t in self.when if isinstance(t, Unclaimed)]
        return min(waits) if waits else None


class Match(Strict):
    priority: int | None = Field(None, ge=1, le=4)
    kind: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,31}$")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.priority is None) == (self.kind is None):
            raise ValueError("give one of priority and kind")
        return self


class Rule(Strict):
    match: Match
    steps: list[Step] = Field(min_length=1, max_length=16)
    groups: list[GroupChannel] = Field(default_factory=list, description="duty groups and the "
                                       "county platform: told of every step (those configured)")

    @model_validator(mode="after")
    def _technical_sleeps(self) -> Self:
        kind = ALARM_TYPES.get(self.match.kind or "")
        if (self.match.priority or (kind.priority if kind else 0)) >= 3:
            for i, s in enumerate(self.steps):
                if FAMILY & set(s.who) and s.quiet_hours is None:
                    raise ValueError(f"steps.{i}: technical alarms never wake the family at night: "
                                     "give the step quiet_hours (e.g. 22:00-07:00)")
        return self


def _unique_matches(rules: list[Rule]) -> list[Rule]:
    seen: set[tuple[str, object]] = set()
    for i, r in enumerate(rules):
        key = ("kind", r.match.kind) if r.match.kind else ("priority", r.match.priority)
        if key in seen:
            raise ValueError(f"rule {i}: another rule already matches {key[0]} {key[1]}")
        seen.add(key)
    return rules


def _quiet_default() -> QuietHours:
    return QuietHours.parse("22:00-07:00")


# The shipped policy (config/notify.yaml writes it out; a test keeps the two the same).
DEFAULT_RULES: list[Rule] = [
    Rule(match=Match(priority=1), groups=["wecom", "dingtalk", "webhook"], steps=[
        Step(when=["unattended"], who=["on_call"]),
        Step(when=["unattended", Unclaimed(unclaimed_after_s=60)], who=["contacts"],
             next_after_s=180, rounds=2),
        Step(when=["dispatched"], who=["dispatched"]),
        Step(when=["resolved"], who=["told"])]),
    Rule(match=Match(priority=2), groups=["wecom", "dingtalk", "webhook"], steps=[
        Step(when=["unattended"], who=["on_call"]),
        Step(when=[Unclaimed(unclaimed_after_s=300)], who=["contacts"], next_after_s=300),
        Step(when=["dispatched"], who=["dispatched"]),
        Step(when=["resolved"], who=["told"])]),
    Rule(match=Match(priority=3), groups=["wecom", "dingtalk", "webhook"], steps=[
        Step(when=[Unclaimed(unclaimed_after_s=300)], who=["on_call"], quiet_hours=_quiet_default()),
        Step(when=["dispatched"], who=["dispatched"])]),
]


PolicyRules = Annotated[list[Rule], AfterValidator(_unique_matches), Field(max_length=64)]


class Policy:
    """The rules of a notify file (``policy``), or the shipped ones."""

    def __init__(self, rules: list[Rule] | None = None) -> None:
        self.rules = DEFAULT_RULES if rules is None else rules

    def rule(self, kind: str, priority: int) -> Rule | None:
        """The rule for an alarm: its kind's, else its priority's, else none."""
        by_kind = next((r for r in self.rules if r.match.kind == kind), None)
        return by_kind or next((r for r in self.rules if r.match.priority == priority), None)

    def person_channels(self) -> set[str]:
        """The channels its steps tell people by (a group the station lacks is only skipped)."""
        return {c for r in self.rules for s in r.steps for c in s.channels}

    def unknown_kinds(self) -> list[str]:
        """Kinds named by rules that no hub raises (a typo, most likely)."""
        return sorted(k for r in self.rules if (k := r.match.kind) and k not in ALARM_TYPES)
