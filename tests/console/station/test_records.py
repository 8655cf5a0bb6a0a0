"""The duty desk's data at the station: elder records, overrides, visits, follow-ups, checklist
steps and notes; each op over a real Mosquitto, accepted and refused, and the store beneath."""

from __future__ import annotations

import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.casework.county import load_county
from console.casework.schedule import agenda
from console.station.config import DEFAULT_COUNTY, Category, StationConfig, load_homes
from console.station.records_store import OpRefused
from console.station.service import StationService
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from console.station.users import Role
from console.tui.client import StationClient
from hub.common import wire
from tests.conftest import REPO, eventually
from tests.support.accounts import add_users, desk
from tests.support.postgres import StoreAt

RULES = load_county(DEFAULT_COUNTY)
HOMES = load_homes(REPO / "config/homes.yaml")
TODAY = date.today()


def alarm(id: str, hub: str = "h001", ts: float | None = None, kind: str = "fall") -> wire.EventMsg:
    return wire.EventMsg(hub=hub, id=id, kind="fall.detected", source="radar",
                         ts=time.time() if ts is None else ts,
                         alarm=wire.AlarmInfo(kind=kind, priority=1, contact_id=101))


def visit(**over: Any) -> dict[str, Any]:
    return {"day": TODAY.isoformat(), "mode": "phone", "contents": ["health"], **over}


@pytest.fixture
def officers(station_cfg: StationConfig, cheap_passwords: None) -> None:
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY), ("li", "李四", Role.DUTY),
              ("wang", "王主管", Role.SUPERVISOR))


async def test_every_desk_op_accepted_and_refused_over_mqtt(station_cfg: StationConfig,
                                                            officers: None) -> None:
    heard: list[wire.Changed] = []
    async with StationService(station_cfg) as station, \
            desk(station_cfg, "zhang", on_changed=heard.append) as zhang, \
            desk(station_cfg, "li") as li, desk(station_cfg, "wang") as wang:
        station.store.store_event(alarm("a1"))
        assert (await zhang.request("claim", "a1", timeout=5)).ok

        async def refused(c: StationClient, op: str, alarm: str | None = None, **f: object) -> str:
            r = await c.request(op, alarm, timeout=5, **f)
            assert not r.ok and r.error, (op, f)
            return f"{r.code}: {r.error}"

        # alarm_step: a step of the fall plan, by the officer who claimed it
        assert (await zhang.request("alarm_step", "a1", step="assess", notes="说话清楚", timeout=5)).ok
        assert "invalid: step" in await refused(zhang, "alarm_step", "a1", step="no_such")
        assert (await refused(li, "alarm_step", "a1", step="locate")).startswith("not_yours")
        assert (await wang.request("alarm_step", "a1", step="locate", timeout=5)).ok  # supervisor
        assert [(s.step, s.officer, s.note) for s in station.store.alarm_steps("a1")] == [
            ("assess", "张三", "说话清楚"), ("locate", "王主管", "")]
        assert (await refused(zhang, "alarm_step", "zz", step="locate")).startswith("no_alarm")
        # alarm_note: on the timeline
        assert (await li.request("alarm_note", "a1", notes="邻居已上门", timeout=5)).ok
        assert station.store.alarm_log("a1")[-1][2:] == ("李四", "邻居已上门")
        # resolve: county outcome codes only
        assert "invalid: outcome" in await refused(zhang, "resolve", "a1", outcome="whatever")
        assert (await zhang.request("resolve", "a1", outcome="onsite_help", timeout=5)).ok
        assert (await refused(zhang, "alarm_step", "a1", step="record")).startswith("closed")

        # elder_save: validated, the category recomputed by the county rules
        record = HOMES[2].elder.model_dump(mode="json") | {"age": 85, "medicines": ["硝苯地平"]}
        assert (await zhang.request("elder_save", hub="h003", record=record, timeout=5)).ok
        saved = station.store.elder("h003")
        assert saved and saved.category is Category.KEY and saved.medicines == ["硝苯地平"]
        bad = record | {"contacts": [{"name": "刘强", "phone": "call me"}]}
        assert "invalid: record.contacts.0.phone" in await refused(zhang, "elder_save", hub="h003",
                                                                    record=bad)
        assert (await zhang.request("elder_save", hub="h099", record=record | {"name": "新老人"},
                                    timeout=5)).ok  # a new home
        # elder_override: a supervisor's decision, with a reason; null clears it
        assert (await refused(zhang, "elder_override", hub="h003", category="general",
                              notes="子女同住")).startswith("not_allowed")
        assert "invalid: notes" in await refused(wang, "elder_override", hub="h003", category="general")
        assert (await refused(wang, "elder_override", hub="nohub", category="general",
                              notes="子女同住")).startswith("unknown_hub")
        assert (await wang.request("elder_override", hub="h003", category="general",
                                   notes="子女已搬来同住", timeout=5)).ok
        over = station.store.elder("h003")
        assert over and over.category is Category.GENERAL and over.override
        assert over.override.by == "wang"
        # … and an edit keeps it
        assert (await zhang.request("elder_save", hub="h003", record=record | {"allergies": ["青霉素"]},
                                    timeout=5)).ok
        kept = station.store.elder("h003")
        assert kept and kept.override and kept.category is Category.GENERAL
        assert kept.allergies == ["青霉素"]
        assert (await wang.request("elder_override", hub="h003", timeout=5)).ok
        assert (e := station.store.elder("h003")) and e.category is Category.KEY and not e.override

        # visit_save, with a follow-up; followup_close
        found = [{"content": "home_safety", "text": "燃气灶软管老化"}]
        assert (await zhang.request("visit_save", hub="h003", record=visit(
            mode="home", contents=["health", "home_safety"], followups=found), timeout=5)).ok
        [v] = station.store.visits("h003")
        assert (v.mode, v.by, v.category, v.contents) == ("home", "张三", Category.KEY,
                                                          ("health", "home_safety"))
        assert "invalid:" in await refused(zhang, "visit_save", hub="h003", record=visit(mode="fax"))
        assert "record.day" in await refused(zhang, "visit_save", hub="h003",
                                             record=visit(day="yesterday"))
        assert "future" in await refused(zhang, "visit_save", hub="h003", record=visit(
            day=(TODAY + timedelta(days=2)).isoformat()))
        assert (await refused(zhang, "visit_save", hub="h404", record=visit())).startswith("unknown_hub")
        [f] = station.store.followups()
        assert f.text == "燃气灶软管老化" and f.visit == v.id
        assert (await li.request("followup_close", followup=f.id, notes="已更换", timeout=5)).ok
        assert station.store.followups() == []
        assert (await refused(li, "followup_close", followup=f.id)).startswith("closed")
        assert (await refused(li, "followup_close", followup="nope")).startswith("no_followup")

        await eventually(lambda: {(c.what, c.id) for c in heard} >= {
            ("alarm", "a1"), ("home", "h003"), ("home", "h099")}, what="Changed notices")
        actions = [e.action for e in station.store.audit_entries()]
        for action in ("alarm.step", "alarm.note", "alarm.resolve", "elder.record", "elder.category",
                       "elder.category.override", "elder.category.clear", "visit.save",
                       "followup.close"):
            assert action in actions
        assert station.store.verify_audit().ok


