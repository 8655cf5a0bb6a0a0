"""Sends one channel's queue: the next release when the rate allows, again later when it may work.

One post at a time per channel: a robot allows 20 a minute, so parallel posts would gain
nothing and could reach the robot out of order. A send that may work later (a timeout, a busy
peer, a rate error) goes back into the queue after a backoff; a peer that says "too fast" holds
the whole channel as long as it asks, and a channel that is down (the modem unplugged) holds it
DOWN_RETRY_S at a time, for as long as it stays down, without the messages counting a try.
What cannot work (a wrong key, a refused signature) or has failed ``max_attempts`` times is
handed to ``on_failed`` at once: the engine's durable row, its cascade and the desk decide
what happens next; ``on_retry`` hears each failed try that will be tried again (the desk
shows why a message waits). ``round`` is one step for
:meth:`hub.common.tasks.Tasks.loop`; the clock and the wait are injected so tests and the
benchmark run a storm on a fake clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from console.station.notify.channel import Channel, ChannelError, Message, Sent
from console.station.notify.queue import ChannelQueue, Release
from hub.common.tasks import sleep_or_wake

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 300.0
MAX_ATTEMPTS = 6  # 5 + 10 + 20 + 40 + 80 s of backoff: past that a person must look
LONGEST_WAIT_S = 60.0  # an idle worker looks again this often even if nothing woke it
DOWN_RETRY_S = 30.0  # a channel down is tried again this often (or at once on ``resume``)


def backoff_s(attempt: int) -> float:
    """The wait after the ``attempt``-th failed try of a message (1, 2, …): doubling, capped."""
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))


class ChannelWorker:
    def __init__(self, channel: Channel, *, on_sent: Callable[[Message, Sent], object],
                 on_failed: Callable[[Message, ChannelError], object],
                 on_retry: Callable[[Message, ChannelError, int, float], object] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wait: Callable[[float | None], Awaitable[None]] | None = None,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self.channel = channel
        self.queue = ChannelQueue(channel.rate)
        self._on_sent, self._on_failed, self._on_retry = on_sent, on_failed, on_retry
        self._clock, self._wait = clock, wait or self._sleep
        self.max_attempts = max_attempts
        self._attempts: dict[str, int] = {}  # key -> failed tries so far
        self._sending: set[str] = set()  # keys of the post under way
        self._woken = asyncio.Event()

    def submit(self, msg: Message, *, not_before: float | None = None) -> bool:
        """Queue ``msg`` (not before ``not_before``, on this worker's clock); False when its
        key is already queued or being sent. Raises ChannelError when the channel can never
        send it (too long)."""
        if msg.key in self._sending or msg.key in self.queue:
            return False
        self.queue.push(msg, posts=self.channel.posts(msg),
                        **({} if not_before is None else {"not_before": not_before}))
        self._woken.set()
        return True

    def withdraw(self, key: str) -> bool:
        """Take a queued message back (no longer wanted); False when it is not queued (it may
        be on its way)."""
        self._attempts.pop(key, None)
        return self.queue.discard(key)

    async def round(self) -> None:
        """Send what may go now, or wait until something may (or a submit wakes us)."""
        now = self._clock()
        release = self.queue.pop(now, self.channel.digest)
        if release is None:
            at = self.queue.next_at(now)
            await self._wait(None if at is None else at - now)
            return
        await self._send(release)

    def resume(self) -> None:
        """The channel is back (its trouble cleared): what waited for it may go now."""
        self.queue.unhold()
        self._woken.set()

    async def drain(self) -> None:
        """Rounds until nothing is queued (a test message, the benchmark, a shutdown)."""
        while len(self.queue):
            await self.round()

    async def _send(self, release: Release) -> None:
        keys = {m.key for m in release.members}
        self._sending |= keys
        try:
            sent = await self.channel.send(release.post)
        except ChannelError as e:
            self._failed(release, e)
        except Exception as e:  # a bug in a channel must not lose the messages
            log.exception("%s: sending failed unexpectedly", self.channel.name)
            self._failed(release, ChannelError(f"{self.channel.name}.internal",
                                               f"{type(e).__name__} in the {self.channel.name} "
                                               "channel", retryable=True, fix="see the station log"))
        else:
            for m in release.members:
                self._attempts.pop(m.key, None)
                self._on_sent(m, dataclasses.replace(sent, key=m.key))
        finally:
            self._sending -= keys

    def _failed(self, release: Release, error: ChannelError) -> None:
        now = self._clock()
        if error.down:
            until = now + (error.retry_after_s or DOWN_RETRY_S)
            self.queue.hold(until)
            for m in release.members:
                self.queue.push(m, posts=release.posts if len(release.members) == 1 else 1)
                if self._on_retry:
                    self._on_retry(m, error, self._attempts.get(m.key, 0), until)
            log.warning("%s: %s; %d message(s) wait for it", self.channel.name, error,
                        len(self.queue))
            return
        if error.retry_after_s:
            self.queue.hold(now + error.retry_after_s)
        again = 0
        for m in release.members:
            tries = self._attempts.get(m.key, 0) + 1
            if error.retryable and tries < self.max_attempts:
                self._attempts[m.key] = tries
                delay = max(backoff_s(tries), error.retry_after_s or 0.0)
                self.queue.push(m, posts=release.posts if len(release.members) == 1 else 1,
                                not_before=now + delay)
                again += 1
                if self._on_retry:
                    self._on_retry(m, error, tries, now + delay)
            else:
                self._attempts.pop(m.key, None)
                self._on_failed(m, error)
        log.warning("%s: %s (%d message(s): %d to retry, %d failed)", self.channel.name, error,
                    len(release.members), again, len(release.members) - again)

    async def _sleep(self, delay: float | None) -> None:
        await sleep_or_wake(self._woken, delay, LONGEST_WAIT_S)
