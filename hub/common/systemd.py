"""Tell systemd how the service is doing (sd_notify, through the sdnotify library): READY
once it is up, STOPPING on the way down, and a watchdog ping from the event loop itself.

Because the ping is sent by a task on the loop, a loop that hangs (a blocking call, a
deadlock) stops pinging and systemd restarts the service after ``WatchdogSec``. So does a
service one of whose long-running tasks has died (:mod:`hub.common.tasks`): the pings stop and the
status says which. Outside systemd (no ``NOTIFY_SOCKET``) nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

from sdnotify import SystemdNotifier

log = logging.getLogger(__name__)


def watchdog_period() -> float | None:
    """Half the interval systemd expects pings in (WATCHDOG_USEC), as sd_watchdog_enabled(3)
    advises; None when the watchdog is off or meant for another process."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2e6, 0.01)
    except ValueError:
        log.error("WATCHDOG_USEC=%r is not a number of microseconds; not pinging", usec)
        return None


@contextlib.asynccontextmanager
async def supervised(what: str, dead: Callable[[], list[str]] = list) -> AsyncIterator[None]:
    """Around a service that is already up: READY and pings while inside, then STOPPING.
    ``dead`` names the service's tasks that have died (``Tasks.dead``): once there is one,
    the pings stop."""
    if not os.environ.get("NOTIFY_SOCKET"):
        yield
        return
    notifier = SystemdNotifier()
    if notifier.socket:  # a full queue at systemd's end drops a ping instead of stalling the loop
        notifier.socket.setblocking(False)
    notifier.notify(f"READY=1\nSTATUS={what} running")
    period = watchdog_period()
    task = asyncio.create_task(_ping(notifier, period, what, dead)) if period else None
    try:
        yield
    finally:
        notifier.notify(f"STOPPING=1\nSTATUS={what} stopping")
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _ping(notifier: SystemdNotifier, period: float, what: str,
                dead: Callable[[], list[str]]) -> None:
    while not (gone := dead()):
        notifier.notify("WATCHDOG=1")
        await asyncio.sleep(period)
    log.critical("%s: task(s) %s died; no more watchdog pings, systemd will restart it", what,
                 ", ".join(gone))
    notifier.notify(f"STATUS={what}: task(s) {', '.join(gone)} died; waiting for the watchdog")
