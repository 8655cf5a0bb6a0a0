"""Elder records: the station's homes.yaml still loads, and every mistake says what to write."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from console.casework.category import reassess
from console.casework.elder import ElderRecord, age_on
from console.casework.phone import Number, is_service, parse
from console.station.config import Category, load_homes
from console.station.store.station import StationStore
from tests.conftest import REPO
from tests.support.records_fakes import RULES

BASE: dict[str, Any] = {"name": "王秀英", "category": "key", "address": "青石镇桃源村三组12号"}


def record(**over: Any) -> ElderRecord:
    return ElderRecord.model_validate({**BASE, **over})


def error(**over: Any) -> str:
    with pytest.raises(ValidationError) as e:
        record(**over)
    return str(e.value)


def test_every_record_of_the_shipped_homes_file_is_a_valid_elder_record() -> None:
    homes = load_homes(REPO / "config/homes.yaml")
    for h in homes:
        r = ElderRecord.model_validate(h.elder.model_dump())
        assert r.model_dump(include=set(type(h.elder).model_fields)) == h.elder.model_dump()


def test_a_full_record() -> None:
    r = record(birth_date="1940-03-05", sex="female", id_tail="012x", file_no="QS-2024-0012",
               phone="0531-8888 1234", identifying="短发，戴助听器", disability_grade=2,
               ability="severe", bedridden=True, dementia=False, living_alone=True,
               conditions=[" 高血压 "], medicines=["硝苯地平"], allergies=["青霉素"],
               contacts=[{"name": "王建国", "relation": "儿子", "phone": "138-0000-0001"}],
               key_holder={"name": "李婶", "relation": "邻居", "phone": "+86 139 0000 0002"},
               grid_worker={"name": "李梅", "phone": "13900000003"},
               override={"category": "key", "reason": "独居且听力差", "by": "zhang",
                         "at": "2026-11-23T10:00:00+08:00"})
    assert r.id_tail == "012X" and r.conditions == ["高血压"]
    assert r.age_on(date(2026, 3, 4)) == 85 and r.age_on(date(2026, 3, 5)) == 86
    assert r.key_holder and r.key_holder.phone == "+86 139 0000 0002"


@pytest.mark.parametrize("over, expected", [
    ({"contacts": [{"name": "王建国", "phone": "call me"}]},
     "'call me' is not a mainland phone number: a mobile is 11 digits"),
    ({"phone": "12"}, "'12' is not a mainland phone number"),
    ({"phone": "138-0000-000"}, "is not a mainland phone number"),
    ({"phone": "120"}, "'120' is a service number, not a person's"),
    ({"age": 121}, "121 is not a plausible age: give 0 to 120"),
    ({"birth_date": "abc"}, "'abc' is not a date: write it as 1940-03-05"),
    ({"id_tail": "110101194003051234"}, "give the last 4 characters of the ID card"),
    ({"file_no": "档案12"}, "is not a file number: letters, digits"),
    ({"birth_date": "1840-01-01"}, "is before 1890: check the year"),
    ({"age": 86, "birth_date": "1940-03-05"}, "give the birth date or the age, not both"),
    ({"disability_grade": 5}, "disability_grade\n  Input should be less than or equal to 4"),
    ({"ability": "bad"}, "Input should be 'intact', 'mild', 'moderate', 'severe' or 'complete'"),
    ({"category": "general", "override": {"category": "key", "reason": "独居", "by": "zhang",
                                         "at": "2026-11-23T10:00:00+08:00"}},
     "category is general but the override sets key"),
    ({"override": {"category": "key", "reason": "独居", "by": "zhang", "at": "2026-11-23T10:00:00"}},
     "Input should have timezone info"),
    ({"conditions": [""]}, "String should have at least 1 character"),
    ({"colour": "red"}, "Extra inputs are not permitted"),
])
def test_mistakes_are_named(over: dict[str, Any], expected: str) -> None:
    assert expected in error(**over)


def test_a_record_is_frozen() -> None:
    r = record()
    with pytest.raises(ValidationError):
        r.name = "张三"  # type: ignore[misc]
    assert r.category is Category.KEY


@given(birth=st.dates(date(1900, 1, 1), date(2020, 12, 31)), days=st.integers(0, 40_000))
def test_age_counts_whole_years(birth: date, days: int) -> None:
    day = birth + timedelta(days=days)
    age = age_on(birth, day)
    # the last birthday is at most a year ago, the next one is still to come
    last = _birthday(birth, birth.year + age)
    assert last <= day < _birthday(birth, birth.year + age + 1)


def _birthday(birth: date, year: int) -> date:
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 February in a common year: counted from 1 March
        return date(year, 3, 1)


def test_override_time_is_kept_with_its_zone() -> None:
    at = "2026-11-23T10:00:00+08:00"
    r = record(override={"category": "key", "reason": "独居", "by": "zhang", "at": at})
    assert r.override and r.override.at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("typed", "number"), [
    ("138-0000-0001", Number("mobile", "13800000001")),
    ("+86 139 0000 0002", Number("mobile", "13900000002")),
    ("１３８０００００００１", Number("mobile", "13800000001")),  # full-width, from an IME
    ("0531-8800-0101", Number("landline", "053188000101")),
    ("010-1234567", Number("landline", "0101234567")),
    ("(0571) 8888 1234", Number("landline", "057188881234")),
    ("+86 571 8888 1234", Number("landline", "057188881234")),
    ("0571-88881234-801", Number("landline", "057188881234", "801")),
    ("0571-88881234转801", Number("landline", "057188881234", "801")),
    ("12345", None), ("120", None), ("12ab", None), ("138-0000-000", None),
    ("12800000001", None),  # no mobile starts 12
    ("0571888812345", None),  # a local number of 9 digits
    ("0571-0888-1234", None),  # a local number starting 0
    ("011-12345678", None),  # no such area code
    ("138-0000-0001转8", None),  # a mobile has no extension
    ("+1 555 123 4567", None),
])
def test_phones_are_mainland_mobiles_or_landlines_with_their_area_code(
        typed: str, number: Number | None) -> None:
    assert parse(typed) == number
    if number is None:
        assert "phone" in error(phone=typed)
    else:
        assert record(phone=typed).phone == typed.strip()


def test_service_numbers_are_refused_as_such() -> None:
    assert [t for t in ("110", "120", "12345", "95588", "400-800-1234") if not is_service(t)] == []
    assert not is_service("138-0000-0001")
    assert "'12345' is a service number" in error(contacts=[{"name": "王建国", "phone": "12345"}])


def test_a_record_stored_under_older_rules_stays_readable_and_can_change_group(tmp_path: Path) -> None:
    """An age of 125 and a phone of 12345 were accepted once: the station must still read such a
    record (its homes, queue and roster), and the rules may still regroup it."""
    old = {**BASE, "category": "general", "age": 125, "phone": "12345",
           "contacts": [{"name": "王建国", "phone": "120"}]}
    store = StationStore(tmp_path / "station.db")
    with sqlite3.connect(tmp_path / "station.db") as db:
        db.execute("INSERT INTO homes(hub, elder, added) VALUES ('h001', ?, 0)", (json.dumps(old),))
    stored = store.elder("h001")
    assert stored is not None and (stored.age, stored.phone) == (125, "12345")
    assert [h.hub for h in store.homes()] == ["h001"]
    change = reassess(stored, RULES, date(2026, 11, 23))
    assert change is not None and change.record.category is Category.KEY
    assert "125 is not a plausible age" in error(**old)  # entered again, it is refused
