"""Every home on one screen: find one by name, pinyin initials, phone, address or hub, narrow
to the offline, a group, low batteries or overdue visits, and open the elder's history.

The lines are read once when the screen opens (and again on ``reload``); a filter only selects
and orders hubs (widgets/roster.py) and the table draws the visible rows, so typing stays
quick with 10 000 homes. The time the last filter took is shown beside the count.
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from console.casework.elder import Category
from console.casework.schedule import agenda
from console.casework.search import ElderIndex
from console.station.store.rows import HomeFigures
from console.tui.records_context import Records, label_bindings
from console.tui.screens.elder_form import ElderForm
from console.tui.screens.history import HistoryScreen
from console.tui.widgets.roster import SORTS, RosterLine, RosterQuery, reread, select
from console.tui.widgets.table import fitted, shared_labels
from console.tui.widgets.vtable import VirtualTable

COLUMNS = {"hub": 8, "elder": 8, "category": 4, "online": 4, "heartbeat": 8, "sensors": 12,
           "activity": 11, "visit": 8, "address": 14}
NARROW = ("activity", "heartbeat", "sensors")  # hidden in turn on a narrow terminal: the address shows
ONLINE_CYCLE: tuple[bool | None, ...] = (None, False, True)
CATEGORY_CYCLE: tuple[Category | None, ...] = (None, *Category)
NOTHING_HEARD = HomeFigures(0, 0, None, None)  # a home none of whose devices has spoken
T = TypeVar("T")


class RosterScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "find", "find", key_display="/"),
        Binding("o", "online", "online"),
        Binding("g", "group", "group"),
        Binding("b", "battery", "battery"),
        Binding("d", "overdue", "overdue"),
        Binding("s", "sort", "sort"),
        Binding("e", "edit", "edit"),
        Binding("n", "new", "new"),
        Binding("escape", "close", "close"),
    ]
    DEFAULT_CSS = """
    RosterScreen #roster-filter { height: 3; }
    RosterScreen #roster-status { height: 1; padding: 0 1; background: $boost; }
    """

    def __init__(self, records: Records) -> None:
        super().__init__()
        self.records = records
        self.query_state = RosterQuery()
        self.lines: dict[str, RosterLine] = {}
        self.index = ElderIndex(())
        self.filter_ms = 0.0

    def compose(self) -> ComposeResult:
        t = self.records.texts
        yield Static(t("roster_title"), classes="section")
        yield Input(placeholder=t("roster_find"), id="roster-filter")
        yield Static("", id="roster-status")
        yield VirtualTable(self._columns(), self._cells, id="roster-table",
                           narrow=[list(COLUMNS).index(c) for c in NARROW])
        yield Footer(compact=True)

    def on_mount(self) -> None:
        label_bindings(self, self.records.texts)
        self.reload()
        self.query_one(VirtualTable).focus()
        self.call_after_refresh(_settle)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """The homes on screen read again (heartbeats are not announced), their ages moved on."""
        if self.is_current:
            table = self.query_one(VirtualTable)
            top = table.scroll_offset.y
            reread(self.lines, table.keys[top:top + table.size.height], self.records.store.home)
            table.refresh()

    def reload(self) -> None:
        """Read every home again (after an edit or an import)."""
        r = self.records
        overdue = {d.elder: d.days_overdue(r.today())
                   for d in agenda(r.store.visit_histories(), r.rules, r.today()).overdue}
        elders = dict(r.store.elders())
        figures = r.store.home_figures()  # every home's in one query, not one a home
        lines = {}
        for h in r.store.homes():
            f = figures.get(h.hub, NOTHING_HEARD)
            lines[h.hub] = RosterLine(
                hub=h.hub, elder=elders.get(h.hub, h.elder), online=h.online,
                heartbeat=h.last_heartbeat, sensors=f.sensors, silent=f.silent, battery=f.battery,
                activity=f.activity, overdue=overdue.get(h.hub))
        gc.unfreeze()  # the previous load's rows may go now
        self.lines = lines
        self.orders: dict[str, list[str]] = {}  # every home sorted each way, while lines stand
        self.index = ElderIndex((hub, line.elder) for hub, line in lines.items() if line.elder)
        # 10 000 homes' rows and index are long-lived: kept out of the collector's full scans,
        # which otherwise stall a keystroke's filter by 100-200 ms
        gc.collect()
        gc.freeze()
        self.apply()

    def apply(self) -> None:
        t0 = time.perf_counter()
        table = self.query_one(VirtualTable)
        table.set_rows(select(self.lines, self.index, self.query_state, self.orders))
        self.filter_ms = 1000 * (time.perf_counter() - t0)
        self._status()

    def _status(self) -> None:
        t, q = self.records.texts, self.query_state
        parts = [t("roster_count", shown=self.query_one(VirtualTable).row_count, total=len(self.lines))]
        if q.online is not None:
            parts.append(t("online" if q.online else "offline"))
        if q.category is not None:
            parts.append(t(f"cat_{q.category.value}"))
        if q.low_battery:
            parts.append(t("roster_low_battery"))
        if q.overdue:
            parts.append(t("roster_overdue"))
        parts.append(t("roster_sorted", sort=t(f"sort_{q.sort}")))
        self.query_one("#roster-status", Static).update(" · ".join(parts))

    def _columns(self) -> list[tuple[str, int]]:
        return fitted(self.records.texts, COLUMNS, self._labels)

    def _labels(self, column: str) -> list[str]:
        t = self.records.texts
        return {
            **shared_labels(t),
            "sensors": [t("roster_sensors", ok=9, n=9) + " 100%"],
            "visit": [t("roster_days_overdue", n=999)],
        }.get(column, [])

    def _cells(self, hub: str) -> list[Text | str]:
        t, h, now = self.records.texts, self.lines[hub], time.time()
        e = h.elder
        battery = f" {h.battery:.0f}%" if h.battery is not None else ""
        sensors = Text(t("roster_sensors", ok=h.sensors - h.silent, n=h.sensors) + battery,
                       style="bold red" if h.silent or h.low_battery else "")
        return [
            h.hub, e.name if e else t("unregistered"),
            t(f"cat_{e.category.value}") if e else "-",
            Text(t("online"), style="green") if h.online else Text(t("offline"), style="bold white on red"),
            t.ago(now - h.heartbeat) if h.heartbeat else t("never"),
            sensors if h.sensors else "-",
            self._when(h.activity) if h.activity else "-",
            Text(t("roster_days_overdue", n=h.overdue), style="bold yellow") if h.overdue is not None else "",
            e.address if e else "-",
        ]

    def _when(self, ts: float) -> str:
        """Today's time of day; an earlier day's date too, so old activity does not look recent."""
        at = datetime.fromtimestamp(ts, self.records.tz)
        return at.strftime("%H:%M:%S" if at.date() == self.records.today() else "%m-%d %H:%M")

    def _change(self, **kw: Any) -> None:
        self.query_state = replace(self.query_state, **kw)
        self.apply()

    @on(Input.Changed, "#roster-filter")
    def _typed(self, event: Input.Changed) -> None:
        self._change(text=event.value)

    @on(Input.Submitted, "#roster-filter")
    def _submitted(self) -> None:
        self.query_one(VirtualTable).focus()

    @on(VirtualTable.Chosen)
    def _chosen(self, event: VirtualTable.Chosen) -> None:
        if event.key:
            self.app.push_screen(HistoryScreen(self.records, event.key))

    def action_find(self) -> None:
        self.query_one(Input).focus()

    def action_online(self) -> None:
        self._change(online=_next(ONLINE_CYCLE, self.query_state.online))

    def action_group(self) -> None:
        self._change(category=_next(CATEGORY_CYCLE, self.query_state.category))

    def action_battery(self) -> None:
        self._change(low_battery=not self.query_state.low_battery)

    def action_overdue(self) -> None:
        self._change(overdue=not self.query_state.overdue)

    def action_sort(self) -> None:
        self._change(sort=_next(SORTS, self.query_state.sort))

    def action_edit(self) -> None:
        hub = self.query_one(VirtualTable).selected
        if hub is None:
            self.notify(self.records.texts("select_home"), severity="warning")
            return
        self._open_form(hub)

    def action_new(self) -> None:
        self._open_form(None)

    def _open_form(self, hub: str | None) -> None:
        def saved(changed: bool | None) -> None:
            if changed:
                self.reload()

        self.app.push_screen(ElderForm(self.records, hub), saved)

    def action_close(self) -> None:
        if self.query_one(Input).has_focus:
            self.query_one(VirtualTable).focus()
        else:
            self.dismiss()


def _settle() -> None:
    """Drawing the screen the first time leaves tens of thousands of Textual's objects in
    cycles, and the screen's widgets live as long as it does: collect and freeze them now,
    before the first keystroke, rather than in its filter."""
    gc.collect()
    gc.freeze()


def _next(cycle: tuple[T, ...], value: T) -> T:
    return cycle[(cycle.index(value) + 1) % len(cycle)]
