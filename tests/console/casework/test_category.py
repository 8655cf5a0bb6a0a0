"""Care groups from the county rules (seed 003 二(一)), overrides and what the audit gets."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.casework.category import assign, clear_override, effective, missing, reassess, set_override
from console.casework.county import load_county
from console.casework.elder import Ability, ElderRecord
from console.station.config import Category
from tests.conftest import REPO

RULES = load_county(REPO / "config/county.yaml")
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=8)))


def record(**over: Any) -> ElderRecord:
    return ElderRecord.model_validate({"name": "刘桂兰", "category": "general", "address": "柳湾村一组3号",
                                       "age": 72, **over})


@pytest.mark.parametrize("facts, category, reasons", [
    ({"age": 86}, Category.KEY, ("age_80",)),
    ({"age": None, "birth_date": "1946-11-23"}, Category.KEY, ("age_80",)),  # 80 today
    ({"age": None, "birth_date": "1946-11-24"}, Category.GENERAL, ("general",)),  # 80 tomorrow
    ({"disability_grade": 2}, Category.KEY, ("disability_severe",)),
    ({"disability_grade": 3}, Category.GENERAL, ("general",)),
    ({"ability": "complete"}, Category.KEY, ("ability_severe",)),
    ({"bedridden": True}, Category.KEY, ("bedridden",)),
    ({"dementia": True, "age": 91}, Category.KEY, ("age_80", "dementia")),
    ({"ability": "moderate"}, Category.SECONDARY, ("ability_moderate",)),
    ({"limited_mobility": True}, Category.SECONDARY, ("limited_mobility",)),
    ({"limited_mobility": True, "bedridden": True}, Category.KEY, ("bedridden",)),
    ({"ability": "mild", "living_alone": True}, Category.GENERAL, ("general",)),
])
def test_the_county_groups(facts: dict[str, Any], category: Category, reasons: tuple[str, ...]) -> None:
    got, why = assign(record(**facts), RULES, TODAY)  # unpacks as (category, reasons)
    assert (got, why) == (category, reasons)
    assert all(RULES.criterion(r).text("zh_CN") for r in why)


def test_an_elder_without_an_age_is_grouped_by_the_other_facts_and_the_age_is_asked_for() -> None:
    r = record(age=None, ability="moderate")
    assert assign(r, RULES, TODAY) == (Category.SECONDARY, ("ability_moderate",))
    assert missing(r, RULES) == ("age",) and missing(record(), RULES) == ()


def test_an_override_is_in_effect_and_its_audit_says_against_what() -> None:
    r = record()
    change = set_override(r, RULES, TODAY, category=Category.KEY, reason="独居，听力差，近期跌倒过",
                          by="zhang", at=NOW)
    assert change.action == "elder.category.override"
    assert change.record.category is Category.KEY and change.record.override
    assert change.detail == {"from": "general", "to": "key", "lowered": False, "rules": "general",
                             "reasons": ["general"], "reason": "独居，听力差，近期跌倒过", "by": "zhang",
                             "at": "2026-11-23T09:30:00+08:00"}
    eff = effective(change.record, RULES, TODAY)
    assert eff.category is Category.KEY and eff.overridden and eff.rules.category is Category.GENERAL
    # the facts change: the override still stands, and nothing needs storing
    older = change.record.model_copy(update={"age": 85})
    assert reassess(older, RULES, TODAY) is None
    assert not effective(older, RULES, TODAY).overridden  # now the rules agree

    cleared = clear_override(change.record, RULES, TODAY, by="li", at=NOW)
    assert cleared.record.category is Category.GENERAL and cleared.record.override is None
    assert cleared.action == "elder.category.clear"
    assert cleared.detail["lowered"] is True and cleared.detail["by"] == "li"
    assert cleared.detail["cleared"]["reason"] == "独居，听力差，近期跌倒过"


def test_an_override_needs_a_reason_and_a_zoned_time() -> None:
    with pytest.raises(ValueError, match="at least 2 characters"):
        set_override(record(), RULES, TODAY, category=Category.KEY, reason="x", by="zhang", at=NOW)
    with pytest.raises(ValueError, match="timezone"):
        set_override(record(), RULES, TODAY, category=Category.KEY, reason="独居", by="zhang",
                     at=NOW.replace(tzinfo=None))


def test_reassess_after_a_birthday_and_when_the_rules_would_lower() -> None:
    r = record(age=None, birth_date="1946-11-24")
    assert reassess(r, RULES, TODAY) is None
    up = reassess(r, RULES, TODAY + timedelta(days=1))
    assert up and up.record.category is Category.KEY and up.action == "elder.category"
    assert up.detail["from"] == "general" and up.detail["reasons"] == ["age_80"] and not up.detail["lowered"]
    # a record filed by hand as secondary whose facts give general: the store is told it lowers
    down = reassess(record(category="secondary"), RULES, TODAY)
    assert down and down.detail["lowered"] is True and down.record.category is Category.GENERAL


FACTS = st.fixed_dictionaries({
    "age": st.none() | st.integers(60, 110), "disability_grade": st.none() | st.integers(1, 4),
    "ability": st.none() | st.sampled_from(list(Ability)), "bedridden": st.booleans(),
    "dementia": st.booleans(), "living_alone": st.booleans(), "limited_mobility": st.booleans()})


@given(facts=FACTS, worse=st.sampled_from(["bedridden", "dementia", "limited_mobility", "older", "grade"]))
def test_a_worse_fact_never_puts_an_elder_in_a_less_urgent_group(facts: dict[str, Any], worse: str) -> None:
    before = assign(record(**facts), RULES, TODAY)
    worse_facts = dict(facts)
    match worse:
        case "older":
            worse_facts["age"] = (facts["age"] or 60) + 10
        case "grade":
            worse_facts["disability_grade"] = max(1, (facts["disability_grade"] or 4) - 1)
        case flag:
            worse_facts[flag] = True
    after = assign(record(**worse_facts), RULES, TODAY)
    assert after.category.rank <= before.category.rank
    assert before.reasons and after.reasons
