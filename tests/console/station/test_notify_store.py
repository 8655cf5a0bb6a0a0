"""The notification rows in a real station database: a message stored once however often it is
planned, cascades read back as they were written, replies taken once and matched to the newest
message to that phone, acceptances, dispatches and arrivals audited; responders loaded from
their file; who counts as attending a console."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from console.station.notify.channel import ChannelError
from console.station.notify.engine import Cascade, Note, Plan, Send, Withdraw
from console.station.notify.responders import Responder
from console.station.notify.texts import Person
from console.station.records_store import OpRefused
from console.station.store.notify import NOTE_DISPATCHED
from console.station.store.station import StationStore
from console.station.users import Role
from hub.common import wire
from tests.support.postgres import StoreAt

SON = Person("王建国", "13800000001", "contact", "儿子")
GRID = Person("李梅", "13900000002", "contact", "网格员")
T0 = 1_800_000_000.0


@pytest.fixture
def store(store_at: StoreAt) -> StationStore:
    s = StationStore(store_at.location)
    s.store_events([wire.EventMsg(hub="h001", id="a1", kind="button.press", source="bedside",
                                  ts=T0, alarm=wire.AlarmInfo(kind="panic", priority=1,
                                                              contact_id=101))], now=T0)
    return s


def send(person: Person, step: int = 1, round: int = 1, topic: str = "alarm") -> Send:
    return Send("a1", topic, step, round, person, "sms", f"text to {person.name}", 1)  # type: ignore[arg-type]


def test_a_message_planned_twice_is_stored_once(store: StationStore) -> None:
    first = store.notify.apply([send(SON), send(GRID)], T0)
    assert [(n.person, n.state, n.created) for n in first.new] == [("王建国", "queued", T0),
                                                                   ("李梅", "queued", T0)]
    again = store.notify.apply([send(SON), send(SON, round=2)], T0 + 1)
    assert [(n.person, n.round) for n in again.new] == [("王建国", 2)]
    assert len(store.notify.for_alarm("a1")) == 3
    assert {n.id for n in store.notify.queued()} == {n.id for n in store.notify.for_alarm("a1")}


def test_a_cascade_reads_back_as_written_and_withdrawing_cancels_what_is_queued(store: StationStore) -> None:
    c = Cascade("a1", 1, (SON, GRID), ("sms",), 180.0, 2, True, started=T0, next_at=T0 + 180,
                position=1)
    applied = store.notify.apply([Plan(c), send(SON), send(GRID, step=0), Note("a1", "notify_held")], T0)
    assert store.notify.cascades("a1") == [c] and store.notify.cascades() == [c]
    assert store.alarm_log("a1")[-1][1:] == (T0, None, "notify_held")
    son, grid = applied.new
    assert store.notify.sent(grid.id, T0 + 2)
    out = store.notify.apply([Withdraw("a1", (1,), "accepted")], T0 + 3)
    assert out.withdrawn == [(son.id, "sms")]
    assert [(n.person, n.state) for n in store.notify.for_alarm("a1")] == [("王建国", "cancelled"),
                                                                           ("李梅", "sent")]
    assert store.notify.sent(son.id, T0 + 4)  # it was on its way: it went, and the row says so


def test_failures_and_retries_keep_the_reason_for_the_desk(store: StationStore) -> None:
    (n,) = store.notify.apply([send(SON)], T0).new
    store.notify.retrying(n.id, attempts=1, next_try=T0 + 5, code="sms.cms_42", error="congestion",
                          fix="retried")
    row = store.notify.get(n.id)
    assert row and (row.state, row.attempts, row.next_try, row.error_code) == (
        "queued", 1, T0 + 5, "sms.cms_42")
    failed, = store.notify.failed([(n.id, ChannelError("sms.cms_1", "unassigned number", retryable=False,
                                                       fix="check the number"))])
    assert (failed.state, failed.attempts, failed.fix) == ("failed", 2, "check the number")
    assert store.notify.failed([(n.id, ChannelError("x", "y", retryable=False))]) == []  # once


def test_a_reply_is_taken_once_and_answers_the_newest_message_to_that_phone(store: StationStore) -> None:
    old, = store.notify.apply([send(SON, step=0)], T0).new
    new, = store.notify.apply([send(SON, step=1)], T0 + 10).new
    for n in (old, new):
        store.notify.sent(n.id, T0 + 11)
    r = store.notify.reply(channel="sms", phone=SON.phone, text="1", sent_at=T0 + 20, meaning="accept",
                           now=T0 + 21)
    assert r is not None and r.answers is not None and r.answers.id == new.id
    assert store.notify.reply(channel="sms", phone=SON.phone, text="1", sent_at=T0 + 20,
                              meaning="accept", now=T0 + 22) is None  # heard twice
    assert store.notify.answer(new.id, "accepted", by="reply", actor="sms:13800000001", now=T0 + 21)
    assert not store.notify.answer(new.id, "accepted", by="reply", actor="sms:13800000001", now=T0 + 22)
    assert store.notify.answer(new.id, "arrived", by="reply", actor="sms:13800000001", now=T0 + 600)
    row = store.notify.get(new.id)
    assert row and (row.state, row.answered, row.answered_by) == ("arrived", T0 + 600, "reply")
    odd = store.notify.reply(channel="sms", phone=SON.phone, text="我在路上，十分钟", sent_at=T0 + 30,
                             meaning="other", now=T0 + 31)
    assert odd and odd.answers and odd.answers.id == new.id
    assert store.alarm_log("a1")[-1][1:] == (T0 + 31, "王建国 13800000001", "我在路上，十分钟")
    stranger = store.notify.reply(channel="sms", phone="13600000000", text="1", sent_at=T0, meaning="accept",
                                  now=T0 + 40)
    assert stranger and stranger.answers is None
    trail = [(e.actor, e.action) for e in store.audit_entries(target="a1") if e.action.startswith("notify")]
    assert trail == [("sms:13800000001", "notify.accepted"), ("sms:13800000001", "notify.arrived")]


def test_a_reply_to_a_message_that_never_went_is_not_an_acceptance_but_the_officer_may_record_one(
        store: StationStore) -> None:
    n, = store.notify.apply([send(SON)], T0).new
    assert not store.notify.answer(n.id, "accepted", by="reply", actor="sms:x", now=T0 + 1)
    assert store.notify.answer(n.id, "accepted", by="zhang", actor="zhang", now=T0 + 1, officer=True)


def test_a_dispatch_and_its_arrival_are_on_the_timeline_and_audited(store: StationStore) -> None:
    d = store.notify.dispatch("a1", kind="volunteer", name="孙丽", phone="13600000007", username="zhang",
                              officer="张三", promise_s=900, now=T0)
    assert store.notify.waiting_arrivals() == [d] and d.late(T0 + 899) is False and d.late(T0 + 901)
    assert store.alarm_log("a1")[-1][1:] == (T0, "孙丽", NOTE_DISPATCHED)
    arrived = store.notify.arrive(d.id, by="reply", actor="sms:13600000007", now=T0 + 600)
    assert arrived and arrived.arrived == T0 + 600 and not arrived.late(T0 + 10_000)
    assert store.notify.arrive(d.id, by="zhang", actor="zhang", now=T0 + 700) is None  # once
    assert store.notify.waiting_arrivals() == [] and store.notify.dispatches_between(T0, T0 + 1) == [arrived]
    assert store.notify.dispatches_of(["a1", "nope"]) == {"a1": [arrived]}
    with pytest.raises(OpRefused, match="no alarm"):
        store.notify.dispatch("nope", kind="family", name="x", phone="", username="zhang", officer="张三",
                              promise_s=900, now=T0)
    actions = [e.action for e in store.audit_entries(target="a1")]
    assert actions[-2:] == ["alarm.dispatch", "alarm.arrived"] and store.verify_audit().ok


def test_responders_load_like_homes_changed_entries_replace_removed_ones_stop(store: StationStore) -> None:
    zhao = Responder(name="赵志刚", phone="137-0000-0009", role="on_call")
    sun = Responder(name="孙丽", phone="13600000007", role="volunteer", villages=["桃源村"])
    assert store.notify.load_responders([zhao, sun], actor="responders.yaml", now=T0) == [
        "13700000009", "13600000007"]
    assert store.notify.load_responders([zhao, sun], actor="responders.yaml", now=T0 + 1) == []
    moved = sun.model_copy(update={"villages": ["柳湾村"]})
    assert store.notify.load_responders([moved], actor="responders.yaml", now=T0 + 2) == [
        "13600000007", "13700000009"]
    assert [r.responder.name for r in store.notify.responders()] == ["孙丽"]
    assert [(r.responder.name, r.active) for r in store.notify.responders(active_only=False)] == [
        ("赵志刚", False), ("孙丽", True)]
    assert [e.action for e in store.audit_entries() if e.action.startswith("responder")] == [
        "responder.save", "responder.save", "responder.save", "responder.remove"]


def test_a_console_attends_while_its_session_makes_requests(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    s.users.add("zhang", "张三", Role.DUTY, "a-good-password", actor="test", now=T0)
    session = s.users.login("zhang", "a-good-password", via="desk1", now=T0)
    assert s.users.attended(since=T0 - 90, now=T0) == ["desk1"]
    assert s.users.attended(since=T0 + 1, now=T0 + 91) == []  # quiet for 90 s: unattended
    s.users.seen(session.token, now=T0 + 100)
    assert s.users.attended(since=T0 + 10, now=T0 + 100) == ["desk1"]
    s.users.logout(session.token, now=T0 + 101)
    assert s.users.attended(since=T0 + 10, now=T0 + 101) == []


def test_an_older_database_gets_the_new_tables_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, "
               "console TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL, ended REAL)")
    db.commit()
    db.close()
    s = StationStore(path)
    assert s.users.attended(since=0, now=T0) == []
    assert s.notify.for_alarm("x") == [] and s.notify.cascades() == []


def test_the_ledger_reads_each_alarms_messages_acceptance_and_dispatches(store: StationStore) -> None:
    son, grid = store.notify.apply([send(SON), send(GRID, step=0)], T0 + 5).new
    store.notify.sent(son.id, T0 + 6)
    store.notify.failed([(grid.id, ChannelError("sms.no_sim", "no SIM", retryable=False))])
    store.notify.apply([Note("a1", "notify_accepted", "王建国（儿子）")], T0 + 125)
    store.notify.apply([Note("a1", "notify_accepted", "李梅")], T0 + 300)
    d = store.notify.dispatch("a1", kind="volunteer", name="孙丽", phone="13600000007", username="zhang",
                              officer="张三", promise_s=900, now=T0 + 200)
    store.notify.arrive(d.id, by="zhang", actor="zhang", now=T0 + 800)
    (a,) = store.alarm_records(T0, T0 + 1)
    assert (a.sent, a.failed, a.accepted) == (1, 1, T0 + 125)
    assert [(x.name, x.dispatched, x.arrived, x.promise_s) for x in a.dispatches] == [
        ("孙丽", T0 + 200, T0 + 800, 900)]
    assert store.alarm_records(T0 + 1, T0 + 2) == []  # filed under the month its alarm came
