"""The records forms as a trial run found them: a birth date the form could not read told in
pydantic's English, age 130 and phone 12345 accepted (and 130 silently moving the elder to the
key group), the visit form's error below the fold so that ctrl+s seemed to do nothing, and tick
boxes ticked or not told apart by colour alone. Every error is in the console's language,
beside its field, in sight."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App
from textual.widget import Widget
from textual.widgets import Checkbox, Input, RadioButton, Static, TextArea

from console.tui.screens.elder_form import ElderForm
from console.tui.screens.visit_form import VisitForm
from hub.common.language import Language
from tests.support.records_fakes import FakeClient, FakeStore, Host, elder, records


def notes(app: App[Any]) -> list[str]:
    return [str(n.message) for n in app._notifications]


def in_sight(widget: Widget) -> bool:
    """Drawn, and wholly inside the part of the screen its form shows now."""
    region, form = widget.region, widget.screen.query_one("VerticalScroll")
    return bool(region.height) and form.region.contains_region(region)


def said(screen: ElderForm | VisitForm, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


@pytest.mark.parametrize(("language", "typed", "expected"), [
    ("zh_CN", "abc", "「abc」不是日期：请写成 1940-03-05"),
    ("en", "abc", "'abc' is not a date: write it as 1940-03-05"),
    # digits pydantic took for a timestamp: it said "Datetimes provided to dates should have zero time"
    ("zh_CN", "1940305", "「1940305」不是日期：请写成 1940-03-05"),
    ("en", "1940305", "'1940305' is not a date: write it as 1940-03-05"),
    ("zh_CN", "2030-01-01", "出生日期 2030-01-01 在今天（2026-11-20）之后"),
    ("zh_CN", "1900-01-01", "按出生日期 1900-01-01，老人到 2026-11-20 已 126 岁：请核对年份"),
    ("en", "1900-01-01", "1900-01-01 makes the elder 126 on 2026-11-20: check the year"),
])
async def test_a_birth_date_the_form_cannot_take_is_told_beside_it_in_the_console_language(
        language: Language, typed: str, expected: str) -> None:
    client = FakeClient()
    store = FakeStore({"h001": elder("王秀英", age=82)})
    screen = ElderForm(records(store, client, language=language), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-age", Input).value = ""
        screen.query_one("#f-birth_date", Input).value = typed
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert said(screen, "#err-birth_date") == expected
        assert in_sight(screen.query_one("#err-birth_date")) and screen.query_one("#f-birth_date").has_focus
        assert client.sent == []


@pytest.mark.parametrize("typed", ["1940/3/5", "1940年3月5日", "19400305", " 1940.3.5 "])
async def test_a_birth_date_written_as_people_write_one_is_taken(typed: str) -> None:
    client = FakeClient()
    screen = ElderForm(records(FakeStore({"h001": elder("王秀英", age=82)}), client), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-age", Input).value = ""
        screen.query_one("#f-birth_date", Input).value = typed
        await pilot.press("ctrl+s")
        await pilot.pause()
        [sent] = client.sent
        assert sent["record"]["birth_date"] == "1940-03-05"


@pytest.mark.parametrize(("language", "age", "phone", "contact"), [
    ("zh_CN", "130岁不合常理：年龄请填0到120", "「12345」是服务号码，不是个人电话：请填手机或座机",
     "第1行: 「0571-123」不是电话号码：手机是13到19开头的11位数字"),
    ("en", "130 is not a plausible age: give 0 to 120",
     "'12345' is a service number, not a person's: give a mobile or landline",
     "line 1: '0571-123' is not a mainland phone number: a mobile is 11 digits"),
])
async def test_age_130_and_phone_12345_are_refused(language: Language, age: str, phone: str,
                                                   contact: str) -> None:
    client = FakeClient()
    store = FakeStore({"h001": elder("王秀英", age=70)})
    screen = ElderForm(records(store, client, language=language), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-age", Input).value = "130"
        screen.query_one("#f-phone", Input).value = "12345"
        screen.query_one("#elder-contacts", TextArea).text = "王建国 儿子 0571-123"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert said(screen, "#err-age") == age
        assert said(screen, "#err-phone") == phone
        assert said(screen, "#err-contacts").startswith(contact)
        assert in_sight(screen.query_one("#err-age")) and screen.query_one("#f-age").has_focus
        assert client.sent == []
        screen.query_one("#f-age", Input).value = "120"
        screen.query_one("#f-phone", Input).value = "0571-8888 1234转801"
        screen.query_one("#elder-contacts", TextArea).text = "王建国 儿子 +86 138 0000 0001"
        await pilot.press("ctrl+s")
        await pilot.pause()
        [sent] = client.sent
        assert sent["record"]["age"] == 120 and sent["record"]["phone"] == "0571-8888 1234转801"


@pytest.mark.parametrize(("language", "beside", "saved"), [
    ("zh_CN", "85岁 → 按县规则类别：重点（依据：年满80周岁）  保存后类别由一般改为重点",
     "已保存档案：王秀英；保存后类别由一般改为重点"),
    ("en", "age 85 → Group by the county rules: key (because: aged 80 or over)  saving moves the "
     "group from general to key", "Record saved: 王秀英; saving moves the group from general to key"),
])
async def test_the_group_shows_beside_the_age_and_a_change_of_group_is_said(
        language: Language, beside: str, saved: str) -> None:
    client = FakeClient()
    store = FakeStore({"h001": elder("王秀英", age=70)})
    screen = ElderForm(records(store, client, language=language), "h001")
    app = Host(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        group = screen.query_one("#age-group", Static)
        assert "70" in str(group.content) and "→" in str(group.content)
        assert "保存后" not in str(group.content) and "saving" not in str(group.content)
        age = screen.query_one("#f-age", Input)
        age.focus()
        age.value = "85"
        await pilot.pause()
        assert str(group.content) == beside
        assert in_sight(group) and group.region.y - age.region.bottom <= 1  # just under the field
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert client.sent[0]["record"]["category"] == "key"
        assert notes(app)[-1] == saved


async def test_ctrl_s_on_a_bad_visit_form_brings_the_error_into_sight() -> None:
    """At 80x24 the visit form is longer than the screen: the error was drawn below the notes."""
    client = FakeClient()
    screen = VisitForm(records(FakeStore({"h001": elder("王秀英", age=82)}), client), "h001")
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")  # reached, but no content ticked
        await pilot.pause()
        shown = [s for s in screen.query(Static).results(Static)
                 if "请至少勾选一项探访内容" in str(s.content)]
        assert shown and all(in_sight(s) for s in shown)
        assert isinstance(screen.focused, Checkbox) and in_sight(screen.focused)
        assert notes(app)[-1].startswith("请修改：") and client.sent == []
        await pilot.press("space")  # the cursor is on the first content: tick it
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert client.sent[0]["record"]["contents"] == ["health"]


async def test_ctrl_s_brings_an_error_at_the_end_of_the_elder_form_into_sight() -> None:
    client = FakeClient()
    screen = ElderForm(records(FakeStore({"h001": elder("王秀英", age=82)}), client), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        screen.query_one("#f-grid_worker", Input).value = "陈网格 12ab"
        screen.query_one("#f-name", Input).focus()
        await pilot.pause()
        assert not in_sight(screen.query_one("#err-grid_worker"))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "「12ab」不是电话号码" in said(screen, "#err-grid_worker")
        assert in_sight(screen.query_one("#err-grid_worker")) and screen.query_one("#f-grid_worker").has_focus


async def test_ticked_and_unticked_boxes_differ_by_a_glyph_not_only_by_colour() -> None:
    screen = VisitForm(records(FakeStore({"h001": elder("王秀英", age=82)})), "h001")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        def glyph(w: Checkbox | RadioButton) -> str:
            return w.render().plain[1]  # ▐?▌ label

        reached = screen.query_one("#visit-reached", Checkbox)
        health = screen.query_one("#c-health", Checkbox)
        assert (glyph(reached), glyph(health)) == ("✓", " ")
        chosen, other = list(screen.query(RadioButton).results(RadioButton))[:2]
        assert (glyph(chosen), glyph(other)) == ("●", " ")
        health.value = True
        await pilot.pause()
        assert glyph(health) == "✓"
    form = ElderForm(records(FakeStore({"h001": elder("王秀英", age=82, dementia=True)})), "h001")
    async with Host(form).run_test(size=(80, 24)):
        assert glyph(form.query_one("#f-dementia", Checkbox)) == "✓"
        assert glyph(form.query_one("#f-bedridden", Checkbox)) == " "
