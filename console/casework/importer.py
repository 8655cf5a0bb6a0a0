"""Elder records from the county's spreadsheets (CSV or XLSX), every bad row named.

The first row holds the headers (``COLUMNS``: zh_CN, English or the field name, any order;
columns not needed may be left out; a header nobody knows is refused, since a misspelt
``电话`` would otherwise drop every phone number silently). Each later row is one elder. Every
problem is reported as ``elders.xlsx, row 5, column 出生日期 (E): …`` with the row number Excel
shows, and the good rows come back as records, their group assigned by the county rules. A
group given in the file that the rules do not give becomes an override naming the file and row.
Rows whose hub or file number is used twice, in the file or already at the station, are
reported as duplicates, not imported.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from console.casework.category import assign, set_override
from console.casework.county import CountyRules
from console.casework.elder import Ability, Category, ElderRecord, Sex, age_on, birth_problem, day_written
from console.casework.problem import Problem
from console.casework.sheets import Cell, Sheet, SheetError, column_letter, read_rows, write_csv, write_xlsx
from hub.common.language import Language
from hub.common.wire import HUB_ID_PATTERN

MAX_CONTACTS = 8  # contact columns 联系人1姓名 … 联系人8电话, as many as a record holds


@dataclass(frozen=True, slots=True)
class Column:
    field: str  # the record's field; dotted for nested ones: contacts.0.phone
    zh_CN: str
    en: str
    required: bool = False

    def header(self, language: Language) -> str:
        return self.zh_CN if language == "zh_CN" else self.en

    @property
    def contact(self) -> int | None:
        """Which contact (from 0) a contact column is about; None for other columns."""
        head, _, rest = self.field.partition(".")
        return int(rest.partition(".")[0]) if head == "contacts" else None


def _contact_columns(i: int) -> tuple[Column, ...]:
    return (Column(f"contacts.{i}.name", f"联系人{i + 1}姓名", f"contact {i + 1} name"),
            Column(f"contacts.{i}.relation", f"联系人{i + 1}关系", f"contact {i + 1} relation"),
            Column(f"contacts.{i}.phone", f"联系人{i + 1}电话", f"contact {i + 1} phone"))


COLUMNS: tuple[Column, ...] = (
    Column("hub", "终端编号", "hub"),
    Column("file_no", "档案编号", "file number"),
    Column("name", "姓名", "name", required=True),
    Column("sex", "性别", "sex"),
    Column("birth_date", "出生日期", "birth date"),
    Column("age", "年龄", "age"),
    Column("id_tail", "身份证后四位", "id card last 4"),
    Column("phone", "本人电话", "phone"),
    Column("address", "住址", "address", required=True),
    Column("directions", "指路说明", "directions"),
    Column("identifying", "体貌特征", "identifying notes"),
    Column("category", "类别", "category"),
    Column("disability_grade", "残疾等级", "disability grade"),
    Column("ability", "能力评估", "ability"),
    Column("bedridden", "长期卧床", "bed-ridden"),
    Column("dementia", "失智", "dementia"),
    Column("living_alone", "独居", "living alone"),
    Column("limited_mobility", "行动不便", "limited mobility"),
    Column("conditions", "疾病", "conditions"),
    Column("medicines", "用药", "medicines"),
    Column("allergies", "过敏", "allergies"),
    Column("key_holder.name", "钥匙保管人", "key holder"),
    Column("key_holder.relation", "钥匙保管人关系", "key holder relation"),
    Column("key_holder.phone", "钥匙保管人电话", "key holder phone"),
    Column("grid_worker.name", "网格员", "grid worker"),
    Column("grid_worker.phone", "网格员电话", "grid worker phone"),
    *(c for i in range(MAX_CONTACTS) for c in _contact_columns(i)),
)
IGNORED = {"序号", "no", "no.", "#"}  # a row-number column many sheets start with
FLAGS = ("bedridden", "dementia", "living_alone", "limited_mobility")
LISTS = ("conditions", "medicines", "allergies")
WORDS: dict[str, dict[Any, tuple[str, str]]] = {
    "sex": {Sex.FEMALE: ("女", "female"), Sex.MALE: ("男", "male")},
    "category": {Category.KEY: ("重点", "key"), Category.SECONDARY: ("次重点", "secondary"),
                 Category.GENERAL: ("一般", "general")},
    "ability": {Ability.INTACT: ("能力完好", "intact"), Ability.MILD: ("轻度失能", "mild"),
                Ability.MODERATE: ("中度失能", "moderate"), Ability.SEVERE: ("重度失能", "severe"),
                Ability.COMPLETE: ("完全失能", "complete")},
    "bool": {True: ("是", "yes"), False: ("否", "no")},
}
ALIASES: dict[str, dict[str, Any]] = {  # other spellings seen in county sheets
    "sex": {"f": Sex.FEMALE, "m": Sex.MALE, "女性": Sex.FEMALE, "男性": Sex.MALE},
    "category": {"重点人群": Category.KEY, "次重点人群": Category.SECONDARY, "一般人群": Category.GENERAL},
    "ability": {"完好": Ability.INTACT, "轻度": Ability.MILD, "中度": Ability.MODERATE,
                "重度": Ability.SEVERE, "完全": Ability.COMPLETE, "完全丧失": Ability.COMPLETE},
    "bool": {"y": True, "n": False, "true": True, "false": False, "1": True, "0": False,
             "√": True, "×": False, "有": True, "无": False},
}
_GRADES = {"一": 1, "二": 2, "三": 3, "四": 4}
_SPLIT = re.compile(r"[、,，;；/\n]+")
_REQUIRED = Problem("missing", "required, but empty")


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    row: int
    column: str  # the header as in the file, and its letter: 出生日期 (E); "" for the whole row
    problem: Problem

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, column {self.column or '(the row)'}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Imported:
    row: int
    hub: str | None
    record: ElderRecord


@dataclass(frozen=True, slots=True)
class ImportResult:
    records: list[Imported] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    duplicates: list[RowError] = field(default_factory=list)  # those rows are not in records


def read_elders(path: Path, rules: CountyRules, *, today: date, now: datetime, actor: str,
                known_hubs: Collection[str] = (), known_files: Collection[str] = ()) -> ImportResult:
    """Read a sheet of elders. SheetError when the file as a whole cannot be used (not a table,
    unknown or missing columns); the problems of single rows are in the result."""
    rows = read_rows(path)
    header = next(rows, None)
    if not header:
        raise SheetError(Problem("empty_sheet", f"{path.name}: empty: the first row should hold the "
                                 "column headers", file=path.name))
    columns, labels = _columns(path.name, header)
    result = ImportResult()
    parsed = []
    for n, row in enumerate(rows, start=2):
        if any(v is not None for v in row):
            imported = _row(path.name, n, row, columns, labels, rules, today, now, actor, result.errors)
            if imported is not None:
                parsed.append(imported)
    dup = _duplicates(path.name, parsed, labels, known_hubs, known_files, result.duplicates)
    result.records.extend(imp for imp in parsed if imp.row not in dup)
    return result


def write_elders(path: Path, rows: Iterable[tuple[str | None, ElderRecord]], *,
                 language: Language = "zh_CN", contacts: int = 3) -> Path:
    """Records in the import column set (.csv or .xlsx): the template to fill in, and a way to
    hand records to the county. An override's reason is not in the columns; its group is."""
    used = [c for c in COLUMNS if c.contact is None or c.contact < contacts]
    sheet = Sheet("老人档案" if language == "zh_CN" else "Elders", [c.header(language) for c in used],
                  [[_cell(hub, r, c.field, language) for c in used] for hub, r in rows],
                  [max(8, 2 * len(c.header(language))) for c in used])
    return write_csv(path, sheet) if path.suffix.lower() == ".csv" else write_xlsx(path, [sheet])


