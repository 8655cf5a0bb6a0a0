"""The notification engine on its own: policy in, events and a clock in, actions out.

Times are epoch seconds on a fixed day (the county's zone is Asia/Shanghai); nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from console.station.notify.engine import (
    EVENT_STEP,
    NOTE_ACCEPTED,
    NOTE_EXHAUSTED,
    NOTE_FALLBACK,
    NOTE_HELD,
    NOTE_NO_MOBILE,
    NOTE_NOBODY,
    Action,
    Cascade,
    Case,
    Note,
    NotifyEngine,
    People,
    Plan,
    Recorded,
    Send,
    TellHub,
    Told,
    Withdraw,
)
from console.station.notify.policy import DEFAULT_RULES, Match, Policy, Rule, Step, Unclaimed
from console.station.notify.texts import About, Person, Wording

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2027, 3, 5, 14, 0, tzinfo=TZ).timestamp()  # an afternoon
NIGHT = datetime(2027, 3, 5, 2, 27, tzinfo=TZ).timestamp()

SON = Person("王建国", "13800000001", "contact", "儿子")
GRID = Person("李梅", "13900000002", "contact", "网格员")
ONCALL = Person("赵值班", "13700000009", "on_call")
HOLDER = Person("王建国", "13800000001", "key_holder", "儿子")
PEOPLE = People(contacts=(SON, GRID), key_holder=HOLDER, on_call=(ONCALL,))
ABOUT = About("王秀英", "青石镇桃源村三组12号", "村委会往东200米", {"zh_CN": "紧急呼叫", "en": "Panic call"},
              "卧室床头", T0, HOLDER)


def case(alarm: str = "a1", *, priority: int = 1, kind: str = "panic", received: float = T0,
         people: People = PEOPLE, **kw: bool) -> Case:
    return Case(alarm, kind, priority, received, ABOUT, people, **kw)


def engine(rules: list[Rule] | None = None, groups: Iterable[str] = ()) -> NotifyEngine:
    return NotifyEngine(Policy(rules), Wording("zh_CN", TZ), groups=groups)


def sends(actions: list[Action]) -> list[tuple[str, str, int, int, str]]:
    """(topic, phone or group, step, round, channel) of each message planned."""
    return [(a.topic, a.person.phone or a.person.name, a.step, a.round, a.channel)
            for a in actions if isinstance(a, Send)]


def notes(actions: list[Action]) -> list[str]:
    return [a.note for a in actions if isinstance(a, Note)]


def stopped(actions: list[Action]) -> dict[int, str | None]:
    return {a.cascade.step: a.cascade.why for a in actions if isinstance(a, Plan)
            and not a.cascade.running}


def test_an_attended_station_tells_nobody_until_the_alarm_waits_unclaimed() -> None:
    e = engine()
    assert e.alarm(case(), T0) == []
    assert e.next_due() == T0 + 60
    assert e.tick(T0 + 59.9) == []
    out = e.tick(T0 + 60)  # contacts, one at a time: the son first
    assert sends(out) == [("alarm", SON.phone, 1, 1, "sms")]
    assert e.next_due() == T0 + 60 + 180


def test_unattended_tells_on_call_and_the_first_contact_at_once_then_the_next_after_m_minutes() -> None:
    e = engine()
    assert e.set_attended(False, T0 - 1) == []
    out = e.alarm(case(), T0)
    assert sends(out) == [("alarm", ONCALL.phone, 0, 1, "sms"), ("alarm", SON.phone, 1, 1, "sms")]
    text = next(a.text for a in out if isinstance(a, Send))
    assert text == ("【安心】王秀英（青石镇桃源村三组12号，村委会往东200米）紧急呼叫（卧室床头） 14:00。"
                    "钥匙：王建国（儿子） 13800000001。回复1确认，到达后回复到。")
    assert e.tick(T0 + 179) == []
    assert sends(e.tick(T0 + 180)) == [("alarm", GRID.phone, 1, 1, "sms")]
    # round 2: the son again, then the grid worker, then the cascade has run out
    assert sends(e.tick(T0 + 360)) == [("alarm", SON.phone, 1, 2, "sms")]
    assert sends(e.tick(T0 + 540)) == [("alarm", GRID.phone, 1, 2, "sms")]
    out = e.tick(T0 + 720)
    assert sends(out) == [] and stopped(out) == {1: "exhausted"} and notes(out) == [NOTE_EXHAUSTED]
    assert e.next_due() is None


def test_an_acceptance_stops_the_cascade_withdraws_what_waits_and_the_elder_hears_who() -> None:
    e = engine()
    e.set_attended(False, T0)
    e.alarm(case(), T0)
    e.tick(T0 + 180)  # the grid worker told too
    out = e.accepted("a1", GRID, T0 + 200)
    assert [a for a in out if isinstance(a, TellHub)] == [TellHub("a1", GRID)]
    assert notes(out) == [NOTE_ACCEPTED] and stopped(out) == {1: "accepted"}
    assert Withdraw("a1", (1,), "accepted") in out
    assert e.tick(T0 + 10_000) == [] and e.next_due() is None
    assert e.accepted("a1", GRID, T0 + 201) == []  # a second "1": once


def test_a_claim_stops_what_fired_for_want_of_an_officer_and_what_has_not_fired_never_does() -> None:
    e = engine()
    e.alarm(case(), T0)
    e.tick(T0 + 60)
    out = e.claimed("a1", T0 + 70)
    assert stopped(out) == {1: "claimed"}
    e.set_attended(False, T0 + 80)  # the officer walks away: the claimed alarm stays his
    assert e.tick(T0 + 1000) == []


def test_a_step_that_fires_at_once_survives_a_claim() -> None:
    rules = [Rule(match=Match(priority=1), steps=[
        Step(when=["at_once"], who=["contacts"], next_after_s=60)])]
    e = engine(rules)
    assert sends(e.alarm(case(), T0)) == [("alarm", SON.phone, 0, 1, "sms")]
    assert stopped(e.claimed("a1", T0 + 1)) == {}
    assert sends(e.tick(T0 + 60)) == [("alarm", GRID.phone, 0, 1, "sms")]


def test_escalation_is_unattended_whoever_is_logged_in() -> None:
    e = engine()
    e.alarm(case(), T0)
    out = e.escalated("a1", T0 + 30)  # the station's escalate_after_s was shorter than 60
    assert sends(out) == [("alarm", ONCALL.phone, 0, 1, "sms"), ("alarm", SON.phone, 1, 1, "sms")]


def test_a_person_in_two_steps_gets_the_alarm_text_once_per_round() -> None:
    rules = [Rule(match=Match(priority=1), steps=[
        Step(when=["at_once"], who=["key_holder"]),
        Step(when=["at_once"], who=["contacts"])])]
    out = engine(rules).alarm(case(), T0)
    assert sends(out) == [("alarm", HOLDER.phone, 0, 1, "sms"), ("alarm", GRID.phone, 1, 1, "sms")]


def test_nobody_to_tell_and_landlines_are_noted_not_sent() -> None:
    landline = Person("老邻居", "", "contact", "邻居")
    e = engine()
    e.set_attended(False, T0)
    out = e.alarm(case(people=People(contacts=(landline,))), T0)
    assert sends(out) == []
    assert notes(out) == [NOTE_NOBODY, NOTE_NO_MOBILE, NOTE_NOBODY]  # no on-call; no mobile
    assert stopped(out) == {0: "done", 1: "exhausted"}


def test_technical_alarms_wait_for_the_morning_and_only_the_on_call_officer_hears() -> None:
    e = engine()
    out = e.alarm(case(priority=3, kind="battery_low", received=NIGHT), NIGHT)
    assert out == []
    out = e.tick(NIGHT + 300)
    morning = datetime(2027, 3, 5, 7, 0, tzinfo=TZ).timestamp()
    assert sends(out) == [] and notes(out) == [NOTE_HELD]
    assert e.next_due() == morning
    assert sends(e.tick(morning)) == [("alarm", ONCALL.phone, 0, 1, "sms")]


def test_a_p1_is_never_held_by_quiet_hours() -> None:
    rules = [Rule(match=Match(priority=1), steps=[
        Step(when=["at_once"], who=["on_call"], quiet_hours="22:00-07:00")])]
    assert sends(engine(rules).alarm(case(received=NIGHT), NIGHT)) == [
        ("alarm", ONCALL.phone, 0, 1, "sms")]


def test_a_failed_message_moves_the_cascade_on_at_once() -> None:
    e = engine()
    e.set_attended(False, T0)
    e.alarm(case(), T0)
    assert e.failed("a1", 1, GRID.phone, T0 + 5) == []  # not the one waited on
    assert sends(e.failed("a1", 1, SON.phone, T0 + 5)) == [("alarm", GRID.phone, 1, 1, "sms")]


def test_dispatch_texts_the_responder_and_the_groups_hear_every_step() -> None:
    e = engine(groups=["wecom"])
    e.set_attended(False, T0)
    out = e.alarm(case(), T0)
    assert sends(out)[0] == ("alarm", "wecom", EVENT_STEP, 1, "wecom")  # once per alarm
    e.claimed("a1", T0 + 10)
    volunteer = Person("孙志愿", "13600000007", "volunteer")
    out = e.dispatched("a1", volunteer, 42, "张三", T0 + 20)
    assert sends(out) == [("dispatch", volunteer.phone, 42, 1, "sms"),
                          ("dispatched", "wecom", EVENT_STEP, 1, "wecom")]
    assert "请上门" in out[0].text and "服务站张三派" in out[0].text  # type: ignore[union-attr]
    out = e.arrived("a1", volunteer, T0 + 600)
    assert sends(out) == [("arrived", "wecom", EVENT_STEP, 1, "wecom")]
    assert "孙志愿（志愿者）已到达王秀英家" in out[-1].text  # type: ignore[union-attr]


def test_closing_withdraws_what_waits_and_tells_everyone_told() -> None:
    e = engine(groups=["wecom"])
    e.set_attended(False, T0)
    e.alarm(case(), T0)
    out = e.closed("a1", "已派人上门处置", T0 + 100)
    assert Withdraw("a1", None, "closed") in out and stopped(out) == {1: "closed"}
    assert sends(out) == [("closed", ONCALL.phone, 3, 1, "sms"), ("closed", SON.phone, 3, 1, "sms"),
                          ("closed", "wecom", EVENT_STEP, 1, "wecom")]
    assert "已处理完毕：已派人上门处置" in out[-1].text  # type: ignore[union-attr]
    assert not e.is_open("a1") and e.tick(T0 + 10_000) == []


def test_a_cancelled_alarm_that_told_nobody_tells_nobody() -> None:
    e = engine()
    e.alarm(case(), T0)
    assert sends(e.closed("a1", None, T0 + 5)) == []


def test_no_rule_no_messages() -> None:
    e = engine()
    e.set_attended(False, T0)
    assert e.alarm(case(priority=4, kind="walktest"), T0) == []
    assert not e.is_open("a1")


def test_a_restart_resumes_the_cascade_where_it_stood_and_plans_nothing_twice() -> None:
    first = engine()
    first.set_attended(False, T0)
    before = first.alarm(case(), T0)
    told = [Told(a.topic, a.step, a.round, a.person, a.channel) for a in before if isinstance(a, Send)]
    cascades = first.cascades("a1")

    again = engine()
    again.set_attended(False, T0 + 100)
    again.restore(case(), cascades, told)
    assert again.tick(T0 + 100) == []  # everything due was done before the stop
    assert sends(again.tick(T0 + 180)) == [("alarm", GRID.phone, 1, 1, "sms")]


def test_a_restart_applies_a_claim_made_while_it_was_down() -> None:
    first = engine()
    first.set_attended(False, T0)
    first.alarm(case(), T0)
    again = engine()
    again.restore(case(claimed=True), first.cascades("a1"), [])
    assert stopped(again.tick(T0 + 5)) == {1: "claimed"}


def test_the_shipped_policy_keeps_technical_alarms_from_the_family() -> None:
    technical = next(r for r in DEFAULT_RULES if r.match.priority == 3)
    assert {w for s in technical.steps for w in s.who} <= {"on_call", "dispatched"}
    with pytest.raises(ValueError, match="never wake the family at night"):
        Rule(match=Match(priority=3), steps=[Step(when=[Unclaimed(unclaimed_after_s=0)],
                                                   who=["contacts"])])
    with pytest.raises(ValueError, match="never wake the family at night"):
        Rule(match=Match(kind="mains_fail"), steps=[Step(when=["at_once"], who=["key_holder"])])


def test_cascade_rows_carry_what_a_restart_needs() -> None:
    e = engine()
    e.set_attended(False, T0)
    e.alarm(case(), T0)
    c = next(c for c in e.cascades("a1") if c.step == 1)
    assert c == Cascade("a1", 1, (SON, GRID), ("sms",), 180.0, 2, True, started=T0,
                        next_at=T0 + 180, position=1)


# --- the hub's own fallback (hub/runtime/fallback.py) ------------------------------------------

HUB_TEXT = "【安心】王秀英…服务站暂时联系不上，请尽快联系老人或上门查看。"
LATE = T0 + 300  # the station hears of the alarm (and what the hub did) when the link is back


def recorded(actions: list[Action]) -> list[tuple[str, int, int, float]]:
    """(phone, step, round, sent at) of each message stored as sent by the hub."""
    return [(a.send.person.phone, a.send.step, a.send.round, a.at) for a in actions
            if isinstance(a, Recorded)]


def test_whom_the_hub_texted_count_as_told_and_the_cascade_goes_on_after_them() -> None:
    """The hub texted the on-call officer and the son at T0 + 120; the station hears of it at
    LATE, before it plans the alarm: only the grid worker is texted, next_after_s after the
    hub's text of the son, which has passed."""
    e = engine()
    e.set_attended(False, T0)
    out = e.fallback(case(), [(ONCALL, T0 + 120), (SON, T0 + 120)], HUB_TEXT, LATE)
    assert recorded(out) == [(ONCALL.phone, 0, 1, T0 + 120), (SON.phone, 1, 1, T0 + 120)]
    assert [(a.note, a.actor) for a in out if isinstance(a, Note)] == [
        (NOTE_FALLBACK, "赵值班（值班人员）、王建国（儿子）")]
    assert sends(out) == [("alarm", GRID.phone, 1, 1, "sms")]  # 300 >= 120 + 180: due now
    assert next(a for a in out if isinstance(a, Recorded)).send.text == HUB_TEXT
    assert sends(e.alarm(case(), LATE)) == []  # the alarm itself, in the same batch: nothing twice
    assert sends(e.tick(LATE + 180)) == [("alarm", SON.phone, 1, 2, "sms")]  # round 2 as before


