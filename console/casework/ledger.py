"""The monthly work ledger (工作台账) and its statistics, exported for the county.

One month's visits by group and mode, visit coverage of the roster, content covered,
follow-ups, alarms by type and outcome, how fast alarms were answered against the telecare
reference (98.5 % claimed within 60 s, 99 % within 180 s; targets.md), and the people told
outside the station: messages sent and failed, how soon someone accepted, how soon a dispatched
responder arrived against the county's promise (docs/notify.md). Every figure has a stable
code (``visits.key.phone``) beside its label, so an exported file can be read back by machine
whatever its language.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path

from console.casework.county import CountyRules
from console.casework.elder import Category
from console.casework.records import AlarmRecord, FollowUp, VisitRecord
from console.casework.sheets import Cell, Sheet, read_rows, write_csv, write_xlsx
from hub.common.events import ALARM_TYPES, WALKTEST, Priority
from hub.common.language import Language

REFERENCE_PCT = {60: 98.5, 180: 99.0}  # calls answered within N s: UK/European telecare code
CANCELLED_AT_HOME = "cancelled_at_home"  # the store's outcome code of an alarm the elder cancelled
OPEN = "open"  # the outcome column of an alarm not closed when the ledger was made

WORDS: dict[str, tuple[str, str]] = {
    "sheet_summary": ("汇总", "Summary"), "sheet_visits": ("探访", "Visits"),
    "sheet_alarms": ("报警", "Alarms"), "sheet_followups": ("跟进", "Follow-ups"),
    "item": ("项目", "Item"), "value": ("数值", "Value"), "code": ("代码", "Code"),
    "month": ("月份", "Month"), "roster": ("在册老人", "Elders on the roster"),
    "visited": ("本月已探访老人", "Elders visited this month"),
    "coverage_pct": ("探访覆盖率 %", "Visit coverage %"), "visits": ("探访次数", "Visits"),
    "total": ("合计", "total"), "not_reached": ("未联系上（不计入）", "Not reached (not counted)"),
    "contents": ("探访内容", "Visit content"), "followups": ("跟进事项", "Follow-ups"),
    "opened": ("本月新增", "opened this month"), "closed": ("本月办结", "closed this month"),
    "open": ("月末未办结", "open at month end"), "alarms": ("报警", "Alarms"),
    "alarm_open": ("未结束", "still open"),
    "answer": ("接警", "Answering"), "counted": ("计入统计的报警", "alarms counted"),
    "within_60s": ("60秒内接警", "claimed within 60 s"),
    "within_180s": ("180秒内接警", "claimed within 180 s"),
    "within_60s_pct": ("60秒内接警率 %", "claimed within 60 s %"),
    "within_180s_pct": ("180秒内接警率 %", "claimed within 180 s %"),
    "reference_60s_pct": ("60秒参考值 %", "reference within 60 s %"),
    "reference_180s_pct": ("180秒参考值 %", "reference within 180 s %"),
    "unclaimed": ("无人接警", "never claimed"),
    "median_s": ("接警用时中位数 秒", "median time to claim s"),
    "notify": ("通知", "Notifications"), "sent": ("已发出", "sent"), "failed": ("发送失败", "failed"),
    "accepted": ("有人确认的报警", "alarms someone accepted"),
    "accept_median_s": ("首次确认用时中位数 秒（自收到）",
                        "median time to first acceptance s (from received)"),
    "dispatch": ("派遣", "Dispatches"), "count": ("派遣次数", "dispatched"),
    "arrived": ("已到达", "arrived"),
    "arrival_median_s": ("派遣到达用时中位数 秒", "median dispatch to arrival s"),
    "arrival_p90_s": ("派遣到达用时90百分位 秒", "90th percentile dispatch to arrival s"),
    "within_promise": ("承诺时限内到达", "arrived within the promise"),
    "within_promise_pct": ("承诺时限内到达率 %", "arrived within the promise %"),
    "dispatched_at": ("派遣时间", "Dispatched"), "arrived_at": ("到达时间", "Arrived"),
    "p90_s": ("接警用时90百分位 秒", "90th percentile time to claim s"),
    "cat_key": ("重点", "key group"), "cat_secondary": ("次重点", "secondary group"),
    "cat_general": ("一般", "general group"),
    "date": ("日期", "Date"), "hub": ("终端", "Hub"), "elder": ("老人", "Elder"),
    "category": ("类别", "Group"), "mode": ("方式", "Mode"), "by": ("探访人", "Visitor"),
    "reached": ("是否联系上", "Reached"), "notes": ("备注", "Notes"), "yes": ("是", "yes"),
    "no": ("否", "no"), "kind": ("类型", "Type"),
    # each time says which moment it counts (design.md, "Time")
    "raised": ("发生时间（终端）", "Raised (at the home)"),
    "received": ("收到时间（服务站）", "Received (at the station)"),
    "wait_s": ("接警用时 秒（自收到）", "Time to claim s (from received)"),
    "claimed": ("接警时间", "Claimed"),
    "closed_at": ("结束时间", "Closed"), "outcome": ("处置结果", "Outcome"),
    "officer": ("值班员", "Officer"), "id": ("编号", "Id"), "content": ("内容", "Content"),
    "text": ("事项", "Matter"), "opened_on": ("提出日期", "Opened"), "closed_on": ("办结日期", "Closed"),
}


def word(key: str, language: Language) -> str:
    pair = WORDS.get(key)
    return (pair[0] if language == "zh_CN" else pair[1]) if pair else key


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-11``; ValueError otherwise."""
        y, _, m = text.partition("-")
        if not (y.isdigit() and m.isdigit() and 1 <= int(m) <= 12):
            raise ValueError(f"{text!r} is not a month like 2026-11")
        return cls(int(y), int(m))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return self.next().first - timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def span(self, tz: tzinfo) -> tuple[float, float]:
        """Epoch seconds of its first instant and of the next month's, in ``tz``."""
        start = datetime(self.year, self.month, 1, tzinfo=tz)
        n = self.next()
        return start.timestamp(), datetime(n.year, n.month, 1, tzinfo=tz).timestamp()


