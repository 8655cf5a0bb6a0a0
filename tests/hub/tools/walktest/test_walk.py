"""The walk itself, on its pure parts and a stand-in hub: the plan's order, what passes a check,
the installer's keys (skip, retry, quit), the speaker's y/n, the microphone through a
simulated room, the station's round trip, the commissioning report, a retry of what did not
pass, and the installer's language (zh_CN unless told)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.common.linejson import MAX_LINE, SimError
from hub.runtime.config import HubConfig
from hub.tools.walktest.audio import SimulatedRoom
from hub.tools.walktest.plan import judge, plan
from hub.tools.walktest.report import Check, Overall, Report, Result, Status, earlier, retried
from hub.tools.walktest.walk import POLL_S, Walk, last_report, report_command, save
from hub.tools.words import WORDS, Words
from tests.support.home import home_config

# what each check's device sends when the installer does what is asked
EVENTS: dict[tuple[str, str], dict[str, Any]] = {
    ("bedside", "button"): {"kind": "button.press"},
    ("cord", "cord"): {"kind": "button.press"},
    ("cancel", "cancel"): {"kind": "cancel.press"},
    ("pendant", "button"): {"kind": "button.press", "rssi": -71},
    ("kitchen_smoke", "smoke"): {"kind": "smoke.on", "rssi": -60, "battery": 90},
    ("kitchen_gas", "gas"): {"kind": "gas.on", "rssi": -93, "battery": 80},
    ("front_door", "door"): {"kind": "door.close", "rssi": -50, "battery": 77},
    ("bath_leak", "leak"): {"kind": "leak.on", "rssi": -66, "battery": 60},
    ("radar", "presence"): {"kind": "presence.on"},
    ("radar", "fall"): {"kind": "fall.detected"},
    ("mains", "mains-off"): {"kind": "mains.fail"},
    ("mains", "mains-on"): {"kind": "mains.ok"},
}
ASKED = re.compile(r"^\[(\d+)/\d+\] ")
ZH, EN = Words("zh_CN"), Words("en")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Keys:
    """The installer's answers: a key per check (device, what), else nothing typed; waiting
    for a key moves the fake clock on by the wait."""

    def __init__(self, clock: Clock, answers: dict[tuple[str, str], list[str | None]]) -> None:
        self.clock, self.answers = clock, answers
        self.asked: tuple[str, str] | None = None

    def get(self, timeout: float) -> str | None:
        queued = self.answers.get(self.asked or ("", ""), [])
        key = queued.pop(0) if queued else None
        if key is None:
            self.clock.t += timeout
        return key


class StandInHub:
    """The control socket's answers, from a script: the devices the installer works."""

    def __init__(self, works: set[tuple[str, str]], *, rtt: float | None = 12.5,
                 ends_after: int | None = None) -> None:
        self.works, self.rtt, self.ends_after = works, rtt, ends_after
        self.pending: list[dict[str, Any]] = []
        self.n = 0
        self.polls = 0
        self.said = 0
        self.summaries: list[dict[str, Any]] = []
        self.stopped = False
        self.lost = False

    def asked(self, device: str, what: str) -> None:
        if (device, what) in self.works:
            self.n += 1
            self.pending.append({"n": self.n, "source": device, **EVENTS[(device, what)]})

    def start(self, minutes: float, installer: str) -> dict[str, Any]:
        return {"hub": "h001", "version": "9.9", "cursor": 0, "until": 0.0, "open_alarms": []}

    def events(self, cursor: int) -> dict[str, Any]:
        if self.lost:
            raise SimError("no hub control socket listening on control.sock")
        self.polls += 1
        out, self.pending = [e for e in self.pending if e["n"] > cursor], []
        active = self.ends_after is None or self.polls <= self.ends_after
        return {"active": active, "cursor": self.n, "events": out}

    def speaker(self) -> str:
        self.said += 1
        return "这是扬声器测试"

    def ping(self, timeout_s: float) -> float | None:
        return self.rtt

    def report(self, summary: dict[str, Any]) -> None:
        json.dumps(summary)  # it must travel as JSON
        self.summaries.append(summary)

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def cfg(tmp_path: Path) -> HubConfig:
    return home_config(tmp_path)


