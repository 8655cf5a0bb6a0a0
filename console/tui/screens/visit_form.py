"""Record a visit: how it was made, the county's content checklist with what needs follow-up
beside each item, and notes; an online visit can start the voice call from here.

Checked with casework.records.visit_problems before it is sent (``visit_save``); each problem
shows beside what it is about (the mode, the contents; one about the visit as a whole at the
top), and ctrl+s brings the first into sight with the cursor on its field. The record is the
VisitRecord's fields plus ``followups`` [{content, text}], which the station opens. The notes
and each follow-up stop at what the station takes (records_store's bounds), and say so.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, RadioButton, RadioSet, Static, TextArea

from console.casework.elder import Category
from console.casework.records import VisitRecord, visit_problems
from console.station.records_store import FOLLOWUP_TEXT_MAX, VISIT_NOTES_MAX
from console.tui.records_context import Records, label_bindings
from console.tui.validation import problem_text
from console.tui.widgets.bounded import BoundedInput, BoundedTextArea
from console.tui.widgets.form import Choice, Tick, bring_into_view

# where a problem of casework.records.visit_problems is shown: beside the mode, the contents,
# or at the top (the visit as a whole: its day, who visited)
PLACES = {"unknown_mode": "mode", "unknown_content": "contents", "no_content": "contents"}


class VisitForm(Screen[bool]):
    """Dismissed with True when the visit was saved."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "save"),
        Binding("ctrl+o", "call", "call"),
        Binding("escape", "close", "close"),
    ]
    DEFAULT_CSS = """
    VisitForm .content { height: auto; }
    VisitForm .content Checkbox { width: 24; }
    VisitForm .content Input { width: 1fr; }
    VisitForm #visit-notes { height: 4; }
    VisitForm #visit-buttons { height: auto; }
    VisitForm .error { color: $error; height: auto; text-style: bold; }
    """

    def __init__(self, records: Records, hub: str) -> None:
        super().__init__()
        self.records, self.hub = records, hub
        self.elder = records.store.elder(hub)

    def compose(self) -> ComposeResult:
        t, rules, lang = self.records.texts, self.records.rules, self.records.texts.language
        yield Static(t("visit_title", name=self.elder.name if self.elder else self.hub), classes="section")
        with VerticalScroll():
            yield Static("", classes="error", id="err-visit")
            yield Label(t("visit_mode"))
            with RadioSet(id="visit-mode"):
                for i, m in enumerate(rules.visits.modes):
                    yield Choice(m.text(lang), value=i == 0, id=f"mode-{m.key}")
            yield Static("", classes="error", id="err-mode")
            yield Tick(t("visit_reached"), True, id="visit-reached")
            yield Label(t("visit_contents"))
            yield Static("", classes="error", id="err-contents")
            for c in rules.visits.contents:
                with Horizontal(classes="content"):
                    yield Tick(c.text(lang), id=f"c-{c.key}", tooltip=c.hint.text(lang))
                    yield BoundedInput(t, max_length=FOLLOWUP_TEXT_MAX, placeholder=t("visit_followup"),
                                       id=f"fu-{c.key}")
            yield Label(t("visit_notes"))
            yield BoundedTextArea(t, max_length=VISIT_NOTES_MAX, id="visit-notes")
            with Horizontal(id="visit-buttons"):
                yield Button(t("save"), variant="primary", id="save")
                yield Button(t("cancel"), id="cancel")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        label_bindings(self, self.records.texts)
        self.query_one(RadioSet).focus()  # the first field, not the scrolling form around it

    @property
    def mode(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return (pressed.id or "").removeprefix("mode-") if pressed else self.records.rules.visits.modes[0].key

    def payload(self) -> tuple[VisitRecord, list[dict[str, str]]]:
        r = self.records
        contents = tuple(c.key for c in r.rules.visits.contents
                         if self.query_one(f"#c-{c.key}", Checkbox).value)
        followups = [{"content": c.key, "text": text} for c in r.rules.visits.contents
                     if (text := self.query_one(f"#fu-{c.key}", Input).value.strip())]
        visit = VisitRecord(elder=self.hub, name=self.elder.name if self.elder else "",
                            category=self.elder.category if self.elder else Category.GENERAL,
                            day=r.today(), mode=self.mode, by=r.user, contents=contents,
                            reached=self.query_one("#visit-reached", Checkbox).value,
                            notes=self.query_one(TextArea).text.strip())
        return visit, followups

    async def action_save(self) -> None:
        r, t = self.records, self.records.texts
        visit, followups = self.payload()
        problems = visit_problems(visit, r.rules, r.today())
        places: dict[str, list[str]] = {"visit": [], "mode": [], "contents": []}  # down the form
        for problem in problems:
            places[PLACES.get(problem.code, "visit")].append(problem_text(problem, t))
        self._errors(places)
        if problems:
            self.notify(t("visit_fix", problems="; ".join(problem_text(p, t) for p in problems)),
                        severity="warning")
            return
        # the station adds the elder's name and group, and as `by` the officer's display name
        record: dict[str, Any] = {
            "day": visit.day.isoformat(), "mode": visit.mode,
            "contents": list(visit.contents), "reached": visit.reached, "notes": visit.notes,
            "followups": followups}
        reply = await r.client.request("visit_save", hub=self.hub, record=record)
        if not reply.ok:
            self.notify(r.refused(reply), severity="error")
            return
        self.notify(t("visit_saved", name=visit.name or self.hub))
        self.dismiss(True)

    def _errors(self, errors: dict[str, list[str]]) -> None:
        """Each place's problems beside it; the first place with any brought into sight."""
        fields: dict[str, Widget] = {"mode": self.query_one(RadioSet),
                                     "contents": self.query(".content Checkbox").first()}
        first = next((p for p, said in errors.items() if said), None)
        for place, said in errors.items():
            self.query_one(f"#err-{place}", Static).update("; ".join(said))
        if first is not None:
            bring_into_view(self.query_one(f"#err-{first}", Static), fields.get(first))

    async def action_call(self) -> None:
        """An online visit: the console's call line calls the home (it hears the chime first)."""
        if self.records.call is None:
            self.notify(self.records.texts("visit_no_call"), severity="warning")
            return
        online = next((m.key for m in self.records.rules.visits.modes if m.console_call), None)
        if online:
            self.query_one(f"#mode-{online}", RadioButton).value = True
        await self.records.call(self.hub)

    @on(Button.Pressed, "#save")
    async def _save_pressed(self) -> None:
        await self.action_save()

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(False)