@dataclass(frozen=True, slots=True)
class AnswerStats:
    """How fast alarms that wait for an officer were claimed."""

    counted: int
    within: dict[int, int]  # seconds -> alarms claimed within that many seconds of arriving
    unclaimed: int
    median_s: float | None
    p90_s: float | None  # nearest rank: a wait that really happened

    def pct(self, seconds: int) -> float | None:
        return round(100 * self.within[seconds] / self.counted, 1) if self.counted else None


def answer_stats(alarms: Iterable[AlarmRecord],
                 thresholds: Iterable[int] = tuple(REFERENCE_PCT)) -> AnswerStats:
    """Over the alarms given (a month's, a shift's): those of life and well-being priority.
    An alarm the elder cancelled within the first minute, before anyone claimed it, is left
    out (a mistaken press needs no answer); one cancelled later was waiting unanswered, so it
    counts, as not claimed."""
    thresholds = tuple(thresholds)
    waits: list[float] = []
    counted = unclaimed = 0
    for a in alarms:
        t = ALARM_TYPES.get(a.kind)
        if t is not None and t.priority > Priority.WELLBEING:
            continue
        if (a.claimed is None and a.outcome == CANCELLED_AT_HOME and a.closed is not None
                and a.closed - a.received <= 60):
            continue
        counted += 1
        if a.claimed is None:
            unclaimed += 1
        else:
            waits.append(max(0.0, a.claimed - a.received))
    waits.sort()
    within = {s: sum(w <= s for w in waits) for s in thresholds}
    return AnswerStats(counted, within, unclaimed, _median(waits), _p90(waits))


@dataclass(frozen=True, slots=True)
class NotifyStats:
    """The people told outside the station, over a month's alarms."""

    sent: int  # messages the channels took
    failed: int  # messages given up on
    accepted: int  # alarms someone told accepted
    accept_median_s: float | None  # from the alarm received to its first acceptance
    dispatches: int
    arrived: int  # dispatches whose arrival was stamped
    within_promise: int  # of those, on site within the promise
    arrival_median_s: float | None  # dispatched to arrived
    arrival_p90_s: float | None  # nearest rank: a time that really happened

    def within_pct(self) -> float | None:
        """The share of dispatches on site within the promise: one never stamped arrived counts
        as not within it (nobody can say it was)."""
        return round(100 * self.within_promise / self.dispatches, 1) if self.dispatches else None


