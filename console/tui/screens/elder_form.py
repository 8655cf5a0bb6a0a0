"""Create or edit an elder's record: each problem shown under its field (ctrl+s brings the first
into sight), the group the county rules give (and why) shown as the facts are typed, beside the
age and above the override, and a supervisor's override with its reason. A save that moves the
elder to another group says so before (beside the age) and after: a group never changes silently.

The record is checked here with ``ElderRecord`` before it is sent (``elder_save``); the station
checks it again and recomputes the group. An override is its own request (``elder_override``),
audited with the reason, and only supervisors and administrators see the field.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static, TextArea

from console.casework.category import effective
from console.casework.elder import Ability, Category, Contact, ElderRecord, Sex, birth_problem
from console.tui.records_context import Records, label_bindings
from console.tui.screens.confirm import ConfirmScreen
from console.tui.validation import field_message, problem_text
from console.tui.widgets.form import Tick, bring_into_view
from hub.common.wire import HUB_ID_PATTERN

TEXT_FIELDS = ("name", "birth_date", "age", "phone", "id_tail", "file_no", "address", "directions",
               "identifying", "disability_grade")
LIST_FIELDS = ("conditions", "medicines", "allergies")
FLAGS = ("bedridden", "dementia", "living_alone", "limited_mobility")
PEOPLE = ("key_holder", "grid_worker")  # one contact each, written as a line of the contacts
_SPLIT = re.compile(r"[、,，;；]+")
_PHONE_GROUP = re.compile(r"\+?[0-9][0-9-]*")
RULES = "rules"  # the override select's value for "as the rules give"


class ElderForm(Screen[bool]):
    """Dismissed with True when the record was saved."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "save"),
        Binding("escape", "close", "close"),
    ]
    DEFAULT_CSS = """
    ElderForm .field { height: auto; }
    ElderForm Label { margin-top: 1; }
    ElderForm .error { color: $error; height: auto; }
    ElderForm #elder-category { margin-top: 1; text-style: bold; }
    ElderForm #age-group { height: auto; }
    ElderForm #elder-contacts { height: 5; }
    ElderForm .flags { height: auto; }
    ElderForm #elder-buttons { height: auto; margin-top: 1; }
    """

    def __init__(self, records: Records, hub: str | None) -> None:
        super().__init__()
        self.records, self.hub = records, hub
        self.record = records.store.elder(hub) if hub else None
        self.loaded: list[object] = []  # what the fields held when the form opened

    def compose(self) -> ComposeResult:
        t, e = self.records.texts, self.record
        title = t("elder_edit", name=e.name) if e else t("elder_new")
        yield Static(f"{title} · {self.hub or ''}", classes="section")
        with VerticalScroll():
            if self.hub is None:
                yield from self._field("hub", Input(id="f-hub"))
            for name in TEXT_FIELDS:
                value = getattr(e, name) if e else None
                yield from self._field(name, Input("" if value is None else str(value), id=f"f-{name}"))
                if name == "age":
                    yield Static("", id="age-group")
            yield from self._field("sex", Select(
                [(t(f"sex_{s.value}"), s.value) for s in Sex], id="f-sex",
                value=e.sex.value if e and e.sex else Select.NULL))
            yield from self._field("ability", Select(
                [(t(f"ability_{a.value}"), a.value) for a in Ability], id="f-ability",
                value=e.ability.value if e and e.ability else Select.NULL))
            with Horizontal(classes="flags"):
                for flag in FLAGS:
                    yield Tick(t(f"field_{flag}"), bool(e and getattr(e, flag)), id=f"f-{flag}")
            for name in LIST_FIELDS:
                yield from self._field(name, Input("、".join(getattr(e, name)) if e else "", id=f"f-{name}"))
            contacts = "\n".join(_line(c) for c in e.contacts) if e else ""
            yield from self._field("contacts", TextArea(contacts, id="elder-contacts"))
            for name in PEOPLE:
                person = getattr(e, name) if e else None
                yield from self._field(name, Input(_line(person) if person else "", id=f"f-{name}"))
            yield Static("", id="elder-category")
            if self.records.may_override:
                current = e.override.category.value if e and e.override else RULES
                yield from self._field("override", Select(
                    [(t("override_rules"), RULES), *((t(f"cat_{c.value}"), c.value) for c in Category)],
                    allow_blank=False, value=current, id="f-override"))
                yield Input(e.override.reason if e and e.override else "", id="f-reason",
                            placeholder=t("override_reason"))
            with Horizontal(id="elder-buttons"):
                yield Button(t("save"), variant="primary", id="save")
                yield Button(t("cancel"), id="cancel")
        yield Footer(compact=True)

    def _field(self, name: str, widget: Any) -> ComposeResult:
        yield Label(self.records.texts(f"field_{name}"))
        yield widget
        yield Static("", classes="error", id=f"err-{name}")

    def on_mount(self) -> None:
        label_bindings(self, self.records.texts)
        self._show_category()
        self.loaded = self._typed()

    def _typed(self) -> list[object]:
        """Every field's value as it stands, to tell whether anything was changed."""
        return [w.text if isinstance(w, TextArea) else w.value
                for w in self.query("Input, Select, Checkbox, TextArea").results()
                if isinstance(w, Input | Select | Checkbox | TextArea)]

    @property
    def changed(self) -> bool:
        return self._typed() != self.loaded

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self._show_category()

    def _show_category(self) -> None:
        """The group the rules give for what is typed so far, and the county's reasons; beside
        the age also the age it is worked out from, and whether saving changes the group."""
        t, r = self.records.texts, self.records
        try:
            record = ElderRecord.model_validate(self._data(Category.GENERAL, with_override=False))
        except (ValidationError, ValueError):
            pending = Text(t("elder_category_pending"), style="dim")
            self.query_one("#elder-category", Static).update(pending)
            self.query_one("#age-group", Static).update(pending)
            return
        eff = effective(record, r.rules, r.today())
        reasons = "、".join(r.label("criterion", k) for k in eff.rules.reasons)
        line = Text(t("elder_category", category=t(f"cat_{eff.category.value}"), reasons=reasons))
        if change := self._change(eff.category):
            line.append(f"  {change}", style="bold yellow")
        self.query_one("#elder-category", Static).update(line)
        age = record.age_on(r.today())
        self.query_one("#age-group", Static).update(
            Text.assemble(t("elder_age_is", age=age) if age is not None else "", " → ", line))

    def _change(self, rules: Category) -> str:
        """What saving does to the stored group when the rules now give ``rules`` (an override
        kept on the record holds the group where it is); "" when it stays."""
        old = self.record
        if old is None or old.override is not None or old.category is rules:
            return ""
        t = self.records.texts
        return t("elder_category_change", old=t(f"cat_{old.category.value}"), new=t(f"cat_{rules.value}"))

    def _data(self, category: Category, *, with_override: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = self.record.model_dump() if self.record else {}
        for name in TEXT_FIELDS:
            value = self.query_one(f"#f-{name}", Input).value.strip()
            data[name] = value or None
        for name in ("directions", "identifying"):
            data[name] = data[name] or ""
        for name in ("sex", "ability"):
            chosen = self.query_one(f"#f-{name}", Select).value
            data[name] = None if chosen is Select.NULL else chosen
        for flag in FLAGS:
            data[flag] = self.query_one(f"#f-{flag}", Checkbox).value
        for name in LIST_FIELDS:
            data[name] = [p.strip() for p in _SPLIT.split(self.query_one(f"#f-{name}", Input).value)
                          if p.strip()]
        data["contacts"] = [_contact(line) for line in
                            self.query_one("#elder-contacts", TextArea).text.splitlines() if line.strip()]
        for name in PEOPLE:
            line = self.query_one(f"#f-{name}", Input).value
            data[name] = _contact(line) if line.strip() else None
        data["category"] = category
        if not with_override:
            data["override"] = None
        return data

    def _errors(self, errors: dict[str, str]) -> None:
        """Each error under its field; the first (down the form) brought into sight."""
        first: Static | None = None
        for static in self.query(".error").results(Static):
            static.update(errors.get((static.id or "").removeprefix("err-"), ""))
            if first is None and (static.id or "").removeprefix("err-") in errors:
                first = static
        if first is not None:
            bring_into_view(first, self._before(first))

    @staticmethod
    def _before(error: Widget) -> Widget | None:
        """The field an error slot is under (``_field`` yields the label, the field, the slot)."""
        siblings = list(error.parent.children) if error.parent else []
        i = siblings.index(error)
        return siblings[i - 1] if i else None

    def _hub(self) -> str | None:
        if self.hub:
            return self.hub
        hub = self.query_one("#f-hub", Input).value.strip()
        return hub if re.match(HUB_ID_PATTERN, hub) else None

    async def action_save(self) -> None:
        r, t = self.records, self.records.texts
        errors: dict[str, str] = {}
        hub = self._hub()
        if hub is None:
            errors["hub"] = t("err_hub_id")
        override, reason = self._override()
        if override is not None and len(reason) < 2:
            errors["override"] = t("err_override_reason")
        record: ElderRecord | None = None
        try:
            record = ElderRecord.model_validate(self._data(Category.GENERAL, with_override=False))
        except ValidationError as e:
            for err in e.errors():
                field = str(err["loc"][0]) if err["loc"] else "name"
                where = f"{t('elder_contact_line', n=int(err['loc'][1]) + 1)}: " \
                    if field == "contacts" and len(err["loc"]) > 1 else ""
                errors.setdefault(field if self._has_error_slot(field) else "name",
                                  where + field_message(err, t))
        if record and record.birth_date and (problem := birth_problem(record.birth_date, r.today())):
            errors["birth_date"] = problem_text(problem, t)
        self._errors(errors)
        if errors or record is None or hub is None:
            self.notify(t("elder_fix"), severity="warning")
            return
        kept = self.record.override if self.record else None
        category = kept.category if kept else effective(record, r.rules, r.today()).category
        change = self._change(category)
        record = record.model_copy(update={"category": category, "override": kept})
        reply = await r.client.request("elder_save", hub=hub, record=record.model_dump(mode="json"))
        if not reply.ok:
            self.notify(r.refused(reply), severity="error")
            return
        if override is not None:
            reply = await r.client.request("elder_override", hub=hub,
                                           category=None if override == RULES else override, notes=reason)
            if not reply.ok:
                self.notify(r.refused(reply), severity="error")
                return
        self.notify(t("elder_saved_moved", name=record.name, change=change) if change
                    else t("elder_saved", name=record.name))
        self.dismiss(True)

    def _override(self) -> tuple[str | None, str]:
        """The group chosen against the rules when it changed (``rules``: clear it), and why."""
        if not self.records.may_override:
            return None, ""
        value = self.query_one("#f-override", Select).value
        kept = self.record.override.category.value if self.record and self.record.override else RULES
        if value == kept:
            return None, ""
        return str(value), self.query_one("#f-reason", Input).value.strip()

    def _has_error_slot(self, field: str) -> bool:
        return bool(self.query(f"#err-{field}"))

    @on(Button.Pressed, "#save")
    async def _save_pressed(self) -> None:
        await self.action_save()

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        """Esc (or Cancel) closes the form; when something was changed it asks first, and
        Enter, n or Esc on the question go back to the form."""
        if not self.changed:
            self.dismiss(False)
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.dismiss(False)

        self.app.push_screen(ConfirmScreen(self.records.texts, self.records.texts("elder_discard")), answered)


def _line(c: Contact) -> str:
    return " ".join(p for p in (c.name, c.relation, c.phone) if p)


def _contact(line: str) -> dict[str, str]:
    """``王建国 儿子 138-0000-0001``: the name first, the phone last, the relation between. A
    phone written in groups (+86 139 0000 0002) is every trailing group of digits, so it is
    read back whole rather than its last group taken for the phone."""
    parts = line.replace(",", " ").replace("，", " ").split()
    if len(parts) == 1:
        return {"name": parts[0], "relation": "", "phone": ""}
    end = len(parts)
    while end > 1 and _PHONE_GROUP.fullmatch(parts[end - 1]):
        end -= 1
    end = min(end, len(parts) - 1)  # no digits at the end: the last word is checked as the phone
    return {"name": parts[0], "relation": " ".join(parts[1:end]), "phone": " ".join(parts[end:])}
