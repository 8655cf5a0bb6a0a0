"""A channel's rate kept exactly: never more than N posts in any window of W seconds, paced.

Both robots say "20 messages a minute" and answer a 21st with a rate error (WeCom 45009,
DingTalk 130101, after which DingTalk blocks the robot for 10 minutes). A token bucket of 20
refilled at 20 a minute would let 39 through in one sliding minute (a full bucket, then the
refill), and whether the robots count in sliding or in clock minutes is not documented, so the
limit is a log of the last N send times: a post may go once the N-th most recent one is a whole
window old (:class:`SlidingWindow`). Used alone it spends a robot's minute on the first 20
alarms of a storm, one each, and makes the rest (the P1s among them) wait that minute out; a
token bucket under it (:class:`Limiter`, when the rate has a ``burst``) lets a few posts go at
once and paces the rest, so each later post carries a digest of everything that waited. Pure:
the caller passes the clock.
"""

from __future__ import annotations

import math
from collections import deque

from console.station.notify.channel import Rate

EPSILON = 1e-9  # a bucket refilled to within this of a whole post has it (float sums drift)


class SlidingWindow:
    """The last ``rate.count`` send times, oldest first."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._sent: deque[float] = deque(maxlen=rate.count)

    def free_at(self, n: int = 1) -> float:
        """The earliest time ``n`` posts may go together (-inf: now); ValueError when the
        rate never allows that many at once."""
        if not 1 <= n <= self.rate.count:
            raise ValueError(f"{n} posts at once: the rate allows 1 to {self.rate.count}")
        must_expire = len(self._sent) + n - self.rate.count  # oldest sends that must leave the window
        return -math.inf if must_expire <= 0 else self._sent[must_expire - 1] + self.rate.window_s

    def take(self, now: float, n: int = 1) -> None:
        """Record ``n`` posts sent at ``now`` (the caller checked ``free_at``)."""
        if now < self.free_at(n):
            raise ValueError(f"{n} post(s) at {now} would break {self.rate}")
        self._sent.extend([now] * n)


class Limiter:
    """The window, and the pace of a bucket holding ``rate.burst`` posts refilled at
    count/window_s (no pace when the rate has no burst)."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._window = SlidingWindow(rate)
        self._burst = rate.burst or rate.count
        self._per_s = rate.count / rate.window_s
        self._tokens, self._at = float(self._burst), -math.inf  # the bucket's level at _at

    def free_at(self, now: float, n: int = 1) -> float:
        """The earliest time ``n`` posts may go together (at most ``now``: now)."""
        window = self._window.free_at(n)
        lack = min(n, self._burst) - self._level(now)  # a long text may take the bucket below 0
        return window if lack <= EPSILON else max(window, now + lack / self._per_s)

    def take(self, now: float, n: int = 1) -> None:
        if now < self.free_at(now, n):
            raise ValueError(f"{n} post(s) at {now} would break {self.rate}")
        self._window.take(now, n)
        self._tokens, self._at = self._level(now) - n, now

    def _level(self, now: float) -> float:
        if self._at == -math.inf:
            return self._tokens
        return min(float(self._burst), self._tokens + (now - self._at) * self._per_s)
