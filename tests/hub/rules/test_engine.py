"""The rule engine, table-driven: an event sequence on a fake clock -> the actions it yields.

Every default rule (config/rules/default.yaml) has cases here, with the edge cases the issue
names: cancel at 29 s vs 31 s, a door closed and reopened, a check-in at 09:59. The runner wakes
the engine exactly at ``next_deadline()``, as the hub service does, so hours pass in microseconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.common.events import Event, Priority
from hub.rules import Engine, RuleSet, load_rules
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
from hub.rules.clock import Hours, advance, second_of_day
from hub.rules.load import parse_rules
from hub.rules.model import Category
from tests.conftest import REPO
from tests.support.rules import DAY0, DEFAULTS, FALL, TZ, at, engine, ev


def clock(t: float) -> str:
    d = datetime.fromtimestamp(t, TZ)
    day = (d.date() - DAY0).days
    return (f"d{day} " if day else "") + d.strftime("%H:%M:%S")


def describe(a: RuleAction, kinds: dict[str, str]) -> str:
    """One action as a short line; ``kinds`` maps the alarm ids raised so far to their kinds."""
    if isinstance(a, Say):
        return f"say {a.prompt}"
    if isinstance(a, ShowLed):
        return f"led {a.pattern}"
    if isinstance(a, RaiseAlarm):
        assert a.event.alarm
        kinds[a.event.id] = a.event.alarm
        return f"alarm {a.event.alarm}" + (" held" if a.hold else "")
    if isinstance(a, SendAlarm):
        return f"send {kinds[a.alarm_id]}"
    if isinstance(a, CancelAlarm):
        return f"cancel {kinds[a.alarm_id]} by {a.cause.kind if a.cause else 'state'}"
    if isinstance(a, Siren):
        return f"siren {a.pattern or 'silent'}"
    if isinstance(a, Relay):
        return f"relay {a.name} {'on' if a.energise else 'off'}"
    assert isinstance(a, OpenCall)
    return f"call for {kinds.get(a.alarm_id or '', 'nothing')}"


class Case(NamedTuple):
    start: str
    steps: Sequence[tuple[str, Event]]
    end: str
    expect: Sequence[tuple[str, str]]
    category: Category = "key"


def run(rules: RuleSet, case: Case) -> list[tuple[str, str]]:
    engine = Engine(rules, now=at(case.start), category=case.category, tz=TZ)
    kinds: dict[str, str] = {}
    out: list[tuple[str, str]] = []

    def record(t: float, actions: list[RuleAction]) -> None:
        out.extend((clock(t), describe(a, kinds)) for a in actions)

    def sleep_until(t: float) -> None:
        while (due := engine.next_deadline()) is not None and due <= t:
            record(due, engine.tick(due))

    for when, e in case.steps:
        t = at(when)
        sleep_until(t)
        record(t, engine.handle(dataclasses.replace(e, ts=t), t))
    sleep_until(at(case.end))
    return out


def expected(case: Case) -> list[tuple[str, str]]:
    return [(clock(at(t)), what) for t, what in case.expect]


FALL_ASKED = [("10:31", "say fall_question"), ("10:31", "alarm fall held")]
DOOR = ev("door.open", "front_door", type="door", room="门厅")
ALARM_WELLBEING = ["say inactivity_notice", "alarm inactivity"]
ALARM_CHECKIN = ["say checkin_missed", "alarm checkin_missed"]

# Day cases start at 10:30, after the check-in deadline and 4 h before the key group's
# well-being alarm; night cases start at 22:00; check-in cases at 04:00.
DEFAULT_CASES: dict[str, Case] = {
    "panic: a call button press raises the alarm at once": Case(
        "10:30", [("10:30:05", ev("button.press", "bedside", location="卧室床头"))], "10:31",
        [("10:30:05", "alarm panic")]),
    "fall: the cancel button at 29 s cancels": Case(
        "10:30", [("10:31", FALL), ("10:31:29", ev("cancel.press", "cancel"))], "10:35",
        [*FALL_ASKED, ("10:31:29", "cancel fall by cancel.press"), ("10:31:29", "say cancelled")]),
    "fall: the cancel button at 31 s is too late": Case(
        "10:30", [("10:31", FALL), ("10:31:31", ev("cancel.press", "cancel"))], "10:35",
        [*FALL_ASKED, ("10:31:30", "send fall")]),
    "fall: at exactly 30 s the alarm has gone": Case(
        "10:30", [("10:31", FALL), ("10:31:30", ev("cancel.press", "cancel"))], "10:35",
        [*FALL_ASKED, ("10:31:30", "send fall")]),
    "fall: a long press of a call button cancels": Case(
        "10:30", [("10:31", FALL), ("10:31:10", ev("button.long", "bedside"))], "10:35",
        [*FALL_ASKED, ("10:31:10", "cancel fall by button.long"), ("10:31:10", "say cancelled")]),
    "fall: the radar sees the fall cleared": Case(
        "10:30", [("10:31", FALL), ("10:31:05", ev("fall.cleared", "radar"))], "10:35",
        [*FALL_ASKED, ("10:31:05", "cancel fall by fall.cleared"), ("10:31:05", "say cancelled")]),
    "fall: the radar that saw the fall sees the person moving": Case(
        "10:30", [("10:31", FALL), ("10:31:05", ev("motion.active", "radar"))], "10:35",
        [*FALL_ASKED, ("10:31:05", "cancel fall by motion.active"), ("10:31:05", "say cancelled")]),
    "fall: motion elsewhere (a pet, a curtain) does not cancel": Case(
        "10:30", [("10:31", FALL), ("10:31:05", ev("motion.active", "hall_pir"))], "10:35",
        [*FALL_ASKED, ("10:31:30", "send fall")]),
    "fall: a second fall inside the window does not restart it": Case(
        "10:30", [("10:31", FALL), ("10:31:20", FALL)], "10:35",
        [*FALL_ASKED, ("10:31:30", "send fall")]),
    "fall: a fall after a cancelled one asks again": Case(
        "10:30", [("10:31", FALL), ("10:31:10", ev("cancel.press", "cancel")), ("10:31:20", FALL)], "10:35",
        [*FALL_ASKED, ("10:31:10", "cancel fall by cancel.press"), ("10:31:10", "say cancelled"),
         ("10:31:20", "say fall_question"), ("10:31:20", "alarm fall held"), ("10:31:50", "send fall")]),
    "smoke: siren, warning and alarm": Case(
        "10:30", [("10:31", ev("smoke.on", "kitchen_smoke"))], "10:35",
        [("10:31", "siren fire"), ("10:31", "say smoke_warning"), ("10:31", "alarm smoke")]),
    "co: siren, warning and alarm": Case(
        "10:30", [("10:31", ev("co.on", "stove_co"))], "10:35",
        [("10:31", "siren co"), ("10:31", "say co_warning"), ("10:31", "alarm co")]),
    "gas: siren, valve shut, advice, alarm": Case(
        "10:30", [("10:31", ev("gas.on", "kitchen_gas"))], "10:35",
        [("10:31", "siren co"), ("10:31", "relay gas_valve on"), ("10:31", "say gas_advice"),
         ("10:31", "alarm gas")]),
    "hazard_clear: the siren stops when the detector clears": Case(
        "10:30", [("10:31", ev("smoke.on", "kitchen_smoke")), ("10:40", ev("smoke.off", "kitchen_smoke"))],
        "10:45",
        [("10:31", "siren fire"), ("10:31", "say smoke_warning"), ("10:31", "alarm smoke"),
         ("10:40", "siren silent")]),
    "hazard_clear: not while another detector still reports": Case(
        "10:30", [("10:31", ev("gas.on", "kitchen_gas")), ("10:32", ev("smoke.on", "kitchen_smoke")),
                  ("10:35", ev("gas.off", "kitchen_gas")), ("10:36", ev("smoke.off", "kitchen_smoke"))],
        "10:45",
        [("10:31", "siren co"), ("10:31", "relay gas_valve on"), ("10:31", "say gas_advice"),
         ("10:31", "alarm gas"), ("10:32", "siren fire"), ("10:32", "say smoke_warning"),
         ("10:32", "alarm smoke"), ("10:36", "siren silent")]),
    "leak: warning and alarm": Case(
        "10:30", [("10:31", ev("leak.on", "bath_leak"))], "10:35",
        [("10:31", "say leak_warning"), ("10:31", "alarm leak")]),
    "wandering: door opened at night, nobody back within 15 minutes": Case(
        "22:00", [("23:00", DOOR)], "23:40", [("23:15", "alarm wandering")]),
    "wandering: presence back at 14 minutes": Case(
        "22:00", [("23:00", DOOR), ("23:14", ev("presence.on", "bedroom_radar"))], "23:40", []),
    "wandering: door closed behind and reopened: still 15 minutes from the first opening": Case(
        "22:00", [("23:00", DOOR), ("23:01", ev("door.close", "front_door", type="door")),
                  ("23:10", DOOR)], "23:40",
        [("23:15", "alarm wandering")]),
    "wandering: reopened after coming back: a new 15 minutes": Case(
        "22:00", [("23:00", DOOR), ("23:05", ev("presence.on", "bedroom_radar")),
                  ("23:06", ev("door.close", "front_door", type="door")),
                  ("23:20", ev("presence.off", "bedroom_radar")), ("23:30", DOOR)], "23:59",
        [("23:45", "alarm wandering")]),
    "wandering: still in the radar's view when the 15 minutes run out": Case(
        "22:00", [("22:50", ev("presence.on", "hall_radar")), ("23:00", DOOR)], "23:40", []),
    "wandering: not by day (21:59)": Case(
        "21:00", [("21:59", DOOR)], "22:30", []),
    "wandering: a window is not a door": Case(
        "22:00", [("23:00", ev("door.open", "bedroom_window", type="window"))], "23:40", []),
    "wandering: opened at 05:59, watched past 06:00": Case(
        "22:00", [("d1 05:59", DOOR)], "d1 06:30", [("d1 06:14", "alarm wandering")]),
    "wellbeing: key group, 4 daytime hours, once until activity": Case(
        "08:00", [("08:30", ev("motion.active", "radar"))], "20:00",
        [("12:30", w) for w in ALARM_WELLBEING]),
    "wellbeing: secondary group, 6 hours": Case(
        "08:00", [("08:30", ev("motion.active", "radar"))], "20:00",
        [("14:30", w) for w in ALARM_WELLBEING], "secondary"),
    "wellbeing: general group, 8 hours": Case(
        "08:00", [("08:30", ev("motion.active", "radar"))], "20:00",
        [("16:30", w) for w in ALARM_WELLBEING], "general"),
    "wellbeing: activity restarts the count": Case(
        "08:00", [("08:30", ev("motion.active", "radar")), ("12:29", ev("presence.on", "radar"))], "16:30",
        [("16:29", w) for w in ALARM_WELLBEING]),
    "wellbeing: after an alarm, activity re-arms it": Case(
        "08:00", [("08:30", ev("motion.active", "radar")), ("13:00", ev("door.open", "front_door"))], "18:00",
        [("12:30", w) for w in ALARM_WELLBEING] + [("17:00", w) for w in ALARM_WELLBEING]),
    "wellbeing: the night does not count (20:00 -> 1 h + 3 h from 07:00)": Case(
        "19:00", [("20:00", ev("motion.active", "radar"))], "d1 10:30",
        [("d1 10:00", w) for w in ALARM_WELLBEING + ALARM_CHECKIN]),
    "checkin: activity at 09:59 is in time": Case(
        "04:00", [("09:59", ev("presence.on", "radar"))], "10:30", []),
    "checkin: none by 10:00": Case(
        "04:00", [], "10:30", [("10:00", w) for w in ALARM_CHECKIN]),
    "checkin: the call button counts as a check-in": Case(
        "04:00", [("09:00", ev("button.double", "ble_button"))], "10:30", []),
    "checkin: activity at 04:59 is before the window": Case(
        "04:00", [("04:59", ev("motion.active", "radar"))], "10:30", [("10:00", w) for w in ALARM_CHECKIN]),
    "checkin: activity at 10:00:01 is too late": Case(
        "04:00", [("10:00:01", ev("presence.on", "radar"))], "10:30", [("10:00", w) for w in ALARM_CHECKIN]),
    "checkin: every day afresh": Case(
        "04:00", [("09:00", ev("motion.active", "radar")), ("16:00", ev("motion.active", "radar")),
                  ("20:00", ev("motion.active", "radar"))],
        "d1 10:30", [("d1 10:00", w) for w in ALARM_CHECKIN], "general"),
    "mains_fail: power back within 10 minutes": Case(
        "10:30", [("10:31", ev("mains.fail", "ups")), ("10:40", ev("mains.ok", "ups"))], "11:00", []),
    "mains_fail: not back after 10 minutes": Case(
        "10:30", [("10:31", ev("mains.fail", "ups")), ("10:50", ev("mains.ok", "ups"))], "11:00",
        [("10:41", "alarm mains_fail")]),
    "battery_low: once per sensor until its battery is changed": Case(
        "10:30", [("10:31", ev("battery.low", "front_door", percent=9)),
                  ("10:32", ev("battery.low", "front_door", percent=9)),
                  ("10:33", ev("battery.low", "kitchen_smoke")),
                  ("10:40", ev("battery.ok", "front_door", percent=100)),
                  ("10:50", ev("battery.low", "front_door", percent=12))], "11:00",
        [("10:31", "alarm battery_low"), ("10:33", "alarm battery_low"), ("10:50", "alarm battery_low")]),
    "sensor_silent: once per device until it is heard again": Case(
        "10:30", [("10:31", ev("device.silent", "radar", type="radar", silent_s=60)),
                  ("10:32", ev("device.lost", "radar", type="radar", reason="port gone")),
                  ("10:35", ev("device.back", "radar")),
                  ("10:40", ev("device.lost", "ble", type="adapter", reason="hci0 down")),
                  ("10:41", ev("device.silent", "radar", type="radar", silent_s=60))], "11:00",
        [(t, "alarm sensor_silent") for t in ("10:31", "10:40", "10:41")]),
    "tamper: once per sensor until its cover is closed": Case(
        "10:30", [("10:31", ev("tamper.on", "front_door")), ("10:32", ev("tamper.on", "front_door")),
                  ("10:33", ev("tamper.off", "front_door")), ("10:34", ev("tamper.on", "front_door"))],
        "11:00", [("10:31", "alarm tamper"), ("10:34", "alarm tamper")]),
}


@pytest.mark.parametrize("case", DEFAULT_CASES.values(), ids=DEFAULT_CASES.keys())
def test_default_rules(case: Case) -> None:
    assert run(DEFAULTS, case) == expected(case)


def test_every_default_rule_has_cases() -> None:
    covered = {name.split(":")[0] for name in DEFAULT_CASES}
    assert covered == {r.name for r in DEFAULTS.rules}


# --- the format's other features, on rules written for the test ----------------------------

CUSTOM_YAML = """
rules:
  - name: bathroom_cord
    trigger: {event: button.press, room: 卫生间}
    actions: [{led: calling}, {alarm: panic, text: 卫生间拉绳, priority: 1, contact_id: 102}, {call: station}]
  - name: bedside_only
    trigger: {event: button.double, device: bedside}
    conditions: {category: [key]}
    actions: [{say: call_sent}]
  - name: door_ajar
    description: the fridge-style "door open for 15 minutes", by day
    trigger: {event: door.open, data: {type: door}}
    conditions: {time: "07:00-22:00", state: {presence: true}}
    wait:
      for: 15m
      unless: {same_device: [door.close]}
      then: [{say: call_sent}, {led: fault}]
  - name: panic_cancellable
    trigger: button.triple
    actions: [{alarm: panic}]
    wait:
      for: 60s
      unless: {events: [cancel.press]}
      else: [{say: cancelled}, {led: idle}]
  - name: held_then_call
    trigger: residency.on
    actions: [{alarm: fall, hold: true}]
    wait: {for: 20s, then: [{call: station}]}
