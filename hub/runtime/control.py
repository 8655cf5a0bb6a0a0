"""The hub's control socket for installer tools; `anxin walktest` drives the walk test here.

Every hub opens it, simulated or not: a Unix socket ``data_dir/control.sock`` with mode 0660,
so only the hub's own user and group, and root (``sudo anxin walktest``), can reach it, and
nothing on the network can. It speaks the line protocol of the simulation's socket
(hub/common/linejson.py): one command line in, one JSON line out.

Commands: ``walktest start MINUTES [INSTALLER…]``, ``walktest events CURSOR``, ``walktest
speaker``, ``walktest ping [TIMEOUT_S]``, ``walktest report JSON``, ``walktest stop``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from hub.common import linejson
from hub.common.linejson import SimError
from hub.runtime.config import HubConfig
from hub.runtime.store import OpenAlarm
from hub.runtime.walktest_mode import MAX_MINUTES
from hub.runtime.walktest_session import WalkTestSession

SOCKET_NAME = "control.sock"
SOCKET_MODE = 0o660
WHO = "hub control socket"
HINT = "is the hub running? (systemctl status anxin-hub)"
PING_POLL_S = 0.005
MAX_INSTALLER = 64  # characters of the installer's name


def socket_path(cfg: HubConfig) -> Path:
    return cfg.data_dir / SOCKET_NAME


def call(cfg: HubConfig, command: str, timeout: float = 30.0) -> Any:
    """One command to the running hub of ``cfg`` (blocking); SimError says what went wrong."""
    return linejson.call(socket_path(cfg), command, timeout, who=WHO, hint=HINT)


def software_version() -> str:
    try:
        return version("anxin")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class Control:
    def __init__(self, cfg: HubConfig, walktest: WalkTestSession, *,
                 open_alarms: Callable[[], list[OpenAlarm]], say: Callable[[str], str]) -> None:
        """``open_alarms`` tells the installer what stands open; ``say`` speaks a prompt and
        returns its text."""
        self._path, self._hub_id = socket_path(cfg), cfg.hub_id
        self._walktest, self._open_alarms, self._say = walktest, open_alarms, say
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await linejson.serve(self._path, {"walktest": self.walktest})
        os.chmod(self._path, SOCKET_MODE)

    def close(self) -> None:
        if self._server:
            self._server.close()
            self._path.unlink(missing_ok=True)

    async def walktest(self, args: list[str]) -> Any:
        verb, rest = (args[0], args[1:]) if args else ("", [])
        if verb == "start":
            return self._start(rest)
        if verb == "events":
            return self._events(int(rest[0]) if rest else 0)
        if verb == "stop":
            self._walktest.end("stopped by the installer")
            return {"active": False}
        if verb == "report":  # also after the mode ran out: the station keeps the record
            summary = json.loads(" ".join(rest))
            if not isinstance(summary, dict):
                raise SimError("walktest report: expected a JSON object")
            self._walktest.send(self._walktest.mode.report(summary, time.time()))
            return {"sent": True}
        if verb not in ("speaker", "ping"):
            raise SimError("usage: walktest start MINUTES [INSTALLER] | events CURSOR | speaker | "
                           "ping [TIMEOUT_S] | report JSON | stop")
        if not self._walktest.mode.active(time.monotonic()):
            raise SimError("walk-test mode is not on (it ended, or was never started): "
                           "`walktest start` first")
        if verb == "speaker":
            return {"text": self._say("walktest_speaker")}
        return await self._ping(float(rest[0]) if rest else 10.0)

    def _start(self, args: list[str]) -> dict[str, Any]:
        minutes = float(args[0]) if args else 30.0
        if not 0 < minutes <= MAX_MINUTES:
            raise SimError(f"walk-test minutes must be more than 0 and at most {MAX_MINUTES:g}")
        installer = " ".join(args[1:])[:MAX_INSTALLER]
        self._walktest.start(minutes * 60, installer)
        mode = self._walktest.mode
        return {"hub": self._hub_id, "version": software_version(), "until": mode.until,
                "cursor": mode.cursor,
                "open_alarms": [{"kind": a.kind, "state": a.state.value}
                                for a in self._open_alarms()]}

    def _events(self, cursor: int) -> dict[str, Any]:
        mode = self._walktest.mode
        return {"active": mode.active(time.monotonic()), "cursor": mode.cursor,
                "events": [dataclasses.asdict(s) for s in mode.since(cursor)]}

    async def _ping(self, timeout: float) -> dict[str, Any]:
        """A walk-test event to the station; the answer comes when its ack is back (or not)."""
        ev = self._walktest.mode.ping(time.time())
        self._walktest.send(ev)
        deadline = time.monotonic() + timeout
        while (rtt := self._walktest.mode.rtt.get(ev.id)) is None:
            if time.monotonic() >= deadline:
                return {"id": ev.id, "rtt_ms": None}
            await asyncio.sleep(PING_POLL_S)
        return {"id": ev.id, "rtt_ms": round(rtt * 1000, 1)}