def _columns(file: str, header: list[Cell]) -> tuple[dict[int, Column], dict[str, str]]:
    """Header index -> column, and field -> how the file names it (``出生日期 (E)``);
    SheetError naming unknown, repeated or missing headers."""
    known = {_norm(name): c for c in COLUMNS
             for name in (c.zh_CN, c.en, *(() if "." in c.field else (c.field,)))}
    columns: dict[int, Column] = {}
    labels: dict[str, str] = {}
    unknown = []
    for i, h in enumerate(header):
        name = _norm(str(h)) if h is not None else ""
        if not name or name in IGNORED:
            continue
        label = f"{h} ({column_letter(i)})"
        if (c := known.get(name)) is None:
            unknown.append(label)
        elif c.field in labels:
            raise SheetError(Problem("same_column", f"{file}: column {label} is the same as column "
                                     f"{labels[c.field]}", file=file, label=label, other=labels[c.field]))
        else:
            columns[i], labels[c.field] = c, label
    if unknown:
        known_names = "、".join(c.zh_CN for c in COLUMNS if c.contact is None) + \
            "、联系人1姓名、联系人1关系、联系人1电话 …"
        raise SheetError(Problem("unknown_columns", f"{file}: unknown column(s) {', '.join(unknown)}; "
                                 f"the columns are {known_names} (or their English names)",
                                 file=file, columns=", ".join(unknown), known=known_names))
    if missing := [c.zh_CN for c in COLUMNS if c.required and c.field not in labels]:
        raise SheetError(Problem("missing_columns", f"{file}: required column(s) missing: "
                                 f"{', '.join(missing)}", file=file, columns=", ".join(missing)))
    return columns, labels