def walk(cfg: HubConfig, hub: StandInHub, answers: dict[tuple[str, str], list[str | None]],
         air: SimulatedRoom | None = None, timeout_s: float = 5.0,
         asked_at: dict[str, float] | None = None, words: Words = EN,
         before: list[Result] | None = None) -> tuple[Report, list[str]]:
    """Walk with the stand-in hub (``before``: retry that report's results); ``asked_at``:
    the fake clock when each device was asked."""
    clock, lines = Clock(), []
    keys = Keys(clock, answers)
    todo = retried(before or [], plan(cfg, words))[0]  # [i/n] is the i-th of these

    def out(line: str) -> None:
        lines.append(line)
        if m := ASKED.match(line):
            check = todo[int(m[1]) - 1]
            keys.asked = check.key
            hub.asked(*check.key)
            if asked_at is not None:
                asked_at[" ".join(check.key)] = clock.t

    w = Walk(cfg, hub, keys, air or SimulatedRoom(), out=out, words=words, timeout_s=timeout_s,
             clock=clock)
    return w.run("王工", 30, before=before, retry_of="walktest-h001-1.json" if before else ""), lines


def statuses(report: Report) -> dict[tuple[str, str], Status]:
    return {(r.check.device, r.check.what): r.status for r in report.results}


def test_the_plan_walks_buttons_then_room_by_room_then_the_hub(cfg: HubConfig) -> None:
    assert [c.key for c in plan(cfg, EN)] == [
        ("bedside", "button"), ("cord", "cord"), ("cancel", "cancel"), ("pendant", "button"),
        ("kitchen_smoke", "smoke"), ("kitchen_gas", "gas"), ("front_door", "door"),
        ("bath_leak", "leak"), ("radar", "presence"), ("radar", "fall"), ("mains", "mains-off"),
        ("mains", "mains-on"), ("hub", "speaker"), ("hub", "microphone"), ("hub", "station")]
    assert [c.device for c in plan(cfg, EN) if c.optional] == ["radar"]  # the fall


def test_each_device_is_named_by_its_kind_and_place_and_asked_for_what_suits_it(
        cfg: HubConfig) -> None:
    """Never `cancel cancel:` or "press it" for a pull cord: the kind of device with its
    location or room from hub.yaml, and a verb for that kind, in the installer's language."""
    asked = {c.key: (c.label, c.instruction) for c in plan(cfg, ZH)}
    assert asked[("bedside", "button")] == ("呼叫按钮（卧室床头）", "按一下")
    assert asked[("cord", "cord")] == ("拉绳（卫生间拉绳）", "拉一下拉绳")
    assert asked[("cancel", "cancel")] == ("取消键", "按一下")
    assert asked[("pendant", "button")] == ("无线按钮", "按一下")
    assert asked[("kitchen_smoke", "smoke")] == ("烟感（厨房）", "按住测试键，直到它响")
    assert asked[("front_door", "door")] == ("门磁（门厅）", "开门再关上")
    assert asked[("bath_leak", "leak")][0] == "水浸传感器（卫生间）"
    assert asked[("radar", "fall")][0] == "雷达（卧室）"  # as the installer sees it: no model
    assert asked[("mains", "mains-off")] == ("市电输入（UPS 供电信号）",
                                             "拔掉终端的电源适配器；UPS 让终端继续运行")
    english = {c.key: (c.label, c.instruction) for c in plan(cfg, EN)}
    assert english[("bedside", "button")] == ("call button at 卧室床头", "press it")
    assert english[("cord", "cord")] == ("pull cord at 卫生间拉绳", "pull the cord")
    assert english[("kitchen_smoke", "smoke")][0] == "smoke detector in 厨房"
    assert english[("front_door", "door")][1] == "open the door, then close it"

    _, lines = walk(cfg, StandInHub(set(EVENTS)), {("hub", "speaker"): ["y"]}, words=ZH)
    steps = [line for line in lines if ASKED.match(line)]
    assert steps[:3] == ["[1/15] 呼叫按钮（卧室床头）：按一下", "[2/15] 拉绳（卫生间拉绳）：拉一下拉绳",
                         "[3/15] 取消键：按一下"]
    assert not any(re.match(r"\[\d+/\d+\] (\w+) \1", line) for line in steps)  # `cancel cancel`


def test_words_come_in_both_languages_with_the_same_blanks() -> None:
    blanks = re.compile(r"{(\w+)")
    for key, texts in WORDS.items():
        assert set(texts) == {"zh_CN", "en"}, key
        assert set(blanks.findall(texts["zh_CN"])) == set(blanks.findall(texts["en"])), key


