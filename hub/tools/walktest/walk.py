"""``anxin walktest``: guide the installer through every device of the home, then print and
save the commissioning report.

It puts the running hub in walk-test mode through its control socket (hub/runtime/control.py), so
each device the installer works shows at the station as a walk-test event, not an alarm.
For each check of :func:`hub.tools.walktest.plan.plan` it says what to do and waits for the hub
to see it (``s`` skips, ``r`` starts the wait again, ``q`` stops the walk); then the
speaker (the installer answers y/n), the microphone (a tone through the air,
hub/tools/walktest/tone.py) and the station's round trip. The report goes to
``data_dir/commissioning/`` as text and JSON, and its summary to the station. ``--retry``
walks again only what kept the last report from passing (a device that timed out, a flat
battery replaced) and carries the rest of it on. It speaks the installer's language
(hub/tools/words.py): hub.yaml's ``language``, or ``--lang``.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TextIO

from hub.common import linejson
from hub.common.argtypes import number
from hub.common.linejson import SimError
from hub.runtime import control
from hub.runtime.config import HubConfig, load_hub_config
from hub.runtime.walktest_mode import DEFAULT_MINUTES, MAX_MINUTES
from hub.tools.walktest.audio import NO_DEVICE, Air, AudioError, SimulatedRoom, SoundCard
from hub.tools.walktest.plan import judge, matches, plan, with_model
from hub.tools.walktest.report import Check, Overall, Report, Result, Status, earlier, merged, retried
from hub.tools.walktest.tone import MIN_SNR_DB, detect, tone
from hub.tools.words import Words

POLL_S = 0.2  # how often the hub is asked what it has seen
DEFAULT_TIMEOUT_S = 120.0
CONTROL_TIMEOUT_S = 10.0  # one control-socket call (a ping waits longer: its own timeout)


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
    """The control command that carries the summary: problem lines, then the checks that did
    not pass, are left out from the end until it fits the socket's line (the saved report has
    them all)."""
    while True:
        line = "walktest report " + json.dumps(summary, ensure_ascii=False)
        cut = next((k for k in ("problems", "not_passed") if summary.get(k)), None)
        if len(line.encode()) < linejson.MAX_LINE or cut is None:
            return line
        summary = {**summary, cut: summary[cut][:-1]}


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
                 out: Callable[[str], None], words: Words | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg, self.hub, self.keys, self.air, self.out = cfg, hub, keys, air, out
        self.words = words or Words(cfg.language)
        self.checks = plan(cfg, self.words)
        self.timeout_s, self.clock = timeout_s, clock
        self._cursor = 0

    def run(self, installer: str, minutes: float, *, before: list[Result] | None = None,
            retry_of: str = "") -> Report:
        """The whole walk, or with ``before`` (the results of the report ``retry_of``) only its
        checks that did not pass; the hub's walk-test mode is ended whatever happens."""
        w = self.words
        todo, attempt = retried(before or [], self.checks)
        info = self.hub.start(minutes, installer)
        started = time.time()
        try:
            if retry_of:
                self.out(w("retrying", report=retry_of, n=len(todo)))
            walked = self._walk(info, minutes, todo, attempt)
        except BaseException:  # Ctrl-C: the home must not stay in walk-test mode
            self._quietly(self.hub.stop, w("end_mode"))
            raise
        report = Report(hub=str(info["hub"]), version=str(info["version"]), installer=installer,
                        started=started, finished=time.time(), tz=self.cfg.tz,
                        results=merged(before or [], walked, self.checks),
                        language=w.language, retry_of=retry_of)
        self._quietly(lambda: self.hub.report(report.summary()), w("send_summary"))
        self._quietly(self.hub.stop, w("end_mode"))
        return report

    def _walk(self, info: dict[str, Any], minutes: float, checks: list[Check],
              attempt: int) -> list[Result]:
        w = self.words
        self._cursor = int(info["cursor"])
        self.out(w("intro", hub=info["hub"], version=info["version"], minutes=f"{minutes:g}"))
        for a in info.get("open_alarms", []):
            self.out(w("open_alarm", kind=a["kind"], state=a["state"]))
        self.out(w("keys"))
        results: list[Result] = []
        try:
            for i, check in enumerate(checks, 1):
                self.out(w("step", i=i, n=len(checks), label=check.label,
                           instruction=check.instruction,
                           optional=w("optional") if check.optional else ""))
                result = replace(with_model(self._check(check), w), attempt=attempt)
                status = w(f"status_{result.status.value}")
                self.out(w("outcome_detail", status=status, detail=result.detail) if result.detail
                         else w("outcome", status=status))
                results.append(result)
        except _Stop as e:
            self.out(w("ended_early", why=e))
            results += [with_model(Result(c, Status.NOT_TESTED, str(e), attempt=attempt), w)
                        for c in checks[len(results):]]
        return results

    def _quietly(self, fn: Callable[[], None], what: str) -> None:
        try:
            fn()
        except SimError as e:
            self.out(self.words("warning", what=what, error=e))

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
            raise _Stop(self.words("lost_hub", error=e)) from None

    def _device(self, check: Check) -> Result:
        w = self.words
        started = self.clock()
        also: set[tuple[str, str]] = set()
        while True:
            seen = self.hub.events(self._cursor)
            self._cursor = int(seen["cursor"])
            for ev in seen["events"]:
                if matches(check, ev):
                    return judge(check, ev, self.clock() - started,
                                 self.cfg.ble.battery_low_percent, w)
                if (ev["source"], ev["kind"]) not in also:
                    also.add((ev["source"], ev["kind"]))
                    self.out(w("also_seen", source=ev["source"], kind=ev["kind"]))
            if not seen["active"]:
                raise _Stop(w("mode_ended"))
            key = self.keys.get(POLL_S)
            if key == "s":
                return Result(check, Status.SKIPPED, w("skipped"))
            if key == "q":
                raise _Stop(w("stopped"))
            if key == "r":
                started = self.clock()
                self.out(w("waiting_again", instruction=check.instruction))
            if self.clock() - started >= self.timeout_s:
                if check.optional:  # nobody can be made to fall: not tested, not failed
                    return Result(check, Status.NOT_TESTED,
                                  w("optional_not_seen", s=f"{self.timeout_s:g}"))
                return Result(check, Status.NOT_SEEN, w("not_seen", s=f"{self.timeout_s:g}"))

    def _speaker(self, check: Check) -> Result:
        w = self.words
        while True:
            said = self.hub.speaker()
            self.out(w("speaker_ask", said=said))
            key = self.keys.get(self.timeout_s)
            if key == "y":
                return Result(check, Status.PASSED, w("heard", said=said))
            if key == "n":
                return Result(check, Status.FAILED, w("not_heard"))
            if key == "q":
                raise _Stop(w("stopped"))
            if key is None or key == "s":
                return Result(check, Status.SKIPPED, w("no_answer" if key is None else "skipped"))

    def _microphone(self, check: Check) -> Result:
        w = self.words
        if why := self.air.unavailable():
            why = w("no_audio_device") if why == NO_DEVICE else why
            return Result(check, Status.NOT_TESTED, w("mic_untested", why=why))
        rate = self.air.rate
        try:
            heard = detect(self.air.playrec(tone(rate)), rate)
        except AudioError as e:
            return Result(check, Status.FAILED, w("audio_error", error=e))
        room = w("simulated_room") if isinstance(self.air, SimulatedRoom) else ""
        if heard.heard:
            return Result(check, Status.PASSED, w("tone_heard", level=heard.level_dbfs,
                                                  snr=heard.snr_db, room=room))
        return Result(check, Status.FAILED, w("tone_not_heard", snr=heard.snr_db, need=MIN_SNR_DB,
                                              room=room))

    def _station(self, check: Check) -> Result:
        w = self.words
        rtt = self.hub.ping(self.timeout_s)
        if rtt is None:
            return Result(check, Status.FAILED, w("no_ack", s=f"{self.timeout_s:g}"))
        return Result(check, Status.PASSED, w("acked", ms=rtt), rtt_ms=rtt)


