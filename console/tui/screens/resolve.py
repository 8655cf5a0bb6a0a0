"""Close an alarm: choose the outcome (the county's codes, this alarm type's first), add notes."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from console.tui.i18n import Texts
from console.tui.widgets.bounded import BoundedInput
from hub.common import wire


class ResolveScreen(ModalScreen[tuple[str, str] | None]):
    """Returns (outcome code, notes), or None if the officer backs out."""

    BINDINGS = [Binding("escape", "dismiss_none", show=False)]

    def __init__(self, texts: Texts, elder: str, outcomes: list[tuple[str, str]], *,
                 takeover: bool = False, draft: tuple[str, str] | None = None) -> None:
        """``outcomes``: (code, label) in the order offered; ``draft``: (code, notes) of a
        resolve the station refused, chosen and typed again."""
        super().__init__()
        self.texts, self.elder, self.takeover, self.outcomes = texts, elder, takeover, outcomes
        self.draft = draft

    def compose(self) -> ComposeResult:
        t = self.texts
        with Vertical(id="resolve"):
            title = t("takeover_title" if self.takeover else "resolve_title")
            yield Label(f"{title} · {self.elder}", id="resolve-title")
            yield OptionList(*(Option(label, id=code) for code, label in self.outcomes), id="outcome")
            yield BoundedInput(t, max_length=wire.TEXT_MAX, placeholder=t("notes"), id="notes")
            with Horizontal(id="resolve-buttons"):
                yield Button(t("ok"), variant="primary", id="ok")
                yield Button(t("cancel"), id="cancel")

    def on_mount(self) -> None:
        codes = [code for code, _ in self.outcomes]
        if self.draft and self.draft[0] in codes:
            self.query_one(OptionList).highlighted = codes.index(self.draft[0])
            self.query_one(Input).value = self.draft[1]
        else:
            self.query_one(OptionList).highlighted = 0

    @on(OptionList.OptionSelected)
    def _chosen(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        ol = self.query_one(OptionList)
        index = ol.highlighted if ol.highlighted is not None else 0
        self.dismiss((self.outcomes[index][0], self.query_one(Input).value.strip()))

    @on(Button.Pressed, "#cancel")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)
