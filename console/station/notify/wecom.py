"""WeCom (企业微信) group robot: a township or village duty group told in its own chat.

The robot's contract, from WeCom's 群机器人配置说明 (developer.work.weixin.qq.com/document/path/91770,
stored copy work.weixin.qq.com/api/doc/90000/90136/91770):
- POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY, a JSON body, content UTF-8;
- ``{"msgtype": "text", "text": {"content": …, "mentioned_mobile_list": [phones or "@all"]}}``;
  text, not markdown: only text @-mentions by phone number;
- "文本内容，最长不超过2048个字节": content at most 2048 bytes;
- "每个机器人发送的消息不能超过20条/分钟": 20 messages a minute per robot.
The answer is HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``, or an errcode on failure, e.g.
``{"errcode":93000,"errmsg":"invalid webhook url, hint: […] more info at
https://open.work.weixin.qq.com/devtool/query?e=93000"}`` (as users quote it). Codes we act on:
93000 wrong key (quoted by users); 40058 a field too long or invalid (quoted by users:
"markdown.content exceed max length 4096", and once "text.content exceed max length 5120",
more than the documented 2048, which we keep to); -1 busy and 40008 bad msgtype (WeCom's global
code table). UNVERIFIED: that a robot over its rate answers 45009 ("api freq out of limit", the
global code for a call rate limit); users report it, 91770 does not say.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from console.station.notify.channel import ChannelError
from console.station.notify.robot import GroupRobot, busy, too_fast

WECOM_URL = "https://qyapi.weixin.qq.com"
SEND_PATH = "/cgi-bin/webhook/send"
TEXT_MAX_BYTES = 2048
RATE_LIMIT_PAUSE_S = 60.0  # after a 45009: the minute the robot counts must pass

KEY_FIX = ("set notify.channels.wecom.key to the part after 'key=' of the robot's webhook "
           "address (shown in the robot's details in the group)")
LENGTH_FIX = "shorten the notification text: a WeCom robot takes 2048 bytes a message"


# what an errcode means, said with the robot's own errmsg (WeCom's global code table, 91770)
MEANING = {-1: "system busy", 93000: "the key names no robot: a wrong key, or the robot was "
           "removed from the group", 45009: "too many posts (over 20 a minute)",
           40058: "a field too long or invalid", 40008: "invalid message type"}


def wecom_error(errcode: int, errmsg: str) -> ChannelError:
    """What a non-zero errcode means for us (unknown codes: not retryable, with WeCom's page)."""
    meaning = f" ({MEANING[errcode]})" if errcode in MEANING else ""
    code, said = f"wecom.{errcode}", f"wecom robot: errcode {errcode}{meaning}: {errmsg[:200]}"
    match errcode:
        case -1:
            return busy(code, said)
        case 45009:
            return too_fast(code, said, RATE_LIMIT_PAUSE_S)
        case 93000:
            return ChannelError(code, said, retryable=False, fix=KEY_FIX)
        case 40058:
            return ChannelError(code, said, retryable=False, fix=LENGTH_FIX)
        case _:
            return ChannelError(code, said, retryable=False, fix="see "
                                f"https://open.work.weixin.qq.com/devtool/query?e={errcode}")


class WeComRobot(GroupRobot):
    """One WeCom group robot; ``mentioned`` phones (or '@all') are @-mentioned in every message."""

    name = "wecom"
    empty_refused = frozenset({40008, 40058})
    length_fix = LENGTH_FIX

    def __init__(self, *, key: str, mentioned: Sequence[str] = (), base_url: str = WECOM_URL,
                 timeout_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        super().__init__(mentioned=mentioned, timeout_s=timeout_s, clock=clock,
                         secrets=[key, quote(key, safe="")])
        self._send_url = f"{base_url.rstrip('/')}{SEND_PATH}?key={quote(key, safe='')}"

    def _budget(self, mention: Sequence[str]) -> int:
        return TEXT_MAX_BYTES  # the content alone is limited

    def _url(self) -> str:
        return self._send_url

    def _body(self, content: str, mention: Sequence[str]) -> dict[str, Any]:
        text: dict[str, Any] = {"content": content}
        if mention:
            text["mentioned_mobile_list"] = list(mention)
        return {"msgtype": "text", "text": text}

    def _error(self, errcode: int, errmsg: str) -> ChannelError:
        return wecom_error(errcode, errmsg)
