"""The walk itself, on its pure parts and a stand-in hub: the plan's order, what passes a check,
the installer's keys (skip, retry, quit), the speaker's y/n, the microphone through a
simulated room, the station's round trip, and the commissioning report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.config import HubConfig
from hub.simctl import MAX_LINE, SimError
from hub.walktest import POLL_S, Walk, report_command, save
from hub.walktest_audio import SimulatedRoom
from hub.walktest_plan import judge, plan
from hub.walktest_report import Check, Overall, Report, Result, Status
from tests.test_hub_senses import home_config

# what each check's device sends when the installer does what is asked
EVENTS: dict[tuple[str, str], dict[str, Any]] = {
    ("bedside", "button"): {"kind": "button.press"},
    ("cord", "button"): {"kind": "button.press"},
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
ASKED = re.compile(r"^\[\d+/\d+\] (\S+) (\S+):")


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
         asked_at: dict[str, float] | None = None) -> tuple[Report, list[str]]:
    """Walk with the stand-in hub; ``asked_at``: the fake clock when each device was asked."""
    clock, lines = Clock(), []
    keys = Keys(clock, answers)

    def out(line: str) -> None:
        lines.append(line)
        if m := ASKED.match(line):
            keys.asked = (m[1], m[2])
            hub.asked(m[1], m[2])
            if asked_at is not None:
                asked_at[f"{m[1]} {m[2]}"] = clock.t

    w = Walk(cfg, hub, keys, air or SimulatedRoom(), out=out, timeout_s=timeout_s, clock=clock)
    return w.run("王工", 30), lines


def statuses(report: Report) -> dict[tuple[str, str], Status]:
    return {(r.check.device, r.check.what): r.status for r in report.results}


def test_the_plan_walks_buttons_then_room_by_room_then_the_hub(cfg: HubConfig) -> None:
    assert [(c.device, c.what) for c in plan(cfg)] == [
        ("bedside", "button"), ("cord", "button"), ("cancel", "cancel"), ("pendant", "button"),
        ("kitchen_smoke", "smoke"), ("kitchen_gas", "gas"), ("front_door", "door"),
        ("bath_leak", "leak"), ("radar", "presence"), ("radar", "fall"), ("mains", "mains-off"),
        ("mains", "mains-on"), ("hub", "speaker"), ("hub", "microphone"), ("hub", "station")]
    labels = {c.device: c.label for c in plan(cfg)}
    assert labels["bedside"] == "call button at 卧室床头"
    assert labels["kitchen_smoke"] == "smoke detector in 厨房"
    assert [c.device for c in plan(cfg) if c.optional] == ["radar"]  # the fall


def test_a_low_battery_fails_and_a_weak_signal_warns(cfg: HubConfig) -> None:
    smoke = next(c for c in plan(cfg) if c.what == "smoke")
    low = judge(smoke, {"kind": "smoke.on", "rssi": -60, "battery": 15}, 2.0, 15)
    assert low.status is Status.FAILED and "replace it" in low.detail
    weak = judge(smoke, {"kind": "smoke.on", "rssi": -95, "battery": 16}, 2.0, 15)
    assert weak.status is Status.PASSED and "weak signal" in weak.detail
    assert (weak.rssi, weak.battery, weak.seconds) == (-95, 16, 2.0)


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
    assert hub.summaries[0]["problems"] == ["front_door door: not seen (nothing within 1 s)",
                                            "bath_leak leak: not seen (nothing within 1 s)"]
    # the door waited its 1 s; the leak sensor 0.4 s, then r, then 1 s again
    assert at["bath_leak leak"] - at["front_door door"] == pytest.approx(1.0)
    assert at["radar presence"] - at["bath_leak leak"] == pytest.approx(2 * POLL_S + 1.0)


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
    assert statuses(report)[("cord", "button")] is Status.PASSED
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

    from hub import wire
    from hub.events import Event

    checks = [Check(f"s{i}", "smoke", "smoke detector in 厨房", "press it") for i in range(40)]
    results = [Result(c, Status.NOT_SEEN, "x" * 500) for c in checks]
    report = Report("h001", "1.0", "王工", 0.0, 60.0, ZoneInfo("Asia/Shanghai"), results)
    summary = report.summary()
    assert len(summary["problems"]) == 20 and all(len(p) == 200 for p in summary["problems"])
    wire.event_msg("h001", Event(kind="walktest.report", source="hub", data=summary))  # valid
    # and it fits the control socket's line, in Chinese too (3 bytes a character)
    summary["problems"] = ["门" * 200] * 20
    line = report_command(summary)
    assert len(line.encode()) < MAX_LINE
    assert json.loads(line.removeprefix("walktest report "))["problems"] == ["门" * 200] * 6
    assert report.overall is Overall.FAIL
