"""Monthly ledger: the figures, answer times against the telecare reference, and the exports
read back to the same numbers."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.casework.county import load_county
from console.casework.ledger import (
    Ledger,
    Month,
    answer_stats,
    build,
    export_csv,
    export_xlsx,
    read_figures,
)
from console.casework.records import AlarmRecord, DispatchRecord, FollowUp, VisitRecord
from console.casework.sheets import read_rows
from console.station.config import Category
from tests.conftest import REPO
from tests.support.ledger import CST, WAITS, alarm, ts

RULES = load_county(REPO / "config/county.yaml")
NOV = Month(2026, 11)
K, S, G = Category.KEY, Category.SECONDARY, Category.GENERAL


ALARMS = [
    *(alarm(i, "panic" if i % 2 else "fall", f"2026-11-{i + 1:02d}T08:00:00", w)
      for i, w in enumerate(WAITS)),
    alarm(20, "panic", "2026-11-12T09:00:00", None, "cancelled_at_home", 30),  # a mistaken press: left out
    alarm(21, "panic", "2026-11-12T10:00:00", None, "cancelled_at_home", 100),  # waited unanswered: counts
    alarm(22, "battery_low", "2026-11-13T10:00:00", None, "maintenance", 4000,  # technical: not a call
          notes="grid worker went round"),
    alarm(23, "walktest", "2026-11-14T10:00:00", None, None, 1),  # a walk test: not in the ledger
    alarm(24, "smoke", "2026-11-30T23:59:59", 12, None, None),  # the month's last second, still open
    alarm(25, "smoke", "2026-10-31T23:59:59", 12),  # October
    alarm(26, "smoke", "2026-12-01T00:00:00", 12),  # December
]
V = VisitRecord
VISITS = [
    V("h001", "王秀英", K, date(2026, 11, 2), "home", "李梅", ("health", "home_safety", "emergency")),
    V("h001", "王秀英", K, date(2026, 11, 9), "phone", "李梅", ("health", "emotional")),
    V("h001", "王秀英", K, date(2026, 11, 16), "online", "张三", ("health",), notes="=HYPERLINK(\"x\")"),
    V("h002", "张德福", S, date(2026, 11, 5), "road", "李梅", ("health",)),
    V("h003", "刘桂兰", G, date(2026, 11, 20), "phone", "李梅", (), reached=False),
    V("h003", "刘桂兰", G, date(2026, 10, 30), "home", "李梅", ("policy",)),  # October
]
FOLLOWUPS = [
    FollowUp("h001", "王秀英", "home_safety", "燃气软管老化", date(2026, 11, 2), date(2026, 11, 10)),
    FollowUp("h001", "王秀英", "policy", "申请高龄津贴", date(2026, 11, 2)),
    FollowUp("h002", "张德福", "care_advice", "适老化改造", date(2026, 10, 5)),  # still open from October
    FollowUp("h002", "张德福", "health", "复查血糖", date(2026, 10, 5), date(2026, 10, 20)),  # done before
]
ROSTER = {"h001": K, "h002": S, "h003": G, "h004": K}


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return build(NOV, roster=ROSTER, visits=VISITS, alarms=ALARMS, followups=FOLLOWUPS, tz=CST)


def test_the_month_in_figures(ledger: Ledger) -> None:
    f = dict(ledger.figures(RULES))
    assert f["month"] == "2026-11"
    assert (f["roster.key"], f["visited.key"], f["coverage_pct.key"]) == (2, 1, 50.0)
    assert (f["roster.general"], f["visited.general"], f["coverage_pct.general"]) == (1, 0, 0.0)
    assert [f[f"visits.key.{m}"] for m in ("home", "phone", "online", "road", "total")] == [1, 1, 1, 0, 3]
    assert [f[c] for c in ("visits.secondary.road", "visits.total", "visits.not_reached")] == [1, 4, 1]
    assert (f["contents.health"], f["contents.home_safety"], f["contents.policy"]) == (4, 1, 0)
    assert (f["followups.opened"], f["followups.closed"], f["followups.open"]) == (2, 1, 2)
    assert [f[f"alarms.panic.{o}"] for o in ("safe_by_phone", "cancelled_at_home", "total")] == [5, 2, 7]
    assert (f["alarms.fall.total"], f["alarms.smoke.open"], f["alarms.battery_low.maintenance"]) == (5, 1, 1)
    assert "alarms.walktest.total" not in f and f["alarms.total"] == 14
    assert [c for c, _ in ledger.figures(RULES) if c.startswith("alarms.")][:3] == [
        "alarms.fall.safe_by_phone", "alarms.fall.total", "alarms.panic.cancelled_at_home"]


def test_answer_times_against_the_reference(ledger: Ledger) -> None:
    f = dict(ledger.figures(RULES))
    # 10 claimed (waits above), 1 open smoke claimed in 12 s, 1 late cancel never claimed
    assert (f["answer.counted"], f["answer.unclaimed"]) == (12, 1)
    for s, expected in ((60, [9, 75.0, 98.5]), (180, [10, 83.3, 99.0])):
        codes = (f"within_{s}s", f"within_{s}s_pct", f"reference_{s}s_pct")
        assert [f[f"answer.{c}"] for c in codes] == expected
    assert (f["answer.median_s"], f["answer.p90_s"]) == (40.0, 70.0)


@given(waits=st.lists(st.floats(0, 3600, allow_nan=False), min_size=1, max_size=200))
def test_answer_stats_agree_with_a_plain_count(waits: list[float]) -> None:
    alarms = [AlarmRecord(str(i), "h", "", None, "panic", 1000.0, 1000.0 + w, 5000.0, "safe_by_phone")
              for i, w in enumerate(waits)]
    a = answer_stats(alarms)
    assert a.counted == len(waits) and a.unclaimed == 0
    assert a.within[60] == sum(1000.0 + w - 1000.0 <= 60 for w in waits)
    assert a.pct(60) is not None and 0 <= a.pct(60) <= a.pct(180) <= 100  # type: ignore[operator]
    assert a.p90_s is not None and a.median_s is not None and a.p90_s in [1000.0 + w - 1000.0 for w in waits]
    share_at_or_below_p90 = sum(1000.0 + w - 1000.0 <= a.p90_s for w in waits) / len(waits)
    assert share_at_or_below_p90 >= 0.9


def test_a_month_starts_at_local_midnight() -> None:
    assert NOV.span(CST) == (ts("2026-11-01T00:00:00"), ts("2026-12-01T00:00:00"))
    assert Month.parse("2026-12").next() == Month(2027, 1) and Month(2027, 2).last == date(2027, 2, 28)
    with pytest.raises(ValueError, match="not a month like 2026-11"):
        Month.parse("2026-13")


def test_xlsx_export_reads_back_to_the_same_figures(ledger: Ledger, tmp_path: Path) -> None:
    path = export_xlsx(ledger, RULES, tmp_path / "ledger.xlsx", CST)
    assert read_figures(path) == dict(ledger.figures(RULES))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["汇总", "探访", "报警", "跟进"]
    summary = [[c.value for c in row] for row in wb["汇总"].iter_rows()]
    assert summary[0] == ["项目", "数值", "代码"]
    assert ["探访次数 · 重点 · 入户探访", 1, "visits.key.home"] in summary
    assert ["报警 · 紧急呼叫 · 老人在家中取消", 2, "alarms.panic.cancelled_at_home"] in summary
    assert ["接警 · 60秒内接警率 %", 75, "answer.within_60s_pct"] in summary
    visits = [[c.value for c in row] for row in wb["探访"].iter_rows()]
    assert len(visits) == 1 + 5
    assert visits[1][:7] == [datetime(2026, 11, 2), "h001", "王秀英", "重点", "入户探访", "李梅", "是"]
    assert visits[1][7] == "健康管理、居家安全、应急救援"
    note = wb["探访"]["I5"]
    assert note.value == "=HYPERLINK(\"x\")" and note.data_type == "s"  # text, not a formula
    alarms = [[c.value for c in row] for row in wb["报警"].iter_rows()]
    assert alarms[0][:3] == ["发生时间（终端）", "收到时间（服务站）", "终端"]
    assert alarms[1][:7] == [datetime(2026, 11, 1, 7, 59, 30), datetime(2026, 11, 1, 8), "h001",
                             "王秀英", "重点", "跌倒", 5]
    assert alarms[-1][5] == "烟雾" and alarms[-1][11] == "未结束"
    assert len([[c.value for c in row] for row in wb["跟进"].iter_rows()]) == 1 + 3


def test_csv_export_in_english_reads_back_to_the_same_figures(ledger: Ledger, tmp_path: Path) -> None:
    paths = export_csv(ledger, RULES, tmp_path, CST, "en")
    assert [p.name for p in paths] == ["ledger-2026-11-summary.csv", "ledger-2026-11-visits.csv",
                                       "ledger-2026-11-alarms.csv", "ledger-2026-11-followups.csv"]
    assert read_figures(paths[0]) == dict(ledger.figures(RULES))
    raw = paths[1].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    assert "'=HYPERLINK" in raw.decode("utf-8-sig")  # a formula in a note is neutralised
    rows = list(read_rows(paths[1]))
    assert rows[0] == ["Date", "Hub", "Elder", "Group", "Mode", "Visitor", "Reached", "Content", "Notes"]
    assert rows[4][8] == "=HYPERLINK(\"x\")"  # … and read back as typed
    assert rows[1][4:8] == ["Home visit", "李梅", "yes", "Health、Home safety、Emergency help"]
    summary = list(read_rows(paths[0]))
    assert ["Visits · key group · Home visit", "1", "visits.key.home"] in summary
    alarms = list(read_rows(paths[2]))
    assert alarms[0][:2] == ["Raised (at the home)", "Received (at the station)"]
    assert alarms[0][12:] == ["Officer", "Notes", "Id"]
    assert [r[13] for r in alarms[1:]].count("grid worker went round") == 1  # the officer's notes


def test_people_told_dispatches_against_the_promise_and_first_acceptance() -> None:
    """Four dispatches on site 5, 10, 14 and 20 minutes after they were sent, against the
    15-minute promise: p50 12 min, p90 (nearest rank) 20 min, 3 of 4 within; one never stamped
    counts as not within. Acceptances 2 and 6 minutes after the alarm came: p50 4 min."""
    def sent(n: int, day: int, arrivals: list[float | None], accepted_after: float | None,
             sent: int, failed: int) -> AlarmRecord:
        a = alarm(n, "fall", f"2026-11-{day:02d}T08:00:00", 20, "onsite_help")
        d = [DispatchRecord("volunteer", "孙丽", a.received + 60, 900.0,
                            None if m is None else a.received + 60 + m * 60) for m in arrivals]
        return dataclasses.replace(a, dispatches=tuple(d), sent=sent, failed=failed,
                                   accepted=None if accepted_after is None else a.received + accepted_after)

    alarms = [sent(1, 2, [5, 10], 120, 3, 1), sent(2, 3, [14], 360, 2, 0), sent(3, 4, [20], None, 1, 2),
              sent(4, 5, [], None, 0, 0), sent(5, 6, [None], None, 1, 0)]
    december = dataclasses.replace(sent(6, 12, [30], 10, 9, 9), received=ts("2026-12-12T08:00:00"))
    f = dict(build(NOV, roster=ROSTER, visits=[], alarms=[*alarms, december], followups=[],
                   tz=CST).figures(RULES))
    assert (f["notify.sent"], f["notify.failed"]) == (7, 3)
    assert (f["notify.accepted"], f["notify.accept_median_s"]) == (2, 240.0)
    assert (f["dispatch.count"], f["dispatch.arrived"]) == (5, 4)
    assert (f["dispatch.arrival_median_s"], f["dispatch.arrival_p90_s"]) == (720.0, 1200.0)
    assert (f["dispatch.within_promise"], f["dispatch.within_promise_pct"]) == (3, 60.0)
    four = build(NOV, roster=ROSTER, visits=[], alarms=alarms[:3], followups=[], tz=CST)
    assert (four.notify.within_promise, four.notify.dispatches, four.notify.within_pct()) == (3, 4, 75.0)


def test_the_alarm_sheet_says_when_the_first_responder_was_sent_and_arrived(tmp_path: Path) -> None:
    a = alarm(1, "fall", "2026-11-02T08:00:00", 20, "onsite_help")
    a = dataclasses.replace(a, dispatches=(DispatchRecord("volunteer", "孙丽", a.received + 60, 900.0,
                                                          a.received + 660),))
    path = export_xlsx(build(NOV, roster=ROSTER, visits=[], alarms=[a], followups=[], tz=CST), RULES,
                       tmp_path / "ledger.xlsx", CST)
    rows = [[c.value for c in row] for row in openpyxl.load_workbook(path)["报警"].iter_rows()]
    assert rows[0][7:11] == ["接警时间", "派遣时间", "到达时间", "结束时间"]
    assert rows[1][8:10] == [datetime(2026, 11, 2, 8, 1), datetime(2026, 11, 2, 8, 11)]
