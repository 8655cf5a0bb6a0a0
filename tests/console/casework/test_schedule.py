"""Visit schedule: cadence by group, holiday and extreme-weather boosts, home visits, due lists."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.casework.county import load_county
from console.casework.records import VisitRecord, visit_problems
from console.casework.schedule import History, Need, agenda, histories, next_due
from console.station.config import Category
from tests.conftest import REPO

RULES = load_county(REPO / "config/county.yaml")  # holidays 10-01..10-07, 2027-01-01..03, 02-05..13
D = date.fromisoformat
SINCE = D("2026-01-01")


def due(category: Category, last: str | None, home: str | None = None, *periods_: tuple[str, str, str],
        by: str | None = None) -> tuple[str, Need, str | None]:
    periods = [RULES.period(b, D(s), D(e)) for b, s, e in periods_]
    d = next_due(History("h1", category, SINCE, last and D(last), home and D(home)), RULES, periods,
                 by=by and D(by))
    return d.due.isoformat(), d.need, d.boost


@pytest.mark.parametrize("category, last, expected", [
    (Category.KEY, "2026-11-10", "2026-11-17"),
    (Category.SECONDARY, "2026-11-10", "2026-11-24"),
    (Category.GENERAL, "2026-11-10", "2026-12-10"),
])
def test_cadence_by_group(category: Category, last: str, expected: str) -> None:
    assert due(category, last, last) == (expected, Need.VISIT, None)


def test_a_new_elder_is_due_on_the_day_they_join_and_a_key_elder_at_home() -> None:
    assert due(Category.GENERAL, None) == ("2026-01-01", Need.VISIT, None)
    assert due(Category.KEY, None) == ("2026-01-01", Need.HOME, None)


def test_a_key_elder_needs_a_home_visit_each_month() -> None:
    # phoned every week, last home visit 10-20: a home visit is due 11-19
    assert due(Category.KEY, "2026-11-15", "2026-10-20") == ("2026-11-19", Need.HOME, None)
    # the phone call is due first; looking a week ahead, make it the home visit
    assert due(Category.KEY, "2026-11-10", "2026-10-20") == ("2026-11-17", Need.VISIT, None)
    assert due(Category.KEY, "2026-11-10", "2026-10-20", by="2026-11-23") == ("2026-11-17", Need.HOME, None)


@pytest.mark.parametrize("category, last, expected", [
    (Category.KEY, "2026-09-28", ("2026-10-02", Need.VISIT, "holiday")),  # 7 / 2 -> every 4 days
    (Category.GENERAL, "2026-09-20", ("2026-10-05", Need.VISIT, "holiday")),  # 30 / 2 = 15 days
    (Category.GENERAL, "2026-09-10", ("2026-10-01", Need.VISIT, "holiday")),  # not before it starts
    (Category.GENERAL, "2026-10-03", ("2026-11-02", Need.VISIT, None)),  # 10-18 is after the holiday
    (Category.GENERAL, "2026-08-01", ("2026-08-31", Need.VISIT, None)),  # overdue before it anyway
])
def test_a_holiday_halves_the_interval(category: Category, last: str,
                                       expected: tuple[str, Need, str]) -> None:
    assert due(category, last, last) == expected


def test_extreme_weather_asks_for_one_visit_in_the_period() -> None:
    cold = ("extreme_weather", "2026-12-01", "2026-12-03")
    assert due(Category.GENERAL, "2026-11-25", None, cold) == ("2026-12-01", Need.VISIT, "extreme_weather")
    assert due(Category.GENERAL, "2026-12-01", None, cold) == ("2026-12-31", Need.VISIT, None)


@given(category=st.sampled_from(list(Category)), last=st.dates(D("2026-01-01"), D("2027-12-31")),
       start=st.dates(D("2026-01-01"), D("2027-12-31")), length=st.integers(0, 30),
       boost=st.sampled_from(["holiday", "extreme_weather"]))
def test_a_boost_only_brings_a_visit_forward_into_its_period(category: Category, last: date, start: date,
                                                             length: int, boost: str) -> None:
    cadence = RULES.visits.cadence_days.days(category)
    period = RULES.period(boost, start, start + timedelta(days=length))
    d = next_due(History("h1", category, SINCE, last, last), RULES, [period])
    assert last < d.due <= last + timedelta(days=cadence)
    if d.due < last + timedelta(days=cadence):  # brought forward: into one of its boost's periods
        assert any(p.start <= d.due <= p.end for p in [*RULES.visits.periods, period] if p.boost == d.boost)
    else:
        assert d.boost is None


def test_the_day_agenda_lists_the_most_overdue_first() -> None:
    hs = [History("a", Category.GENERAL, SINCE, D("2026-10-01"), D("2026-10-01")),  # due 10-31
          History("b", Category.KEY, SINCE, D("2026-11-10"), D("2026-11-10")),  # due 11-17
          History("c", Category.GENERAL, SINCE, D("2026-10-24"), D("2026-10-24")),  # due 11-23
          History("d", Category.SECONDARY, SINCE, D("2026-11-10"), D("2026-11-10")),  # due 11-24
          History("e", Category.KEY, SINCE, D("2026-10-31"), D("2026-10-31")),  # due 11-07
          History("f", Category.GENERAL, SINCE, D("2026-11-20"), D("2026-11-20"))]  # due 12-20
    today = D("2026-11-23")
    day = agenda(hs, RULES, today)
    assert [(d.elder, d.days_overdue(today)) for d in day.overdue] == [("a", 23), ("e", 16), ("b", 6)]
    assert [d.elder for d in day.due] == ["c"]
    week = agenda(hs, RULES, today, horizon_days=7)
    assert [d.elder for d in week.due] == ["c", "d"]


def test_histories_count_only_visits_that_reached_the_elder() -> None:
    v = [VisitRecord("h1", "王秀英", Category.KEY, D("2026-11-20"), "phone", "李梅", ("health",)),
         VisitRecord("h1", "王秀英", Category.KEY, D("2026-11-22"), "phone", "李梅", reached=False),
         VisitRecord("h1", "王秀英", Category.KEY, D("2026-11-02"), "home", "李梅", ("home_safety",)),
         VisitRecord("h1", "王秀英", Category.KEY, D("2026-10-02"), "home", "李梅", ("health",))]
    hs = histories({"h1": (Category.KEY, SINCE), "h2": (Category.GENERAL, D("2026-11-01"))}, v, RULES)
    assert hs == [History("h1", Category.KEY, SINCE, D("2026-11-20"), D("2026-11-02")),
                  History("h2", Category.GENERAL, D("2026-11-01"))]


def test_a_visit_is_checked_against_the_rules_before_it_is_saved() -> None:
    ok = VisitRecord("h1", "王秀英", Category.KEY, D("2026-11-23"), "online", "李梅", ("health", "emotional"))
    assert visit_problems(ok, RULES, D("2026-11-23")) == []
    assert visit_problems(VisitRecord("h1", "王秀英", Category.KEY, D("2026-11-22"), "phone", "李梅",
                                      reached=False), RULES, D("2026-11-23")) == []
    bad = VisitRecord("h1", "王秀英", Category.KEY, D("2026-11-24"), "letter", " ", ("health", "chat"))
    assert visit_problems(bad, RULES, D("2026-11-23")) == [
        "visit date 2026-11-24 is in the future",
        "unknown visit mode 'letter' (modes: phone, online, road, home)",
        "unknown visit content chat (contents: health, home_safety, policy, care_advice, emotional, "
        "community, emergency)",
        "who visited is missing"]
    empty = VisitRecord("h1", "王秀英", Category.KEY, D("2026-11-23"), "home", "李梅")
    assert visit_problems(empty, RULES, D("2026-11-23")) == [
        "a visit that reached the elder covers at least one content item"]
