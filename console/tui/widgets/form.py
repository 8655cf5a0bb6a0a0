"""What the records forms (the elder's record, a visit) share: tick boxes and radio buttons
whose state is a glyph, and bringing the first error into sight.

Textual's toggles draw the same ``X`` or ``●`` ticked or not, told apart by colour alone: on a
monochrome terminal, or to an officer who does not see the colours, every box looked ticked.
Here a ticked box shows ✓ and a chosen button ●, and an unticked one is empty.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Checkbox, RadioButton


class Tick(Checkbox):
    def render(self) -> Content:
        self.BUTTON_INNER = "✓" if self.value else " "
        return super().render()


class Choice(RadioButton):
    def render(self) -> Content:
        self.BUTTON_INNER = "●" if self.value else " "
        return super().render()


def bring_into_view(error: Widget, field: Widget | None) -> None:
    """Scroll the form so that ``error`` (under its field) is in the middle of the screen, and
    put the cursor in ``field``: ctrl+s on a form whose error is below the fold must not seem
    to do nothing."""
    error.screen.scroll_to_center(error, animate=False, immediate=True)  # every scroll it sits in
    if field is not None:
        field.focus(scroll_visible=False)
