"""A station for console tests without MQTT: the console's client, answered by a real station
database (StationStore, the same file the console reads read-only), each request recorded.
The people told (dispatch, acceptance, arrival) are the station service's own
:class:`~console.station.notifier.Notifier` over that database, with the shipped policy and no
channel configured: every message it plans fails as ``sms.not_configured``, as on a station
without a modem (a test marks one sent through the store)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from console.casework.county import load_county
from console.station.config import DEFAULT_COUNTY, Home
from console.station.notifier import Notifier
from console.station.notify.config import NotifyFile
from console.station.records_store import OpRefused
from console.station.store.station import StationStore
from console.station.users import Role, User
from hub.common import wire
from hub.common.events import Event, new_id


class DeskStation:
    def __init__(self, db: Path, homes: list[Home], *, user: str = "zhang",
                 display: str = "张三", role: str = "duty",
                 clock: Callable[[], float] = time.time) -> None:
        self.store = StationStore(db)
        self.store.load_homes(homes)
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []
        self.user, self.display = user, display
        self.session = wire.SessionInfo(token=SecretStr("t" * 32), user=user, display=display,
                                        role=role, expires=time.time() + 3600)
        self.on_changed: Callable[[wire.Changed], None] = lambda _: None
        self.told_hub: list[tuple[str, wire.Accepted]] = []  # what the elders heard
        self.clock = clock
        self.notifier = Notifier(self.store, NotifyFile(), load_county(DEFAULT_COUNTY), "zh_CN",
                                 channels=[], changed=self._alarm_changed,
                                 tell_hub=lambda alarm, who: self.told_hub.append((alarm, who)),
                                 clock=lambda: self.clock())
        self.officer = User(user, display, Role(role), False, 0.0, 0.0, None)

    def _alarm_changed(self, alarm: str) -> None:
        self.on_changed(wire.Changed(what="alarm", id=alarm))

    def notify_stored(self, alarm: str, *, attended: bool = True) -> None:
        """The notifier hears of the alarm as the service tells it (the policy's steps that are
        due fire; ``attended`` False: no console is in use)."""
        self.notifier.engine.attended = attended
        self.notifier.stored([alarm])

    def client(self, *, on_changed: Callable[[wire.Changed], None],
               on_station: Callable[[wire.StationStatus | None], None]) -> DeskStation:
        """The factory ConsoleApp takes as ``client``."""
        self.on_changed = on_changed
        on_station(wire.StationStatus(online=True, ts=time.time()))
        return self

    def raise_alarm(self, hub: str, kind: str = "panic", priority: int = 1,
                    now: float | None = None) -> str:
        now = time.time() if now is None else now
        return self.send(hub, Event(kind="button.press", source="bedside", ts=now, alarm=kind,
                                    id=new_id()), now=now, priority=priority)

    def send(self, hub: str, ev: Event, *, now: float, priority: int | None = None) -> str:
        """Store a hub's event (an alarm, or a reading) as the station would, at ``now``."""
        self.store.store_event(wire.event_msg(hub, ev, priority=priority), now=now)
        self.on_changed(wire.Changed(what="alarm" if ev.alarm else "home",
                                     id=ev.id if ev.alarm else hub))
        return ev.id

    def press_again(self, hub: str, alarm: str, now: float | None = None) -> None:
        """The elder pressed the call button again: the hub's button.again, as the station
        service stores and announces it."""
        now = time.time() if now is None else now
        ev = Event(kind="button.again", source="bedside", ts=now, data={"ref": alarm})
        self.store.store_event(wire.event_msg(hub, ev), now=now)
        self.on_changed(wire.Changed(what="alarm", id=alarm))

    # --- what the console calls ----------------------------------------------------------------

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def login(self, user: str, password: str, **_: object) -> wire.Reply:
        return wire.Reply(req=new_id(), ok=True, session=self.session)

    async def logout(self, **_: object) -> None:
        pass

    def listen(self, hub: str, ear: object) -> None:
        pass

    async def request(self, op: str, alarm: str | None = None, **fields: Any) -> wire.Reply:
        if op == "presence":  # the console says it is in use: nothing to record
            return wire.Reply(req=new_id(), ok=True)
        self.requests.append((op, alarm, fields))
        assert alarm is not None
        try:
            self._apply(op, alarm, fields)
        except OpRefused as e:  # as the station service answers (a ClaimConflict is one)
            return wire.Reply(req=new_id(), ok=False, error=str(e), code=e.code)
        self.on_changed(wire.Changed(what="alarm", id=alarm))
        return wire.Reply(req=new_id(), ok=True)

    def _apply(self, op: str, alarm: str, fields: dict[str, Any]) -> None:
        s, u, d = self.store, self.user, self.display
        if op == "claim":
            s.claim(alarm, u, d, self.clock())
            self.notifier.claimed(alarm)
        elif op == "alarm_step":
            s.step_alarm(alarm, fields["step"], u, d, fields.get("notes") or "")
        elif op == "alarm_note":
            s.note_alarm(alarm, u, d, fields["notes"])
        elif op == "resolve":
            self.notifier.closed(s.resolve(alarm, u, d, fields["outcome"], fields.get("notes") or ""))
        elif op in ("dispatch", "arrival", "acceptance"):
            req = wire.request({"op": op, "req": new_id(), "console": "test", "ts": self.clock(),
                                "alarm": alarm, **fields})
            handle = getattr(self.notifier, op)
            handle(req, self.officer, self.clock())
        else:
            raise AssertionError(f"unexpected request {op}")