def save(report: Report, folder: Path) -> list[Path]:
    """The report as text and JSON, named for the hub and the time: nothing is overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    base = f"walktest-{report.hub}-{report.local(report.finished, '%Y%m%d-%H%M%S')}"
    stem, n = base, 1
    while (folder / f"{stem}.json").exists():  # a retry within the same second
        n += 1
        stem = f"{base}_{n}"  # '_' sorts after '.': the newest stays last (last_report)
    paths = [folder / f"{stem}.txt", folder / f"{stem}.json"]
    paths[0].write_text(report.text(), encoding="utf-8")
    paths[1].write_text(report.json(), encoding="utf-8")
    return paths


def last_report(folder: Path, hub: str) -> Path | None:
    """The newest saved report of ``hub`` (the names sort by the time they were written)."""
    saved = sorted(folder.glob(f"walktest-{hub}-*.json"))
    return saved[-1] if saved else None


def cmd_walktest(a: argparse.Namespace) -> int:
    cfg = load_hub_config(a.config)
    w = Words(a.lang or cfg.language)

    def out(line: str) -> None:
        print(line, flush=True)

    def fail(message: str, code: int = 2) -> int:
        print(f"anxin walktest: {message}", file=sys.stderr)
        return code

    folder = cfg.data_dir / "commissioning"
    before: list[Result] | None = None
    retry_of = ""
    if a.retry:
        if (last := last_report(folder, cfg.hub_id)) is None:
            return fail(w("no_report", hub=cfg.hub_id, folder=folder))
        checks = plan(cfg, w)
        try:
            before = earlier(json.loads(last.read_text(encoding="utf-8")), checks)
        except (OSError, UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
            return fail(w("bad_report", file=last, error=e))
        retry_of = last.name
        if not retried(before, checks)[0]:
            out(w("nothing_to_retry", report=retry_of))
            return 0
    air: Air = SimulatedRoom() if cfg.simulated else SoundCard(cfg.speaker.input, cfg.speaker.output)
    walk = Walk(cfg, SocketHub(cfg), Keys(sys.stdin), air, out=out, words=w, timeout_s=a.timeout_s)
    try:
        report = walk.run(a.installer, a.minutes, before=before, retry_of=retry_of)
    except SimError as e:
        return fail(str(e))
    except KeyboardInterrupt:
        return fail(w("interrupted"), 130)
    out("")
    out(report.text())
    try:
        paths = save(report, folder)
    except OSError as e:
        return fail(w("cannot_save", folder=folder, error=e.strerror))
    out(w("saved", paths=", ".join(str(p) for p in paths)))
    if report.overall is Overall.PASS:
        return 0
    out(w("retry_hint"))
    return 1


def arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin walktest``'s arguments."""
    s.description = (
        "Put the running hub in walk-test mode (its devices' events reach the station as walk "
        "tests, not alarms), guide the installer through every device in hub.yaml, then the "
        "speaker, the microphone and the station's round trip, and save the commissioning report "
        "under data_dir/commissioning/. An optional check (the fall) nobody triggers is not "
        "tested and does not fail the home. Exit code 0 only if the home passed.")
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/hub.yaml"))
    s.add_argument("--installer", default="", help="your name, for the report")
    s.add_argument("--minutes", default=DEFAULT_MINUTES,
                   type=number(f"minutes above 0 and at most {MAX_MINUTES:g}",
                               lambda m: 0 < m <= MAX_MINUTES, float),
                   help=f"walk-test mode ends by itself after this long (at most {MAX_MINUTES:g})")
    s.add_argument("--timeout-s", type=number("seconds above 0", lambda s: s > 0, float),
                   default=DEFAULT_TIMEOUT_S,
                   help="how long to wait for each device before it counts as not seen")
    s.add_argument("--retry", action="store_true",
                   help="walk again only the checks that kept the last report from passing; "
                   "the new report carries the rest on and says which walk each passed in")
    s.add_argument("--lang", choices=["zh_CN", "en"],
                   help="the installer's language (default: hub.yaml's language, zh_CN)")
    s.set_defaults(fn=cmd_walktest)
