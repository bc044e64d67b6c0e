"""Refuse hostile or broken files before any parser sees them.

An .xlsx file is a zip archive of XML parts (ECMA-376 Part 2, Open Packaging Conventions).
Three things can make a small file cost unbounded time or memory, and all are checked from the
archive itself, before parsing:

* **zip bombs**: the central directory declares each member's compressed and uncompressed size.
  Members are refused when the declared total or a single member is too large, or when a
  member expands more than ``max_ratio`` times. Python's zipfile stops reading a member at its
  declared size, so a member that lies about its size cannot inflate past the declaration.
* **XML entity expansion** ("billion laughs", external entities): every XML part's prolog (the
  text before the root element) is read and a part carrying ``<!DOCTYPE`` or ``<!ENTITY`` is
  refused. SpreadsheetML never needs a DTD.
* **enormous dimensions**: a sheet whose cells span more rows x columns than ``max_cells``
  would make a dense reader allocate that many cells; :func:`sheet_cells` measures the real
  extent from the cell references before a dense reader runs.
"""

from __future__ import annotations

import errno
import html
import os
import re
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from openpyxl.utils import column_index_from_string, get_column_letter

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls or an encrypted .xlsx


class WorkbookError(ValueError):
    """The file cannot be read as a perprisk workbook; the message says why."""


class HostileFileError(WorkbookError):
    """The file looks built to exhaust time or memory (or is too large to read safely)."""


class NotAWorkbookError(WorkbookError):
    """The file is not an .xlsx workbook at all."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what the reader accepts.

    ``max_cells`` bounds the rows x columns a sheet may span (a dense reader allocates every
    cell of that span): 2,000,000 is 40 times the largest sheet of a template and keeps the
    worst accepted sheet to about a hundred MB. The reader raises it for a sheet whose template
    tables are larger (a custom template with more rows)."""

    max_file_bytes: int = 256 * 2**20
    max_members: int = 5_000
    max_total_bytes: int = 1 * 2**30
    max_member_bytes: int = 512 * 2**20
    max_ratio: float = 250.0
    ratio_floor_bytes: int = 2**20  # below this size a high ratio is harmless
    max_prolog_bytes: int = 64 * 2**10
    max_cells: int = 2_000_000
    #: Text a sheet's shared-string cells expand to (each cell gets its own copy when read).
    max_text_bytes: int = 64 * 2**20


DEFAULT_LIMITS = Limits()


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _file_reason(exc: OSError) -> str:
    reasons = {errno.EACCES: "cannot be read (permission denied)",
               errno.EPERM: "cannot be read (permission denied)",
               errno.ELOOP: "is a symbolic link that loops",
               errno.ENAMETOOLONG: "has a name too long for this system",
               errno.ENOENT: "no such file", errno.ENOTDIR: "no such file",
               errno.EISDIR: "is a folder, not a workbook"}
    return reasons.get(exc.errno or 0, f"cannot be read ({exc.strerror or exc})")


