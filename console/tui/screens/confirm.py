"""A yes/no question before something that cannot be taken back (leaving the desk)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from console.tui.i18n import Texts


class ConfirmScreen(ModalScreen[bool]):
    """True only for y or the yes button; n, Esc and the other button say no."""

    BINDINGS = [Binding("y", "answer(True)", show=False), Binding("n", "answer(False)", show=False),
                Binding("escape", "answer(False)", show=False)]

    def __init__(self, texts: Texts, question: str) -> None:
        super().__init__()
        self.texts, self.question = texts, question

    def compose(self) -> ComposeResult:
        t = self.texts
        with Vertical(id="confirm"):
            yield Label(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(t("quit_no"), variant="primary", id="no")
                yield Button(t("quit_yes"), variant="error", id="yes")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # Enter on a question must not leave

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
