"""The station's notify file: the channels (which robots and platform, with their keys), the SMS
modem, the policy, when the station counts as attended, and the county's promise.

station.yaml names it (``notify_file``; config/notify.yaml is the commented example, with the
shipped policy written out); without one, the shipped policy applies and nothing is configured
to send. docs/notify.md is the reference. Keys, tokens and secrets are SecretStr: they never show in a repr or
an error, and an error about one does not quote it. A whole webhook address pasted where only
its key belongs is the mistake installers make most (users' issues on both robots), so it is
refused with what to paste instead. Plain http is allowed to loopback only (the verifiers in
the tests and the demo); anywhere else a key would cross the network in clear.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from console.casework import phone
from console.casework.elder import Category, ElderRecord
from console.station.notify.channel import Channel
from console.station.notify.dingtalk import DINGTALK_URL, DingTalkRobot
from console.station.notify.http import where
from console.station.notify.policy import DEFAULT_RULES, Policy, PolicyRules
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


class ModemConfig(Strict):
    """The station's SMS modem (docs/modem.md)."""

    port: str = Field(min_length=1, max_length=256, description="its AT port, e.g. "
                      "/dev/serial/by-id/usb-Quectel_EC25-if02-port0; with backend sim, the "
                      "path where the simulated modem's link is made")
    backend: Literal["real", "sim"] = Field("real", description="sim: a simulated modem on a "
                                            "pseudo-terminal (the demo)")
    pin: SecretStr | None = Field(None, description="the SIM's PIN, when it has one (tried once "
                                  "a start: three wrong PINs block the SIM)")

    @field_validator("pin")
    @classmethod
    def _pin(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not re.fullmatch(r"[0-9]{4,8}", v.get_secret_value()):
            raise PydanticCustomError("pin", "a SIM PIN is 4 to 8 digits (the value is not shown here)")
        return v


Minutes = Annotated[float, Field(gt=0, le=24 * 60)]


class Promise(Strict):
    """On site within so many minutes of a dispatch (the county's 15分钟响应圈); a village (as
    written in the address) or care group may have its own, the village's first."""

    minutes: Minutes = 15.0
    groups: dict[Category, Minutes] = Field(default_factory=dict)
    villages: dict[Annotated[str, Field(min_length=1, max_length=32)], Minutes] = Field(
        default_factory=dict)

    def seconds(self, elder: ElderRecord | None) -> float:
        if elder is not None:
            for village, minutes in self.villages.items():
                if village in elder.address:
                    return minutes * 60
            if elder.category in self.groups:
                return self.groups[elder.category] * 60
        return self.minutes * 60


class NotifyFile(Strict):
    """The notify file (config/notify.yaml)."""

    channels: Channels = Channels()
    modem: ModemConfig | None = Field(None, description="the SMS modem; none: nothing goes by SMS")
    policy: PolicyRules = Field(default_factory=lambda: list(DEFAULT_RULES),
                                description="who is told, when, how (docs/notify.md)")
    attended_s: float = Field(90, ge=10, le=3600, description="a console counts as in use while "
                              "its session made a request this recently (consoles say they are "
                              "there every 30 s): with none, the station is unattended")
    promise: Promise = Promise()

    @property
    def rules(self) -> Policy:
        return Policy(self.policy)

    def configured(self) -> set[str]:
        """The channels this station can send by."""
        return {name for name, c in self.channels if c} | ({"sms"} if self.modem else set())

    def warnings(self) -> list[str]:
        """What is allowed but probably not meant."""
        out = []
        missing = Policy(self.policy).person_channels() - self.configured()
        if "sms" in missing:
            out.append("policy: the steps text people (sms) but no modem is configured: those "
                       "messages fail and the station reports it (set modem.port)")
        if "webhook" in missing:
            out.append("policy: the steps tell people by webhook but channels.webhook is not set")
        if unknown := Policy(self.policy).unknown_kinds():
            out.append(f"policy: no hub raises alarms of kind {', '.join(unknown)}")
        return out


def load_notify(path: Path | None) -> NotifyFile:
    """The notify file at ``path``; None: the shipped policy, nothing configured to send."""
    return NotifyFile() if path is None else load(path, NotifyFile)


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
