"""The response plan as a checklist: the county's steps for this alarm type, each stamped with
the time and the officer when done (``alarm_step`` at the station), the hint for this type
beside it. Enter or a click on a step asks for it to be stamped (or who did it); the screen sends the request,
so what shows is always what the station stored. The hint column takes the width the mark and
the step leave and a long hint wraps there, row by row, never cut (drawn again when the width
changes); where that is too narrow to read, the column is left empty. The screen also shows
the highlighted step's ``detail`` in full below the list."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from console.casework.county import Plan
from console.station.store.rows import StepRow
from console.tui.i18n import Texts
from hub.common.language import Language

HINT = ColumnKey("hint")
HINT_LEAST = 20  # cells: a hint column narrower would wrap a hint into a tower of a few characters


class Checklist(DataTable[Text | str]):
    class Stamp(Message):
        """The officer asks for ``step`` to be stamped done."""

        def __init__(self, step: str) -> None:
            super().__init__()
            self.step = step

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]
        self.plan: Plan | None = None
        self.done: dict[str, StepRow] = {}
        self.language: Language = "zh_CN"
        self._shown: tuple[Plan, list[StepRow], Texts] | None = None  # to draw again at a new width
        self._width = 0  # the width last drawn at

    def on_mount(self) -> None:
        self.add_columns("", "")
        self.add_column("", key=HINT.value, width=1)

    def on_resize(self) -> None:
        if self._shown and self.scrollable_content_region.width != self._width:
            self.show(*self._shown)

    def show(self, plan: Plan, steps: list[StepRow], t: Texts) -> None:
        """Draw the plan with the stamped steps, keeping the cursor; the cursor moves to the
        first step not done when the plan is first shown, and on to the next step not done
        when the one under it has just been stamped."""
        first, before = self.plan is None, set(self.done)
        self.plan, self.done, self._shown = plan, {s.step: s for s in steps}, (plan, steps, t)
        row = self.cursor_row
        self.clear()
        self.language = lang = t.language
        rows: list[tuple[Text, Text, str]] = []
        for i, p in enumerate(plan.steps, 1):
            s = self.done.get(p.key)
            mark = Text(f"✓ {t.clock(s.ts)[:5]}", style="bold green") if s else Text("☐", style="bold")
            rows.append((mark, Text(f"{i}. {p.label.text(lang)}", style="dim" if s else "bold"), p.key))
        taken = max(cell_len(r[0].plain) for r in rows) + max(cell_len(r[1].plain) for r in rows)
        self._width = self.scrollable_content_region.width
        left = self._width - taken - 6 * self.cell_padding
        self.columns[HINT].width = left if left >= HINT_LEAST else 1
        for mark, label, key in rows:  # a row as many lines as its hint takes
            self.add_row(mark, label, Text(self.detail(key) if left >= HINT_LEAST else ""), key=key,
                         height=None)
        if first:
            row = next((i for i, p in enumerate(plan.steps) if p.key not in self.done), 0)
        elif 0 <= row < len(plan.steps) and plan.steps[row].key in set(self.done) - before:
            row = next((i for i, p in enumerate(plan.steps) if i > row and p.key not in self.done), row)
        self.move_cursor(row=min(row, len(plan.steps) - 1))

    def detail(self, step: str) -> str:
        """The step's hint, or once stamped who did it and their note."""
        assert self.plan is not None
        s = self.done.get(step)
        if s and (s.officer or s.note):
            return " ".join(x for x in (s.officer, s.note) if x)
        hint = next(p.hint for p in self.plan.steps if p.key == step)
        return hint.text(self.language) if hint else ""

    @property
    def current(self) -> str | None:
        if self.plan is None or not 0 <= self.cursor_row < len(self.plan.steps):
            return None
        return self.plan.steps[self.cursor_row].key

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:  # a step done already: the screen says by whom
            self.post_message(self.Stamp(event.row_key.value))
