"""A table that draws only the rows on screen, for lists of 10 000 homes.

Textual's DataTable measures and stores every cell when a row is added: 10 000 homes take about
2 s to show and 0.7 s to refill with 3 000 (measured on Textual 8.2). Here a filter or a
sort only replaces the list of row keys; cells are made for the visible lines when drawn.
The last column takes the width left over; on a narrow terminal the columns named in
``narrow`` are hidden, in that order, so that the last (the address) still shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cells = Callable[[str], Sequence[Text | str]]


class VirtualTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"vtable--header", "vtable--cursor", "vtable--odd"}
    DEFAULT_CSS = """
    VirtualTable { height: 1fr; }
    VirtualTable > .vtable--header { text-style: bold; background: $boost; }
    VirtualTable > .vtable--cursor { background: $accent; color: $text; }
    VirtualTable:blur > .vtable--cursor { background: $accent 50%; }
    VirtualTable > .vtable--odd { background: $boost 40%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False), Binding("pagedown", "page(1)", show=False),
        Binding("home", "move(-1000000000)", show=False), Binding("end", "move(1000000000)", show=False),
        Binding("enter", "choose", show=False),
    ]
    cursor: reactive[int] = reactive(0)

    class Highlighted(Message):
        def __init__(self, table: VirtualTable, key: str | None) -> None:
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Chosen(Highlighted):
        """Enter, or a click on the row already selected."""

    def __init__(self, columns: Sequence[tuple[str, int]], cells: Cells, *,
                 narrow: Sequence[int] = (), **kw: Any) -> None:
        super().__init__(**kw)
        self.columns = list(columns)  # (heading, least width in cells)
        self.narrow = tuple(narrow)  # column indexes to hide, in order, while the width is short
        self.cells = cells
        self.keys: list[str] = []
        self.shown: list[tuple[int, int]] = []  # (column index, width) as drawn

    def set_columns(self, columns: Sequence[tuple[str, int]]) -> None:
        self.columns = list(columns)
        self._resize()

    def set_rows(self, keys: list[str]) -> None:
        """Show these rows in this order; the cursor stays on its row when it is still shown."""
        kept = self.current
        self.keys = keys
        self._resize()
        index = keys.index(kept) if kept is not None and kept in keys else 0
        self.cursor = -1  # a change of rows always announces the row under the cursor
        self.cursor = index

    @property
    def current(self) -> str | None:
        """The key of the row under the cursor."""
        return self.keys[self.cursor] if 0 <= self.cursor < len(self.keys) else None

    @property
    def selected(self) -> str | None:
        """What the row under the cursor stands for; a subclass may say more (the queue: its
        alarm)."""
        return self.current

    @property
    def row_count(self) -> int:
        return len(self.keys)

    def _resize(self) -> None:
        # room for a vertical scrollbar is kept, so that one appearing does not push the last
        # column out of sight
        room = self.content_region.width - self.styles.scrollbar_size_vertical
        shown = [(i, w) for i, (_, w) in enumerate(self.columns)]
        for hide in self.narrow:
            if sum(w + 1 for _, w in shown) <= room:
                break
            shown = [(i, w) for i, w in shown if i != hide]
        spare = room - sum(w + 1 for _, w in shown)
        if shown and spare > 0:
            shown[-1] = (shown[-1][0], shown[-1][1] + spare)
        self.shown = shown
        self.virtual_size = Size(sum(w + 1 for _, w in shown), len(self.keys) + 1)
        self.refresh()

    def on_resize(self) -> None:
        self._resize()

    def watch_cursor(self, old: int, new: int) -> None:
        if new < 0:
            return
        top, height = self.scroll_offset.y, max(1, self.size.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(self, self.current))

    def action_move(self, step: int) -> None:
        if self.keys:
            self.cursor = max(0, min(len(self.keys) - 1, self.cursor + step))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.size.height - 2))

    def action_choose(self) -> None:
        if self.current is not None:
            self.post_message(self.Chosen(self, self.current))

    def on_click(self, event: events.Click) -> None:
        row = event.y - 1 + self.scroll_offset.y
        if event.y >= 1 and 0 <= row < len(self.keys):
            if row == self.cursor:
                self.action_choose()
            self.cursor = row

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            return self._strip([h for h, _ in self.columns], self.get_component_rich_style("vtable--header"),
                               scroll_x, width)
        row = scroll_y + y - 1
        if row >= len(self.keys):
            return Strip.blank(width, self.rich_style)
        if row == self.cursor:
            style = self.get_component_rich_style("vtable--cursor")
        elif row % 2:
            style = self.rich_style + self.get_component_rich_style("vtable--odd")
        else:
            style = self.rich_style
        return self._strip(self.cells(self.keys[row]), style, scroll_x, width)

    def _strip(self, cells: Sequence[Text | str], style: Style, scroll_x: int, width: int) -> Strip:
        line = Text(no_wrap=True, overflow="ellipsis")
        for i, w in self.shown:
            cell = cells[i] if i < len(cells) else ""
            text = cell.copy() if isinstance(cell, Text) else Text(cell)
            text.truncate(w, overflow="ellipsis", pad=True)
            line.append_text(text)
            line.append(" ")
        segments = [Segment(s.text, style + s.style if s.style else style)
                    for s in line.render(self.app.console) if s.text != "\n"]
        return Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width, style)
