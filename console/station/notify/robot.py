"""What WeCom's and DingTalk's group robots have in common: a chat told in parts, digests, @-mentions.

Both take a JSON post per message, answer HTTP 200 with an ``errcode`` (0: shown in the group),
limit a message's length and a robot's posts to 20 a minute. A long text goes in labelled
parts; when a part fails, a retry of the same message starts at that part, so the group does
not read the first part twice. Messages waiting together go as one digest post when they fit,
as WeCom's own docs advise for floods of alarms (one post instead of twenty).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from console.station.notify.channel import ChannelError, Message, Rate, Sent, checked_parts
from console.station.notify.http import Poster, dumps, reply_json

# 20 a minute for both robots; the extra second keeps us under it when a post arrives late.
# Five at once, then one each 3 s: in a storm of 500 alarms, the last P1 is out after 12 s
# instead of 61, and all after 2.5 min instead of 3 (tests/bench/bench_channels.py)
RATE = Rate(20, 61.0, burst=5)
DIGEST_JOIN = "\n\n"
RESUME_KEYS = 256  # messages whose parts were partly sent, remembered for their retry
DIGEST_MAX = 10  # messages in one post: a duty officer reads ten alarms; fifty is a wall


def busy(code: str, said: str) -> ChannelError:
    """errcode -1, both robots' "system busy": try again (their docs: at most 3 times)."""
    return ChannelError(code, said, retryable=True, fix="the robot's service is busy; sent again later")


def too_fast(code: str, said: str, pause_s: float) -> ChannelError:
    """The robot's rate error: we keep its rate, so someone else posts through it too."""
    return ChannelError(code, said, retryable=True, retry_after_s=pause_s,
                        fix="another program may post through the same robot: give Anxin a "
                            "robot of its own")


class GroupRobot:
    """A group robot channel; subclasses say how a post looks and what an errcode means."""

    name: str
    rate = RATE
    length_fix: str  # ChannelError.fix for a text that cannot be sent
    empty_refused: frozenset[int]  # errcodes refusing an empty text, past the key's check

    def __init__(self, *, mentioned: Sequence[str], timeout_s: float, secrets: Sequence[str],
                 clock: Callable[[], float] = time.time) -> None:
        self._mentioned = tuple(mentioned)
        self._clock = clock
        self._http = Poster(self.name, timeout_s=timeout_s, secrets=secrets)
        self._done: OrderedDict[str, int] = OrderedDict()  # key -> parts already shown

    # what a subclass says
    def _budget(self, mention: Sequence[str]) -> int:
        """Largest size (by ``_size``) of one part's text."""
        raise NotImplementedError

    def _size(self, text: str) -> int:
        return len(text.encode())

    def _content(self, text: str) -> str:
        """A part's text as posted (DingTalk adds its keyword where it is missing); it may
        grow by at most ``_size(_content(""))``."""
        return text

    def _url(self) -> str:
        raise NotImplementedError

    def _body(self, content: str, mention: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _error(self, errcode: int, errmsg: str) -> ChannelError:
        raise NotImplementedError

    # the channel
    def posts(self, msg: Message) -> int:
        return len(self._parts(msg.text, self._mention(msg)))

    def digest(self, msgs: Sequence[Message]) -> Message | None:
        if len(msgs) > DIGEST_MAX:
            return None
        text = DIGEST_JOIN.join(m.text for m in msgs)
        to = tuple(dict.fromkeys(p for m in msgs for p in m.to))
        if self._size(text) > self._budget([*self._mentioned, *to]) - self._size(self._content("")):
            return None  # as _parts counts: it would not go in one post
        return Message(key=f"{msgs[0].key}+{len(msgs) - 1}", text=text, to=to,
                       priority=min(m.priority for m in msgs), created=msgs[0].created)

    async def send(self, msg: Message) -> Sent:
        mention = self._mention(msg)
        parts = self._parts(msg.text, mention)
        for i in range(self._done.pop(msg.key, 0), len(parts)):
            try:
                reply = reply_json(self.name, await self._http.post(
                    self._url(), dumps(self._body(parts[i], mention if i == 0 else ()))))
                if reply["errcode"] != 0:
                    raise self._error(reply["errcode"], str(reply.get("errmsg", "")))
            except ChannelError:
                if i:
                    self._remember(msg.key, i)
                raise
        return Sent(self.name, msg.key, self._clock(), len(parts))

    async def probe(self) -> None:
        """Whether the robot is there and takes our key (and DingTalk our signature), without
        showing anything in the group (``anxin doctor``): a text with no content, which the
        robot refuses only after checking the key. Raises ChannelError for what it said
        instead. UNVERIFIED on the real services: that they check the key before the body."""
        reply = reply_json(self.name, await self._http.post(self._url(), dumps(self._body("", ()))))
        if reply["errcode"] != 0 and reply["errcode"] not in self.empty_refused:
            raise self._error(reply["errcode"], str(reply.get("errmsg", "")))

    async def aclose(self) -> None:
        await self._http.aclose()

    def _mention(self, msg: Message) -> list[str]:
        return list(dict.fromkeys([*self._mentioned, *msg.to]))

    def _parts(self, text: str, mention: Sequence[str]) -> list[str]:
        budget = self._budget(mention) - self._size(self._content(""))
        return [self._content(p) for p in checked_parts(self.name, text, budget, self.length_fix,
                                                        self._size)]

    def _remember(self, key: str, shown: int) -> None:
        self._done[key] = shown
        self._done.move_to_end(key)
        while len(self._done) > RESUME_KEYS:
            self._done.popitem(last=False)

