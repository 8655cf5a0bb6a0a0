"""The county's visiting-care rules as configuration (config/county.yaml).

What a county may decide differently lives in the file, not in code: which facts put an elder in
which care group, how often each group is visited and what raises that, what a visit covers and
how it is made, the outcome codes of an alarm and the response plan for each alarm type. The
shipped file follows a real county programme (seed 003) and says which line each rule is from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from math import ceil
from pathlib import Path
from typing import Self, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from console.casework.elder import Ability, Category, ElderRecord
from hub.common.configfile import DEFAULT_TIMEZONE, Strict, Timezone, load
from hub.common.events import ALARM_TYPES
from hub.common.language import Language

KEY = r"^[a-z][a-z0-9_]{0,31}$"  # a code: stored in records and ledgers, never shown


class Label(Strict):
    """A text shown to staff, in every console language."""

    zh_CN: str = Field(min_length=1, max_length=80)
    en: str = Field(min_length=1, max_length=120)

    def text(self, language: Language) -> str:
        return self.zh_CN if language == "zh_CN" else self.en


class Keyed(Label):
    key: str = Field(pattern=KEY)


K = TypeVar("K", bound=Keyed)


class When(Strict):
    """Facts that must all hold; an unknown fact (no age, not assessed) never matches."""

    age_min: int | None = Field(None, ge=0, le=130)
    age_max: int | None = Field(None, ge=0, le=130, description="inclusive: 79 means under 80")
    disability_grade: list[int] | None = Field(None, min_length=1)
    ability: list[Ability] | None = Field(None, min_length=1)
    bedridden: bool | None = None
    dementia: bool | None = None
    living_alone: bool | None = None
    limited_mobility: bool | None = None

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("a criterion needs at least one fact to test")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min {self.age_min} is above age_max {self.age_max}")
        if self.disability_grade and not set(self.disability_grade) <= {1, 2, 3, 4}:
            raise ValueError("disability grades are 1 to 4")
        return self

    def matches(self, record: ElderRecord, age: int | None) -> bool:
        if self.age_min is not None and (age is None or age < self.age_min):
            return False
        if self.age_max is not None and (age is None or age > self.age_max):
            return False
        if self.disability_grade is not None and record.disability_grade not in self.disability_grade:
            return False
        if self.ability is not None and record.ability not in self.ability:
            return False
        flags = ("bedridden", "dementia", "living_alone", "limited_mobility")
        return all(getattr(self, f) in (None, getattr(record, f)) for f in flags)


class Criterion(Keyed):
    """One reason an elder belongs to a group; its label is the reason shown on the card."""

    when: When
    source: str = Field("", max_length=200, description="where the county's document says so")


class Grouping(Strict):
    """Checked in order key, secondary; an elder no criterion matches is general."""

    key: list[Criterion] = Field(min_length=1)
    secondary: list[Criterion] = Field(default_factory=list)
    general: Keyed = Field(description="the reason shown when no criterion matched")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        _unique_keys([*self.key, *self.secondary, self.general], "criterion")
        return self

    def groups(self) -> Iterator[tuple[Category, list[Criterion]]]:
        yield Category.KEY, self.key
        yield Category.SECONDARY, self.secondary


class PerGroup(Strict):
    key: int | None = Field(None, ge=1, le=366)
    secondary: int | None = Field(None, ge=1, le=366)
    general: int | None = Field(None, ge=1, le=366)

    def days(self, category: Category) -> int | None:
        value: int | None = getattr(self, category.value)
        return value


class Cadence(PerGroup):
    """Days between visits; every group needs one, at most a month (seed 003 二(四)1)."""

    key: int = Field(7, ge=1, le=31)
    secondary: int = Field(14, ge=1, le=31)
    general: int = Field(30, ge=1, le=31)

    def days(self, category: Category) -> int:
        value: int = getattr(self, category.value)
        return value


class Boost(Keyed):
    """A time when visits come sooner: the interval divided, or one extra visit in the period."""

    divide: float = Field(1, ge=1, le=30, description="the interval is divided by this")
    extra_visit: bool = Field(False, description="everyone in the groups is visited once in the period")
    groups: list[Category] = Field(default_factory=lambda: list(Category))

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.divide == 1 and not self.extra_visit:
            raise ValueError("a boost divides the interval (divide > 1) or asks for an extra visit")
        return self

    def interval(self, days: int) -> int:
        return max(1, ceil(days / self.divide))


class Period(Strict):
    """Dates a boost applies, both days included: holidays in the file, extreme-weather days
    declared at the station when they are forecast."""

    boost: str = Field(pattern=KEY)
    start: date
    end: date
    note: str = Field("", max_length=64, description="春节, 寒潮预警 …")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if (self.end - self.start).days > 92:
            raise ValueError("a period longer than 92 days is a change of cadence, not a boost")
        return self


class Content(Keyed):
    hint: Label = Field(description="what to ask and look at")


class Mode(Keyed):
    home: bool = Field(False, description="a visit in the home (入户): counts for home_visit_days")
    console_call: bool = Field(False, description="made as a voice call through the hub from the console")


class Visits(Strict):
    cadence_days: Cadence = Cadence()
    home_visit_days: PerGroup = Field(PerGroup(), description="at least one home visit this often")
    boosts: list[Boost] = Field(default_factory=list)
    periods: list[Period] = Field(default_factory=list)
    contents: list[Content] = Field(min_length=1)
    modes: list[Mode] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name, items in (("boost", self.boosts), ("content", self.contents), ("mode", self.modes)):
            _unique_keys(items, name)
        boosts = {b.key for b in self.boosts}
        for p in self.periods:
            if p.boost not in boosts:
                raise ValueError(f"period {p.start}..{p.end}: unknown boost {p.boost!r} "
                                 f"(boosts: {', '.join(sorted(boosts)) or 'none'})")
        if any(self.home_visit_days.days(c) for c in Category) and not any(m.home for m in self.modes):
            raise ValueError("home_visit_days is set but no mode has home: true")
        return self


class Step(Keyed):
    hint: Label | None = None


class PlanKind(Label):
    """One alarm type's name and how its response differs from the common steps."""

    hints: dict[str, Label] = Field(default_factory=dict, description="step key -> what to do here")
    skip: list[str] = Field(default_factory=list, description="steps that do not apply")
    outcomes: list[str] = Field(default_factory=list, description="offered first, in this order")


