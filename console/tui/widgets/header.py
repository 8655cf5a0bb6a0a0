"""The desk's header, whose clock reads the county's time: Textual's own reads the PC's zone,
which on a PC set to another zone (or UTC) would disagree with every time on the desk."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, tzinfo

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.widgets import Header
from textual.widgets._header import HeaderClock  # Header composes it; no public name


class ZonedClock(HeaderClock):
    def __init__(self, tz: tzinfo, clock: Callable[[], float]) -> None:
        super().__init__()
        self.tz, self.clock = tz, clock

    def render(self) -> RenderResult:
        return Text(datetime.fromtimestamp(self.clock(), self.tz).strftime(self.time_format))


class ZonedHeader(Header):
    """Textual's header with its clock in ``tz``."""

    def __init__(self, tz: tzinfo, clock: Callable[[], float] = time.time) -> None:
        super().__init__(show_clock=True)
        self.tz, self.clock = tz, clock

    def compose(self) -> ComposeResult:
        for part in super().compose():
            yield (ZonedClock(self.tz, self.clock).data_bind(Header.time_format)
                   if isinstance(part, HeaderClock) else part)
