"""``anxin walktest``: guide the installer through every device of the home, then print and
save the commissioning report.

It puts the running hub in walk-test mode through its control socket (hub/control.py), so
each device the installer works shows at the station as a walk-test event, not an alarm.
For each check of :func:`hub.walktest_plan.plan` it says what to do and waits for the hub
to see it (``s`` skips, ``r`` starts the wait again, ``q`` stops the walk); then the
speaker (the installer answers y/n), the microphone (a tone through the air,
hub/walktest_tone.py) and the station's round trip. The report goes to
``data_dir/commissioning/`` as text and JSON, and its summary to the station.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TextIO

from hub import control, simctl
from hub.config import HubConfig, load_hub_config
from hub.simctl import SimError
from hub.walktest_audio import Air, AudioError, SimulatedRoom, SoundCard
from hub.walktest_mode import DEFAULT_MINUTES, MAX_MINUTES
from hub.walktest_plan import judge, matches, plan
from hub.walktest_report import Check, Overall, Report, Result, Status
from hub.walktest_tone import MIN_SNR_DB, detect, tone

POLL_S = 0.2  # how often the hub is asked what it has seen
DEFAULT_TIMEOUT_S = 120.0
CONTROL_TIMEOUT_S = 10.0  # one control-socket call (a ping waits longer: its own timeout)
KEYS = "keys: s + Enter skips a device, r + Enter waits for it again, q + Enter ends the walk"


class Hub(Protocol):
    """The running hub as the walk needs it; :class:`SocketHub` is the real one."""

    def start(self, minutes: float, installer: str) -> dict[str, Any]: ...
    def events(self, cursor: int) -> dict[str, Any]: ...
    def speaker(self) -> str: ...
    def ping(self, timeout_s: float) -> float | None: ...
    def report(self, summary: dict[str, Any]) -> None: ...
    def stop(self) -> None: ...


class SocketHub:
    """The hub of ``cfg`` through its control socket; SimError says what went wrong."""

    def __init__(self, cfg: HubConfig) -> None:
        self.cfg = cfg

    def _call(self, command: str, timeout: float = CONTROL_TIMEOUT_S) -> Any:
        return control.call(self.cfg, command, timeout)

    def start(self, minutes: float, installer: str) -> dict[str, Any]:
        return dict(self._call(f"walktest start {minutes:g} {installer}"))

    def events(self, cursor: int) -> dict[str, Any]:
        return dict(self._call(f"walktest events {cursor}"))

    def speaker(self) -> str:
        return str(self._call("walktest speaker")["text"])

    def ping(self, timeout_s: float) -> float | None:
        rtt = self._call(f"walktest ping {timeout_s:g}", timeout_s + CONTROL_TIMEOUT_S)["rtt_ms"]
        return None if rtt is None else float(rtt)

    def report(self, summary: dict[str, Any]) -> None:
        self._call(report_command(summary))

    def stop(self) -> None:
        self._call("walktest stop")


def report_command(summary: dict[str, Any]) -> str:
    """The control command that carries the summary: problem lines are left out from the end
    until it fits the socket's line (the saved report has them all)."""
    while True:
        line = "walktest report " + json.dumps(summary, ensure_ascii=False)
        if len(line.encode()) < simctl.MAX_LINE or not summary.get("problems"):
            return line
        summary = {**summary, "problems": summary["problems"][:-1]}


class Keys:
    """Lines the installer types, read on a thread so waiting for a device is never blocked."""

    def __init__(self, stream: TextIO) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._closed = False
        threading.Thread(target=self._read, args=(stream,), name="walktest keys", daemon=True).start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            self._lines.put(line.strip().lower())
        self._lines.put(None)

    def get(self, timeout: float) -> str | None:
        """The next line typed, or None after ``timeout`` (at once, after the input ended)."""
        if self._closed:
            time.sleep(timeout)
            return None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        self._closed = line is None
        return line


class KeySource(Protocol):
    def get(self, timeout: float) -> str | None: ...


class _Stop(Exception):
    """The walk ends early; the message says why (the rest of the checks are not tested)."""


