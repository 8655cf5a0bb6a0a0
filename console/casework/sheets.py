"""Tables to and from CSV and XLSX files as staff really use them: opened in Excel or WPS.

CSV is written as UTF-8 with a byte-order mark (without it Excel on a Chinese Windows reads
UTF-8 as GBK and shows mojibake) and read as UTF-8 or, failing that, GB18030 (what such an
Excel saves). Text typed by people can start with ``=``; Excel would run it as a formula, so
CSV text cells starting with a formula character get a leading apostrophe (removed again on
reading) and XLSX text cells are stored as text, never as formulas.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell as XlCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from console.casework.problem import Problem

Cell = str | int | float | date | datetime | None
MAX_BYTES = 50 * 1024 * 1024  # a county's records are a few MB; more is a wrong file
MAX_ROWS = 100_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # XML cannot hold these; Excel neither


class SheetError(Exception):
    """A file that cannot be used as a whole; str() names the file and what is wrong, in
    English, and ``problem`` carries the code the console words it by."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)  # column widths in characters, XLSX only


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index: 0 -> A, 26 -> AA."""
    return get_column_letter(index + 1)


def write_csv(path: Path, sheet: Sheet) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(sheet.header)
    w.writerows([[_csv_cell(v) for v in row] for row in sheet.rows])
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    return path


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)  # a new workbook comes with one sheet
    for s in sheets:
        ws = wb.create_sheet(s.name)
        ws.append([_xl_cell(ws, h) for h in s.header])
        for c in ws[1]:
            c.font = Font(bold=True)
        for row in s.rows:
            ws.append([_xl_cell(ws, v) for v in row])
        ws.freeze_panes = "A2"
        for i, width in enumerate(s.widths):
            ws.column_dimensions[column_letter(i)].width = width
    wb.save(path)
    return path


def read_rows(path: Path) -> Iterator[list[Cell]]:
    """The rows of a CSV file or of an XLSX workbook's first sheet, header first; trailing
    empty cells dropped. SheetError for a file that is not one of them."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path)
    else:
        raise SheetError(Problem("not_sheet", f"{path.name}: not a .csv or .xlsx file (save it from "
                                 "Excel or WPS as one)", file=path.name))


def _csv_cell(v: Cell) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        v = _CONTROL.sub("", v)
        return "'" + v if v.startswith(_FORMULA_START) else v
    return str(v)


def _xl_cell(ws: object, v: Cell) -> XlCell | Cell:
    if not isinstance(v, str):
        return v
    cell = XlCell(ws, value=_CONTROL.sub("", v))
    cell.data_type = "s"  # text, even when it starts with "=" or looks like an error code
    return cell


def _csv_rows(path: Path) -> Iterator[list[Cell]]:
    raw = _read_bytes(path)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SheetError(Problem("encoding", f"{path.name}: neither UTF-8 nor GBK text; save it "
                                 "again as CSV (UTF-8)", file=path.name))
    try:
        for n, row in enumerate(csv.reader(io.StringIO(text, newline=""))):
            if n > MAX_ROWS:
                raise _too_many_rows(path)
            yield _trim([_uncsv(v) for v in row])
    except csv.Error as e:
        raise SheetError(Problem("bad_csv", f"{path.name}: not readable as CSV: {e}",
                                 file=path.name, error=e)) from None


def _xlsx_rows(path: Path) -> Iterator[list[Cell]]:
    _read_bytes(path)  # the size check
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as e:
        raise SheetError(Problem("bad_xlsx", f"{path.name}: not an Excel workbook (.xlsx): {e}",
                                 file=path.name, error=e)) from None
    try:
        ws = wb.worksheets[0]
        for n, row in enumerate(ws.iter_rows(values_only=True)):
            if n > MAX_ROWS:
                raise _too_many_rows(path)
            yield _trim([_unxl(v) for v in row])
    finally:
        wb.close()


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise SheetError(Problem("unreadable", f"{path.name}: cannot read: {e.strerror or e}",
                                 file=path.name, error=e.strerror or e)) from None
    if len(raw) > MAX_BYTES:
        mb = MAX_BYTES // 1024 // 1024
        raise SheetError(Problem("too_large", f"{path.name}: larger than {mb} MB", file=path.name, mb=mb))
    return raw


def _too_many_rows(path: Path) -> SheetError:
    return SheetError(Problem("too_many_rows", f"{path.name}: more than {MAX_ROWS} rows",
                              file=path.name, max=MAX_ROWS))


def _uncsv(v: str) -> Cell:
    v = v.strip()
    if v[:1] == "'" and v[1:2] in _FORMULA_START:
        return v[1:]
    return v or None


def _unxl(v: object) -> Cell:
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, bool):  # a TRUE/FALSE cell: the importer reads it as yes/no text
        return "是" if v else "否"
    if isinstance(v, int | float | date | datetime) or v is None:
        return v
    return str(v)


def _trim(row: list[Cell]) -> list[Cell]:
    while row and row[-1] is None:
        row.pop()
    return row