def notify_stats(alarms: Iterable[AlarmRecord]) -> NotifyStats:
    """Over the alarms given (a month's): their messages, acceptances and dispatches."""
    alarms = list(alarms)
    accepts = sorted(max(0.0, a.accepted - a.received) for a in alarms if a.accepted is not None)
    ds = [d for a in alarms for d in a.dispatches]
    trips = sorted(max(0.0, d.arrived - d.dispatched) for d in ds if d.arrived is not None)
    return NotifyStats(sent=sum(a.sent for a in alarms), failed=sum(a.failed for a in alarms),
                       accepted=len(accepts), accept_median_s=_median(accepts), dispatches=len(ds),
                       arrived=len(trips), within_promise=sum(d.within_promise for d in ds),
                       arrival_median_s=_median(trips), arrival_p90_s=_p90(trips))


@dataclass(frozen=True, slots=True)
class Ledger:
    month: Month
    roster: dict[Category, int]  # elders on the roster, by group
    visited: dict[Category, int]  # of those, visited (reached) at least once in the month
    visits: dict[tuple[Category, str], int]  # (group, mode) -> visits that reached the elder
    not_reached: int
    contents: dict[str, int]  # content key -> visits that covered it
    followups_opened: int
    followups_closed: int
    followups_open: int  # open at the end of the month
    alarms: dict[tuple[str, str], int]  # (kind, outcome or OPEN) -> alarms received in the month
    answer: AnswerStats
    notify: NotifyStats
    visit_rows: list[VisitRecord]
    alarm_rows: list[AlarmRecord]
    followup_rows: list[FollowUp]  # opened or closed in the month, or open at its end

    def figures(self, rules: CountyRules) -> list[tuple[str, str | int | float | None]]:
        """Every figure as (code, value), in the order of the summary sheet."""
        out: list[tuple[str, str | int | float | None]] = [("month", str(self.month))]
        for c in Category:
            roster, visited = self.roster.get(c, 0), self.visited.get(c, 0)
            out += [(f"roster.{c}", roster), (f"visited.{c}", visited),
                    (f"coverage_pct.{c}", round(100 * visited / roster, 1) if roster else None)]
        for c in Category:
            out += [(f"visits.{c}.{m.key}", self.visits.get((c, m.key), 0)) for m in rules.visits.modes]
            out.append((f"visits.{c}.total", sum(n for (cat, _), n in self.visits.items() if cat is c)))
        out += [("visits.total", sum(self.visits.values())), ("visits.not_reached", self.not_reached)]
        out += [(f"contents.{c.key}", self.contents.get(c.key, 0)) for c in rules.visits.contents]
        out += [("followups.opened", self.followups_opened), ("followups.closed", self.followups_closed),
                ("followups.open", self.followups_open)]
        for kind in sorted({k for k, _ in self.alarms}, key=_kind_order):
            outcomes = {o: n for (k, o), n in self.alarms.items() if k == kind}
            out += [(f"alarms.{kind}.{o}", outcomes[o]) for o in sorted(outcomes)]
            out.append((f"alarms.{kind}.total", sum(outcomes.values())))
        out.append(("alarms.total", sum(self.alarms.values())))
        a = self.answer
        out += [("answer.counted", a.counted)]
        for s in a.within:
            out += [(f"answer.within_{s}s", a.within[s]), (f"answer.within_{s}s_pct", a.pct(s)),
                    (f"answer.reference_{s}s_pct", REFERENCE_PCT.get(s))]
        out += [("answer.unclaimed", a.unclaimed), ("answer.median_s", _round(a.median_s)),
                ("answer.p90_s", _round(a.p90_s))]
        n = self.notify
        out += [("notify.sent", n.sent), ("notify.failed", n.failed), ("notify.accepted", n.accepted),
                ("notify.accept_median_s", _round(n.accept_median_s)),
                ("dispatch.count", n.dispatches), ("dispatch.arrived", n.arrived),
                ("dispatch.arrival_median_s", _round(n.arrival_median_s)),
                ("dispatch.arrival_p90_s", _round(n.arrival_p90_s)),
                ("dispatch.within_promise", n.within_promise),
                ("dispatch.within_promise_pct", n.within_pct())]
        return out


