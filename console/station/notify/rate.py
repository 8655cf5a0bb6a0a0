"""A channel's rate kept exactly: never more than N posts in any window of W seconds.

Both robots say "20 messages a minute" and answer a 21st with a rate error (WeCom 45009,
DingTalk 130101, after which DingTalk blocks the robot for 10 minutes). A token bucket of 20
refilled at 20 a minute would let 39 through in one sliding minute (a full bucket, then the
refill), and whether the robots count in sliding or in clock minutes is not documented, so
this keeps a log of the last N send times instead: a send may go once the N-th most recent one
is a whole window old. Pure: the caller passes the clock.
"""

from __future__ import annotations

import math
from collections import deque

from console.station.notify.channel import Rate


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
