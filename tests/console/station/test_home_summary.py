"""The per-home summary (store/summary.py): kept at ingest, it must say what the home's stored
events say, whatever order they came in and whatever else the station wrote meanwhile
(heartbeats, statuses, alarms claimed and resolved), on both engines; an older database gets
it made from its events, in the background after a start that reads none of them."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from console.station.config import StationConfig
from console.station.service import StationService, station_will
from console.station.store import backfill, summary
from console.station.store.backfill import Backfill
from console.station.store.db import Location
from console.station.store.ingest import OutOfOrder
from console.station.store.reader import StationReader
from console.station.store.rows import HomeFigures, HomeState, SensorRow
from console.station.store.station import StationStore
from hub.common import wire
from hub.common.transport import MemoryBroker
from tests.support.postgres import StoreAt

HUBS = ("h001", "h002", "h003", "h004")
WANDERING = wire.AlarmInfo(kind="wandering", priority=2, contact_id=641)
PANIC = wire.AlarmInfo(kind="panic", priority=1, contact_id=101)
# what a home's devices say (kind, source, data); a battery's percent is drawn at random
WORDS: list[tuple[str, str, dict[str, Any]]] = [
    ("presence.on", "radar", {}), ("presence.off", "radar", {}),
    ("motion.active", "pir", {"room": "卧室"}), ("tamper.open", "pir", {}),
    ("door.open", "front", {"location": "大门", "type": "door"}),
    ("door.close", "front", {"location": "大门"}),
    ("door.open", "back", {"room": "厨房"}), ("door.close", "back", {}),
    ("battery.level", "front", {}), ("battery.level", "pir", {"room": "客厅"}),
    ("device.silent", "smoke1", {"type": "smoke"}), ("device.back", "smoke1", {}),
    ("smoke.on", "smoke1", {"room": "厨房"}), ("smoke.off", "smoke1", {}),
    ("leak.on", "leak1", {"room": "卫生间"}), ("leak.off", "leak1", {"location": ""}),
    ("button.press", "button1", {"location": "卧室床头"}), ("fall.detected", "radar", {"room": "卫生间"}),
    ("walktest.ping", "hub", {}), ("residency.on", "radar", {}),
]


def told(events: list[wire.EventMsg], stored: set[str], online: bool,
         heartbeat: float | None) -> HomeState:
    """The home's state as home_state read it before the summary: the events newest first
    (by when each reading was taken), the first word on a thing wins; an alarm that repeats a
    stored trigger is no reading, one whose trigger was not stored reads at the trigger's time.
    Written out here as the summary's independent check (the events below never say two
    different things at one time: see the next test for that)."""
    rows = sorted(((e.kind, e.data.get("trigger_ts", e.ts), e.source, e.data) for e in events
                   if e.data.get("trigger_id") not in stored), key=lambda r: r[1], reverse=True)
    presence: tuple[bool | None, float | None] = (None, None)
    doors: dict[str, tuple[bool, float]] = {}
    activity = None
    sensors: dict[str, dict[str, Any]] = {}
    for kind, ts, source, data in rows:
        family, _, state = kind.partition(".")
        if activity is None and kind in summary.ACTIVITY:
            activity = ts
        if presence[0] is None and kind in ("presence.on", "presence.off"):
            presence = (state == "on", ts)
        if family == "door":
            doors.setdefault(str(data.get("location") or data.get("room") or source), (state == "open", ts))
        if family not in summary.SENSOR_EVENTS or source == "hub":
            continue
        s = sensors.setdefault(source, {"kind": None, "battery": None, "seen": ts, "silent": None,
                                        "room": None, "alarming": None})
        where = data.get("room") or data.get("location")
        if s["room"] is None and isinstance(where, str):
            s["room"] = where
        if s["alarming"] is None and family in summary.HAZARDS and state in ("on", "off"):
            s["alarming"] = state == "on"
        if s["kind"] is None and ("type" in data or family not in ("battery", "device", "tamper")):
            s["kind"] = data.get("type", family)
        if s["battery"] is None and family == "battery":
            s["battery"] = data["percent"]
        if s["silent"] is None and kind in ("device.silent", "device.back"):
            s["silent"] = state == "silent"
    return HomeState(presence[0], presence[1], doors, activity,
                     [SensorRow(name, s["kind"] or "", s["battery"], s["seen"], bool(s["silent"]),
                                s["room"] or "", bool(s["alarming"])) for name, s in sorted(sensors.items())],
                     online, heartbeat)


@dataclass
class County:
    """The homes' events, sent in random order and batches with everything else a station
    writes between them; what was stored, to check against."""

    rnd: random.Random
    t0: float = field(default_factory=lambda: time.time() - 86400)
    clock: int = 0
    stored: dict[str, wire.EventMsg] = field(default_factory=dict)

    def at(self) -> float:
        """A hub time no other event has: two words at one time are the next test's."""
        self.clock += 1
        return self.t0 + self.clock * 7.25

    def events(self, hub: str, n: int) -> list[wire.EventMsg]:
        out = []
        for i in range(n):
            kind, source, data = self.rnd.choice(WORDS)
            if kind == "battery.level":
                data = {**data, "percent": self.rnd.randint(0, 100)}
            e = wire.EventMsg(hub=hub, id=f"{hub}-e{i}", kind=kind, source=source, ts=self.at(), data=data)
            if kind in ("door.open", "button.press") and self.rnd.random() < 0.4:
                # a rule's alarm repeating it (hub/rules/engine.py), later; its trigger sent
                # before it, after it, or never
                alarm = wire.EventMsg(
                    hub=hub, id=f"{hub}-a{i}", kind=kind, source=source, ts=e.ts + 900,
                    alarm=WANDERING if kind == "door.open" else PANIC,
                    data={**data, "rule": "r", "trigger_id": e.id, "trigger_ts": e.ts})
                out += self.rnd.choice([[e, alarm], [alarm, e], [alarm]])
            else:
                out.append(e)
        return out