def build(month: Month, *, roster: Mapping[str, Category], visits: Iterable[VisitRecord],
          alarms: Iterable[AlarmRecord], followups: Iterable[FollowUp], tz: tzinfo) -> Ledger:
    """The ledger of ``month`` from everything given (rows outside the month are ignored);
    ``roster`` maps each elder on the roster at the month's end to their group, and ``tz`` is
    the county's time zone, which says where a month begins. An alarm is filed under the month
    the station received it (a fall held in its window across midnight goes where it arrived),
    in the group its elder had then."""
    vs = sorted((v for v in visits if month.first <= v.day <= month.last), key=lambda v: (v.day, v.elder))
    reached = [v for v in vs if v.reached]
    visited = Counter(roster[e] for e in {v.elder for v in reached} if e in roster)
    start, end = month.span(tz)
    al = sorted((a for a in alarms if start <= a.received < end and a.kind != WALKTEST),
                key=lambda a: a.received)
    fs = [f for f in followups if f.opened <= month.last and (f.closed is None or f.closed >= month.first)]
    return Ledger(
        month=month, roster=dict(Counter(roster.values())), visited=dict(visited),
        visits=dict(Counter((v.category, v.mode) for v in reached)), not_reached=len(vs) - len(reached),
        contents=dict(Counter(c for v in reached for c in set(v.contents))),
        followups_opened=sum(month.first <= f.opened for f in fs),
        followups_closed=sum(f.closed is not None and f.closed <= month.last for f in fs),
        followups_open=sum(f.open_on(month.last) for f in fs),
        alarms=dict(Counter((a.kind, a.outcome or OPEN) for a in al)), answer=answer_stats(al),
        notify=notify_stats(al), visit_rows=vs, alarm_rows=al,
        followup_rows=sorted(fs, key=lambda f: (f.opened, f.elder)))


def sheets(ledger: Ledger, rules: CountyRules, tz: tzinfo, language: Language = "zh_CN") -> list[Sheet]:
    """The summary, visits, alarms and follow-ups tables, headers and labels in ``language``."""
    w = partial(word, language=language)

    def sheet(name: str, columns: dict[str, int], rows: list[list[Cell]]) -> Sheet:
        return Sheet(w(name), [w(c) for c in columns], rows, list(columns.values()))

    def content(keys: Iterable[str]) -> str:
        return "、".join(_content(rules, c, language) for c in keys)

    def alarm(a: AlarmRecord) -> list[Cell]:
        wait = round(a.claimed - a.received, 1) if a.claimed is not None else None
        outcome = _outcome(rules, a.outcome, language) or (w("alarm_open") if a.closed is None else None)
        first = a.dispatches[0] if a.dispatches else None  # the first responder sent, when they came
        return [_local(a.raised, tz), _local(a.received, tz), a.hub, a.name,
                w(f"cat_{a.category}") if a.category else None, rules.kind_label(a.kind).text(language),
                wait, _local(a.claimed, tz), _local(first.dispatched if first else None, tz),
                _local(first.arrived if first else None, tz), _local(a.closed, tz), outcome,
                a.officer, a.notes, a.id]

    return [
        sheet("sheet_summary", {"item": 40, "value": 12, "code": 36},
              [[figure_label(code, rules, language), v, code] for code, v in ledger.figures(rules)]),
        sheet("sheet_visits", {"date": 12, "hub": 8, "elder": 10, "category": 10, "mode": 12, "by": 10,
                               "reached": 10, "content": 48, "notes": 30},
              [[v.day, v.elder, v.name, w(f"cat_{v.category}"), _mode(rules, v.mode, language), v.by,
                w("yes" if v.reached else "no"), content(v.contents), v.notes] for v in ledger.visit_rows]),
        sheet("sheet_alarms", {"raised": 20, "received": 20, "hub": 8, "elder": 10, "category": 10,
                               "kind": 14, "wait_s": 12, "claimed": 20, "dispatched_at": 20,
                               "arrived_at": 20, "closed_at": 20, "outcome": 18,
                               "officer": 10, "notes": 30, "id": 34},
              [alarm(a) for a in ledger.alarm_rows]),
        sheet("sheet_followups", {"opened_on": 12, "hub": 8, "elder": 10, "content": 14, "text": 48,
                                  "closed_on": 12},
              [[f.opened, f.elder, f.name, content([f.content]), f.text, f.closed]
               for f in ledger.followup_rows]),
    ]


