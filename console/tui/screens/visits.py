"""The visit lists: overdue (most overdue first), due today, and open follow-ups. Tab moves
between them; a visit is recorded for the elder selected, a follow-up closed with a note.

The screen opens on the first list that has anyone in it, with its first row selected, so
``n`` records a visit at once; a list left empty (its last visit recorded) gives way the same."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from console.casework.records import FollowUp
from console.casework.schedule import Due, Need, agenda
from console.tui.records_context import Records, label_bindings
from console.tui.screens.visit_form import VisitForm
from console.tui.widgets.bounded import BoundedInput
from console.tui.widgets.table import fitted, shared_labels
from console.tui.widgets.vtable import VirtualTable
from hub.common import wire

LISTS = ("overdue", "due", "followups")
DUE_COLUMNS = {"hub": 8, "elder": 8, "category": 4, "due": 10, "late": 4, "need": 8}
FOLLOWUP_COLUMNS = {"hub": 8, "elder": 8, "content": 8, "opened": 10, "text": 20}


class VisitsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "next_list", "tab"),
        Binding("n", "record_visit", "visit"),
        Binding("x", "close_followup", "close item"),
        Binding("escape", "close", "close"),
    ]
    DEFAULT_CSS = """
    VisitsScreen #visits-which { height: 1; padding: 0 1; background: $boost; }
    VisitsScreen #followup-notes { display: none; }
    VisitsScreen #followup-notes.asking { display: block; }
    """

    def __init__(self, records: Records) -> None:
        super().__init__()
        self.records = records
        self.which: str | None = None  # the list shown; None until the first has been chosen
        self.due: dict[str, Due] = {}
        self.followups: dict[str, FollowUp] = {}
        self.lists: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        t = self.records.texts
        yield Static(t("visits_title"), classes="section")
        yield Static("", id="visits-which")
        yield VirtualTable([], self._cells, id="visits-table")
        yield BoundedInput(t, max_length=wire.TEXT_MAX, placeholder=t("followup_notes"),
                           id="followup-notes")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        label_bindings(self, self.records.texts)
        self.reload()
        self.query_one(VirtualTable).focus()

    def reload(self) -> None:
        r = self.records
        a = agenda(r.store.visit_histories(), r.rules, r.today())
        self.due = {d.elder: d for d in [*a.overdue, *a.due]}
        self.followups = {f.id: f for f in r.store.followups(open_only=True)}
        self.lists = {"overdue": [d.elder for d in a.overdue], "due": [d.elder for d in a.due],
                      "followups": list(self.followups)}
        if self.which is None or not self.lists[self.which]:
            self.which = next((w for w in LISTS if self.lists[w]), self.which or LISTS[0])
        self.show(self.which)

    def show(self, which: str) -> None:
        t = self.records.texts
        self.which = which
        self.query_one("#visits-which", Static).update("  ".join(
            f"[reverse]{t(f'visits_{w}', n=len(self.lists[w]))}[/]" if w == which
            else t(f"visits_{w}", n=len(self.lists[w])) for w in LISTS))
        columns = FOLLOWUP_COLUMNS if which == "followups" else DUE_COLUMNS
        table = self.query_one(VirtualTable)
        table.set_columns(fitted(t, columns, self._labels))
        table.set_rows(self.lists[which])

    def _labels(self, column: str) -> list[str]:
        r, t = self.records, self.records.texts
        return {
            "category": shared_labels(t)["category"],
            "need": [t(f"need_{n.value}") for n in Need],
            "content": [c.text(t.language) for c in r.rules.visits.contents],
        }.get(column, [])

    def _cells(self, key: str) -> list[Text | str]:
        r, t = self.records, self.records.texts
        if self.which == "followups":
            f = self.followups[key]
            return [f.elder, f.name, r.label("content", f.content), f.opened.isoformat(), f.text]
        d = self.due[key]
        e = r.store.elder(key)
        late = d.days_overdue(r.today())
        return [d.elder, e.name if e else "-", t(f"cat_{d.category.value}"), d.due.isoformat(),
                Text(str(late), style="bold yellow") if late else "", t(f"need_{d.need.value}")]

    def action_next_list(self) -> None:
        self.show(LISTS[(LISTS.index(self.which or LISTS[0]) + 1) % len(LISTS)])
        self.query_one(VirtualTable).focus()

    def action_record_visit(self) -> None:
        key = self.query_one(VirtualTable).selected
        if key is None:
            self.notify(self.records.texts("visits_empty"), severity="warning")
            return
        hub = self.followups[key].elder if self.which == "followups" else key
        self.app.push_screen(VisitForm(self.records, hub), lambda saved: self.reload() if saved else None)

    def action_close_followup(self) -> None:
        if self.which == "followups" and self.query_one(VirtualTable).selected:
            notes = self.query_one("#followup-notes", Input)
            notes.add_class("asking")
            notes.focus()

    @on(Input.Submitted, "#followup-notes")
    async def _close_followup(self, event: Input.Submitted) -> None:
        r = self.records
        key = self.query_one(VirtualTable).selected
        event.input.remove_class("asking")
        if key is None:
            return
        reply = await r.client.request("followup_close", followup=key, notes=event.value.strip())
        self.query_one(VirtualTable).focus()
        if not reply.ok:  # what was typed stays, for the next try
            self.notify(r.refused(reply), severity="error")
            return
        event.input.value = ""
        self.notify(r.texts("followup_closed", text=self.followups[key].text))
        self.reload()

    def action_close(self) -> None:
        self.dismiss()
