"""The commissioning report of a walk test: every check's result, the overall verdict, as
text for the installer, JSON for tools, and a short summary the station keeps.

Pure: results in, text and data out; `anxin walktest` (hub/walktest.py) writes the files.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

FORMAT = 1
MAX_PROBLEMS = 20  # problem lines in the station's summary (wire data: at most 32 list items)
MAX_PROBLEM_TEXT = 200


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # seen, but not fit to leave (e.g. a low battery) or a test that failed
    NOT_SEEN = "not seen"  # nothing from the device within the time
    SKIPPED = "skipped"  # the installer skipped it
    NOT_TESTED = "not tested"  # could not be tested here (e.g. no audio device)


class Overall(StrEnum):
    PASS = "PASS"  # every check passed (an optional one may be skipped)
    FAIL = "FAIL"  # a check failed or a device was not seen
    INCOMPLETE = "INCOMPLETE"  # nothing failed, but something was skipped or not tested


@dataclass(frozen=True, slots=True)
class Check:
    """One thing the installer does and the hub must see."""

    device: str  # name in hub.yaml; "mains"; "hub" for speaker, microphone and station
    what: str  # button, smoke, door, presence, fall, mains-off, speaker, microphone, station, …
    label: str  # what the device is, for people: "call button at 卧室床头"
    instruction: str  # what to do: "press it"
    expect: frozenset[str] = frozenset()  # event kinds from ``device`` that pass it
    optional: bool = False  # skipping it does not make the result incomplete


@dataclass(frozen=True, slots=True)
class Result:
    check: Check
    status: Status
    detail: str = ""
    seconds: float | None = None  # how long until the device was seen
    rssi: int | None = None
    battery: int | None = None
    rtt_ms: float | None = None  # the station round trip


@dataclass(frozen=True, slots=True)
class Report:
    hub: str
    version: str
    installer: str
    started: float  # wall clock
    finished: float
    tz: ZoneInfo
    results: list[Result] = field(default_factory=list)

    @property
    def overall(self) -> Overall:
        if any(r.status in (Status.FAILED, Status.NOT_SEEN) for r in self.results):
            return Overall.FAIL
        if all(r.status is Status.PASSED or (r.check.optional and r.status is Status.SKIPPED)
               for r in self.results):
            return Overall.PASS
        return Overall.INCOMPLETE

    @property
    def station_rtt_ms(self) -> float | None:
        return next((r.rtt_ms for r in self.results if r.rtt_ms is not None), None)

    def counts(self) -> dict[str, int]:
        n = Counter(r.status for r in self.results)
        return {s.value: n[s] for s in Status if n[s]}

    def local(self, ts: float, fmt: str) -> str:
        """A time as the home's clock reads it (hub.yaml timezone)."""
        return datetime.fromtimestamp(ts, self.tz).strftime(fmt)

    def text(self) -> str:
        rows = [("#", "device", "check", "result", "details")]
        rows += [(str(i), r.check.device, r.check.what + (" (optional)" if r.check.optional else ""),
                  r.status.value, f"{r.check.label}: {r.detail}" if r.detail else r.check.label)
                 for i, r in enumerate(self.results, 1)]
        w = [max(len(row[c]) for row in rows) for c in range(4)]  # ASCII columns; details last
        table = [f"{a:>{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d:<{w[3]}}  {e}".rstrip()
                 for a, b, c, d, e in rows]
        rtt = self.station_rtt_ms
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        return "\n".join([
            "Anxin commissioning report (walk test)",
            f"hub:        {self.hub}",
            f"software:   anxin {self.version}",
            f"date:       {self.local(self.finished, '%Y-%m-%d %H:%M:%S')} ({self.tz.key})",
            f"installer:  {self.installer or '(not given)'}",
            f"walk test:  {self.local(self.started, '%H:%M:%S')} to "
            f"{self.local(self.finished, '%H:%M:%S')}",
            "", *table, "",
            f"station round trip: {f'{rtt:.1f} ms' if rtt is not None else 'not measured'}",
            f"result: {self.overall.value} ({counts})", ""])

    def data(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "hub": self.hub, "version": self.version, "installer": self.installer,
            "date": self.local(self.finished, "%Y-%m-%dT%H:%M:%S%z"), "timezone": self.tz.key,
            "started": self.started, "finished": self.finished,
            "checks": [{"device": r.check.device, "check": r.check.what, "label": r.check.label,
                        "optional": r.check.optional, "status": r.status.value,
                        "detail": r.detail, "seconds": r.seconds, "rssi": r.rssi,
                        "battery": r.battery} for r in self.results],
            "station_rtt_ms": self.station_rtt_ms, "result": self.overall.value,
            "counts": self.counts()}

    def json(self) -> str:
        return json.dumps(self.data(), ensure_ascii=False, indent=2) + "\n"

    def summary(self) -> dict[str, Any]:
        """What the station keeps (a walk-test event's data: small, flat, within the wire's
        bounds): the verdict, the counts and what did not pass."""
        problems = [f"{r.check.device} {r.check.what}: {r.status.value}"
                    + (f" ({r.detail})" if r.detail else "")
                    for r in self.results if r.status is not Status.PASSED
                    and not (r.check.optional and r.status is Status.SKIPPED)]
        return {"result": self.overall.value, "passed": self.counts().get(Status.PASSED.value, 0),
                "checks": len(self.results), "installer": self.installer,
                "version": self.version, "rtt_ms": self.station_rtt_ms,
                "problems": [p[:MAX_PROBLEM_TEXT] for p in problems[:MAX_PROBLEMS]]}
