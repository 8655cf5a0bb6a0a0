"""The alarm queue: open alarms by priority, then care group, then the elder's age (oldest
first), then when raised; unclaimed ones show a running timer and, past the station's limit,
flash as escalated with the supervisor flag.

An alarm counts as escalated when the station flagged it (``escalated``) or when this console's
own timer says the limit has passed: a console whose station is slow to say so still warns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from rich.text import Text

from console.station.config import Category
from console.station.store import AlarmRow
from console.tui.i18n import Texts
from console.tui.widgets.fmt import clock, duration, elder_name
from console.tui.widgets.table import LabelledTable
from hub.events import AlarmState

COLUMNS = ("priority", "time", "wait", "elder", "category", "address", "kind", "state", "officer")
PRIORITY_STYLE = {1: "bold white on red", 2: "bold black on yellow", 3: "bold black on cyan",
                  4: "dim"}
FLASH = ("bold white on red", "bold red reverse")  # escalated cells alternate each second


def queue_key(a: AlarmRow, today: date) -> tuple[int, int, bool, int, float]:
    """Priority, care group, age (oldest first; unknown ages after known ones), raised."""
    rank = a.elder.category.rank if a.elder else len(Category)
    age = a.elder.age_on(today) if a.elder else None
    return (a.priority, rank, age is None, -(age or 0), a.raised)


def is_escalated(a: AlarmRow, now: float, limit_s: float) -> bool:
    """Unclaimed and either flagged by the station or waiting past ``limit_s``."""
    flagged = getattr(a, "escalated", None) is not None
    return a.state is AlarmState.DELIVERED and (flagged or now - a.received >= limit_s)


class AlarmQueue(LabelledTable):
    """One row per open alarm, keyed by alarm id."""

    COLUMNS = COLUMNS

    def __init__(self, texts: Texts, escalate_after_s: float, *,
                 clock: Callable[[], float] = time.time, **kw: object) -> None:
        super().__init__(texts, **kw)
        self.escalate_after_s = escalate_after_s
        self.clock = clock
        self.alarms: list[AlarmRow] = []  # shown, in queue order
        self._all: list[AlarmRow] = []  # open, before the filter
        self.filter = ""  # shows only alarms whose elder, address, hub or kind contains it

    def redraw(self) -> None:
        self.show(self._all)

    @property
    def selected(self) -> AlarmRow | None:
        if not self.alarms or self.cursor_row < 0 or self.cursor_row >= len(self.alarms):
            return None
        return self.alarms[self.cursor_row]

    def show(self, alarms: list[AlarmRow]) -> None:
        """Replace the rows, keeping the cursor on the same alarm."""
        keep = self.selected.id if self.selected else None
        self._all = alarms
        now = self.clock()
        today = date.fromtimestamp(now)
        self.alarms = sorted((a for a in alarms if self._matches(a)),
                             key=lambda a: queue_key(a, today))
        self.clear()
        for a in self.alarms:
            self.add_row(*self._cells(a, now), key=a.id)
        ids = [a.id for a in self.alarms]
        if keep in ids:
            self.move_cursor(row=ids.index(keep))

    def set_filter(self, text: str) -> None:
        self.filter = text.strip().lower()
        self.show(self._all)

    def _matches(self, a: AlarmRow) -> bool:
        if not self.filter:
            return True
        hay = [a.hub, a.kind, self.texts(f"kind_{a.kind}")]
        if a.elder:
            hay += [a.elder.name, a.elder.address]
        return any(self.filter in h.lower() for h in hay)

    def escalated(self, now: float | None = None) -> list[AlarmRow]:
        now = self.clock() if now is None else now
        return [a for a in self.alarms if is_escalated(a, now, self.escalate_after_s)]

    def tick(self) -> None:
        """Advance the waiting timers and flash escalated alarms (once a second)."""
        now = self.clock()
        for a in self.alarms:
            self.update_cell(a.id, "wait", self._wait(a, now))
            self.update_cell(a.id, "priority", self._priority(a, now))

    def overdue(self, a: AlarmRow, now: float) -> bool:
        return is_escalated(a, now, self.escalate_after_s)

    def _priority(self, a: AlarmRow, now: float) -> Text:
        style = PRIORITY_STYLE.get(a.priority, "")
        if self.overdue(a, now):
            style = FLASH[int(now) % 2]
        return Text(f" P{a.priority} ", style=style)

    def _wait(self, a: AlarmRow, now: float) -> Text:
        if a.state is not AlarmState.DELIVERED:
            return Text(duration((a.claimed or now) - a.received), style="dim")
        label = duration(now - a.received)
        if self.overdue(a, now):
            return Text(f"{label} {self.texts('escalated')} {self.texts('desk_supervisor_flag')}",
                        style=FLASH[int(now) % 2])
        return Text(label, style="bold")

    def _cells(self, a: AlarmRow, now: float) -> list[Text | str]:
        t = self.texts
        return [
            self._priority(a, now),
            clock(a.raised),
            self._wait(a, now),
            Text(elder_name(a, t), style="bold"),
            t(f"cat_{a.elder.category.value}") if a.elder else "-",
            a.elder.address if a.elder else "-",
            t(f"kind_{a.kind}"),
            Text(t(f"state_{a.state.value}"),
                 style="bold red" if a.state is AlarmState.DELIVERED else "bold green"),
            a.officer or "",
        ]
