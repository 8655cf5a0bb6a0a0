"""DingTalk (钉钉) custom group robot (自定义机器人), signed with the robot's secret.

The contract, from DingTalk's 自定义机器人接入 (open.dingtalk.com/document/robots/custom-robot-access,
read in stored copies quoting it) and the errors users quote from the real service:
- POST https://oapi.dingtalk.com/robot/send?access_token=…, JSON, UTF-8;
- ``{"msgtype": "text", "text": {"content": …}, "at": {"atMobiles": [phones], "isAtAll": false}}``
  (text @-mentions need no "@phone" in the content);
- security, one or more of: a keyword the content must contain, an IP allow-list, and signing
  (加签): ``timestamp`` in ms, "与请求调用时间误差不能超过1小时" (within an hour of DingTalk's clock),
  ``sign`` = urlEncode(base64(HmacSHA256(key=secret, msg=f"{timestamp}\\n{secret}"))), UTF-8, the
  secret being the "SEC…" string shown under 加签;
- "每个机器人每分钟最多发送20条。如果超过20条，会限流10分钟" (20 a minute; beyond, 10 minutes blocked).
The answer is HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` or, as users quote them: 310000
"sign not match" / "keywords not in content" / "invalid timestamp" / "ip … not in whitelist"
(newer: "description:机器人发送签名不匹配;solution:…", "关键词不匹配", "ip 不在白名单中");
130101 "send too fast, exceed 20 times per minute"; 300001 "token is not exist" (300005 for an
external group, per a maintainer); 460101 "message too long, exceed 20000 bytes"; 40035
"缺少参数 json". UNVERIFIED: that the IP check answers 310000 (only its errmsg is quoted), and
that the 20000 bytes count the whole body (we keep the whole body within them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from console.station.notify.channel import ChannelError
from console.station.notify.http import dumps
from console.station.notify.robot import GroupRobot, busy, too_fast

DINGTALK_URL = "https://oapi.dingtalk.com"
SEND_PATH = "/robot/send"
BODY_MAX_BYTES = 20000
THROTTLED_S = 600.0  # 130101: DingTalk blocks the robot for 10 minutes
KEYWORD_FORM = "【{}】"  # how the keyword is put before a text that lacks it

TOKEN_FIX = ("set notify.channels.dingtalk.access_token to the part after 'access_token=' of the "
             "robot's Webhook address (the group's 智能群助手 → the robot → 设置)")
SECURITY_FIX = ("the robot's security settings (安全设置) refused the post: the secret must be the "
                "'SEC…' string under 加签, the keyword one of the robot's 自定义关键词, and with an "
                "IP allow-list (IP地址段) the station's public IP must be in it")
LENGTH_FIX = "shorten the notification text: a DingTalk robot takes 20000 bytes a message"


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value before URL-encoding: base64(HMAC-SHA256(secret, ts\\nsecret))."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


# what an errcode means, said with the robot's own errmsg (as users quote them, above)
MEANING = {-1: "system busy", 310000: "the robot's security settings refused the post: "
           "keyword, signature, timestamp or IP allow-list", 130101: "too many posts (over "
           "20 a minute: the robot is blocked for 10 minutes)", 300001: "no robot has this "
           "access_token", 300005: "no robot has this access_token", 460101: "message too long",
           40035: "a parameter is missing or invalid"}


def dingtalk_error(errcode: int, errmsg: str) -> ChannelError:
    """What a non-zero errcode means for us; 310000's fix follows its errmsg where it says which
    check failed (DingTalk asks not to rely on errmsg, so the fallback names all three)."""
    meaning = f" ({MEANING[errcode]})" if errcode in MEANING else ""
    code, said = f"dingtalk.{errcode}", f"dingtalk robot: errcode {errcode}{meaning}: {errmsg[:200]}"
    low = errmsg.lower()
    match errcode:
        case -1:
            return busy(code, said)
        case 130101:
            return too_fast(code, said, THROTTLED_S)
        case 300001 | 300005:
            return ChannelError(code, said, retryable=False, fix=TOKEN_FIX)
        case 460101:
            return ChannelError(code, said, retryable=False, fix=LENGTH_FIX)
        case 310000 if "timestamp" in low:
            return ChannelError(code, said, retryable=False, fix="the station's clock is more than "
                                "an hour off: enable time sync (timedatectl set-ntp true)")
        case 310000 if "sign" in low or "签名" in errmsg:
            return ChannelError(code, said, retryable=False, fix="signature refused: set "
                                "notify.channels.dingtalk.secret to the robot's 'SEC…' string "
                                "under 安全设置 → 加签")
        case 310000 if "keyword" in low or "关键词" in errmsg:
            return ChannelError(code, said, retryable=False, fix="keyword missing: set "
                                "notify.channels.dingtalk.keyword to one of the robot's 自定义关键词")
        case 310000 if "ip" in low or "白名单" in errmsg:
            return ChannelError(code, said, retryable=False, fix="IP refused: add the station's "
                                "public IP to the robot's IP地址段, or use 加签 instead")
        case 310000:
            return ChannelError(code, said, retryable=False, fix=SECURITY_FIX)
        case _:
            return ChannelError(code, said, retryable=False, fix="see DingTalk's error code "
                                "list at open.dingtalk.com")


class DingTalkRobot(GroupRobot):
    """One DingTalk custom robot. ``secret``: sign each post; ``keyword``: put it before any
    text that lacks it; ``mentioned``: phones @-mentioned in every message ('@all': everyone)."""

    name = "dingtalk"
    empty_refused = frozenset({40035})
    length_fix = LENGTH_FIX

    def __init__(self, *, access_token: str, secret: str | None = None, keyword: str | None = None,
                 mentioned: Sequence[str] = (), base_url: str = DINGTALK_URL,
                 timeout_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        super().__init__(mentioned=mentioned, timeout_s=timeout_s, clock=clock,
                         secrets=[s for s in (access_token, secret) if s])
        self._base = f"{base_url.rstrip('/')}{SEND_PATH}"
        self._token, self._secret, self._keyword = access_token, secret, keyword

    def _size(self, text: str) -> int:
        return len(dumps(text)) - 2  # as it is in the body: escapes counted, quotes not

    def _budget(self, mention: Sequence[str]) -> int:
        return BODY_MAX_BYTES - len(dumps(self._body("", mention)))

    def _content(self, text: str) -> str:
        if self._keyword and (not text or self._keyword not in text):
            return KEYWORD_FORM.format(self._keyword) + text
        return text

    def _url(self) -> str:
        query = {"access_token": self._token}
        if self._secret:
            ts = int(self._clock() * 1000)  # a sign is no use without the token, which is hidden
            query |= {"timestamp": str(ts), "sign": sign(self._secret, ts)}
        return f"{self._base}?{urlencode(query)}"

    def _body(self, content: str, mention: Sequence[str]) -> dict[str, Any]:
        phones = [m for m in mention if m != "@all"]
        return {"msgtype": "text", "text": {"content": content},
                "at": {"atMobiles": phones, "isAtAll": "@all" in mention}}

    def _error(self, errcode: int, errmsg: str) -> ChannelError:
        return dingtalk_error(errcode, errmsg)
