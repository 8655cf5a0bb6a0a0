"""Find an elder the way a duty officer types: 王秀, wxy, wangxiuy, wangxy, 0001, 桃源村, h001.

Keys are made once (pinyin is the slow part) and kept as one text per kind of key, one line per
elder, so a query is a few scans in C (``str.find``, one compiled regex) instead of a Python loop
over 10 000 records. Pinyin matching takes each typed letter as either the next letter of the
current syllable or the start of the next one, so initials (wxy), full pinyin (wangxiuying) and
anything between (wangxy) all match 王秀英. A surname read otherwise than the character usually
is (单 shan, 曾 zeng) matches both ways, and ü is found as v or u.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

from pypinyin import Style, lazy_pinyin

from console.casework.elder import ElderRecord

EXACT, PREFIX, CONTAINS, ADDRESS = range(4)  # match quality, best first
# Surnames read otherwise than their character usually is (多音字姓氏).
SURNAMES = {"单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "朴": "piao", "查": "zha",
            "盖": "ge", "繁": "po", "员": "yun", "尉": "yu", "乐": "yue", "覃": "qin", "翟": "zhai",
            "缪": "miao", "种": "chong", "秘": "bi", "折": "she", "召": "shao", "薄": "bo"}
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[a-z]+")  # a Han character or a Latin word


@dataclass(slots=True)
class _Lines:
    """Keys of one kind, one line each, and which entry each line belongs to."""

    parts: list[str] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    text: str = ""

    def add(self, entry: int, key: str) -> None:
        if key:
            self.parts.append(key.replace("\n", " "))
            self.owner.append(entry)

    def seal(self) -> None:
        self.text = "\n".join(self.parts)
        pos = 0
        for p in self.parts:
            self.starts.append(pos)
            pos += len(p) + 1

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos) - 1

    def find(self, q: str) -> Iterator[tuple[int, int]]:
        """(entry, quality) for every line containing ``q``."""
        i = self.text.find(q)
        while i >= 0:
            n = self.line(i)
            start, length = self.starts[n], len(self.parts[n])
            yield self.owner[n], (EXACT if length == len(q) else PREFIX) if i == start else CONTAINS
            i = self.text.find(q, start + length + 1)  # the next line: one hit a line is enough

    def match(self, pattern: re.Pattern[str]) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(self.text):
            n = self.line(m.start())
            yield self.owner[n], PREFIX if m.start() == self.starts[n] else CONTAINS


class ElderIndex:
    """Search over (key, record) pairs, the key being what the caller finds elders by (hub id)."""

    def __init__(self, elders: Iterable[tuple[str, ElderRecord]]) -> None:
        self.keys: list[str] = []
        self._order: list[tuple[str, str]] = []  # ties go in pinyin order, as in a phone's contacts
        self._name, self._pinyin, self._phone = _Lines(), _Lines(), _Lines()
        self._id, self._address = _Lines(), _Lines()
        for i, (key, r) in enumerate(elders):
            self.keys.append(key)
            self._order.append((_spelled(r.name), r.name))
            self._name.add(i, r.name)
            for reading in _readings(r.name):
                self._pinyin.add(i, reading)
            for phone in _phones(r):
                self._phone.add(i, phone)
            self._id.add(i, key.lower())
            if r.file_no:
                self._id.add(i, r.file_no.lower())
            self._address.add(i, r.address)
        for lines in (self._name, self._pinyin, self._phone, self._id, self._address):
            lines.seal()

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query: str, limit: int = 50) -> list[str]:
        """Keys of the elders matching ``query``: best match first (exact, starts with, contains,
        address), then in pinyin order of the name."""
        best: dict[int, int] = {}
        for entry, quality in self._hits(query):
            if quality < best.get(entry, ADDRESS + 1):
                best[entry] = quality
        ranked = sorted(best, key=lambda e: (best[e], self._order[e], self.keys[e]))
        return [self.keys[e] for e in ranked[:limit]]

    def _hits(self, query: str) -> Iterator[tuple[int, int]]:
        q = "".join(query.split()).lower()
        if not q:
            return
        yield from self._id.find(q)
        if any(_is_han(c) for c in q):
            yield from self._name.find(q)
            yield from ((e, ADDRESS) for e, _ in self._address.find(q))
        elif q.isascii() and q.isalpha():
            yield from self._pinyin.match(_pinyin_pattern(q))
        digits = "".join(c for c in q if c.isdigit())
        if len(digits) >= 3 and all(c.isdigit() or c in "+- " for c in q):
            yield from ((e, CONTAINS) for e, _ in self._phone.find(digits))


def _pinyin_pattern(q: str) -> re.Pattern[str]:
    """Each letter continues the syllable or starts the next one (keys are 'wang xiu ying')."""
    return re.compile(r"(?m)(?:^|(?<= ))" + "(?:[a-z]* )?".join(re.escape(c) for c in q))


def _readings(name: str) -> list[str]:
    """'wang xiu ying' for 王秀英, and a line for each other reading of the surname and for
    ü written u; Latin letters in a name are kept as they are."""
    tokens = _TOKEN.findall(name.lower())
    if not tokens:
        return []
    rest = [_syllable(t) for t in tokens[1:]]
    first = _syllable(tokens[0])
    lines = [" ".join([s, *rest]) for s in dict.fromkeys([first, SURNAMES.get(tokens[0], first)])]
    return list(dict.fromkeys([*lines, *(line.replace("v", "u") for line in lines if "v" in line)]))


def _spelled(name: str) -> str:
    """The name in pinyin for sorting, a surname as a surname is read (曾 zeng)."""
    tokens = _TOKEN.findall(name.lower())
    return " ".join(SURNAMES.get(t) or _syllable(t) if i == 0 else _syllable(t) for i, t in enumerate(tokens))


@cache
def _syllable(token: str) -> str:
    """The usual reading of a Han character; a Latin word as it is."""
    return lazy_pinyin(token, style=Style.NORMAL)[0] if _is_han(token) else token


def _phones(r: ElderRecord) -> Iterator[str]:
    people = [*r.contacts, *(p for p in (r.key_holder, r.grid_worker) if p)]
    for phone in (r.phone, *(p.phone for p in people)):
        if phone:
            yield "".join(c for c in phone if c.isdigit())


def _is_han(c: str) -> bool:
    return "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff"
