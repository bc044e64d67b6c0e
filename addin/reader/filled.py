"""Read a filled perprisk workbook: recognise it, read its inputs by name, validate them.

The template and its version come from the hidden defined name ``PerpRisk_Template`` (or the
very hidden ``_perprisk`` sheet). Inputs are found through their defined names, so a user who
inserted rows above a table is still read correctly; the layout module says what each name
should hold. Cell values are read with python-calamine (Rust, several times faster than
openpyxl on large sheets); which cells hold formulas comes from a scan of the sheet XML, since
calamine reports only values. Formula results are never read: every figure is recomputed from
the inputs (a file saved by openpyxl has no cached results and a user's may be stale).

The file is opened read-only and never written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import sys
import time
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from python_calamine import CalamineError, CalamineWorkbook

from addin.reader.package import PackageInfo, parse_reference, read_package, string_constant
from addin.reader.safety import (
    DEFAULT_LIMITS,
    Limits,
    SheetScan,
    WorkbookError,
    check_all_xml,
    check_shared_strings,
    open_package,
    shared_string_sizes,
    sheet_cells,
)
from addin.workbook import layout
from addin.workbook.layout import Column, Field, Rule, Sheet, Table, Template

ERROR_VALUES = frozenset({"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!",
                          "#GETTING_DATA", "#SPILL!", "#CALC!"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the workbook, located by sheet and cell."""

    sheet: str
    cell: str
    what: str
    expected: str

    def __str__(self) -> str:
        return f"{self.sheet}!{self.cell}: {self.what}; expected {self.expected}"


@dataclass
class FilledWorkbook:
    """The inputs of one filled workbook and every problem found in them.

    ``fields[sheet_key][field_key]`` holds typed setting values (defaults applied, None when
    blank or invalid); ``tables[table_key]`` a DataFrame with one column per input column key
    and the workbook row number as index, holding only rows that have an input;
    ``first_rows[table_key]`` the workbook row of each table's first row (row 1 of the table
    for formulas such as ``INDEX(Pos_Size, n)``), which moves when rows are inserted above.
    """

    path: Path
    template: Template
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    cell_of: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    table_columns: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    first_rows: dict[str, int] = field(default_factory=dict)
    read_seconds: float = 0.0
    #: Values that are allowed but look wrong (a mark far from the entry): worth a look, they
    #: do not stop a report.
    warnings: list[Problem] = field(default_factory=list)
    #: Header cells that are inputs (``Column.header_input``: the asset of a price column),
    #: by (table key, column key); None when blank.
    headers: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def table_cell(self, table: str, column: str, row: int) -> tuple[str, str]:
        """(sheet title, cell address) of a table cell, for messages."""
        title, col = self.table_columns[(table, column)]
        return title, f"{get_column_letter(col)}{row}"

    def add(self, sheet: str, cell: str, what: str, expected: str) -> None:
        self.problems.append(Problem(sheet, cell, what, expected))

    def warn(self, sheet: str, cell: str, what: str, expected: str) -> None:
        self.warnings.append(Problem(sheet, cell, what, expected))


# ----------------------------------------------------------------------------------------------
# Values and rules

def is_blank(value: Any) -> bool:
    """No input: None, NaN or only whitespace."""
    return value is None or (isinstance(value, str) and value.strip() == "") or (
        isinstance(value, float) and math.isnan(value))


def is_empty_cell(value: Any) -> bool:
    """A cell with no input: nothing, or only whitespace. A NaN read from a cell is not empty:
    no spreadsheet writes one, and it is refused as a number that is not finite."""
    return value is None or (isinstance(value, str) and value.strip() == "")


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _bound(value: float, kind: str) -> str:
    return f"{value * 100:g}%" if kind == "percent" else f"{value:g}"


def describe(rule: Rule) -> str:
    """What a valid value looks like, in words."""
    if rule.kind == "choice":
        return "one of " + ", ".join(rule.choices)
    if rule.kind == "venue":
        return "a venue name, e.g. " + ", ".join(rule.choices)
    if rule.kind == "text":
        return "some text"
    if rule.kind == "date":
        return "a date"
    noun = {"integer": "a whole number", "percent": "a percentage",
            "number": "a number"}[rule.kind]
    lo, hi = rule.minimum, rule.maximum
    if lo is not None and hi is not None:
        low = "above" if rule.exclusive_minimum else "from"
        return f"{noun} {low} {_bound(lo, rule.kind)} to {_bound(hi, rule.kind)}"
    if lo is not None:
        return f"{noun} {'>' if rule.exclusive_minimum else '>='} {_bound(lo, rule.kind)}"
    if hi is not None:
        return f"{noun} <= {_bound(hi, rule.kind)}"
    return noun


