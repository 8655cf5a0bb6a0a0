"""SVG snapshots of the alarm desk: the queue and the alarm screen, zh_CN and en, at 100x30 and
80x24, on the dark and the light theme. A fixed clock and fixed alarms keep them stable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from console.station.config import StationConfig
from console.tui.app import ConsoleApp
from tests.support.desk import HOMES, Clock
from tests.support.desk_station import DeskStation

T0 = 1_790_000_000.0


def desk(tmp_path: Path, language: str, theme: str) -> tuple[ConsoleApp, DeskStation]:
    station = DeskStation(tmp_path / "station.db", HOMES)
    cfg = StationConfig(database=tmp_path / "station.db")
    app = ConsoleApp(cfg, user="zhang", language=language,  # type: ignore[arg-type]
                     client=station.client,  # type: ignore[arg-type]  # a fake StationClient
                     clock=Clock(T0 + 30))
    app.theme = theme
    return app, station


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
@pytest.mark.parametrize(("language", "theme"), [("zh_CN", "textual-dark"), ("en", "textual-light")])
@pytest.mark.parametrize("screen", ["queue", "alarm"])
def test_desk_snapshot(snap_compare: Any, tmp_path: Path, size: tuple[int, int], language: str,
                       theme: str, screen: str) -> None:
    app, station = desk(tmp_path, language, theme)

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press(*"x", "enter")  # the password: the fake station takes any
        station.raise_alarm("h001", kind="fall", now=T0)
        station.raise_alarm("h003", kind="panic", now=T0 + 1)
        if screen == "alarm":
            await pilot.press("enter")
        for clock in app.screen.query("HeaderClock"):  # the wall clock would change every run
            clock.display = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
