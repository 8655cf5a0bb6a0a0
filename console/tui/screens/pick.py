"""Pick one from a short list (whom to dispatch, whose arrival or acceptance to record)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class PickScreen(ModalScreen[str | None]):
    """Returns the id of the option chosen (Enter), or None (Esc)."""

    BINDINGS = [Binding("escape", "dismiss_none", show=False)]

    def __init__(self, title: str, options: list[tuple[str, str]]) -> None:
        """``options``: (id, label) in the order offered."""
        super().__init__()
        self.title_text, self.options = title, options

    def compose(self) -> ComposeResult:
        with Vertical(id="pick"):
            yield Label(self.title_text, id="pick-title")
            yield OptionList(*(Option(label, id=id) for id, label in self.options), id="pick-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
