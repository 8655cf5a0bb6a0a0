"""What a channel is: a name, the rate its peer allows, and a send that says exactly what failed.

The notification engine owns the policy, the cascade and a durable row per message; a channel
carries one message to one place (a phone by SMS, a duty group by its robot, the county's
platform by webhook) and answers :class:`Sent` or raises :class:`ChannelError` with whether a
later try may work and what a person must fix. Nothing here does I/O or knows hardware: the
SMS channel is composed by the CLI (hub/cli/sms.py, as the console may not import drivers) and
keeps this same contract; it also hears replies and reports the modem's health
(:class:`Listening`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

PRIORITIES = (1, 2, 3, 4)  # design.md: 1 panic/fall/smoke/gas/CO … 4 information
KEY = re.compile(r"[!-~]{1,128}")  # it goes into HTTP headers and logs as it is
MAX_PARTS = 5  # a text longer than this many posts is refused: it would eat a robot's minute


@dataclass(frozen=True, slots=True)
class Message:
    """One notification for one channel. ``key`` is the engine's id for it: a channel's queue
    holds a key once, and the webhook passes it on so the far end can drop a repeat."""

    key: str
    text: str
    priority: int = 1
    alarm_id: str | None = None
    to: tuple[str, ...] = ()  # phone numbers: the SMS recipient; in a group robot, those @-mentioned
    created: float = 0.0  # epoch s the engine decided to send it: the age that orders a priority

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("a message needs a text")
        if not KEY.fullmatch(self.key):
            raise ValueError(f"message key {self.key!r} is not 1 to 128 printable ASCII characters")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority {self.priority!r} is not one of {PRIORITIES}")


@dataclass(frozen=True, slots=True)
class Sent:
    """The peer took the message (a group robot or platform: it will show it; a modem: the
    network accepted it). Not that a person has read it: acceptance is the engine's."""

    channel: str
    key: str
    at: float  # epoch s of the peer's answer
    posts: int = 1  # requests it took: a long text goes in parts


class ChannelError(Exception):
    """A send that did not work. ``code`` names the cause for logs and the desk panel
    ('dingtalk.310000', 'http.timeout'); ``retryable`` says whether the same message may go
    later unchanged; ``fix`` is what a person must do when it is not; ``retry_after_s`` is how
    long the peer asked us to stay away (a rate limit), when it said so. ``down``: the channel
    itself cannot send now (the modem unplugged, no SIM): the message is not at fault, so it
    waits for the channel, however long, without counting as a failed try."""

    def __init__(self, code: str, text: str, *, retryable: bool, fix: str = "",
                 retry_after_s: float | None = None, down: bool = False) -> None:
        super().__init__(code, text)
        self.code, self.text, self.retryable, self.fix = code, text, retryable or down, fix
        self.retry_after_s, self.down = retry_after_s, down

    def __str__(self) -> str:
        return f"{self.text} [{self.code}]" + (f"; fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` posts in any ``window_s`` seconds (how both robots state their limit);
    with a ``burst`` below ``count``, only that many go at once and the rest are paced evenly
    over the window, so that in a storm each post carries a digest of what waited meanwhile."""

    count: int
    window_s: float
    burst: int | None = None  # None: count

    def __post_init__(self) -> None:
        if self.count < 1 or not self.window_s > 0 or not math.isfinite(self.window_s):
            raise ValueError(f"a rate needs a count >= 1 and a window > 0, not {self}")
        if self.burst is not None and not 1 <= self.burst <= self.count:
            raise ValueError(f"a rate's burst must be 1 to its count, not {self}")


class Channel(Protocol):
    """One way out. ``posts`` is checked when a message is queued, so a message that can never
    go (too long) fails then, not after waiting its turn; ``digest`` lets a group channel put
    messages waiting together into one post (None: they cannot share one)."""

    name: str  # 'sms', 'wecom', 'dingtalk', 'webhook': the channel a policy names
    rate: Rate  # what the peer allows; the queue keeps to it

    def posts(self, msg: Message) -> int:
        """Requests ``msg`` takes (its parts); raises ChannelError when it cannot be sent."""
        ...

    def digest(self, msgs: Sequence[Message]) -> Message | None:
        """One message carrying all of ``msgs`` in one post, or None."""
        ...

    async def send(self, msg: Message) -> Sent:
        """Send ``msg`` now (the caller keeps the rate); raises ChannelError."""
        ...

    async def aclose(self) -> None:
        ...


@dataclass(frozen=True, slots=True)
class Incoming:
    """A text a person sent back: ``sender`` the 11 digits of a mainland mobile (else as the
    network gave it), ``sent_at`` the sender's network's time (epoch s), which with the sender
    and the text tells a reply heard twice."""

    channel: str
    sender: str
    text: str
    sent_at: float


@dataclass(frozen=True, slots=True)
class Trouble:
    """Why a channel cannot send now, and what a person must do (the station shows it)."""

    channel: str
    code: str  # 'sms.no_sim', 'sms.unavailable', 'sms.not_configured' …
    problem: str
    fix: str


@runtime_checkable
class Listening(Channel, Protocol):
    """A channel that also hears replies and watches its own health (the SMS modem)."""

    async def listen(self, on_reply: Callable[[Incoming], Awaitable[None]],
                     on_trouble: Callable[[Trouble | None], None]) -> None:
        """Start hearing: ``on_reply`` for each text received (the channel keeps it until
        on_reply returns without raising), ``on_trouble`` when the health changes (None: all
        well). Returns once the first attempt to start is over."""
        ...


def split_text(text: str, budget: int, size: Callable[[str], int] | None = None) -> list[str]:
    """``text`` in parts of at most ``budget`` by ``size`` (UTF-8 bytes by default), each
    labelled (1/3) …, split at line ends where one is near, never inside a character."""
    size = size or (lambda s: len(s.encode()))
    if size(text) <= budget:
        return [text]
    label = size("(99/99) ")  # room for the label; more than MAX_PARTS parts is refused anyway
    if budget <= label + 8:
        raise ValueError(f"a budget of {budget} leaves no room for a part")
    parts, rest = [], text
    while rest:
        n = _fit(rest, budget - label, size)
        if n < len(rest):
            line = rest.rfind("\n", 0, n)
            n = line + 1 if line >= n // 2 else n
        parts.append(rest[:n].rstrip("\n"))
        rest = rest[n:]
    return [f"({i}/{len(parts)}) {p}" for i, p in enumerate(parts, 1)]


def _fit(text: str, budget: int, size: Callable[[str], int]) -> int:
    """The longest prefix of ``text`` (in characters) whose size is within ``budget``."""
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if size(text[:mid]) <= budget else (lo, mid - 1)
    return lo


def checked_parts(channel: str, text: str, budget: int, fix: str,
                  size: Callable[[str], int] | None = None) -> list[str]:
    """``split_text``, refusing a text that would take more than MAX_PARTS posts."""
    parts = split_text(text, budget, size)
    if len(parts) > MAX_PARTS:
        raise ChannelError(f"{channel}.too_long", f"the text needs {len(parts)} posts of "
                           f"{budget} bytes; at most {MAX_PARTS} are sent", retryable=False, fix=fix)
    return parts
