"""Import elders from the county's sheet: read it here, show every bad row, send the good ones.

The file is read on this console (casework.importer), so the errors are shown before anything
reaches the station; each good row goes as its own ``elder_save`` (a request stays far below
the 64 KiB limit), and the station checks it again. The template is the same column set.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

from console.casework.importer import ImportResult, read_elders, write_elders
from console.casework.sheets import SheetError
from console.tui.records_context import Records, label_bindings
from console.tui.validation import problem_text


class ImportScreen(Screen[bool]):
    """Dismissed with True when records were sent."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "read", "read"),
        Binding("ctrl+s", "send", "send"),
        Binding("ctrl+t", "template", "template"),
        Binding("escape", "close", "close"),
    ]
    DEFAULT_CSS = """
    ImportScreen #import-buttons { height: auto; }
    ImportScreen #import-summary { height: auto; text-style: bold; padding: 0 1; }
    ImportScreen #import-errors { color: $error; padding: 0 1; }
    """

    def __init__(self, records: Records) -> None:
        super().__init__()
        self.records = records
        self.result: ImportResult | None = None
        self.sent = False

    def compose(self) -> ComposeResult:
        t = self.records.texts
        yield Static(t("import_title"), classes="section")
        yield Input(placeholder=t("import_path"), id="import-path")
        with Horizontal(id="import-buttons"):
            yield Button(t("import_read"), id="read")
            yield Button(t("import_send"), variant="primary", id="send", disabled=True)
        yield Static("", id="import-summary")
        with VerticalScroll():
            yield Static("", id="import-errors")
        yield Footer()

    def on_mount(self) -> None:
        label_bindings(self, self.records.texts)
        self.query_one(Input).focus()

    @property
    def path(self) -> Path:
        return Path(self.query_one(Input).value.strip()).expanduser()

    @on(Input.Submitted)
    @on(Button.Pressed, "#read")
    async def action_read(self) -> None:
        r, t = self.records, self.records.texts
        known = r.store.elders()
        try:
            self.result = await asyncio.to_thread(
                read_elders, self.path, r.rules, today=r.today(), now=r.now(), actor=r.user,
                known_hubs=[h for h, _ in known], known_files=[e.file_no for _, e in known if e.file_no])
        except (SheetError, OSError) as e:
            self.result = None
            self._show(t("import_bad_file", error=problem_text(e.problem, t) if isinstance(e, SheetError)
                         else e.strerror or e), [])
            return
        res = self.result
        problems = [t("import_row_problem", file=e.file, row=e.row, column=e.column or t("import_whole_row"),
                      problem=problem_text(e.problem, t)) for e in [*res.errors, *res.duplicates]]
        problems += [t("import_no_hub", row=i.row) for i in res.records if i.hub is None]
        good = sum(i.hub is not None for i in res.records)
        self._show(t("import_summary", good=good, bad=len(res.errors), dup=len(res.duplicates)), problems)
        self.query_one("#send", Button).disabled = good == 0

    def _show(self, summary: str, problems: list[str]) -> None:
        self.query_one("#import-summary", Static).update(summary)
        self.query_one("#import-errors", Static).update("\n".join(problems))

    @on(Button.Pressed, "#send")
    async def action_send(self) -> None:
        r, t = self.records, self.records.texts
        if self.result is None:
            return
        sent, refused = 0, []
        for imp in self.result.records:
            if imp.hub is None:
                continue
            reply = await r.client.request("elder_save", hub=imp.hub,
                                           record=imp.record.model_dump(mode="json"))
            if reply.ok:
                sent += 1
            else:
                refused.append(t("import_row_refused", row=imp.row, error=r.refused(reply)))
        self.sent = self.sent or sent > 0
        self.result = None
        self.query_one("#send", Button).disabled = True
        self._show(t("import_sent", n=sent, failed=len(refused)), refused)
        self.notify(t("import_sent", n=sent, failed=len(refused)),
                    severity="error" if refused else "information")

    async def action_template(self) -> None:
        """Write the empty column set to the path typed (.xlsx or .csv)."""
        t = self.records.texts
        try:
            path = await asyncio.to_thread(write_elders, self.path, [], language=t.language)
        except OSError as e:
            self.notify(t("template_failed", error=e.strerror or e), severity="error")
            return
        self.notify(t("template_written", path=path))

    def action_close(self) -> None:
        self.dismiss(self.sent)
