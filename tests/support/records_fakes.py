"""A fake station store and client for the records screens' pilot tests, and a host app.

The store answers the reads of records_context.RecordStore from lists; the client records
every request it is asked to send and answers each with ``ok`` (or a refusal set per op).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from textual.app import App
from textual.screen import Screen

from console.casework.county import load_county
from console.casework.elder import Category, ElderRecord
from console.casework.records import AlarmRecord, FollowUp, VisitRecord
from console.casework.schedule import History, histories
from console.station.config import DEFAULT_COUNTY
from console.station.store.rows import AlarmRow, HomeFigures, HomeRow
from console.tui.i18n import Texts
from console.tui.records_context import Records
from hub.common import wire
from hub.common.language import Language

RULES = load_county(DEFAULT_COUNTY)
TODAY = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sensor:
    name: str
    kind: str
    battery: float | None
    last_seen: float
    silent: bool


@dataclass(frozen=True)
class State:
    last_activity: float | None
    sensors: list[Sensor]


@dataclass
class FakeStore:
    records: dict[str, ElderRecord]
    online: dict[str, bool] = field(default_factory=dict)
    states: dict[str, State] = field(default_factory=dict)
    visit_rows: list[VisitRecord] = field(default_factory=list)
    followup_rows: list[FollowUp] = field(default_factory=list)
    alarms: list[AlarmRecord] = field(default_factory=list)
    history_rows: dict[str, list[AlarmRow]] = field(default_factory=dict)
    since: date = date(2026, 1, 1)

    def homes(self) -> list[HomeRow]:
        return [HomeRow(hub, r, self.online.get(hub, True), None, TODAY.timestamp() - 30, 0, 0)
                for hub, r in self.records.items()]

    def home(self, hub: str) -> HomeRow | None:
        return next((h for h in self.homes() if h.hub == hub), None)

    def elders(self) -> list[tuple[str, ElderRecord]]:
        return list(self.records.items())

    def elder(self, hub: str) -> ElderRecord | None:
        return self.records.get(hub)

    def roster_at(self, end: float) -> dict[str, Category]:
        return {hub: r.category for hub, r in self.records.items()}  # every elder since self.since

    def home_figures(self) -> dict[str, HomeFigures]:
        batteries = {hub: [x.battery for x in s.sensors if x.battery is not None]
                     for hub, s in self.states.items()}
        return {hub: HomeFigures(len(s.sensors), sum(x.silent for x in s.sensors),
                                 min(batteries[hub], default=None), s.last_activity)
                for hub, s in self.states.items()}

    def visits(self, hub: str | None = None, since: date | None = None,
               until: date | None = None) -> list[VisitRecord]:
        return [v for v in self.visit_rows if (hub is None or v.elder == hub)
                and (since is None or v.day >= since) and (until is None or v.day <= until)]

    def followups(self, open_only: bool = True) -> list[FollowUp]:
        return [f for f in self.followup_rows if not open_only or f.closed is None]

    def visit_histories(self) -> list[History]:
        groups = {hub: (r.category, self.since) for hub, r in self.records.items()}
        return histories(groups, self.visit_rows, RULES)

    def alarm_records(self, since: float, until: float) -> list[AlarmRecord]:
        return [a for a in self.alarms if since <= a.received < until]

    def alarm_history(self, hub: str, limit: int = 50) -> list[AlarmRow]:
        return self.history_rows.get(hub, [])[:limit]


@dataclass
class FakeClient:
    sent: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # op -> error

    async def request(self, op: str, alarm: str | None = None, *, timeout: float = 10.0,
                      **fields: Any) -> wire.Reply:
        self.sent.append({"op": op, **({"alarm": alarm} if alarm else {}), **fields})
        error = self.refuse.get(op)
        return wire.Reply(req="r" + str(len(self.sent)), ok=error is None, error=error)


def records(store: FakeStore, client: FakeClient | None = None, *, role: str = "duty",
            language: Language = "zh_CN") -> Records:
    return Records(store=store, client=client or FakeClient(), texts=Texts(language, UTC), rules=RULES,
                   user="zhang", role=role, clock=lambda: TODAY)


class Host(App[None]):
    """An app that shows one screen, as the console pushes it."""

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


def elder(name: str, **kw: Any) -> ElderRecord:
    data: dict[str, Any] = {"name": name, "category": "general", "address": "青石镇新街1号"} | kw
    return ElderRecord.model_validate(data)
