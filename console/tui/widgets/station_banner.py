"""The station banner: whether the station service can be reached and can store, on every
screen.

The desk shows it always (online too); every other screen, modal ones included, gets one
from the app (``ConsoleApp._give_banner``), shown only while something is wrong, so an officer
on a form or the alarm screen sees an outage as surely as one on the queue.
"""

from __future__ import annotations

from textual.widgets import Static

from console.tui.i18n import Texts
from hub.common import wire


def station_key(status: wire.StationStatus | None) -> str:
    """The i18n key of what the console knows of the station."""
    if status is None:
        return "station_unknown"  # our own link is down: we cannot know
    if not status.online:
        return "station_offline"
    return "station_online" if status.writable else "station_cannot_write"


class StationBanner(Static):
    def __init__(self, *, always: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.always = always  # shown while all is well too (the desk's)

    def show(self, status: wire.StationStatus | None, texts: Texts) -> None:
        key = station_key(status)
        self.update(texts(key))
        self.set_class(key in ("station_offline", "station_cannot_write"), "offline")
        self.set_class(key == "station_unknown", "unknown")
        self.display = self.always or key != "station_online"
