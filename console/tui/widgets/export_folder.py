"""The folder a records screen writes its files into: the ledger's export, the import's template.

A console never writes into whatever folder it was started from (the officer cannot tell where
that is). The field opens on the folder this console last wrote a file into, from any screen,
else ~/anxin-ledger; a folder is remembered only once a file was written there, so a typo that
failed is not offered again.
"""

from __future__ import annotations

from pathlib import Path
from weakref import WeakKeyDictionary

from textual.app import App
from textual.widgets import Input

DEFAULT_FOLDER = Path("~/anxin-ledger")
# the folder last written into, per console (app)
_LAST_FOLDER: WeakKeyDictionary[App[object], Path] = WeakKeyDictionary()


class FolderField(Input):
    def __init__(self, label: str, *, folder: Path | None = None, id: str | None = None) -> None:
        """``label`` says what goes there (placeholder and tooltip); ``folder`` overrides the
        console's last folder as the one the field opens on."""
        super().__init__(placeholder=label, tooltip=label, id=id)
        self._opens_on = folder

    def on_mount(self) -> None:
        self.value = str(self._opens_on or _LAST_FOLDER.get(self.app, DEFAULT_FOLDER))

    @property
    def typed(self) -> Path:
        """What is typed (the default folder when nothing is), ``~`` not yet expanded."""
        return Path(self.value.strip() or DEFAULT_FOLDER)

    @property
    def folder(self) -> Path:
        return self.typed.expanduser()

    def wrote(self, folder: Path | None = None) -> None:
        """A file was written into ``folder`` (the one typed): this console opens on it now."""
        _LAST_FOLDER[self.app] = folder or self.typed
