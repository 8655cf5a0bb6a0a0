"""Hub outbox and station database: durability, de-duplication, atomic claims, ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.station.config import Category, Elder, Home
from console.station.store import db as engine
from console.station.store.alarms import ClaimConflict
from console.station.store.reader import ReadOnly, StationReader
from console.station.store.rows import CANCELLED_AT_HOME
from console.station.store.station import StationStore
from console.station.users import Role
from drivers.ble.decode import Count, Counted
from hub.common import wire
from hub.common.events import CANCEL_KIND, AlarmState, Event
from hub.runtime.outbox import Outbox
from hub.runtime.store import HubStore, StoreError
from tests.support.postgres import StoreAt


def test_outbox_survives_reopen_and_acks_once(tmp_path: Path) -> None:
    s = HubStore(tmp_path / "hub.db")
    s.put("a", b"A", alarm=True, alarm_kind="panic", now=1)
    s.put("b", b"B", alarm=False, now=2)
    s.close()
    s = HubStore(tmp_path / "hub.db")
    assert [p.id for p in s.pending()] == ["a", "b"]
    assert s.ack(["a"], 5.0) == ["a"]
    assert s.ack(["a"], 6.0) == []  # a repeated ack is not news
    assert [p.id for p in s.pending()] == ["b"]
    assert s.open_alarms()[0].id == "a"


def test_ble_counts_survive_reopen_and_keep_each_sensors_newest_digests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.runtime.store.MAX_REMEMBERED", 3)
    s = HubStore(tmp_path / "hub.db")
    for n in range(1, 6):
        s.keep_ble_count(Counted("AA:BB:CC:DD:EE:01", "bthome", Count(n, n, 100.0 + n, bytes([n]) * 8),
                                 bytes([n]) * 8))
    s.keep_ble_count(Counted("AA:BB:CC:DD:EE:02", "xiaomi", Count(7, 9000, 50.0, b"\x07" * 8), b"\x07" * 8))
    s.keep_ble_count(Counted("AA:BB:CC:DD:EE:02", "xiaomi", Count(2000, 9000, 60.0, b"\x08" * 8), None))
    s.close()
    s = HubStore(tmp_path / "hub.db")
    assert s.ble_counts() == {
        ("AA:BB:CC:DD:EE:01", "bthome"): (Count(5, 5, 105.0, b"\x05" * 8),
                                          [bytes([n]) * 8 for n in (3, 4, 5)]),
        ("AA:BB:CC:DD:EE:02", "xiaomi"): (Count(2000, 9000, 60.0, b"\x08" * 8), [b"\x07" * 8]),
    }


def test_lifecycle_only_moves_forward(tmp_path: Path) -> None:
    s = HubStore(tmp_path / "hub.db")
    s.put("a", b"A", alarm=True, alarm_kind="panic", now=1)
    assert s.advance("a", AlarmState.CLAIMED, 3)
    assert not s.advance("a", AlarmState.DELIVERED, 2)  # late ack after the claim
    assert not s.advance("a", AlarmState.CLAIMED, 3)  # repeat
    assert s.advance("a", AlarmState.RESOLVED, 4)
    assert not s.advance("a", AlarmState.CANCELLED, 5)  # closed stays closed
    assert [st for st, _, _ in s.timeline("a")] == [AlarmState.RAISED, AlarmState.SENT, AlarmState.CLAIMED,
                                                    AlarmState.RESOLVED]
    assert s.open_alarms() == []


def test_damaged_outbox_is_reported_not_crashed_on(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open the hub database"):
        HubStore(path)


def alarm_msg(id: str, hub: str, kind: str = "panic", ts: float = 1.0) -> wire.EventMsg:
    return wire.event_msg(hub, Event(kind="button.press", source="b", ts=ts, alarm=kind, id=id))


def elder(name: str, cat: Category) -> Elder:
    return Elder(name=name, category=cat, address="x")


def test_station_deduplicates_and_claims_atomically(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    assert s.store_event(alarm_msg("e1", "h1"))
    assert not s.store_event(alarm_msg("e1", "h1"))  # at-least-once delivery repeats
    assert s.count("alarms") == 1
    claimed = s.claim("e1", "zhang", "张三")
    assert (claimed.claimed_by, claimed.officer) == ("zhang", "张三")
    with pytest.raises(ClaimConflict, match="already claimed by 张三"):
        s.claim("e1", "li", "李四")
    with pytest.raises(ClaimConflict, match="already claimed by 张三"):
        s.resolve("e1", "li", "李四", "false_alarm")
    with pytest.raises(ClaimConflict, match="already claimed by 张三"):
        s.resolve("e1", "zhang2", "张三", "false_alarm")  # the same display name is not the same user
    row = s.resolve("e1", "zhang", "张三", "safe_by_phone", "called")
    assert row.state is AlarmState.RESOLVED and row.outcome == "safe_by_phone"
    assert [st for st, *_ in s.alarm_log("e1")] == [
        AlarmState.RAISED, AlarmState.DELIVERED, AlarmState.CLAIMED, AlarmState.RESOLVED]
    with pytest.raises(ClaimConflict, match="no alarm"):
        s.claim("nope", "zhang", "张三")


def test_queue_order_priority_then_group_then_age(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    s.load_homes([Home(hub="h1", elder=elder("一般", Category.GENERAL)),
                  Home(hub="h2", elder=elder("重点", Category.KEY))])
    s.store_event(alarm_msg("tech", "h2", kind="battery_low", ts=1))
    s.store_event(alarm_msg("general-old", "h1", ts=2))
    s.store_event(alarm_msg("key-new", "h2", ts=3))
    s.store_event(alarm_msg("unregistered", "h9", ts=0))
    assert [a.id for a in s.open_alarms()] == ["key-new", "general-old", "unregistered", "tech"]


def test_console_reads_while_service_writes(store_at: StoreAt) -> None:
    writer = StationStore(store_at.location)
    reader = StationReader.open(store_at.readonly)
    writer.store_event(alarm_msg("e1", "h1"))
    assert reader.alarm("e1") is not None
    assert not hasattr(reader, "store_event")
    with pytest.raises(ReadOnly, match="read-only here: only the station service"):
        reader.users.add("zhang", "张三", Role.DUTY, "a-password-1", actor="test", now=1.0)
    with pytest.raises(engine.errors(), match=r"readonly|read-only transaction"):
        reader._db.execute("DELETE FROM alarms")  # a console's connection cannot write at all


def cancel_msg(ref: str, hub: str, ts: float) -> wire.EventMsg:
    return wire.event_msg(hub, Event(kind=CANCEL_KIND, source="bedside", ts=ts, data={"ref": ref}))


def test_cancel_at_home_closes_an_untaken_alarm_and_notes_a_taken_one(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    s.store_event(alarm_msg("a1", "h001"))
    s.store_event(alarm_msg("a2", "h001"))
    s.claim("a2", "officer", "Officer")
    assert s.store_event(cancel_msg("a1", "h001", 5.0))
    assert s.store_event(cancel_msg("a2", "h001", 6.0))
    a1, a2 = s.alarm("a1"), s.alarm("a2")
    assert a1 and a1.state is AlarmState.CANCELLED and a1.outcome == CANCELLED_AT_HOME and a1.closed == 5.0
    assert a2 and a2.state is AlarmState.CLAIMED  # an officer has it: they check on the elder
    assert s.alarm_log("a2")[-1] == (AlarmState.CLAIMED, 6.0, "h001", CANCELLED_AT_HOME)
    # another hub cannot cancel h001's alarm
    s.store_event(alarm_msg("a3", "h001"))
    s.store_event(cancel_msg("a3", "h002", 7.0))
    a3 = s.alarm("a3")
    assert a3 and a3.state is AlarmState.DELIVERED


def test_held_alarm_is_stored_unsent_then_released_or_cancelled_in_one_go(tmp_path: Path) -> None:
    s = HubStore(tmp_path / "hub.db")
    s.hold("f1", b"F1", alarm_kind="fall", raised=99.0, now=100.0)
    s.hold("f2", b"F2", alarm_kind="fall", raised=99.0, now=100.0)
    assert s.pending() == [] and s.held() == ["f1", "f2"]
    assert [(a.state, a.sent) for a in s.open_alarms()] == [(AlarmState.RAISED, None)] * 2
    assert s.release("f1", now=131.0)
    assert not s.release("f1", now=132.0)  # released once
    assert s.cancel_held("f2", "c2", b"C2", ts=120.0, now=120.5)
    assert [p.id for p in s.pending()] == ["f1", "f2", "c2"]  # the alarm, then its cancellation
    f1 = next(a for a in s.open_alarms() if a.id == "f1")
    assert (f1.state, f1.raised, f1.sent) == (AlarmState.SENT, 100.0, 131.0)  # escalation counts from sent
    assert {st for st, _, _ in s.timeline("f2")} == {AlarmState.RAISED, AlarmState.SENT, AlarmState.CANCELLED}
    assert [a.id for a in s.open_alarms()] == ["f1"] and s.held() == []


def test_what_the_outbox_held_before_a_start_is_marked_to_be_checked_again(tmp_path: Path) -> None:
    s = HubStore(tmp_path / "hub.db")
    s.put("old", b"O", alarm=True)
    s.close()
    s = HubStore(tmp_path / "hub.db")  # perhaps a newer version, with other limits
    s.put("new", b"N", alarm=True)
    assert [(p.id, p.inherited) for p in s.pending()] == [("old", True), ("new", False)]
    assert [(p.id, p.inherited) for p in s.lane("alarm")] == [("old", True), ("new", False)]


def test_a_held_alarm_that_can_no_longer_be_sent_is_released_set_aside(tmp_path: Path) -> None:
    s = HubStore(tmp_path / "hub.db")
    s.hold("f1", b"F1", alarm_kind="fall", raised=99.0, now=100.0)
    s.hold("f2", b"F2", alarm_kind="fall", raised=99.0, now=100.0)
    assert s.release("f1", now=131.0, stamp=lambda p: None)  # it failed today's wire checks
    assert s.release("f2", now=131.0, stamp=lambda p: p + b"!")
    assert [(p.id, p.payload) for p in s.pending()] == [("f2", b"F2!")]  # f1 holds back nothing
    assert s.held() == [] and {a.id: a.state for a in s.open_alarms()} == {
        "f1": AlarmState.SENT, "f2": AlarmState.SENT}


def test_the_outbox_encodes_once_stamps_a_released_alarm_and_wakes_the_uplink(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    outbox = Outbox(HubStore(tmp_path / "hub.db"), "h001", keep_acked_days=7)
    woken: list[int] = []
    outbox.wake = lambda: woken.append(1)
    fall = Event(kind="fall.detected", source="radar", ts=100.0, alarm="fall")
    outbox.hold(fall, priority=2)
    assert outbox.store.held() == [fall.id] and woken == []  # on disk, not sent
    outbox.store.hold("old", b"not a message any more", alarm_kind="fall", raised=90.0)
    assert outbox.release(fall.id) and outbox.release("old") and len(woken) == 2
    [p] = outbox.store.pending()  # "old" went in set aside: it holds back nothing
    msg = wire.decode_as(p.payload, wire.EventMsg)
    assert (msg.id, msg.ts, msg.alarm and msg.alarm.priority) == (fall.id, 100.0, 2)
    assert msg.data["sent"] >= 100.0 and msg.seq is None  # seq comes as the uplink publishes
    assert "held alarm old can no longer be sent" in caplog.text
    outbox.send(Event(kind="door.open", source="front_door"), "telemetry")
    assert [q.lane for q in outbox.store.pending()] == ["alarm", "telemetry"] and len(woken) == 3