"""
CUSTOM = RuleSet(tuple(parse_rules(Path("custom.yaml"), yaml.safe_load(CUSTOM_YAML))))

CUSTOM_CASES: dict[str, Case] = {
    "trigger.room: the bathroom cord; LED, overridden codes, a call for the alarm": Case(
        "10:30", [("10:31", ev("button.press", "cord", room="卫生间")),
                  ("10:32", ev("button.press", "bedside"))], "10:35",
        [("10:31", "led calling"), ("10:31", "alarm panic"), ("10:31", "call for panic")]),
    "trigger.device and conditions.category: a key elder": Case(
        "10:30", [("10:31", ev("button.double", "bedside")), ("10:32", ev("button.double", "ble_button"))],
        "10:35", [("10:31", "say call_sent")]),
    "conditions.category: not for a general elder": Case(
        "10:30", [("10:31", ev("button.double", "bedside"))], "10:35", [], "general"),
    "conditions.state: the door left open 15 minutes while someone is home": Case(
        "10:30", [("10:30", ev("presence.on", "radar")), ("10:31", DOOR)], "11:00",
        [("10:46", "say call_sent"), ("10:46", "led fault")]),
    "unless.same_device: another door closing does not count": Case(
        "10:30", [("10:30", ev("presence.on", "radar")), ("10:31", DOOR),
                  ("10:32", ev("door.close", "back_door", type="door")),
                  ("10:40", ev("door.close", "front_door", type="door"))], "11:00", []),
    "conditions.state: nobody home, no watch": Case(
        "10:30", [("10:31", DOOR)], "11:00", []),
    "wait with a sent alarm: the elder cancels their own call": Case(
        "10:30", [("10:31", ev("button.triple", "ble_button")), ("10:31:40", ev("cancel.press", "cancel"))],
        "10:35", [("10:31", "alarm panic"), ("10:31:40", "cancel panic by cancel.press"),
                  ("10:31:40", "say cancelled"), ("10:31:40", "led idle")]),
    "wait.then: the held alarm is sent, then a call opened for it": Case(
        "10:30", [("10:31", ev("residency.on", "radar"))], "10:35",
        [("10:31", "alarm fall held"), ("10:31:20", "send fall"), ("10:31:20", "call for fall")]),
}


@pytest.mark.parametrize("case", CUSTOM_CASES.values(), ids=CUSTOM_CASES.keys())
def test_custom_rules(case: Case) -> None:
    assert run(CUSTOM, case) == expected(case)


# --- what the actions carry ---------------------------------------------------------------


def test_alarm_event_carries_trigger_rule_and_codes() -> None:
    e = engine()
    press = Event(kind="button.press", source="bedside", ts=at("10:31") - 0.002,
                  data={"location": "卧室床头", "room": "卧室"})
    [a] = e.handle(press, at("10:31"))
    assert isinstance(a, RaiseAlarm)
    assert (a.rule, a.priority, a.contact_id, a.hold) == ("panic", Priority.LIFE, 101, False)
    assert a.event.id != press.id
    assert (a.event.kind, a.event.source, a.event.ts, a.event.alarm) == (
        "button.press", "bedside", press.ts, "panic")
    assert a.event.data == {"location": "卧室床头", "room": "卧室", "rule": "panic", "trigger_id": press.id,
                            "trigger_ts": press.ts}


def test_wandering_alarm_carries_the_doors_opening_and_the_last_sight() -> None:
    """Raised 15 min after the door opened, the alarm says when it opened (``trigger_ts``) and
    when someone was last seen indoors (``last_seen``): what searchers need, not its own time."""
    e = engine(start="22:00")
    for kind, source, when, data in (("presence.on", "radar", "22:40", {"room": "卧室"}),
                                     ("presence.off", "radar", "23:08", {"room": "卧室"}),
                                     ("door.open", "front_door", "23:10", {"type": "door", "room": "门厅"})):
        e.handle(Event(kind=kind, source=source, ts=at(when), data=data), at(when))
    [a] = e.tick(at("23:25"))
    assert isinstance(a, RaiseAlarm) and a.event.alarm == "wandering" and a.event.ts == at("23:25")
    assert (a.event.source, a.event.data["room"]) == ("front_door", "门厅")
    assert (a.event.data["trigger_ts"], a.event.data["last_seen"]) == (at("23:10"), at("23:08"))


def test_last_seen_is_the_alarms_time_while_someone_is_in_view() -> None:
    e = engine()
    e.handle(Event(kind="presence.on", source="radar", ts=at("10:00")), at("10:00"))
    press = Event(kind="button.press", source="bedside", ts=at("10:31"))
    [a] = e.handle(press, at("10:31"))
    assert isinstance(a, RaiseAlarm) and a.event.data["last_seen"] == at("10:31")


def test_overridden_codes_and_text() -> None:
    [_, a, call] = engine(CUSTOM).handle(ev("button.press", "cord", room="卫生间"), at("10:31"))
    assert isinstance(a, RaiseAlarm) and isinstance(call, OpenCall)
    assert (a.priority, a.contact_id, a.event.data["text"]) == (Priority.LIFE, 102, "卫生间拉绳")
    assert call.alarm_id == a.event.id


def test_timer_alarms_are_stamped_when_due() -> None:
    e = engine(start="22:00")
    e.handle(DOOR, at("23:00"))
    [a] = e.tick(at("23:20"))  # the service woke late: the alarm still says 23:15
    assert isinstance(a, RaiseAlarm)
    assert (a.event.kind, a.event.source, a.event.ts) == ("door.open", "front_door", at("23:15"))
    assert a.event.data["text"] and a.event.data["trigger_id"] == DOOR.id
    e = engine(start="04:00")
    _, a = e.tick(at("10:00"))
    assert isinstance(a, RaiseAlarm)
    assert (a.event.kind, a.event.source, a.event.ts, a.event.data) == (
        "timer.daily", "hub", at("10:00"), {"rule": "checkin"})


def test_cancel_refers_to_the_held_alarm() -> None:
    e = engine()
    _, held = e.handle(FALL, at("10:31"))
    cancel = ev("cancel.press", "cancel")
    c, _ = e.handle(cancel, at("10:31:29"))
    assert isinstance(held, RaiseAlarm) and held.hold
    assert c == CancelAlarm(held.event.id, "fall", cancel)


def test_a_fall_merged_into_the_open_fall_alarm_ends_without_saying_cancelled() -> None:
    """Issue 17, 11: a second fall while the first fall's alarm is still open raises nothing
    new at the hub (merged); when it clears, nothing was cancelled, so nothing says so."""
    e = engine()
    _, first = e.handle(FALL, at("10:31"))
    assert isinstance(first, RaiseAlarm)
    assert e.tick(at("10:31:30")) == [SendAlarm(first.event.id, "fall")]
    assert e.handle(ev("fall.cleared", "radar"), at("10:32")) == []
    asked, second = e.handle(FALL, at("10:40"))
    assert asked == Say("fall_question") and isinstance(second, RaiseAlarm)
    e.merged(second.event.id, into=first.event.id)
    assert e.handle(ev("fall.cleared", "radar"), at("10:40:05")) == []
    # merged and left to run out: nothing to send
    _, third = e.handle(FALL, at("10:50"))
    assert isinstance(third, RaiseAlarm)
    e.merged(third.event.id, into=first.event.id)
    assert e.tick(at("10:50:30")) == []


def test_a_real_cancel_after_a_merged_one_still_says_cancelled() -> None:
    e = engine()
    _, merged = e.handle(FALL, at("10:31"))
    assert isinstance(merged, RaiseAlarm)
    e.merged(merged.event.id, into="first")
    assert e.handle(ev("fall.cleared", "radar"), at("10:31:05")) == []
    _, held = e.handle(FALL, at("10:40"))  # the first one closed meanwhile: a real pre-alarm
    assert isinstance(held, RaiseAlarm)
    cleared = ev("fall.cleared", "radar")
    assert e.handle(cleared, at("10:40:05")) == [CancelAlarm(held.event.id, "fall", cleared),
                                                 Say("cancelled")]


def test_a_merged_alarm_calls_the_station_on_the_open_one() -> None:
    rules = RuleSet(tuple(parse_rules(Path("call.yaml"), yaml.safe_load("""
