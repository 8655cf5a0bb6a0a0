"""The records screens: the full roster (filters at 10 000 homes), an elder's history, the
elder form with its checks and override, and the import of a county sheet."""

from __future__ import annotations

import statistics
import time
from datetime import UTC
from pathlib import Path

import pytest
from pydantic import ValidationError
from textual.widgets import Input, Select, Static, TextArea

from console.casework.elder import Category, ElderRecord
from console.casework.importer import write_elders
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from console.tui.i18n import STRINGS, Texts
from console.tui.i18n_records import STRINGS as RECORDS
from console.tui.records_context import Records
from console.tui.screens.elder_form import ElderForm
from console.tui.screens.history import HistoryScreen
from console.tui.screens.import_records import ImportScreen
from console.tui.screens.roster import ONLINE_CYCLE, RosterScreen
from console.tui.validation import field_message
from console.tui.widgets.roster import SORTS, RosterQuery, select
from console.tui.widgets.vtable import VirtualTable
from hub.common import wire
from hub.common.language import Language
from tests.support.population import population
from tests.support.records_fakes import (
    RULES,
    TODAY,
    FakeClient,
    FakeStore,
    Host,
    Sensor,
    State,
    elder,
    records,
)


def shown(table: VirtualTable) -> str:
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


def test_every_records_string_has_both_languages() -> None:
    for key, (zh, en) in RECORDS.items():
        assert zh.strip() and en.strip(), key
        assert STRINGS[key] == (zh, en), f"{key} is shadowed or shadows the main table"


async def test_roster_of_10000_homes_filters_within_100_ms() -> None:
    people = dict(population(10_000))
    store = FakeStore(people, online={"h00007": False},
                      states={"h00009": State(TODAY.timestamp() - 600,
                                              [Sensor("door", "door", 9, 0, False),
                                               Sensor("pir", "motion", 80, 0, True)])})
    screen = RosterScreen(records(store))
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        table = screen.query_one(VirtualTable)
        assert table.row_count == 10_000
        assert table.selected == "h00007"  # offline homes come first
        assert "离线" in shown(table)
        name = people["h00042"].name
        timings = []
        for query in ("王", name, "h0004", "wxy", "138", ""):
            screen.query_one(Input).value = query
            await pilot.pause()
            timings.append(screen.filter_ms)
        print(f"\nroster filter over 10 000 homes: median {statistics.median(timings):.1f} ms, "
              f"max {max(timings):.1f} ms (target <= 100 ms)")
        screen.query_one(Input).value = name
        await pilot.pause()
        assert "h00042" in table.keys
        assert all(name in people[h].name for h in table.keys if h in people)
        screen.query_one(Input).value = ""
        table.focus()
        await pilot.press("b")  # low batteries only
        assert table.keys == ["h00009"]
        assert "1/2正常 9%" in shown(table)
        await pilot.press("b", "o")  # offline only
        assert table.keys == ["h00007"]
        assert "显示 1/10000 户" in str(screen.query_one("#roster-status", Static).content)
        t0 = time.perf_counter()
        await pilot.press("o", "o", "pagedown", "pagedown", "end")
        assert table.cursor == 9_999 and time.perf_counter() - t0 < 5


async def test_the_roster_reads_as_many_times_for_forty_homes_as_for_two(tmp_path: Path) -> None:
    """The roster opens on the station database in a fixed number of reads, not one a home
    (each home's sensors come from the per-home summary, all in one query): a county's tens
    of thousands of homes open as quickly as a township's (tests/bench/bench_roster.py)."""
    reads = {}
    for n in (2, 40):
        db = tmp_path / f"station{n}.db"
        store = StationStore(db)
        store.store_events([wire.EventMsg(hub=f"h{i:03d}", id=f"e{i}", kind="battery.level", source="door",
                                          ts=TODAY.timestamp() - i, data={"percent": 50 + i})
                            for i in range(n)])
        store.close()
        reader = StationReader.open(db)
        statements: list[str] = []
        reader._db.raw.set_trace_callback(statements.append)
        screen = RosterScreen(Records(store=reader, client=FakeClient(), texts=Texts("zh_CN", UTC),
                                      rules=RULES, user="zhang", role="duty", clock=lambda: TODAY))
        async with Host(screen).run_test(size=(120, 30)):
            statements.clear()
            screen.reload()
            reads[n] = len(statements)
            assert {h: line.battery for h, line in screen.lines.items()} == {
                f"h{i:03d}": 50 + i for i in range(n)}
        reader.close()
    assert reads[2] == reads[40], reads


