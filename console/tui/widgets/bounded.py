"""Text fields with a limit that say so, in the console's language.

Textual's Input refuses a key or a paste that would take it past ``max_length`` with the bell
alone: an officer who pasted a long note heard a beep, saw nothing pasted and was not told
why. Its TextArea has no limit at all: a visit's notes longer than the station takes were
sent, and refused in the station's English. Here both refuse such an edit whole (what is
there stays as it was), ring, and say the limit and how much is there; the text area also
shows its count in its border as it fills.
"""

from __future__ import annotations

from typing import Any

from textual.widget import Widget
from textual.widgets import Input, TextArea
from textual.widgets.text_area import EditResult, Location

from console.tui.i18n import Texts


def _refused(field: Widget, texts: Texts, limit: int, length: int) -> None:
    field.app.bell()
    field.notify(texts("text_too_long", max=limit, n=length), severity="warning")


class BoundedInput(Input):
    """An Input of at most ``max_length`` characters. ``texts`` may be replaced (a language
    switch)."""

    def __init__(self, texts: Texts, *, max_length: int, **kw: Any) -> None:
        super().__init__(max_length=max_length, **kw)
        self.texts = texts

    def restricted(self) -> None:  # Input calls it for an edit past max_length (no other limit is set)
        _refused(self, self.texts, self.max_length or 0, len(self.value))


class BoundedTextArea(TextArea):
    """A TextArea of at most ``max_length`` characters, its count in its bottom border."""

    def __init__(self, texts: Texts, *, max_length: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.texts, self.max_length = texts, max_length

    def on_mount(self) -> None:
        self._count()

    def _replace_via_keyboard(self, insert: str, start: Location, end: Location) -> EditResult | None:
        """Every edit the officer makes (a key, Enter, a paste) comes this way."""
        length = len(self.text) - len(self.get_text_range(start, end)) + len(insert)
        if length > self.max_length:
            _refused(self, self.texts, self.max_length, len(self.text))
            return None
        return super()._replace_via_keyboard(insert, start, end)

    def on_text_area_changed(self) -> None:
        self._count()

    def _count(self) -> None:
        self.border_subtitle = self.texts("text_count", n=len(self.text), max=self.max_length)
