"""Time to build every blank assessment workbook, next to a write-only openpyxl baseline.

The baseline writes the very same cell values (formulas and texts, read back from the built
files) into a ``Workbook(write_only=True)``, one sheet per built sheet, without styles,
validations, names or charts: the floor an openpyxl-based builder cannot beat. Both are
measured in the same run; the ratio is what the formatting, validation and layout cost.

Run: python bench/bench_build.py [REPEATS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook, load_workbook

from addin.workbook import builder, layout


def build_once(out: Path) -> float:
    for old in out.glob("*"):
        old.unlink()
    start = time.perf_counter()
    builder.build_all(out)
    return time.perf_counter() - start


def contents(out: Path) -> list[list[list[object]]]:
    """Every built sheet as rows of values (formulas as their text)."""
    books = []
    for template in layout.TEMPLATES.values():
        wb = load_workbook(out / template.filename, read_only=True)
        for ws in wb.worksheets:
            books.append([list(row) for row in ws.iter_rows(values_only=True)])
        wb.close()
    return books


def baseline_once(sheets: list[list[list[object]]], out: Path) -> float:
    start = time.perf_counter()
    wb = Workbook(write_only=True)
    for rows in sheets:
        ws = wb.create_sheet()
        for row in rows:
            ws.append(row)
    wb.save(out / "baseline.xlsx")
    return time.perf_counter() - start


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as scratch:
        out, base = Path(scratch) / "dist", Path(scratch) / "base"
        out.mkdir()
        base.mkdir()
        build_times = [build_once(out) for _ in range(repeats)]
        sheets = contents(out)
        cells = sum(1 for rows in sheets for row in rows for v in row if v is not None)
        base_times = [baseline_once(sheets, base) for _ in range(repeats)]
    b, w = statistics.median(build_times), statistics.median(base_times)
    print(f"templates: {len(layout.TEMPLATES)}, cells with a value or formula: {cells:,}")
    print(f"build every template:               {b:7.2f} s (median of {repeats})")
    print(f"openpyxl write-only, same cells:    {w:7.2f} s")
    print(f"ratio build / write-only baseline:  {b / w:7.2f}x")


if __name__ == "__main__":
    main()