async def test_roster_filters_pick_from_the_kept_orders_and_match_a_fresh_sort() -> None:
    people = dict(population(2_000))
    store = FakeStore(people, online={"h00007": False, "h01500": False})
    screen = RosterScreen(records(store))
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        kept: dict[str, list[str]] = {}
        for q in [RosterQuery(sort=s, online=o, category=c) for s in SORTS
                  for o in ONLINE_CYCLE for c in (None, Category.KEY)]:
            fresh = select(screen.lines, screen.index, q)
            assert select(screen.lines, screen.index, q, kept) == fresh
            place = {h: i for i, h in enumerate(kept[q.sort])}
            assert fresh == sorted(fresh, key=place.__getitem__)
        assert set(kept) == set(SORTS) and all(len(o) == 2_000 for o in kept.values())
        first = select(screen.lines, screen.index, RosterQuery(online=False), kept)
        assert first[:2] == ["h00007", "h01500"] and len(first) == 2
        screen.query_one(Input).value = "h01500"  # with text the search ranks, the kept orders aside
        await pilot.pause()
        assert screen.query_one(VirtualTable).keys[0] == "h01500"


@pytest.mark.parametrize(("size", "hidden"), [((80, 24), ["Activity", "Heartbeat"]), ((120, 30), [])])
async def test_roster_in_english_keeps_its_words_whole_and_the_address_in_sight(
        size: tuple[int, int], hidden: list[str]) -> None:
    """English words are longer than Chinese ones: the columns widen to them, and on a narrow
    terminal the least needed columns give way so the address still shows."""
    store = FakeStore({"h001": elder("王秀英", category="secondary", address="12 Old Well Lane, Qingshi")},
                      online={"h001": False})
    screen = RosterScreen(records(store, language="en"))
    async with Host(screen).run_test(size=size):
        table = screen.query_one(VirtualTable)
        text = shown(table)
        assert "secondary" in text and "OFFLINE" in text and "12 Old Well" in text
        assert "…" not in text.split("12 Old Well")[0]  # no word before the address is cut
        for heading in ["Activity", "Heartbeat", "Sensors"]:
            assert (heading in text) is (heading not in hidden)
        assert len(text.splitlines()[0].rstrip()) <= size[0]


def test_how_long_ago_is_told_in_whole_units() -> None:
    zh, en = Texts("zh_CN"), Texts("en")
    assert [en.ago(s) for s in (-3, 59, 119, 120, 7199, 7200, 172_799, 172_800, 86_400 * 40)] == [
        "0s ago", "59s ago", "119s ago", "2 min ago", "119 min ago", "2 h ago", "47 h ago",
        "2 d ago", "40 d ago"]
    assert zh.ago(90) == "90秒前" and zh.ago(600) == "10分钟前" and zh.ago(86_400 * 3) == "3天前"


async def test_roster_opens_the_elders_history_with_alarms_and_visits() -> None:
    from console.casework.records import VisitRecord
    from console.station.store.rows import AlarmRow
    from hub.common.events import AlarmState
    t = TODAY.timestamp() - 86_400
    fall = AlarmRow("a1", "h001", "fall", 1, 0, "radar", "卧室", AlarmState.RESOLVED, t, t, "张三", "zhang",
                    t + 20, t + 900, "onsite_help", "网格员已上门，无大碍", None)
    store = FakeStore({"h001": elder("王秀英", age=85, phone="138-0000-0001"), "h002": elder("张德福")},
                      visit_rows=[VisitRecord("h001", "王秀英", "key", TODAY.date(), "phone", "zhang",  # type: ignore[arg-type]
                                              ("health",), notes="血压正常")],
                      history_rows={"h001": [fall]})
    screen = RosterScreen(records(store))
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"wxy", "enter")
        table = screen.query_one(VirtualTable)
        assert table.keys == ["h001"]
        await pilot.press("enter")
        assert isinstance(app.screen, HistoryScreen)
        text = str(app.screen.query_one("#history", Static).content)
        assert "王秀英" in text and "电话探访" in text and "健康管理" in text and "血压正常" in text
        assert "跌倒" in text and "张三" in text and "网格员已上门，无大碍" in text  # the resolve notes
        assert "按县规则应为重点：年满80周岁" in text  # the fake stores her as general; the rules say key


