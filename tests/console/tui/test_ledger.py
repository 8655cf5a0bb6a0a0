"""The ledger screen: a month's figures on screen, switching months, and the export that reads
back to the same figures, or says why it could not be written."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, date
from functools import partial
from pathlib import Path

from rich.console import Console
from textual.widgets import Input, Static

from console.casework.ledger import read_figures
from console.casework.records import DispatchRecord, FollowUp, VisitRecord
from console.station.config import Category
from console.tui.screens.ledger import LedgerScreen
from tests.console.casework import test_ledger as casework_ledger
from tests.support.records_fakes import FakeStore, Host, elder, records

K, S = Category.KEY, Category.SECONDARY
WAITS = casework_ledger.WAITS  # 8 of 10 within 60 s, 9 within 180 s
alarm = partial(casework_ledger.alarm, tz=UTC)  # in the fake records' station time zone


def store() -> FakeStore:
    return FakeStore(
        {"h001": elder("王秀英", age=85, category="key"),
         "h002": elder("张德福", age=70, category="secondary"), "h003": elder("刘桂兰", age=65)},
        visit_rows=[
            VisitRecord("h001", "王秀英", K, date(2026, 11, 2), "home", "li", ("health", "home_safety")),
            VisitRecord("h001", "王秀英", K, date(2026, 11, 9), "phone", "li", ("health",)),
            VisitRecord("h002", "张德福", S, date(2026, 11, 5), "phone", "li", ("health",)),
            VisitRecord("h002", "张德福", S, date(2026, 10, 5), "road", "li", ("health",)),  # October
        ],
        followup_rows=[
            FollowUp("h001", "王秀英", "policy", "申请高龄津贴", date(2026, 11, 2)),
            FollowUp("h002", "张德福", "health", "复查血糖", date(2026, 10, 5), date(2026, 10, 20)),  # closed
        ],
        alarms=[*(alarm(i, "panic" if i % 2 else "fall", f"2026-11-{i + 1:02d}T08:00:00", w)
                  for i, w in enumerate(WAITS)),
                alarm(20, "smoke", "2026-11-30T23:00:00", 12, None, None),  # still open
                alarm(21, "fall", "2026-10-15T08:00:00", 20)])  # October


def shown(screen: LedgerScreen, part: str) -> str:
    """What a figures block shows, as text (it is a rich table)."""
    out = io.StringIO()
    Console(file=out, width=78, color_system=None).print(screen.query_one(f"#ledger-{part}", Static).content)
    return out.getvalue()


def row(text: str, label: str) -> list[str]:
    [line] = [ln for ln in text.splitlines() if ln.lstrip().startswith(label)]
    return line.split()


async def test_month_figures_on_screen_and_switching_months() -> None:
    screen = LedgerScreen(records(store()))
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        assert "2026-11" in str(screen.query_one("#ledger-title", Static).content)
        visits = shown(screen, "visits")  # columns: phone, online, road, home, total, coverage
        assert row(visits, "重点") == ["重点", "1", "0", "0", "1", "2", "1/1", "100.0"]
        assert row(visits, "次重点") == ["次重点", "1", "0", "0", "0", "1", "1/1", "100.0"]
        assert row(visits, "一般") == ["一般", "0", "0", "0", "0", "0", "0/1", "0.0"]
        assert "本月新增 1" in shown(screen, "followups") and "月末未办结 1" in shown(screen, "followups")
        alarms = shown(screen, "alarms")
        assert row(alarms, "紧急呼叫") == ["紧急呼叫", "电话确认平安", "5", "5"]
        assert row(alarms, "烟雾") == ["烟雾", "未结束", "1", "1"]
        answer = shown(screen, "answer")
        # 9 of 11 within 60 s (the open smoke alarm was claimed in 12 s), below the reference
        assert row(answer, "60秒内接警率") == ["60秒内接警率", "%", "81.8", "参考值", "98.5", "低于参考值"]
        assert row(answer, "180秒内接警率")[2] == "90.9"
        assert row(answer, "接警用时中位数")[-1] == "40.0" and row(answer, "接警用时90百分位")[-1] == "70.0"

        await pilot.press("p")
        assert "2026-10" in str(screen.query_one("#ledger-title", Static).content)
        assert row(shown(screen, "visits"), "次重点")[1:6] == ["0", "0", "1", "0", "1"]
        answer = shown(screen, "answer")
        assert row(answer, "60秒内接警率")[2] == "100.0" and "低于参考值" not in answer
        await pilot.press("n", "n")
        assert "2026-12" in str(screen.query_one("#ledger-title", Static).content)
        assert row(shown(screen, "answer"), "60秒内接警率")[2] == "-"


async def test_the_people_told_and_the_dispatches_against_the_promise() -> None:
    """Four dispatches on site 5, 10, 14 and 20 min after they were sent (promise 15 min)."""
    s = store()
    base = alarm(30, "fall", "2026-11-20T08:00:00", 20, "onsite_help")
    s.alarms.append(dataclasses.replace(base, sent=5, failed=1, accepted=base.received + 90, dispatches=tuple(
        DispatchRecord("volunteer", "孙丽", base.received, 900.0, base.received + m * 60)
        for m in (5, 10, 14, 20))))
    screen = LedgerScreen(records(s))
    async with Host(screen).run_test(size=(80, 24)):
        told = shown(screen, "notify")
        assert row(told, "已发出") == ["已发出", "5"] and row(told, "发送失败") == ["发送失败", "1"]
        assert row(told, "首次确认用时中位数")[-1] == "90.0"
        assert row(told, "派遣次数")[-1] == "4" and row(told, "已到达")[-1] == "4"
        assert row(told, "派遣到达用时中位数")[-1] == "720.0"
        assert row(told, "派遣到达用时90百分位")[-1] == "1200.0"
        assert row(told, "承诺时限内到达率")[-1] == "75.0" and row(told, "承诺时限内到达 ")[-1] == "3"


async def test_export_writes_workbook_and_csv_that_read_back_to_the_figures(tmp_path: Path) -> None:
    r = records(store(), language="en")
    screen = LedgerScreen(r, folder=tmp_path / "out")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        status = str(screen.query_one("#ledger-status", Static).content)
        assert screen.ledger is not None
        figures = dict(screen.ledger.figures(r.rules))
    xlsx, summary = tmp_path / "out/ledger-2026-11.xlsx", tmp_path / "out/ledger-2026-11-summary.csv"
    assert status.startswith("Ledger exported:") and xlsx.name in status and summary.name in status
    assert read_figures(xlsx) == read_figures(summary) == figures
    assert figures["answer.within_60s_pct"] == 81.8 and figures["visits.total"] == 3


async def test_unwritable_folder_is_an_error_on_screen(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    screen = LedgerScreen(records(store()))
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        folder = screen.query_one("#ledger-folder", Input)
        assert folder.has_focus and folder.value == "~/anxin-ledger"
        folder.value = str(tmp_path / "file/ledger")
        await pilot.press("enter")
        await pilot.pause()
        status = screen.query_one("#ledger-status", Static)
        assert str(status.content) == f"无法导出：{tmp_path / 'file'} 是一个文件，不是文件夹"
        assert status.has_class("error") and screen.is_current
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]