def check(s: StationStore, reader: StationReader, county: County) -> None:
    """Each home's summary, and the roster's figures of every home read at once, are what
    its stored events say."""
    figures = reader.home_figures()
    assert set(figures) == {e.hub for e in county.stored.values()}
    for hub in (*HUBS, "h999"):
        home = s.home(hub)
        online, heartbeat = (home.online, home.last_heartbeat) if home else (False, None)
        events = [e for e in county.stored.values() if e.hub == hub]
        expect = told(events, set(county.stored), online, heartbeat)
        assert reader.home_state(hub) == expect, hub
        batteries = [x.battery for x in expect.sensors if x.battery is not None]
        assert figures.get(hub, HomeFigures(0, 0, None, None)) == HomeFigures(
            len(expect.sensors), sum(x.silent for x in expect.sensors), min(batteries, default=None),
            expect.last_activity), hub
        made_again = summary.of_events(s._db, hub)
        assert summary.home_state(json.dumps(made_again), online, heartbeat) == expect, hub
        assert summary.figures(made_again) == figures.get(hub, summary.figures(summary.empty())), hub


@pytest.mark.parametrize("seed", [1, 2])
def test_the_summary_says_what_the_stored_events_say_whatever_came_between(
        store_at: StoreAt, seed: int) -> None:
    """Events in random order and batches, some sent twice, one refused out of its lane's
    order, between them heartbeats, statuses, silence past the limit, alarms claimed and
    resolved: after each step, each home's summary (its card, the roster's figures read for
    every home at once, and both made again from its stored events) is the state the events
    say, as home_state read it from them before the summary."""
    rnd = random.Random(seed)
    county = County(rnd)
    s = StationStore(store_at.location)
    reader = StationReader.open(store_at.readonly)
    try:
        s.heartbeat("h004", pending=0, now=county.t0)  # a home heard from, its devices never
        sent = [e for hub in HUBS[:3] for e in county.events(hub, 30)]
        rnd.shuffle(sent)
        while sent:
            n = rnd.randint(1, 6)
            batch, sent = sent[:n], sent[n:]
            again = rnd.sample(list(county.stored.values()), min(2, len(county.stored)))
            for msg, result in zip(batch + again, s.store_events(batch + again), strict=True):
                assert result is (msg.id not in county.stored), msg
                county.stored[msg.id] = msg
            hub = rnd.choice(HUBS)
            step = rnd.randrange(5)
            if step == 0:
                s.heartbeat(hub, pending=rnd.randint(0, 3), now=county.at())
            elif step == 1:
                s.set_online(hub, rnd.random() < 0.5, now=county.at())
            elif step == 2:
                s.mark_silent_offline(cutoff=county.at(), now=county.at())
            elif step == 3 and (open_ := s.open_alarms()):
                a = rnd.choice(open_)
                if a.claimed_by is None:
                    s.claim(a.id, "zhang", "张三", now=county.at())
                else:
                    s.resolve(a.id, "zhang", "张三", "safe_by_phone", now=county.at())
            else:  # a message out of its lane's order: refused, nothing of it read
                late = wire.EventMsg(hub=hub, id=f"{hub}-late{len(county.stored)}", kind="smoke.on",
                                     source="smoke9", ts=county.at(),
                                     seq=wire.Seq(epoch="x", lane="telemetry", n=9, prev=8))
                assert isinstance(s.store_events([late])[0], OutOfOrder)
            check(s, reader, county)
        assert len({e.hub for e in county.stored.values() if e.alarm}) > 1
    finally:
        reader.close()
        s.close()


