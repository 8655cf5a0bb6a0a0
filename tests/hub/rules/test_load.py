"""Rule files: the shipped set loads, and every mistake names the file, the rule and the field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.common.configfile import ConfigError
from hub.common.events import ALARM_TYPES, Event
from hub.rules import Engine, RuleSet, load_rules
from hub.rules.actions import CancelAlarm, RaiseAlarm, SendAlarm
from hub.rules.load import parse_rules
from hub.rules.model import EVENT_KINDS, Category, SayAction
from hub.rules.state import STATE_NAMES
from hub.voice.prompts import PROMPTS
from tests.conftest import REPO
from tests.support.rules import at

DEFAULT_FILE = REPO / "config/rules/default.yaml"


def test_shipped_defaults() -> None:
    rules = load_rules([REPO / "config/rules"])
    assert rules.files == (DEFAULT_FILE,)
    assert [r.name for r in rules.rules] == [
        "panic", "fall", "smoke", "co", "gas", "hazard_clear", "leak", "wandering", "wellbeing", "checkin",
        "mains_fail", "battery_low", "sensor_silent", "tamper"]
    assert rules.relays == {"gas_valve"}
    said = {a.say for r in rules.rules for a in [*r.actions, *(r.wait.else_ if r.wait else [])]
            if isinstance(a, SayAction)}
    assert all(PROMPTS[k]["zh_CN"] and PROMPTS[k]["en"] for k in said)


def test_event_kinds_match_docs() -> None:
    """EVENT_KINDS mirrors the table of docs/events.md (the hub's own walk-test events, which
    rules never see, are listed after it)."""
    rule_kinds = (REPO / "docs/events.md").read_text().split("## Walk tests")[0]
    table = [line.split("|")[1] for line in rule_kinds.splitlines() if line.startswith("| `")]
    assert {k for cell in table for k in re.findall(r"`([a-z]+\.[a-z]+)`", cell)} == EVENT_KINDS


def test_new_alarm_kinds() -> None:
    assert (ALARM_TYPES["leak"].contact_id, ALARM_TYPES["tamper"].contact_id) == (154, 383)


def rule(**over: Any) -> str:
    """One rule as YAML flow text: a valid panic rule with fields replaced (None drops a field)."""
    r: dict[str, Any] = {"name": "r", "trigger": "button.press", "actions": [{"alarm": "panic"}]}
    r.update(over)
    return yaml.safe_dump({"rules": [{k: v for k, v in r.items() if v is not None}]}, allow_unicode=True)


@pytest.mark.parametrize("text, expected", [
    (rule(colour="red"), "rule 'r': colour: unknown key"),
    (rule(trigger="fall.detect"),
     "rule 'r': trigger.event.0: unknown event kind 'fall.detect' (did you mean 'fall.detected'?)"),
    (rule(trigger={"event": "button.press", "colour": "red"}), "rule 'r': trigger.colour: unknown key"),
    (rule(trigger=None), "rule 'r': give exactly one of trigger, absence, daily"),
    (rule(actions=[]), "rule 'r': actions: the rule does nothing"),
    (rule(actions=[{"alarm": "fire"}]), "rule 'r': actions.0.alarm: unknown alarm kind 'fire'"),
    (rule(actions=[{"say": "helo"}]), "rule 'r': actions.0.say: unknown prompt 'helo'"),
    (rule(actions=[{"led": "blink"}]), "rule 'r': actions.0.led: unknown LED pattern 'blink'"),
    (rule(actions=[{"siren": "loud"}]), "rule 'r': actions.0.siren: unknown siren pattern 'loud'"),
    (rule(name="gas", actions=[{"siren": "co"}, {"relay": "gas_valve"}]),
     "rule 'gas': actions.1.energise: required key is missing"),
    (rule(actions=[{"relay": "gas valve", "energise": True}]),
     "rule 'r': actions.0.relay: String should match"),
    (rule(actions=[{"beep": 1}]),
     "rule 'r': actions.0: an action is a mapping with one of: say, led, alarm, siren, relay, call"),
    (rule(actions=["say cancelled"]), "rule 'r': actions.0: an action is a mapping"),
    (rule(actions=[{"say": "cancelled", "loud": True}]), "rule 'r': actions.0.loud: unknown key"),
    (rule(actions=[{"alarm": "panic", "priority": 7}]),
     "rule 'r': actions.0.priority: Input should be 1, 2, 3"),
    (rule(actions=[{"alarm": "panic", "hold": True}]),
     "rule 'r': actions.0.hold: a held alarm needs the rule to wait"),
    (rule(wait={"for": "10 minutes"}), "rule 'r': wait.for: '10 minutes' is not a duration"),
    (rule(wait={"for": 30}), "rule 'r': wait.for: 30 is not a duration: give a number with its unit"),
    (rule(wait={"for": "2d"}), "rule 'r': wait.for: Input should be less than or equal to 86400"),
    (rule(wait={"for": "1m", "then": [{"alarm": "fall", "hold": True}]}),
     "rule 'r': wait.then.0.hold: only alarms in actions can be held"),
    (rule(wait={"for": "1m", "unless": {"events": ["mains.okay"]}}),
     "rule 'r': wait.unless.events.0: unknown event kind 'mains.okay' (did you mean 'mains.ok'?)"),
    (rule(wait={"for": "1m", "else": [{"say": 3}]}),
     "rule 'r': wait.else.0.say: Input should be a valid string"),
    (rule(conditions={"time": "22:00"}), "rule 'r': conditions.time: '22:00' is not a daily window"),
    (rule(conditions={"time": "22:00-22:00"}), "rule 'r': conditions.time: '22:00-22:00' is empty"),
    (rule(conditions={"state": {"presense": False}}),
     "rule 'r': conditions.state: unknown state 'presense' (did you mean 'presence'?)"),
    (rule(conditions={"category": ["vip"]}), "rule 'r': conditions.category.0: Input should be 'key'"),
    (rule(trigger=None, absence={"events": "motion.active", "for": {"key": "4h", "secondary": "6h"}}),
     "rule 'r': absence.for: give a duration for every elder category; missing: general"),
    (rule(trigger=None, absence={"events": "motion.active", "for": {"key": "4h", "secondary": "6h",
                                                                     "general": "soon"}}),
     "rule 'r': absence.for.general: 'soon' is not a duration"),
    (rule(trigger=None, absence={"events": "motion.active", "for": "4h", "hours": "07:00-07:30"}),
     "rule 'r': absence.hours: the window must be at least an hour long"),
    (rule(trigger=None, absence={"events": [], "for": "4h"}),
     "rule 'r': absence.events: Value should have at least 1 item"),
    (rule(trigger=None, daily={"events": "motion.active", "from": "05:00", "by": "25:00"}),
     "rule 'r': daily.by: '25:00' is not a time of day"),
    ("rules:\n- name: r\n  daily: {events: motion.active, from: '05:00', by: 10:00}\n"
     "  actions: [{alarm: panic}]\n",
     "rule 'r': daily.by: write times of day in quotes"),
    (rule(trigger=None, daily={"events": "motion.active", "from": "05:00", "by": "05:00"}),
     "rule 'r': daily: from, by: they must be different times"),
    (rule(once_until=["battery.ok"], trigger=None,
          daily={"events": "motion.active", "from": "05:00", "by": "10:00"}),
     "rule 'r': once_until: only a rule with a trigger can have it"),
    (rule(name=None), "rules.0: name: required key is missing"),
    (rule(name="bad name"), "rule 'bad name': name: String should match pattern"),
    ("rules:\n- name: r\n  trigger: button.press\n  actions: [{alarm: panic}]\n"
     "- name: r\n  trigger: smoke.on\n  actions: [{alarm: smoke}]\n",
     "rule 'r': name: already used by a rule in"),
    ("rules: {panic: 1}\n", "rules: Input should be a valid list"),
    ("{}\n", "rules: required key is missing"),
    ("rules:\n- name: [\n", "invalid YAML"),
    ("- rules\n", "expected a mapping with `rules:` at the top, got list"),
    ("", "the file is empty"),
])
def test_errors_name_file_rule_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "home.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_rules([path])
    assert expected in str(e.value)
    assert all(line.startswith(str(path)) for line in str(e.value).splitlines())


def test_errors_from_every_file_and_duplicates_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(rule(name="panic"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(rule(colour="red"), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_rules([DEFAULT_FILE, tmp_path])
    assert str(e.value).splitlines() == [
        f"{tmp_path / 'a.yaml'}: rule 'panic': name: already used by a rule in {DEFAULT_FILE}",
        f"{tmp_path / 'b.yaml'}: rule 'r': colour: unknown key (check the spelling; see "
        'docs/configuration.md, "Rules")']


def test_no_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no rule files"):
        load_rules([tmp_path])
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules([tmp_path / "missing.yaml"])


def test_a_bad_reload_keeps_the_old_rules_running(tmp_path: Path) -> None:
    """The service reloads with load_rules then Engine.replace; a bad file never gets that far."""
    engine = Engine(load_rules([DEFAULT_FILE]), now=0.0, category="key")
    old = engine.rules
    _, held = engine.handle(Event(kind="fall.detected", source="radar", ts=1.0), 1.0)
    bad = tmp_path / "default.yaml"
    bad.write_text(DEFAULT_FILE.read_text(encoding="utf-8").replace("for: 30s", "for: 30"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rule 'fall': wait\.for: 30 is not a duration"):
        engine.replace(load_rules([bad]))
    assert engine.rules is old
    assert isinstance(held, RaiseAlarm)
    assert engine.tick(31.0) == [SendAlarm(held.event.id, "fall")]


# --- fuzz: whatever YAML holds, the loader answers with rules or a ConfigError ---------------

KEYS = ["rules", "name", "trigger", "event", "device", "room", "data", "absence", "daily", "events", "for",
        "hours", "from", "by", "conditions", "time", "state", "category", "once_until", "actions", "wait",
        "unless", "same_device", "then", "else", "say", "led", "alarm", "hold", "text", "priority",
        "contact_id", "siren", "relay", "energise", "call", "description"]
WORDS = [*sorted(EVENT_KINDS)[:8], "fall.detected", "cancel.press", "panic", "fall", "gas_valve", "station",
         "cancelled", "fire", "silent", "idle", "presence", "key", "general", "30s", "4h", "0s", "1h30m",
         "10:00", "05:00", "22:00-06:00", "07:00-21:00", "07:00-07:30"]
scalars = (st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True)
           | st.text(max_size=6) | st.sampled_from(WORDS))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=5),
                      max_leaves=24)
rule_like = st.dictionaries(st.sampled_from(KEYS), values, max_size=7)
documents = values | st.fixed_dictionaries({"rules": st.lists(rule_like, max_size=3)})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_fuzz_loader_raises_only_config_errors(data: object) -> None:
    try:
        parse_rules(Path("fuzz.yaml"), data)
    except ConfigError as e:
        assert str(e).startswith("fuzz.yaml")


# Rules built from the vocabulary (the first fuzz covers the invalid); then a random day of events.
kinds = st.sampled_from(sorted(EVENT_KINDS))
some_kinds = st.lists(kinds, min_size=1, max_size=3)
durations = st.sampled_from(["1s", "30s", "15m", "4h", "1d"])
times = st.sampled_from(["00:00", "05:00", "10:00", "21:59", "23:30"])
windows = st.sampled_from(["22:00-06:00", "07:00-21:00", "00:00-23:59", "10:00-11:00", "23:00-00:00"])
actions = st.lists(st.one_of(
    st.fixed_dictionaries({"say": st.sampled_from(sorted(PROMPTS))}),
    st.fixed_dictionaries({"led": st.sampled_from(["idle", "fault"])}),
    st.fixed_dictionaries({"alarm": st.sampled_from(sorted(ALARM_TYPES))},
                          optional={"hold": st.booleans(), "text": st.text(max_size=4),
                                    "priority": st.integers(1, 4), "contact_id": st.integers(0, 999)}),
    st.fixed_dictionaries({"siren": st.sampled_from(["fire", "silent"])}),
    st.fixed_dictionaries({"relay": st.just("gas_valve"), "energise": st.booleans()}),
    st.fixed_dictionaries({"call": st.just("station")})), min_size=1, max_size=3)
conditions = st.fixed_dictionaries({}, optional={
    "time": windows, "category": st.lists(st.sampled_from(["key", "secondary", "general"]), max_size=2),
    "state": st.dictionaries(st.sampled_from(sorted(STATE_NAMES)), st.booleans(), max_size=2)})
names = st.sampled_from(["a", "b", "c", "d", "e", "f"])
built_rules = st.lists(st.one_of(
    st.fixed_dictionaries({"name": names, "trigger": some_kinds, "actions": actions}, optional={
        "conditions": conditions, "once_until": some_kinds,
        "wait": st.fixed_dictionaries({"for": durations}, optional={
            "unless": st.fixed_dictionaries({}, optional={
                "events": some_kinds, "same_device": some_kinds,
                "state": st.dictionaries(st.sampled_from(sorted(STATE_NAMES)), st.booleans(), max_size=2)}),
            "then": actions, "else": actions})}),
    st.fixed_dictionaries({"name": names, "absence": st.fixed_dictionaries(
        {"events": some_kinds, "for": durations | st.fixed_dictionaries(
            {"key": durations, "secondary": durations, "general": durations})}, optional={"hours": windows}),
        "actions": actions}, optional={"conditions": conditions}),
    st.fixed_dictionaries({"name": names, "daily": st.fixed_dictionaries(
        {"events": some_kinds, "from": times, "by": times}), "actions": actions},
        optional={"conditions": conditions})), max_size=4, unique_by=lambda r: r["name"])
event_streams = st.lists(st.tuples(kinds, st.sampled_from(["radar", "door", "cord"]),
                                   st.floats(0, 6 * 3600), st.booleans()), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(built_rules, event_streams, st.sampled_from(["key", "secondary", "general"]))
def test_fuzz_loaded_rules_run(rules: list[dict[str, Any]], stream: list[tuple[str, str, float, bool]],
                               category: Category) -> None:
    """Whatever loads runs: timers never fire early or twice, alarms are sent or cancelled once."""
    try:
        loaded = parse_rules(Path("fuzz.yaml"), {"rules": rules})
    except ConfigError:
        return
    if len({r.name for r in loaded}) < len(loaded):
        return  # load_rules refuses these
    engine = Engine(RuleSet(tuple(loaded)), now=at("d0 00:00"), category=category)
    now = at("d0 00:00")
    raised: dict[str, bool] = {}  # alarm id -> held
    settled: set[str] = set()
    for kind, source, dt, tick in stream:
        now += dt
        out = engine.tick(now) if tick else engine.handle(
            Event(kind=kind, source=source, ts=now, data={"type": "door"}), now)
        for a in out:
            if isinstance(a, RaiseAlarm):
                raised[a.event.id] = a.hold
            elif isinstance(a, SendAlarm | CancelAlarm):
                assert a.alarm_id in raised and a.alarm_id not in settled
                assert isinstance(a, CancelAlarm) or raised[a.alarm_id]
                settled.add(a.alarm_id)
        due = engine.next_deadline()
        assert due is None or due > now
