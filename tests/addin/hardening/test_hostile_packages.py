"""Hostile and malformed files given to `perprisk check` and `perprisk report`: each is one line
naming the file (and the part or cell) and the rule, exit 1, never a traceback, a hang or an
aborted process; memory stays bounded by what the template can hold."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.addin.reader.test_reader_hostile import (
    SHEET,
    STRINGS,
    make_book,
    sheet_xml,
)

ROW = '<row r="{r}"><c r="{c}{r}"><v>1</v></c></row>'


def _cells(text: str) -> Callable[[Path], Path]:
    return lambda path: make_book(path, {SHEET: sheet_xml(text)})


def _set_flag(member: str, flag: int) -> Callable[[Path], Path]:
    """Mark one member encrypted (general purpose bit 0) in both of its zip headers."""
    def build(path: Path) -> Path:
        make_book(path)
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(member)
        data[info.header_offset + 6] |= flag  # local file header: flags at offset 6
        name = member.encode()
        central = data.rfind(b"PK\x01\x02" + bytes(4), 0)  # any central header as a start
        at = data.find(name, data.find(b"PK\x01\x02")) - 46
        while at >= 0 and data[at:at + 4] != b"PK\x01\x02":
            at = data.find(name, at + 47) - 46
        del central
        data[at + 8] |= flag  # central directory header: flags at offset 8
        path.write_bytes(bytes(data))
        return path
    return build


def _compression(method: int) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        make_book(path)
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(SHEET)
        data[info.header_offset + 8:info.header_offset + 10] = method.to_bytes(2, "little")
        at = data.find(b"PK\x01\x02")
        while at >= 0:
            length = int.from_bytes(data[at + 28:at + 30], "little")
            if data[at + 46:at + 46 + length] == SHEET.encode():
                data[at + 10:at + 12] = method.to_bytes(2, "little")
            at = data.find(b"PK\x01\x02", at + 4)
        path.write_bytes(bytes(data))
        return path
    return build


def _corrupt_deflate(path: Path) -> Path:
    make_book(path, {SHEET: sheet_xml(ROW.format(r=1, c="A") * 200)})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(SHEET)
    start = info.header_offset + 30 + len(SHEET.encode())
    for i in range(start + 20, start + 60):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def _missing_part(path: Path) -> Path:
    make_book(path)
    rebuilt = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(rebuilt, "w") as dst:
        for info in src.infolist():
            if info.filename != SHEET:
                dst.writestr(info, src.read(info))
    rebuilt.replace(path)
    return path


def _empty_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w"):
        pass
    return path


SHARED = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
          'spreadsheetml/2006/main" count="{n}" uniqueCount="{n}"><si><t>x</t></si></sst>')

def _shared_text_bomb(path: Path) -> Path:
    """A 130 KB file: 40,000 cells that all show one 32,767-character shared string."""
    text = SHARED.format(n=1).replace("<t>x</t>", "<t>" + "x" * 32_767 + "</t>")
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c><c r="B{r}" t="s"><v>0</v>'
                   "</c></row>" for r in range(1, 20_001))
    return make_book(path, {STRINGS: text, SHEET: sheet_xml(rows)})


#: name -> (how the file is made, what the one line must say)
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "leading-zeros": (_cells('<row r="1"><c r="A0001048576"><v>1</v></c></row>'),
                      "reference 'A0001048576'"),
    "row-leading-zeros": (_cells('<row r="01"><c r="A1"><v>1</v></c></row>'),
                          "reference '01'"),
    "eight-digit-row": (_cells('<row r="12345678"><c r="A12345678"><v>1</v></c></row>'),
                        "reference 'A12345678'"),
    "column-past-xfd": (_cells(ROW.format(r=1, c="XFE")), "column 16,385"),
    "four-letters": (_cells(ROW.format(r=1, c="AAAA")), "reference 'AAAA1'"),
    "xfd-far": (_cells(ROW.format(r=1, c="A") + ROW.format(r=1048576, c="XFD")),
                "1,048,576 rows x 16,384 columns"),
    "shared-strings-4e9": (lambda p: make_book(p, {STRINGS: SHARED.format(n=4_000_000_000)}),
                           "uniqueCount 4,000,000,000"),
    "encrypted-member": (_set_flag(SHEET, 1), "is encrypted"),
    "bzip2-member": (_compression(12), "compression"),
    "unknown-compression": (_compression(99), "compression"),
    "corrupt-deflate": (_corrupt_deflate, "damaged"),
    "missing-sheet-part": (_missing_part, "not in the file"),
    "garbage-sheet": (lambda p: make_book(p, {SHEET: b"\x00\x01garbage" * 50}), "sheet1.xml"),
    "empty-sheet": (lambda p: make_book(p, {SHEET: b""}), "sheet1.xml"),
    "truncated-sheet-xml": (lambda p: make_book(p, {SHEET: sheet_xml()[:-40]}), "sheet1.xml"),
    "bad-shared-string-index": (
        lambda p: make_book(p, {STRINGS: SHARED.format(n=1), SHEET: sheet_xml(
            '<row r="1"><c r="A1" t="s"><v>99</v></c></row>')}), "xlsx"),
    "garbage-workbook-xml": (lambda p: make_book(p, {"xl/workbook.xml": "<workbook><<"}),
                             "workbook.xml"),
    "empty-zip": (_empty_zip, "not an"),
    "shared-text-bomb": (_shared_text_bomb, "repeats shared text that expands to 1.2 GiB"),
}


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    two_gib = 2 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (two_gib, two_gib))


#: Runs one command per file in a child process (memory capped; an aborted or hung reader
#: fails the test instead of the test run) and prints each file's exit code after its output.
CHILD = """
import sys
sys.stderr = sys.stdout
from addin.cli import main
command, *files = sys.argv[1:]
for name in files:
    code = main([command, name])
    print(f"@@exit {code}", flush=True)
