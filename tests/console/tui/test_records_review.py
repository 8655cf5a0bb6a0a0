"""What a reviewer found using the records screens in tmux: the visits screen opening on an
empty list, the elder form dropping changes on Esc, an impossible birth date told as a format,
the ledger forgetting its folder and leaving on Esc in the folder field, and the import's OS
errors, plurals and wrapped problem lines."""

from __future__ import annotations

import errno
import io
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from textual.app import App
from textual.widgets import Input, RadioSet, Static

from console.casework.elder import Category
from console.casework.importer import write_elders
from console.casework.problem import Problem
from console.casework.records import VisitRecord
from console.tui.i18n import Texts
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.elder_form import ElderForm
from console.tui.screens.import_records import ImportScreen
from console.tui.screens.ledger import LedgerScreen
from console.tui.screens.visit_form import VisitForm
from console.tui.screens.visits import VisitsScreen
from console.tui.validation import os_error_text, problem_text
from console.tui.widgets.vtable import VirtualTable
from hub.common.language import Language
from tests.console.tui.test_ledger import store as ledger_store
from tests.support.records_fakes import RULES, TODAY, FakeClient, FakeStore, Host, elder, records


def notes(app: App[Any]) -> list[str]:
    return [str(n.message) for n in app._notifications]


def lines(widget: Static) -> list[str]:
    """The lines a Static shows on screen, as text."""
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


# 1. the visits screen (F3)

def due_today_store() -> FakeStore:
    """Nobody overdue, three due today: the first list is empty, the second is not."""
    days = RULES.visits.cadence_days.days(Category.KEY)
    people = {h: elder(n, age=85, category="key") for h, n in
              (("h001", "王秀英"), ("h002", "张德福"), ("h003", "刘桂兰"))}
    return FakeStore(people, visit_rows=[
        VisitRecord(h, e.name, Category.KEY, TODAY.date() - timedelta(days=days), "home", "li", ("health",))
        for h, e in people.items()])


async def test_visits_open_on_the_first_list_with_rows_selected_and_n_records_at_once() -> None:
    screen = VisitsScreen(records(due_today_store()))
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        table = screen.query_one(VirtualTable)
        assert screen.lists["overdue"] == [] and len(screen.lists["due"]) == 3
        assert screen.which == "due" and table.has_focus and table.selected == "h001"
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, VisitForm) and form.hub == "h001"
        assert form.focused is form.query_one(RadioSet)  # the first field, ready for the arrow keys


async def test_visits_with_every_list_empty_say_so_rather_than_ask_for_the_roster() -> None:
    screen = VisitsScreen(records(FakeStore({})))
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        assert app.screen is screen
        assert notes(app) == ["这个列表是空的；按 Tab 切换列表"]


# 2. the elder form's Esc

async def test_elder_form_esc_closes_at_once_when_nothing_changed() -> None:
    kept = elder("王秀英", age=82, sex="female", conditions=["高血压", "糖尿病"],
                 contacts=[{"name": "王建国", "relation": "儿子", "phone": "138-0000-0001"}],
                 key_holder={"name": "李婶", "relation": "邻居", "phone": "+86 139 0000 0002"})
    screen = ElderForm(records(FakeStore({"h001": kept}), role="supervisor"), "h001")
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ElderForm | ConfirmScreen)


async def test_elder_form_esc_asks_before_changes_are_discarded() -> None:
    client = FakeClient()
    screen = ElderForm(records(FakeStore({"h001": elder("王秀英", age=82)}), client), "h001")
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-address", Input).value = "青石镇东山村5组8号"
        await pilot.press("escape")
        await pilot.pause()
        question = app.screen
        assert isinstance(question, ConfirmScreen)
        assert "放弃这些改动" in str(question.query_one("#confirm-question", Static).content)
        await pilot.press("enter")  # Enter stays: the form is back with what was typed
        await pilot.pause()
        assert app.screen is screen
        assert screen.query_one("#f-address", Input).value == "青石镇东山村5组8号"
        await pilot.press("escape", "n")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape", "y")
        await pilot.pause()
        assert not isinstance(app.screen, ElderForm | ConfirmScreen)
    assert client.sent == []


# 3. a birth date that does not exist

@pytest.mark.parametrize(("language", "typed", "said"), [
    ("zh_CN", "1940-13-45", "没有这一天：1940-13-45"),
    ("zh_CN", "1941-02-29", "没有这一天：1941-02-29"),
    ("en", "1940-13-45", "no such date: 1940-13-45"),
    ("zh_CN", "abc", "「abc」不是日期：请写成 1940-03-05"),
])
async def test_impossible_birth_date_is_told_as_no_such_day(
        language: Language, typed: str, said: str) -> None:
    screen = ElderForm(records(FakeStore({"h001": elder("王秀英", age=82)}), language=language), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-age", Input).value = ""
        screen.query_one("#f-birth_date", Input).value = typed
        await pilot.press("ctrl+s")
        assert str(screen.query_one("#err-birth_date", Static).content).startswith(said)


# 4. the ledger (t)

def visits_lines(screen: LedgerScreen) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=78, color_system=None).print(screen.query_one("#ledger-visits", Static).content)
    return out.getvalue().splitlines()


