"""The DingTalk robot channel: its signature, and each of the real robot's answers from the verifier."""

from __future__ import annotations

import json
import logging
import time

import pytest

from console.station.notify.channel import ChannelError, Message
from console.station.notify.dingtalk import DingTalkRobot, sign
from tests.support.robots import DingTalkRobotServer, FakeClock, ding_sign, refused

TOKEN = "0c23aa5f11c9e0d0a9f6d1c3b8e54f2b7a9d6e1f3c5b7a9d1e3f5a7b9c1d3e5f"
SECRET = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"
TEXT = "【安心】王秀英（青石村3组12号）按了求助按钮，请尽快联系。"


def robot(server: DingTalkRobotServer, **over: object) -> DingTalkRobot:
    kw: dict[str, object] = {"access_token": TOKEN, "secret": SECRET, "base_url": server.base_url,
                             "clock": server.clock, "timeout_s": 5.0}
    kw.update(over)
    return DingTalkRobot(**kw)  # type: ignore[arg-type]


# (secret, timestamp ms, sign) computed apart from Python:
# printf '%s\n%s' TS SECRET | openssl dgst -sha256 -hmac SECRET -binary | base64
@pytest.mark.parametrize("secret, ts, expected", [
    ("SECabcdef0123456789", 1700000000000, "dV0RXHUD72d0VKcnHrBhJ9jhSbDS3HUiduucxO+izso="),
    ("this is secret", 1577262236757, "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="),
])
def test_sign_matches_vectors_computed_with_openssl(secret: str, ts: int, expected: str) -> None:
    assert sign(secret, ts) == expected == ding_sign(secret, str(ts))


def test_the_sign_is_url_encoded_once_in_the_query() -> None:
    ding = DingTalkRobot(access_token=TOKEN, secret="this is secret", clock=lambda: 1577262236.7575)
    url = ding._url()
    assert url.startswith("https://oapi.dingtalk.com/robot/send?access_token=" + TOKEN)
    assert "&timestamp=1577262236757&sign=hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D" in url


async def test_a_signed_message_with_keyword_and_mentions_is_shown() -> None:
    with DingTalkRobotServer(TOKEN, secret=SECRET, keywords=("安心",)) as server:
        ding = robot(server, keyword="安心", mentioned=["13800000001"])
        try:
            sent = await ding.send(Message(key="n1", text="王秀英按了求助按钮", to=("13900000002",)))
        finally:
            await ding.aclose()
    assert sent.channel == "dingtalk" and sent.key == "n1" and sent.posts == 1
    (r,) = server.received
    assert r.ok and r.json() == {"msgtype": "text", "text": {"content": "【安心】王秀英按了求助按钮"},
                                 "at": {"atMobiles": ["13800000001", "13900000002"], "isAtAll": False}}
    assert r.headers["content-type"] == "application/json; charset=utf-8"


async def test_a_text_with_the_keyword_is_left_as_it_is() -> None:
    with DingTalkRobotServer(TOKEN, keywords=("安心",)) as server:
        ding = robot(server, secret=None, keyword="安心")
        try:
            await ding.send(Message(key="n1", text=TEXT))
        finally:
            await ding.aclose()
    assert server.accepted[0].json()["text"]["content"] == TEXT
    assert "timestamp" not in server.received[0].query  # no secret: not signed


@pytest.mark.parametrize("server_kw, robot_kw, fix", [
    ({"secret": SECRET}, {"secret": "SEC" + "0" * 64}, "加签"),
    ({"secret": SECRET}, {"secret": None}, "timestamp"),  # unsigned post to a signing robot
    ({"keywords": ("安心",)}, {"secret": None}, "自定义关键词"),
    ({"ip_allowed": False}, {"secret": None}, "IP地址段"),
])
async def test_a_refused_security_check_is_not_retryable_and_says_which_setting(
        server_kw: dict[str, object], robot_kw: dict[str, object], fix: str) -> None:
    with DingTalkRobotServer(TOKEN, **server_kw) as server:  # type: ignore[arg-type]
        e = await refused(robot(server, **robot_kw), Message(key="n1", text="王秀英按了求助按钮"))
    assert e.code == "dingtalk.310000" and not e.retryable
    if fix == "timestamp":  # the robot says "invalid timestamp" when the sign is missing too
        assert "clock" in e.fix
    else:
        assert fix in e.fix
    assert TOKEN not in str(e) and SECRET not in str(e)


