"""The WeCom robot channel against the verifier: shown, refused key, too fast, too long, no answer."""

from __future__ import annotations

import pytest

from console.station.notify.channel import MAX_PARTS, ChannelError, Message
from console.station.notify.robot import DIGEST_MAX
from console.station.notify.wecom import WeComRobot
from tests.support.robots import FakeClock, WeComRobotServer, refused

KEY = "693a91f6-7f9c-4bc4-97a0-0ec2e1fa5aaa"
TEXT = "【安心】王秀英（青石村3组12号）按了求助按钮，请尽快联系。"


def robot(server: WeComRobotServer, **over: object) -> WeComRobot:
    kw: dict[str, object] = {"key": KEY, "base_url": server.base_url, "clock": server.clock,
                             "timeout_s": 5.0}
    kw.update(over)
    return WeComRobot(**kw)  # type: ignore[arg-type]


async def test_a_message_is_shown_with_its_mentions() -> None:
    with WeComRobotServer(KEY) as server:
        wecom = robot(server, mentioned=["13800000001", "@all"])
        try:
            sent = await wecom.send(Message(key="n1", text=TEXT, to=("13900000002", "13800000001")))
        finally:
            await wecom.aclose()
    assert (sent.channel, sent.key, sent.posts) == ("wecom", "n1", 1)
    (r,) = server.received
    assert r.ok and r.path == "/cgi-bin/webhook/send" and r.query == {"key": KEY}
    assert r.json() == {"msgtype": "text", "text": {
        "content": TEXT, "mentioned_mobile_list": ["13800000001", "@all", "13900000002"]}}
    assert TEXT.encode() in r.body  # UTF-8 as itself, not \\u escapes (they would triple the bytes)


async def test_a_wrong_key_is_not_retryable_and_says_where_the_key_is() -> None:
    with WeComRobotServer(KEY) as server:
        e = await refused(robot(server, key="0" * 36), Message(key="n1", text=TEXT))
    assert e.code == "wecom.93000" and not e.retryable
    assert "invalid webhook url" in e.text and "key=" in e.fix and "0" * 36 not in str(e)


async def test_the_21st_post_in_a_minute_is_retryable_after_the_minute() -> None:
    clock = FakeClock()
    with WeComRobotServer(KEY, clock=clock) as server:
        wecom = robot(server)
        try:
            for i in range(20):
                await wecom.send(Message(key=f"n{i}", text=TEXT))
                clock.now += 2
            with pytest.raises(ChannelError) as e:
                await wecom.send(Message(key="n20", text=TEXT))
            clock.now += 21  # the first post is a minute old
            await wecom.send(Message(key="n20", text=TEXT))
        finally:
            await wecom.aclose()
    assert e.value.code == "wecom.45009" and e.value.retryable and e.value.retry_after_s == 60
    assert len(server.accepted) == 21


async def test_a_text_over_2048_bytes_goes_in_labelled_parts_mentioning_once() -> None:
    text = "\n".join(f"第{i}户：停电，备用电池供电中。" for i in range(60))  # ~2.8 kB
    with WeComRobotServer(KEY) as server:
        wecom = robot(server, mentioned=["13800000001"])
        try:
            assert wecom.posts(Message(key="n1", text=text)) == 2
            sent = await wecom.send(Message(key="n1", text=text))
        finally:
            await wecom.aclose()
    assert sent.posts == 2 and len(server.accepted) == 2
    bodies = [r.json()["text"] for r in server.accepted]
    assert all(len(b["content"].encode()) <= 2048 for b in bodies)
    assert [b["content"][:5] for b in bodies] == ["(1/2)", "(2/2)"]
    assert [b.get("mentioned_mobile_list") for b in bodies] == [["13800000001"], None]


async def test_a_part_that_fails_is_where_the_retry_starts() -> None:
    clock = FakeClock()
    text = "\n".join(f"第{i}户：停电，备用电池供电中。" for i in range(60))
    with WeComRobotServer(KEY, clock=clock, per_minute=1) as server:
        wecom = robot(server)
        try:
            with pytest.raises(ChannelError, match="45009"):
                await wecom.send(Message(key="n1", text=text))  # part 1 shown, part 2 too fast
            clock.now += 61
            await wecom.send(Message(key="n1", text=text))
        finally:
            await wecom.aclose()
    assert [r.json()["text"]["content"][:5] for r in server.accepted] == ["(1/2)", "(2/2)"]


def test_a_text_that_would_take_more_than_max_parts_is_refused_when_queued() -> None:
    wecom = WeComRobot(key=KEY)
    with pytest.raises(ChannelError) as e:
        wecom.posts(Message(key="n1", text="停电" * 2000))  # 12 kB
    assert e.value.code == "wecom.too_long" and not e.value.retryable
    assert f"at most {MAX_PARTS}" in e.value.text


def test_waiting_messages_share_a_post_while_it_fits_in_2048_bytes() -> None:
    wecom = WeComRobot(key=KEY)
    ms = [Message(key=f"n{i}", text=TEXT, priority=1 + i % 3, to=(f"1390000000{i % 2}",)) for i in range(3)]
    d = wecom.digest(ms)
    assert d and d.text == "\n\n".join([TEXT] * 3) and d.priority == 1
    assert d.to == ("13900000000", "13900000001")
    assert wecom.digest([Message(key=f"n{i}", text=TEXT * 8) for i in range(4)]) is None  # 4 × 672 bytes
    assert wecom.digest([Message(key=f"n{i}", text="求助") for i in range(DIGEST_MAX)])
    assert wecom.digest([Message(key=f"n{i}", text="求助") for i in range(DIGEST_MAX + 1)]) is None


async def test_no_answer_in_time_is_retryable_and_never_shows_the_key() -> None:
    with WeComRobotServer(KEY, delay_s=1.0) as server:
        e = await refused(robot(server, timeout_s=0.2), Message(key="n1", text=TEXT))
    assert e.code == "http.timeout" and e.retryable and KEY not in str(e)


async def test_a_wrong_base_url_is_named() -> None:
    with WeComRobotServer(KEY) as server:
        e = await refused(robot(server, base_url=server.base_url + "/nowhere"), Message(key="n1", text=TEXT))
    assert e.code == "wecom.http_404" and not e.retryable and "base_url" in e.fix