def test_the_next_person_waits_next_after_s_from_the_hub_s_text() -> None:
    e = engine()
    e.set_attended(False, T0)
    out = e.fallback(case(), [(SON, LATE - 60)], HUB_TEXT, LATE)
    assert sends(out) == [("alarm", ONCALL.phone, 0, 1, "sms")]  # the hub had not told them
    assert e.next_due() == LATE - 60 + 180
    assert sends(e.tick(LATE + 119)) == []
    assert sends(e.tick(LATE + 120)) == [("alarm", GRID.phone, 1, 1, "sms")]


def test_the_fallback_heard_again_or_after_the_alarm_changes_nothing_more() -> None:
    e = engine()
    e.set_attended(False, T0)
    first = e.alarm(case(), LATE)  # the alarm came first: the station texted them already
    assert sends(first) == [("alarm", ONCALL.phone, 0, 1, "sms"), ("alarm", SON.phone, 1, 1, "sms")]
    out = e.fallback(case(), [(SON, T0 + 120)], HUB_TEXT, LATE + 1)
    assert recorded(out) == [(SON.phone, 1, 1, T0 + 120)] and sends(out) == []
    assert e.fallback(case(), [(SON, T0 + 120)], HUB_TEXT, LATE + 2) == []


def test_the_fallback_is_restored_after_a_station_restart() -> None:
    e = engine()
    e.set_attended(False, T0)
    told = [Told("fallback", 1, 1, SON, "sms", at=LATE - 60)]
    e.restore(case(), [], told)
    out = e.tick(LATE)
    assert sends(out) == [("alarm", ONCALL.phone, 0, 1, "sms")]
    assert e.next_due() == LATE - 60 + 180
