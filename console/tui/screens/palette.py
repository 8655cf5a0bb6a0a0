"""The command palette (ctrl+p) in the console's language.

Textual's palette has two words of its own: the search box's placeholder, which it takes as an
argument, and "No matches found", which it writes itself half a second after a search finds
nothing. That one is said here instead, as Textual's ``_start_no_matches_countdown`` does.
"""

from __future__ import annotations

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.widgets.option_list import Option

from console.tui.i18n import Texts


class Palette(CommandPalette):
    def __init__(self, texts: Texts) -> None:
        super().__init__(id="--command-palette", placeholder=texts("palette_find"))
        self.no_matches = texts("palette_no_match")

    def _start_no_matches_countdown(self, search_value: str) -> None:
        self._stop_no_matches_countdown()

        def no_matches() -> None:
            if search_value:  # an empty search lists what can be done: nothing to say
                self.query_one(CommandList).add_option(Option(
                    Align.center(Text(self.no_matches, style="not bold")), disabled=True,
                    id=self._NO_MATCHES))
            self._list_visible = bool(search_value)

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, no_matches)