rules:
  - name: fall_call
    trigger: fall.detected
    actions: [{alarm: fall, hold: true}]
    wait: {for: 30s, then: [{call: station}]}
"""))))
    e = engine(rules)
    [held] = e.handle(FALL, at("10:31"))
    assert isinstance(held, RaiseAlarm)
    e.merged(held.event.id, into="open-fall")
    assert e.tick(at("10:31:30")) == [OpenCall("open-fall")]


def test_handle_fires_due_timers_before_the_event() -> None:
    """A cancel at 31 s that reaches the engine before any tick still finds the alarm sent."""
    e = engine()
    _, held = e.handle(FALL, at("10:31"))
    assert isinstance(held, RaiseAlarm)
    assert e.handle(ev("cancel.press", "cancel"), at("10:31:31")) == [SendAlarm(held.event.id, "fall")]


def test_next_deadline() -> None:
    e = engine(start="10:30")
    assert e.next_deadline() == at("14:30")  # the key group's well-being alarm
    e.handle(FALL, at("10:31"))
    assert e.next_deadline() == at("10:31:30")
    e.handle(ev("motion.active", "radar"), at("10:31:10"))  # ends the wait; activity restarts well-being
    assert e.next_deadline() == at("14:31:10")
    only_now = RuleSet(tuple(r for r in DEFAULTS.rules if r.name == "panic"))
    assert engine(only_now).next_deadline() is None
    assert engine(only_now).tick(at("d9 00:00")) == []


def test_alarm_events_are_not_triggers() -> None:
    """The service's own alarm events must not loop back into the rules."""
    e = engine()
    assert e.handle(dataclasses.replace(FALL, alarm="fall"), at("10:31")) == []
    assert e.next_deadline() == at("14:30")


