"""A channel's worker on a fake clock shared with the verifier: a storm P1 first within 20 a minute,
a rate error waited out, a wrong key failed once, a dead peer given up after its attempts."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from console.station.notify.channel import ChannelError, Message, Sent
from console.station.notify.dingtalk import DingTalkRobot
from console.station.notify.webhook import CountyWebhook
from console.station.notify.wecom import WeComRobot
from console.station.notify.worker import MAX_ATTEMPTS, ChannelWorker, backoff_s
from tests.support.robots import (
    DingTalkRobotServer,
    FakeClock,
    Peer,
    WebhookServer,
    WeComRobotServer,
    max_in_window,
)

KEY = "693a91f6-7f9c-4bc4-97a0-0ec2e1fa5aaa"
TOKEN = "0c23aa5f11c9e0d0a9f6d1c3b8e54f2b7a9d6e1f3c5b7a9d1e3f5a7b9c1d3e5f"
SECRET = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"


class Outcomes:
    def __init__(self) -> None:
        self.sent: list[tuple[Message, Sent]] = []
        self.failed: list[tuple[Message, ChannelError]] = []

    def worker(self, channel: WeComRobot | DingTalkRobot | CountyWebhook, clock: FakeClock) -> ChannelWorker:
        return ChannelWorker(channel, on_sent=lambda m, s: self.sent.append((m, s)),
                             on_failed=lambda m, e: self.failed.append((m, e)), clock=clock, wait=clock.wait)


def storm(n: int, created: float, seed: int = 3) -> list[Message]:
    rnd = random.Random(seed)
    return [Message(key=f"a{i}", text=f"【安心】第{i}户 {'求助' if p == 1 else '停电'}，请处理。" * 6,
                    priority=p, alarm_id=f"a{i}", created=created + i * 0.02)
            for i, p in enumerate(rnd.choices([1, 3], [1, 4], k=n))]


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4, 5, 6, 7, 8)] == [5, 10, 20, 40, 80, 160, 300, 300]


def wecom(clock: FakeClock) -> tuple[WeComRobotServer, WeComRobot]:
    server = WeComRobotServer(KEY, clock=clock)
    return server, WeComRobot(key=KEY, base_url=server.base_url, clock=clock)


def dingtalk(clock: FakeClock) -> tuple[DingTalkRobotServer, DingTalkRobot]:
    server = DingTalkRobotServer(TOKEN, secret=SECRET, keywords=("安心",), clock=clock)
    return server, DingTalkRobot(access_token=TOKEN, secret=SECRET, keyword="安心",
                                 base_url=server.base_url, clock=clock)


@pytest.mark.parametrize("robot", [wecom, dingtalk])
async def test_a_storm_goes_to_a_robot_p1_first_in_digests_never_past_20_a_minute(
        robot: Callable[[FakeClock], tuple[Peer, WeComRobot | DingTalkRobot]]) -> None:
    clock, out = FakeClock(), Outcomes()
    messages = storm(200, clock.now)
    server, channel = robot(clock)
    with server:
        w = out.worker(channel, clock)
        try:
            assert all(w.submit(m) for m in messages)
            assert not w.submit(messages[0])  # queued already
            await w.drain()
        finally:
            await channel.aclose()
    assert out.failed == [] and sorted(m.key for m, _ in out.sent) == sorted(m.key for m in messages)
    assert all(r.ok for r in server.received)  # the robot never had to say "too fast"
    assert max_in_window([r.at for r in server.received]) <= 20
    order = [m for m, _ in out.sent]
    assert order == sorted(messages, key=lambda m: (m.priority, m.created))
    per_post = len(messages) / len(server.received)
    assert per_post > 4  # several alarms a post: 200 alarms in minutes, not in 10 of them
    last_p1 = max(s.at for m, s in out.sent if m.priority == 1)
    print(f"{channel.name}: {len(server.received)} posts, last P1 out after "
          f"{last_p1 - messages[0].created:.0f} s, all after {clock.now - messages[0].created:.0f} s")


async def test_a_robot_saying_too_fast_holds_the_channel_then_everything_goes() -> None:
    clock, out = FakeClock(), Outcomes()
    with WeComRobotServer(KEY, clock=clock) as server:
        for _ in range(20):  # another program used the robot's minute
            server.rate.add(clock.now)
        channel = WeComRobot(key=KEY, base_url=server.base_url, clock=clock)
        w = out.worker(channel, clock)
        try:
            w.submit(Message(key="n1", text="求助", priority=1))
            await w.drain()
        finally:
            await channel.aclose()
    assert [r.answer["errcode"] for r in server.received] == [45009, 0]
    assert server.received[1].at - server.received[0].at == 60.0  # the hold, not a 5 s backoff
    assert [m.key for m, _ in out.sent] == ["n1"] and out.failed == []


async def test_a_wrong_key_fails_every_message_of_the_post_at_once() -> None:
    clock, out = FakeClock(), Outcomes()
    with WeComRobotServer(KEY, clock=clock) as server:
        channel = WeComRobot(key="0" * 36, base_url=server.base_url, clock=clock)
        w = out.worker(channel, clock)
        try:
            for i in range(3):
                w.submit(Message(key=f"n{i}", text="求助", created=clock.now))
            await w.drain()
        finally:
            await channel.aclose()
    assert len(server.received) == 1  # the three went as one digest, and were not tried again
    assert [(m.key, e.code) for m, e in out.failed] == [("n0", "wecom.93000"), ("n1", "wecom.93000"),
                                                         ("n2", "wecom.93000")]


async def test_a_platform_that_stays_down_is_given_up_after_max_attempts_with_backoff() -> None:
    clock, out = FakeClock(), Outcomes()
    with WebhookServer(statuses=[503] * 100, clock=clock) as server:
        channel = CountyWebhook(url=server.url, clock=clock)
        w = out.worker(channel, clock)
        try:
            w.submit(Message(key="n1", text="求助"))
            start = clock.now
            await w.drain()
        finally:
            await channel.aclose()
    assert len(server.received) == MAX_ATTEMPTS and out.sent == []
    assert [(m.key, e.code) for m, e in out.failed] == [("n1", "webhook.http_503")]
    assert clock.now - start == sum(backoff_s(n) for n in range(1, MAX_ATTEMPTS))


async def test_a_text_that_can_never_go_is_refused_at_submit() -> None:
    out = Outcomes()
    w = out.worker(WeComRobot(key=KEY), FakeClock())
    with pytest.raises(ChannelError, match="too_long"):
        w.submit(Message(key="n1", text="停电" * 2000))
    assert len(w.queue) == 0
