"""One channel's waiting messages: P1 first, then the oldest, released within the channel's rate.

A village power cut can raise hundreds of alarms in seconds; a group robot takes 20 posts a
minute. The queue decides what goes next and when, so a panic press is never stuck behind
mains-fail reports, and the robot is never pushed past its limit (which, on DingTalk, would
silence it for ten minutes). A message to retry waits out its backoff apart from the others;
a peer that says "too fast" holds the whole queue. Where the channel can put several waiting
messages into one post (a group robot's digest), the heads of the queue go together, in
order. Pure: the caller passes the clock; the worker does the sending.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from console.station.notify.channel import Message, Rate
from console.station.notify.rate import Limiter


@dataclass(order=True, slots=True)
class _Waiting:
    order: tuple[int, float, int]  # priority, age, arrival: what goes first among the ready
    msg: Message = field(compare=False)
    posts: int = field(compare=False)


@dataclass(frozen=True, slots=True)
class Release:
    """What may go now: ``post`` (one message, or the digest of several) carrying ``members``."""

    post: Message
    members: tuple[Message, ...]
    posts: int  # requests it takes, already counted against the rate


class ChannelQueue:
    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._limit = Limiter(rate)
        self._ready: list[_Waiting] = []  # heap: may go as soon as the rate allows
        self._later: list[tuple[float, int, _Waiting]] = []  # heap by not-before: retries backing off
        self._keys: set[str] = set()  # keys waiting here: a message is queued once
        self._dropped: set[str] = set()  # keys discarded but still in a heap (skipped there)
        self._arrival = itertools.count()
        self._held_until = -math.inf  # the peer asked for a pause until then

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def push(self, msg: Message, *, posts: int = 1, not_before: float = -math.inf) -> bool:
        """Queue ``msg`` (taking ``posts`` requests), not before ``not_before``; False when a
        message with its key is already waiting."""
        if msg.key in self._keys:
            return False
        if msg.key in self._dropped:  # its old entry is still in a heap: let it go
            self._purge(msg.key)
        if not 1 <= posts <= self.rate.count:  # now, not a message stuck for ever
            raise ValueError(f"{posts} posts at once: the rate allows 1 to {self.rate.count}")
        self._keys.add(msg.key)
        waiting = _Waiting((msg.priority, msg.created, next(self._arrival)), msg, posts)
        if not_before == -math.inf:
            heapq.heappush(self._ready, waiting)
        else:
            heapq.heappush(self._later, (not_before, waiting.order[2], waiting))
        return True

    def discard(self, key: str) -> bool:
        """Take a waiting message out (no longer wanted); False when it is not waiting."""
        if key not in self._keys:
            return False
        self._keys.discard(key)
        self._dropped.add(key)
        return True

    def hold(self, until: float) -> None:
        """Release nothing before ``until`` (the peer said we were too fast)."""
        self._held_until = max(self._held_until, until)

    def unhold(self) -> None:
        """Release again as the rate allows (the channel that was down is back)."""
        self._held_until = -math.inf

    def next_at(self, now: float) -> float | None:
        """When ``pop`` may next release something (at most ``now``: at once); None: empty."""
        self._wake(now)
        if self._ready:
            at = max(self._held_until, self._limit.free_at(now, self._ready[0].posts))
        elif self._later:
            at = max(self._held_until, self._later[0][0])
        else:
            return None
        return max(at, now)

    def pop(self, now: float,
            digest: Callable[[Sequence[Message]], Message | None] | None = None) -> Release | None:
        """The next release if one may go at ``now``, counted against the rate. With ``digest``,
        the following ready messages join the first while one post can carry them all."""
        self._wake(now)
        if not self._ready or now < self._held_until:
            return None
        head = self._ready[0]
        if now < self._limit.free_at(now, head.posts):
            return None
        heapq.heappop(self._ready)
        members, post = [head.msg], head.msg
        while digest and head.posts == 1 and self._clean() and self._ready[0].posts == 1:
            joined = digest([*members, self._ready[0].msg])
            if joined is None:
                break
            members.append(heapq.heappop(self._ready).msg)
            post = joined
        self._limit.take(now, head.posts)
        self._keys.difference_update(m.key for m in members)
        return Release(post, tuple(members), head.posts)

    def _wake(self, now: float) -> None:
        while self._later and (self._later[0][0] <= now or self._later[0][2].msg.key in self._dropped):
            waiting = heapq.heappop(self._later)[2]
            if waiting.msg.key in self._dropped:
                self._dropped.discard(waiting.msg.key)
            else:
                heapq.heappush(self._ready, waiting)
        self._clean()

    def _clean(self) -> bool:
        """Drop discarded entries off the ready heap's top; True when a message is ready."""
        while self._ready and self._ready[0].msg.key in self._dropped:
            self._dropped.discard(heapq.heappop(self._ready).msg.key)
        return bool(self._ready)

    def _purge(self, key: str) -> None:
        """Remove a discarded key's entry from the heaps at once (it is queued again)."""
        self._ready = [w for w in self._ready if w.msg.key != key]
        self._later = [x for x in self._later if x[2].msg.key != key]
        heapq.heapify(self._ready)
        heapq.heapify(self._later)
        self._dropped.discard(key)
