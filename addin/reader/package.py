"""The workbook-level facts of an .xlsx: its sheets, their parts and the defined names.

Parsed with the standard library from ``xl/workbook.xml`` and its relationships, after
:mod:`addin.reader.safety` has checked the parts carry no DTD.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from addin.reader.safety import WorkbookError

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass(frozen=True)
class SheetEntry:
    title: str
    part: str  # zip member, e.g. xl/worksheets/sheet2.xml
    state: str  # visible, hidden or veryHidden


@dataclass(frozen=True)
class Reference:
    """A defined name's target: a cell or a single-column/row range on one sheet."""

    sheet: str
    first_row: int
    first_column: int
    last_row: int
    last_column: int


@dataclass(frozen=True)
class PackageInfo:
    sheets: dict[str, SheetEntry]
    names: dict[str, str]  # defined name -> its text (workbook scope)


def _parse(archive: zipfile.ZipFile, member: str, name: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(archive.read(member))
    except ElementTree.ParseError as exc:
        raise WorkbookError(f"{name}: {member} is not well-formed XML ({exc})") from None
    except KeyError:
        raise WorkbookError(f"{name}: the workbook part {member} is missing") from None


def read_package(archive: zipfile.ZipFile, name: str) -> PackageInfo:
    book = _parse(archive, "xl/workbook.xml", name)
    rels = _parse(archive, "xl/_rels/workbook.xml.rels", name)
    targets: dict[str, str] = {}
    for rel in rels.iter(f"{PKG_REL}Relationship"):
        target = rel.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join("xl", target))
        targets[rel.get("Id", "")] = part
    sheets: dict[str, SheetEntry] = {}
    for sheet in book.iter(f"{MAIN}sheet"):
        title = sheet.get("name", "")
        part = targets.get(sheet.get(f"{REL}id", ""), "")
        sheets[title] = SheetEntry(title, part, sheet.get("state", "visible"))
    names: dict[str, str] = {}
    for defined in book.iter(f"{MAIN}definedName"):
        if defined.get("localSheetId") is None:
            names[defined.get("name", "")] = defined.text or ""
    return PackageInfo(sheets, names)


_REF = re.compile(
    r"^(?:'((?:[^']|'')+)'|([^!':]+))!\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")


def parse_reference(text: str) -> Reference | None:
    """``'Positions & Margin'!$F$11:$F$260`` -> Reference; None for anything else."""
    from openpyxl.utils import column_index_from_string

    if len(text) > 300:
        return None
    match = _REF.match(text.strip())
    if match is None:
        return None
    sheet = (match.group(1) or "").replace("''", "'") or (match.group(2) or "")
    c1, r1 = column_index_from_string(match.group(3)), int(match.group(4))
    c2 = column_index_from_string(match.group(5)) if match.group(5) else c1
    r2 = int(match.group(6)) if match.group(6) else r1
    # Row 0, a row past 1,048,576 or a column past XFD is no cell: not a reference.
    if min(r1, r2, c1, c2) < 1 or max(r1, r2) > 1_048_576 or max(c1, c2) > 16_384:
        return None
    return Reference(sheet, min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2))


def string_constant(text: str) -> str | None:
    """The text of a defined name that is a string constant (``"abc"``), else None."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return None
