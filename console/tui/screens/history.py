"""One elder's file: the record with the group and why, then their alarms and visits, newest
first. Opened from the roster (where the search is), it leads to the form and a new visit."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.tui.records_context import Records, label_bindings
from console.tui.widgets.elder_card import elder_details


class HistoryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "edit"),
        Binding("n", "record_visit", "visit"),
        Binding("escape", "close", "close"),
    ]

    def __init__(self, records: Records, hub: str) -> None:
        super().__init__()
        self.records, self.hub = records, hub

    def compose(self) -> ComposeResult:
        yield Static(self.hub, classes="section", id="history-title")
        with VerticalScroll():
            yield Static(id="history")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        label_bindings(self, self.records.texts)
        self.show()

    def show(self) -> None:
        r, t = self.records, self.records.texts
        e = r.store.elder(self.hub)
        self.query_one("#history-title", Static).update(
            f"{e.name if e else t('unregistered')} · {self.hub}")
        out = Text()
        if e is not None:
            out.append_text(elder_details(e, r.rules, r.today(), t))  # the alarm screen's card
        out.append(f"\n\n{t('history_alarms')}\n", style="bold")
        for a in r.store.alarm_history(self.hub):
            outcome = r.label("outcome", a.outcome) if a.outcome else ""
            out.append(f"{r.day(a.raised)} {t.clock(a.raised)}  {t(f'kind_{a.kind}')}  "
                       f"{t(f'state_{a.state.value}')}  {outcome}  {a.officer or ''}"
                       + (f"  {a.notes}" if a.notes else "") + "\n")
        out.append(f"\n{t('history_visits')}\n", style="bold")
        for v in sorted(r.store.visits(hub=self.hub), key=lambda v: v.day, reverse=True):
            reached = "" if v.reached else f" ({t('visit_not_reached')})"
            contents = "、".join(r.label("content", c) for c in v.contents)
            out.append(f"{v.day}  {r.label('mode', v.mode)}{reached}  {v.by}  {contents}  {v.notes}\n")
        self.query_one("#history", Static).update(out)

    def action_edit(self) -> None:
        from console.tui.screens.elder_form import ElderForm  # the form opens this screen's peer
        self.app.push_screen(ElderForm(self.records, self.hub), lambda _: self.show())

    def action_record_visit(self) -> None:
        from console.tui.screens.visit_form import VisitForm
        self.app.push_screen(VisitForm(self.records, self.hub), lambda _: self.show())

    def action_close(self) -> None:
        self.dismiss()

