"""SVG snapshots of the records screens: the roster (F2), an elder's history (Enter on a home),
the visits (F3) and the ledger (t), zh_CN on the dark theme and en on the light one, at 100x30
and 80x24. Fixed homes, visits and alarms and a fixed clock (the desk's, the records screens'
and the roster's) keep them stable."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.pilot import Pilot

import console.tui.screens.roster as roster
from console.casework.county import load_county
from console.station.config import StationConfig
from console.tui.app import ConsoleApp
from tests.support.desk import HOMES, Clock
from tests.support.desk_station import DeskStation

T0 = 1_790_000_000.0  # Monday 21 September 2026
DAY = 86_400.0
# the keys to each screen; the history is 王秀英's, the last home on the roster
KEYS = {"roster": ["f2"], "history": ["f2", "end", "enter"], "visits": ["f3"], "ledger": ["t"]}


def station_with_records(db: Path) -> DeskStation:
    """Four homes known for 60 days; two visited (one follow-up still open), alarms this month
    and last, one of them closed, two homes heard from lately."""
    station = DeskStation(db, HOMES)
    with sqlite3.connect(db) as c:  # load_homes stamps the wall clock as the day they joined
        c.execute("UPDATE homes SET added = ?", (T0 - 60 * DAY,))
    s, county = station.store, load_county(StationConfig(database=db).county_file)
    s.records.save_visit("h001", {"day": "2026-09-14", "mode": "home", "by": "李四",
                                  "contents": ["health", "home_safety"], "notes": "血压正常",
                                  "followups": [{"content": "home_safety", "text": "燃气软管老化"}]},
                         county, actor="zhang", officer="张三", now=T0 - 7 * DAY)
    s.records.save_visit("h002", {"day": "2026-08-20", "mode": "phone", "contents": ["health"]},
                         county, actor="zhang", officer="张三", now=T0 - 32 * DAY)
    for hub, kind, at, outcome in (("h001", "fall", T0 - 25 * DAY, "safe_by_phone"),
                                   ("h001", "panic", T0 - 3 * DAY, "safe_by_phone"),
                                   ("h003", "panic", T0 - 40 * DAY, None)):
        alarm = station.raise_alarm(hub, kind=kind, now=at)
        s.claim(alarm, "zhang", "张三", now=at + 20)
        if outcome:
            s.resolve(alarm, "zhang", "张三", outcome, "老人平安", now=at + 300)
    for hub in ("h001", "h002"):
        s.heartbeat(hub, 0, now=T0 + 10)
    return station


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
@pytest.mark.parametrize(("language", "theme"), [("zh_CN", "textual-dark"), ("en", "textual-light")])
@pytest.mark.parametrize("screen", list(KEYS))
def test_records_snapshot(snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          size: tuple[int, int], language: str, theme: str, screen: str) -> None:
    station = station_with_records(tmp_path / "station.db")
    app = ConsoleApp(StationConfig(database=tmp_path / "station.db"), user="zhang",
                     language=language,  # type: ignore[arg-type]
                     client=station.client,  # type: ignore[arg-type]  # a fake StationClient
                     clock=Clock(T0 + 30))
    app.theme = theme
    desk_records = app._records
    now = datetime.fromtimestamp(T0 + 30).astimezone()
    monkeypatch.setattr(app, "_records", lambda: replace(desk_records(), clock=lambda: now))
    # the roster's "seconds ago" and its filter time read the process clocks
    monkeypatch.setattr(roster, "time", SimpleNamespace(time=lambda: T0 + 30, perf_counter=lambda: 0.0))

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press(*"x", "enter")  # the password: the fake station takes any
        await pilot.press(*KEYS[screen])
        for clock in app.screen.query("HeaderClock"):  # the wall clock would change every run
            clock.display = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)