def test_a_low_battery_fails_and_a_weak_signal_warns(cfg: HubConfig) -> None:
    smoke = next(c for c in plan(cfg, EN) if c.what == "smoke")
    low = judge(smoke, {"kind": "smoke.on", "rssi": -60, "battery": 15}, 2.0, 15, EN)
    assert low.status is Status.FAILED and "replace it" in low.detail
    weak = judge(smoke, {"kind": "smoke.on", "rssi": -95, "battery": 16}, 2.0, 15, EN)
    assert weak.status is Status.PASSED and "weak signal" in weak.detail
    assert (weak.rssi, weak.battery, weak.seconds) == (-95, 16, 2.0)
    low = judge(smoke, {"kind": "smoke.on", "rssi": -60, "battery": 15}, 2.0, 15, ZH)
    assert low.detail == "2.0 秒后收到（smoke.on）；信号 -60 dBm；电量 15%：电量不高于 15%，请更换电池"


def test_everything_worked_passes_and_the_station_gets_the_summary(cfg: HubConfig,
                                                                   tmp_path: Path) -> None:
    hub = StandInHub(set(EVENTS))
    report, _ = walk(cfg, hub, {("hub", "speaker"): ["y"]})
    got = statuses(report)
    assert got.pop(("kitchen_gas", "gas")) is Status.PASSED  # RSSI -93: a warning only
    assert set(got.values()) == {Status.PASSED}
    assert report.overall is Overall.PASS and report.station_rtt_ms == 12.5
    assert hub.stopped and hub.summaries == [report.summary()]
    assert hub.summaries[0]["result"] == "PASS" and hub.summaries[0]["problems"] == []
    mic = next(r for r in report.results if r.check.what == "microphone")
    assert "dB above the room (simulated room)" in mic.detail

    text = report.text()
    assert "hub:        h001" in text and "installer:  王工" in text
    assert "station round trip: 12.5 ms" in text and text.rstrip().endswith("result: PASS (15 passed)")
    assert re.search(r" 5  kitchen_smoke\s+smoke\s+passed\s+smoke detector in 厨房: seen after", text)
    txt, js = save(report, tmp_path / "commissioning")
    assert txt.read_text(encoding="utf-8") == text
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["result"] == "PASS" and data["hub"] == "h001" and data["version"] == "9.9"
    smoke = data["checks"][4]
    assert {k: smoke[k] for k in ("device", "check", "status", "rssi", "battery")} == {
        "device": "kitchen_smoke", "check": "smoke", "status": "passed", "rssi": -60, "battery": 90}
    assert smoke["detail"] == "seen after 0.0 s (smoke.on); RSSI -60 dBm; battery 90 %"


def test_not_seen_skipped_and_retried(cfg: HubConfig) -> None:
    hub = StandInHub(set(EVENTS) - {("front_door", "door"), ("radar", "fall"), ("bath_leak", "leak")})
    at: dict[str, float] = {}
    report, lines = walk(cfg, hub, {("radar", "fall"): ["s"], ("hub", "speaker"): ["y"],
                                    ("bath_leak", "leak"): [None, None, "r"]}, timeout_s=1.0,
                         asked_at=at)
    got = statuses(report)
    assert got[("front_door", "door")] is Status.NOT_SEEN
    assert got[("radar", "fall")] is Status.SKIPPED  # optional: does not count against
    assert got[("bath_leak", "leak")] is Status.NOT_SEEN
    assert "      waiting again: wet its probes (a damp cloth across them)" in lines
    door = next(r for r in report.results if r.check.device == "front_door")
    assert door.detail == "nothing within 1 s"
    assert report.overall is Overall.FAIL
    assert hub.summaries[0]["problems"] == [
        "door sensor in 门厅: not seen (nothing within 1 s)",
        "water-leak sensor in 卫生间: not seen (nothing within 1 s)"]
    assert hub.summaries[0]["not_passed"] == [  # for the station to word
        {"device": "front_door", "check": "door", "where": "门厅", "status": "not seen"},
        {"device": "bath_leak", "check": "leak", "where": "卫生间", "status": "not seen"}]
    # the door waited its 1 s; the leak sensor 0.4 s, then r, then 1 s again
    assert at["bath_leak leak"] - at["front_door door"] == pytest.approx(1.0)
    assert at["radar presence"] - at["bath_leak leak"] == pytest.approx(2 * POLL_S + 1.0)


