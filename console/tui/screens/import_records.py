"""Import elders from the county's sheet: read it here, show every bad row, send the good ones.

The file is read on this console (casework.importer), so the errors are shown before anything
reaches the station; each good row goes as its own ``elder_save`` (a request stays far below
the 64 KiB limit), and the station checks it again. The template is the same column set,
written into the folder field's folder (widgets/export_folder.py, shared with the ledger).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from console.casework.importer import ImportResult, read_elders, write_elders
from console.casework.sheets import SheetError
from console.tui.records_context import Records, label_bindings
from console.tui.validation import os_errno, os_error_text, problem_text
from console.tui.widgets.export_folder import FolderField

TEMPLATE_TYPES = (".csv", ".xlsx")  # a folder field ending so names the template's file itself


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
    ImportScreen #template-label { padding: 0 1; color: $text-muted; }
    ImportScreen #import-summary { height: auto; text-style: bold; padding: 0 1; }
    ImportScreen #import-errors { color: $error; padding: 0 1; }
    """

    def __init__(self, records: Records) -> None:
        super().__init__()
        self.records = records
        self.result: ImportResult | None = None
        self.sent = False
        self.problems: list[str] = []  # what #import-errors shows, a line each

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
        yield Label(t("template_folder"), id="template-label")  # the field is never empty
        yield FolderField(t("template_folder"), id="template-folder")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        label_bindings(self, self.records.texts)
        self.query_one("#import-path", Input).focus()

    @property
    def path(self) -> Path | None:
        """The path typed; None when nothing is."""
        typed = self.query_one("#import-path", Input).value.strip()
        return Path(typed).expanduser() if typed else None

    @on(Input.Submitted, "#import-path")
    @on(Button.Pressed, "#read")
    async def action_read(self) -> None:
        r, t = self.records, self.records.texts
        path = self.path
        if path is None:
            self.result = None
            self._show(t("import_no_path"), [])
            return
        known = r.store.elders()
        try:
            self.result = await asyncio.to_thread(
                read_elders, path, r.rules, today=r.today(), now=r.now(), actor=r.user,
                known_hubs=[h for h, _ in known], known_files=[e.file_no for _, e in known if e.file_no])
        except (SheetError, OSError) as e:
            self.result = None
            if isinstance(e, SheetError) and (n := os_errno(e.problem)) is not None:
                e = OSError(n, os.strerror(n))  # told with the whole path, not the file's name alone
            self._show(t("import_bad_file", error=problem_text(e.problem, t) if isinstance(e, SheetError)
                         else os_error_text(e, t, path)), [])
            return
        res = self.result
        problems = [(t("import_row_column", row=e.row, column=e.column or t("import_whole_row")),
                     problem_text(e.problem, t)) for e in [*res.errors, *res.duplicates]]
        problems += [(t("import_row", row=i.row), t("import_no_hub")) for i in res.records if i.hub is None]
        good = sum(i.hub is not None for i in res.records)
        self._show(t("import_summary", good=good, bad=len(res.errors), dup=len(res.duplicates)), problems,
                   path.name)
        self.query_one("#send", Button).disabled = good == 0

    def _show(self, summary: str, problems: list[tuple[str, str]], file: str | None = None) -> None:
        """The summary, then the file's name and each problem in it as where (row and column,
        kept on one line) and what (wrapped beside it, under itself), so that a column's name
        is never cut in two. ``problems`` keeps them as lines of text, the file named in each."""
        t = self.records.texts
        self.problems = [t("import_line", what=what,
                           where=t("import_in_file", file=file, where=where) if file else where)
                         for where, what in problems]
        self.query_one("#import-summary", Static).update(summary)
        grid = Table.grid(padding=(0, 1, 0, 0))
        grid.add_column(no_wrap=True, overflow="ellipsis", max_width=40)
        grid.add_column(ratio=1, overflow="fold")
        for where, what in problems:
            grid.add_row(Text(t("import_where", where=where)), Text(what))
        shown = Group(Text(t("import_where", where=file), style="bold"), grid) if file else grid
        self.query_one("#import-errors", Static).update(shown if problems else "")

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
                refused.append((t("import_row", row=imp.row), r.refused(reply)))
        self.sent = self.sent or sent > 0
        self.result = None
        self.query_one("#send", Button).disabled = True
        self._show(t("import_sent", n=sent, failed=len(refused)), refused)
        self.notify(t("import_sent", n=sent, failed=len(refused)),
                    severity="error" if refused else "information")

    @on(Input.Submitted, "#template-folder")
    async def action_template(self) -> None:
        """Write the empty column set as 老人档案模板.xlsx into the folder typed (made if
        missing), numbered when that name is taken; a name ending .csv or .xlsx is the file
        itself, and a file already there (the sheet just read, perhaps) is never written over."""
        t = self.records.texts
        field = self.query_one("#template-folder", FolderField)
        path = template_path(field.folder, t("template_name"))
        if path.exists():
            self.notify(t("template_exists", path=path), severity="error", timeout=10)
            return

        def write() -> Path:
            path.parent.mkdir(parents=True, exist_ok=True)
            return write_elders(path, [], language=t.language)

        try:
            path = await asyncio.to_thread(write)
        except OSError as e:
            self.notify(t("template_failed", error=os_error_text(e, t, e.filename or path)),
                        severity="error", timeout=10)
            return
        field.wrote(field.typed.parent if field.typed.suffix.lower() in TEMPLATE_TYPES else None)
        self.notify(t("template_written", path=path.absolute()), timeout=10)

    def action_close(self) -> None:
        self.dismiss(self.sent)


def template_path(typed: Path, name: str) -> Path:
    """Where the template goes: the file typed when it ends .csv or .xlsx, else ``name`` in
    the folder typed, as ``name-2`` … when that is taken."""
    if typed.suffix.lower() in TEMPLATE_TYPES:
        return typed
    path, n = typed / name, 1
    while path.exists():
        n += 1
        path = typed / f"{Path(name).stem}-{n}{Path(name).suffix}"
    return path
