"""The roster of homes: who is online, when each was last heard from, and its walk tests
(测试: a home in walk-test mode, the device last tested, the commissioning result)."""

from __future__ import annotations

import time

from rich.text import Text

from console.station.store import HomeRow, WalkTestRow
from console.tui.i18n import Texts
from console.tui.widgets.fmt import clock
from console.tui.widgets.table import LabelledTable

COLUMNS = ("hub", "elder", "category", "address", "online", "heartbeat", "pending", "walktest")


class Roster(LabelledTable):
    COLUMNS = COLUMNS

    def __init__(self, texts: Texts, **kw: object) -> None:
        super().__init__(texts, **kw)
        self.homes: dict[str, HomeRow] = {}

    def redraw(self) -> None:
        self.show(list(self.homes.values()))

    def show(self, homes: list[HomeRow]) -> None:
        self.clear()
        self.homes = {h.hub: h for h in homes}
        now = time.time()
        for h in homes:
            self.add_row(*self._cells(h, now), key=h.hub)

    def update_home(self, h: HomeRow) -> None:
        if h.hub not in self.homes:
            self.homes[h.hub] = h
            self.add_row(*self._cells(h, time.time()), key=h.hub)
            return
        self.homes[h.hub] = h
        for key, value in zip(COLUMNS, self._cells(h, time.time()), strict=True):
            self.update_cell(h.hub, key, value)

    def tick(self) -> None:
        now = time.time()
        for h in self.homes.values():
            self.update_cell(h.hub, "heartbeat", self._heartbeat(h, now))
            if h.walktest_until is not None:  # the mode's end shows without a message
                self.update_cell(h.hub, "walktest", self._walktest(h, now))

    @property
    def selected(self) -> str | None:
        keys = list(self.homes)
        return keys[self.cursor_row] if 0 <= self.cursor_row < len(keys) else None

    def _heartbeat(self, h: HomeRow, now: float) -> str:
        if h.last_heartbeat is None:
            return self.texts("never")
        return self.texts("ago", n=int(now - h.last_heartbeat))

    def _cells(self, h: HomeRow, now: float) -> list[Text | str]:
        t = self.texts
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
            shown = t("walktest_on", until=clock(h.walktest_until)[:5])
            return Text(f"{shown} {self._tested(last, 'walktest_latest')}" if last else shown,
                        style="bold magenta")
        return self._tested(last) if last else ""

    def _tested(self, w: WalkTestRow, device_key: str = "walktest_event") -> str:
        t, at = self.texts, clock(w.ts)
        if w.kind == "walktest.report":
            d = w.data
            return t("walktest_report", time=at, result=t(f"walktest_{d.get('result')}"),
                     passed=d.get("passed", "?"), checks=d.get("checks", "?"))
        if w.kind == "walktest.ping":
            return t("walktest_ping", time=at)
        return t(device_key, device=w.source, where=w.where, time=at)
