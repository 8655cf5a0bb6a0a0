"""Refusals and limits in the console's language, as a review of the field defects found them:
a station refusal coded ``invalid`` shown as "未成功：" and pydantic's English (a visit's notes
over 2000 characters: the visit form's text area had no limit), a paste into a note past its
limit answered with the bell alone, and validation errors of types without words falling back
to English."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from textual import events
from textual.app import App
from textual.widgets import Checkbox, Input, TextArea

from console.casework.elder import ElderRecord
from console.tui.i18n import STRINGS, Texts
from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.login import reply_text
from console.tui.screens.resolve import ResolveScreen
from console.tui.screens.visit_form import VisitForm
from console.tui.validation import field_message
from hub.common import wire
from tests.conftest import REPO, eventually
from tests.support.desk import at_desk
from tests.support.desk_station import DeskStation
from tests.support.records_fakes import FakeClient, FakeStore, Host, elder, records

REFUSALS = {"OpRefused", "CallRefused", "LoginRefused", "ClaimConflict"}  # the station's, with a code
LATIN = re.compile(r"[A-Za-z]{3,}")  # an English word in a Chinese sentence


def notes(app: App[Any]) -> list[str]:
    return [str(n.message) for n in app._notifications]


# --- every code the station sends ------------------------------------------------------------


def _codes_in(path: Path) -> set[str]:
    """The refusal codes a module sends: the first argument of a refusal (a string, or either
    of an ``a if … else b``), a ``code=`` keyword's, and the codes returned by a function whose
    result a refusal is made from (``*_why_not()``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def strings(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return strings(node.body) | strings(node.orelse)
        return set()

    def name(node: ast.expr) -> str:
        return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""

    codes: set[str] = set()
    makers: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if name(node.func) in REFUSALS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Starred) and isinstance(first.value, ast.Call):
                makers.add(name(first.value.func))
            else:
                codes |= strings(first)
        codes |= {c for k in node.keywords if k.arg == "code" for c in strings(k.value)}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in makers:
            codes |= {c for r in ast.walk(node) if isinstance(r, ast.Return)
                      and isinstance(r.value, ast.Tuple) for c in strings(r.value.elts[0])}
    return codes


def station_codes() -> set[str]:
    """Every refusal code that reaches the console: the station service's and the console
    client's own (a request it will not send)."""
    files = [*sorted((REPO / "console/station").rglob("*.py")), REPO / "console/tui/client.py"]
    return set().union(*(_codes_in(f) for f in files))


def test_every_refusal_code_the_station_sends_reads_in_both_languages() -> None:
    codes = station_codes()
    # the scan finds codes made each way: a literal, a conditional, a keyword, a returned tuple
    assert {"invalid", "no_followup", "storage", "taken", "bad_login", "hub_busy",
            "station_unreachable"} <= codes
    missing = sorted(c for c in codes if not all(STRINGS.get(f"err_{c}", ("", ""))))
    assert missing == []
    for code in codes:
        said = reply_text(wire.Reply(req="r1", ok=False, code=code, error="x.y: String should "
                                     "have at most 2000 characters"), Texts("zh_CN"))
        assert not LATIN.search(said), f"{code}: {said}"


@pytest.mark.parametrize(("code", "language", "expected"), [
    ("invalid", "zh_CN", "未保存：有内容超出服务站允许的范围"),
    ("invalid", "en", "Not saved: the station does not take it (record.notes: String should"),
    (None, "zh_CN", "服务站出错，未能办理"),  # the station failed, without a code
])
def test_a_refusal_without_words_of_its_own_is_told_in_the_console_language(
        code: str | None, language: str, expected: str) -> None:
    reply = wire.Reply(req="r1", ok=False, code=code,
                       error="record.notes: String should have at most 2000 characters")
    said = reply_text(reply, Texts(language))  # type: ignore[arg-type]
    assert said.startswith(expected) and "未成功" not in said


async def test_the_visit_form_says_why_its_save_was_refused_in_chinese() -> None:
    """As the station refused notes past its bound before the form had one."""
    error = "visit.notes: String should have at most 2000 characters"

    class Refusing(FakeClient):
        async def request(self, op: str, alarm: str | None = None, *, timeout: float = 10.0,
                          **fields: Any) -> wire.Reply:
            self.sent.append({"op": op, **fields})
            return wire.Reply(req="r1", ok=False, code="invalid", error=error)

    client = Refusing()
    screen = VisitForm(records(FakeStore({"h001": elder("王秀英", age=82)}), client), "h001")
    app = Host(screen)
    async with app.run_test(size=(100, 40)) as pilot:
        screen.query_one("#c-health", Checkbox).value = True
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert client.sent and notes(app)[-1].startswith("未保存：有内容超出服务站允许的范围")
        assert not LATIN.search(notes(app)[-1])


# --- limits that say so ----------------------------------------------------------------------


async def test_the_visit_notes_stop_at_the_station_limit_and_say_so() -> None:
    """The station takes 2000 characters of notes: the text area counts them as they fill,
    and a paste that would go past refuses whole, saying why."""
    screen = VisitForm(records(FakeStore({"h001": elder("王秀英", age=82)})), "h001")
    app = Host(screen)
    async with app.run_test(size=(100, 40)) as pilot:
        area = screen.query_one("#visit-notes", TextArea)
        assert str(area.border_subtitle) == "0/2000 字"
        area.focus()
        area.post_message(events.Paste("探访" * 995))
        await pilot.pause()
        assert len(area.text) == 1990 and str(area.border_subtitle) == "1990/2000 字"
        area.post_message(events.Paste("老人精神很好，血压正常"))  # 11 more: past the limit
        await pilot.pause()
        assert len(area.text) == 1990, "refused whole, nothing cut"
        assert notes(app)[-1] == "最多 2000 个字：这段内容放不下，没有输入（已有 1990 个字）"
        await pilot.press(*"血压正常")
        assert len(area.text) == 1994 and str(area.border_subtitle) == "1994/2000 字"


async def test_a_paste_past_the_resolve_notes_limit_is_explained() -> None:
    screen = ResolveScreen(Texts("en"), "王秀英", [("safe_by_phone", "Safe")])
    app = Host(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        field = screen.query_one("#notes", Input)
        field.focus()
        field.post_message(events.Paste("x" * 2001))
        await pilot.pause()
        assert field.value == ""
        assert notes(app) == ["At most 2000 characters: that does not fit and was not entered (0 so far)"]


async def test_a_paste_past_the_alarm_note_limit_is_explained(station: DeskStation,
                                                               tmp_path: Path) -> None:
    async with at_desk(station, tmp_path) as (app, pilot):
        station.raise_alarm("h001")
        await pilot.press("enter")
        screen = await eventually(lambda: isinstance(app.screen, AlarmScreen) and app.screen,
                                  what="the alarm screen")
        await pilot.press("n")
        note = screen.query_one("#alarm-note", Input)
        note.post_message(events.Paste("已联系家属" * 401))
        await pilot.pause()
        assert note.value == "" and "最多 2000 个字：这段内容放不下，没有输入（已有 0 个字）" in notes(app)
        assert not [r for r in station.requests if r[0] == "alarm_note"]


# --- validation errors -----------------------------------------------------------------------

# values of every wrong kind, tried in every field of the record (and of a contact in it)
WRONG: list[object] = [None, "", " ", "x" * 300, [], {}, 1.5, -1, 10**6, "abc", True, ["a"] * 40,
                       {"x": 1}, [1], [{"name": 1}], "1940-13-45", "2020-01-01T10:00:00", 0]
BASE = {"name": "王秀英", "category": "general", "address": "青石镇新街1号"}


def elder_errors() -> list[Any]:
    """The validation errors the elder record raises for wrong values in each field."""
    tried: list[dict[str, Any]] = [{**BASE, "unknown": 1}, {**BASE, "age": 80, "birth_date": "1940-01-01"},
                                   {**BASE, "override": {"category": "key", "reason": "独居", "by": "li",
                                                         "at": "2026-01-01T00:00:00+08:00"}}]
    tried += [{**BASE, field: v} for field in ElderRecord.model_fields for v in WRONG]
    tried += [{**BASE, "key_holder": {"name": "李", "phone": "13800000001", part: v}}
              for part in ("name", "relation", "phone") for v in WRONG]
    errors = []
    for data in tried:
        try:
            ElderRecord.model_validate(data)
        except ValidationError as e:
            errors += e.errors()
    return errors


def test_every_validation_error_of_the_elder_record_reads_in_chinese() -> None:
    errors = elder_errors()
    assert len({e["type"] for e in errors}) >= 20  # the fields' own and pydantic's
    english = {e["type"]: said for e in errors  # the value typed is quoted as it was: 「abc」
               if LATIN.search(re.sub("「.*?」", "", said := field_message(e, Texts("zh_CN"))))}
    assert english == {}
    for e in errors:  # and the English words them too, never a raw key
        assert not field_message(e, Texts("en")).startswith("verr_")
