"""The channels section of the station's notify config: which robots and platform, with their keys.

``notify.channels`` in station.yaml (wired there by the notification engine; config/notify.yaml
is a commented example). Keys, tokens and secrets are SecretStr: they never show in a repr or
an error, and an error about one does not quote it. A whole webhook address pasted where only
its key belongs is the mistake installers make most (users' issues on both robots), so it is
refused with what to paste instead. Plain http is allowed to loopback only (the verifiers in
the tests and the demo); anywhere else a key would cross the network in clear.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, SecretStr
from pydantic_core import PydanticCustomError

from console.casework import phone
from console.station.notify.channel import Channel
from console.station.notify.dingtalk import DINGTALK_URL, DingTalkRobot
from console.station.notify.http import where
from console.station.notify.webhook import CountyWebhook
from console.station.notify.wecom import WECOM_URL, WeComRobot
from hub.common.configfile import Strict, load

TOKEN = re.compile(r"[A-Za-z0-9_-]{8,128}")
MAX_MENTIONED = 50


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(v: str, *, path: bool) -> str:
    u = urlsplit(v.strip())
    if u.scheme not in ("http", "https") or not u.hostname:
        raise PydanticCustomError("url", "'{value}' is not an http(s) address", {"value": where(v)})
    if u.scheme == "http" and not _loopback(u.hostname):
        raise PydanticCustomError("url_plain", "'{value}': use https (plain http is for 127.0.0.1 "
                                  "only: the key would cross the network in clear)", {"value": where(v)})
    if not path and (u.path not in ("", "/") or u.query):
        raise PydanticCustomError("base_url", "'{value}': give the scheme and host only "
                                  "(https://qyapi.weixin.qq.com); the path is the robot's own",
                                  {"value": where(v)})
    return v.strip().rstrip("/") if not path else v.strip()


def _token(what: str) -> AfterValidator:
    def check(v: SecretStr) -> SecretStr:
        s = v.get_secret_value().strip()
        if "://" in s or "=" in s:
            raise PydanticCustomError("token_url", "a whole address was given: paste only the part "
                                      "after '{what}=' of the robot's webhook address", {"what": what})
        if not TOKEN.fullmatch(s):
            raise PydanticCustomError("token", "not a robot {what}: 8 to 128 letters, digits, '-' "
                                      "or '_' (the value is not shown here)", {"what": what})
        return SecretStr(s)
    return AfterValidator(check)


def _mention(v: str) -> str:
    v = v.strip()
    if v == "@all":
        return v
    number = phone.parse(v)
    if number is None or number.kind != "mobile":
        raise PydanticCustomError("mention", "'{value}' is neither a mainland mobile (robots "
                                  "@-mention people by mobile) nor @all", {"value": v})
    return number.national


def _ding_secret(v: SecretStr) -> SecretStr:
    s = v.get_secret_value().strip()
    if not re.fullmatch(r"SEC[0-9A-Za-z]{16,128}", s):
        raise PydanticCustomError("ding_secret", "not a DingTalk signing secret: copy the string "
                                  "starting with SEC under the robot's 安全设置 → 加签 (the value is "
                                  "not shown here)")
    return SecretStr(s)


BaseUrl = Annotated[str, Field(max_length=256), AfterValidator(lambda v: _url(v, path=False))]
Mentioned = Annotated[list[Annotated[str, AfterValidator(_mention)]],
                      Field(default_factory=list, max_length=MAX_MENTIONED)]
Timeout = Annotated[float, Field(10.0, gt=0, le=60, description="a post with no answer in this "
                                 "long fails and is tried again later")]


class _Channel(Strict):
    model_config = ConfigDict(hide_input_in_errors=True)  # a pasted key must not show in a traceback

    timeout_s: Timeout


class _Robot(_Channel):
    mentioned: Mentioned = Field(description="mobiles @-mentioned in every message, or @all")


class WeComChannel(_Robot):
    """A WeCom group robot (企业微信 群机器人)."""

    key: Annotated[SecretStr, _token("key")] = Field(description="the part after key= of the "
                                                   "robot's webhook address")
    base_url: BaseUrl = Field(WECOM_URL, description="only to point at a test server")


class DingTalkChannel(_Robot):
    """A DingTalk custom robot (钉钉 自定义机器人)."""

    access_token: Annotated[SecretStr, _token("access_token")] = Field(
        description="the part after access_token= of the robot's Webhook address")
    secret: Annotated[SecretStr, AfterValidator(_ding_secret)] | None = Field(
        None, description="the SEC… string under 加签, when the robot signs")
    keyword: str | None = Field(None, min_length=1, max_length=32, description="one of the "
                                "robot's 自定义关键词, put before a text that lacks it")
    base_url: BaseUrl = Field(DINGTALK_URL, description="only to point at a test server")


class WebhookChannel(_Channel):
    """The county platform's webhook."""

    url: Annotated[str, Field(max_length=1024), AfterValidator(lambda v: _url(v, path=True))]
    secret: SecretStr | None = Field(None, min_length=16, max_length=256, description="signs "
                                     "each post (X-Anxin-Signature); the platform holds the same")
    per_minute: int = Field(60, ge=1, le=6000, description="posts a minute the platform takes")


class Channels(Strict):
    """``notify.channels``: each is optional; the SMS modem is configured apart (modem.port)."""

    wecom: WeComChannel | None = None
    dingtalk: DingTalkChannel | None = None
    webhook: WebhookChannel | None = None


class NotifyFile(Strict):
    """A file with the notify section alone (config/notify.yaml, and the tests)."""

    channels: Channels = Channels()


def load_channels(path: Path) -> Channels:
    return load(path, NotifyFile).channels


def build(cfg: Channels) -> list[Channel]:
    """The configured channels, ready to send (close each with ``aclose``)."""
    out: list[Channel] = []
    if w := cfg.wecom:
        out.append(WeComRobot(key=w.key.get_secret_value(), mentioned=w.mentioned,
                              base_url=w.base_url, timeout_s=w.timeout_s))
    if d := cfg.dingtalk:
        out.append(DingTalkRobot(access_token=d.access_token.get_secret_value(),
                                 secret=d.secret.get_secret_value() if d.secret else None,
                                 keyword=d.keyword, mentioned=d.mentioned, base_url=d.base_url,
                                 timeout_s=d.timeout_s))
    if h := cfg.webhook:
        out.append(CountyWebhook(url=h.url, secret=h.secret.get_secret_value() if h.secret else None,
                                 per_minute=h.per_minute, timeout_s=h.timeout_s))
    return out