class PlanStep(Strict):
    key: str
    label: Label
    hint: Label | None


class Plan(Strict):
    """The checklist the officer works through for one alarm."""

    kind: str
    label: Label
    steps: list[PlanStep]
    outcomes: list[str]


class Outcome(Keyed):
    chosen: bool = Field(True, description="offered to the officer; false: set by the station "
                         "itself (cancelled_at_home)")


class Response(Strict):
    steps: list[Step] = Field(min_length=1, description="the common flow, in order")
    outcomes: list[Outcome] = Field(min_length=1)
    kinds: dict[str, PlanKind] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _unique_keys(self.steps, "step")
        _unique_keys(self.outcomes, "outcome")
        steps, chosen = {s.key for s in self.steps}, {o.key for o in self.outcomes if o.chosen}
        for kind, p in self.kinds.items():
            if kind not in ALARM_TYPES:
                raise ValueError(f"kinds.{kind}: not an alarm kind (known: {', '.join(ALARM_TYPES)})")
            if bad := (set(p.hints) | set(p.skip)) - steps:
                raise ValueError(f"kinds.{kind}: unknown step(s) {', '.join(sorted(bad))}")
            if bad := set(p.outcomes) - chosen:
                raise ValueError(f"kinds.{kind}: outcome(s) {', '.join(sorted(bad))} are not ones an "
                                 f"officer may choose ({', '.join(sorted(chosen))})")
        return self


class CountyRules(Strict):
    county: str = Field(min_length=1, max_length=64)
    source: str = Field("", max_length=400, description="the documents these rules come from")
    timezone: Timezone = Field(DEFAULT_TIMEZONE, description="the zone every time is shown in, "
                               "at the console and in the ledger and its file names, whatever "
                               "the PC's own zone; where a day and a month begin")
    grouping: Grouping
    visits: Visits
    response: Response

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def criterion(self, key: str) -> Keyed:
        """The criterion (or the general fallback) a reason key names; KeyError if unknown."""
        return _by_key([*self.grouping.key, *self.grouping.secondary, self.grouping.general], key)

    def boost(self, key: str) -> Boost:
        return _by_key(self.visits.boosts, key)

    def mode(self, key: str) -> Mode:
        return _by_key(self.visits.modes, key)

    def content(self, key: str) -> Content:
        return _by_key(self.visits.contents, key)

    def outcome(self, key: str) -> Outcome:
        return _by_key(self.response.outcomes, key)

    def period(self, boost: str, start: date, end: date, note: str = "") -> Period:
        """A period declared at the station (an extreme-weather warning), checked like the file's."""
        self.boost(boost)
        return Period(boost=boost, start=start, end=end, note=note)

    def kind_label(self, kind: str) -> Label:
        """The alarm type's name; an alarm kind the file does not name shows as its code."""
        p = self.response.kinds.get(kind)
        return Label(zh_CN=p.zh_CN, en=p.en) if p else Label(zh_CN=kind, en=kind)

    def plan(self, kind: str) -> Plan:
        """The response checklist for an alarm kind: the common steps with this kind's hints,
        without the steps it skips; its outcomes first, then the rest an officer may choose."""
        p = self.response.kinds.get(kind) or PlanKind(zh_CN=kind, en=kind)
        steps = [PlanStep(key=s.key, label=Label(zh_CN=s.zh_CN, en=s.en), hint=p.hints.get(s.key, s.hint))
                 for s in self.response.steps if s.key not in p.skip]
        rest = [o.key for o in self.response.outcomes if o.chosen and o.key not in p.outcomes]
        return Plan(kind=kind, label=self.kind_label(kind), steps=steps, outcomes=[*p.outcomes, *rest])


def _unique_keys(items: Sequence[Keyed], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.key in seen:
            raise ValueError(f"{what} {item.key!r} is listed twice")
        seen.add(item.key)


def _by_key(items: Sequence[K], key: str) -> K:
    for item in items:
        if item.key == key:
            return item
    raise KeyError(key)


def load_county(path: Path) -> CountyRules:
    """Read county.yaml; errors name the file, the key and what is wrong (ConfigError)."""
    return load(path, CountyRules)
