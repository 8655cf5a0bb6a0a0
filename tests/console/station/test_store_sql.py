"""The station's SQL stays in what SQLite and PostgreSQL both take (docs/architecture.md, "The
station database"): the spellings of one engine only are caught here, before a county's
station meets them. What the engines spell differently lives in console/station/store/db.py."""

from __future__ import annotations

import re

from tests.conftest import REPO

ONE_ENGINE = {  # spelling -> what to write instead
    r"INSERT OR (IGNORE|REPLACE)": "INSERT … ON CONFLICT … DO NOTHING / DO UPDATE",
    r"\blastrowid\b": "RETURNING id",
    r"\bjson_(extract|each|type|array|object)\(": "Db.json / Db.json_number, or IN (?, …)",
    r"\bsum\(\w+ *(=|<|>|!=|IS)": "count(CASE WHEN … THEN 1 END)",
    r"\b(max|min)\([^()]*(\([^()]*\))?[^()]*,": "CASE WHEN a > b THEN a ELSE b END",
    r"WHERE 1(?! = 1)[\"' ]": "WHERE 1 = 1",
    r"PRAGMA ": "a method of Db",
    r"BEGIN IMMEDIATE": "the writer's _tx",
    r"\bGREATEST\(|\bLEAST\(|::": "SQL both engines take",
}


def test_the_station_sql_is_in_the_common_subset() -> None:
    found = []
    for path in sorted((REPO / "console/station").rglob("*.py")):
        if path.name == "db.py" or "trust" in path.parts:
            continue
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if '"' not in code and "'" not in code:
                continue  # SQL is in strings
            for spelling, instead in ONE_ENGINE.items():
                if re.search(spelling, code) and not _python(code):
                    found.append(f"{path.relative_to(REPO)}:{n}: {code.strip()} -> {instead}")
    assert found == []


def _python(code: str) -> bool:
    """A line of Python that only looks like SQL (a max() of values, a docstring)."""
    return bool(re.search(r"(return|=|\() *(max|min)\(", code) and "SELECT" not in code
                and "SET" not in code) or code.strip().startswith(('"""', "``"))


def test_the_rules_catch_what_they_name() -> None:
    samples = ["INSERT OR IGNORE INTO homes(hub) VALUES (?)", "cur.lastrowid",
               "SELECT json_extract(payload, '$.data')", "sum(state = 'failed')",
               "SET pressed_last = max(coalesce(pressed_last, ?), ?)", 'SELECT 1 FROM audit WHERE 1"',
               "PRAGMA table_info(x)"]
    for s in samples:
        assert any(re.search(p, s) for p in ONE_ENGINE), s
