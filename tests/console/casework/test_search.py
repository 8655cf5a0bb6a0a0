"""Elder search: Chinese names, pinyin initials and prefixes, phone digits, address, hub id."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.casework.search import ElderIndex
from tests.support.population import elder, population


@pytest.fixture(scope="module")
def index() -> ElderIndex:
    return ElderIndex([
        ("h001", elder("王秀英", phones=("138-0000-0001",), file_no="QS-0001", phone="0531-8888-1234")),
        ("h002", elder("张德福", "青石镇河西街45号2单元101", ("137-0000-0003",))),
        ("h003", elder("刘桂兰", "青石镇柳湾村一组3号")),
        ("h004", elder("王秀", "青石镇东山村五组8号")),
        ("h005", elder("单秀英", "青石镇新街12号")),
        ("h006", elder("吕桂兰", "青石镇新街14号")),
        ("h007", elder("汪小英", "青石镇新街16号")),
        ("h010", elder("曾国藩", "青石镇新街18号")),
    ])


@pytest.mark.parametrize("query, expected", [
    ("王秀英", ["h001"]),
    ("王秀", ["h004", "h001"]),  # the exact name first, then the longer one
    ("秀英", ["h005", "h001"]),
    ("wxy", ["h007", "h001"]),  # 汪小英 wang xiao ying too; ties in pinyin order
    ("WXY", ["h007", "h001"]),
    ("wangxiuying", ["h001"]),
    ("wang xiu", ["h004", "h001"]),
    ("wangxy", ["h007", "h001"]),
    ("wx", ["h007", "h004", "h001"]),
    ("xy", ["h005", "h007", "h001"]),  # the given name
    ("sxy", ["h005"]),  # 单 as a surname is shan …
    ("dxy", ["h005"]),  # … and dan as the character usually is
    ("zgf", ["h010"]),
    ("lgl", ["h003", "h006"]),  # 刘 liu, 吕 lv …
    ("lvgl", ["h006"]),
    ("lugl", ["h006"]),  # … or lu
    ("0001", ["h001"]),  # phone digits
    ("138 0000", ["h001"]),
    ("88881234", ["h001"]),  # the elder's own phone
    ("137", ["h002"]),
    ("柳湾", ["h003"]),
    ("新街", ["h006", "h005", "h007", "h010"]),  # address matches: 吕 lv, 单 shan, 汪 wang, 曾 zeng
    ("h001", ["h001"]),
    ("h00", ["h003", "h006", "h005", "h007", "h004", "h001", "h002"]),
    ("qs-0001", ["h001"]),
    ("", []),
    ("xyz", []),
    ("12", []),  # too few digits for a phone, and no id has them
])
def test_queries(index: ElderIndex, query: str, expected: list[str]) -> None:
    assert index.search(query) == expected


def test_names_that_start_with_the_query_come_first_and_the_limit_holds() -> None:
    people = population(2000)
    idx = ElderIndex(people)
    names = {k: r.name for k, r in people}
    got = idx.search("文", limit=10_000)  # a surname and a given-name character
    assert set(got) == {k for k, n in names.items() if "文" in n}
    starts = [names[k].startswith("文") for k in got]
    assert starts == sorted(starts, reverse=True) and any(starts) and not all(starts)
    assert idx.search("文", limit=5) == got[:5]


@given(i=st.integers(0, 9999))
def test_every_elder_is_found_by_initials_name_and_phone(big: ElderIndex, i: int) -> None:
    key, r = BIG[i]
    initials = "".join(s[0] for s in _pinyin(r.name))
    assert key in big.search(r.name, limit=10_000)
    assert key in big.search(initials, limit=10_000)
    assert key in big.search(r.contacts[0].phone, limit=10_000)
    assert big.search(key) == [key]


BIG = population(10_000)


@pytest.fixture(scope="module")
def big() -> ElderIndex:
    return ElderIndex(BIG)


def _pinyin(name: str) -> list[str]:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(name)
