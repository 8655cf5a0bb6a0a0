"""The roster of homes: who is online, when each was last heard from, and its walk tests
(测试: a home in walk-test mode, the device last tested as the officer knows it, 卧室床头
呼叫按钮, the commissioning result); and the lines of the full roster with its filters, which
must answer within 100 ms over 10 000 homes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from rich.text import Text

from console.casework.elder import Category, ElderRecord
from console.casework.search import ElderIndex
from console.station.store.rows import HomeRow, WalkTestRow
from console.tui.i18n import STRINGS, Texts
from console.tui.widgets.home_state import sensor_label
from console.tui.widgets.table import LabelledTable, shared_labels

FRESH_S = 1.0  # a home on screen is read again when drawn this long after it was last read


class Roster(LabelledTable):
    """Every home, in the station's order; the cells (heartbeat ages, the end of a walk test)
    are worked out when drawn, so the second's tick only repaints.

    The station announces a home (``Changed``) when it goes offline or comes back, not at each
    heartbeat (10 000 homes beat hundreds of times a second): the last heartbeat and the
    outbox backlog are read from the database instead (``read``), for the rows on screen only,
    at most once a second each, as they are drawn."""

    COLUMNS: ClassVar[dict[str, int]] = {
        "hub": 8, "elder": 10, "category": 4, "address": 28, "online": 4, "heartbeat": 10,
        "pending": 4, "walktest": 60}

    def __init__(self, texts: Texts, *, read: Callable[[str], HomeRow | None] | None = None,
                 **kw: str | None) -> None:
        self.homes: dict[str, HomeRow] = {}
        self.read = read  # the home as the database has it now; None: only as told
        self._read_at: dict[str, float] = {}  # hub -> when (monotonic) it was last read
        super().__init__(texts, **kw)

    def labels(self, column: str) -> list[str]:
        return shared_labels(self.texts).get(column, [])

    def show(self, homes: list[HomeRow]) -> None:
        self.homes = {h.hub: h for h in homes}
        read_at = time.monotonic()
        self._read_at = dict.fromkeys(self.homes, read_at)
        self.set_rows(list(self.homes))

    def update_home(self, h: HomeRow) -> None:
        known = h.hub in self.homes
        self.homes[h.hub] = h
        self._read_at[h.hub] = time.monotonic()
        if known:
            self.refresh()
        else:
            self.keys.append(h.hub)
            self._resize()

    def tick(self) -> None:
        """Repaint the rows on screen: their ages move on, and drawing reads again the homes
        last read over a second ago."""
        self.refresh()

    def home(self, hub: str) -> HomeRow:
        """The home as last read, read again first if that was ``FRESH_S`` ago."""
        h = self.homes[hub]
        if self.read is not None:
            now = time.monotonic()
            if now - self._read_at.get(hub, float("-inf")) >= FRESH_S:
                self._read_at[hub] = now
                if (fresh := self.read(hub)) is not None:
                    self.homes[hub] = h = fresh
        return h

    def _heartbeat(self, h: HomeRow, now: float) -> str:
        if h.last_heartbeat is None:
            return self.texts("never")
        return self.texts.ago(now - h.last_heartbeat)

    def row(self, hub: str) -> list[Text | str]:
        t, h, now = self.texts, self.home(hub), time.time()
        return [
            h.hub,
            h.elder.name if h.elder else t("unregistered"),
            t(f"cat_{h.elder.category.value}") if h.elder else "-",
            h.elder.address if h.elder else "-",
            Text(t("online"), style="green") if h.online
            else Text(t("offline"), style="bold white on red"),
            self._heartbeat(h, now),
            str(h.pending) if h.pending else "",
            self._walktest(h, now),
        ]

    def _walktest(self, h: HomeRow, now: float) -> Text | str:
        t, last = self.texts, h.walktest_last
        if h.in_walktest(now):
            assert h.walktest_until is not None
            shown = t("walktest_on", until=t.clock(h.walktest_until)[:5])
            return Text(f"{shown} {self._tested(last, 'walktest_latest')}" if last else shown,
                        style="bold magenta")
        return self._tested(last) if last else ""

    def _tested(self, w: WalkTestRow, device_key: str = "walktest_event") -> str:
        t = self.texts
        at = t.clock(w.ts)
        if w.kind == "walktest.report":
            d = w.data
            report = t("walktest_report", time=at, result=t(f"walktest_{d.get('result')}"),
                       passed=d.get("passed", "?"), checks=d.get("checks", "?"))
            if devices := self._not_passed(d.get("not_passed")):
                return t("walktest_open", report=report, devices=devices)
            return report
        if w.kind == "walktest.ping":
            return t("walktest_ping", time=at)
        kind = w.data.get("type")  # a door sensor's says door or window; else the event's family
        kind = kind if isinstance(kind, str) else w.kind.partition(".")[0]
        return t(device_key, device=sensor_label(w.where, kind, w.source, t), time=at)

    def _not_passed(self, items: object) -> str:
        """What kept the home from passing, as the report listed it (device, check, where):
        the kind of check and its place. The hub sent it: anything but that is left out."""
        t, named = self.texts, []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            check, where = f"walktest_check_{item.get('check')}", str(item.get("where") or "")
            what = t(check) if check in STRINGS else str(item.get("device", "?"))
            named.append(t("walktest_open_at", what=what, where=where) if where else what)
        return t("walktest_open_sep").join(named)


# --- the full roster (screens/roster.py): every home, filtered and sorted as typed -----------

LOW_BATTERY_PCT = 15  # the hub's own low mark (ble.battery_low_percent) by default
SORTS = ("attention", "hub", "category", "heartbeat", "activity", "battery")


@dataclass(frozen=True, slots=True)
class RosterLine:
    """One home as the full roster shows it: the home, its elder and its sensors at a glance."""

    hub: str
    elder: ElderRecord | None
    online: bool
    heartbeat: float | None
    sensors: int
    silent: int
    battery: float | None  # the lowest battery of its sensors, %
    activity: float | None
    overdue: int | None  # days a visit is overdue; None: not overdue

    @property
    def low_battery(self) -> bool:
        return self.battery is not None and self.battery <= LOW_BATTERY_PCT

    @property
    def category(self) -> Category | None:
        return self.elder.category if self.elder else None


@dataclass(frozen=True, slots=True)
class RosterQuery:
    text: str = ""
    online: bool | None = None
    category: Category | None = None
    low_battery: bool = False
    overdue: bool = False
    sort: str = "attention"


def select(lines: dict[str, RosterLine], index: ElderIndex, q: RosterQuery,
           orders: dict[str, list[str]] | None = None) -> list[str]:
    """The hubs to show, in order: with text, the search's ranking unless another sort is
    chosen; a home without a record is found by its hub id. ``orders`` keeps every home sorted
    each way asked for, for the caller to pass again while ``lines`` stay the same: without
    text, a filter then only picks from it (sorting 10 000 homes at each key took 30-60 ms)."""
    text = "".join(q.text.split()).lower()
    if not text:
        order = orders.get(q.sort) if orders is not None else None
        if order is None:
            order = [line.hub for line in sorted(lines.values(), key=_SORT_KEYS[q.sort])]
            if orders is not None:
                orders[q.sort] = order
        return [h for h in order if _wanted(lines[h], q)]
    hubs = index.search(text, limit=len(lines))
    hubs += [h for h, line in lines.items() if line.elder is None and text in h.lower()]
    shown = [lines[h] for h in hubs if h in lines and _wanted(lines[h], q)]
    if q.sort == "attention":
        return [line.hub for line in shown]
    return [line.hub for line in sorted(shown, key=_SORT_KEYS[q.sort])]


def reread(lines: dict[str, RosterLine], hubs: Iterable[str],
           read: Callable[[str], HomeRow | None]) -> None:
    """Bring the lines of these hubs (those on screen) up to the database's heartbeat and
    online state, which the station does not announce at each heartbeat. The order shown stays
    until the next filter: rows do not jump under the officer's cursor."""
    for hub in hubs:
        if hub in lines and (h := read(hub)) is not None:
            lines[hub] = replace(lines[hub], online=h.online, heartbeat=h.last_heartbeat)


def _wanted(line: RosterLine, q: RosterQuery) -> bool:
    return ((q.online is None or line.online is q.online)
            and (q.category is None or line.category is q.category)
            and (not q.low_battery or line.low_battery)
            and (not q.overdue or line.overdue is not None))


_NONE_RANK = len(Category)
_SORT_KEYS: dict[str, Callable[[RosterLine], tuple[Any, ...]]] = {
    # offline first, then overdue visits, then the most urgent group
    "attention": lambda h: (h.online, h.overdue is None, -(h.overdue or 0),
                            h.category.rank if h.category else _NONE_RANK, h.hub),
    "hub": lambda h: (h.hub,),
    "category": lambda h: (h.category.rank if h.category else _NONE_RANK, h.hub),
    "heartbeat": lambda h: (h.heartbeat or 0.0, h.hub),  # the longest silent first
    "activity": lambda h: (h.activity or 0.0, h.hub),
    "battery": lambda h: (h.battery if h.battery is not None else 101.0, h.hub),
}