def open_package(path: Path, limits: Limits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """Open ``path`` as a zip after checking it is a regular .xlsx file within ``limits``.

    The file's type and size are checked before a byte is read: a FIFO, a device or a folder is
    refused (reading a FIFO would wait forever, /dev/zero never ends)."""
    name = path.name or str(path)
    try:
        status = path.stat()
    except OSError as exc:
        shown = str(path) if exc.errno in (errno.ENOENT, errno.ENOTDIR) else name[:200]
        error = NotAWorkbookError if exc.errno == errno.EISDIR else WorkbookError
        raise error(f"{shown}: {_file_reason(exc)}") from None
    except ValueError:  # a NUL in the name
        raise WorkbookError(f"{name[:200]!r}: not a valid file name") from None
    if stat.S_ISDIR(status.st_mode):
        raise NotAWorkbookError(f"{name}: is a folder, not a workbook")
    if not stat.S_ISREG(status.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(status.st_mode) else
                "a device" if stat.S_ISCHR(status.st_mode) or stat.S_ISBLK(status.st_mode)
                else "a socket" if stat.S_ISSOCK(status.st_mode) else "not a regular file")
        raise NotAWorkbookError(f"{name}: is {kind}, not a workbook file")
    size = status.st_size
    if size > limits.max_file_bytes:
        raise HostileFileError(
            f"{name}: file is {_size(size)}, larger than the {_size(limits.max_file_bytes)} "
            "this reader accepts")
    try:
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, open does not wait.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise NotAWorkbookError(f"{name}: not a regular file, not a workbook")
            magic = handle.read(8)
    except OSError as exc:
        raise WorkbookError(f"{name}: {_file_reason(exc)}") from None
    if magic.startswith(OLE_MAGIC):
        raise NotAWorkbookError(
            f"{name}: a legacy .xls or password-protected workbook; save it as an unprotected "
            ".xlsx (Excel Workbook) first")
    if not magic.startswith(ZIP_MAGIC):
        raise NotAWorkbookError(f"{name}: not an .xlsx workbook (not a zip archive)")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise NotAWorkbookError(f"{name}: not an .xlsx workbook (broken zip: {exc})") from None
    try:
        check_members(archive, name, limits)
    except BaseException:
        archive.close()
        raise
    return archive


def check_members(archive: zipfile.ZipFile, name: str, limits: Limits) -> None:
    """Declared sizes and ratios within limits; the parts of a workbook present."""
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise HostileFileError(f"{name}: {len(infos)} archive members, more than "
                               f"{limits.max_members}")
    total = 0
    for info in infos:
        total += info.file_size
        if info.flag_bits & 0x1:
            raise NotAWorkbookError(
                f"{name}: part {info.filename} is encrypted; save the workbook without a "
                "password first")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise NotAWorkbookError(
                f"{name}: part {info.filename} uses a compression spreadsheets do not write "
                f"(method {info.compress_type}); save it again from the spreadsheet")
        if info.file_size > limits.max_member_bytes:
            raise HostileFileError(
                f"{name}: member {info.filename} expands to {_size(info.file_size)}, more than "
                f"{_size(limits.max_member_bytes)}")
        if info.file_size > limits.ratio_floor_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise HostileFileError(
                    f"{name}: member {info.filename} expands {ratio:.0f} times "
                    f"({_size(info.compress_size)} to {_size(info.file_size)}), more than "
                    f"{limits.max_ratio:.0f}: refused as a possible zip bomb")
    if total > limits.max_total_bytes:
        raise HostileFileError(f"{name}: contents expand to {_size(total)}, more than "
                               f"{_size(limits.max_total_bytes)}")
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise NotAWorkbookError(
            f"{name}: a zip archive but not an Excel workbook (no xl/workbook.xml)")


_NAME_START = re.compile(rb"[A-Za-z_]")


def _root_start(text: bytes) -> int | None:
    """Where the root element starts, skipping comments and processing instructions (a "<x"
    inside one is not the root); None while the text ends before it. One pass with
    ``bytes.find``: no pattern that rescans an unclosed comment for each of its starts."""
    at = 0
    while (at := text.find(b"<", at)) >= 0:
        for opener, closer in ((b"<!--", b"-->"), (b"<?", b"?>")):
            if text.startswith(opener, at):
                end = text.find(closer, at + len(opener))
                if end < 0:
                    return None
                at = end + len(closer)
                break
        else:
            if _NAME_START.match(text, at + 1):
                return at
            at += 1
    return None


def _prolog_text(head: bytes) -> bytes:
    """Normalise UTF-16 prologs to ASCII-ish bytes so the markers can be found."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[1:2] == b"\x00" or head[:1] == b"\x00":
        encoding = "utf-16-be" if head.startswith(b"\xfe\xff") or head[:1] == b"\x00" else (
            "utf-16-le")
        return head.decode(encoding, "replace").encode("ascii", "replace")
    return head


def check_xml_prolog(archive: zipfile.ZipFile, member: str, name: str,
                     limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a part that declares a DTD or entities before its root element."""
    head = b""
    with archive.open(member) as stream:
        while len(head) < limits.max_prolog_bytes:
            chunk = stream.read(4096)
            if not chunk:
                break
            head += chunk
            text = _prolog_text(head)
            root = _root_start(text)
            if root is not None:
                head = text[:root]
                break
        else:
            raise HostileFileError(
                f"{name}: {member} has no root element in its first "
                f"{_size(limits.max_prolog_bytes)}")
    upper = _prolog_text(head).upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise HostileFileError(
            f"{name}: {member} declares a DTD or XML entities, which a workbook never needs "
            "(refused: entity expansion can exhaust memory)")


_XML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<")


def _looks_like_xml(head: bytes) -> bool:
    return bool(_XML_START.match(head)) or head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        head[:1] == b"<" or head[1:2] == b"<")