def test_file_edits_apply_until_the_desk_edits_the_record(store_at: StoreAt,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    s = StationStore(store_at.location)
    s.load_homes(HOMES, now=1.0)
    moved = [h.model_copy(update={"elder": h.elder.model_copy(update={"address": "青石镇新村1号"})})
             for h in HOMES[:2]]
    later = time.time() + 1
    # first setup: an entry corrected in the file replaces the file's record, as a whole
    assert s.load_homes([moved[0], *HOMES[1:]], actor="homes.yaml", now=later) == ["h001"]
    assert (e := s.elder("h001")) and e.address == "青石镇新村1号"
    [entry] = s.audit_entries(since=later)
    assert entry.detail["fields"] == ["address"]
    record = HOMES[1].elder.model_dump(mode="json") | {"key_holder": {
        "name": "李婶", "relation": "邻居", "phone": "139-0000-0009"}}
    s.records.save_elder("h002", record, RULES, actor="zhang", now=time.time())  # rules: today
    s.close()
    s = StationStore(store_at.location)
    caplog.set_level("WARNING", "console.station.store.homes")
    assert s.load_homes([moved[0], *HOMES[1:]], now=3.0) == []  # the same file: the edit stands
    assert (e := s.elder("h002")) and e.key_holder and e.key_holder.name == "李婶"
    assert caplog.text == ""
    # the file's entry changed after the desk's edit: the database is the truth, said once
    assert s.load_homes([*moved, *HOMES[2:]], actor="homes.yaml", now=later + 1) == []
    assert (e := s.elder("h002")) and e.key_holder and e.key_holder.name == "李婶"
    assert e.address == HOMES[1].elder.address
    assert "homes.yaml: 1 home(s) differ from their records at the station" in caplog.text
    assert "(h002)" in caplog.text
    assert s.audit_entries(since=later + 1) == []
    caplog.clear()
    assert s.load_homes([*moved, *HOMES[2:]], actor="homes.yaml", now=later + 2) == []
    assert caplog.text == ""
    assert s.verify_audit().ok


def test_reads_for_the_schedule_the_ledger_and_the_card(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    s.load_homes(HOMES, now=time.time() - 40 * 86400)
    now = time.time()
    s.records.save_visit("h002", visit(mode="home"), RULES, actor="zhang", officer="张三", now=now)
    s.records.save_visit("h003", visit(reached=False, contents=[]), RULES, actor="zhang",
                         officer="张三", now=now)
    hist = {h.elder: h for h in s.visit_histories()}
    assert hist["h002"].last_visit == TODAY and hist["h002"].last_home_visit == TODAY
    assert hist["h003"].last_visit is None  # tried, not reached
    plan = agenda(s.visit_histories(), RULES, TODAY)
    assert "h002" not in {d.elder for d in plan.overdue} and "h003" in {d.elder for d in plan.overdue}
    assert [v.elder for v in s.visits(since=TODAY, until=TODAY)] == ["h002", "h003"]
    assert s.visits(until=TODAY - timedelta(days=1)) == []

    s.store_events([alarm("a1", ts=now - 5), alarm("a2", ts=now - 1)], now=now)
    s.claim("a1", "zhang", "张三", now=now + 30)
    s.resolve("a1", "zhang", "张三", "safe_by_phone", now=now + 60)
    assert [a.id for a in s.alarm_history("h001")] == ["a2", "a1"]
    assert [a.id for a in s.alarm_history("h001", limit=1)] == ["a2"]
    recs = {r.id: r for r in s.alarm_records(now - 1, now + 1)}
    assert recs["a1"].name == "王秀英" and recs["a1"].claimed == now + 30
    assert recs["a1"].category is Category.KEY and recs["a2"].outcome is None
    assert s.alarm_records(now + 1, now + 2) == []

    t = now - 100
    for i, (kind, source, data) in enumerate([
            ("presence.on", "radar", {}), ("door.open", "front", {"location": "大门", "type": "door"}),
            ("battery.level", "front", {"percent": 80}), ("door.close", "front", {"location": "大门"}),
            ("device.silent", "smoke1", {"type": "smoke"}), ("battery.level", "front", {"percent": 75}),
            ("smoke.on", "kitchen_smoke", {"room": "厨房"}), ("leak.on", "bath_leak", {"room": "卫生间"}),
            ("leak.off", "bath_leak", {"room": "卫生间"})]):
        s.store_event(wire.EventMsg(hub="h001", id=f"e{i}", kind=kind, source=source, ts=t + i, data=data))
    st = s.home_state("h001")
    assert (st.presence, st.presence_since) == (True, t)
    assert st.doors == {"大门": (False, t + 3)} and st.last_activity == t + 3
    sensors = {x.name: x for x in st.sensors}
    front = sensors["front"]
    assert (front.kind, front.battery, front.last_seen) == ("door", 75, t + 5)
    assert sensors["smoke1"].silent and sensors["smoke1"].kind == "smoke"
    assert "radar" in sensors
    assert (sensors["kitchen_smoke"].room, sensors["kitchen_smoke"].alarming) == ("厨房", True)
    assert (sensors["bath_leak"].room, sensors["bath_leak"].alarming) == ("卫生间", False)  # dried since
    nothing = s.home_state("nohub")
    assert not nothing.online and nothing.sensors == [] and nothing.presence is None


def test_an_alarms_repeat_of_its_trigger_is_not_a_new_reading(store_at: StoreAt) -> None:
    """A wandering alarm is a door.open raised 15 min after the door opened (sent then on its
    own): the door opened, and someone last moved, when the door did, not when the alarm came.
    Without its trigger stored, the alarm stands for the reading at the trigger's time."""
    s = StationStore(store_at.location)
    t = time.time() - 3600
    door = wire.EventMsg(hub="h001", id="d1", kind="door.open", source="front_door", ts=t,
                         data={"room": "门厅", "type": "door"})
    def raised(id: str, trigger: str) -> wire.EventMsg:
        return door.model_copy(update={
            "id": id, "ts": t + 900, "alarm": wire.AlarmInfo(kind="wandering", priority=2, contact_id=641),
            "data": {**door.data, "trigger_id": trigger, "trigger_ts": t}})

    s.store_events([door, raised("w1", "d1")], now=t + 901)
    st = s.home_state("h001")
    assert (st.doors, st.last_activity) == ({"门厅": (True, t)}, t)
    s.store_events([raised("w2", "never-sent")], now=t + 902)
    assert s.home_state("h001").doors == {"门厅": (True, t)}


def test_a_past_months_roster_leaves_out_later_homes_and_reads_back_the_groups(store_at: StoreAt) -> None:
    """The ledger of a past month counts the roster of that month, not today's."""
    s = StationStore(store_at.location)
    joined = time.time() - 40 * 86400
    end = joined + 10 * 86400  # the end of the past month
    s.load_homes(HOMES[:3], now=joined)
    s.load_homes(HOMES, now=end + 86400)  # h004 and h005 join after it
    then = {"h001": Category.KEY, "h002": Category.SECONDARY, "h003": Category.GENERAL}
    assert s.roster_at(end) == then
    s.records.override("h001", Category.GENERAL, "子女已接回同住，每日有人照看", RULES, actor="wang",
                       now=end + 2 * 86400)  # a supervisor's change of group
    def in_group(group: Category) -> Any:
        return HOMES[1].model_copy(update={"elder": HOMES[1].elder.model_copy(update={"category": group})})

    s.load_homes([in_group(Category.KEY)], now=end + 3 * 86400)  # and one in homes.yaml,
    s.load_homes([in_group(Category.GENERAL)], now=end + 4 * 86400)  # twice: the first says
    assert s.roster_at(end) == then
    now = s.roster_at(time.time())
    assert (now["h001"], now["h002"], len(now)) == (Category.GENERAL, Category.GENERAL, 5)


def test_a_past_alarm_is_filed_under_the_group_the_elder_had_then(store_at: StoreAt) -> None:
    """The ledger counts an alarm in the group its elder was in when it came: a supervisor's
    later change of group (audited) does not move it."""
    s = StationStore(store_at.location)
    t = time.time() - 30 * 86400
    s.load_homes(HOMES[:1], now=t)  # h001 王秀英, key group
    s.store_events([alarm("a1", ts=t + 86400)], now=t + 86400)
    s.records.override("h001", Category.GENERAL, "子女已接回同住，每日有人照看", RULES, actor="wang",
                       now=t + 2 * 86400)
    s.store_events([alarm("a2", ts=t + 3 * 86400)], now=t + 3 * 86400)
    groups = {r.id: r.category for r in s.alarm_records(t, t + 4 * 86400)}
    assert groups == {"a1": Category.KEY, "a2": Category.GENERAL}
    assert [r.category for r in s.alarm_records(t + 86400, t + 2 * 86400)] == [Category.KEY]


def test_queue_order_priority_group_then_the_oldest_elder(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    s.load_homes(HOMES)  # h001 王秀英 86 key, h004 陈永年 91 key, h003 general
    now = time.time()
    s.store_events([alarm("x3", "h003", now - 30), alarm("x1", "h001", now - 20),
                    alarm("x4", "h004", now - 10)], now=now)
    assert [a.id for a in s.open_alarms()] == ["x4", "x1", "x3"]


def test_an_old_database_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    old = sqlite3.connect(db)
    old.executescript("""
        CREATE TABLE homes (hub TEXT PRIMARY KEY, elder TEXT, online INTEGER NOT NULL DEFAULT 0,
            status_ts REAL, last_heartbeat REAL, pending INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE alarms (id TEXT PRIMARY KEY, hub TEXT NOT NULL, kind TEXT NOT NULL,
            priority INTEGER NOT NULL, contact_id INTEGER NOT NULL, source TEXT NOT NULL,
            location TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, raised REAL NOT NULL,
            received REAL NOT NULL, officer TEXT, claimed REAL, closed REAL, outcome TEXT, notes TEXT);
    """)
    old.execute("INSERT INTO homes(hub, elder) VALUES ('h001', ?)", (HOMES[0].elder.model_dump_json(),))
    old.execute("INSERT INTO alarms VALUES ('a0','h001','panic',1,101,'b','','delivered',1,1,"
                "NULL,NULL,NULL,NULL,NULL)")
    old.commit()
    old.close()
    s = StationStore(db)
    a = s.alarm("a0")
    assert a and a.escalated is None and a.claimed_by is None and a.elder and a.elder.name == "王秀英"
    assert s.escalate(cutoff=2.0, now=3.0) == ["a0"]
    assert [h.elder for h in s.visit_histories()] == ["h001"]
    assert s.load_homes(HOMES, now=5.0) == ["h002", "h003", "h004", "h005"]  # h001 as stored
    assert s.visits() == [] and s.followups(open_only=False) == []
    s.close()
    ro = StationReader.open(db)
    assert ro.elders()[0][0] == "h001" and ro.verify_audit().ok
    ro.close()


def test_store_refusals_name_the_problem(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    s.load_homes(HOMES)
    with pytest.raises(OpRefused, match=r"record\.name") as e:
        s.records.save_elder("h001", {"name": "", "address": "x"}, RULES, actor="z", now=1.0)
    assert e.value.code == "invalid"
    with pytest.raises(OpRefused, match=r"override\.reason"):
        s.records.override("h001", Category.GENERAL, "x", RULES, actor="wang", now=1.0)
    with pytest.raises(OpRefused, match="follow-up 0: unknown content"):
        s.records.save_visit("h001", visit(followups=[{"content": "nope", "text": "t"}]), RULES,
                             actor="z", officer="Z", now=time.time())
    assert s.visits() == [] and s.verify_audit().ok
