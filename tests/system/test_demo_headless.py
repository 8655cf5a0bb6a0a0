"""The demo stops with every part it started: SIGTERM (a service manager), SIGHUP (its terminal
closed) or quitting the console stop the broker, the station and the homes and reap them, so
none is left running; headless and with the console in a real terminal (tmux). Its broker lets
in only its own parts."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.station.config import load_station_config
from console.station.notify.engine import NOTE_ACCEPTED
from console.station.trust.localca import LocalCa
from console.tui.client import StationClient
from hub.cli.demo import DEMO_PASSWORD, DEMO_USER
from tests.conftest import REPO, eventually
from tests.support.tls import Peer
from tests.support.tmux import Tmux

ANXIN = [sys.executable, "-m", "hub.cli.main"]


def state(pid: int) -> str | None:
    """The process's state letter (R, S, Z, …), None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """Running, or a zombie nobody reaped: either is a part left behind."""
    return state(pid) is not None


def running(pid: int) -> bool:
    s = state(pid)
    return s is not None and s != "Z"


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, …), from /proc."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], [pid]
    while todo:
        up = todo.pop()
        kids = [p for p, pp in parent.items() if pp == up]
        found += kids
        todo += kids
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def gone_within(pids: list[int], timeout: float) -> list[int]:
    """The pids still there (running or an unreaped zombie) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill_leftovers(pids: list[int]) -> None:
    for pid in pids:
        if running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(("sig", "group"), [(signal.SIGTERM, False), (signal.SIGHUP, False),
                                            (signal.SIGHUP, True)],
                         ids=["SIGTERM", "SIGHUP", "SIGHUP-to-its-process-group"])
def test_a_signal_stops_the_headless_demo_and_its_parts(tmp_path: Path, sig: int,
                                                        group: bool) -> None:
    """SIGTERM as a service manager sends it; SIGHUP as a closed terminal does, to the demo or
    to its whole (foreground) process group."""
    demo = subprocess.Popen([sys.executable, "-m", "hub.cli.main", "demo", "--headless", "--homes", "1",
                             "--dir", str(tmp_path / "demo")], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    pids: list[int] = []
    try:
        assert demo.stdout is not None
        lines = []
        while not any("running on 127.0.0.1" in line for line in lines):
            line = demo.stdout.readline()
            assert line, "the demo ended before it ran:\n" + "".join(lines)
            lines.append(line)
        started = json.loads((tmp_path / "demo" / "demo.json").read_text())["pids"]
        pids = descendants(demo.pid)  # the station, the home and the broker
        assert set(started) < set(pids) and any("mosquitto" in cmdline(p) for p in pids)
        assert all(running(p) for p in pids)
        if group:
            os.killpg(demo.pid, sig)
        else:
            demo.send_signal(sig)
        assert demo.wait(20) == 0
        assert not [p for p in pids if alive(p)]  # stopped and reaped, not left to init
    finally:  # a failed run leaves nothing behind either
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        kill_leftovers(pids)


def test_anxin_sim_finds_a_demo_started_with_dir_and_refuses_bad_arguments(tmp_path: Path) -> None:
    """`anxin demo --dir D`: its printed hints name D, `anxin sim --demo-dir D` drives it, and
    so does a bare `anxin sim` in a second terminal (the demo records D while it runs). A bad
    number is refused with one line and exit code 2, never a Python error."""
    folder = tmp_path / "my demo"  # not the default folder, and a space to quote

    def sim(*args: str) -> subprocess.CompletedProcess[str]:  # the test's XDG_STATE_HOME: conftest.py
        return subprocess.run([*ANXIN, "sim", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=60)

    demo = subprocess.Popen([*ANXIN, "demo", "--headless", "--homes", "1", "--dir", str(folder)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    pids: list[int] = []
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        while not any("running on 127.0.0.1" in line for line in lines):
            line = demo.stdout.readline()
            assert line, "the demo ended before it ran:\n" + "".join(lines)
            lines.append(line)
        pids = descendants(demo.pid)
        hint = lines[-1]
        assert f"anxin sim --demo-dir '{folder}' h001 press" in hint
        assert f"--config '{folder}/station/desk1.yaml'" in hint

        done = sim("--demo-dir", str(folder), "h001", "press")
        assert (done.returncode, done.stdout.strip()) == (0, "pressed bedside"), done.stderr
        done = sim("h001", "cord")  # no --demo-dir: the running demo is found
        assert (done.returncode, done.stdout.strip()) == (0, "pulled cord"), done.stderr
        done = sim("h001", "prompts", "--demo-dir", str(folder))  # the option after the verb
        assert done.returncode == 0 and json.loads(done.stdout)[0]["key"] == "call_sent"
        done = sim("h001", "modem", "sent")  # h001's own modem: nothing while the station is up
        assert (done.returncode, json.loads(done.stdout)) == (0, []), done.stderr

        bad = sim("--demo-dir", str(folder), "h001", "battery-low", "bath_leak", "x")
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
        assert bad.stderr.splitlines()[-1] == ("anxin sim HUB battery-low: error: argument PCT: a "
                                               "battery level is a whole number from 0 to 100, not 'x'")
        bad = sim("h001", "hold", "bedside", "abc")
        assert bad.returncode == 2 and bad.stderr.splitlines()[-1].endswith(
            "argument S: seconds are a number above 0 and at most 60, not 'abc'")

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(20) == 0
        gone = sim("h001", "press")  # the demo forgot its folder when it stopped
        assert gone.returncode == 2 and "is the demo running?" in gone.stderr
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        kill_leftovers(pids)


@pytest.fixture
def console_demo(tmp_path: Path) -> Iterator[tuple[Tmux, int, list[int]]]:
    """The demo with its console in a tmux session, up and logged in: tmux, the demo's pid
    and the pids of every process it started."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    tmux = Tmux(tmp_path)
    cmd = " ".join([*ANXIN, "demo", "--dir", str(tmp_path / "demo")])
    tmux("new-session", "-d", "-s", "demo", "-x", "110", "-y", "32", "-c", str(REPO), cmd)
    pids: list[int] = []
    pane = int(tmux("list-panes", "-t", "demo", "-F", "#{pane_pid}").split()[0])
    try:
        tmux.wait_screen("主管: 演示主管", "居家终端", "h001", "h002", "h003", "在线", timeout=30)
        demo = next(p for p in [pane, *descendants(pane)] if " demo --dir " in cmdline(p))
        started = json.loads((tmp_path / "demo" / "demo.json").read_text())["pids"]
        pids = descendants(demo)
        assert set(started) < set(pids) and any("mosquitto" in cmdline(p) for p in pids)
        assert len(started) == 4 and all(running(p) for p in pids)
        yield tmux, demo, pids
    finally:
        pids = pids or descendants(pane)  # a demo that failed to come up leaves nothing either
        tmux("kill-server", check=False)
        kill_leftovers(pids)