def test_an_optional_step_nobody_triggers_is_not_tested_and_the_home_still_passes(
        cfg: HubConfig) -> None:
    """Nobody can be made to fall: the fall check waits its time, then is "not tested
    (optional)", and the home passes. A required device that times out still fails it."""
    hub = StandInHub(set(EVENTS) - {("radar", "fall")})
    report, lines = walk(cfg, hub, {("hub", "speaker"): ["y"]}, timeout_s=2.0)
    fall = next(r for r in report.results if r.check.what == "fall")
    assert fall.status is Status.NOT_TESTED
    # the radar's model is in the details, not in its label
    assert fall.detail == ("nothing within 2 s; optional: it does not count against the result; "
                           "model mr60fda1")
    assert "      -> not tested: nothing within 2 s; optional: it does not count against the " \
           "result; model mr60fda1" in lines
    assert report.overall is Overall.PASS
    assert hub.summaries[0]["result"] == "PASS" and hub.summaries[0]["not_passed"] == []
    assert re.search(r"10  radar\s+fall \(optional\)\s+not tested\s+radar in 卧室: nothing within ",
                     report.text())
    assert report.text().rstrip().endswith("result: PASS (14 passed, 1 not tested)")

    hub = StandInHub(set(EVENTS) - {("radar", "presence")})  # required: not seen fails
    report, _ = walk(cfg, hub, {("hub", "speaker"): ["y"]}, timeout_s=2.0)
    assert statuses(report)[("radar", "presence")] is Status.NOT_SEEN
    assert report.overall is Overall.FAIL


def test_retry_walks_only_what_did_not_pass_and_says_which_attempt_passed(
        cfg: HubConfig, tmp_path: Path) -> None:
    """The door timed out (a flat battery, replaced since): `--retry` walks the door alone,
    carries the rest on, and the report says the door passed at the second attempt."""
    first, _ = walk(cfg, StandInHub(set(EVENTS) - {("front_door", "door"), ("radar", "fall")}),
                    {("hub", "speaker"): ["y"]}, timeout_s=1.0)
    assert first.overall is Overall.FAIL
    _, saved = save(first, tmp_path)
    before = earlier(json.loads(saved.read_text(encoding="utf-8")), plan(cfg, EN))
    assert len(before) == 15 and [r.check.key for r in before if not r.settled] == [
        ("front_door", "door")]  # the fall, optional and not triggered, is not walked again

    hub = StandInHub(set(EVENTS))
    at: dict[str, float] = {}
    report, lines = walk(cfg, hub, {}, asked_at=at, before=before)
    assert list(at) == ["front_door door"]  # nothing else asked for: no speaker y/n either
    assert "[1/1] door sensor in 门厅: open the door, then close it" in lines
    assert lines[0] == ("Retrying the 1 check(s) of walktest-h001-1.json that did not pass; "
                        "the passed ones stand.")
    assert report.overall is Overall.PASS and hub.summaries[0]["attempt"] == 2
    assert [(r.check.key, r.attempt) for r in report.results if r.attempt == 2] == [
        (("front_door", "door"), 2)]
    assert statuses(report) == statuses(first) | {("front_door", "door"): Status.PASSED}
    assert report.station_rtt_ms == 12.5  # carried on from the first walk
    text = report.text()
    assert "retry of:   walktest-h001-1.json" in text
    assert re.search(r" 7  front_door\s+door\s+passed \(attempt 2\)\s+door sensor in 门厅: seen", text)
    assert re.search(r" 1  bedside\s+button\s+passed \(attempt 1\)", text)
    data = report.data()
    assert data["retry_of"] == "walktest-h001-1.json"
    assert [c["attempt"] for c in data["checks"]].count(2) == 1


