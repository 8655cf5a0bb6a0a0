"""County rules file: the shipped one is complete, and every mistake names the file and the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from console.casework.county import CountyRules, load_county
from hub.common.configfile import ConfigError
from hub.common.events import ALARM_TYPES
from tests.conftest import REPO

SHIPPED = REPO / "config/county.yaml"


@pytest.fixture(scope="module")
def rules() -> CountyRules:
    return load_county(SHIPPED)


def test_the_shipped_file_follows_the_county_programme(rules: CountyRules) -> None:
    assert [c.key for c in rules.visits.contents] == [
        "health", "home_safety", "policy", "care_advice", "emotional", "community", "emergency"]
    assert [m.key for m in rules.visits.modes] == ["phone", "online", "road", "home"]
    assert [m.key for m in rules.visits.modes if m.home] == ["home"]
    assert [m.key for m in rules.visits.modes if m.console_call] == ["online"]
    cadence = rules.visits.cadence_days
    assert (cadence.key, cadence.secondary, cadence.general) == (7, 14, 30)
    assert all(c.source.startswith("003 二(一)") for _, group in rules.grouping.groups() for c in group)
    health = rules.content("health")
    assert (health.text("zh_CN"), health.text("en")) == ("健康管理", "Health")
    assert rules.tz.key == "Asia/Shanghai"  # where times are read and a day begins


def test_every_alarm_kind_has_a_name_and_a_plan(rules: CountyRules) -> None:
    assert set(rules.response.kinds) == set(ALARM_TYPES)
    for kind in ALARM_TYPES:
        plan = rules.plan(kind)
        assert plan.steps[-1].key == "record" and plan.outcomes
        assert "cancelled_at_home" not in plan.outcomes  # the station sets that one itself


def test_the_plan_follows_the_seven_steps_with_per_type_advice(rules: CountyRules) -> None:
    panic = rules.plan("panic")
    assert [s.label.zh_CN for s in panic.steps] == [
        "接收呼叫", "定位", "判断情况", "启动预案", "现场救援/协调转运", "告知家属", "记录"]
    gas = {s.key: s for s in rules.plan("gas").steps}
    assert gas["start_plan"].hint and "燃气阀" in gas["start_plan"].hint.zh_CN
    assert gas["receive"].hint == panic.steps[0].hint  # the common hint where the type adds none
    assert rules.plan("smoke").outcomes[0] == "transferred_119"
    assert rules.plan("fall").outcomes[:2] == ["onsite_help", "transferred_120"]
    assert "inform_family" not in [s.key for s in rules.plan("battery_low").steps]
    assert "inform_family" in [s.key for s in rules.plan("hub_offline").steps]
    assert rules.kind_label("battery_low").zh_CN == "电池电量低"  # through the YAML merge key


def test_an_unknown_kind_gets_the_common_plan(rules: CountyRules) -> None:
    plan = rules.plan("future_kind")
    assert plan.label.zh_CN == "future_kind" and len(plan.steps) == 7


def test_a_declared_period_is_checked(rules: CountyRules) -> None:
    p = rules.period("extreme_weather", date(2026, 12, 1), date(2026, 12, 3), "寒潮预警")
    assert p.boost == "extreme_weather"
    with pytest.raises(KeyError):
        rules.period("storm", date(2026, 12, 1), date(2026, 12, 3))
    with pytest.raises(ValueError, match="end 2026-11-30 is before start 2026-12-01"):
        rules.period("holiday", date(2026, 12, 1), date(2026, 11, 30))


def edit(tmp_path: Path, path: list[str | int], value: object) -> Path:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    out = tmp_path / "county.yaml"
    out.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return out


@pytest.mark.parametrize("path, value, expected", [
    (["visits", "cadence_days", "general"], 45,
     "visits.cadence_days.general: Input should be less than or equal to 31"),
    (["visits", "cadence_days", "weekly"], 7, "visits.cadence_days.weekly: unknown key"),
    (["grouping", "key", 0, "when"], {},
     "grouping.key.0.when: Value error, a criterion needs at least one fact"),
    (["grouping", "key", 0, "when"], {"age_min": 80, "age_max": 70}, "age_min 80 is above age_max 70"),
    (["grouping", "key", 1, "when", "disability_grade"], [0, 1], "disability grades are 1 to 4"),
    (["grouping", "secondary", 0, "key"], "age_80", "criterion 'age_80' is listed twice"),
    (["grouping", "key"], [], "grouping.key: List should have at least 1 item"),
    (["visits", "periods", 0, "boost"], "storm", "unknown boost 'storm' (boosts: extreme_weather, holiday)"),
    (["visits", "periods", 0, "end"], "2027-03-01", "a period longer than 92 days"),
    (["visits", "boosts", 0, "divide"], 1,
     "a boost divides the interval (divide > 1) or asks for an extra visit"),
    (["visits", "modes", 3, "home"], False, "home_visit_days is set but no mode has home: true"),
    (["visits", "contents", 1, "key"], "health", "content 'health' is listed twice"),
    (["visits", "contents", 0, "hint"], KeyError, "visits.contents.0.hint: required key is missing"),
    (["response", "kinds", "panik"], {"zh_CN": "x", "en": "x"}, "kinds.panik: not an alarm kind"),
    (["response", "kinds", "fall", "skip"], ["call_police"], "kinds.fall: unknown step(s) call_police"),
    (["response", "kinds", "fall", "outcomes"], ["cancelled_at_home"],
     "kinds.fall: outcome(s) cancelled_at_home are not ones an officer may choose"),
    (["response", "outcomes", 0, "key"], "Safe", "response.outcomes.0.key: String should match pattern"),
    (["timezone"], "Beijing", "timezone: Value error, unknown time zone 'Beijing' (an IANA name such as "
     "Asia/Shanghai)"),
    (["timezone"], "../../etc/passwd", "timezone: Value error, unknown time zone"),
])
def test_mistakes_name_file_and_key(tmp_path: Path, path: list[str | int], value: object,
                                    expected: str) -> None:
    f = edit(tmp_path, path, value)
    with pytest.raises(ConfigError) as e:
        load_county(f)
    assert str(e.value).startswith(f"{f}: ") and expected in str(e.value)


def test_a_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "county.yaml"
    text = SHIPPED.read_text(encoding="utf-8")
    f.write_text(text.replace("county: 青石镇", "county: 青石镇\ncounty: 柳湾"), encoding="utf-8")
    with pytest.raises(ConfigError, match="county: duplicate key"):
        load_county(f)