async def test_ledger_keeps_the_folder_last_exported_to_in_this_console(tmp_path: Path) -> None:
    r = records(ledger_store())
    first = LedgerScreen(r)
    app = Host(first)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f")
        folder = first.query_one("#ledger-folder", Input)
        assert folder.value == "~/anxin-ledger"
        folder.value = str(tmp_path / "county")
        await pilot.press("enter")
        await pilot.pause()
        assert (tmp_path / "county/ledger-2026-11.xlsx").exists()
        await pilot.press("escape", "escape")
        assert app.screen is not first
        again = LedgerScreen(r)
        await app.push_screen(again)
        await pilot.pause()
        assert again.query_one("#ledger-folder", Input).value == str(tmp_path / "county")
    other = LedgerScreen(r)  # another console starts from the default
    async with Host(other).run_test(size=(80, 24)):
        assert other.query_one("#ledger-folder", Input).value == "~/anxin-ledger"


async def test_ledger_esc_in_the_folder_field_returns_to_the_figures_then_leaves() -> None:
    screen = LedgerScreen(records(ledger_store()))
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", *"/srv/x")  # f selects the folder typed, so typing replaces it
        folder = screen.query_one("#ledger-folder", Input)
        assert folder.has_focus and folder.value == "/srv/x"
        await pilot.press("escape")
        assert app.screen is screen and screen.query_one("#ledger-figures").has_focus
        await pilot.press("escape")
        assert app.screen is not screen


async def test_ledger_coverage_lines_up() -> None:
    store = ledger_store()
    # ten more general elders, one visited: 1/11 beside 1/1, 9.1 beside 100.0
    store.records |= {f"h1{i:02d}": elder(f"老人{i}", age=65) for i in range(10)}
    store.visit_rows.append(VisitRecord("h100", "老人0", Category.GENERAL, date(2026, 11, 3), "phone", "li",
                                        ("health",)))
    screen = LedgerScreen(records(store))
    async with Host(screen).run_test(size=(80, 24)):
        rows = [ln for ln in visits_lines(screen) if "/" in ln]
        assert [ln.split()[-2:] for ln in rows] == [["1/1", "100.0"], ["1/1", "100.0"], ["1/11", "9.1"]]
        def column(ln: str, char: str) -> int:  # in cells: a Chinese character takes two
            return cell_len(ln[:ln.index(char)])

        assert len({column(ln, "/") for ln in rows}) == 1  # the slashes in one column
        assert len({cell_len(ln) for ln in rows}) == 1  # the percentages end together
        assert len({column(ln, ".") for ln in rows}) == 1  # so the decimal points line up


# 5. the import (F4)

async def test_template_goes_into_the_chosen_folder_not_where_the_console_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """F4, ctrl+t: into the folder field's folder (made if missing), numbered, never over a
    file; the folder chosen is where this console's ledger and next template go too."""
    home, started = tmp_path / "home", tmp_path / "started-here"
    started.mkdir()
    monkeypatch.chdir(started)
    monkeypatch.setenv("HOME", str(home))
    r = records(FakeStore({}))
    screen = ImportScreen(r)
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        folder = screen.query_one("#template-folder", Input)
        assert folder.value == "~/anxin-ledger"
        await pilot.press("ctrl+t")
        await pilot.pause()
        await pilot.press("ctrl+t")
        await pilot.pause()
        default = home / "anxin-ledger"
        assert notes(app) == [f"模板已导出：{default / '老人档案模板.xlsx'}",
                              f"模板已导出：{default / '老人档案模板-2.xlsx'}"]
        chosen = tmp_path / "county/templates"
        folder.value = str(chosen)
        folder.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert notes(app)[-1] == f"模板已导出：{chosen / '老人档案模板.xlsx'}"
        assert (chosen / "老人档案模板.xlsx").is_file() and list(started.iterdir()) == []
        sheet = tmp_path / "elders.csv"
        write_elders(sheet, [("h101", elder("赵大爷", age=81))])
        before = sheet.read_bytes()
        folder.value = str(sheet)  # a file named: written as such, but never over one
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert sheet.read_bytes() == before
        assert notes(app)[-1] == f"{sheet} 已存在，不会覆盖：请换一个文件名或文件夹"
        await pilot.press("escape")
        for again in (ImportScreen(r), LedgerScreen(r)):  # both open on the folder last written
            await app.push_screen(again)
            await pilot.pause()
            assert again.query_one("#template-folder, #ledger-folder", Input).value == str(chosen)
            again.dismiss()
            await pilot.pause()


