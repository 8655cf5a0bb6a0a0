"""Problems and validation errors in the console's language.

Casework checks return ``Problem`` (English text, a code and the values it names) and the
records' validators raise errors with a type (``phone``, ``id_tail``, … and pydantic's own
``missing``, ``string_too_long``, …) and their values. The console words both from its string
table — ``prob_<code>``, then ``verr_<type>`` — and any other (a type no form was seen to
raise) as ``verr_other``: never pydantic's English in a Chinese console.

A file or folder that cannot be read or written is told the same way (``os_error_text``): what
is wrong with which path, in the console's language, never the operating system's English.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from pydantic_core import ErrorDetails

from console.casework.elder import DATE_SHAPE, day_written
from console.casework.problem import Problem
from console.tui.i18n import STRINGS, Texts

_DATE_ERRORS = ("date_parsing", "date_from_datetime_parsing", "not_date")

# errno -> the string that says it (oserr_<name>); a path is named in each
_OS_ERRORS = {
    errno.EACCES: "denied", errno.EPERM: "denied",
    errno.EISDIR: "is_folder",
    errno.ENOTDIR: "not_folder", errno.EEXIST: "not_folder",
    errno.EROFS: "read_only",
    errno.ENOSPC: "full", errno.EDQUOT: "full",
    errno.ENAMETOOLONG: "too_long",
}
# the operating system's text for an errno, as casework passes it on (``e.strerror``)
_BY_STRERROR = {os.strerror(n): n for n in (*_OS_ERRORS, errno.ENOENT)}


def problem_text(problem: str, t: Texts) -> str:
    if not isinstance(problem, Problem):
        return str(problem)
    if problem.code in _DATE_ERRORS and (day := no_such_date(problem.values.get("value"))):
        return t("verr_no_such_date", value=day)
    if (n := os_errno(problem)) is not None:
        return os_error_text(OSError(n, os.strerror(n)), t, problem.values.get("file", ""))
    key = next((k for k in (f"prob_{problem.code}", f"verr_{problem.code}") if k in STRINGS), None)
    try:
        if key is not None:
            return t(key, **problem.values)
    except (KeyError, IndexError):  # a string that names a value this problem does not carry
        pass
    return t("verr_other", text=str(problem))


def os_errno(problem: Problem) -> int | None:
    """The errno behind a sheet that could not be read (casework passes on only the operating
    system's text), when the console has words for it."""
    return _BY_STRERROR.get(problem.values.get("error", "")) if problem.code == "unreadable" else None


def field_message(err: ErrorDetails, t: Texts) -> str:
    values = dict(err.get("ctx", {}))
    if err["type"] in _DATE_ERRORS:
        values.setdefault("value", err.get("input"))
    return problem_text(Problem(err["type"], err["msg"].removeprefix("Value error, "), **values), t)


def no_such_date(value: object) -> str | None:
    """``value`` when it is written as a date (year, month, day) that the calendar does not
    have: 1940-13-45, 1941-02-29 (said as such, not as a format to follow); None for anything
    else."""
    if not isinstance(value, str) or not DATE_SHAPE.fullmatch(value.strip()) or day_written(value):
        return None
    return value.strip()


def os_error_text(e: OSError, t: Texts, path: Path | str | None = None) -> str:
    """Why a file or folder could not be used, with the path, in the console's language:
    没有权限 / 找不到文件夹 / 是一个文件夹 …; an error the console has no words for names its
    errno (ENOENT, EIO, …), still with the path."""
    where = str(path if path is not None else (e.filename or ""))
    n = e.errno or 0
    if n == errno.ENOENT:
        missing = Path(where)
        key = "no_folder" if missing.parent != missing and not missing.parent.exists() else "no_file"
        where = str(missing.parent) if key == "no_folder" else where
        return t(f"oserr_{key}", path=where)
    if n in (errno.ENOTDIR, errno.EEXIST):  # name the file that stands where a folder should be
        where = str(next((p for p in (Path(where), *Path(where).parents) if p.is_file()), where))
    if (name := _OS_ERRORS.get(n)) is not None:
        return t(f"oserr_{name}", path=where)
    return t("oserr_other", path=where, code=errno.errorcode.get(n, str(n)))
