"""The alarm queue: open alarms by priority, then care group, then age, with waiting timers."""

from __future__ import annotations

import time

from rich.text import Text

from console.station.store import AlarmRow
from console.tui.i18n import Texts
from console.tui.widgets.fmt import clock, duration, elder_name
from console.tui.widgets.table import LabelledTable
from hub.events import AlarmState

COLUMNS = ("priority", "time", "wait", "elder", "category", "address", "kind", "state", "officer")
PRIORITY_STYLE = {1: "bold white on red", 2: "bold black on yellow", 3: "bold black on cyan",
                  4: "dim"}


class AlarmQueue(LabelledTable):
    """One row per open alarm, keyed by alarm id."""

    COLUMNS = COLUMNS

    def __init__(self, texts: Texts, escalate_after_s: float, **kw: object) -> None:
        super().__init__(texts, **kw)
        self.escalate_after_s = escalate_after_s
        self.alarms: list[AlarmRow] = []

    def redraw(self) -> None:
        self.show(self.alarms)

    @property
    def selected(self) -> AlarmRow | None:
        if not self.alarms or self.cursor_row < 0 or self.cursor_row >= len(self.alarms):
            return None
        return self.alarms[self.cursor_row]

    def show(self, alarms: list[AlarmRow]) -> None:
        """Replace the rows, keeping the cursor on the same alarm."""
        keep = self.selected.id if self.selected else None
        self.alarms = sorted(alarms, key=lambda a: a.order)
        self.clear()
        now = time.time()
        for a in self.alarms:
            self.add_row(*self._cells(a, now), key=a.id)
        ids = [a.id for a in self.alarms]
        if keep in ids:
            self.move_cursor(row=ids.index(keep))

    def tick(self) -> None:
        """Advance the waiting timers (once a second)."""
        now = time.time()
        for a in self.alarms:
            self.update_cell(a.id, "wait", self._wait(a, now))

    def overdue(self, a: AlarmRow, now: float) -> bool:
        return a.state is AlarmState.DELIVERED and now - a.received >= self.escalate_after_s

    def _wait(self, a: AlarmRow, now: float) -> Text:
        if a.state is not AlarmState.DELIVERED:
            return Text(duration((a.claimed or now) - a.received), style="dim")
        label = duration(now - a.received)
        if self.overdue(a, now):
            return Text(f"{label} {self.texts('escalated')}", style="bold white on red")
        return Text(label, style="bold")

    def _cells(self, a: AlarmRow, now: float) -> list[Text | str]:
        t = self.texts
        return [
            Text(f" P{a.priority} ", style=PRIORITY_STYLE.get(a.priority, "")),
            clock(a.raised),
            self._wait(a, now),
            Text(elder_name(a, t), style="bold"),
            t(f"cat_{a.elder.category.value}") if a.elder else "-",
            a.elder.address if a.elder else "-",
            t(f"kind_{a.kind}"),
            Text(t(f"state_{a.state.value}"),
                 style="bold red" if a.state is AlarmState.DELIVERED else "green"),
            a.officer or "",
        ]
