"""A row-cursor DataTable whose column headings follow the console language."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from console.tui.i18n import Texts


class LabelledTable(DataTable[Text | str]):
    COLUMNS: tuple[str, ...] = ()  # column keys; headings are the i18n keys "col_<key>"

    def __init__(self, texts: Texts, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]
        self.texts = texts

    def on_mount(self) -> None:
        self._columns()

    def _columns(self) -> None:
        for key in self.COLUMNS:
            self.add_column(self.texts(f"col_{key}"), key=key)

    def relabel(self, texts: Texts) -> None:
        self.texts = texts
        self.clear(columns=True)
        self._columns()
        self.redraw()

    def redraw(self) -> None:
        """Fill the rows again from what the widget holds."""
        raise NotImplementedError
