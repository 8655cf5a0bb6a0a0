"""The commissioning report of a walk test: every check's result, the overall verdict, as
text for the installer (in the installer's language), JSON for tools, and a short summary the
station keeps.

An optional check (the fall: nobody can be made to trigger it) counts only when it fails: not
triggered, it is "not tested" and the home can still pass. A retry (`anxin walktest --retry`)
walks again only the checks that kept the home from passing; each result says which walk
(attempt) it comes from, and the report carries the earlier results on.

Pure: results in, text and data out; `anxin walktest` (hub/tools/walktest/walk.py) writes the files.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from hub.common.language import Language
from hub.tools.words import Words

FORMAT = 2  # 2: attempt, where, rtt_ms per check; language, retry_of; the summary's not_passed
MAX_PROBLEMS = 20  # problem lines in the station's summary (wire data: at most 32 list items)
MAX_PROBLEM_TEXT = 200
MAX_FIELD = 64  # characters of a field of a not_passed item in the station's summary


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # seen, but not fit to leave (e.g. a low battery) or a test that failed
    NOT_SEEN = "not seen"  # nothing from the device within the time
    SKIPPED = "skipped"  # the installer skipped it
    NOT_TESTED = "not tested"  # could not be tested here (e.g. no audio device)


class Overall(StrEnum):
    PASS = "PASS"  # every required check passed; an optional one did not fail
    FAIL = "FAIL"  # a check failed or a required device was not seen
    INCOMPLETE = "INCOMPLETE"  # nothing failed, but a required check was skipped or not tested


@dataclass(frozen=True, slots=True)
class Check:
    """One thing the installer does and the hub must see."""

    device: str  # name in hub.yaml; "mains"; "hub" for speaker, microphone and station
    what: str  # button, cord, cancel, smoke, door, presence, fall, mains-off, speaker, …
    label: str  # what the device is, for people: "呼叫按钮（卧室床头）"
    instruction: str  # what to do: "按一下"
    expect: frozenset[str] = frozenset()  # event kinds from ``device`` that pass it
    optional: bool = False  # only a failure counts: skipped or not triggered, the home passes
    where: str = ""  # its location or room in hub.yaml
    model: str = ""  # the device's model (the radar's): in the details, never in the label

    @property
    def key(self) -> tuple[str, str]:
        """The same check in another walk of the home (a retry)."""
        return self.device, self.what


@dataclass(frozen=True, slots=True)
class Result:
    check: Check
    status: Status
    detail: str = ""
    seconds: float | None = None  # how long until the device was seen
    rssi: int | None = None
    battery: int | None = None
    rtt_ms: float | None = None  # the station round trip
    attempt: int = 1  # the walk it comes from: 1, then 2 for the first retry, …

    @property
    def settled(self) -> bool:
        """It does not keep the home from passing: a retry leaves it as it is."""
        if self.check.optional:
            return self.status not in (Status.FAILED, Status.NOT_SEEN)
        return self.status is Status.PASSED


@dataclass(frozen=True, slots=True)
class Report:
    hub: str
    version: str
    installer: str
    started: float  # wall clock
    finished: float
    tz: ZoneInfo
    results: list[Result] = field(default_factory=list)
    language: Language = "zh_CN"  # of its text
    retry_of: str = ""  # the earlier report's file whose unsettled checks this walk retried

    @property
    def overall(self) -> Overall:
        if any(r.status in (Status.FAILED, Status.NOT_SEEN) for r in self.results):
            return Overall.FAIL
        if all(r.settled for r in self.results):
            return Overall.PASS
        return Overall.INCOMPLETE

    @property
    def attempts(self) -> int:
        return max((r.attempt for r in self.results), default=1)

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
        w = Words(self.language)
        rows = [tuple(w("report_columns").split("|"))]
        rows += [(str(i), r.check.device,
                  w(f"check_{r.check.what}") + (w("optional") if r.check.optional else ""),
                  self._status(r, w), w("labelled", label=r.check.label, detail=r.detail)
                  if r.detail else r.check.label)
                 for i, r in enumerate(self.results, 1)]
        widths = [max(width(row[c]) for row in rows) for c in range(4)]  # the details run on
        table = ["  ".join([pad(a, widths[0], right=True), pad(b, widths[1]), pad(c, widths[2]),
                            pad(d, widths[3]), e]).rstrip() for a, b, c, d, e in rows]
        rtt = self.station_rtt_ms
        counts = w("counts_sep").join(w("count", status=w(f"status_{s}"), n=n)
                                      for s, n in self.counts().items())
        return "\n".join([
            w("report_title"),
            w("report_hub", hub=self.hub),
            w("report_software", version=self.version),
            w("report_date", date=self.local(self.finished, "%Y-%m-%d %H:%M:%S"), tz=self.tz.key),
            w("report_installer", installer=self.installer or w("not_given")),
            w("report_walk", start=self.local(self.started, "%H:%M:%S"),
              end=self.local(self.finished, "%H:%M:%S")),
            *([w("report_retry", report=self.retry_of)] if self.retry_of else []),
            "", *table, "",
            w("report_rtt", rtt=w("rtt_ms", ms=rtt) if rtt is not None else w("not_measured")),
            w("report_result", overall=w(f"overall_{self.overall.value}"), counts=counts), ""])

    def _status(self, r: Result, w: Words) -> str:
        """The result's word; with retries, which walk it comes from."""
        status = w(f"status_{r.status.value}")
        return w("attempt", status=status, n=r.attempt) if self.attempts > 1 else status

    def data(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "hub": self.hub, "version": self.version, "installer": self.installer,
            "date": self.local(self.finished, "%Y-%m-%dT%H:%M:%S%z"), "timezone": self.tz.key,
            "started": self.started, "finished": self.finished, "language": self.language,
            "retry_of": self.retry_of or None,
            "checks": [{"device": r.check.device, "check": r.check.what, "label": r.check.label,
                        "where": r.check.where, "optional": r.check.optional,
                        "status": r.status.value, "attempt": r.attempt, "detail": r.detail,
                        "seconds": r.seconds, "rssi": r.rssi, "battery": r.battery,
                        "rtt_ms": r.rtt_ms} for r in self.results],
            "station_rtt_ms": self.station_rtt_ms, "result": self.overall.value,
            "counts": self.counts()}

    def json(self) -> str:
        return json.dumps(self.data(), ensure_ascii=False, indent=2) + "\n"

    def summary(self) -> dict[str, Any]:
        """What the station keeps (a walk-test event's data: small, within the wire's bounds):
        the verdict, the counts, and what kept the home from passing, as data (``not_passed``:
        device, check, where, status; the console words it) and as the installer read it."""
        open_ = [r for r in self.results if not r.settled]
        w = Words(self.language)
        problems = [w("labelled", label=r.check.label, detail=w(f"status_{r.status.value}"))
                    + (w("because", detail=r.detail) if r.detail else "") for r in open_]
        return {"result": self.overall.value, "passed": self.counts().get(Status.PASSED.value, 0),
                "checks": len(self.results), "installer": self.installer,
                "version": self.version, "rtt_ms": self.station_rtt_ms, "attempt": self.attempts,
                "not_passed": [{"device": r.check.device, "check": r.check.what,
                                "where": r.check.where[:MAX_FIELD], "status": r.status.value}
                               for r in open_[:MAX_PROBLEMS]],
                "problems": [p[:MAX_PROBLEM_TEXT] for p in problems[:MAX_PROBLEMS]]}