async def test_elder_form_shows_errors_at_the_field_then_saves_with_the_rules_group() -> None:
    client = FakeClient()
    screen = ElderForm(records(FakeStore({}), client), None)
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-hub", Input).value = "h009"
        screen.query_one("#f-name", Input).value = "李桂兰"
        screen.query_one("#f-address", Input).value = "青石镇东山村5组8号"
        screen.query_one("#f-phone", Input).value = "12ab"
        screen.query_one("#elder-contacts", TextArea).text = "李强 儿子 139-0000-0002\n王芳 女儿 x"
        await pilot.press("ctrl+s")
        assert "「12ab」不是电话号码" in str(screen.query_one("#err-phone", Static).content)
        assert "第2行" in str(screen.query_one("#err-contacts", Static).content)
        assert client.sent == []
        screen.query_one("#f-phone", Input).value = "0531-8888-1234"
        screen.query_one("#elder-contacts", TextArea).text = "李强 儿子 139-0000-0002"
        screen.query_one("#f-birth_date", Input).value = "1940-05-01"
        await pilot.pause()
        assert "重点" in str(screen.query_one("#elder-category", Static).content)  # 86 years old
        await pilot.press("ctrl+s")
        await pilot.pause()
        [sent] = client.sent
        assert sent["op"] == "elder_save" and sent["hub"] == "h009"
        assert sent["record"]["category"] == "key" and sent["record"]["contacts"][0]["relation"] == "儿子"


