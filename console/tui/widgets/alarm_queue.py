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
from typing import ClassVar

from rich.text import Text

from console.station.config import Category
from console.station.store import AlarmRow
from console.tui.i18n import Texts
from console.tui.widgets.fmt import clock, duration, elder_name
from console.tui.widgets.table import LabelledTable
from hub.events import AlarmState

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
    """One row per open alarm, keyed by alarm id; the timers and the flashing are worked out
    when drawn, so the second's tick only fits the columns to the few open alarms and repaints."""

    COLUMNS: ClassVar[dict[str, int]] = {
        "priority": 4, "time": 8, "wait": 4, "elder": 6, "category": 4, "address": 8, "kind": 4,
        "state": 4, "officer": 4}

    def __init__(self, texts: Texts, escalate_after_s: float, *,
                 clock: Callable[[], float] = time.time, **kw: str | None) -> None:
        self.escalate_after_s = escalate_after_s
        self.clock = clock
        self.alarms: list[AlarmRow] = []  # shown, in queue order
        self._all: list[AlarmRow] = []  # open, before the filter
        self._by_id: dict[str, AlarmRow] = {}
        self._shown: list[list[Text | str]] = []  # the cells as last drawn, to fit the columns
        self.filter = ""  # shows only alarms whose elder, address, hub or kind contains it
        super().__init__(texts, **kw)

    def labels(self, column: str) -> list[str]:
        """What the column shows now: the queue is short, so its columns fit their cells."""
        i = list(self.COLUMNS).index(column)
        return [str(cells[i]) for cells in self._shown]

    @property
    def selected(self) -> AlarmRow | None:  # type: ignore[override]  # the alarm, not its id
        return self._by_id.get(self.current or "")

    def show(self, alarms: list[AlarmRow]) -> None:
        """Replace the rows, keeping the cursor on the same alarm."""
        self._all = alarms
        today = date.fromtimestamp(self.clock())
        self.alarms = sorted((a for a in alarms if self._matches(a)),
                             key=lambda a: queue_key(a, today))
        self._by_id = {a.id: a for a in self.alarms}
        self.set_rows(list(self._by_id))
        self._fit()

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
        self._fit()

    def relabel(self, texts: Texts) -> None:
        self.texts = texts
        self._fit()

    def _fit(self) -> None:
        self._shown = [self.row(a.id) for a in self.alarms]
        self.set_columns(self._columns())

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

    def row(self, id: str) -> list[Text | str]:
        t, a, now = self.texts, self._by_id[id], self.clock()
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