async def test_a_station_clock_off_by_two_hours_is_named() -> None:
    with DingTalkRobotServer(TOKEN, secret=SECRET) as server:
        e = await refused(robot(server, clock=lambda: time.time() - 7200), Message(key="n1", text=TEXT))
    assert "invalid timestamp" in e.text and "timedatectl" in e.fix and not e.retryable


async def test_a_wrong_token_names_the_access_token() -> None:
    with DingTalkRobotServer(TOKEN) as server:
        e = await refused(robot(server, access_token="f" * 64, secret=None), Message(key="n1", text=TEXT))
    assert e.code == "dingtalk.300001" and "access_token" in e.fix and not e.retryable


async def test_the_21st_post_in_a_minute_is_too_fast_and_the_robot_stays_blocked_ten_minutes() -> None:
    clock = FakeClock()
    with DingTalkRobotServer(TOKEN, secret=SECRET, clock=clock) as server:
        ding = robot(server)
        try:
            for i in range(20):
                await ding.send(Message(key=f"n{i}", text=TEXT))
                clock.now += 1
            with pytest.raises(ChannelError) as e:
                await ding.send(Message(key="n20", text=TEXT))
            clock.now += 61  # a minute later: still blocked
            with pytest.raises(ChannelError):
                await ding.send(Message(key="n20", text=TEXT))
            clock.now += 600
            await ding.send(Message(key="n20", text=TEXT))
        finally:
            await ding.aclose()
    assert e.value.code == "dingtalk.130101" and e.value.retryable and e.value.retry_after_s == 600
    assert len(server.accepted) == 21


async def test_a_text_over_the_robots_20000_bytes_goes_in_parts_each_with_the_keyword() -> None:
    text = "\n".join(f"第{i}户：停电，备用电池供电中。" for i in range(600))  # ~28 kB
    with DingTalkRobotServer(TOKEN, secret=SECRET, keywords=("安心",)) as server:
        ding = robot(server, keyword="安心")
        try:
            sent = await ding.send(Message(key="n1", text=text))
        finally:
            await ding.aclose()
    assert sent.posts == len(server.accepted) == len(server.received) == 2
    contents = [r.json()["text"]["content"] for r in server.accepted]
    assert all(len(r.body) <= 20000 for r in server.accepted)
    assert [c[:11] for c in contents] == ["【安心】(1/2) 第", "【安心】(2/2) 第"]
    assert "".join(c.split(" ", 1)[1] for c in contents).replace("\n", "") == text.replace("\n", "")


async def test_no_answer_in_time_is_retryable_and_never_shows_the_token(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with DingTalkRobotServer(TOKEN, secret=SECRET, delay_s=1.0) as server:
        e = await refused(robot(server, timeout_s=0.2), Message(key="n1", text=TEXT))
    assert e.code == "http.timeout" and e.retryable
    assert server.base_url + "/robot/send" in e.text
    said = str(e) + caplog.text
    assert TOKEN not in said and SECRET not in said and "sign=" not in said


async def test_a_robot_that_cannot_be_reached_is_retryable() -> None:
    with DingTalkRobotServer(TOKEN) as server:
        base = server.base_url
    e = await refused(DingTalkRobot(access_token=TOKEN, base_url=base, timeout_s=2.0),
                      Message(key="n1", text=TEXT))
    assert e.code == "http.connect" and e.retryable and TOKEN not in str(e)


def test_the_verifier_checks_what_the_channel_posts() -> None:
    """The verifier is strict where the robot is: a keyword-less text, a bad @ list, too long."""
    server = DingTalkRobotServer(TOKEN, keywords=("安心",))
    try:
        def post(body: object) -> int:
            data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
            said = server.answer("/robot/send", {"access_token": TOKEN}, {}, data, time.time())
            return int(said.body["errcode"])
        assert post({"msgtype": "text", "text": {"content": "安心 ok"}}) == 0
        assert post({"msgtype": "text", "text": {"content": "no keyword"}}) == 310000
        assert post({"msgtype": "text", "text": {"content": "安心"}, "at": {"atMobiles": ["12"]}}) == 40035
        assert post(b"{" + b" " * 20000 + b"}") == 460101
        assert post(b"not json") == 40035
    finally:
        server.close()
