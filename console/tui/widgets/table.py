"""A VirtualTable with keyed columns headed in the console language.

The desk's queue and roster were DataTables, which measure every cell when a row is added and
render every visible cell again after any change: 10 000 homes took over 1 s at login, and the
timers' tick re-rendered the queue each second, delaying new alarms. Here a column is as wide
as its least width, its heading or any of its fixed labels in the current language, and
cells are made when a line is drawn, so a tick or a change only repaints. ``fitted`` sizes
the columns of the screens that draw a VirtualTable themselves the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text

from console.casework.elder import Category
from console.tui.i18n import Texts
from console.tui.widgets.vtable import VirtualTable


def fitted(texts: Texts, columns: Mapping[str, int],
           labels: Callable[[str], Iterable[str]]) -> list[tuple[str, int]]:
    """Each column headed "col_<key>" and as wide as its least width, its heading or the longest
    of its fixed labels, so that no language cuts a word the staff must read."""
    out = []
    for key, least in columns.items():
        heading = texts(f"col_{key}")
        out.append((heading, max(least, *map(cell_len, [heading, *labels(key)]))))
    return out


def shared_labels(t: Texts) -> dict[str, list[str]]:
    """The fixed texts of the columns several tables show (group, online, heartbeat age)."""
    return {"category": [t(f"cat_{c.value}") for c in Category],
            "online": [t("online"), t("offline")],
            "heartbeat": [t("never"), t.ago(7199)]}


class LabelledTable(VirtualTable):
    COLUMNS: ClassVar[dict[str, int]] = {}  # key -> least width; headings are the keys "col_<key>"

    def __init__(self, texts: Texts, **kw: Any) -> None:
        self.texts = texts
        super().__init__(self._columns(), self.row, **kw)

    def _columns(self) -> list[tuple[str, int]]:
        return fitted(self.texts, self.COLUMNS, self.labels)

    def labels(self, column: str) -> list[str]:
        """The fixed texts a column shows, so that it fits the longest in either language."""
        return []

    def relabel(self, texts: Texts) -> None:
        self.texts = texts
        self.set_columns(self._columns())

    def row(self, key: str) -> Sequence[Text | str]:
        """The cells of a row as drawn now."""
        raise NotImplementedError

    def cell(self, key: str, column: str) -> Text | str:
        return self.row(key)[list(self.COLUMNS).index(column)]