def earlier(data: dict[str, Any], checks: Iterable[Check]) -> list[Result]:
    """The results of a saved report (its JSON) for the checks the home has now, each with the
    walk it came from and labelled as it was then (in the language of its details); a check
    that is no longer in hub.yaml is left out. ValueError names what is wrong with a report
    that cannot be read."""
    by_key = {c.key: c for c in checks}
    try:
        found = [(entry, by_key.get((str(entry["device"]), str(entry["check"]))))
                 for entry in data["checks"]]
        return [Result(replace(check, label=str(entry.get("label") or check.label)),
                       Status(entry["status"]), str(entry.get("detail") or ""),
                       entry.get("seconds"), entry.get("rssi"), entry.get("battery"),
                       entry.get("rtt_ms"), int(entry.get("attempt") or 1))
                for entry, check in found if check is not None]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a walk-test report ({type(e).__name__}: {e})") from None


def retried(results: list[Result], checks: list[Check]) -> tuple[list[Check], int]:
    """What a retry walks (the checks whose earlier result is missing or unsettled, in the
    plan's order) and the number of the walk it makes."""
    done = {r.check.key for r in results if r.settled}
    return [c for c in checks if c.key not in done], max((r.attempt for r in results), default=0) + 1


def merged(results: list[Result], new: list[Result], checks: list[Check]) -> list[Result]:
    """Every check of the plan, in its order: the new result where it was walked again, else
    the earlier one."""
    by_key = {r.check.key: r for r in results} | {r.check.key: r for r in new}
    return [by_key[c.key] for c in checks if c.key in by_key]


def width(text: str) -> int:
    """Columns on a terminal: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int, *, right: bool = False) -> str:
    space = " " * max(0, columns - width(text))
    return space + text if right else text + space
