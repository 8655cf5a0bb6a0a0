"""A channel's queue on a fake clock: P1 first then age, never past the rate, held and retried."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from console.station.notify.channel import Message, Rate, split_text
from console.station.notify.queue import ChannelQueue
from console.station.notify.rate import Limiter, SlidingWindow
from tests.support.robots import max_in_window

ROBOT = Rate(20, 60.0)


def msg(key: str, priority: int = 3, created: float = 0.0, text: str = "x") -> Message:
    return Message(key=key, text=text, priority=priority, created=created)


def storm(n: int = 500, seed: int = 7) -> list[Message]:
    """A village power cut: mostly mains-fail reports (P3), some presses and falls (P1) among
    them, a few well-being alarms (P2), all within 10 s."""
    rnd = random.Random(seed)
    return [msg(f"n{i}", rnd.choices([1, 2, 3], [10, 5, 85])[0], created=i * 10.0 / n) for i in range(n)]


def run(q: ChannelQueue, start: float = 0.0, until: float = 10_000.0) -> list[tuple[float, Message]]:
    """Pop whenever the queue allows, jumping the clock to its next time: (sent at, message)."""
    out, now = [], start
    while (at := q.next_at(now)) is not None and at <= until:
        now = at
        if r := q.pop(now):
            out += [(now, m) for m in r.members]
    return out


def test_the_window_allows_exactly_count_in_any_window() -> None:
    w = SlidingWindow(Rate(3, 10.0))
    assert w.free_at() == -math.inf
    for t in (0.0, 1.0, 2.0):
        w.take(t)
    assert w.free_at() == 10.0 and w.free_at(2) == 11.0 and w.free_at(3) == 12.0
    with pytest.raises(ValueError):
        w.take(9.99)
    w.take(10.0)
    assert w.free_at() == 11.0
    with pytest.raises(ValueError, match="allows 1 to 3"):
        w.free_at(4)


def test_a_storm_of_500_goes_p1_first_and_never_past_20_a_minute() -> None:
    q = ChannelQueue(ROBOT)
    messages = storm()
    for m in messages:  # queued at once: the engine wrote them all in the storm's 10 s
        assert q.push(m)
    sent = run(q)
    in_order = sorted(messages, key=lambda m: (m.priority, m.created))
    assert [m.key for _, m in sent] == [m.key for m in in_order]
    assert max_in_window([t for t, _ in sent]) == 20
    p1 = [t for t, m in sent if m.priority == 1]
    assert len(p1) == sum(m.priority == 1 for m in messages) > 20
    assert max(p1) <= min(t for t, m in sent if m.priority > 1)
    assert sent[-1][0] == pytest.approx((500 // 20 - 1) * 60.0)  # 25 minutes of posts at 20 a minute


def test_a_p1_arriving_late_overtakes_everything_still_waiting() -> None:
    q = ChannelQueue(Rate(2, 60.0))
    for i in range(5):
        q.push(msg(f"p3-{i}", 3, created=i))
    assert [m.key for m in q.pop(0.0).members] == ["p3-0"]  # type: ignore[union-attr]
    q.push(msg("panic", 1, created=50.0))
    assert q.pop(0.0).members[0].key == "panic"  # type: ignore[union-attr]
    assert q.pop(0.0) is None and q.next_at(0.0) == 60.0


def test_a_key_is_queued_once() -> None:
    q = ChannelQueue(ROBOT)
    assert q.push(msg("a")) and not q.push(msg("a", 1)) and len(q) == 1 and "a" in q
    q.pop(0.0)
    assert "a" not in q and q.push(msg("a"))  # sent: the engine may send it again (a new round)


def test_a_retry_waits_its_backoff_and_a_hold_stops_everything() -> None:
    q = ChannelQueue(ROBOT)
    q.push(msg("retry", 1), not_before=30.0)
    q.push(msg("fresh", 3))
    assert q.pop(0.0).members[0].key == "fresh"  # type: ignore[union-attr]
    assert q.pop(0.0) is None and q.next_at(0.0) == 30.0
    q.hold(100.0)
    assert q.pop(30.0) is None and q.next_at(30.0) == 100.0
    assert q.pop(100.0).members[0].key == "retry"  # type: ignore[union-attr]
    assert q.next_at(100.0) is None


def test_a_long_message_takes_its_posts_from_the_rate() -> None:
    q = ChannelQueue(Rate(3, 60.0))
    q.push(msg("short", 1))
    q.push(msg("long", 2), posts=3)
    q.push(msg("after", 3))
    assert run(q, until=59.0) == [(0.0, msg("short", 1))]  # 1 + 3 > 3: the long one waits its room,
    assert [(t, m.key) for t, m in run(q, start=59.0)] == [(60.0, "long"), (120.0, "after")]  # first
    with pytest.raises(ValueError):
        q.push(msg("never"), posts=4)


def test_waiting_messages_share_one_post_in_order_while_it_fits() -> None:
    q = ChannelQueue(Rate(1, 60.0))
    for key, p in (("b", 2), ("a", 1), ("c", 3), ("d", 3)):
        q.push(msg(key, p, text=key * 4))

    def two_at_most(ms: object) -> Message | None:
        ms = list(ms)  # type: ignore[call-overload]
        return None if len(ms) > 2 else Message(key="+".join(m.key for m in ms),
                                                 text="\n".join(m.text for m in ms))

    r = q.pop(0.0, two_at_most)
    assert r and [m.key for m in r.members] == ["a", "b"] and r.post.text == "aaaa\nbbbb"
    assert q.pop(0.0, two_at_most) is None  # one post a minute, digest or not
    r = q.pop(60.0, two_at_most)
    assert r and [m.key for m in r.members] == ["c", "d"] and len(q) == 0


@pytest.mark.parametrize("text, budget", [
    ("王秀英 跌倒报警。\n" * 300, 2048),
    ("a" * 5000, 1000),
    ("😀" * 700, 512),  # 4-byte characters are never cut
])
def test_split_text_keeps_every_character_in_labelled_parts_within_the_budget(text: str, budget: int) -> None:
    parts = split_text(text, budget)
    assert len(parts) > 1 and all(len(p.encode()) <= budget for p in parts)
    n = len(parts)
    assert [p.split(" ", 1)[0] for p in parts] == [f"({i}/{n})" for i in range(1, n + 1)]
    assert "".join(p.split(" ", 1)[1] for p in parts).replace("\n", "") == text.replace("\n", "")
    if "\n" in text:
        assert all(p.endswith("。") for p in parts[:-1])  # cut at a line's end


def test_messages_refuse_what_cannot_be_a_key_or_a_priority() -> None:
    with pytest.raises(ValueError, match="priority"):
        Message(key="k", text="t", priority=0)
    for key in ("", "has space", "中文", "k" * 129):
        with pytest.raises(ValueError, match="key"):
            Message(key=key, text="t")


def test_past_its_burst_a_paced_rate_spreads_posts_evenly_within_the_window() -> None:
    lim = Limiter(Rate(20, 60.0, burst=5))
    sent, now = [], 0.0
    while len(sent) < 40:
        now = max(now, lim.free_at(now))
        lim.take(now)
        sent.append(now)
    assert sent[:5] == [0.0] * 5  # the burst at once
    assert [round(b - a, 6) for a, b in itertools.pairwise(sent[4:20])] == [3.0] * 15
    assert max_in_window(sent) == 20 and sent[20] == 60.0  # the window still rules


def test_a_paced_queue_gets_every_p1_of_a_storm_out_in_seconds_not_a_minute() -> None:
    def last_p1(rate: Rate) -> float:
        q, i, now, out = ChannelQueue(rate), 0, 0.0, []
        messages = storm()
        while i < len(messages) or len(q):
            at = q.next_at(now)
            now = min(messages[i].created if i < len(messages) else math.inf, math.inf if at is None else at)
            while i < len(messages) and messages[i].created <= now:
                q.push(messages[i])
                i += 1
            while r := q.pop(now, lambda ms: None if len(ms) > 10 else Message(key="d", text="d")):
                out += [(now, m) for m in r.members]
        return max(t for t, m in out if m.priority == 1)

    assert last_p1(Rate(20, 60.0)) >= 60.0  # the minute spent on the storm's first 20 alarms
    assert last_p1(Rate(20, 60.0, burst=5)) < 20.0
