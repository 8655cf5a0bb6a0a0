"""A station that tells people, for the system tests of notifications (issue 19): its SMS modem
simulated on a pseudo-terminal, a policy with short waits, the township's responders, the duty
groups' robots on loopback. Used by tests/system/test_notify_e2e.py and test_fallback_e2e.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.users import Role
from drivers.gpio.sim import SimPins
from drivers.modem.sim import SimModem
from hub.cli.sms import SmsChannel
from hub.runtime.service import HubService
from tests.conftest import eventually
from tests.support.accounts import add_users
from tests.support.robots import DingTalkRobotServer, WeComRobotServer

ON_CALL, SON, GRID, VOLUNTEER = "13700000009", "13800000001", "13900000002", "13600000007"
FAST = {"reopen_s": 0.05, "health_s": 0.3, "sweep_s": 0.5, "command_s": 0.5, "cmgs_s": 2.0}
NEXT_S = 2.0  # the test policy's next_after_s
TZ = ZoneInfo("Asia/Shanghai")
WECOM_KEY, DING_TOKEN = "693a91f6-7f9c-4bc4-97a0-0ec2e1fa5aaa", "a" * 64


def policy() -> list[dict[str, Any]]:
    return [{"match": {"priority": 1}, "groups": ["wecom", "dingtalk"], "steps": [
        {"when": "unattended", "who": ["on_call"]},
        {"when": ["unattended", {"unclaimed_after_s": 60}], "who": ["contacts"],
         "next_after_s": NEXT_S, "rounds": 1},
        {"when": "dispatched", "who": ["dispatched"]},
        {"when": "resolved", "who": ["told"]}]}]


@pytest.fixture
def robots() -> Iterator[tuple[WeComRobotServer, DingTalkRobotServer]]:
    # the DingTalk robot has an IP allow-list we are not on: it answers errcode 310000
    with WeComRobotServer(WECOM_KEY) as wecom, DingTalkRobotServer(DING_TOKEN, ip_allowed=False) as ding:
        yield wecom, ding


@pytest.fixture
def modem_link(tmp_path: Path) -> Path:
    return tmp_path / "dev" / "modem"


@pytest.fixture
def sim(modem_link: Path) -> Iterator[SimModem]:
    with SimModem(link=modem_link) as s:
        yield s


@pytest.fixture
def notify_cfg(tmp_path: Path, station_cfg: StationConfig, modem_link: Path,
               robots: tuple[WeComRobotServer, DingTalkRobotServer],
               cheap_passwords: None) -> StationConfig:
    """The station of config/homes.yaml with the test policy, its modem at ``modem_link``, the
    robots, an on-call officer and a volunteer, and a duty officer's account (zhang)."""
    wecom, ding = robots
    notify = tmp_path / "notify.yaml"
    notify.write_text(yaml.safe_dump({
        "modem": {"port": str(modem_link)},
        "channels": {"wecom": {"key": WECOM_KEY, "base_url": wecom.base_url},
                     "dingtalk": {"access_token": DING_TOKEN, "base_url": ding.base_url}},
        "policy": policy()}, allow_unicode=True), encoding="utf-8")
    responders = tmp_path / "responders.yaml"
    responders.write_text(yaml.safe_dump({"responders": [
        {"name": "赵志刚", "phone": ON_CALL, "role": "on_call"},
        {"name": "孙丽", "phone": VOLUNTEER, "role": "volunteer"}]}, allow_unicode=True),
        encoding="utf-8")
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY))
    return station_cfg.model_copy(update={"notify_file": notify, "responders_file": responders})


@asynccontextmanager
async def station(cfg: StationConfig, port: Path) -> AsyncIterator[StationService]:
    async with StationService(cfg, channels=[SmsChannel(port=str(port), **FAST)]) as s:
        yield s


def sms(sim: SimModem) -> list[tuple[str, str]]:
    """(to, text) of each SMS the modem sent, parts joined."""
    return [(str(m["to"]).removeprefix("+86"), str(m["text"])) for m in sim.messages()]


async def press(hub: HubService, s: StationService) -> str:
    await eventually(lambda: hub.link.connected, what="hub connected")
    await asyncio.to_thread(SimPins(hub.pins).click, 17)
    return str((await eventually(s.store.open_alarms, what="alarm stored"))[0].id)
