"""The alarm queue: open alarms by priority, then pressed again by the elder before not, then
care group, then the elder's age (oldest first), then when raised; unclaimed ones show a
running timer and, past the station's limit, flash as escalated with the supervisor flag. An
alarm the elder pressed again says so beside its kind (再次呼叫 ×N). An alarm with a responder
dispatched shows in its state the running dispatch timer (已派 3:12), flagged past the county's
promise (迟到 16:05), and once they are there the time they arrived (已到 02:45, red if late).

An alarm counts as escalated when the station flagged it (``escalated``) or when this console's
own timer says the limit has passed: a console whose station is slow to say so still warns.

The state and the officer come before the address, which takes the width left over and is the
column cut, then hidden, on a narrow terminal: claimed or waiting must always show. An
escalated alarm's state reads 超时 ⚑主管 (it is still waiting, and the supervisor is flagged);
the columns whose texts change while an alarm waits (the timer, the state) are as wide as their
longest text from the start, so nothing moves sideways when an alarm escalates.

The filter (``/``, ``QueueFilter``) finds an alarm by its elder the way the roster's find does
(name, pinyin initials, phone, address, hub: ``ElderIndex``) or by its kind; while it hides
alarms, the box says how many it shows of how many, and whether any it hides is urgent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import Input

from console.casework.search import ElderIndex
from console.station.config import Category
from console.station.store.notify import DispatchRow
from console.station.store.rows import AlarmRow
from console.tui.i18n import Texts
from console.tui.widgets.fmt import duration, elder_name
from console.tui.widgets.notify_panel import dispatch_cell
from console.tui.widgets.table import LabelledTable
from hub.common.events import AlarmState

PRIORITY_STYLE = {1: "bold white on red", 2: "bold black on yellow", 3: "bold black on cyan",
                  4: "dim"}
FLASH = ("bold white on red", "bold red reverse")  # escalated cells alternate each second


def is_escalated(a: AlarmRow, now: float, limit_s: float) -> bool:
    """Unclaimed and either flagged by the station or waiting past ``limit_s``."""
    flagged = getattr(a, "escalated", None) is not None
    return a.state is AlarmState.DELIVERED and (flagged or now - a.received >= limit_s)


class AlarmQueue(LabelledTable):
    """One row per open alarm, keyed by alarm id; the timers and the flashing are worked out
    when drawn, so the second's tick only fits the columns to the few open alarms and repaints."""

    COLUMNS: ClassVar[dict[str, int]] = {
        "priority": 4, "time": 8, "wait": 4, "elder": 6, "category": 4, "kind": 4, "state": 4,
        "officer": 6, "address": 8}
    NARROW: ClassVar[tuple[str, ...]] = ("address", "time", "category")  # hidden in turn when short
    LONGEST_WAIT = 59 * 60 + 59  # "59:59": the widest timer (an hour shows as 1h00)

    def __init__(self, texts: Texts, escalate_after_s: float, *,
                 clock: Callable[[], float] = time.time, **kw: str | None) -> None:
        self.escalate_after_s = escalate_after_s
        self.clock = clock
        self.alarms: list[AlarmRow] = []  # shown, in queue order
        self._all: list[AlarmRow] = []  # open, before the filter
        self._by_id: dict[str, AlarmRow] = {}
        self._shown: list[list[Text | str]] = []  # the cells as last drawn, to fit the columns
        self.filter = ""  # shows only alarms whose elder (as the roster finds), hub or kind matches
        self._found: set[str] = set()  # the hubs whose elder the filter finds
        self.dispatches: dict[str, list[DispatchRow]] = {}  # alarm -> its responders sent
        super().__init__(texts, narrow=[list(self.COLUMNS).index(c) for c in self.NARROW], **kw)

    def labels(self, column: str) -> list[str]:
        """What the column shows now (the queue is short, so its columns fit their cells), and
        the texts it may come to show without a new alarm: the timer escalated, every state.
        The address is as wide as the room left (the last column takes it), cut when short."""
        if column == "address":
            return []
        i = list(self.COLUMNS).index(column)
        shown = [str(cells[i]) for cells in self._shown]
        t = self.texts
        if column == "wait":
            shown.append(duration(self.LONGEST_WAIT))
        elif column == "state":
            shown += [t(f"state_{s.value}") for s in AlarmState if not s.closed] + [self._overdue_label()]
            shown += [t(k, time=duration(self.LONGEST_WAIT))
                      for k in ("queue_dispatched", "queue_late", "queue_arrived")]
        elif column == "category":
            shown += [t(f"cat_{c.value}") for c in Category]
        return shown

    @property
    def selected(self) -> AlarmRow | None:  # type: ignore[override]  # the alarm, not its id
        return self._by_id.get(self.current or "")

    def show(self, alarms: list[AlarmRow],
             dispatches: dict[str, list[DispatchRow]] | None = None) -> None:
        """Replace the rows (with the responders sent to them), keeping the cursor on the same
        alarm."""
        self._all = alarms
        if dispatches is not None:
            self.dispatches = dispatches
        self._found = self._search(alarms) if self.filter else set()
        today = self.texts.day(self.clock())
        self.alarms = sorted((a for a in alarms if self._matches(a)),
                             key=lambda a: a.order(today))
        self._by_id = {a.id: a for a in self.alarms}
        self.set_rows(list(self._by_id))
        self._fit()

    def set_filter(self, text: str) -> None:
        self.filter = text.strip().lower()
        self.show(self._all)

    def _matches(self, a: AlarmRow) -> bool:
        if not self.filter:
            return True
        if a.hub in self._found:
            return True
        hay = [a.hub, a.kind, self.texts(f"kind_{a.kind}")]
        if a.elder:
            hay += [a.elder.name, a.elder.address]
        return any(self.filter in h.lower() for h in hay)

    def _search(self, alarms: list[AlarmRow]) -> set[str]:
        """The hubs whose elder the roster's search finds by the filter (name, pinyin initials,
        phone, address, hub), over the open alarms' elders: a few, indexed as the queue changes."""
        index = ElderIndex({a.hub: a.elder for a in alarms if a.elder}.items())
        return set(index.search(self.filter, limit=len(index)))

    def hidden(self, now: float | None = None) -> tuple[int, int]:
        """How many open alarms the filter hides, and how many of those are urgent (P1 or
        escalated)."""
        now = self.clock() if now is None else now
        out = [a for a in self._all if a.id not in self._by_id]
        return len(out), sum(a.priority == 1 or self.overdue(a, now) for a in out)

    def count_text(self) -> Text:
        """"显示 1/3" while the filter hides alarms, with a warning when a hidden one is urgent;
        empty without a filter."""
        if not self.filter:
            return Text()
        t = self.texts
        out = Text(t("desk_filter_count", shown=len(self.alarms), total=len(self._all)),
                   style="bold")
        _, urgent = self.hidden()
        if urgent:
            out.append(" ")
            out.append(f" {t('desk_filter_hidden_urgent', n=urgent)} ", style="bold white on red")
        return out

    def escalated(self, now: float | None = None) -> list[AlarmRow]:
        """The escalated alarms, those shown first in queue order: one the filter hides is
        still announced and sounded."""
        now = self.clock() if now is None else now
        hidden = [a for a in self._all if a.id not in self._by_id]
        return [a for a in [*self.alarms, *hidden] if is_escalated(a, now, self.escalate_after_s)]

    def tick(self) -> None:
        """Advance the waiting timers and flash escalated alarms (once a second)."""
        self._fit()

    def relabel(self, texts: Texts) -> None:
        self.texts = texts
        self._fit()

    def _fit(self) -> None:
        self._shown = [self.row(a.id) for a in self.alarms]
        self.set_columns(self._columns())
        self._say_count()

    def _say_count(self) -> None:
        """Tell the filter box above (if any) what the filter hides."""
        if not self.is_attached:
            return
        try:
            box = self.screen.query_one(QueueFilter)
        except NoMatches:
            return
        box.show_count(self.count_text())

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
        return Text(duration(now - a.received),
                    style=FLASH[int(now) % 2] if self.overdue(a, now) else "bold")

    def _state(self, a: AlarmRow, now: float) -> Text:
        if self.overdue(a, now):
            return Text(self._overdue_label(), style=FLASH[int(now) % 2])
        if sent := dispatch_cell(self.dispatches.get(a.id, []), self.texts, now):
            return sent
        return Text(self.texts(f"state_{a.state.value}"),
                    style="bold red" if a.state is AlarmState.DELIVERED else "bold green")

    def _kind(self, a: AlarmRow) -> Text:
        out = Text(self.texts(f"kind_{a.kind}"))
        if a.pressed:
            out.append(" ")
            out.append(self.texts("desk_pressed_again", n=a.pressed), style="bold white on red")
        return out

    def _overdue_label(self) -> str:
        return f"{self.texts('escalated')} {self.texts('desk_supervisor_flag')}"

    def row(self, id: str) -> list[Text | str]:
        t, a, now = self.texts, self._by_id[id], self.clock()
        return [
            self._priority(a, now),
            t.clock(a.raised),
            self._wait(a, now),
            Text(elder_name(a, t), style="bold"),
            t(f"cat_{a.elder.category.value}") if a.elder else "-",
            self._kind(a),
            self._state(a, now),
            a.officer or "",
            a.elder.address if a.elder else "-",
        ]


class QueueFilter(Input):
    """The queue's filter box (``/``). Enter goes back to the queue with the filter kept; Escape
    clears the filter, hides the box and gives the keys back to the queue, so the next ``c``
    claims rather than types. While the filter hides alarms its title says how many."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", show=False)]

    def show_count(self, text: Text) -> None:
        self.border_title = text if text.plain else None

    def action_close(self) -> None:
        self.value = ""
        self.add_class("hidden")
        try:
            queue = self.screen.query_one(AlarmQueue)
        except NoMatches:
            return
        queue.set_filter("")
        queue.focus()