class Walk:
    def __init__(self, cfg: HubConfig, hub: Hub, keys: KeySource, air: Air, *,
                 out: Callable[[str], None], timeout_s: float = DEFAULT_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg, self.hub, self.keys, self.air, self.out = cfg, hub, keys, air, out
        self.timeout_s, self.clock = timeout_s, clock
        self._cursor = 0

    def run(self, installer: str, minutes: float) -> Report:
        """The whole walk; the hub's walk-test mode is ended whatever happens."""
        info = self.hub.start(minutes, installer)
        started = time.time()
        try:
            results = self._walk(info, minutes)
        except BaseException:  # Ctrl-C: the home must not stay in walk-test mode
            self._quietly(self.hub.stop, "end walk-test mode")
            raise
        report = Report(hub=str(info["hub"]), version=str(info["version"]), installer=installer,
                        started=started, finished=time.time(), tz=self.cfg.tz, results=results)
        self._quietly(lambda: self.hub.report(report.summary()), "send the report's summary "
                      "to the station")
        self._quietly(self.hub.stop, "end walk-test mode")
        return report

    def _walk(self, info: dict[str, Any], minutes: float) -> list[Result]:
        self._cursor = int(info["cursor"])
        checks = plan(self.cfg)
        self.out(f"Walk test of hub {info['hub']} (anxin {info['version']}). Walk-test mode is on "
                 f"for {minutes:g} min: the station shows each device as 测试 (walk test), not as "
                 "an alarm.")
        for a in info.get("open_alarms", []):
            self.out(f"note: the hub has an open {a['kind']} alarm ({a['state']}); it stays with "
                     "the station")
        self.out(KEYS)
        results: list[Result] = []
        try:
            for i, check in enumerate(checks, 1):
                self.out(f"[{i}/{len(checks)}] {check.device} {check.what}: {check.label}: "
                         f"{check.instruction}" + (" (optional)" if check.optional else ""))
                result = self._check(check)
                self.out(f"      -> {result.status.value}"
                         + (f": {result.detail}" if result.detail else ""))
                results.append(result)
        except _Stop as e:
            self.out(f"the walk ended early: {e}")
            results += [Result(c, Status.NOT_TESTED, str(e)) for c in checks[len(results):]]
        return results

    def _quietly(self, fn: Callable[[], None], what: str) -> None:
        try:
            fn()
        except SimError as e:
            self.out(f"warning: could not {what}: {e}")

    def _check(self, check: Check) -> Result:
        try:
            if check.what == "speaker":
                return self._speaker(check)
            if check.what == "microphone":
                return self._microphone(check)
            if check.what == "station":
                return self._station(check)
            return self._device(check)
        except SimError as e:  # the hub went away (restarted, stopped)
            raise _Stop(f"lost the hub: {e}") from None

    def _device(self, check: Check) -> Result:
        started = self.clock()
        also: set[tuple[str, str]] = set()
        while True:
            seen = self.hub.events(self._cursor)
            self._cursor = int(seen["cursor"])
            for ev in seen["events"]:
                if matches(check, ev):
                    return judge(check, ev, self.clock() - started, self.cfg.ble.battery_low_percent)
                if (ev["source"], ev["kind"]) not in also:
                    also.add((ev["source"], ev["kind"]))
                    self.out(f"      (also seen: {ev['source']} {ev['kind']})")
            if not seen["active"]:
                raise _Stop("walk-test mode ended (its time ran out, or the hub restarted)")
            key = self.keys.get(POLL_S)
            if key == "s":
                return Result(check, Status.SKIPPED, "skipped by the installer")
            if key == "q":
                raise _Stop("stopped by the installer")
            if key == "r":
                started = self.clock()
                self.out(f"      waiting again: {check.instruction}")
            if self.clock() - started >= self.timeout_s:
                return Result(check, Status.NOT_SEEN, f"nothing within {self.timeout_s:g} s")

    def _speaker(self, check: Check) -> Result:
        while True:
            said = self.hub.speaker()
            self.out(f'      the hub says "{said}". Did you hear it? y/n (r: say it again)')
            key = self.keys.get(self.timeout_s)
            if key == "y":
                return Result(check, Status.PASSED, f'heard "{said}"')
            if key == "n":
                return Result(check, Status.FAILED, "not heard: check the speaker, its wiring and volume")
            if key == "q":
                raise _Stop("stopped by the installer")
            if key is None or key == "s":
                return Result(check, Status.SKIPPED, "no answer" if key is None else
                              "skipped by the installer")

    def _microphone(self, check: Check) -> Result:
        if why := self.air.unavailable():
            return Result(check, Status.NOT_TESTED, f"{why} (see anxin doctor)")
        rate = self.air.rate
        try:
            heard = detect(self.air.playrec(tone(rate)), rate)
        except AudioError as e:
            return Result(check, Status.FAILED, f"audio error: {e}")
        room = " (simulated room)" if isinstance(self.air, SimulatedRoom) else ""
        if heard.heard:
            return Result(check, Status.PASSED, f"tone heard at {heard.level_dbfs:.0f} dBFS, "
                          f"{heard.snr_db:.0f} dB above the room{room}")
        return Result(check, Status.FAILED, f"tone not heard ({heard.snr_db:.0f} dB above the room, "
                      f"{MIN_SNR_DB:.0f} needed): check the microphone and the speaker{room}")

    def _station(self, check: Check) -> Result:
        rtt = self.hub.ping(self.timeout_s)
        if rtt is None:
            return Result(check, Status.FAILED, f"no acknowledgement within {self.timeout_s:g} s: "
                          "is the station reachable? (see anxin doctor)")
        return Result(check, Status.PASSED, f"acknowledged after {rtt:.1f} ms", rtt_ms=rtt)


def save(report: Report, folder: Path) -> list[Path]:
    """The report as text and JSON, named for the hub and the time: nothing is overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"walktest-{report.hub}-{report.local(report.finished, '%Y%m%d-%H%M%S')}"
    paths = [folder / f"{stem}.txt", folder / f"{stem}.json"]
    paths[0].write_text(report.text(), encoding="utf-8")
    paths[1].write_text(report.json(), encoding="utf-8")
    return paths


def cmd_walktest(a: argparse.Namespace) -> int:
    cfg = load_hub_config(a.config)
    if not 0 < a.minutes <= MAX_MINUTES or a.timeout_s <= 0:
        print(f"anxin walktest: --minutes must be more than 0 and at most {MAX_MINUTES:g}, "
              "--timeout-s more than 0", file=sys.stderr)
        return 2

    def out(line: str) -> None:
        print(line, flush=True)

    air: Air = SimulatedRoom() if cfg.simulated else SoundCard(cfg.speaker.input, cfg.speaker.output)
    walk = Walk(cfg, SocketHub(cfg), Keys(sys.stdin), air, out=out, timeout_s=a.timeout_s)
    try:
        report = walk.run(a.installer, a.minutes)
    except SimError as e:
        print(f"anxin walktest: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("anxin walktest: interrupted; walk-test mode is off, no report written", file=sys.stderr)
        return 130
    out("")
    out(report.text())
    folder = cfg.data_dir / "commissioning"
    try:
        paths = save(report, folder)
    except OSError as e:
        print(f"anxin walktest: cannot save the report in {folder} ({e.strerror}); run it as the "
              "hub's user or with sudo", file=sys.stderr)
        return 2
    out("report saved: " + ", ".join(str(p) for p in paths))
    return 0 if report.overall is Overall.PASS else 1


def register(sub: Any) -> None:
    s = sub.add_parser("walktest", help="walk-test every device of a home and write the "
                       "commissioning report",
                       description="Put the running hub in walk-test mode (its devices' events "
                       "reach the station as walk tests, not alarms), guide the installer through "
                       "every device in hub.yaml, then the speaker, the microphone and the "
                       "station's round trip, and save the commissioning report under "
                       "data_dir/commissioning/. Exit code 0 only if everything passed.")
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/hub.yaml"))
    s.add_argument("--installer", default="", help="your name, for the report")
    s.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                   help=f"walk-test mode ends by itself after this long (at most {MAX_MINUTES:g})")
    s.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S,
                   help="how long to wait for each device before it counts as not seen")
    s.set_defaults(fn=cmd_walktest)
