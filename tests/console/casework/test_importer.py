"""Elder records from CSV and XLSX: good rows become records, every bad row is named."""

from __future__ import annotations

import tempfile
from collections.abc import Collection
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.casework.county import load_county
from console.casework.elder import Ability, Contact, ElderRecord, Sex
from console.casework.importer import COLUMNS, ImportResult, read_elders, write_elders
from console.casework.sheets import SheetError
from console.station.config import Category, load_homes
from tests.conftest import REPO

RULES = load_county(REPO / "config/county.yaml")
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=8)))

GOOD_CSV = "\n".join(",".join(row) for row in [
    ["序号", "终端编号", "档案编号", "姓名*", "性别", "出生日期（年-月-日）", "年龄", "身份证后四位", "住址",
     "指路说明", "残疾等级", "能力评估", "长期卧床", "失智", "独居", "疾病", "用药", "钥匙保管人",
     "钥匙保管人电话", "联系人1姓名", "联系人1关系", "联系人1电话", "联系人2姓名", "联系人2电话", "类别"],
    ["1", "h001", "QS-0001", "王秀英", "女", "1940/3/5", "86", "012x", "青石镇桃源村三组12号",
     "村委会往东200米", "", "中度失能", "否", "否", "是", "高血压、糖尿病", "硝苯地平", "李婶",
     "139-0000-0002", "王建国", "儿子", "138-0000-0001", "李梅", "139 0000 0003", ""],
    ["2", "h002", "QS-0002", "张德福", "男", "1948年6月1日", "", "", "青石镇河西街45号", "", "二级",
     "", "", "", "", "", "", "", "", "张丽", "女儿", "13700000003", "", "", ""],
    ["3", "h003", "QS-0003", "刘桂兰", "女", "19540910", "", "", "青石镇柳湾村一组3号", "", "", "",
     "", "", "", "", "", "", "", "", "", "", "", "", "重点"],
]) + "\n"


def read(path: Path, known_files: Collection[str] = ()) -> ImportResult:
    return read_elders(path, RULES, today=TODAY, now=NOW, actor="import:zhang", known_files=known_files)


