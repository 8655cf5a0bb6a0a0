"""The monthly work ledger (工作台账): one month's figures on screen, exported for the county.

The figures are casework.ledger's, built here from the station database for the month chosen,
so the screen and the exported files cannot disagree. The answer rates sit beside the
telecare reference and turn red below it: that is what a supervisor looks for first. Below
them, the people told outside the station: messages sent and failed (red when any failed),
how soon someone accepted, and how soon dispatched responders arrived against the promise.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from console.casework.elder import Category
from console.casework.ledger import OPEN, REFERENCE_PCT, Ledger, Month, build, export_csv, export_xlsx, word
from console.casework.sheets import SheetError
from console.tui.records_context import Records, label_bindings
from console.tui.validation import os_error_text, problem_text
from console.tui.widgets.export_folder import FolderField


def previous(month: Month) -> Month:
    return Month(month.year - 1, 12) if month.month == 1 else Month(month.year, month.month - 1)


class LedgerScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "prev_month", "prev month"),
        Binding("n", "next_month", "next month"),
        Binding("e", "export", "export"),
        Binding("f", "folder", "folder"),
        Binding("escape", "close", "close"),
    ]
    DEFAULT_CSS = """
    LedgerScreen #ledger-figures { height: 1fr; }
    LedgerScreen #ledger-figures Static { padding: 0 1; }
    LedgerScreen #ledger-status { height: auto; padding: 0 1; }
    LedgerScreen #ledger-status.error { color: $error; text-style: bold; }
    """

    def __init__(self, records: Records, folder: Path | None = None) -> None:
        """``folder`` is where exports go unless the officer types another one; by default the
        folder this console last wrote a file into (widgets/export_folder.py)."""
        super().__init__()
        self.records = records
        self.folder = folder
        today = records.today()
        self.month = Month(today.year, today.month)
        self.ledger: Ledger | None = None

    def compose(self) -> ComposeResult:
        t = self.records.texts
        yield Static("", classes="section", id="ledger-title")
        with VerticalScroll(id="ledger-figures"):
            for part in ("visits", "followups", "alarms", "answer", "notify"):
                yield Static(id=f"ledger-{part}")
        yield FolderField(t("ledger_folder"), folder=self.folder, id="ledger-folder")
        yield Static("", id="ledger-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        label_bindings(self, self.records.texts)
        self.show(self.month)
        self.query_one("#ledger-figures").focus()

    def show(self, month: Month) -> None:
        r = self.records
        start, end = month.span(r.tz)
        self.month = month
        self.ledger = build(month, roster=r.store.roster_at(end),
                            visits=r.store.visits(since=month.first, until=month.last),
                            alarms=r.store.alarm_records(start, end),
                            followups=r.store.followups(open_only=False), tz=r.tz)
        self.query_one("#ledger-title", Static).update(r.texts("ledger_title", month=month))
        for part, render in (("visits", self._visits), ("followups", self._followups),
                             ("alarms", self._alarms), ("answer", self._answer),
                             ("notify", self._notify)):
            self.query_one(f"#ledger-{part}", Static).update(render(self.ledger))

    def _word(self, key: str) -> str:
        return word(key, self.records.texts.language)

    def _visits(self, ledger: Ledger) -> RenderableType:
        r, t = self.records, self.records.texts
        modes = [m.key for m in r.rules.visits.modes]
        table = Table(title=self._word("visits"), title_justify="left", box=None, pad_edge=False)
        table.add_column(self._word("category"))
        for m in modes:
            table.add_column(r.label("mode", m), justify="right")
        table.add_column(self._word("total"), justify="right")
        table.add_column(self._word("coverage_pct"), justify="right")
        for c, coverage in zip(Category, coverages(ledger), strict=True):
            counts = [ledger.visits.get((c, m), 0) for m in modes]
            table.add_row(t(f"cat_{c.value}"), *map(str, counts), str(sum(counts)), coverage)
        totals = [sum(n for (_, mode), n in ledger.visits.items() if mode == m) for m in modes]
        table.add_row(self._word("total"), *map(str, totals), str(sum(ledger.visits.values())), "",
                      style="bold")
        return Group(table, f"{self._word('not_reached')}: {ledger.not_reached}")

    def _followups(self, ledger: Ledger) -> RenderableType:
        return Text.assemble((self._word("followups"), "bold"), "  ", "  ·  ".join(
            f"{self._word(k)} {n}" for k, n in (("opened", ledger.followups_opened),
                                                ("closed", ledger.followups_closed),
                                                ("open", ledger.followups_open))))

    def _alarms(self, ledger: Ledger) -> RenderableType:
        r = self.records
        table = Table(title=self._word("alarms"), title_justify="left", box=None, pad_edge=False)
        table.add_column(self._word("kind"), no_wrap=True)
        table.add_column(self._word("outcome"), ratio=1)
        table.add_column(self._word("total"), justify="right")
        for kind in dict.fromkeys(k for k, _ in sorted(ledger.alarms)):
            outcomes = {o: n for (k, o), n in sorted(ledger.alarms.items()) if k == kind}
            table.add_row(r.rules.kind_label(kind).text(r.texts.language), "  ".join(
                f"{self._word('alarm_open') if o == OPEN else r.label('outcome', o)} {n}"
                for o, n in outcomes.items()), str(sum(outcomes.values())))
        table.add_row(self._word("total"), "", str(sum(ledger.alarms.values())), style="bold")
        return table

    def _answer(self, ledger: Ledger) -> RenderableType:
        a, t = ledger.answer, self.records.texts
        table = Table(title=self._word("answer"), title_justify="left", box=None, pad_edge=False,
                      show_header=False)
        table.add_column()
        table.add_column(justify="right")
        table.add_column()
        table.add_row(self._word("counted"), str(a.counted), "")
        for s, reference in REFERENCE_PCT.items():
            pct = a.pct(s)
            below = pct is not None and pct < reference
            table.add_row(self._word(f"within_{s}s_pct"),
                          Text("-" if pct is None else f"{pct:.1f}", style="bold red" if below else ""),
                          Text.assemble(t("ledger_reference", pct=reference),
                                        (f"  {t('ledger_below')}", "bold red") if below else ""))
        table.add_row(self._word("unclaimed"), str(a.unclaimed), "")
        for key, value in (("median_s", a.median_s), ("p90_s", a.p90_s)):
            table.add_row(self._word(key), "-" if value is None else f"{value:.1f}", "")
        return table

    def _notify(self, ledger: Ledger) -> RenderableType:
        n = ledger.notify
        table = Table(title=f"{self._word('notify')} · {self._word('dispatch')}", title_justify="left",
                      box=None, pad_edge=False, show_header=False)
        table.add_column()
        table.add_column(justify="right")

        def seconds(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f}"

        pct = n.within_pct()
        for key, value in (
                ("sent", str(n.sent)),
                ("failed", Text(str(n.failed), style="bold red" if n.failed else "")),
                ("accepted", str(n.accepted)), ("accept_median_s", seconds(n.accept_median_s)),
                ("count", str(n.dispatches)), ("arrived", str(n.arrived)),
                ("arrival_median_s", seconds(n.arrival_median_s)),
                ("arrival_p90_s", seconds(n.arrival_p90_s)),
                ("within_promise", str(n.within_promise)),
                ("within_promise_pct", "-" if pct is None else f"{pct:.1f}")):
            table.add_row(self._word(key), value)
        return table

    def action_prev_month(self) -> None:
        self.show(previous(self.month))

    def action_next_month(self) -> None:
        self.show(self.month.next())

    def action_folder(self) -> None:
        self.query_one("#ledger-folder", Input).focus()

    @on(Input.Submitted, "#ledger-folder")
    async def action_export(self) -> None:
        """The workbook and the four CSV tables, in the console's language, to the folder typed
        (made if missing); a folder that cannot be written is named with why, never a crash."""
        r, t = self.records, self.records.texts
        if self.ledger is None:
            return
        ledger, lang = self.ledger, t.language
        field = self.query_one("#ledger-folder", FolderField)
        folder = field.folder

        def write() -> list[Path]:
            folder.mkdir(parents=True, exist_ok=True)
            xlsx = export_xlsx(ledger, r.rules, folder / f"ledger-{ledger.month}.xlsx", r.tz, lang)
            return [xlsx, *export_csv(ledger, r.rules, folder, r.tz, lang)]

        status = self.query_one("#ledger-status", Static)
        try:
            written = await asyncio.to_thread(write)
        except (OSError, SheetError) as e:
            error = (os_error_text(e, t, e.filename or folder) if isinstance(e, OSError)
                     else problem_text(e.problem, t))
            message = t("ledger_bad_folder", error=error)
            status.update(message)
            status.add_class("error")
            self.notify(message, severity="error", timeout=10)
            return
        field.wrote()
        message = t("ledger_exported", files=f"{folder}: {', '.join(p.name for p in written)}")
        status.update(message)
        status.remove_class("error")
        self.notify(message, timeout=10)

    def action_close(self) -> None:
        """Esc in the folder field leaves the field for the figures; Esc there leaves."""
        if self.focused is self.query_one("#ledger-folder", Input):
            self.query_one("#ledger-figures").focus()
            return
        self.dismiss()


def coverages(ledger: Ledger) -> list[str]:
    """Each group's visited/roster and percentage, padded so that the slashes and the decimal
    points line up down the column (``1/1 100.0`` over ``0/1   0.0``); ``-`` for an empty group."""
    parts = {c: (str(ledger.visited.get(c, 0)), str(n), f"{100 * ledger.visited.get(c, 0) / n:.1f}")
             for c in Category if (n := ledger.roster.get(c, 0))}
    widths = [max((len(p[i]) for p in parts.values()), default=0) for i in range(3)]
    return [f"{p[0]:>{widths[0]}}/{p[1]:<{widths[1]}} {p[2]:>{widths[2]}}" if (p := parts.get(c)) else "-"
            for c in Category]