def test_words_said_at_one_time_read_the_same_in_either_order(store_at: StoreAt) -> None:
    """Of two words on a thing at the same hub time (two sensors' events stamped in one
    second, a hub's resend beside a newer copy), the more alarming stands, whichever came
    first: so the summary never depends on the order lanes and resends interleave in."""
    s = StationStore(store_at.location)
    t = time.time() - 600
    words = [("door.open", "front", {"location": "大门"}), ("door.close", "front", {"location": "大门"}),
             ("presence.off", "radar", {}), ("presence.on", "radar", {}),
             ("battery.level", "front", {"percent": 80}), ("battery.level", "front", {"percent": 20}),
             ("device.back", "smoke1", {"room": "厨房"}), ("device.silent", "smoke1", {"room": "卧室"}),
             ("smoke.off", "smoke1", {}), ("smoke.on", "smoke1", {})]
    for hub, order in (("h001", words), ("h002", words[::-1])):
        s.store_events([wire.EventMsg(hub=hub, id=f"{hub}-{i}", kind=kind, source=source, ts=t, data=data)
                        for i, (kind, source, data) in enumerate(order)])
    one, other = s.home_state("h001"), s.home_state("h002")
    assert one == other
    assert (one.presence, one.doors) == (True, {"大门": (True, t)})
    front, _, smoke = one.sensors  # and the radar
    assert (front.battery, smoke.silent, smoke.alarming, smoke.room) == (20, True, True, "厨房")
    s.close()


def older(location: Location, county: County, homes: tuple[str, ...] = HUBS,
          n: int = 25) -> dict[str, summary.Summary]:
    """A database from before the summary (its table dropped), with ``n`` events a home; what
    each home's summary was at ingest."""
    s = StationStore(location)
    s.store_events([e for hub in homes for e in county.events(hub, n)])
    s.heartbeat(homes[0], pending=0, now=time.time())
    kept = {hub: summary.of_events(s._db, hub, summary.MIGRATED_EVENTS) for hub in homes}
    s._db.execute("DROP TABLE home_summary")
    s.close()
    return kept


async def backfill_all(s: StationStore, location: Location) -> Backfill:
    """The service's task, round after round until no home is left."""
    task = Backfill(s)
    while s.summaries_to_build():
        await task.round()
    return task


