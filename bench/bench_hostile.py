"""Time and peak memory of reading the worst hostile workbooks, next to a normal filled book.

Each file is read by ``read_filled_workbook`` in a fresh child process, so the peak resident
memory (``VmHWM``, Linux) is that read's alone, the interpreter and libraries included. The
baseline is the bundled sample book read the same way in the same run: the ratio says what an
attacker can make a read cost beyond a real one. Figures are printed, never asserted.

    python bench/bench_hostile.py
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from addin.workbook import layout  # noqa: E402

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET_PART = "xl/worksheets/sheet1.xml"

CHILD = """
import json, sys, time
from addin.reader import WorkbookError, read_filled_workbook
start = time.perf_counter()
try:
    book = read_filled_workbook(sys.argv[1])
    outcome = f"read, {len(book.problems)} problem(s)"
except WorkbookError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[-1][:70]
seconds = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would carry the parent's across fork and exec)
status = open("/proc/self/status").read().split("VmHWM:")[1].split()
peak = int(status[0]) * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "outcome": outcome}))
"""


def measure(path: Path) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                            text=True, check=False, cwd=ROOT, timeout=600)
    if result.returncode != 0:
        return {"seconds": float("nan"), "peak": float("nan"),
                "outcome": f"child exited {result.returncode}"}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def minimal_book(path: Path, sheet: str, strings: str | None = None) -> Path:
    """A workbook with the template's identifier and one Positions sheet holding ``sheet``."""
    tag = next(iter(layout.TEMPLATES.values())).tag
    title = layout.POSITIONS.title.replace("&", "&amp;")
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.'
                               'openxmlformats.org/package/2006/content-types"/>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxml'
                       'formats.org/package/2006/relationships"><Relationship Id="rId1" '
                       'Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                       'relationships/officeDocument" Target="xl/workbook.xml"/>'
                       "</Relationships>",
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{NS}" xmlns:r="http://'
                           'schemas.openxmlformats.org/officeDocument/2006/relationships">'
                           f'<sheets><sheet name="{title}" sheetId="1" r:id="rId1"/></sheets>'
                           f'<definedNames><definedName name="{layout.TEMPLATE_ID_NAME}">'
                           f'"{tag}"</definedName></definedNames></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://'
                                      'schemas.openxmlformats.org/package/2006/relationships">'
                                      '<Relationship Id="rId1" Type="http://schemas.openxml'
                                      'formats.org/officeDocument/2006/relationships/worksheet"'
                                      ' Target="worksheets/sheet1.xml"/></Relationships>',
        SHEET_PART: f'<?xml version="1.0"?><worksheet xmlns="{NS}"><sheetData>{sheet}'
                    "</sheetData></worksheet>",
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path


def shared(text: str, unique: int = 1) -> str:
    return (f'<?xml version="1.0"?><sst xmlns="{NS}" count="{unique}" uniqueCount="{unique}">'
            f"<si><t>{text}</t></si></sst>")


def sample(folder: Path) -> Path:
    from tests.addin.report.workbooks import sample_book

    return sample_book(folder / "sample.xlsx")


def extent_at_limit(folder: Path) -> Path:
    """Two cells, 1,000,000 rows x 2 columns apart: the largest span the reader accepts."""
    cells = ('<row r="1"><c r="A1"><v>1</v></c></row>'
             '<row r="1000000"><c r="B1000000"><v>1</v></c></row>')
    return minimal_book(folder / "extent.xlsx", cells)


def dense_at_limit(folder: Path) -> Path:
    """400,000 rows x 5 numbers: 2,000,000 real cells."""
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{c}{r}"><v>{r}</v></c>' for c in "ABCDE")
                   + "</row>" for r in range(1, 400_001))
    return minimal_book(folder / "dense.xlsx", rows)


def shared_text_at_limit(folder: Path) -> Path:
    """One 32,767-character string in 2,000 cells: just under the 64 MiB text bound."""
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>'
                   for r in range(1, 2_001))
    return minimal_book(folder / "text.xlsx", rows, shared("x" * 32_767))


def shared_text_bomb(folder: Path) -> Path:
    """The same string in 40,000 cells (1.2 GiB once read): refused."""
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c><c r="B{r}" t="s"><v>0</v>'
                   "</c></row>" for r in range(1, 20_001))
    return minimal_book(folder / "bomb.xlsx", rows, shared("x" * 32_767))


def huge_defined_name(folder: Path) -> Path:
    """The sample with its size column named over 300,000,000 rows."""
    src, dst = sample(folder), folder / "name.xlsx"
    with zipfile.ZipFile(src) as archive, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        for info in archive.infolist():
            body = archive.read(info)
            if info.filename == "xl/workbook.xml":
                body = re.sub(rb"!\$E\$11:\$E\$260", b"!$E$11:$E$300000010", body)
            out.writestr(info, body)
    return dst


def unique_count(folder: Path) -> Path:
    """A shared-string table declaring 4,000,000,000 strings."""
    return minimal_book(folder / "count.xlsx", '<row r="1"><c r="A1"><v>1</v></c></row>',
                        shared("x", 4_000_000_000))


CASES: dict[str, Callable[[Path], Path]] = {
    "extent at the limit (1,000,000 x 2)": extent_at_limit,
    "2,000,000 real cells": dense_at_limit,
    "shared text at the limit (64 MiB)": shared_text_at_limit,
    "shared text bomb (1.2 GiB)": shared_text_bomb,
    "defined name over 300M rows": huge_defined_name,
    "uniqueCount 4,000,000,000": unique_count,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perprisk-hostile-") as tmp:
        folder = Path(tmp)
        base = measure(sample(folder))
        base_s, base_peak = float(str(base["seconds"])), float(str(base["peak"]))
        print(f"{'file':40} {'size':>9} {'time':>8} {'x':>6} {'peak':>9} {'x':>6}  outcome")
        print(f"{'filled sample (baseline)':40} {'':9} {base_s:7.2f}s {1:6.1f} "
              f"{base_peak / 2**20:7.0f}MB {1:6.1f}  {base['outcome']}")
        for label, build in CASES.items():
            path = build(folder)
            got = measure(path)
            seconds, peak = float(str(got["seconds"])), float(str(got["peak"]))
            print(f"{label:40} {path.stat().st_size / 2**20:7.2f}MB {seconds:7.2f}s "
                  f"{seconds / base_s:6.1f} {peak / 2**20:7.0f}MB {peak / base_peak:6.1f}  "
                  f"{got['outcome']}")


if __name__ == "__main__":
    main()
