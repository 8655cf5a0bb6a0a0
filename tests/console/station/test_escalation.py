"""An alarm nobody claims within escalate_after_s is flagged once, audited and announced."""

from __future__ import annotations

import time

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.store.rows import ESCALATED
from console.station.store.station import StationStore
from console.tui.client import StationClient
from hub.common import wire
from tests.conftest import eventually
from tests.support.postgres import StoreAt


def alarm(id: str, hub: str = "h001") -> wire.EventMsg:
    return wire.EventMsg(hub=hub, id=id, kind="button.press", source="bedside", ts=100.0,
                         alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101))


def test_unclaimed_alarms_escalate_once_on_a_fake_clock(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    s.store_events([alarm("a1")], now=1000.0)
    s.store_events([alarm("a2"), alarm("a3", "h002")], now=1030.0)
    s.claim("a3", "zhang", "张三", now=1031.0)
    assert s.escalate(cutoff=1059.0 - 60, now=1059.0) == []  # 59 s: not yet
    assert s.escalate(cutoff=1061.0 - 60, now=1061.0) == ["a1"]
    assert s.escalate(cutoff=1062.0 - 60, now=1062.0) == []  # once
    assert s.escalate(cutoff=1100.0 - 60, now=1100.0) == ["a2"]  # a3 was claimed in time
    a1 = s.alarm("a1")
    assert a1 and a1.escalated == 1061.0 and s.alarm("a3").escalated is None  # type: ignore[union-attr]
    assert s.alarm_log("a1")[-1][1:] == (1061.0, None, ESCALATED)
    s.claim("a1", "zhang", "张三", now=1200.0)  # it can still be claimed, and stays flagged
    assert (a := s.alarm("a1")) and a.escalated == 1061.0 and a.officer == "张三"
    entries = [(e.action, e.target, e.actor) for e in s.audit_entries() if e.action == "alarm.escalate"]
    assert entries == [("alarm.escalate", "a1", "station"), ("alarm.escalate", "a2", "station")]
    assert s.verify_audit().ok


async def test_the_service_escalates_and_tells_the_consoles(station_cfg: StationConfig) -> None:
    heard: list[wire.Changed] = []
    station_up: list[bool | None] = []
    async with StationService(station_cfg) as station:
        c = StationClient.over_mqtt(station_cfg.broker, on_changed=heard.append,
                                    on_station=lambda s: station_up.append(s and s.online))
        c.start()
        try:
            now = time.time()
            station.store.store_events([alarm("a1")], now=now)
            assert station.escalate(now + station_cfg.escalate_after_s - 1) == []
            await eventually(lambda: True in station_up, what="console subscribed")
            assert station.escalate(now + station_cfg.escalate_after_s + 1) == ["a1"]
            await eventually(lambda: wire.Changed(what="alarm", id="a1") in heard, what="Changed")
            assert (a := station.store.alarm("a1")) and a.escalated is not None
        finally:
            c.close()
