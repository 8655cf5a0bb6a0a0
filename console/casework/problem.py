"""A problem found in what a person gave (a visit, a sheet, a row), worded later.

Casework checks run on the console and at the station; the station answers in English, the
console in its own language. So a problem is its English text (what a log or the station says)
together with a code and the values the text names: the console words it from its string table.
"""

from __future__ import annotations


class Problem(str):
    """English text, plus ``code`` and ``values`` for the console's ``prob_<code>`` string."""

    code: str
    values: dict[str, str]

    def __new__(cls, code: str, text: str, **values: object) -> Problem:
        p = super().__new__(cls, text)
        p.code, p.values = code, {k: str(v) for k, v in values.items()}
        return p
