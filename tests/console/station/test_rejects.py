"""A client flooding the station with bad payloads costs a counter, not a log line and a write each."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from console.station.config import StationConfig
from console.station.quota import RejectQuota
from console.station.service import StationService
from hub.common.transport import MemoryBroker
from tests.conftest import eventually

EVENTS = "anxin/v1/hub/h001/event"


def test_quota_counts_per_topic_and_reports_what_went_over() -> None:
    q = RejectQuota(burst=3, window_s=60, topics=2)
    assert [q.take("a", 0.0) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert q.take("b", 1.0) == 1
    assert [q.take(t, 2.0) for t in ("c", "d")] == [1, 2]  # past 2 topics: one shared budget
    assert q.ended(59.9) == []
    assert q.ended(60.0) == [("a", 2)]  # b stayed within its budget: nothing to report
    assert q.take("e", 60.0) == 3  # b and the shared budget are still open: e shares it
    assert q.ended(62.0) == []  # b and the shared budget closed within their budgets
    assert (q.take("a", 62.0), q.take("e", 62.0)) == (1, 1)  # fresh windows


async def test_a_flood_is_logged_and_kept_up_to_the_budget_then_counted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = MemoryBroker()
    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db"), "offline_after_s": 5})
    caplog.set_level(logging.ERROR, logger="console.station.service")
    async with StationService(cfg, transport=lambda _cfg, _loop: broker.client()) as station:
        station._rejects = RejectQuota(window_s=0.5)
        burst = station._rejects.burst
        evil = broker.client()
        evil.start(lambda t, p: None, lambda up: None)
        for _ in range(burst + 15):
            evil.publish(EVENTS, b"\xff garbage")
        evil.publish("anxin/v1/hub/h002/heartbeat", b"{}")
        await eventually(lambda: station.store.count("rejected") == burst + 1, what="rejections kept")
        logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected message")]
        assert len(logged) == burst + 1
        assert logged[burst - 1].endswith("further ones on this topic are only counted for now")
        assert logged[0].startswith(f"rejected message on {EVENTS!r}: payload: Invalid JSON")
        summary = f"15 more messages rejected on {EVENTS!r} within 0 s: counted, not logged or kept"
        await eventually(lambda: summary in caplog.text, what="the count of the rest")
        assert station.store.count("rejected") == burst + 1