def csv_file(tmp_path: Path, text: str, name: str = "elders.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_a_county_sheet_as_typed(tmp_path: Path) -> None:
    result = read(csv_file(tmp_path, GOOD_CSV))
    assert result.errors == [] and result.duplicates == []
    by_hub = {i.hub: i for i in result.records}
    wang = by_hub["h001"].record
    assert by_hub["h001"].row == 2
    assert (wang.birth_date, wang.age, wang.sex, wang.id_tail) == (date(1940, 3, 5), None, Sex.FEMALE, "012X")
    assert (wang.ability, wang.living_alone, wang.bedridden) == (Ability.MODERATE, True, False)
    assert wang.conditions == ["高血压", "糖尿病"] and wang.medicines == ["硝苯地平"]
    assert wang.key_holder == Contact(name="李婶", phone="139-0000-0002")
    assert [c.name for c in wang.contacts] == ["王建国", "李梅"] and wang.contacts[1].relation == ""
    assert wang.category is Category.KEY and wang.override is None  # 86: the rules say key
    zhang = by_hub["h002"].record
    assert (zhang.birth_date, zhang.disability_grade, zhang.category) == (date(1948, 6, 1), 2, Category.KEY)
    liu = by_hub["h003"].record  # the file says key, the rules say general: an override
    assert liu.category is Category.KEY and liu.override
    assert (liu.override.reason, liu.override.by, liu.override.at) == (
        "导入文件 elders.csv 第4行指定的类别", "import:zhang", NOW)


def test_every_bad_row_is_named(tmp_path: Path) -> None:
    text = GOOD_CSV.splitlines()[0] + "\n" + "\n".join([
        "1,h001,QS-0001,王秀英,女,1940-13-01,,,桃源村,,,,,,,,,,,,,,,,",
        "2,H 2,QS-0002,,男,,,,,,五级,半失能,也许,,,,,,,张丽,,call me,,,",
        "3,h003,QS-0003,刘桂兰,,1950-01-01,60,,柳湾村,,,,,,,,,李婶,,,,,,,",
        "4,h004,QS-0004,陈永年,,2030-01-01,,,东山村,,,,,,,,,,,,,,,,普通",
        ",,,,,,,,,,,,,,,,,,,,,,,,",  # an empty row: skipped
    ]) + "\n"
    result = read(csv_file(tmp_path, text))
    assert result.records == []
    phone = ("is not a mainland phone number: a mobile is 11 digits from 13… to 19… (138-0000-0001); "
             "a landline starts with its area code (0571-88881234, 010-1234567), an extension after "
             "'-' or 转")
    assert [str(e).removeprefix("elders.csv, ") for e in result.errors] == [
        "row 2, column 出生日期（年-月-日） (F): '1940-13-01' is not a date: write it as 1940-03-05",
        "row 3, column 终端编号 (B): 'H 2' is not a hub id: lower-case letters, digits, '-' and '_'",
        "row 3, column 姓名* (D): required, but empty",
        "row 3, column 住址 (I): required, but empty",
        "row 3, column 残疾等级 (K): '五级': write the disability grade as 1 to 4 (or 一级 … 四级)",
        "row 3, column 能力评估 (L): '半失能': write one of 能力完好, 轻度失能, 中度失能, 重度失能, "
        "完全失能 (or in English: intact, mild, moderate, severe, complete)",
        "row 3, column 长期卧床 (M): '也许': write one of 是, 否 (or in English: yes, no)",
        f"row 3, column 联系人1电话 (V): 'call me' {phone}",
        "row 4, column 年龄 (G): age 60 does not match the birth date 1950-01-01 (76 on 2026-11-23)",
        "row 4, column 钥匙保管人电话 (S): required, but empty",
        "row 5, column 出生日期（年-月-日） (F): 2030-01-01 is after today (2026-11-23)",
        "row 5, column 类别 (Y): '普通': write one of 重点, 次重点, 一般 (or in English: key, "
        "secondary, general)",
    ]


def test_problems_found_by_the_record_name_their_column(tmp_path: Path) -> None:
    text = GOOD_CSV.splitlines()[0] + "\n" + "\n".join([
        "1,h001,QS-0001,王秀英,女,,,,桃源村,,,,,,,,,李婶,,,,,,,",  # key holder without a phone
        "2,h002,QS-0002,张德福,男,,,,河西街,,,,,,,,,,,张丽,,call me,,,",
        "3,h003,QS-0003,刘桂兰,女,,,,柳湾村,,,,,,,,,,,,,,李梅,12,",
    ]) + "\n"
    errors = [str(e) for e in read(csv_file(tmp_path, text)).errors]
    phone = ("is not a mainland phone number: a mobile is 11 digits from 13… to 19… (138-0000-0001); "
             "a landline starts with its area code (0571-88881234, 010-1234567), an extension after "
             "'-' or 转")
    assert errors == [
        "elders.csv, row 2, column 钥匙保管人电话 (S): required, but empty",
        f"elders.csv, row 3, column 联系人1电话 (V): 'call me' {phone}",
        f"elders.csv, row 4, column 联系人2电话 (X): '12' {phone}",
    ]


def test_duplicates_in_the_file_and_at_the_station(tmp_path: Path) -> None:
    text = "姓名,住址,终端编号,档案编号\n王秀英,桃源村,h001,QS-1\n张德福,河西街,h002,QS-2\n" \
           "刘桂兰,柳湾村,h001,QS-3\n陈永年,东山村,h009,QS-9\n"
    result = read(csv_file(tmp_path, text), known_files={"QS-9"})
    assert [str(e) for e in result.duplicates] == [
        "elders.csv, row 2, column 终端编号 (C): h001 is also in row 4; the row is not imported",
        "elders.csv, row 4, column 终端编号 (C): h001 is also in row 2; the row is not imported",
        "elders.csv, row 5, column 档案编号 (D): QS-9 is already at the station; the row is not imported",
    ]
    assert [i.hub for i in result.records] == ["h002"] and result.errors == []


@pytest.mark.parametrize("text, expected", [
    ("姓名,住址,电话\n", "elders.csv: unknown column(s) 电话 (C); the columns are 终端编号、档案编号、姓名"),
    ("姓名,地点\n", "elders.csv: unknown column(s) 地点 (B)"),
    ("姓名,住址,name\n", "elders.csv: column name (C) is the same as column 姓名 (A)"),
    ("终端编号,姓名\n", "elders.csv: required column(s) missing: 住址"),
    ("", "elders.csv: empty: the first row should hold the column headers"),
])
def test_a_file_that_cannot_be_used_is_refused_as_a_whole(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SheetError) as e:
        read(csv_file(tmp_path, text))
    assert str(e.value).startswith(expected)


def test_not_a_table(tmp_path: Path) -> None:
    for name, content in (("elders.xlsx", b"PK\x03\x04 not really"), ("elders.docx", b"x"),
                          ("elders.csv", b"\xff\xfe\x00\xd8 \xff")):
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(SheetError, match=f"^{name}: "):
            read(p)


def test_english_headers_and_a_gbk_file_from_excel(tmp_path: Path) -> None:
    text = ("Name,Address,Birth Date,Bed-ridden,contact 1 name,Contact 1 Phone\n"
            "单秀英,青石镇,1950-01-01,yes,单强,13600000004\n")
    result = read(csv_file(tmp_path, text, encoding="gb18030"))
    (only,) = result.records
    assert only.record.name == "单秀英" and only.record.bedridden and only.record.category is Category.KEY
    assert only.record.contacts[0].phone == "13600000004"


def test_an_xlsx_with_numbers_and_dates_where_excel_put_them(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["姓名", "住址", "出生日期", "身份证后四位", "本人电话", "残疾等级", "失智", "联系人1姓名",
               "联系人1电话"])
    ws.append(["王秀英", "桃源村", datetime(1940, 3, 5), 123, 13800000001, 1, True, "王建国", 13800000002.0])
    path = tmp_path / "elders.xlsx"
    wb.save(path)
    (only,) = read(path).records
    r = only.record
    assert (r.birth_date, r.id_tail, r.phone, r.disability_grade, r.dementia) == (
        date(1940, 3, 5), "0123", "13800000001", 1, True)
    assert r.contacts[0].phone == "13800000002"


def test_the_homes_file_round_trips_through_both_formats(tmp_path: Path) -> None:
    homes = load_homes(REPO / "config/homes.yaml")
    records = [(h.hub, ElderRecord.model_validate(h.elder.model_dump())) for h in homes]
    for name in ("elders.xlsx", "elders.csv"):
        path = write_elders(tmp_path / name, records)
        result = read(path)
        assert result.errors == [] and result.duplicates == []
        back = [(i.hub, i.record) for i in result.records]
        # the file keeps each elder's group; where the rules (without facts) disagree, it is an override
        assert [(hub, r.model_dump(exclude={"override"})) for hub, r in back] == \
               [(hub, r.model_dump(exclude={"override"})) for hub, r in records]


def test_the_template_has_every_column_once() -> None:
    zh = [c.zh_CN for c in COLUMNS]
    en = [c.en.lower() for c in COLUMNS]
    assert len(set(zh)) == len(zh) and len(set(en)) == len(en)


NAMES = st.text(st.sampled_from("王秀英张德福刘桂兰陈永年赵玉珍单曾吕"), min_size=1, max_size=4)
PHONES = st.from_regex(r"1[3-9][0-9]-[0-9]{4}-[0-9]{4}", fullmatch=True)
RECORDS = st.builds(
    lambda name, birth, grade, ability, flags, phones, conditions, tail: ElderRecord(
        name=name, birth_date=birth, category=Category.GENERAL, address="青石镇" + name,
        disability_grade=grade, ability=ability, bedridden=flags[0], dementia=flags[1],
        living_alone=flags[2], limited_mobility=flags[3], id_tail=tail, conditions=conditions,
        contacts=[Contact(name=f"联系人{i}", relation="邻居" if i else "", phone=p)
                  for i, p in enumerate(phones)]),
    NAMES, st.none() | st.dates(date(1920, 1, 1), date(1966, 1, 1)), st.none() | st.integers(1, 4),
    st.none() | st.sampled_from(list(Ability)), st.tuples(*[st.booleans()] * 4), st.lists(PHONES, max_size=3),
    st.lists(st.sampled_from(["高血压", "糖尿病", "冠心病"]), unique=True, max_size=3),
    st.none() | st.from_regex(r"[0-9]{3}[0-9X]", fullmatch=True))


@settings(max_examples=40, deadline=None)
@given(records=st.lists(RECORDS, min_size=1, max_size=5), suffix=st.sampled_from([".csv", ".xlsx"]))
def test_written_records_read_back_the_same(records: list[ElderRecord], suffix: str) -> None:
    from console.casework.category import assign

    expected = [r.model_copy(update={"category": assign(r, RULES, TODAY).category}) for r in records]
    with tempfile.TemporaryDirectory() as d:
        path = write_elders(Path(d) / f"elders{suffix}", [(f"h{i:03d}", r) for i, r in enumerate(expected)])
        result = read(path)
    assert result.errors == [] and result.duplicates == []
    assert [i.record for i in result.records] == expected
