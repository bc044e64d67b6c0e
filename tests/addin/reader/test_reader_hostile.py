"""Hostile and broken files are refused with a clear message, before any parser runs."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from addin.reader import (
    HostileFileError,
    Limits,
    NotAWorkbookError,
    WorkbookError,
    read_filled_workbook,
)
from addin.workbook import layout

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def workbook_xml(sheet: str = layout.POSITIONS.title, *, prolog: str = "") -> str:
    tag = next(iter(layout.TEMPLATES.values())).tag
    title = sheet.replace("&", "&amp;")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>' + prolog +
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{title}" sheetId="1" r:id="rId1"/></sheets>'
        f'<definedNames><definedName name="{layout.TEMPLATE_ID_NAME}">"{tag}"</definedName>'
        "</definedNames></workbook>"
    )


def sheet_xml(cells: str = '<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>',
              dimension: str = "A1") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>{cells}</sheetData></worksheet>'
    )


ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK, SHEET, STRINGS = "xl/workbook.xml", "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"


def make_book(path: Path, parts: dict[str, str | bytes] | None = None) -> Path:
    members: dict[str, str | bytes] = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": workbook_xml(),
        "xl/_rels/workbook.xml.rels": RELS,
        "xl/worksheets/sheet1.xml": sheet_xml(),
    }
    members.update(parts or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_the_minimal_book_itself_is_readable(tmp_path: Path) -> None:
    # Control case: the fixtures below fail for the reason they plant, not for another.
    book = read_filled_workbook(make_book(tmp_path / "ok.xlsx"))
    assert book.template.id in layout.TEMPLATES
    assert any("Tiers" in p.sheet for p in book.problems)  # that sheet is absent


def test_plain_text_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    path.write_text("symbol,side\nBTC,long\n")
    with pytest.raises(NotAWorkbookError, match=r"not an \.xlsx workbook"):
        read_filled_workbook(path)


def test_legacy_xls_is_named(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    with pytest.raises(NotAWorkbookError, match=r"legacy \.xls"):
        read_filled_workbook(path)


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.jpg", b"\xff\xd8")
    with pytest.raises(NotAWorkbookError, match="not an Excel workbook"):
        read_filled_workbook(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkbookError, match="no such file"):
        read_filled_workbook(tmp_path / "nope.xlsx")
    with pytest.raises(NotAWorkbookError, match="folder"):
        read_filled_workbook(tmp_path)


def test_zip_bomb_refused_from_declared_sizes(tmp_path: Path) -> None:
    # 64 MiB of one repeated row deflates ~1000x: refused before anything is inflated.
    row = '<row r="1"><c r="A1"><v>0</v></c></row>'
    big = sheet_xml(row * (64 * 2**20 // len(row)))
    path = make_book(tmp_path / "bomb.xlsx", {SHEET: big})
    del big
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(HostileFileError, match="zip bomb"):
            read_filled_workbook(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # nothing near the 64 MiB the member would inflate to


def test_total_expanded_size_limit(tmp_path: Path) -> None:
    path = make_book(tmp_path / "big.xlsx")
    with pytest.raises(HostileFileError, match="expand"):
        read_filled_workbook(path, limits=Limits(max_total_bytes=1000))


def _lie_about_size(path: Path, member: str, declared: int) -> None:
    """Rewrite the local and central headers of ``member`` to declare ``declared`` bytes."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) != -1:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                data[at + offset:at + offset + 4] = struct.pack("<I", declared)
            start = at + 4
    path.write_bytes(bytes(data))


def test_member_lying_about_its_size_cannot_inflate_past_it(tmp_path: Path) -> None:
    row = '<row r="1"><c r="A1"><v>0</v></c></row>'
    path = make_book(tmp_path / "liar.xlsx",
                     {SHEET: sheet_xml(row * 200_000)})
    _lie_about_size(path, "xl/worksheets/sheet1.xml", 1000)
    with pytest.raises(WorkbookError):
        read_filled_workbook(path)


BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'
              for i in range(10))
    + "]>"
)


def test_entity_expansion_refused(tmp_path: Path) -> None:
    path = make_book(tmp_path / "laughs.xlsx",
                     {WORKBOOK: workbook_xml(prolog=BILLION_LAUGHS)})
    with pytest.raises(HostileFileError, match="DTD or XML entities"):
        read_filled_workbook(path)


@pytest.mark.parametrize("before", ["<!-- <x -->", "<?pi <x ?>", "<!-- a --><!-- <b -->"])
def test_doctype_behind_a_comment_is_refused(tmp_path: Path, before: str) -> None:
    """A "<x" inside a comment or processing instruction is not the root element."""
    path = make_book(tmp_path / "behind.xlsx",
                     {WORKBOOK: workbook_xml(prolog=before + BILLION_LAUGHS)})
    with pytest.raises(HostileFileError, match="DTD or XML entities"):
        read_filled_workbook(path)


def test_a_comment_before_the_root_is_harmless(tmp_path: Path) -> None:
    path = make_book(tmp_path / "comment.xlsx",
                     {WORKBOOK: workbook_xml(prolog="<!-- written by a tool <x> -->")})
    assert read_filled_workbook(path).template is not None


