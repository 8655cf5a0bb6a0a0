"""The channels' config: the example loads, and each mistake names the file, the key and the fix
without quoting a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.station.notify.config import Channels, build, load_channels
from console.station.notify.dingtalk import DingTalkRobot
from console.station.notify.webhook import CountyWebhook
from console.station.notify.wecom import WeComRobot
from hub.common.configfile import ConfigError
from tests.conftest import REPO

KEY = "693a91f6-7f9c-4bc4-97a0-0ec2e1fa5aaa"


def test_the_example_loads_and_builds_every_channel() -> None:
    cfg = load_channels(REPO / "config/notify.yaml")
    assert cfg.wecom and cfg.wecom.mentioned == ["13800000001"] and cfg.wecom.base_url == "https://qyapi.weixin.qq.com"
    assert cfg.dingtalk and cfg.dingtalk.keyword == "安心" and cfg.webhook and cfg.webhook.per_minute == 60
    assert KEY not in repr(cfg)  # SecretStr
    channels = build(cfg)
    assert [type(c) for c in channels] == [WeComRobot, DingTalkRobot, CountyWebhook]
    assert [c.name for c in channels] == ["wecom", "dingtalk", "webhook"]


def test_an_empty_section_has_no_channels() -> None:
    assert build(Channels()) == []


@pytest.mark.parametrize("text, expected", [
    (f"channels: {{wecom: {{key: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}'}}}}\n",
     "channels.wecom.key: a whole address was given: paste only the part after 'key='"),
    ("channels: {dingtalk: {access_token: 'https://oapi.dingtalk.com/robot/send?access_token=abcdef0123'}}\n",
     "channels.dingtalk.access_token: a whole address was given: paste only the part after 'access_token='"),
    ("channels: {wecom: {key: 'short'}}\n", "channels.wecom.key: not a robot key"),
    ("channels: {dingtalk: {access_token: abcdef0123456789, secret: 'abcdef0123456789abcdef'}}\n",
     "channels.dingtalk.secret: not a DingTalk signing secret: copy the string starting with SEC"),
    (f"channels: {{wecom: {{key: {KEY}, mentioned: ['0571-88881234']}}}}\n",
     "channels.wecom.mentioned.0: '0571-88881234' is neither a mainland mobile"),
    (f"channels: {{wecom: {{key: {KEY}, base_url: 'http://qyapi.weixin.qq.com'}}}}\n",
     "channels.wecom.base_url: 'http://qyapi.weixin.qq.com': use https"),
    (f"channels: {{wecom: {{key: {KEY}, base_url: 'https://qyapi.weixin.qq.com/cgi-bin'}}}}\n",
     "channels.wecom.base_url: 'https://qyapi.weixin.qq.com/cgi-bin': give the scheme and host only"),
    ("channels: {webhook: {url: 'ftp://platform.example.gov.cn/x?token=hidden-token'}}\n",
     "channels.webhook.url: 'ftp://platform.example.gov.cn/x' is not an http(s) address"),
    (f"channels: {{wecom: {{key: {KEY}, timeout_s: 600}}}}\n",
     "channels.wecom.timeout_s: Input should be less than or equal to 60"),
    (f"channels: {{wecom: {{key: {KEY}, mentoined: []}}}}\n", "channels.wecom.mentoined: unknown key"),
    ("channels: {sms: {}}\n", "channels.sms: unknown key"),
])
def test_mistakes_name_file_key_and_fix_and_never_quote_a_secret(tmp_path: Path, text: str,
                                                                  expected: str) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_channels(path)
    assert str(e.value).startswith(f"{path}: ") and expected in str(e.value)
    for secret in (KEY, "abcdef0123456789abcdef", "hidden-token"):
        assert secret not in str(e.value)


def test_loopback_may_be_plain_http_for_the_verifiers() -> None:
    cfg = Channels.model_validate({"wecom": {"key": KEY, "base_url": "http://127.0.0.1:8080/"},
                                   "webhook": {"url": "http://localhost:9/anxin/notify?token=t"}})
    assert cfg.wecom and cfg.wecom.base_url == "http://127.0.0.1:8080"
    assert cfg.webhook and cfg.webhook.url == "http://localhost:9/anxin/notify?token=t"
