"""Problems and validation errors in the console's language.

Casework checks return ``Problem`` (English text, a code and the values it names) and the
records' validators raise errors with a type (``phone``, ``id_tail``, … and pydantic's own
``missing``, ``string_too_long``, …) and their values. The console words both from its string
table — ``prob_<code>``, then ``verr_<type>`` — and falls back to the English text.
"""

from __future__ import annotations

from pydantic_core import ErrorDetails

from console.casework.problem import Problem
from console.tui.i18n import STRINGS, Texts


def problem_text(problem: str, t: Texts) -> str:
    if not isinstance(problem, Problem):
        return str(problem)
    key = next((k for k in (f"prob_{problem.code}", f"verr_{problem.code}") if k in STRINGS), None)
    if key is None:
        return str(problem)
    try:
        return t(key, **problem.values)
    except (KeyError, IndexError):  # a string that names a value this problem does not carry
        return str(problem)


def field_message(err: ErrorDetails, t: Texts) -> str:
    return problem_text(Problem(err["type"], err["msg"].removeprefix("Value error, "),
                                **err.get("ctx", {})), t)
