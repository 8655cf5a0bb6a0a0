"""The visit lists and the visit form: what is due, recording a visit with its checklist and
follow-ups, starting an online visit's call, closing a follow-up."""

from __future__ import annotations

from datetime import date

from textual.widgets import Checkbox, Input, Static

from console.casework.records import FollowUp, VisitRecord
from console.tui.screens.visit_form import VisitForm
from console.tui.screens.visits import VisitsScreen
from console.tui.widgets.vtable import VirtualTable
from tests.support.records_fakes import TODAY, FakeClient, FakeStore, Host, elder, records


def store() -> FakeStore:
    return FakeStore(
        {"h001": elder("王秀英", age=85, category="key"), "h002": elder("张德福", age=60)},
        visit_rows=[VisitRecord("h002", "张德福", "general", TODAY.date(), "phone", "li",  # type: ignore[arg-type]
                                ("health",))],
        followup_rows=[FollowUp("h002", "张德福", "home_safety", "燃气软管老化", date(2026, 11, 1), id="f1")])


async def test_overdue_visit_is_recorded_with_checklist_and_followups() -> None:
    client = FakeClient()
    screen = VisitsScreen(records(store(), client))
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        table = screen.query_one(VirtualTable)
        assert table.keys == ["h001"]  # never visited since joining: overdue
        assert "逾期 1" in str(screen.query_one("#visits-which", Static).content)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, VisitForm)
        await pilot.press("ctrl+s")  # reached but nothing covered
        assert "请至少勾选一项探访内容" in str(form.query_one("#err-contents", Static).content)
        form.query_one("#c-health", Checkbox).value = True
        form.query_one("#c-home_safety", Checkbox).value = True
        form.query_one("#fu-home_safety", Input).value = "门口台阶松动"
        await pilot.press("ctrl+s")
        await pilot.pause()
        [sent] = client.sent
        assert sent["op"] == "visit_save" and sent["hub"] == "h001"
        assert sent["record"]["contents"] == ["health", "home_safety"]
        assert sent["record"]["followups"] == [{"content": "home_safety", "text": "门口台阶松动"}]
        assert sent["record"]["mode"] == "phone" and "by" not in sent["record"]
        assert not {"elder", "name", "category"} & set(sent["record"])


async def test_online_visit_calls_through_the_console_and_followup_closes() -> None:
    called: list[str] = []

    async def call(hub: str) -> None:
        called.append(hub)

    client = FakeClient()
    r = records(store(), client)
    r.call = call
    form = VisitForm(r, "h001")
    async with Host(form).run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+o")
        assert called == ["h001"] and form.mode == "online"
    screen = VisitsScreen(r)
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        await pilot.press("tab", "tab")
        assert screen.query_one(VirtualTable).keys == ["f1"]
        await pilot.press("x", *"已更换", "enter")
        await pilot.pause()
        assert client.sent == [{"op": "followup_close", "followup": "f1", "notes": "已更换"}]
