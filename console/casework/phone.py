"""Mainland China phone numbers, as a record holds them: the elder's own and each contact's.

Every phone field of a record is checked here (``elder.Phone``), so that each number is one a
duty officer can ring and the station can text (design: help reaches people). Accepted:

- a mobile: 11 digits, 13… to 19… (138-0000-0001, 138 0000 0001, +86 138 0000 0001);
- a landline with its area code: 010 or 02x and 7 or 8 digits, or a four-digit code (0571, 0531)
  and 7 or 8 digits; the local number never starts with 0 (010-1234567, 0571-88881234,
  (0531) 8800 0101, +86 571 8888 1234); an extension after it as its own group, or after
  转 / 分机 / ext / # (0571-88881234-801, 0571-88881234转801).

Groups may be split by spaces, '-' or brackets. Service numbers (110, 120, 119, 12345, 95588,
400 …) are refused, with their own reason: a contact is a person, and when to call 120, 119 or
110 is the county plan's (config/county.yaml). The record keeps the number as typed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal, NamedTuple

_EXT = re.compile(r"(?:转|分机|ext\.?|x|#)\s*(\d{1,6})", re.IGNORECASE)
_SPLIT = re.compile(r"[\s()\-]+")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_COUNTRY = ("+86", "0086")
_SERVICE = re.compile(r"1\d{2,4}|9\d{4,5}|[48]00\d{7}")  # 110, 12345, 95588, 400/800 lines


class Number(NamedTuple):
    kind: Literal["mobile", "landline"]
    national: str  # the digits dialled within China: 13800000001, 057188881234
    ext: str = ""


def parse(text: str) -> Number | None:
    """The number written in ``text``; None when it is not a mainland mobile or landline."""
    text = unicodedata.normalize("NFKC", text).strip()  # full-width digits and dashes from an IME
    ext = ""
    if (marked := _EXT.search(text)) and marked.end() == len(text):
        text, ext = text[:marked.start()], marked[1]
    groups = [g for g in _SPLIT.split(text) if g]
    if groups and (country := next((c for c in _COUNTRY if groups[0].startswith(c)), None)):
        groups[0] = groups[0].removeprefix(country)
        groups = [g for g in groups if g]
        if groups and not re.match(r"1[3-9]", groups[0]):
            groups[0] = "0" + groups[0]  # +86 571 …: the area code without its trunk 0
    if not groups or not all(g.isascii() and g.isdigit() for g in groups):
        return None
    digits = "".join(groups)
    if _MOBILE.fullmatch(digits):
        return None if ext else Number("mobile", digits)
    return _landline(groups, ext)


def is_service(text: str) -> bool:
    """A service or hotline number (110, 120, 12345, 95588, 400-…): dialled, but not a person."""
    return bool(_SERVICE.fullmatch("".join(_SPLIT.split(unicodedata.normalize("NFKC", text)))))


def _landline(groups: list[str], ext: str) -> Number | None:
    """Area code, a local number of 7 or 8 digits, then at most one group: the extension. The
    local number ends where the groups end or at a group's end; the longest that fits wins."""
    digits = "".join(groups)
    area = 3 if digits.startswith(("010", "02")) else 4 if re.match(r"0[3-9]", digits) else 0
    if not area or len(digits) <= area or digits[area] == "0":
        return None
    ends, n = [], 0
    for g in groups:
        n += len(g)
        ends.append(n)
    for end in sorted((e for e in ends if 7 <= e - area <= 8), reverse=True):
        rest = digits[end:]
        if not rest:
            return Number("landline", digits, ext)
        if not ext and ends.index(end) == len(ends) - 2 and len(rest) <= 6:
            return Number("landline", digits[:end], rest)
    return None
