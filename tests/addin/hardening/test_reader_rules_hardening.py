"""Nothing silently wrong in what the reader lets through: positions never vanish behind a
broken defined name, no book without positions is OK, every numeric input is finite, check
applies the report's own rules by cell, and implausible marks are named by cell."""

from __future__ import annotations

import re
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from addin.cli import main
from addin.fill import writer
from addin.reader import read_filled_workbook
from addin.report.pipeline import assess_file
from addin.workbook import layout
from tests.addin.report.workbooks import TEMPLATE, cell, sample_book

POSITIONS = layout.POSITIONS.table("positions")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_book(tmp_path_factory.mktemp("rules") / "sample.xlsx")


def _rename_ranges(src: Path, dst: Path, replace: tuple[str, str]) -> Path:
    """A copy of ``src`` whose Positions defined names are rewritten with a regex."""
    with zipfile.ZipFile(src) as archive, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        for info in archive.infolist():
            body = archive.read(info)
            if info.filename == "xl/workbook.xml":
                body = re.sub(replace[0], replace[1], body.decode()).encode()
            out.writestr(info, body)
    return dst


#: Sentinels written through openpyxl (which cannot write infinity or NaN) and then replaced
#: in the sheet XML by what a hostile or broken file holds.
RAW = {"INF": 987654321.25, "NaN": 987654321.5, "-INF": 987654321.75}


def _edited(sample: Path, path: Path, edits: dict[tuple[str, str], object],
            copy_row: tuple[int, int] | None = None) -> Path:
    """A copy of ``sample`` with ``edits``; a value "INF", "NaN" or "-INF" is written raw."""
    shutil.copy(sample, path)
    wb = load_workbook(path)
    if copy_row is not None:
        ws = wb[layout.POSITIONS.title]
        for column in POSITIONS.inputs():
            col = POSITIONS.column_index(column.key)
            ws.cell(copy_row[1], col).value = ws.cell(copy_row[0], col).value
    for (sheet, address), value in edits.items():
        wb[sheet][address] = RAW.get(value, value) if isinstance(value, str) else value
    wb.save(path)
    raw = path.with_suffix(".raw")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            for text, sentinel in RAW.items():
                body = body.replace(f"<v>{sentinel}</v>".encode(), f"<v>{text}</v>".encode())
            dst.writestr(info, body)
    raw.replace(path)
    return path