def export_xlsx(ledger: Ledger, rules: CountyRules, path: Path, tz: tzinfo,
                language: Language = "zh_CN") -> Path:
    return write_xlsx(path, sheets(ledger, rules, tz, language))


def export_csv(ledger: Ledger, rules: CountyRules, folder: Path, tz: tzinfo,
               language: Language = "zh_CN") -> list[Path]:
    """One file a table: ``ledger-2026-11-summary.csv`` and so on (CSV has no sheets)."""
    names = ("summary", "visits", "alarms", "followups")
    return [write_csv(folder / f"ledger-{ledger.month}-{n}.csv", s)
            for n, s in zip(names, sheets(ledger, rules, tz, language), strict=True)]


def read_figures(path: Path) -> dict[str, Cell]:
    """The figures of an exported summary (the XLSX, or its summary CSV) by code."""
    rows = read_rows(path)
    next(rows, None)  # the header
    out: dict[str, Cell] = {}
    for row in rows:
        if len(row) >= 3 and isinstance(row[2], str):
            out[row[2]] = _number(row[1])
    return out


def figure_label(code: str, rules: CountyRules, language: Language = "zh_CN") -> str:
    """``visits.key.phone`` -> ``探访次数 · 重点 · 电话探访``."""
    head, *parts = code.split(".")
    labels = [word(head, language)]
    for p in parts:
        if p in {c.value for c in Category}:
            labels.append(word(f"cat_{p}", language))
        elif head == "visits" and p not in ("total", "not_reached"):
            labels.append(_mode(rules, p, language))
        elif head == "contents":
            labels.append(_content(rules, p, language))
        elif head == "alarms" and p == parts[0] and p != "total":
            labels.append(rules.kind_label(p).text(language))
        elif head == "alarms" and p == OPEN:
            labels.append(word("alarm_open", language))
        elif head == "alarms" and p != "total":
            labels.append(_outcome(rules, p, language) or p)
        else:
            labels.append(word(p, language))
    return " · ".join(labels)


def _mode(rules: CountyRules, key: str, language: Language) -> str:
    try:
        return rules.mode(key).text(language)
    except KeyError:
        return key


def _content(rules: CountyRules, key: str, language: Language) -> str:
    try:
        return rules.content(key).text(language)
    except KeyError:
        return key


def _outcome(rules: CountyRules, key: str | None, language: Language) -> str | None:
    if key is None:
        return None
    try:
        return rules.outcome(key).text(language)
    except KeyError:
        return key


def _local(ts: float | None, tz: tzinfo) -> datetime | None:
    """A time as the county's wall clock reads it, without zone: what Excel can hold."""
    return None if ts is None else datetime.fromtimestamp(ts, tz).replace(tzinfo=None, microsecond=0)


def _kind_order(kind: str) -> tuple[int, str]:
    t = ALARM_TYPES.get(kind)
    return (t.priority if t else len(Priority) + 1, kind)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _p90(ordered: list[float]) -> float | None:
    """The 90th percentile by nearest rank of sorted ``ordered``: a value that really happened."""
    return ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _number(v: Cell) -> Cell:
    if isinstance(v, str):
        for conv in (int, float):
            try:
                return conv(v)
            except ValueError:
                pass
    return v
