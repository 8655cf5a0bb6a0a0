"""The duty desk over a fake station with four homes, at a settable clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from console.casework.elder import Contact, ElderRecord
from console.station.config import Category, Home, StationConfig
from console.tui.app import ConsoleApp
from tests.support.accounts import log_in
from tests.support.desk_station import DeskStation

T0 = 1_790_000_000.0


def elder(name: str, category: Category, age: int | None, **more: object) -> ElderRecord:
    return ElderRecord.model_validate({"name": name, "category": category, "age": age,
                                       "address": f"青石镇{name}家", **more})


HOMES = [
    Home(hub="h001", elder=elder("王秀英", Category.KEY, 82, directions="村口大槐树往东第三家",
                                 identifying="短白发，戴眼镜", medicines=["硝苯地平"],
                                 allergies=["青霉素"], conditions=["高血压"],
                                 contacts=[Contact(name="李明", relation="儿子", phone="138-0000-0001"),
                                           Contact(name="李红", relation="女儿", phone="139-0000-0002")],
                                 key_holder=Contact(name="赵大妈", relation="邻居", phone="137-0000-0003"),
                                 grid_worker=Contact(name="陈网格", relation="网格员",
                                                     phone="136-0000-0004"))),
    Home(hub="h002", elder=elder("张建国", Category.KEY, 90)),
    Home(hub="h003", elder=elder("刘桂兰", Category.SECONDARY, 95)),
    Home(hub="h004", elder=elder("赵四", Category.KEY, None)),
]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def station(tmp_path: Path) -> DeskStation:
    return DeskStation(tmp_path / "station.db", HOMES)


def console(station: DeskStation, tmp_path: Path, clock: Clock | None = None,
            language: str = "zh_CN") -> ConsoleApp:
    cfg = StationConfig(database=tmp_path / "station.db", escalate_after_s=60)
    app = ConsoleApp(cfg, user="zhang", language=language,  # type: ignore[arg-type]
                     client=station.client,  # type: ignore[arg-type]  # a fake StationClient
                     clock=clock or time.time)
    return app


@asynccontextmanager
async def at_desk(station: DeskStation, tmp_path: Path, *, size: tuple[int, int] = (100, 30),
                  clock: Clock | None = None, language: str = "zh_CN"
                  ) -> AsyncIterator[tuple[ConsoleApp, Pilot[None]]]:
    """The console over ``station``, logged in as zhang, at ``size``."""
    app = console(station, tmp_path, clock, language)
    async with app.run_test(size=size) as pilot:
        app._pilot = pilot  # type: ignore[attr-defined]
        await logged_in(app)
        yield app, pilot


async def logged_in(app: ConsoleApp) -> None:
    """The user is given (``--user``): the password alone logs in (the fake takes any)."""
    await log_in(app._pilot, app, "")  # type: ignore[attr-defined]
