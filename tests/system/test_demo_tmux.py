"""The demo as a newcomer runs it: a real terminal (tmux), a real `anxin sim` from outside."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.tmux import Tmux

ANXIN = [sys.executable, "-m", "hub.cli.main"]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def sim(demo: Path, *args: str) -> str:
    return subprocess.run([*ANXIN, "sim", *args, "--demo-dir", str(demo)], check=True,
                          capture_output=True, text=True, cwd=REPO).stdout


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Tmux, Path]]:
    tmux = Tmux(tmp_path)  # a server of its own: the demo runs with the test's home and state
    cmd = " ".join([*ANXIN, "demo", "--dir", str(tmp_path / "demo")])
    tmux("new-session", "-d", "-s", "demo", "-x", "110", "-y", "32", "-c", str(REPO), cmd)
    try:
        yield tmux, tmp_path / "demo"
    finally:
        tmux("send-keys", "-t", "demo", "q", check=False)
        time.sleep(1.5)
        tmux("kill-server", check=False)


def test_demo_shows_roster_and_alarm_in_a_real_terminal(demo: tuple[Tmux, Path]) -> None:
    tmux, folder = demo
    # the demo console logs in as the demo supervisor by itself
    tmux.wait_screen("主管: 演示主管", "居家终端", "h001", "h002", "h003", "在线", "秒前")
    running = Path(os.environ["XDG_STATE_HOME"]) / "anxin" / "demo.running"  # the test's, not ~'s
    assert running.read_text(encoding="utf-8").strip() == str(folder.resolve())
    assert sim(folder, "h001", "press").strip() == "pressed bedside"
    tmux.wait_screen("王秀英", "青石镇桃源村三组12号", "紧急呼叫", "待接警")
    tmux("send-keys", "-t", "demo", "c")
    tmux.wait_screen("已接警", "演示主管")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        keys = [p["key"] for p in json.loads(sim(folder, "h001", "prompts"))]
        if "officer_claimed" in keys:
            break
        time.sleep(0.2)
    assert keys == ["call_sent", "station_has_it", "officer_claimed"]
    station_yaml = str(folder / "station" / "station.yaml")
    audit = subprocess.run([*ANXIN, "audit", "show", "--config", station_yaml], check=True,
                           capture_output=True, text=True, cwd=REPO).stdout
    trail = [tuple(line.split()[3:5]) for line in audit.splitlines()]
    assert trail[0][0].startswith("os:")  # who ran `anxin demo` made the demo's account
    assert trail[1:] == ([("homes.yaml", "elder.record")] * 3  # the demo's responders next
                         + [("responders.yaml", "responder.save")] * 3
                         + [("demo", "login"), ("demo", "alarm.claim")])
    assert trail[0][1] == "user.add"
    verified = subprocess.run([*ANXIN, "audit", "verify", "--config", station_yaml],
                              capture_output=True, text=True, cwd=REPO)
    assert verified.returncode == 0 and verified.stdout.startswith("OK: 9 entries, head ")
    tmux("send-keys", "-t", "demo", "Enter")  # the alarm screen: who, where, what to do
    screen = tmux.wait_screen("处置预案", "接收呼叫", "钥匙保管人", "王建国", "门口有棵枣树")
    assert "待接警" not in screen and "青石镇桃源村三组12号" in screen
    tmux("send-keys", "-t", "demo", "Escape")
    tmux.wait_screen("居家终端", "已接警")
    assert "处置预案" not in tmux("capture-pane", "-p", "-t", "demo")
