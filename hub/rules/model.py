"""The YAML rule format (config/rules/*.yaml): pydantic models that refuse anything they do not know.

Every name a rule uses (event kinds, alarm kinds, prompts, LED and siren patterns, state flags)
is checked here, so a typo fails at load time with the field named, not silently at 3 a.m.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from drivers.gpio.led import PATTERNS as LED_PATTERNS
from drivers.gpio.siren import PATTERNS as SIREN_PATTERNS
from hub.common.configfile import Strict
from hub.common.events import ALARM_TYPES, Priority
from hub.rules.clock import Hours
from hub.rules.state import STATE_NAMES
from hub.voice.prompts import PROMPTS

# The event vocabulary of docs/events.md (a test keeps the two in step).
EVENT_KINDS: frozenset[str] = frozenset({
    "button.press", "button.again", "button.long", "button.double", "button.triple", "cancel.press",
    "fall.detected", "fall.cleared", "presence.on", "presence.off",
    "motion.active", "motion.still", "motion.none", "residency.on", "residency.off",
    "smoke.on", "smoke.off", "gas.on", "gas.off", "co.on", "co.off", "leak.on", "leak.off",
    "door.open", "door.close", "tamper.on", "tamper.off",
    "battery.level", "battery.low", "battery.ok", "mains.fail", "mains.ok",
    "device.silent", "device.back", "device.lost", "device.found",
})
Category = Literal["key", "secondary", "general"]
CATEGORIES: tuple[Category, ...] = ("key", "secondary", "general")
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"


def _known(what: str, names: Collection[str], where: str = "") -> Callable[[str], str]:
    def check(v: str) -> str:
        if v in names:
            return v
        close = difflib.get_close_matches(v, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = where or "known: " + ", ".join(sorted(names))
        raise ValueError(f"unknown {what} {v!r}{hint}; {known}")
    return check


def _duration(v: object) -> float:
    """'30s', '15m', '4h', '1h30m', '2d' -> seconds; a bare number is refused (seconds or minutes?)."""
    if isinstance(v, str) and re.fullmatch(r"(\d+(\.\d+)?[dhms])+", s := v.replace(" ", "")):
        scale = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        return sum(float(n) * scale[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)([dhms])", s))
    raise ValueError(f"{v!r} is not a duration: give a number with its unit, e.g. 30s, 15m, 4h, 1h30m")


def _time_of_day(v: object) -> int:
    """'10:00' -> seconds of the day."""
    if isinstance(v, int) and not isinstance(v, bool):
        raise ValueError("write times of day in quotes, e.g. \"10:00\" (YAML reads 10:00 as a number)")
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", v.strip()) if isinstance(v, str) else None
    if not m:
        raise ValueError(f"{v!r} is not a time of day: write \"HH:MM\", e.g. \"10:00\"")
    return int(m[1]) * 3600 + int(m[2]) * 60


def _hours(v: object) -> Hours:
    """'22:00-06:00' -> Hours; a window may cross midnight."""
    if not isinstance(v, str) or v.count("-") != 1:
        raise ValueError(f"{v!r} is not a daily window: write \"HH:MM-HH:MM\", e.g. \"22:00-06:00\"")
    start, end = (_time_of_day(p) for p in v.split("-"))
    if start == end:
        raise ValueError(f"{v!r} is empty: start and end are the same time")
    return Hours(start, end)


def _an_hour_or_more(v: Hours) -> Hours:
    if v.length < 3600:
        raise ValueError("the window must be at least an hour long")
    return v


def _one_or_many(v: object) -> object:
    return [v] if isinstance(v, str) else v


def _event_shorthand(v: object) -> object:
    return {"event": v} if isinstance(v, str | list) else v


def _per_category(v: object) -> object:
    if isinstance(v, dict):
        if missing := [c for c in CATEGORIES if c not in v]:
            raise ValueError(f"give a duration for every elder category; missing: {', '.join(missing)}")
        return v
    return dict.fromkeys(CATEGORIES, v)


def _known_states(v: dict[str, bool]) -> dict[str, bool]:
    for name in v:
        _known("state", STATE_NAMES)(name)
    return v


EventKind = Annotated[str, AfterValidator(_known("event kind", EVENT_KINDS, "see docs/events.md"))]
EventKinds = Annotated[list[EventKind], BeforeValidator(_one_or_many), Field(min_length=1)]
Duration = Annotated[float, BeforeValidator(_duration)]
TimeOfDay = Annotated[int, BeforeValidator(_time_of_day)]
DailyHours = Annotated[Hours, BeforeValidator(_hours)]
CountedHours = Annotated[Hours, BeforeValidator(_hours), AfterValidator(_an_hour_or_more)]
StateFlags = Annotated[dict[str, bool], AfterValidator(_known_states)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]

# --- actions --------------------------------------------------------------------------------


class SayAction(Strict):
    say: Annotated[str, AfterValidator(_known("prompt", PROMPTS, "see hub/voice/prompts.py"))] = Field(
        description="a prompt key; the elder hears it in the hub's language")


class LedAction(Strict):
    led: Annotated[str, AfterValidator(_known("LED pattern", LED_PATTERNS))]


class AlarmAction(Strict):
    alarm: Annotated[str, AfterValidator(_known("alarm kind", ALARM_TYPES))] = Field(
        description="an alarm kind; it sets the priority and Contact ID code unless given here")
    hold: bool = Field(False, description="pre-alarm: raise now but send only when the rule's wait "
                       "runs out; a cancel inside the wait cancels it")
    text: str = Field("", max_length=200, description="a note for the duty officer")
    priority: Priority | None = Field(None, description="1 (life) .. 4 (information)")
    contact_id: int | None = Field(None, ge=0, le=999, description="Ademco Contact ID event code")


class SirenAction(Strict):
    siren: Annotated[str, AfterValidator(_known("siren pattern", {*SIREN_PATTERNS, "silent"}))] = Field(
        description="a siren pattern (fire: smoke; co: CO and gas; panic; chirp), or silent")


class RelayAction(Strict):
    relay: Name = Field(description="a relay's name in hub.yaml, e.g. gas_valve")
    energise: bool


class CallAction(Strict):
    call: Literal["station"] = Field(description="ask the station for a voice call (an officer "
                                     "starts it; the alarm shows the request)")


AnyAction = SayAction | LedAction | AlarmAction | SirenAction | RelayAction | CallAction
ACTION_KEYS = ("say", "led", "alarm", "siren", "relay", "call")


def _action_key(v: Any) -> str | None:
    if isinstance(v, dict):
        return next((k for k in ACTION_KEYS if k in v), None)
    return next((k for k in ACTION_KEYS if hasattr(v, k)), None)


ActionSpec = Annotated[
    Annotated[SayAction, Tag("say")] | Annotated[LedAction, Tag("led")]
    | Annotated[AlarmAction, Tag("alarm")] | Annotated[SirenAction, Tag("siren")]
    | Annotated[RelayAction, Tag("relay")] | Annotated[CallAction, Tag("call")],
    Discriminator(_action_key, custom_error_type="action",
                  custom_error_message="an action is a mapping with one of: " + ", ".join(ACTION_KEYS)),
]

# --- rules ----------------------------------------------------------------------------------


class Trigger(Strict):
    """The event that sets the rule off; `trigger: smoke.on` is short for `trigger: {event: smoke.on}`.

    Trigger and conditions are checked against the event's device (its ``source``) and data.
    """

    event: EventKinds
    device: Annotated[frozenset[str], BeforeValidator(_one_or_many)] = Field(
        frozenset(), description="only from these devices (names in hub.yaml); empty: any")
    room: Annotated[frozenset[str], BeforeValidator(_one_or_many)] = Field(
        frozenset(), description="only from devices in these rooms; empty: any")
    data: dict[str, str | int | bool] = Field({}, description="event data that must match, e.g. {type: door}")


class Conditions(Strict):
    """All must hold when the rule fires (at its trigger; for absence and daily rules, when due)."""

    time: DailyHours | None = Field(None, description="local time of day, e.g. \"22:00-06:00\"")
    state: StateFlags = Field({}, description="home state flags that must be true or false, e.g. "
                              "{presence: false}")
    category: list[Category] = Field([], description="only for these elder categories; empty: all")


class Unless(Strict):
    events: list[EventKind] = Field([], description="any of these events ends the wait early")
    same_device: list[EventKind] = Field([], description="these end it only from the trigger's device")
    state: StateFlags = Field({}, description="the wait ends early if these all hold when it runs out")


class Wait(Strict):
    """After the trigger: wait `for`, unless something ends it early; `then` when it runs out."""

    for_: Duration = Field(alias="for", gt=0, le=86400)
    unless: Unless = Unless()
    then: list[ActionSpec] = Field([], description="when the wait runs out (held alarms are sent)")
    else_: list[ActionSpec] = Field([], alias="else",
                                    description="when `unless` ended it (its alarms are cancelled); "
                                    "skipped when every alarm it raised joined one still open, "
                                    "as nothing was cancelled")


class Absence(Strict):
    """Fires when none of `events` came for `for`; once, until one comes again."""

    events: EventKinds
    for_: Annotated[dict[Category, Annotated[Duration, Field(gt=0, le=7 * 86400)]],
                    BeforeValidator(_per_category)] = Field(
        alias="for", description="a duration, or one per elder category: {key: 4h, secondary: 6h, "
        "general: 8h}")
    hours: CountedHours | None = Field(None, description="only time inside these daily hours counts")


class Daily(Strict):
    """Fires at `by` each day unless one of `events` came since `from`."""

    events: EventKinds
    from_: TimeOfDay = Field(alias="from")
    by: TimeOfDay

    @model_validator(mode="after")
    def _distinct(self) -> Daily:
        if self.from_ == self.by:
            raise ValueError("from, by: they must be different times")
        return self


class Rule(Strict):
    name: Name
    description: str = ""
    trigger: Annotated[Trigger | None, BeforeValidator(_event_shorthand)] = None
    absence: Absence | None = None
    daily: Daily | None = None
    conditions: Conditions = Conditions()
    once_until: list[EventKind] = Field([], description="fire once per device until one of these "
                                        "events comes from that device")
    actions: list[ActionSpec] = Field([], description="done when the rule fires")
    wait: Wait | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        if sum(x is not None for x in (self.trigger, self.absence, self.daily)) != 1:
            raise ValueError("give exactly one of trigger, absence, daily")
        if not self.trigger and (self.wait or self.once_until):
            key = "wait" if self.wait else "once_until"
            raise ValueError(f"{key}: only a rule with a trigger can have it")
        for i, a in enumerate(self.actions):
            if isinstance(a, AlarmAction) and a.hold and not self.wait:
                raise ValueError(f"actions.{i}.hold: a held alarm needs the rule to wait")
        if self.wait:
            for key, specs in (("then", self.wait.then), ("else", self.wait.else_)):
                for i, a in enumerate(specs):
                    if isinstance(a, AlarmAction) and a.hold:
                        raise ValueError(f"wait.{key}.{i}.hold: only alarms in actions can be held")
        if not (self.actions or (self.wait and (self.wait.then or self.wait.else_))):
            raise ValueError("actions: the rule does nothing")
        return self


class RuleFile(Strict):
    rules: list[Rule]


@dataclass(frozen=True)
class RuleSet:
    """Rules from one or more files, names unique, in file order."""

    rules: tuple[Rule, ...]
    files: tuple[Path, ...] = ()
    origin: dict[str, Path] = field(default_factory=dict, compare=False, hash=False)
    """rule name -> the file it came from, for errors found after loading"""

    @property
    def relays(self) -> frozenset[str]:
        """Relay names the rules switch, for checking them against hub.yaml."""
        return frozenset(a.relay for r in self.rules for a in _all_actions(r) if isinstance(a, RelayAction))


def _all_actions(r: Rule) -> list[AnyAction]:
    return [*r.actions, *(r.wait.then + r.wait.else_ if r.wait else [])]
