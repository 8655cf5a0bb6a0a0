"""Which care group an elder is in: the county rules over the record's facts, and overrides.

The rules give a group and the reasons (criterion keys, whose labels the card shows); a person
may decide otherwise with an override, which stays in effect until cleared. Each change comes
back as a ``Change``: the new record and the audit entry the store writes with it, so a group
never changes without a record of why. A change to a less urgent group (fewer visits) says so in
``Change.detail["lowered"]``, so the store can ask a person first instead of doing it silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from console.casework.county import CountyRules
from console.casework.elder import STORED, Category, ElderRecord, Override


class Assignment(NamedTuple):
    """What the rules give; unpacks as ``category, reasons``."""

    category: Category
    reasons: tuple[str, ...]  # criterion keys, in the file's order; the fallback key for general


@dataclass(frozen=True, slots=True)
class Effective:
    category: Category  # in effect: the override's when there is one, else the rules'
    rules: Assignment
    override: Override | None

    @property
    def overridden(self) -> bool:
        """An override that disagrees with the rules (one that agrees changes nothing)."""
        return self.override is not None and self.override.category is not self.rules.category


@dataclass(frozen=True, slots=True)
class Change:
    """A record to store and the audit entry to write in the same transaction."""

    record: ElderRecord
    action: str  # elder.category, elder.category.override, elder.category.clear
    detail: dict[str, Any]


def assign(record: ElderRecord, rules: CountyRules, today: date) -> Assignment:
    """The group the county rules give for the record's facts on ``today``, and why."""
    age = record.age_on(today)
    for category, criteria in rules.grouping.groups():
        if reasons := tuple(c.key for c in criteria if c.when.matches(record, age)):
            return Assignment(category, reasons)
    return Assignment(Category.GENERAL, (rules.grouping.general.key,))


def missing(record: ElderRecord, rules: CountyRules) -> tuple[str, ...]:
    """Facts the rules test that the record lacks, so the card can ask for them: an elder
    without an age is grouped by the other facts, and may belong in a more urgent group."""
    criteria = [c for _, group in rules.grouping.groups() for c in group]
    needs_age = any(c.when.age_min is not None or c.when.age_max is not None for c in criteria)
    return ("age",) if needs_age and record.age is None and record.birth_date is None else ()


def effective(record: ElderRecord, rules: CountyRules, today: date) -> Effective:
    a = assign(record, rules, today)
    return Effective(record.override.category if record.override else a.category, a, record.override)


def reassess(record: ElderRecord, rules: CountyRules, today: date) -> Change | None:
    """The record with the category now in effect, when that differs from the stored one
    (facts edited, a birthday, new rules); None when nothing changes."""
    eff = effective(record, rules, today)
    if eff.category is record.category:
        return None
    return Change(_with(record, eff.category, record.override), "elder.category",
                  _detail(record.category, eff))


def set_override(record: ElderRecord, rules: CountyRules, today: date, *, category: Category,
                 reason: str, by: str, at: datetime) -> Change:
    """Put the elder in ``category`` against (or confirming) the rules; ValueError for a
    reason too short or a naive time, from the record's validation."""
    new = Override(category=category, reason=reason, by=by, at=at)
    eff = Effective(category, assign(record, rules, today), new)
    return Change(_with(record, category, new), "elder.category.override", _detail(record.category, eff))


def clear_override(record: ElderRecord, rules: CountyRules, today: date, *, by: str,
                   at: datetime) -> Change:
    """Back to the rules' group."""
    a = assign(record, rules, today)
    detail = _detail(record.category, Effective(a.category, a, None))
    detail.update(by=by, at=at.isoformat(), cleared=record.override.model_dump(mode="json")
                  if record.override else None)
    return Change(_with(record, a.category, None), "elder.category.clear", detail)


def _with(record: ElderRecord, category: Category, override: Override | None) -> ElderRecord:
    """The record in another group; its facts were checked when they were entered (a stored
    record kept under older rules can still change group)."""
    data = record.model_dump()
    data.update(category=category, override=override)
    return ElderRecord.model_validate(data, context=STORED)


def _detail(before: Category, eff: Effective) -> dict[str, Any]:
    detail: dict[str, Any] = {"from": before.value, "to": eff.category.value,
                              "lowered": eff.category.rank > before.rank,
                              "rules": eff.rules.category.value, "reasons": list(eff.rules.reasons)}
    if eff.override:
        detail.update(reason=eff.override.reason, by=eff.override.by, at=eff.override.at.isoformat())
    return detail