def test_the_walk_speaks_the_installers_language_zh_cn_unless_told(cfg: HubConfig) -> None:
    hub = StandInHub(set(EVENTS) - {("front_door", "door"), ("radar", "fall")})
    keys = Keys(Clock(), {})
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if m := ASKED.match(line):
            keys.asked = plan(cfg, ZH)[int(m[1]) - 1].key
            hub.asked(*keys.asked)
            if keys.asked == ("hub", "speaker"):
                keys.answers[keys.asked] = ["y"]

    report = Walk(cfg, hub, keys, SimulatedRoom(), out=out, timeout_s=1.0, clock=keys.clock).run(
        "王工", 30)  # hub.yaml's language: zh_CN, the default
    assert lines[:2] == [
        "终端 h001（anxin 9.9）安装测试。测试模式开启 30 分钟：服务站把每个设备显示为“测试”，不当作报警。",
        "按键：s 回车 跳过当前设备，r 回车 重新等待，q 回车 结束测试"]
    assert "[7/15] 门磁（门厅）：开门再关上" in lines and "      -> 未收到：1 秒内没有收到" in lines
    assert "      终端说：“这是扬声器测试”。听到了吗？y/n（r：再说一遍）" in lines
    text = report.text()
    assert text.startswith("安心 安装调试报告（安装测试）\n终端：      h001\n")
    assert re.search(r" 7  front_door\s+门磁\s+未收到\s+门磁（门厅）：1 秒内没有收到", text)
    assert re.search(r"10  radar\s+跌倒（可选）\s+未测试\s+雷达（卧室）：.*；型号 mr60fda1$", text, re.M)
    assert re.search(r" 9  radar\s+有人\s+通过\s+雷达（卧室）：.*（presence\.on）；型号 mr60fda1$", text,
                     re.M)
    assert text.rstrip().endswith("结果：未通过（通过 13，未收到 1，未测试 1）")
    assert hub.summaries[0]["problems"] == ["门磁（门厅）：未收到（1 秒内没有收到）"]
    # the columns line up on a terminal: a Chinese character takes two
    rows = [line for line in text.splitlines() if re.match(r"\s*\d+  ", line)]
    assert len({display_column(row, "  ", 3) for row in rows}) == 1


def display_column(row: str, sep: str, n: int) -> int:
    """Where the n-th column starts on a terminal."""
    from hub.tools.walktest.report import width

    parts = re.split(r"(?<=\S)  +(?=\S)", row.strip())
    return width(row[: row.index(parts[n], len(row) - len(row.lstrip()))])


def test_a_skipped_device_or_an_untested_microphone_leave_it_incomplete(cfg: HubConfig) -> None:
    report, _ = walk(cfg, StandInHub(set(EVENTS)), {("hub", "speaker"): ["s"]},
                     air=SimulatedRoom(device=False))
    got = statuses(report)
    assert got[("hub", "speaker")] is Status.SKIPPED
    mic = next(r for r in report.results if r.check.what == "microphone")
    assert (mic.status, mic.detail) == (Status.NOT_TESTED, "no audio device (see anxin doctor)")
    assert report.overall is Overall.INCOMPLETE


def test_speaker_not_heard_dead_microphone_and_no_station_fail(cfg: HubConfig) -> None:
    hub = StandInHub(set(EVENTS), rtt=None)
    report, _ = walk(cfg, hub, {("hub", "speaker"): ["r", "n"]}, air=SimulatedRoom(deaf=True))
    got = statuses(report)
    assert hub.said == 2  # r: said again
    assert got[("hub", "speaker")] is Status.FAILED
    assert got[("hub", "microphone")] is Status.FAILED
    assert got[("hub", "station")] is Status.FAILED
    station = next(r for r in report.results if r.check.what == "station")
    assert "is the station reachable?" in station.detail and report.station_rtt_ms is None


def test_q_ends_the_walk_and_the_rest_is_not_tested(cfg: HubConfig) -> None:
    hub = StandInHub(set(EVENTS) - {("front_door", "door")})  # the installer gives up there
    report, lines = walk(cfg, hub, {("front_door", "door"): [None, "q"]})
    got = list(statuses(report).items())
    assert got[6] == (("front_door", "door"), Status.NOT_TESTED)
    assert {s for _, s in got[6:]} == {Status.NOT_TESTED}
    assert {s for _, s in got[:6]} == {Status.PASSED}
    assert "the walk ended early: stopped by the installer" in lines and hub.stopped


def test_the_mode_running_out_or_the_hub_going_away_ends_the_walk(cfg: HubConfig) -> None:
    # the mode runs out while the installer looks for the cancel button
    report, _ = walk(cfg, StandInHub(set(EVENTS) - {("cancel", "cancel")}, ends_after=3), {})
    assert statuses(report)[("cord", "cord")] is Status.PASSED
    assert statuses(report)[("cancel", "cancel")] is Status.NOT_TESTED
    assert "walk-test mode ended" in report.results[-1].detail

    hub = StandInHub(set(EVENTS))
    hub.lost = True
    report, _ = walk(cfg, hub, {})
    assert {r.status for r in report.results} == {Status.NOT_TESTED}
    assert report.results[0].detail.startswith("lost the hub: no hub control socket")