async def test_elder_form_edits_the_key_holder_and_grid_worker_at_80x24() -> None:
    client = FakeClient()
    store = FakeStore({"h001": elder("王秀英", age=82, key_holder={
        "name": "李婶", "relation": "邻居", "phone": "+86 139 0000 0002"})})
    screen = ElderForm(records(store, client), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        key, grid = screen.query_one("#f-key_holder", Input), screen.query_one("#f-grid_worker", Input)
        assert (key.value, grid.value) == ("李婶 邻居 +86 139 0000 0002", "")
        grid.focus()
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        assert screen.region.contains_region(grid.region)  # the form scrolls to the field
        key.value = "赵大妈 邻居"  # no phone
        grid.value = "陈网格 137-0000-0004"
        await pilot.press("ctrl+s")
        assert "不是电话号码" in str(screen.query_one("#err-key_holder", Static).content)
        assert str(screen.query_one("#err-grid_worker", Static).content) == ""
        assert client.sent == []
        key.value = "赵大妈 邻居 137-0000-0003"
        await pilot.press("ctrl+s")
        await pilot.pause()
        [sent] = client.sent
        assert sent["record"]["key_holder"] == {"name": "赵大妈", "relation": "邻居",
                                                "phone": "137-0000-0003"}
        assert sent["record"]["grid_worker"] == {"name": "陈网格", "relation": "", "phone": "137-0000-0004"}


async def test_elder_form_keeps_a_grouped_phone_and_clears_an_emptied_contact() -> None:
    client = FakeClient()
    kept = {"name": "李婶", "relation": "邻居", "phone": "+86 139 0000 0002"}
    store = FakeStore({"h001": elder("王秀英", age=82, key_holder=kept,
                                     grid_worker={"name": "李梅", "phone": "13900000003"})})
    screen = ElderForm(records(store, client), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-grid_worker", Input).value = " "
        await pilot.press("ctrl+s")
        await pilot.pause()
        [sent] = client.sent
        assert sent["record"]["key_holder"] == kept and sent["record"]["grid_worker"] is None


async def test_override_needs_a_reason_and_only_a_supervisor_sees_it() -> None:
    store = FakeStore({"h001": elder("王秀英", age=70)})
    duty = ElderForm(records(store), "h001")
    async with Host(duty).run_test(size=(80, 24)):
        assert not duty.query("#f-override")
    client = FakeClient()
    screen = ElderForm(records(store, client, role="supervisor"), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-override", Select).value = "key"
        await pilot.press("ctrl+s")
        assert "原因" in str(screen.query_one("#err-override", Static).content)
        assert client.sent == []
        screen.query_one("#f-reason", Input).value = "独居且近期跌倒两次"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [s["op"] for s in client.sent] == ["elder_save", "elder_override"]
        assert client.sent[0]["record"]["category"] == "general"
        assert client.sent[1] == {"op": "elder_override", "hub": "h001", "category": "key",
                                  "notes": "独居且近期跌倒两次"}


async def test_import_shows_bad_rows_and_sends_the_good_ones(tmp_path: Path) -> None:
    sheet = tmp_path / "elders.csv"
    write_elders(sheet, [("h101", elder("赵大爷", age=81)), ("h102", elder("钱奶奶", age=75))])
    lines = sheet.read_text(encoding="utf-8-sig").splitlines()
    lines.append(lines[1].replace("h101", "h103").replace("81", "abc"))  # a bad age
    lines.append(lines[1])  # h101 twice
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    client = FakeClient(refuse={})
    screen = ImportScreen(records(FakeStore({"h001": elder("王秀英")}), client))
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one(Input).value = str(sheet)
        await pilot.press("enter")
        await pilot.pause()
        summary = str(screen.query_one("#import-summary", Static).content)
        errors = "\n".join(screen.problems)
        assert "1 行可导入" in summary
        assert "elders.csv 第4行 年龄 (F)：「abc」不是年龄：请填周岁（整数）" in errors
        assert "elders.csv 第5行 终端编号 (A)：h101 与第 2 行重复；本行不导入" in errors
        await pilot.click("#send")
        await pilot.pause()
        assert [(s["op"], s["hub"]) for s in client.sent] == [("elder_save", "h102")]
        assert "已提交 1 条" in str(screen.query_one("#import-summary", Static).content)
        template = tmp_path / "template.xlsx"
        screen.query_one("#template-folder", Input).value = str(template)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert template.exists()


BAD_ROWS = """终端编号,档案编号,姓名,出生日期,年龄,住址,残疾等级,能力评估,联系人1姓名,联系人1电话
H 2,QS-1,王秀英,1940-13-01,,桃源村,五级,半失能,王建国,call me
h003,QS-1,,2030-01-01,,,,,,
h004,QS-4,刘桂兰,1950-01-01,60,柳湾村,,,,
h005,QS-5,陈永年,1945-02-03,,东山村,,,,
h005,QS-6,赵大爷,1944-05-06,,河西街,,,,
"""


@pytest.mark.parametrize("language, expected", [
    ("zh_CN", ["「H 2」不是终端编号", "没有这一天：1940-13-01", "「五级」：残疾等级请填 1 到 4",
               "「半失能」：请填 能力完好, 轻度失能, 中度失能, 重度失能, 完全失能 之一",
               "「call me」不是电话号码",
               "出生日期 2030-01-01 在今天（2026-11-20）之后", "第3行 姓名 (C)：必填", "第3行 住址 (F)：必填",
               "年龄 60 与出生日期 1950-01-01 不符（到 2026-11-20 是 76 岁）",
               "第5行 终端编号 (A)：h005 与第 6 行重复；本行不导入"]),
    ("en", ["'H 2' is not a hub id", "no such date: 1940-13-01", "'五级': write the disability grade",
            "'半失能': write one of 能力完好", "'call me' is not a mainland phone number",
            "row 3, column 姓名 (C): required",
            "age 60 does not match the birth date 1950-01-01 (76 on 2026-11-20)"]),
])
async def test_import_problems_are_worded_in_the_console_language(
        tmp_path: Path, language: Language, expected: list[str]) -> None:
    sheet = tmp_path / "elders.csv"
    sheet.write_text(BAD_ROWS, encoding="utf-8")
    screen = ImportScreen(records(FakeStore({}), FakeClient(refuse={}), language=language))
    async with Host(screen).run_test(size=(100, 30)) as pilot:
        screen.query_one(Input).value = str(sheet)
        await pilot.press("enter")
        await pilot.pause()
        errors = "\n".join(screen.problems)
        assert [e for e in expected if e not in errors] == []
        if language == "zh_CN":  # nothing fell back to the English text
            assert not [line for line in errors.splitlines() if "write" in line or " is " in line]
        sheet.write_text("姓名,电话\n", encoding="utf-8")
        await pilot.press("enter")
        await pilot.pause()
        summary = str(screen.query_one("#import-summary", Static).content)
        assert summary.startswith("无法读取：elders.csv：不认识的列 电话 (B)" if language == "zh_CN"
                                  else "Cannot read it: elders.csv: unknown column(s) 电话 (B)")


def test_field_errors_are_worded_in_the_console_language() -> None:
    with pytest.raises(ValidationError) as bad:
        ElderRecord.model_validate({"name": "王秀英", "category": "key", "address": "青石镇", "age": 131,
                                    "contacts": [{"name": "王建国", "phone": "12ab"}]})
    errors = {e["loc"][0]: e for e in bad.value.errors()}
    zh, en = Texts("zh_CN"), Texts("en")
    assert field_message(errors["age"], zh) == "131岁不合常理：年龄请填0到120"
    assert field_message(errors["age"], en) == "131 is not a plausible age: give 0 to 120"
    assert field_message(errors["contacts"], zh).startswith("「12ab」不是电话号码")
    assert field_message(errors["contacts"], en).startswith("'12ab' is not a mainland phone number")
    unknown = {**errors["age"], "type": "no_such_type", "msg": "Value error, as the validator said"}
    # a type the console has no words for yet: said in Chinese all the same; English quotes it
    assert field_message(unknown, zh) == "填写有误，请核对"
    assert field_message(unknown, en) == "as the validator said"