def test_state_flags() -> None:
    e = engine()
    for kind, src, data in [("door.open", "front_door", {"type": "door"}),
                            ("door.open", "bedroom_window", {"type": "window"}),
                            ("presence.on", "radar", {}), ("presence.on", "hall", {}),
                            ("presence.off", "radar", {})]:
        e.handle(Event(kind=kind, source=src, data=data), at("10:31"))
    assert (e.state["door_open"], e.state["window_open"], e.state["presence"]) == (True, True, True)
    e.handle(ev("presence.off", "hall"), at("10:32"))
    e.handle(ev("door.close", "front_door", type="door"), at("10:32"))
    assert (e.state["door_open"], e.state["window_open"], e.state["presence"]) == (False, True, False)


# --- reloading -------------------------------------------------------------------------------


def without(*names: str) -> RuleSet:
    return RuleSet(tuple(r for r in DEFAULTS.rules if r.name not in names))


def test_replace_keeps_state_and_running_timers() -> None:
    e = engine(start="22:00")
    e.handle(DOOR, at("23:00"))
    _, held = e.handle(FALL, at("23:01"))
    assert e.replace(load_rules([REPO / "config/rules/default.yaml"])) == []
    assert e.state["door_open"]
    assert isinstance(held, RaiseAlarm)
    assert [type(a) for a in e.tick(at("23:20"))] == [SendAlarm, RaiseAlarm]  # fall sent, wandering