def test_ctrl_c_still_ends_walk_test_mode(cfg: HubConfig) -> None:
    class Interrupt(Keys):
        def get(self, timeout: float) -> str | None:
            raise KeyboardInterrupt

    hub = StandInHub(set())
    w = Walk(cfg, hub, Interrupt(Clock(), {}), SimulatedRoom(), out=lambda line: None)
    with pytest.raises(KeyboardInterrupt):
        w.run("", 30)
    assert hub.stopped and not hub.summaries


def test_the_station_summary_stays_within_the_wire_bounds() -> None:
    from zoneinfo import ZoneInfo

    from hub.common import wire
    from hub.common.events import Event

    checks = [Check(f"s{i}", "smoke", "smoke detector in 厨房", "press it", where="厨房")
              for i in range(40)]
    results = [Result(c, Status.NOT_SEEN, "x" * 500) for c in checks]
    report = Report("h001", "1.0", "王工", 0.0, 60.0, ZoneInfo("Asia/Shanghai"), results)
    summary = report.summary()
    assert len(summary["problems"]) == 20 and all(len(p) == 200 for p in summary["problems"])
    assert len(summary["not_passed"]) == 20
    wire.event_msg("h001", Event(kind="walktest.report", source="hub", data=summary))  # valid
    # and it fits the control socket's line, in Chinese too (3 bytes a character): problem
    # lines go first, the checks that did not pass stay
    summary["problems"] = ["门" * 200] * 20
    line = report_command(summary)
    sent = json.loads(line.removeprefix("walktest report "))
    assert len(line.encode()) < MAX_LINE
    assert sent["not_passed"] == summary["not_passed"] and sent["problems"] == ["门" * 200] * 3
    assert report.overall is Overall.FAIL
    # long places: the problem lines all go, then checks from the end
    long = [Result(Check(f"s{i}", "smoke", "", "", where="门" * 100), Status.NOT_SEEN)
            for i in range(40)]
    summary = Report("h001", "1.0", "", 0.0, 60.0, ZoneInfo("Asia/Shanghai"), long).summary()
    assert {len(p["where"]) for p in summary["not_passed"]} == {64}
    line = report_command(summary)
    sent = json.loads(line.removeprefix("walktest report "))
    assert len(line.encode()) < MAX_LINE and sent["problems"] == []
    assert 0 < len(sent["not_passed"]) < 20 and sent["not_passed"] == summary["not_passed"][
        :len(sent["not_passed"])]


def test_the_command_speaks_hub_yaml_s_language_unless_told(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli.demo import demo_hub, write_yaml
    from hub.cli.main import main

    hub_yaml = write_yaml(tmp_path / "hub.yaml", demo_hub("h001", 0, 1883))  # language: zh_CN
    assert main(["walktest", "--config", str(hub_yaml), "--retry"]) == 2
    assert capsys.readouterr().err == (f"anxin walktest: {tmp_path}/commissioning 里没有终端 h001 的"
                                       "测试报告可重测；请先完整测试一遍\n")
    assert main(["walktest", "--config", str(hub_yaml), "--retry", "--lang", "en"]) == 2
    assert capsys.readouterr().err == (f"anxin walktest: no walk-test report of hub h001 in "
                                       f"{tmp_path}/commissioning to retry; walk the whole home "
                                       "first\n")
    (tmp_path / "commissioning").mkdir()
    (tmp_path / "commissioning" / "walktest-h001-20260101-000000.json").write_text("{}")
    assert main(["walktest", "--config", str(hub_yaml), "--retry", "--lang", "en"]) == 2
    assert capsys.readouterr().err.endswith("walktest-h001-20260101-000000.json: not a walk-test "
                                            "report (KeyError: 'checks')\n")


def test_two_reports_in_the_same_second_are_both_kept(cfg: HubConfig, tmp_path: Path) -> None:
    """A quick `--retry` finishes within the second of the walk before: neither report is lost,
    and the newer is the one `last_report` finds."""
    report, _ = walk(cfg, StandInHub(set(EVENTS)), {("hub", "speaker"): ["y"]})
    _, first = save(report, tmp_path)
    _, second = save(report, tmp_path)
    assert first != second and first.exists() and second.exists()
    assert last_report(tmp_path, "h001") == second