def convert(value: Any, rule: Rule) -> tuple[Any, str | None]:
    """Typed value and None, or None and what is wrong. Blank handling is the caller's."""
    if isinstance(value, str) and value.strip() in ERROR_VALUES:
        return None, f"the cell shows the error {value.strip()}"
    if rule.kind == "text":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip(), None
    if rule.kind == "venue":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return None, f"{_shown(value)} is a number, not a venue name"
        return str(value).strip().lower(), None
    if rule.kind == "choice":
        text = str(value).strip().lower()
        if text in rule.choices:
            return text, None
        return None, f"{_shown(value)} is not an allowed value"
    if rule.kind == "date":
        if isinstance(value, dt.datetime):
            return value.date(), None
        if isinstance(value, dt.date):
            return value, None
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip()), None
            except ValueError:
                pass
        return None, f"{_shown(value)} is not a date"
    # number, integer, percent
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            return None, f"{_shown(value)} is text, not a number"
        return None, f"{_shown(value)} is not a number"
    number = float(value)
    if not math.isfinite(number):
        return None, f"{_shown(value)} is not a finite number"
    if rule.kind == "integer" and not number.is_integer():
        return None, f"{_shown(value)} is not a whole number"
    lo, hi = rule.minimum, rule.maximum
    if lo is not None and (number < lo or (rule.exclusive_minimum and number == lo)):
        return None, f"{_bound(number, rule.kind)} is too small"
    if hi is not None and number > hi:
        return None, f"{_bound(number, rule.kind)} is too large"
    return number, None


# ----------------------------------------------------------------------------------------------
# Reading

class _Grid:
    """Values of one sheet from calamine, addressed 1-based."""

    def __init__(self, rows: list[list[Any]], errors: Mapping[str, str] | None = None) -> None:
        self.rows = rows
        # Error cells arrive empty: put the error back, so that it is named, not "empty".
        for ref, error in (errors or {}).items():
            column, row = coordinate_from_string(ref)
            col = column_index_from_string(column)
            if 0 < row <= len(rows):
                line = rows[row - 1]
                if col > len(line):
                    line.extend([None] * (col - len(line)))
                line[col - 1] = error

    def column(self, col: int, first: int, last: int) -> list[Any]:
        """Values of rows ``first``..``last`` of one column (None past the sheet's end)."""
        lines = self.rows[first - 1:last]
        values = [line[col - 1] if col <= len(line) else None for line in lines]
        return values + [None] * (last - first + 1 - len(values))

    def get(self, row: int, col: int) -> Any:
        if 0 < row <= len(self.rows):
            line = self.rows[row - 1]
            if 0 < col <= len(line):
                return line[col - 1]
        return None


def _template_tag(info: PackageInfo, calamine: CalamineWorkbook, archive: zipfile.ZipFile,
                  name: str, limits: Limits, shared: list[int]) -> str | None:
    text = info.names.get(layout.TEMPLATE_ID_NAME)
    if text is not None:
        tag = string_constant(text)
        if tag:
            return tag
    entry = info.sheets.get(layout.META_SHEET)
    if entry is not None:
        # the same extent check as every other sheet before the dense read
        sheet_cells(archive, entry.part, name, layout.META_SHEET, limits, shared)
        rows = _sheet_rows(calamine, layout.META_SHEET, entry.part, name)
        grid = _Grid(rows)
        ident, version = grid.get(1, 2), grid.get(2, 2)
        if ident:
            number = int(version) if isinstance(version, float | int) else version
            return f"{ident}@{number}"
    return None


def _sheet_limits(sheet: Sheet, limits: Limits) -> Limits:
    """``limits``, with room for twice the sheet's own tables when they are larger."""
    rows = max((t.last_row for t in sheet.tables), default=0)
    columns = max((len(t.columns) for t in sheet.tables), default=0)
    if 2 * rows * columns <= limits.max_cells:
        return limits
    return dataclasses.replace(limits, max_cells=2 * rows * columns)