def test_names_starting_at_row_0_never_lose_the_positions(sample: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    last = POSITIONS.last_row
    path = _rename_ranges(sample, tmp_path / "row0.xlsx",
                          (rf"!\$([A-Z]+)\$11:\$([A-Z]+)\${last}", rf"!$\1$0:$\2${last - 11}"))
    book = read_filled_workbook(path)
    assert len(book.tables["positions"]) == 6  # read where the template puts them
    named = [p for p in book.problems if "Pos_Size" in p.what]
    assert named and named[0].cell == cell("size")[1]
    assert main(["check", str(path)]) == 1
    assert "OK" not in capsys.readouterr().out


def test_a_name_over_millions_of_rows_is_refused_cheaply(sample: Path, tmp_path: Path) -> None:
    path = _rename_ranges(sample, tmp_path / "huge.xlsx",
                          (r"!\$F\$11:\$F\$260", "!$F$11:$F$1000010"))
    path = _rename_ranges(path, tmp_path / "huger.xlsx",
                          (r"!\$E\$11:\$E\$260", "!$E$11:$E$300000010"))
    started = time.perf_counter()
    book = read_filled_workbook(path)  # 300M rows would take gigabytes and minutes
    assert time.perf_counter() - started < 20
    problems = {p.cell: p.what for p in book.problems}
    assert "Pos_EntryPrice covers 1,000,000 row(s)" in problems[cell("entry_price")[1]]
    assert "$E$11:$E$300000010 (Pos_Size)" in problems[cell("size")[1]]
    assert len(book.tables["positions"]) == 6


def test_a_book_without_positions_is_never_ok(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "blank.xlsx"
    writer.fill_workbook(TEMPLATE, []).save(path)
    book = read_filled_workbook(path)
    assert [p.cell for p in book.problems] == [cell("symbol")[1]]
    assert "no position" in book.problems[0].what
    assert main(["check", str(path)]) == 1
    assert "OK" not in capsys.readouterr().out


NUMERIC = [c.key for c in POSITIONS.inputs() if c.rule.kind in ("number", "percent", "integer")]
SETTING = (layout.POSITIONS.title, layout.POSITIONS.field_cell("leverage_cap"))


@pytest.fixture(scope="module")
def edited(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One book, one planted fault per row (rows 11-16 of the sample, 17 a copy of 16)."""
    edits: dict[tuple[str, str], object] = {}
    for key in NUMERIC:
        edits[cell(key, 0)] = "INF"  # row 11: every number infinite
        edits[cell(key, 1)] = "NaN"  # row 12: every number NaN
    edits[SETTING] = "-INF"
    edits[cell("maintenance_margin_rate", 2)] = 0.0  # row 13 (cross SOL): rate 0
    edits[cell("collateral", 2)] = edits[cell("collateral", 3)] = 5e9  # a big cross wallet
    edits[cell("mark_price", 3)] = 1.612  # row 14 DOGE: entry 0.1612, mark typed 10x
    edits[cell("mark_price", 4)] = 1e308  # row 15 OKX inverse
    edits[cell("collateral", 5)] = 1e9  # row 16 hyperliquid isolated: a unit mix-up
    edits[cell("mark_price", 6)] = 318.0  # row 17, a copy of row 16: a digit lost
    edits[cell("leverage", 5)] = "#DIV/0!"  # an error cell (openpyxl writes t="e")
    edits[(layout.POSITIONS.title, layout.POSITIONS.field_cell("alert_distance"))] = "#N/A"
    folder = tmp_path_factory.mktemp("edited")
    return _edited(sample, folder / "edited.xlsx", edits,
                   copy_row=(POSITIONS.first_row + 5, POSITIONS.first_row + 6))


def test_infinity_and_nan_are_refused_in_every_numeric_input(edited: Path) -> None:
    book = read_filled_workbook(edited)
    planted = {cell(key, i)[1] for key in NUMERIC for i in (0, 1)} | {SETTING[1]}
    refused = {p.cell for p in book.problems if "not a finite number" in p.what}
    assert refused >= planted, sorted(planted - refused)


def test_check_applies_the_report_rules_by_cell(edited: Path) -> None:
    book = read_filled_workbook(edited)
    problems = {p.cell: p.what for p in book.problems}
    assert "maintenance margin rate of 0" in problems[cell("maintenance_margin_rate", 2)[1]]
    assert "1000x" in problems[cell("collateral", 5)[1]]
    # a cross wallet may dwarf its positions: no unit mix-up on rows 13 and 14
    assert cell("collateral", 2)[1] not in problems and cell("collateral", 3)[1] not in problems
    outcome = assess_file(edited)  # the report refuses on the same cells, never "position 0"
    assert outcome.assessment is None
    assert [str(p) for p in outcome.book.problems] == [str(p) for p in book.problems]


def test_implausible_marks_are_named_by_cell(edited: Path) -> None:
    book = read_filled_workbook(edited)
    problems = {p.cell: p.what for p in book.problems}
    warnings = {p.cell: p.what for p in book.warnings}
    assert "10x the mark 3180 of the same symbol in row 16" in problems[cell("mark_price", 6)[1]]
    assert "10x away from the entry" in warnings[cell("mark_price", 3)[1]]
    assert "x away from the entry" in problems[cell("mark_price", 4)[1]]
    # the OKX BTC row is also far from the last BTC price of the Volatility sheet's history
    history = [w for w in book.warnings if "of the price history" in w.what]
    assert [w.cell for w in history] == [cell("mark_price", 4)[1]], book.warnings


def test_error_cells_are_named_never_read_as_empty(edited: Path) -> None:
    book = read_filled_workbook(edited)
    problems = {p.cell: p.what for p in book.problems}
    assert "shows the error #DIV/0!" in problems[cell("leverage", 5)[1]]
    assert "shows the error #N/A" in problems[layout.POSITIONS.field_cell("alert_distance")]
