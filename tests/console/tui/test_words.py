"""What the duty desk says, as a trial run found it: a device's name from hub.yaml where its
place belongs (``bedside 呼叫按钮``), the command palette's "No matches found" in English,
response-plan hints cut at 120 columns, and the queue's card keeping the record as it was
before another console edited it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.command import CommandList
from textual.strip import Strip

from console.casework.county import load_county
from console.station.config import StationConfig
from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.palette import Palette
from console.tui.widgets.checklist import Checklist
from hub.common import wire
from hub.common.events import Event, new_id
from tests.conftest import eventually
from tests.support.desk import at_desk
from tests.support.desk_station import DeskStation


def lines(strips: list[Strip]) -> str:
    return "\n".join(s.text for s in strips)


@pytest.mark.parametrize(("language", "said"), [("zh_CN", "没有匹配的命令"), ("en", "No command matches")])
async def test_the_palette_says_no_match_in_the_console_language(
        station: DeskStation, tmp_path: Path, language: str, said: str) -> None:
    async with at_desk(station, tmp_path, language=language) as (app, pilot):
        await pilot.press("ctrl+p")
        await eventually(lambda: isinstance(app.screen, Palette), what="the palette")
        await pilot.press(*"zzqx")
        found = app.screen.query_one(CommandList)

        def shown() -> str:
            return lines([found.render_line(y) for y in range(found.size.height)])

        await eventually(lambda: said in shown(), what=f"{said!r} in the palette")
        assert found.option_count == 1 and "No matches" not in shown()


@pytest.mark.parametrize(("language", "hint"), [
    ("zh_CN", "询问是否受伤、能否自行起身；疑似骨折不要让老人勉强起身"),
    ("en", "ask whether they are hurt and can get up; if a fracture is possible, tell them not to try"),
])
async def test_a_long_hint_wraps_beside_its_step_at_120_columns(
        station: DeskStation, tmp_path: Path, language: str, hint: str) -> None:
    async with at_desk(station, tmp_path, size=(120, 30), language=language) as (app, pilot):
        station.raise_alarm("h001", kind="fall")
        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="alarm screen")
        checklist = app.screen.query_one(Checklist)
        await pilot.pause()
        drawn = lines([checklist.render_line(y) for y in range(checklist.size.height)])
        assert "".join(hint.split()) in "".join(drawn.split())  # whole, over two or more lines
        assert all(len(line.rstrip()) <= checklist.size.width for line in drawn.splitlines())


async def test_a_hint_too_narrow_to_wrap_is_shown_whole_below_the_list(
        station: DeskStation, tmp_path: Path) -> None:
    async with at_desk(station, tmp_path, size=(80, 24)) as (app, pilot):
        station.raise_alarm("h001", kind="fall")
        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="alarm screen")
        screen = app.screen
        checklist = screen.query_one(Checklist)
        await pilot.pause()
        drawn = lines([checklist.render_line(y) for y in range(checklist.size.height)])
        assert "认领" not in drawn and "1. 接收呼叫" in drawn and "7. 记录" in drawn  # no cut hint
        assert str(screen.query_one("#plan-hint").render()) == "认领报警，通过终端与老人通话"


async def test_the_queue_card_shows_an_edit_made_at_another_console(
        station: DeskStation, tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, pilot):
        station.raise_alarm("h001", kind="fall")
        await pilot.pause()
        card = app.query_one("#card")
        assert "高血压" in str(card.render()) and "糖尿病" not in str(card.render())
        record = station.store.elder("h001")
        assert record is not None
        rules = load_county(StationConfig(database=tmp_path / "station.db").county_file)
        station.store.records.save_elder(  # as the station applies another console's elder_save
            "h001", {**record.model_dump(mode="json"), "conditions": ["高血压", "糖尿病"],
                     "directions": "村口大槐树往东第三家，红色大门"}, rules, actor="li", now=time.time())
        station.on_changed(wire.Changed(what="home", id="h001"))  # and announces it
        await pilot.pause()
        assert "糖尿病" in str(card.render()) and "红色大门" in str(card.render())


async def test_a_device_is_named_by_its_place_not_its_name_in_hub_yaml(
        station: DeskStation, tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, pilot):
        now = time.time()
        cancel = Event(kind="cancel.press", source="cancel", ts=now - 60)  # hub.yaml gave no place
        press = Event(kind="button.press", source="bedside", ts=now, id=new_id(), alarm="panic",
                      data={"location": "卧室床头"})  # as the hub sends a call button's press
        for ev in (cancel, press):
            station.store.store_event(wire.event_msg("h001", ev), now=ev.ts)
        station.on_changed(wire.Changed(what="alarm", id=press.id))
        await pilot.pause()
        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, AlarmScreen), what="alarm screen")
        home = str(app.screen.query_one("#alarm-home").render())
        assert "卧室床头 呼叫按钮" in home and "\n取消按钮 " in home
        assert "bedside" not in home and "cancel" not in home
