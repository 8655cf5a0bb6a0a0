"""What the records screens (roster, elder form, import, visits, ledger) need from the console.

Each screen takes one ``Records``: the station database read-only, the line to the station
service, the strings and the county rules. The store and the client are named by what the
screens call, so the screens run on the real ones and on small fakes in tests alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from typing import Any, Protocol

from textual.dom import DOMNode

from console.casework.county import CountyRules, Label
from console.casework.elder import Category, ElderRecord
from console.casework.records import AlarmRecord, FollowUp, VisitRecord
from console.casework.schedule import History
from console.station.store.rows import AlarmRow, HomeFigures, HomeRow
from console.tui.i18n import Texts
from console.tui.screens.login import reply_text
from hub.common import wire


class RecordStore(Protocol):
    """The reads of ``StationReader`` the records screens use."""

    def homes(self) -> list[HomeRow]: ...
    def home(self, hub: str) -> HomeRow | None: ...
    def elders(self) -> list[tuple[str, ElderRecord]]: ...
    def elder(self, hub: str) -> ElderRecord | None: ...
    def home_figures(self) -> Mapping[str, HomeFigures]: ...
    def visits(self, hub: str | None = None, since: date | None = None,
               until: date | None = None) -> list[VisitRecord]: ...
    def followups(self, open_only: bool = True) -> list[FollowUp]: ...
    def visit_histories(self) -> list[History]: ...
    def roster_at(self, end: float) -> dict[str, Category]: ...
    def alarm_records(self, since: float, until: float) -> list[AlarmRecord]: ...
    def alarm_history(self, hub: str, limit: int = 50) -> list[AlarmRow]: ...


class Requester(Protocol):
    async def request(self, op: str, alarm: str | None = None, *, timeout: float = 10.0,
                      **fields: Any) -> wire.Reply: ...


@dataclass
class Records:
    store: RecordStore
    client: Requester
    texts: Texts
    rules: CountyRules
    user: str
    role: str  # duty, supervisor or admin: only the latter two may override a group
    call: Callable[[str], Awaitable[None]] | None = None  # the app's call line: online visits
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())

    @property
    def tz(self) -> tzinfo:
        """The county's zone, in which the officer reads times and a day or month begins."""
        return self.texts.tz

    @property
    def may_override(self) -> bool:
        return self.role in ("supervisor", "admin")

    def now(self) -> datetime:
        return self.clock().astimezone(self.tz)

    def today(self) -> date:
        return self.now().date()

    def label(self, kind: str, key: str) -> str:
        """A county code (``mode``, ``content``, ``outcome``, ``criterion``) in the console
        language; a code the rules no longer know shows as itself."""
        try:
            found: Label = getattr(self.rules, kind)(key)
        except KeyError:
            return key
        return found.text(self.texts.language)

    def day(self, ts: float) -> date:
        return self.texts.day(ts)

    def refused(self, reply: wire.Reply) -> str:
        """What to tell the officer about a request that failed."""
        return reply_text(reply, self.texts)


def label_bindings(node: DOMNode, texts: Texts) -> None:
    """Footer labels in the console language: ``bind_<action>`` (Textual has no API to
    relabel a binding; the node's map of key -> bindings is replaced, as app.py does)."""
    for key, bindings in list(node._bindings.key_to_bindings.items()):
        node._bindings.key_to_bindings[key] = [
            replace(b, description=texts(f"bind_{b.action}")) if b.show else b for b in bindings]
