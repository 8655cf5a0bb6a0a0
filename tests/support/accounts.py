"""Console accounts for tests: users made in a station database, and logging in on the
console's login screen as an officer would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from textual.pilot import Pilot

from console.station.config import StationConfig
from console.station.store.db import Location
from console.station.store.station import StationStore
from console.station.users import Role
from console.tui.app import ConsoleApp
from console.tui.client import StationClient
from console.tui.screens.login import LoginScreen
from hub.common import wire
from tests.conftest import eventually

PASSWORD = "correcthorse7"  # letters and digits: Pilot types them key by key


def add_users(db: Location, *users: tuple[str, str, Role]) -> None:
    """(username, display name, role), all with PASSWORD."""
    store = StationStore(db)
    try:
        for username, display, role in users:
            store.users.add(username, display, role, PASSWORD, actor="test", now=time.time())
    finally:
        store.close()


async def log_in(pilot: Pilot[None], app: ConsoleApp, username: str,
                 password: str = PASSWORD) -> None:
    """Type into the login screen and wait for the session; no username: it was filled in
    (``--user``), and the password field has the focus."""
    await eventually(lambda: isinstance(app.screen, LoginScreen), what="login screen")
    await pilot.press(*([*username, "enter"] if username else []), *password, "enter")
    await eventually(lambda: app.session is not None, what=f"{username} logged in")


@asynccontextmanager
async def desk(cfg: StationConfig, user: str, *, on_changed: Callable[[wire.Changed], None] =
               lambda _: None) -> AsyncIterator[StationClient]:
    """A console's line to the station, logged in as ``user`` (no screen, no headset). It logs
    in once the station's status says online: a request sent before the station has subscribed
    would go to nobody (a console's requests are not queued for a station not yet there)."""
    up = asyncio.Event()
    c = StationClient.over_mqtt(cfg.broker, on_changed=on_changed,
                                on_station=lambda s: up.set() if s and s.online else None)
    c.start()
    try:
        await asyncio.wait_for(up.wait(), 10)
        assert (await c.login(user, PASSWORD, timeout=5)).ok
        yield c
    finally:
        c.close()