def test_external_entity_in_shared_strings_refused(tmp_path: Path) -> None:
    sst = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           "<si><t>&e;</t></si></sst>")
    path = make_book(tmp_path / "xxe.xlsx", {STRINGS: sst})
    with pytest.raises(HostileFileError, match="sharedStrings"):
        read_filled_workbook(path)


def test_doctype_in_a_part_not_named_xml_refused(tmp_path: Path) -> None:
    rels = RELS.replace("worksheets/sheet1.xml", "worksheets/sheet1.dat")
    hostile = sheet_xml().replace("?>", "?>" + BILLION_LAUGHS, 1)
    path = make_book(tmp_path / "renamed.xlsx", {"xl/_rels/workbook.xml.rels": rels,
                                                 "xl/worksheets/sheet1.dat": hostile})
    with pytest.raises(HostileFileError, match=r"sheet1\.dat declares a DTD"):
        read_filled_workbook(path)


def test_doctype_hidden_in_utf16_refused(tmp_path: Path) -> None:
    text = workbook_xml(prolog="<!DOCTYPE x [<!ENTITY a 'b'>]>").replace(
        'encoding="UTF-8"', 'encoding="UTF-16"')
    path = make_book(tmp_path / "utf16.xlsx", {WORKBOOK: b"\xff\xfe" + text.encode("utf-16-le")})
    with pytest.raises(HostileFileError, match="DTD"):
        read_filled_workbook(path)


def test_enormous_declared_dimension_refused(tmp_path: Path) -> None:
    path = make_book(tmp_path / "dim.xlsx",
                     {SHEET: sheet_xml(dimension="A1:XFD1048576")})
    with pytest.raises(HostileFileError, match="1,048,576 rows"):
        read_filled_workbook(path)


def test_enormous_real_extent_refused(tmp_path: Path) -> None:
    # Two cells far apart: a dense reader would allocate 17 billion cells.
    cells = ('<row r="1"><c r="A1"><v>1</v></c></row>'
             '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    path = make_book(tmp_path / "far.xlsx", {SHEET: sheet_xml(cells)})
    with pytest.raises(HostileFileError, match="spans 1,048,576 rows x 16,384 columns"):
        read_filled_workbook(path)


@pytest.mark.parametrize("cells", [
    # cells and rows without r take the next position: a dense reader would still allocate
    # the whole span (this one aborted the process with a 512 GiB allocation)
    '<row r="1"><c r="XFD1"><v>1</v></c></row><row r="1048576"><c><v>1</v></c></row>',
    '<row r="1">' + "<c><v>1</v></c>" * 16_384 + '</row><row r="1048576"><c r="A1048576"/></row>',
    # XML allows single quotes and spaces around "="
    "<row r='1'><c r='A1'><v>1</v></c></row><row r = '1048576'><c r = 'XFD1048576'/></row>",
], ids=["row-without-cell-ref", "cells-without-ref", "quoting"])
def test_enormous_extent_written_any_legal_way_is_refused(tmp_path: Path, cells: str) -> None:
    path = make_book(tmp_path / "implicit.xlsx", {SHEET: sheet_xml(cells)})
    with pytest.raises(HostileFileError, match=r"1,048,576 rows x 16,38[45] columns"):
        read_filled_workbook(path)


def test_enormous_identifier_sheet_refused(tmp_path: Path) -> None:
    """Without the defined name the template is read from the _perprisk sheet: that sheet too
    is measured before the dense read."""
    xml = workbook_xml(layout.META_SHEET).replace(layout.TEMPLATE_ID_NAME, "SomethingElse")
    cells = ('<row r="1"><c r="A1"><v>1</v></c></row>'
             '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    path = make_book(tmp_path / "meta.xlsx", {WORKBOOK: xml, SHEET: sheet_xml(cells)})
    with pytest.raises(HostileFileError, match=f"sheet '{layout.META_SHEET}' spans"):
        read_filled_workbook(path)


def test_too_many_members(tmp_path: Path) -> None:
    extra: dict[str, str | bytes] = {f"xl/media/{i}.png": b"" for i in range(20)}
    path = make_book(tmp_path / "many.xlsx", extra)
    with pytest.raises(HostileFileError, match="members"):
        read_filled_workbook(path, limits=Limits(max_members=10))


def test_truncated_zip(tmp_path: Path) -> None:
    path = make_book(tmp_path / "cut.xlsx")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NotAWorkbookError):
        read_filled_workbook(path)


def test_unknown_template_version(tmp_path: Path) -> None:
    template = next(iter(layout.TEMPLATES.values()))
    xml = workbook_xml().replace(template.tag, f"{template.id}@999")
    path = make_book(tmp_path / "future.xlsx", {WORKBOOK: xml})
    with pytest.raises(WorkbookError, match="version 999"):
        read_filled_workbook(path)


def test_workbook_without_identifier(tmp_path: Path) -> None:
    xml = workbook_xml().replace(layout.TEMPLATE_ID_NAME, "SomethingElse")
    path = make_book(tmp_path / "plain.xlsx", {WORKBOOK: xml})
    with pytest.raises(WorkbookError, match="not a perprisk workbook"):
        read_filled_workbook(path)


def test_in_memory_helper_is_deterministic() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x", "y")
    assert buffer.getvalue().startswith(b"PK\x03\x04")