def test_an_older_database_opens_at_once_and_gets_each_homes_summary_in_the_background(
        store_at: StoreAt, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upgrade only makes the table and lists the homes (nothing of the events read: the
    table is empty when the store has opened); the backfill's rounds then make every home's
    summary from its events (read a part at a time: small parts here): what ingest had kept."""
    monkeypatch.setattr(backfill, "PART", 7)
    county = County(random.Random(3))
    kept = older(store_at.location, county)
    s = StationStore(store_at.location)
    try:
        assert s.home_figures() == {} and s.summaries_to_build() == len(HUBS)
        assert s.home_state("h001").sensors == [] and s.home_state("h001").online
        task = asyncio.run(backfill_all(s, store_at.location))
        assert task.built == len(HUBS)
        assert s.home_figures() == {hub: summary.figures(kept[hub]) for hub in HUBS}
        assert {hub: s.home_state(hub) for hub in HUBS} == {
            hub: summary.home_state(json.dumps(kept[hub]), hub == "h001", s.home_state(hub).last_heartbeat)
            for hub in HUBS}
        assert s.count("homes") == len(HUBS)
    finally:
        s.close()


def test_events_stored_before_and_during_a_homes_backfill_count_once(store_at: StoreAt) -> None:
    """Ingest folds into a summary the backfill has not made yet (events stored after the
    upgrade, some after the backfill read the home's events, some sent again): the summary the
    backfill leaves is the one made again from every stored event."""
    county = County(random.Random(4))
    older(store_at.location, county, n=30)
    s = StationStore(store_at.location)
    try:
        before = county.events("h001", 40)[-10:] + county.events("h002", 40)[-10:]
        s.store_events([wire.EventMsg(**{**e.model_dump(), "id": f"{e.id}-x"}) for e in before])
        made = summary.of_events(s._db, "h001", summary.MIGRATED_EVENTS)  # the backfill's read
        during = [wire.EventMsg(**{**e.model_dump(), "id": f"{e.id}-y"})
                  for e in county.events("h001", 40)[-10:]]
        s.store_events(during)
        s.store_events(during[:3])  # sent again: duplicates
        assert s.backfill_summary("h001", made)
        assert not s.backfill_summary("h001", made)  # another worker's, later: nothing written
        asyncio.run(backfill_all(s, store_at.location))
        for hub in HUBS:
            again = summary.of_events(s._db, hub, summary.MIGRATED_EVENTS)
            assert s.home_state(hub) == summary.home_state(json.dumps(again), hub == "h001",
                                                           s.home_state(hub).last_heartbeat), hub
            assert s.home_figures()[hub] == summary.figures(again), hub
    finally:
        s.close()


def test_two_workers_backfilling_together_make_each_home_once(store_at: StoreAt) -> None:
    """Two stores (a county's two workers) run the backfill at once beside ingest: neither
    waits on the other for good, each home is made by one of them, and every summary is the
    one made again from the home's events."""
    homes = tuple(f"h{i:03d}" for i in range(40))
    county = County(random.Random(5))
    older(store_at.location, county, homes, n=20)
    stores = [StationStore(store_at.location) for _ in range(2)]
    tasks: list[Backfill] = []

    def work(s: StationStore) -> None:
        tasks.append(asyncio.run(asyncio.wait_for(backfill_all(s, store_at.location), 60)))

    try:
        threads = [threading.Thread(target=work, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        more = [wire.EventMsg(**{**e.model_dump(), "id": f"{e.id}-z"})
                for hub in homes[::7] for e in county.events(hub, 5)]
        for e in more:  # ingest meanwhile, on a third connection (SQLite: waits its turn)
            ingest = StationStore(store_at.location)
            ingest.store_events([e])
            ingest.close()
        for t in threads:
            t.join(90)
        assert len(tasks) == 2 and sum(t.built for t in tasks) == len(homes)
        figures = stores[0].home_figures()
        for hub in homes:
            assert figures[hub] == summary.figures(summary.of_events(stores[0]._db, hub)), hub
    finally:
        for s in stores:
            s.close()


def test_a_console_reading_a_database_before_the_upgrade_hears_nothing_yet(store_at: StoreAt) -> None:
    """A console opened on a database whose station has not yet made the summary: the roster
    and a card read nothing heard (the homes themselves as stored), never an error."""
    older(store_at.location, County(random.Random(6)))
    reader = StationReader.open(store_at.readonly)
    try:
        assert reader.home_figures() == {}
        st = reader.home_state("h001")
        assert (st.sensors, st.online, st.presence) == ([], True, None)
        assert len(reader.homes()) == len(HUBS)
    finally:
        reader.close()


def test_a_hub_naming_hundreds_of_devices_keeps_a_small_summary(store_at: StoreAt) -> None:
    """A broken or hostile hub naming ever new sensors and doors: its events are stored, its
    summary (read and written at each commit) keeps MAX_THINGS of each."""
    s = StationStore(store_at.location)
    t = time.time() - 3600
    n = summary.MAX_THINGS + 50
    s.store_events([wire.EventMsg(hub="h001", id=f"e{i}", kind="door.open", source=f"door{i}", ts=t + i,
                                  data={"location": f"门{i}"}) for i in range(n)])
    st = s.home_state("h001")
    assert len(st.sensors) == len(st.doors) == summary.MAX_THINGS
    assert st.last_activity == t + n - 1 and s.count("events") == n
    s.close()


def test_the_backfill_reads_each_homes_latest_events_only(store_at: StoreAt,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Its work is bounded by homes, not by years of history: a home's MIGRATED_EVENTS latest
    events (as many as the card read before the summary), so a word only said before them is
    not in the summary it makes."""
    monkeypatch.setattr(summary, "MIGRATED_EVENTS", 10)
    monkeypatch.setattr(backfill, "PART", 3)  # parts of the 10 split events of one time
    s = StationStore(store_at.location)
    t = time.time() - 3600
    s.store_events([wire.EventMsg(hub="h001", id="old", kind="battery.level", source="smoke1", ts=t,
                                  data={"percent": 5})] +
                   [wire.EventMsg(hub="h001", id=f"e{i}", kind="presence.on", source="radar",
                                  ts=t + 1 + i // 2 * 2) for i in range(10)])
    assert [x.name for x in s.home_state("h001").sensors] == ["radar", "smoke1"]
    s._db.execute("DROP TABLE home_summary")
    s.close()
    s = StationStore(store_at.location)
    asyncio.run(backfill_all(s, store_at.location))
    st = s.home_state("h001")
    assert [x.name for x in st.sensors] == ["radar"] and st.presence_since == t + 9
    s.close()


def test_a_commit_of_hundreds_of_homes_keeps_each_ones_summary(store_at: StoreAt) -> None:
    """A burst from many homes in one commit: their summaries are read and written in parts
    (summary.PART homes a statement), each home's its own."""
    s = StationStore(store_at.location)
    t = time.time() - 60
    n = 2 * summary.PART + 50
    for ts in (t, t + 1):  # the second burst finds every summary already there
        s.store_events([wire.EventMsg(hub=f"h{i:03d}", id=f"e{i}-{ts}", kind="battery.level", source="door",
                                      ts=ts, data={"percent": (i + int(ts - t)) % 101}) for i in range(n)])
    assert s.home_figures() == {f"h{i:03d}": HomeFigures(1, 0, (i + 1) % 101, None) for i in range(n)}
    s.close()


async def test_the_station_service_makes_the_summaries_in_the_background(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The service's own task: started with the station on an older database, it makes every
    home's summary while an alarm is stored meanwhile, and says when it is done."""
    db = tmp_path / "station.db"
    kept = older(db, County(random.Random(7)))
    broker = MemoryBroker()
    cfg = StationConfig.model_validate({"database": str(db)})
    caplog.set_level(logging.INFO, logger=backfill.__name__)
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())) as st:
        hub = broker.client()
        hub.start(lambda t, p: None, lambda up: None)
        hub.publish(wire.hub_topic("h002", "event"), wire.encode(wire.EventMsg(
            hub="h002", id="panic", kind="button.press", source="button1", ts=time.time(),
            data={"location": "卧室床头"}, alarm=PANIC)))
        for _ in range(200):
            if "summaries built for all" in caplog.text and st.store.alarm("panic"):
                break
            await asyncio.sleep(0.05)
        figures = st.store.home_figures()
    assert {hub: figures[hub] for hub in HUBS if hub != "h002"} == {
        hub: summary.figures(kept[hub]) for hub in HUBS if hub != "h002"}
    assert figures["h002"].activity is not None and figures["h002"].activity > kept["h002"]["activity"]
    assert f"summaries built for all {len(HUBS)} homes" in caplog.text