@pytest.mark.parametrize(("language", "said"), [
    ("zh_CN", ["无法导出模板：{blocker} 是一个文件，不是文件夹", "无法读取：找不到文件夹：{missing}",
               "无法读取：找不到文件：{missing_file}", "无法读取：{folder} 是一个文件夹，请写上文件名",
               "请先填写文件路径"]),
    ("en", ["Cannot write the template: {blocker} is a file, not a folder",
            "Cannot read it: no such folder: {missing}", "Cannot read it: no such file: {missing_file}",
            "Cannot read it: {folder} is a folder: give a file name", "Type the file's path first"]),
])
async def test_file_errors_are_worded_in_the_console_language_with_the_path(
        tmp_path: Path, language: Language, said: list[str]) -> None:
    blocker, folder = tmp_path / "notes.txt", tmp_path / "sheets.csv"
    blocker.write_text("a file")
    folder.mkdir()
    paths = {"blocker": blocker, "missing": tmp_path / "nowhere", "missing_file": tmp_path / "gone.csv",
             "folder": folder}
    screen = ImportScreen(records(FakeStore({}), language=language))
    app = Host(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        path, summary = screen.query_one(Input), screen.query_one("#import-summary", Static)
        shown = []
        screen.query_one("#template-folder", Input).value = str(blocker / "template.xlsx")
        await pilot.press("ctrl+t")
        await pilot.pause()
        shown.append(notes(app)[-1])
        for typed in (tmp_path / "nowhere/elders.csv", tmp_path / "gone.csv", folder, " "):
            path.value = str(typed)
            await pilot.press("enter")
            await pilot.pause()
            shown.append(str(summary.content))
    assert [s for s, want in zip(shown, said, strict=True) if not s.startswith(want.format(**paths))] == []
    assert not [s for s in shown if "directory" in s or "No such" in s]


async def test_import_summary_reads_right_in_both_languages(tmp_path: Path) -> None:
    sheet = tmp_path / "elders.csv"
    write_elders(sheet, [("h101", elder("赵大爷", age=81)), ("h102", elder("钱奶奶", age=75))])
    text = sheet.read_text(encoding="utf-8-sig").splitlines()
    bad_age = text[1].replace("h101", "h103").replace(",81,", ",abc,")
    sheet.write_text("\n".join([*text, bad_age]) + "\n", encoding="utf-8")
    said = {}
    for language in ("zh_CN", "en"):  # h102 is at the station already: one of each
        screen = ImportScreen(records(FakeStore({"h102": elder("钱奶奶", age=75)}),
                                      language=language))
        async with Host(screen).run_test(size=(80, 24)) as pilot:
            screen.query_one(Input).value = str(sheet)
            await pilot.press("enter")
            await pilot.pause()
            said[language] = str(screen.query_one("#import-summary", Static).content)
    assert said == {"zh_CN": "1 行可导入，1 处错误，1 行重复",
                    "en": "rows to import: 1 · problems: 1 · duplicate rows: 1"}


@pytest.mark.parametrize("width", [60, 80, 100])
async def test_import_problem_lines_keep_the_column_name_whole(tmp_path: Path, width: int) -> None:
    sheet = tmp_path / "elders.csv"
    write_elders(sheet, [("h101", elder("赵大爷", age=81))])
    header, row = sheet.read_text(encoding="utf-8-sig").splitlines()
    phone = header.split(",").index("本人电话")
    cells = row.split(",")
    cells[0], cells[phone] = "h103", "12ab"
    sheet.write_text("\n".join([header, ",".join(cells)]) + "\n", encoding="utf-8")
    screen = ImportScreen(records(FakeStore({})))
    async with Host(screen).run_test(size=(width, 24)) as pilot:
        screen.query_one(Input).value = str(sheet)
        await pilot.press("enter")
        await pilot.pause()
        shown = [ln for ln in lines(screen.query_one("#import-errors", Static)) if ln.strip()]
        where = "第2行 本人电话 (H)："
        assert shown[0] == "elders.csv："  # the file once, above its problems
        assert shown[1].startswith(where) and "「12ab」不是电话号码" in shown[1]
        # the problem wraps beside the place, under itself
        assert len(shown) > 2 and all(ln.startswith(" " * cell_len(where)) for ln in shown[2:])
        assert screen.problems == ["elders.csv " + where + "「12ab」不是电话号码：手机是13到19开头的11位"
                                   "数字（138-0000-0001）；座机要带区号（0571-88881234、010-1234567），"
                                   "分机号写在“-”或“转”之后"]


def test_os_errors_are_worded_with_the_path_in_both_languages(tmp_path: Path) -> None:
    zh, en = Texts("zh_CN"), Texts("en")
    denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/srv/台账")
    assert os_error_text(denied, zh) == "没有权限：/srv/台账"
    assert os_error_text(denied, en) == "permission denied: /srv/台账"
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert os_error_text(full, zh, tmp_path / "a.xlsx") == f"磁盘已满：{tmp_path / 'a.xlsx'}"
    odd = OSError(errno.EIO, os.strerror(errno.EIO))
    assert os_error_text(odd, zh, "/mnt/u") == "无法使用 /mnt/u（系统错误 EIO）"
    # casework passes on only the operating system's text: worded all the same
    unreadable = Problem("unreadable", "x.csv: cannot read: Permission denied", file="x.csv",
                         error=os.strerror(errno.EACCES))
    assert problem_text(unreadable, zh) == "没有权限：x.csv"