def _sheet_rows(calamine: CalamineWorkbook, title: str, part: str, name: str) -> list[list[Any]]:
    """Every row of one sheet; a part the reader cannot parse is named, not a traceback."""
    try:
        return calamine.get_sheet_by_name(title).to_python(skip_empty_area=False)
    except (CalamineError, ValueError, KeyError, IndexError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise WorkbookError(f"{name}: sheet {title!r} ({part}) is damaged and cannot be read "
                            f"({reason})") from None


def _resolve_template(tag: str | None, name: str) -> Template:
    if tag is None:
        raise WorkbookError(
            f"{name}: not a perprisk workbook (no {layout.TEMPLATE_ID_NAME} identifier); start "
            "from a blank template made by `python build.py` or `perprisk fill`")
    template = layout.template_for_tag(tag)
    if template is not None:
        return template
    ident, _, version = tag.partition("@")
    known = layout.TEMPLATES.get(ident)
    if known is not None:
        raise WorkbookError(
            f"{name}: template {ident} version {version}, but this perprisk reads version "
            f"{known.version}; fill a current template (perprisk fill) and copy the inputs over")
    raise WorkbookError(f"{name}: unknown template {tag!r}; known: "
                        + ", ".join(t.tag for t in layout.TEMPLATES.values()))


def read_filled_workbook(path: Path | str, *, limits: Limits = DEFAULT_LIMITS) -> FilledWorkbook:
    """Read and validate a filled workbook.

    Raises WorkbookError (or its subclasses HostileFileError, NotAWorkbookError) when the file
    cannot be read at all; problems with individual inputs are collected in ``problems``.
    """
    started = time.perf_counter()
    path = Path(path)
    try:
        book = _read(path, limits)
    except WorkbookError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            CalamineError, OSError, KeyError, IndexError, ValueError, OverflowError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise WorkbookError(f"{path.name}: the workbook is damaged ({reason})") from None
    book.read_seconds = time.perf_counter() - started
    return book


def _read(path: Path, limits: Limits) -> FilledWorkbook:
    name = path.name
    with open_package(path, limits) as archive:
        check_all_xml(archive, name, limits)
        check_shared_strings(archive, name)
        shared = shared_string_sizes(archive)
        info = read_package(archive, name)
        scans: dict[str, SheetScan] = {}
        try:
            calamine = CalamineWorkbook.from_path(str(path))
        except CalamineError as exc:
            raise WorkbookError(f"{name}: cannot be read as a workbook ({exc})") from None
        try:
            template = _resolve_template(
                _template_tag(info, calamine, archive, name, limits, shared), name)
            book = FilledWorkbook(path=path, template=template)
            for key in layout.sheet_closure(template.sheets):
                sheet = layout.SHEETS[key]
                if not sheet.fields and not sheet.tables:
                    continue
                entry = info.sheets.get(sheet.title)
                if entry is None:
                    book.add(sheet.title, "A1", "the sheet is missing",
                             f"the sheet {sheet.title!r} of template {template.tag}")
                    continue
                if entry.part not in archive.NameToInfo:
                    raise WorkbookError(f"{name}: the sheet {sheet.title!r} points to the part "
                                        f"{entry.part or '(none)'}, which is not in the file")
                scans[key] = sheet_cells(archive, entry.part, name, sheet.title,
                                         _sheet_limits(sheet, limits), shared)
                rows = _sheet_rows(calamine, sheet.title, entry.part, name)
                _read_sheet(book, sheet, _Grid(rows, scans[key].error_cells), scans[key], info)
        finally:
            calamine.close()
    _cross_checks(book)
    return book


def _located(book: FilledWorkbook, info: PackageInfo, sheet: Sheet, name: str,
             fallback: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """(first_row, first_col, last_row, last_col) of a defined name, else the layout's."""
    text = info.names.get(name)
    ref = parse_reference(text) if text is not None else None
    where = f"{get_column_letter(fallback[1])}{fallback[0]}"
    if ref is not None and ref.sheet == sheet.title:
        rows, columns = ref.last_row - ref.first_row, ref.last_column - ref.first_column
        if (rows, columns) == (fallback[2] - fallback[0], fallback[3] - fallback[1]):
            return ref.first_row, ref.first_column, ref.last_row, ref.last_column
        # A name stretched over other cells would read what the template never put there
        # (and a name over millions of rows would cost their memory): the template's range.
        size = fallback[2] - fallback[0] + 1
        book.add(sheet.title, where,
                 f"the defined name {name} covers {rows + 1:,} row(s) x {columns + 1:,} "
                 f"column(s) ({_shown(text)})",
                 f"{name} to cover {size} row(s) of one column as in the template")
        return fallback
    what = "the defined name is missing" if text is None else f"the defined name points to {text}"
    book.add(sheet.title, where, f"{what} ({name})",
             f"{name} to refer to {sheet.quoted()}!{where} as in the template")
    return fallback


def _read_sheet(book: FilledWorkbook, sheet: Sheet, grid: _Grid, scan: SheetScan,
                info: PackageInfo) -> None:
    for table in sheet.tables:
        book.tables[table.key] = _read_table(book, sheet, table, grid, scan, info)
    # A sheet with tables is in use once a table has a row; until then its required settings
    # are not asked for (a trader who does not use the audit sheet need not sign it).
    in_use = not sheet.tables or any(
        len(book.tables[t.key]) for t in sheet.tables if t.inputs())
    values: dict[str, Any] = {}
    for f in sheet.fields:
        row = sheet.field_row(f.key)
        r, c, _, _ = _located(book, info, sheet, f.name, (row, 2, row, 2))
        book.cell_of[(sheet.key, f.key)] = (sheet.title, f"{get_column_letter(c)}{r}")
        values[f.key] = _read_field(book, sheet, f, grid, scan, r, c, required=in_use)
    book.fields[sheet.key] = values


def _read_field(book: FilledWorkbook, sheet: Sheet, f: Field, grid: _Grid, scan: SheetScan,
                row: int, col: int, *, required: bool = True) -> Any:
    cell = f"{get_column_letter(col)}{row}"
    raw = grid.get(row, col)
    if f.role == "formula":
        if not scan.has_formula(row, col):
            book.add(sheet.title, cell, f"the formula of {f.label!r} was replaced by "
                     + ("nothing" if is_blank(raw) else f"the value {_shown(raw)}"),
                     "the template's formula (copy it from a blank template)")
        return None
    text = "".join(scan.formula_texts.get(cell, "").split()).lower()
    if scan.has_formula(row, col) and text not in _template_formulas().get(
            (sheet.key, f.key), frozenset()):
        book.add(sheet.title, cell, f"{f.label!r} holds a formula, whose result is not read",
                 f"{describe(f.rule)} typed in (copy, then paste as values)")
        return None
    if is_empty_cell(raw):
        if required and f.rule.required:
            book.add(sheet.title, cell, f"{f.label!r} is empty", describe(f.rule))
        return f.value if f.rule.kind != "date" else None
    value, wrong = convert(raw, f.rule)
    if wrong:
        book.add(sheet.title, cell, f"{f.label}: {wrong}", describe(f.rule))
    return value


def _read_table(book: FilledWorkbook, sheet: Sheet, table: Table, grid: _Grid,
                scan: SheetScan, info: PackageInfo) -> pd.DataFrame:
    spans: dict[str, tuple[int, int, int]] = {}  # column key -> (col, first_row, last_row)
    for column in table.columns:
        col = table.column_index(column.key)
        r1, c1, r2, _ = _located(book, info, sheet, table.name_of(column.key),
                                 (table.first_row, col, table.last_row, col))
        spans[column.key] = (c1, r1, r2)
        book.table_columns[(table.key, column.key)] = (sheet.title, c1)
        if column.header_input:
            head = grid.get(r1 - 1, c1)
            book.headers[(table.key, column.key)] = None if is_blank(head) else head
    book.first_rows[table.key] = min(r1 for _, r1, _ in spans.values())
    inputs = table.inputs()
    if not inputs:  # a computed table (a summary): nothing to read, nothing to validate
        return pd.DataFrame(index=pd.Index([], name="row"))
    first = min(spans[c.key][1] for c in inputs)
    last = max(spans[c.key][2] for c in inputs)
    # Column by column: one list per input column, so the work per cell stays small.
    raw = {c.key: grid.column(spans[c.key][0], first, last) for c in inputs}
    filled = [[not is_empty_cell(v) for v in values] for values in raw.values()]
    used_at = [i for i, flags in enumerate(zip(*filled, strict=True)) if any(flags)]
    used = [first + i for i in used_at]
    _rows_below(book, sheet, table, grid, spans, last)
    data: dict[str, list[Any]] = {}
    for column in inputs:
        values = raw[column.key]
        data[column.key] = _read_column(book, sheet, column, spans[column.key][0],
                                        [values[i] for i in used_at], used)
    _formula_inputs(book, sheet, inputs, spans, scan, data, used)
    for column in table.formulas():
        col = spans[column.key][0]
        letter = get_column_letter(col)
        missing = {f"{letter}{row}" for row in used} - scan.formula_cells
        for row in used:
            if f"{letter}{row}" in missing:
                value = grid.get(row, col)
                book.add(sheet.title, f"{letter}{row}",
                         f"the formula of {column.header!r} was replaced by "
                         + ("nothing" if is_blank(value) else f"the value {_shown(value)}"),
                         "the template's formula (copy it from the row above)")
    return pd.DataFrame(data, index=pd.Index(used, name="row"))


@functools.cache
def _template_formulas() -> dict[tuple[str, str], frozenset[str]]:
    """Formulas the template itself writes into input cells (the SPAN rows' moves follow the
    scan-range setting, the exposure defaults to the positions'), by (sheet key, field or
    column key); lower case, without "=" and spaces."""
    from addin.workbook import prefill

    def key(text: str) -> str:
        return "".join(text.split())[1:].lower()

    found: dict[tuple[str, str], set[str]] = {}
    every = frozenset(layout.SHEETS)
    for sheet in layout.SHEETS.values():
        for f in sheet.fields:
            value = prefill.field_value(sheet, f, every)
            if f.role == "input" and isinstance(value, str) and value.startswith("="):
                found.setdefault((sheet.key, f.key), set()).add(key(value))
        for table in sheet.tables:
            for row in prefill.table_rows(sheet, table):
                for column, value in row.items():
                    if isinstance(value, str) and value.startswith("="):
                        found.setdefault((sheet.key, column), set()).add(key(value))
    return {where: frozenset(texts) for where, texts in found.items()}


def _formula_inputs(book: FilledWorkbook, sheet: Sheet, inputs: tuple[Column, ...],
                    spans: dict[str, tuple[int, int, int]], scan: SheetScan,
                    data: dict[str, list[Any]], used: list[int]) -> None:
    """Input cells holding formulas are named and not read: their stored result may be stale
    (a file saved without recalculating) and the reader never evaluates formulas."""
    if not scan.formula_cells:
        return
    at = {row: i for i, row in enumerate(used)}
    flagged: set[str] = set()
    for column in inputs:
        col, first, last = spans[column.key]
        letter = get_column_letter(col)
        rows = sorted(int(ref[len(letter):]) for ref in scan.formula_cells
                      if ref.startswith(letter) and ref[len(letter):].isdigit())
        allowed = _template_formulas().get((sheet.key, column.key), frozenset())
        for row in rows:
            text = "".join(scan.formula_texts.get(f"{letter}{row}", "").split()).lower()
            if first <= row <= last and text not in allowed:
                flagged.add(f"{letter}{row}")
                if row in at:
                    data[column.key][at[row]] = None
    if flagged:
        # What the cell's stored result looked like (empty, not a number) is beside the point.
        book.problems = [p for p in book.problems
                         if p.sheet != sheet.title or p.cell not in flagged]
        headers = {get_column_letter(spans[c.key][0]): c for c in inputs}
        for ref in sorted(flagged, key=lambda r: (len(r), r)):
            column = headers[ref.rstrip("0123456789")]
            book.add(sheet.title, ref, f"{column.header} holds a formula, whose result is not "
                     "read", f"{describe(column.rule)} typed in (copy, then paste as values)")


def _read_column(book: FilledWorkbook, sheet: Sheet, column: Column, col: int,
                 values: list[Any], rows: list[int]) -> list[Any]:
    """Typed values of one input column; plain in-bounds numbers take a fast path."""
    rule = column.rule
    numeric = rule.kind in ("number", "percent", "integer")
    # Finite bounds: an infinite value fails them and takes the slow path, which refuses it.
    lo = -sys.float_info.max if rule.minimum is None else rule.minimum
    hi = sys.float_info.max if rule.maximum is None else rule.maximum
    out: list[Any] = []
    for value, row in zip(values, rows, strict=True):
        if numeric and value.__class__ is float and (
                lo < value <= hi if rule.exclusive_minimum else lo <= value <= hi) and (
                rule.kind != "integer" or value.is_integer()):
            out.append(value)
        else:
            out.append(_read_table_cell(book, sheet, column, value, col, row))
    return out


def _rows_below(book: FilledWorkbook, sheet: Sheet, table: Table, grid: _Grid,
                spans: dict[str, tuple[int, int, int]], last: int) -> None:
    """Inputs typed under the table's last row are not read: say so, once."""
    below = last + 1
    stop = min(len(grid.rows), below + 10_000)
    for row in range(below, stop + 1):
        if any(not is_empty_cell(grid.get(row, spans[c.key][0])) for c in table.inputs()):
            if any(row in range(t.header_row - 1, t.last_row + 1) for t in sheet.tables
                   if t.key != table.key):
                break
            book.add(sheet.title, f"A{row}",
                     f"row {row} has inputs below the {table.title} table (rows "
                     f"{spans[table.inputs()[0].key][1]}-{last}), which are not read",
                     f"at most {last - spans[table.inputs()[0].key][1] + 1} rows inside the "
                     "table; split the book or use a larger template")
            return


def _read_table_cell(book: FilledWorkbook, sheet: Sheet, column: Column, raw: Any,
                     col: int, row: int) -> Any:
    cell = f"{get_column_letter(col)}{row}"
    if is_empty_cell(raw):
        if column.rule.required:
            book.add(sheet.title, cell, f"{column.header} is empty", describe(column.rule))
        return column.default
    value, wrong = convert(raw, column.rule)
    if wrong:
        book.add(sheet.title, cell, f"{column.header}: {wrong}", describe(column.rule))
        return None
    return value


# ----------------------------------------------------------------------------------------------
# Checks across cells

def _cross_checks(book: FilledWorkbook) -> None:
    _check_scenario_names(book)
    _check_weight_factors(book)
    positions = book.tables.get("positions")
    tiers = book.tables.get("tiers")
    if positions is None:
        return
    if positions.empty and "positions" in book.template.sheets:
        first = book.first_rows.get("positions", layout.POSITIONS.table("positions").first_row)
        sheet, cell = book.table_cell("positions", "symbol", first)
        book.add(sheet, cell, "the Positions table holds no position, so nothing can be "
                 "assessed", "at least one position (perprisk fill writes them from an export)")
        return
    _check_sizes(book, positions)
    _check_symbols(book, positions)
    names = set() if tiers is None else {
        str(n).strip().lower() for n in tiers.get("table", pd.Series(dtype=object)).dropna()}
    symbol_table: dict[tuple[str, str], tuple[str, int]] = {}
    for row, record in _records(positions):
        table = record.get("tier_table")
        rate = record.get("maintenance_margin_rate")
        has_table = not is_blank(table)
        if has_table:
            key = str(table).strip().lower()
            if key not in names:
                sheet, cell = book.table_cell("positions", "tier_table", row)
                book.add(sheet, cell, f"tier table {table!r} is not on the Tiers sheet",
                         "the name of a table listed on the Tiers sheet, or blank with an MMR")
            symbol = str(record.get("symbol") or "")
            venue = str(record.get("exchange") or "").strip().lower()
            seen = symbol_table.setdefault((venue, symbol), (key, row))
            if seen[0] != key:
                sheet, cell = book.table_cell("positions", "tier_table", row)
                book.add(sheet, cell,
                         f"{venue} {symbol} uses tier table {table!r} here but {seen[0]!r} in "
                         f"row {seen[1]}", "one tier table per venue and symbol")
        elif is_blank(rate) and not (
                record.get("exchange") == "hyperliquid" and not is_blank(
                    record.get("max_leverage"))):
            sheet, cell = book.table_cell("positions", "maintenance_margin_rate", row)
            book.add(sheet, cell, "neither an MMR nor a tier table is given",
                     "a maintenance margin rate (0.5% = 0.005) or a tier table name")
        elif _number_or_none(rate) == 0:
            sheet, cell = book.table_cell("positions", "maintenance_margin_rate", row)
            book.add(sheet, cell, "a maintenance margin rate of 0 means no margin is ever "
                     "required, so the position could never be liquidated",
                     "the exchange's rate, above 0 (0.5% = 0.005), or a tier table name")
    _check_cross_wallets(book, positions)
    if tiers is not None and len(tiers):
        _check_tier_tables(book, tiers)


#: How far a mark may sit from the entry before it is pointed out (a typo of a digit is 10x),
#: and beyond which it cannot be a price of the same contract.
MARK_WARNING_FACTOR, MARK_REFUSAL_FACTOR = 10.0, 1000.0
#: Rows of one symbol are marked at the same moment: marks this far apart are a typo.
SAME_SYMBOL_FACTOR = 5.0


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}" if ratio < 1e6 else f"{ratio:.1e}"


def _number_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _check_sizes(book: FilledWorkbook, positions: pd.DataFrame) -> None:
    """The rules the assessment applies, by cell, so that check and report agree; and marks
    that look like typos."""
    from riskfuncs.liquidation import _UNIT_MIXUP_FACTOR

    marks: dict[str, list[tuple[int, str, float]]] = {}
    for row, record in _records(positions):
        size, entry = _number_or_none(record.get("size")), _number_or_none(
            record.get("entry_price"))
        mark, collateral = _number_or_none(record.get("mark_price")), _number_or_none(
            record.get("collateral"))
        inverse = record.get("contract") == "inverse"
        if size and entry and collateral is not None and record.get("margin_mode") != "cross":
            value = size / entry if inverse else size * entry
            if collateral > _UNIT_MIXUP_FACTOR * value:
                sheet, cell = book.table_cell("positions", "collateral", row)
                unit = "coin" if inverse else "quote currency"
                book.add(sheet, cell,
                         f"isolated collateral {collateral:g} is more than "
                         f"{_UNIT_MIXUP_FACTOR:g}x the position's value {value:.6g} ({unit}): "
                         "a size or collateral in the wrong unit",
                         "the size in base units (USD for inverse contracts) and the margin "
                         f"in {unit}")
        if mark and entry:
            ratio = max(mark / entry, entry / mark)
            if ratio >= MARK_WARNING_FACTOR:
                sheet, cell = book.table_cell("positions", "mark_price", row)
                what = f"mark price {mark:g} is {_times(ratio)}x away from the entry {entry:g}"
                if ratio >= MARK_REFUSAL_FACTOR:
                    book.add(sheet, cell, what, "the current mark price of this contract")
                else:
                    book.warn(sheet, cell, what + ": a typo?",
                              "the current mark price of this contract")
        symbol = record.get("symbol")
        if mark and not is_blank(symbol):
            marks.setdefault(name_key(symbol), []).append(
                (row, name_key(record.get("exchange") or ""), mark))
    _check_marks_against_history(book, marks)
    for rows in marks.values():
        if len(rows) < 2:
            continue
        ordered = sorted(m for _, _, m in rows)
        median = ordered[len(ordered) // 2]
        other_row, other_venue = next((r, v) for r, v, m in rows if m == median)
        for row, venue, mark in rows:
            ratio = max(mark / median, median / mark)
            if ratio < SAME_SYMBOL_FACTOR:
                continue
            sheet, cell = book.table_cell("positions", "mark_price", row)
            what = (f"mark price {mark:g} is {_times(ratio)}x the mark {median:g} of the same "
                    f"symbol in row {other_row}")
            if venue == other_venue:  # one venue marks a symbol once: a typo
                book.add(sheet, cell, what, "one mark price per symbol and venue")
            else:
                book.warn(sheet, cell, what + " (another venue): a typo?",
                          "marks of one symbol close to each other")


def _check_marks_against_history(book: FilledWorkbook,
                                 marks: dict[str, list[tuple[int, str, float]]]) -> None:
    """A mark far from the last price of the Volatility sheet's history of the same coin."""
    history = book.tables.get("history")
    asset = book.fields.get("volatility", {}).get("asset")
    if history is None or "price" not in history or is_blank(asset):
        return
    prices = [p for p in (_number_or_none(v) for v in history["price"]) if p]
    if not prices:
        return
    last = prices[-1]
    row_of_last = int(history.index[[bool(_number_or_none(v)) for v in history["price"]]][-1])
    coin = name_key(asset)
    for symbol, rows in marks.items():
        if symbol.partition("/")[0].strip() != coin:
            continue
        for row, _, mark in rows:
            ratio = max(mark / last, last / mark)
            if ratio >= SAME_SYMBOL_FACTOR:
                sheet, cell = book.table_cell("positions", "mark_price", row)
                title = layout.SHEETS["volatility"].title
                book.warn(sheet, cell,
                          f"mark price {mark:g} is {_times(ratio)}x the last {asset} price "
                          f"{last:g} of the price history ({title} row {row_of_last}): a typo?",
                          "a mark close to the coin's recent prices")


def name_key(value: Any) -> str:
    """How a spreadsheet lookup compares names: stripped, case-insensitive."""
    return str(value).strip().lower()


def _check_symbols(book: FilledWorkbook, positions: pd.DataFrame) -> None:
    """ccxt symbols ``BASE/QUOTE[:SETTLE]``; an inverse contract settles in its base coin."""
    from riskfuncs.portfolio import account_of

    for row, record in _records(positions):
        symbol = record.get("symbol")
        if is_blank(symbol):
            continue  # already reported as empty
        text = str(symbol).strip()
        base = text.partition("/")[0].strip().upper()
        if "/" not in text or not base:
            sheet, cell = book.table_cell("positions", "symbol", row)
            book.add(sheet, cell, f"{_shown(symbol)} is not a ccxt symbol",
                     "BASE/QUOTE:SETTLE such as BTC/USDT:USDT or BTC/USD:BTC")
        elif record.get("contract") == "inverse" and account_of(
                "", text, "inverse").partition(":")[2] != base:
            sheet, cell = book.table_cell("positions", "symbol", row)
            book.add(sheet, cell, f"inverse contract {_shown(symbol)} does not settle in {base}",
                     f"an inverse symbol settled in its base coin such as {base}/USD:{base}, "
                     "or Contract linear")


def _check_scenario_names(book: FilledWorkbook) -> None:
    """Scenario names are unique, and every price move names a listed scenario: a move whose
    name matches nothing would silently leave its scenario without that move."""
    scenarios = book.tables.get("scenarios")
    moves = book.tables.get("moves")
    if scenarios is None or "name" not in scenarios:
        return
    seen: dict[str, int] = {}
    for row, name in zip(scenarios.index, scenarios["name"], strict=True):
        if is_blank(name):
            continue
        first = seen.setdefault(name_key(name), int(row))
        if first != row:
            sheet, cell = book.table_cell("scenarios", "name", int(row))
            book.add(sheet, cell, f"scenario {_shown(name)} is already named in row {first}",
                     "a unique scenario name")
    if moves is None or "scenario" not in moves or not seen:
        return
    for row, name in zip(moves.index, moves["scenario"], strict=True):
        if not is_blank(name) and name_key(name) not in seen:
            sheet, cell = book.table_cell("moves", "scenario", int(row))
            book.add(sheet, cell, f"scenario {_shown(name)} is not in the Scenarios table",
                     "the name of a scenario listed above")


def _check_weight_factors(book: FilledWorkbook) -> None:
    from riskfuncs.data.score_weights import FACTORS

    weights = book.tables.get("weights")
    if weights is None or "factor" not in weights:
        return
    for row, factor in zip(weights.index, weights["factor"], strict=True):
        if not is_blank(factor) and name_key(factor) not in FACTORS:
            sheet, cell = book.table_cell("weights", "factor", int(row))
            book.add(sheet, cell, f"{_shown(factor)} is not a score factor",
                     "one of " + ", ".join(FACTORS))


def _records(frame: pd.DataFrame) -> list[tuple[int, dict[str, Any]]]:
    rows = [int(r) for r in frame.index]
    keys = [str(k) for k in frame.columns]
    columns = [frame[k].tolist() for k in frame.columns]
    return [(row, dict(zip(keys, values, strict=True)))
            for row, values in zip(rows, zip(*columns, strict=True), strict=True)]


def _check_cross_wallets(book: FilledWorkbook, positions: pd.DataFrame) -> None:
    from riskfuncs.portfolio import account_of

    first: dict[str, tuple[float, int]] = {}
    for row, record in _records(positions):
        if record.get("margin_mode") != "cross" or is_blank(record.get("collateral")):
            continue
        account = account_of(str(record.get("exchange")), str(record.get("symbol") or ""),
                             str(record.get("contract") or "linear"))
        wallet = float(record["collateral"])
        seen = first.setdefault(account, (wallet, row))
        if not math.isclose(seen[0], wallet, rel_tol=1e-12):
            sheet, cell = book.table_cell("positions", "collateral", row)
            book.add(sheet, cell,
                     f"cross collateral {wallet:g} differs from {seen[0]:g} in row {seen[1]} "
                     f"of the same account ({account})",
                     "the one wallet balance of the account on every cross row")


def _check_tier_tables(book: FilledWorkbook, tiers: pd.DataFrame) -> None:
    from riskfuncs import RiskInputError
    from riskfuncs.tiers import as_tier_table

    for name, rows in tier_frames(tiers).items():
        try:
            as_tier_table(rows)
        except RiskInputError as exc:
            first_row = int(tiers.index[tiers["table"].astype(str).str.strip().str.lower()
                                        == name][0])
            sheet, cell = book.table_cell("tiers", "table", first_row)
            book.add(sheet, cell, f"tier table {name!r}: {str(exc).splitlines()[0]}",
                     "floors ascending from 0, each tier's max = next tier's min")


def tier_frames(tiers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tiers sheet rows grouped by table name, in ccxt LeverageTier column names."""
    if tiers.empty:
        return {}
    names = tiers["table"].astype(str).str.strip().str.lower()
    out: dict[str, pd.DataFrame] = {}
    for name, rows in tiers.groupby(names, sort=False):
        out[str(name)] = pd.DataFrame({
            "minNotional": pd.to_numeric(rows["min_notional"], errors="coerce"),
            "maxNotional": pd.to_numeric(rows["max_notional"], errors="coerce"),
            "maintenanceMarginRate": pd.to_numeric(rows["maintenance_margin_rate"],
                                                   errors="coerce"),
            "maintenanceAmount": _numbers(rows, "maintenance_amount"),
            "maxLeverage": _numbers(rows, "max_leverage"),
        })
    return out


def _numbers(rows: pd.DataFrame, column: str) -> pd.Series:
    if column not in rows:
        return pd.Series(float("nan"), index=rows.index)
    return pd.to_numeric(rows[column], errors="coerce")


__all__ = ["FilledWorkbook", "Problem", "describe", "is_blank", "name_key",
           "read_filled_workbook", "tier_frames"]