def test_replace_sends_held_alarms_of_removed_rules_and_drops_their_timers() -> None:
    e = engine(start="22:00")
    e.handle(DOOR, at("23:00"))
    _, held = e.handle(FALL, at("23:01"))
    assert isinstance(held, RaiseAlarm)
    assert e.replace(without("fall", "wandering", "wellbeing")) == [SendAlarm(held.event.id, "fall")]
    assert e.next_deadline() == at("d1 10:00")  # only the check-in is left
    assert e.tick(at("d1 09:59")) == []


def test_replace_starts_new_absence_rules_from_the_latest_time_seen() -> None:
    e = engine(without("wellbeing"), start="08:00")
    e.handle(ev("motion.active", "radar"), at("11:00"))
    e.tick(at("11:30"))
    e.replace(DEFAULTS)
    assert e.next_deadline() == at("15:30")


# --- time of day ---------------------------------------------------------------------------


@pytest.mark.parametrize("start, seconds, hours, due", [
    ("10:00", 4 * 3600, "07:00-21:00", "14:00"),
    ("20:00", 4 * 3600, "07:00-21:00", "d1 10:00"),
    ("23:00", 4 * 3600, "07:00-21:00", "d1 11:00"),
    ("05:00", 3600, "07:00-21:00", "08:00"),
    ("21:00", 4 * 3600, "22:00-06:00", "d1 02:00"),
    ("03:00", 4 * 3600, "22:00-06:00", "23:00"),  # 3 h before 06:00, the 4th from 22:00
    ("10:00", 30 * 3600, "07:00-21:00", "d2 12:00"),  # 11 + 14 + 5 hours
    ("10:00", 90, None, "10:01:30"),
])
def test_advance_counts_only_the_hours(start: str, seconds: float, hours: str | None, due: str) -> None:
    h = Hours(*(int(p[:2]) * 3600 + int(p[3:]) * 60 for p in hours.split("-"))) if hours else None
    assert clock(advance(at(start), seconds, h, TZ)) == clock(at(due))


def test_hours_cross_midnight() -> None:
    night = Hours(22 * 3600, 6 * 3600)
    inside = [second_of_day(at(t), TZ) in night for t in ("21:59:59", "22:00", "00:00", "05:59:59", "06:00")]
    assert inside == [False, True, True, True, False]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3 * 1440), st.integers(1, 12 * 60), st.integers(0, 1439), st.integers(240, 1200))
def test_advance_matches_counting_minutes(start: int, minutes: int, begin: int, length: int) -> None:
    """advance() against the obvious: walk minute by minute, counting those inside the hours."""
    hours = Hours(begin * 60, (begin + length) % 1440 * 60)
    t = at("00:00") + start * 60
    left = minutes
    while left:
        if second_of_day(t, TZ) in hours:
            left -= 1
        t += 60
    assert advance(at("00:00") + start * 60, minutes * 60, hours, TZ) == t