"""


def run_each(command: str, paths: list[Path], timeout: float = 120) -> list[tuple[int, str]]:
    """(exit code, output) of ``perprisk <command> <file>`` for each file, in one process."""
    result = subprocess.run([sys.executable, "-c", CHILD, command, *map(str, paths)],
                            capture_output=True, text=True, timeout=timeout,
                            preexec_fn=_limit_memory, check=False,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, (result.returncode, result.stdout[-3000:],
                                    result.stderr[-3000:])
    chunks = result.stdout.split("@@exit ")
    out, text = [], chunks[0]
    for chunk in chunks[1:]:
        code, _, rest = chunk.partition("\n")
        out.append((int(code), text.strip()))
        text = rest
    assert len(out) == len(paths), result.stdout[-3000:]
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {name: build(folder / f"{name}.xlsx") for name, (build, _) in CASES.items()}
    os.mkfifo(folder / "fifo.xlsx")
    files["fifo"] = folder / "fifo.xlsx"
    (folder / "folder.xlsx").mkdir()
    files["folder"] = folder / "folder.xlsx"
    os.symlink(folder / "loop-b.xlsx", folder / "loop-a.xlsx")
    os.symlink(folder / "loop-a.xlsx", folder / "loop-b.xlsx")
    files["symlink-loop"] = folder / "loop-a.xlsx"
    files["long-name"] = folder / ("x" * 300 + ".xlsx")
    files["device"] = Path("/dev/zero")
    return files


EXTRA = {"fifo": "FIFO", "folder": "folder", "symlink-loop": "loops", "long-name": "too long",
         "device": "device"}


@pytest.mark.parametrize("command", ["check", "report"])
def test_each_hostile_file_is_one_line_and_exit_1(hostile: dict[str, Path], command: str
                                                  ) -> None:
    expected = {name: say for name, (_, say) in CASES.items()} | EXTRA
    names, paths = list(hostile), list(hostile.values())
    for name, path, (code, text) in zip(names, paths, run_each(command, paths), strict=True):
        assert code == 1, (name, text[-2000:])
        assert "Traceback" not in text, (name, text[-2000:])
        assert len(text.splitlines()) == 1, (name, text)
        assert path.name[:60] in text and expected[name] in text, (name, text)


def test_a_stray_empty_row_at_the_bottom_is_harmless(tmp_path: Path) -> None:
    from addin.reader import read_filled_workbook

    cells = ROW.format(r=1, c="A") + '<row r="1048576" ht="20" customHeight="1"/>'
    book = read_filled_workbook(make_book(tmp_path / "stray.xlsx", {SHEET: sheet_xml(cells)}))
    assert book.template.id
