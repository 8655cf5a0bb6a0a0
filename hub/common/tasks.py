"""Long-running tasks that outlive a bad round, and a task that ends anyway noticed.

A service's loops (sensor supervision, rule timers, heartbeats, escalation …) work one round
at a time. An exception in a round must not end its loop, as when a full disk once made one
write fail and the station's supervision stopped for good: it is logged (with its traceback,
then at most once a minute with a count) and the loop goes on with its next round. A task
that ends anyway (a bug outside its round, an error that is not an Exception) is logged as
critical and named in ``Tasks.dead``; :func:`hub.common.systemd.supervised` then stops feeding the
watchdog, so systemd restarts the service. A cancelled task is not dead: it was stopped. So is a
driver's thread that died (``Tasks.died``, called by hub/runtime/hardware.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

REPORT_EVERY_S = 60.0  # while a round keeps failing: one log line this often
RETRY_S = 1.0  # the pause after a failed round, so a round that fails at once is no busy loop


async def sleep_or_wake(woken: asyncio.Event, delay: float | None, longest: float) -> None:
    """A round's wait: ``delay`` seconds (at most ``longest``; None: ``longest``), less if
    ``woken`` is set meanwhile (something moved the round's deadline)."""
    woken.clear()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(min(max(longest if delay is None else delay, 0.0), longest)):
            await woken.wait()


class Failures:
    """One kind of work that may fail round after round, logged without flooding the log."""

    def __init__(self, what: str, logger: logging.Logger = log,
                 every_s: float = REPORT_EVERY_S) -> None:
        self.what, self._log, self._every_s = what, logger, every_s
        self.failing = 0  # rounds failed in a row
        self._unreported = 0  # failures not logged since the last report
        self._reported: float | None = None  # monotonic time of the last report
        self._said = False  # the current run of failures was logged: its end is too

    @contextlib.contextmanager
    def round(self) -> Iterator[None]:
        """One round: an Exception in it is logged and goes no further."""
        try:
            yield
        except Exception as e:
            self.failed(e)
        else:
            self.ok()

    def failed(self, error: Exception) -> None:
        self.failing += 1
        now = time.monotonic()
        if self._reported is not None and now - self._reported < self._every_s:
            self._unreported += 1
            return
        more = f" ({self._unreported} more failure(s) since the last report)" if self._unreported else ""
        self._log.error("%s failed%s; going on", self.what, more, exc_info=error)
        self._reported, self._unreported, self._said = now, 0, True

    def ok(self) -> None:
        if self.failing and self._said:
            self._log.warning("%s works again after %d failed round(s)", self.what, self.failing)
        self.failing, self._said = 0, False


class Tasks:
    """A service's long-running tasks: ``every``, ``until`` and ``loop`` start one, ``watch``
    adds one started elsewhere (a driver's); ``cancel`` or ``close`` stops them all."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger
        self._tasks: set[asyncio.Task[Any]] = set()
        self.dead: list[str] = []  # tasks that ended by themselves

    def every(self, name: str, period: float, work: Callable[[], object]) -> None:
        """``work()`` every ``period`` seconds, the first after one period."""
        async def sleep_then_work() -> None:
            await asyncio.sleep(period)
            work()

        self.loop(name, sleep_then_work)

    def until(self, name: str, delay: Callable[[], float | None], work: Callable[[], object], *,
              longest: float, woken: asyncio.Event | None = None) -> None:
        """``work()`` at each deadline: sleep ``delay()`` seconds (None: no deadline), at most
        ``longest`` (so a deadline moved without ``woken`` is seen in time), less if ``woken``
        is set meanwhile (something moved the deadline), then work (it does what is due,
        perhaps nothing) and sleep until the next."""
        woken = woken or asyncio.Event()

        async def sleep_then_work() -> None:
            await sleep_or_wake(woken, delay(), longest)
            work()

        self.loop(name, sleep_then_work)

    def loop(self, name: str, round: Callable[[], Awaitable[object]], *,
             retry_s: float = RETRY_S) -> None:
        """``await round()`` again and again; the round waits for its own time (a sleep until
        its next deadline, an event)."""
        self.watch(name, asyncio.get_running_loop().create_task(self._run(name, round, retry_s),
                                                                name=name))

    async def _run(self, name: str, round: Callable[[], Awaitable[object]], retry_s: float) -> None:
        failures = Failures(name, self._log)
        while True:
            with failures.round():
                await round()
            if failures.failing:
                await asyncio.sleep(retry_s)

    def watch(self, name: str, task: asyncio.Task[Any]) -> None:
        """Notice when ``task`` ends other than by being cancelled."""
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._ended(name, t))

    def _ended(self, name: str, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        self.died(name, f"{type(error).__name__}: {error}" if error else "it returned", error)

    def died(self, name: str, why: str, error: BaseException | None = None) -> None:
        """``name`` ended by itself: a task here, or a thread the service relies on (a
        driver's, which logged its own traceback)."""
        self.dead.append(name)
        self._log.critical("task %r ended (%s): the service goes on without it; under systemd "
                           "the watchdog is no longer fed, so the service is restarted", name, why,
                           exc_info=error)

    def cancel(self) -> None:
        for t in self._tasks:
            t.cancel()

    async def close(self) -> None:
        """Cancel them all and wait until they have ended."""
        tasks = list(self._tasks)
        self.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