def check_all_xml(archive: zipfile.ZipFile, name: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Check the prolog of every member that is XML, whatever its name says (a sheet part may
    be called anything its relationship points to)."""
    for info in archive.infolist():
        if info.is_dir() or info.file_size == 0:
            continue
        with archive.open(info) as stream:
            head = stream.read(64)
        if info.filename.endswith((".xml", ".rels", ".vml")) or _looks_like_xml(head):
            check_xml_prolog(archive, info.filename, name, limits)


_PREFIX = rb"<(?:[A-Za-z_][\w.-]*:)?"
# Attribute runs are bounded so that every pattern below is linear in the sheet's size: with
# an open-ended [^>]*, a sheet of "<c <c <c ..." without ">" cost time quadratic in its length.
# Real cell and row tags stay far below the bound; a longer one is refused (_LONG_TAG).
TAG_MAX = 1024
_ATTRS = rb"[^>]{0,%d}?" % TAG_MAX
_LONG_TAG = re.compile(_PREFIX + rb"(?:c|row)(?=[\s/>])[^>]{%d}" % (TAG_MAX + 1))
# XML allows either quote and spaces around "=" (XML 1.0 section 3.1, production Eq); a reader
# that only knew r="..." could be walked past with r = 'XFD1048576'.
_R = rb"""\br\s{0,64}=\s{0,64}["']"""
_CELL_REF = re.compile(_PREFIX + rb"c\s" + _ATTRS + _R + rb"([A-Za-z]{1,3})([1-9][0-9]{0,6})[\"']")
_ROW_REF = re.compile(_PREFIX + rb"row\s" + _ATTRS + _R + rb"([1-9][0-9]{0,6})[\"']")
_EMPTY_ROW = re.compile(_PREFIX + rb"row\s" + _ATTRS + _R + rb"([1-9][0-9]{0,6})[\"']" + _ATTRS
                        + rb"(?:/>|(?<!/)>\s{0,64}</(?:[A-Za-z_][\w.-]*:)?row>)")
# A reference written any other way (leading zeros, eight digits, four letters, junk) is one a
# dense reader may still place somewhere far away: refused, never skipped by the size scan.
_BAD_CELL_REF = re.compile(
    _PREFIX + rb"c\s" + _ATTRS + _R + rb"(?![A-Za-z]{1,3}[1-9][0-9]{0,6}[\"'])([^\"'<>]{0,24})")
_BAD_ROW_REF = re.compile(
    _PREFIX + rb"row\s" + _ATTRS + _R + rb"(?![1-9][0-9]{0,6}[\"'])([^\"'<>]{0,24})")
#: Excel's grid (and LibreOffice's since 7.4): 1,048,576 rows, columns A to XFD.
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384
# Cells and rows without an r attribute take the next position (ECMA-376 Part 1, 18.3.1.4 and
# 18.3.1.73), so they extend a sheet as far as referenced ones do.
_CELL_NO_REF = re.compile(_PREFIX + rb"c(?=[\s/>])(?!" + _ATTRS + _R + rb")")
_ROW_NO_REF = re.compile(_PREFIX + rb"row(?=[\s/>])(?!" + _ATTRS + _R + rb")")
_ROW_START = re.compile(_PREFIX + rb"row(?=[\s/>])")
_CELL_TAG = re.compile(_PREFIX + rb"c(?=[\s/>])")
# A cell whose first child is <f> holds a formula (CT_Cell: f, v, is in that order).
_FORMULA_CELL = re.compile(
    _PREFIX + rb"c\s" + _ATTRS + _R + rb"([A-Z]{1,3}[0-9]{1,7})[\"']" + _ATTRS
    + rb"(?<!/)>\s{0,64}" + _PREFIX + rb"f[\s/>]")
_FORMULA_TEXT = re.compile(
    _PREFIX + rb"c\s" + _ATTRS + _R + rb"([A-Z]{1,3}[0-9]{1,7})[\"']" + _ATTRS
    + rb"(?<!/)>\s{0,64}" + _PREFIX + rb"f(?:\s" + _ATTRS + rb")?>([^<]{0,512})<")
_ERROR_CELL = re.compile(
    _PREFIX + rb"c\s(?=[^>]{0,%d}?\bt\s{0,64}=\s{0,64}[\"']e[\"'])" % TAG_MAX + _ATTRS + _R
    + rb"([A-Z]{1,3}[0-9]{1,7})[\"']" + _ATTRS + rb"(?<!/)>(?:\s{0,64}" + _PREFIX
    + rb"f[^>]{0,%d}>[^<]{0,4096}</(?:[A-Za-z_][\w.-]*:)?f>)?\s{0,64}" % TAG_MAX
    + _PREFIX + rb"v>([^<]{0,32})<")
_DIMENSION = re.compile(
    _PREFIX + rb"dimension\s+ref=\"([A-Z]+)?(\d+)?(?::([A-Z]+)(\d+))?\"")


@dataclass(frozen=True)
class SheetScan:
    """What a cheap pass over a sheet's XML finds: its extent and which cells hold formulas."""

    max_row: int
    max_column: int
    formula_cells: frozenset[str]  # cell references, e.g. "W12"
    #: The text of each formula that could be read (without "="); "" for a shared formula's
    #: followers and formulas too long to show.
    formula_texts: Mapping[str, str] = field(default_factory=dict)
    #: Cells holding an error value (t="e"), with the error shown (#DIV/0!, #N/A, ...): a dense
    #: reader gives them as empty.
    error_cells: Mapping[str, str] = field(default_factory=dict)

    def has_formula(self, row: int, column: int) -> bool:
        return f"{get_column_letter(column)}{row}" in self.formula_cells


def _column_number(letters: bytes) -> int:
    return int(column_index_from_string(letters.decode()))


def sheet_cells(archive: zipfile.ZipFile, member: str, name: str, sheet_title: str,
                limits: Limits = DEFAULT_LIMITS,
                shared: Sequence[int] | None = None) -> SheetScan:
    """Scan one sheet's XML for its real extent and formula cells; refuse enormous sheets.

    The regular expressions run in C over the raw bytes; Python only sees the distinct column
    letters and row numbers, so a sheet of half a million cells scans in a fraction of a second.
    """
    data = archive.read(member)
    dimension = _DIMENSION.search(data, 0, 4096)
    if dimension is not None and dimension.group(3):
        rows = int(dimension.group(4))
        cols = _column_number(dimension.group(3))
        if rows * cols > limits.max_cells:
            raise HostileFileError(
                f"{name}: sheet {sheet_title!r} declares {rows:,} rows x {cols:,} columns, more "
                f"than {limits.max_cells:,} cells")
    long_tag = _LONG_TAG.search(data)
    if long_tag is not None:
        raise HostileFileError(
            f"{name}: sheet {sheet_title!r} has a cell or row tag longer than {TAG_MAX:,} "
            f"characters (at byte {long_tag.start():,}), which no spreadsheet writes")
    for pattern, what in ((_BAD_CELL_REF, "cell"), (_BAD_ROW_REF, "row")):
        bad = pattern.search(data)
        if bad is not None:
            shown = bad.group(1).decode("ascii", "replace")
            raise HostileFileError(
                f"{name}: sheet {sheet_title!r} ({member}) has the {what} reference {shown!r}, "
                "which no spreadsheet writes (leading zeros, too many digits or letters)")
    refs = _CELL_REF.findall(data)
    letters = {col.upper() for col, _ in refs}
    # A row without cells (<row r="1048576"/>, a height set far down) adds nothing to read.
    empty = set(_EMPTY_ROW.findall(data))
    numbers = {row for _, row in refs} | (set(_ROW_REF.findall(data)) - empty)
    max_col = max((_column_number(c) for c in letters), default=0)
    max_row = max((int(r) for r in numbers), default=0)
    if max_row > MAX_ROWS or max_col > MAX_COLUMNS:
        where = f"row {max_row:,}" if max_row > MAX_ROWS else f"column {max_col:,}"
        raise HostileFileError(
            f"{name}: sheet {sheet_title!r} ({member}) has a cell in {where}, beyond the "
            f"{MAX_ROWS:,} rows x {MAX_COLUMNS:,} columns (A to XFD) of a spreadsheet")
    max_row += len(_ROW_NO_REF.findall(data))
    if _CELL_NO_REF.search(data) is not None:
        # Rare (Excel, LibreOffice and openpyxl always write r): bound the implicit columns by
        # the most cells any one row holds.
        starts = [0, *(m.start() for m in _ROW_START.finditer(data)), len(data)]
        widest = max(len(_CELL_TAG.findall(data, a, b)) for a, b in pairwise(starts))
        max_col += widest
    if max_row * max_col > limits.max_cells:
        raise HostileFileError(
            f"{name}: sheet {sheet_title!r} spans {max_row:,} rows x {max_col:,} columns, more "
            f"than {limits.max_cells:,} cells")
    if shared:
        _check_shared_text(data, shared, name, sheet_title, member, limits)
    formulas = frozenset(ref.decode() for ref in _FORMULA_CELL.findall(data))
    texts = {ref.decode(): html.unescape(text.decode("utf-8", "replace"))
             for ref, text in _FORMULA_TEXT.findall(data)} if formulas else {}
    errors = {ref.decode(): value.decode("utf-8", "replace").strip() or "#VALUE!"
              for ref, value in _ERROR_CELL.findall(data)}
    return SheetScan(max_row, max_col, formulas, texts, errors)


_SST_COUNTS = re.compile(rb"""\b(uniqueCount)\s{0,64}=\s{0,64}["']\s*([0-9]{1,30})""")
_SST_ROOT = re.compile(_PREFIX + rb"sst\b([^>]{0,4096})>")


def check_shared_strings(archive: zipfile.ZipFile, name: str) -> None:
    """Refuse a shared-string table that declares more strings than its part can hold: a
    reader sizes its table from ``uniqueCount`` before reading a string (4,000,000,000 there
    makes one allocate far more memory than the machine has)."""
    for info in archive.infolist():
        if not info.filename.lower().endswith("sharedstrings.xml"):
            continue
        with archive.open(info) as stream:
            head = stream.read(8192)
        root = _SST_ROOT.search(head)
        if root is None:
            continue
        # The smallest string entry, "<si/>", takes 5 bytes.
        most = info.file_size // 5 + 1
        for attribute, number in _SST_COUNTS.findall(root.group(1)):
            if int(number) > most:
                raise HostileFileError(
                    f"{name}: {info.filename} declares {attribute.decode()} {int(number):,} "
                    f"strings, more than its {_size(info.file_size)} can hold")


_SI_START = re.compile(_PREFIX + rb"si(?=[\s/>])")
_SHARED_CELL = re.compile(
    _PREFIX + rb"c\s[^>]{0,%d}?\bt\s{0,64}=\s{0,64}[\"']s[\"'][^>]{0,%d}?(?<!/)>\s{0,64}"
    % (TAG_MAX, TAG_MAX) + _PREFIX + rb"v>\s{0,64}([0-9]{1,12})")


def shared_string_sizes(archive: zipfile.ZipFile) -> list[int]:
    """The size in bytes of each entry of the shared-string table (an upper bound on its text),
    in index order; empty without a table."""
    member = next((i for i in archive.infolist()
                   if i.filename.lower().endswith("sharedstrings.xml")), None)
    if member is None:
        return []
    data = archive.read(member)
    starts = [m.start() for m in _SI_START.finditer(data)]
    return [b - a for a, b in pairwise([*starts, len(data)])]


def _check_shared_text(data: bytes, shared: Sequence[int], name: str, sheet_title: str,
                       member: str, limits: Limits) -> None:
    """Refuse a sheet whose shared-string cells would expand past ``max_text_bytes``: a
    reader gives every cell its own copy, so one long string used by many cells is a bomb."""
    indices = _SHARED_CELL.findall(data)
    if len(indices) * max(shared) <= limits.max_text_bytes:
        return
    count = len(shared)
    total = sum(shared[i] for i in map(int, indices) if i < count)
    if total > limits.max_text_bytes:
        raise HostileFileError(
            f"{name}: sheet {sheet_title!r} ({member}) repeats shared text that expands to "
            f"{_size(total)}, more than {_size(limits.max_text_bytes)}")