@pytest.mark.parametrize("how", ["kill-session", "SIGHUP", "SIGTERM", "quit"])
def test_the_console_demo_stops_its_parts(console_demo: tuple[Tmux, int, list[int]],
                                          how: str) -> None:
    """Closing its terminal (tmux kill-session hangs it up), SIGHUP, SIGTERM or quitting the
    console (q): the broker, the station and the homes all stop, and the demo ends."""
    tmux, demo, pids = console_demo
    if how == "kill-session":
        tmux("kill-session", "-t", "demo")
    elif how == "quit":
        tmux("send-keys", "-t", "demo", "q")
    else:
        os.kill(demo, getattr(signal, how))
    left = gone_within(pids, 15)
    assert not left, f"left running: {[(p, state(p), cmdline(p)) for p in left]}"
    deadline = time.monotonic() + 10  # a console that hangs on its way out: 5 s, then ended
    while running(demo) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(demo), "the demo itself kept running"
    if how != "kill-session":  # the terminal is as it was: the console left the alt screen
        assert "主管: 演示主管" not in tmux("capture-pane", "-p", "-t", "demo")


@pytest.fixture
def headless(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A headless demo with one home, up: its folder and what it printed."""
    demo = subprocess.Popen([*ANXIN, "demo", "--headless", "--homes", "1", "--dir",
                             str(tmp_path / "demo")], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        while not any("running on 127.0.0.1" in line for line in lines):
            line = demo.stdout.readline()
            assert line, "the demo ended before it ran:\n" + "".join(lines)
            lines.append(line)
        yield tmp_path / "demo", "".join(lines)
    finally:
        demo.terminate()
        demo.wait(20)


async def test_the_demo_broker_lets_in_only_the_demos_parts(tmp_path: Path,
                                                            headless: tuple[Path, str]) -> None:
    """Anyone on the machine could read the console passwords of an anonymous broker and
    forge alarms on it: the demo's is TLS with a certificate from the demo's own CA, like a
    station's. A console started by hand as the demo says gets in with its own identity."""
    folder, printed = headless
    port = json.loads((folder / "demo.json").read_text())["broker_port"]
    other = LocalCa(tmp_path / "other")  # another CA, with the demo's names
    strangers = {"anonymous, plain MQTT": None,
                 "TLS without a certificate": (folder / "tls/ca.crt", None, None),
                 "another CA's certificate": (folder / "tls/ca.crt", *other.files("h001")[1:])}
    for who, tls in strangers.items():
        stranger = Peer(port, tls)
        assert not stranger.connect(), who
        stranger.close()
    console = re.search(r"\.venv/bin/anxin console (.*?) \(", printed)
    assert console, printed
    args = shlex.split(console[1])
    assert args[args.index("--user") + 1] == DEMO_USER
    cfg = load_station_config(Path(args[args.index("--config") + 1]))
    assert cfg.broker.tls and cfg.broker.tls.identity == "console:desk1"
    client = StationClient.over_mqtt(cfg.broker, on_changed=lambda _: None,
                                     on_station=lambda _: None)
    client.start()
    try:
        reply = await client.login(DEMO_USER, DEMO_PASSWORD)
        assert reply.ok, reply  # the station answered it: both have their identities
    finally:
        client.close()
    db = sqlite3.connect(f"file:{folder / 'station/station.db'}?mode=ro", uri=True)
    try:  # and the home is online at the station: its hub got in too
        await eventually(lambda: db.execute("SELECT online FROM homes WHERE hub = 'h001'")
                         .fetchone() == (1,), 15, "h001 online")
    finally:
        db.close()


def test_a_console_with_the_stations_certificate_is_refused(headless: tuple[Path, str]) -> None:
    """`anxin console --config <demo>/station/station.yaml` (what the demo used to print)
    would be a console with every right of the station: it is refused, saying why."""
    folder, _ = headless
    r = subprocess.run([*ANXIN, "console", "--config", str(folder / "station/station.yaml")],
                       cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "broker.tls is the certificate of 'station:demo', not of a console" in r.stderr
    assert "desk1.yaml" in r.stderr


async def test_a_press_at_the_unattended_demo_texts_the_on_call_and_contact_1_and_a_reply_accepts(
        headless: tuple[Path, str]) -> None:
    """No console is logged in to the headless demo: a press texts the on-call officer (config/
    responders.yaml) and the elder's first contact from the station's simulated modem, read
    back with `anxin sim modem sent`; contact 1's "1" by `anxin sim modem reply` is an
    acceptance on the alarm's timeline, and the elder hears who is coming."""
    folder, printed = headless
    assert "modem sent" in printed and "modem reply PHONE 1" in printed

    def sim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*ANXIN, "sim", "--demo-dir", str(folder), *args], cwd=REPO,
                              capture_output=True, text=True, timeout=60)

    def sent() -> list[dict[str, object]]:
        done = sim("modem", "sent")
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))

    assert sent() == []
    assert sim("h001", "press").returncode == 0
    texts = await eventually(lambda: len(m := sent()) >= 2 and m, 30, "on-call and contact 1 texted")
    assert [m["to"] for m in texts] == ["+8613700000009", "+8613800000001"]  # 赵志刚, then 王建国
    for m in texts:
        assert set(m) == {"to", "text", "time"} and isinstance(m["time"], float)
        assert str(m["text"]).startswith("【安心】王秀英（青石镇桃源村三组12号，村委会往东200米")
        assert "紧急呼叫（卧室床头）" in str(m["text"])
        assert str(m["text"]).endswith("钥匙：王建国（儿子） 138-0000-0001。回复1确认，到达后回复到。")

    done = sim("modem", "reply", "138-0000-0001", "1")
    assert done.returncode == 0 and json.loads(done.stdout)["from"] == "13800000001", done.stderr
    db = sqlite3.connect(f"file:{folder / 'station/station.db'}?mode=ro", uri=True)
    try:
        await eventually(lambda: db.execute(
            "SELECT 1 FROM alarm_log WHERE actor = '王建国（儿子）' AND note = ?",
            (NOTE_ACCEPTED,)).fetchone(), 15, "the acceptance on the alarm's timeline")
        assert db.execute("SELECT state FROM notifications WHERE phone = '13800000001'"
                          ).fetchall() == [("accepted",)]
    finally:
        db.close()
    prompts = await eventually(lambda: [p for p in json.loads(sim("h001", "prompts").stdout)
                                        if p["key"] == "contact_accepted"], 15, "the elder told")
    assert prompts[0]["text"] == "您的儿子王建国已收到，正在赶来"
    assert len(sent()) == 2  # nobody else texted: the cascade stopped

    bad = sim("modem", "reply", "12345", "1")
    assert bad.returncode == 2 and "a mainland mobile number" in bad.stderr.splitlines()[-1]