def _row(file: str, n: int, row: list[Cell], columns: dict[int, Column], labels: dict[str, str],
         rules: CountyRules, today: date, now: datetime, actor: str,
         errors: list[RowError]) -> Imported | None:
    """One row as a record in its group, or None with its problems added to ``errors``."""
    problems: list[tuple[str, Problem]] = []  # (field, what is wrong)
    data: dict[str, Any] = {}
    for i, c in columns.items():
        v = row[i] if i < len(row) else None
        if v is None:
            if c.required:
                problems.append((c.field, _REQUIRED))
            continue
        try:
            data[c.field] = _value(c.field, v)
        except BadCell as e:
            problems.append((c.field, e.problem))
    hub, given = data.pop("hub", None), data.pop("category", None)
    if hub is not None and not re.fullmatch(HUB_ID_PATTERN, hub):
        problems.append(("hub", Problem("hub_id", f"{hub!r} is not a hub id: lower-case letters, "
                                        "digits, '-' and '_'", value=hub)))
    _check_age(data, today, problems)
    nested, contact_columns = _nest(data)
    record = None
    try:  # even with problems already found, so that one pass names them all
        record = ElderRecord.model_validate({**nested, "category": Category.GENERAL})
    except ValidationError as e:
        found = {f for f, _ in problems}
        problems += [(f, _problem(err)) for err in e.errors()
                     if (f := _field(err["loc"], contact_columns)) not in found]
    if record is None or problems:
        at = {c.field: i for i, c in columns.items()}  # left to right, as the officer reads the row
        problems.sort(key=lambda fp: at.get(fp[0], len(COLUMNS)))
        errors += [RowError(file, n, labels.get(f) or _canonical(f), p) for f, p in problems]
        return None
    record = record.model_copy(update={"category": assign(record, rules, today).category})
    if given is not None and given is not record.category:
        record = set_override(record, rules, today, category=given, by=actor, at=now,
                              reason=f"导入文件 {file} 第{n}行指定的类别").record
    return Imported(n, hub, record)


class BadCell(ValueError):
    """A cell that cannot be what its column holds; the problem says what to write instead."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.problem = problem


def _value(field: str, v: Cell) -> Any:
    """A cell as the record's field wants it; BadCell saying what to write instead."""
    if field == "birth_date":
        return _date(v)
    if field == "age":
        return _age(v)
    if field == "disability_grade":
        return _grade(v)
    if field in FLAGS:
        return _word("bool", v)
    if field in WORDS:
        return _word(field, v)
    if field in LISTS:
        return [s.strip() for s in _SPLIT.split(_text(v)) if s.strip()]
    if field == "id_tail" and isinstance(v, int):
        return f"{v:04d}"  # Excel made 0123 a number
    return _text(v)


def _text(v: Cell) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # a phone number Excel stored as a number
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v).strip()


def _age(v: Cell) -> int:
    text = _text(v)
    if not text.isdigit():
        raise BadCell(Problem("not_age", f"{text!r} is not an age in years", value=text))
    return int(text)


def _grade(v: Cell) -> int:
    text = _text(v).removesuffix("级")
    grade = _GRADES.get(text) or (int(text) if text.isdigit() else None)
    if grade not in (1, 2, 3, 4):
        raise BadCell(Problem("bad_grade", f"{_text(v)!r}: write the disability grade as 1 to 4 "
                              "(or 一级 … 四级)", value=_text(v)))
    return grade


def _date(v: Cell) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    text = _text(v)
    if (day := day_written(text)) is None:
        raise BadCell(Problem("not_date", f"{text!r} is not a date: write it as 1940-03-05", value=text))
    return day


def _word(kind: str, v: Cell) -> Any:
    text = _text(v).lower()
    for value, (zh, en) in WORDS[kind].items():
        if text in (zh, en, str(value).lower()):
            return value
    if text in ALIASES[kind]:
        return ALIASES[kind][text]
    zh, en = (", ".join(words[lang] for words in WORDS[kind].values()) for lang in (0, 1))
    raise BadCell(Problem("bad_choice", f"{_text(v)!r}: write one of {zh} (or in English: {en})",
                          value=_text(v), choices_zh=zh, choices_en=en))


