"""`anxin notify test` as an installer runs it (a process of its own), against the simulated modem
on a pseudo-terminal and the robots' and platform's verifiers on loopback: what went, and for
what did not, exactly what failed and the fix, with the documented exit status."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.modem.modem import open_uart
from drivers.modem.sim import SimModem
from tests.conftest import REPO
from tests.support.robots import DingTalkRobotServer, WebhookServer, WeComRobotServer

ANXIN = [str(REPO / ".venv/bin/python"), "-m", "hub.cli.main"]
TO = "13800000001"
KEY, TOKEN = "693a91f6-7f9c-4bc4-97a0-0ec2e1fa5aaa", "a" * 64

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def station(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """station.yaml naming a notify file with these contents."""
    def write(notify: dict[str, Any]) -> Path:
        (tmp_path / "notify.yaml").write_text(yaml.safe_dump(notify), encoding="utf-8")
        path = tmp_path / "station.yaml"
        path.write_text(yaml.safe_dump({"station_id": "qingshi", "database": "station.db",
                                        "notify_file": "notify.yaml"}), encoding="utf-8")
        return path
    return write


def notify_test(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ANXIN, "notify", "test", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def line(out: str, channel: str) -> str:
    return next(x for x in out.splitlines() if x.split()[1:2] == [channel])


def test_an_sms_goes_through_the_modem(sim: SimModem, modem_link: Path,
                                       station: Callable[[dict[str, Any]], Path]) -> None:
    done = notify_test(station({"modem": {"port": str(modem_link)}}), "--to", "138-0000-0001")
    assert done.returncode == 0, done.stdout + done.stderr
    assert line(done.stdout, "modem").startswith("OK")
    assert f"SMS sent to {TO} (1 part; CHINA MOBILE, home, -65 dBm)" in done.stdout
    [msg] = sim.messages()  # decoded back from the PDU the modem got
    assert msg["to"] == "+86" + TO
    assert str(msg["text"]).startswith("【安心】测试消息：服务站 qingshi 的通知通道工作正常")


@pytest.mark.parametrize(("trouble", "said", "fix"), [
    (lambda s: setattr(s, "sim", "NOT INSERTED"), "+CME ERROR 10 (SIM not inserted)",
     "insert a SIM card"),
    (lambda s: setattr(s, "registration", 3), "not registered on a network (denied)",
     "the operator refuses this SIM"),
    (lambda s: s.fail_sends(330), "+CMS ERROR 330 (SMSC address unknown)",
     "the SIM has no SMS centre number"),
    (lambda s: s.fail_sends(8), "+CMS ERROR 8 (operator determined barring)",
     "the operator refuses SMS from this SIM"),
], ids=["no-sim", "not-registered", "cms-330", "cms-8"])
def test_the_modems_trouble_is_said_with_its_fix(sim: SimModem, modem_link: Path,
                                                 station: Callable[[dict[str, Any]], Path],
                                                 trouble: Callable[[SimModem], None], said: str,
                                                 fix: str) -> None:
    trouble(sim)
    done = notify_test(station({"modem": {"port": str(modem_link)}}), "--to", TO)
    assert done.returncode == 1, done.stdout + done.stderr
    assert line(done.stdout, "modem").startswith("FAIL") and said in done.stdout, done.stdout
    assert fix in line(done.stdout, "modem").split(" — fix: ", 1)[1]
    assert sim.messages() == [] and "Traceback" not in done.stderr


def test_a_modem_port_held_by_the_station_is_said_so(sim: SimModem, modem_link: Path,
                                                     station: Callable[[dict[str, Any]], Path]) -> None:
    held = open_uart(str(modem_link))  # exclusively, as the running station holds it
    try:
        done = notify_test(station({"modem": {"port": str(modem_link)}}), "--to", TO)
    finally:
        held.close()
    assert done.returncode == 1
    assert "is in use by another program (the running station?)" in done.stdout
    assert "sudo systemctl stop anxin-station" in done.stdout


def test_a_missing_modem_port(tmp_path: Path, station: Callable[[dict[str, Any]], Path]) -> None:
    done = notify_test(station({"modem": {"port": str(tmp_path / "ttyUSB2")}}), "--to", TO)
    assert done.returncode == 1 and "ttyUSB2 does not exist" in done.stdout
    assert "modem.port names its AT port" in done.stdout


def test_the_robots_and_the_platform_each_say_what_went_wrong(
        station: Callable[[dict[str, Any]], Path]) -> None:
    with WeComRobotServer("0" * 36) as wecom, DingTalkRobotServer(TOKEN, ip_allowed=False) as ding, \
            WebhookServer(statuses=[503, 503, 503]) as hook:
        config = station({"channels": {
            "wecom": {"key": KEY, "base_url": wecom.base_url},
            "dingtalk": {"access_token": TOKEN, "base_url": ding.base_url},
            "webhook": {"url": hook.url}}})
        done = notify_test(config, "--to", TO)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "errcode 93000 (the key names no robot: a wrong key" in line(out, "wecom")
    assert "fix: set notify.channels.wecom.key" in line(out, "wecom")
    assert "errcode 310000 (the robot's security settings refused the post: keyword" in line(out, "dingtalk")
    assert "IP refused" in line(out, "dingtalk")
    assert "answered HTTP 503" in line(out, "webhook") and line(out, "webhook").startswith("FAIL")
    assert KEY not in out and TOKEN not in out  # secrets never printed


def test_a_robot_that_takes_it_mentions_the_phone(station: Callable[[dict[str, Any]], Path]) -> None:
    with WeComRobotServer(KEY) as wecom:
        config = station({"channels": {"wecom": {"key": KEY, "base_url": wecom.base_url}}})
        done = notify_test(config, "--to", TO, "--channel", "wecom")
        assert done.returncode == 0, done.stdout + done.stderr
        [post] = wecom.accepted
    assert post.json()["text"]["mentioned_mobile_list"] == [TO]
    assert "测试消息" in post.json()["text"]["content"]
    assert line(done.stdout, "wecom").startswith("OK")


def test_bad_input_is_exit_status_2(station: Callable[[dict[str, Any]], Path], modem_link: Path) -> None:
    config = station({"modem": {"port": str(modem_link)}})
    bad = notify_test(config, "--to", "12345")
    assert bad.returncode == 2
    assert "argument --to: a mainland mobile number (11 digits), not '12345'" in bad.stderr
    landline = notify_test(config, "--to", "0531-8800-0101")
    assert landline.returncode == 2 and "a mainland mobile number" in landline.stderr
    missing = notify_test(config, "--to", TO, "--channel", "wecom")
    assert missing.returncode == 2
    assert "the wecom channel is not configured" in missing.stderr and "configured: modem" in missing.stderr