def _check_age(data: dict[str, Any], today: date, problems: list[tuple[str, Problem]]) -> None:
    """A birth date in the future or too far back is a typo; an age beside a birth date must
    agree with it (within a year: the sheet may have been filled in last year); it is dropped
    either way, the record keeps the birth date only."""
    birth, age = data.get("birth_date"), data.get("age")
    if birth is None:
        return
    if problem := birth_problem(birth, today):
        problems.append(("birth_date", problem))
    elif age is not None:
        real = age_on(birth, today)
        if abs(real - age) > 1:
            problems.append(("age", Problem("age_mismatch", f"age {age} does not match the birth date "
                                            f"{birth} ({real} on {today})",
                                            age=age, birth=birth, real=real, today=today)))
        del data["age"]


def _nest(data: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Dotted fields as nested dicts; contacts packed in column order, with the column number
    each came from, so an error can name the column."""
    nested: dict[str, Any] = {}
    contacts: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, v in data.items():
        head, _, rest = key.partition(".")
        if head == "contacts":
            i, _, name = rest.partition(".")
            contacts[int(i)][name] = v
        elif rest:
            nested.setdefault(head, {})[rest] = v
        else:
            nested[key] = v
    order = sorted(contacts)
    if order:
        nested["contacts"] = [contacts[i] for i in order]
    return nested, order


def _field(loc: tuple[int | str, ...], contact_columns: list[int]) -> str:
    parts = [str(p) for p in loc]
    if parts[:1] == ["contacts"] and len(parts) > 1:
        parts[1] = str(contact_columns[int(parts[1])])
    if parts and parts[0] in LISTS:
        return parts[0]
    return ".".join(parts)


def _problem(err: ErrorDetails) -> Problem:
    """The record's own check, coded by pydantic's error type (the console's ``verr_<type>``)."""
    if err["type"] == "missing":
        return _REQUIRED
    return Problem(err["type"], err["msg"].removeprefix("Value error, "), **err.get("ctx", {}))


def _canonical(field: str) -> str:
    """A field's zh_CN header, for a problem in a column the file does not have."""
    return next((c.zh_CN for c in COLUMNS if c.field == field), field)


def _duplicates(file: str, rows: list[Imported], labels: dict[str, str], known_hubs: Collection[str],
                known_files: Collection[str], out: list[RowError]) -> set[int]:
    """Report rows sharing a hub or file number with another row or with the station; return
    their numbers. All rows of a clash are left out: which one is right is for a person to say."""
    bad: set[int] = set()
    for fld, known in (("hub", known_hubs), ("file_no", known_files)):
        seen: dict[str, list[int]] = defaultdict(list)
        for imp in rows:
            if (v := imp.hub if fld == "hub" else imp.record.file_no) is not None:
                seen[v].append(imp.row)
        for v, ns in seen.items():
            for n in ns:
                if (problem := _duplicate(v, [m for m in ns if m != n], v in known)) is not None:
                    out.append(RowError(file, n, labels.get(fld) or _canonical(fld), problem))
                    bad.add(n)
    out.sort(key=lambda e: e.row)
    return bad


def _duplicate(value: str, rows: list[int], at_station: bool) -> Problem | None:
    others = ", ".join(str(m) for m in rows)
    said = ([f"also in row {others}"] if rows else []) + (["already at the station"] if at_station else [])
    code = "dup_both" if rows and at_station else "dup_rows" if rows else "dup_station"
    return Problem(code, f"{value} is {' and '.join(said)}; the row is not imported",
                   value=value, rows=others) if said else None


def _cell(hub: str | None, r: ElderRecord, field: str, language: Language) -> Cell:
    if field == "hub":
        return hub
    head, _, rest = field.partition(".")
    v: Any = getattr(r, head)
    if head == "contacts":
        index, _, name = rest.partition(".")
        v = getattr(v[int(index)], name) if int(index) < len(v) else None
    elif rest:
        v = getattr(v, rest) if v is not None else None
    lang = 0 if language == "zh_CN" else 1
    if isinstance(v, bool):
        return WORDS["bool"][v][lang]
    if field in ("sex", "category", "ability") and v is not None:
        return WORDS[field][v][lang]
    if isinstance(v, list):
        return "、".join(v) or None
    return v if isinstance(v, str | int | date) or v is None else str(v)


def _norm(header: str) -> str:
    """Header spellings that mean the same: case, spaces, '_', a '*' marking a required
    column, a trailing note in brackets (出生日期（年-月-日）)."""
    h = re.sub(r"[（(][^（()）]*[)）]$", "", header.strip())
    return re.sub(r"[\s_*＊]", "", h).lower()
