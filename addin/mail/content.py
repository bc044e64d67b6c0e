"""What a file to be attached really is: read safely once, typed by its content, macros found.

- :func:`read_attachment` opens the file once, checks on the open descriptor that it is a regular
  file within a size limit *before* reading (so ``/dev/zero``, a FIFO, a device, a folder or a
  2 GiB file cost nothing), and returns its bytes; everything else works from those bytes.
- :func:`workbook_type` takes the MIME type from the content (zip signature and the package's
  ``[Content_Types].xml``), never from the file name.
- :func:`macro_parts` lists the VBA projects a workbook carries.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from pathlib import Path

from addin.mail.message import BINARY_TYPE, XLSM_TYPE, XLSX_TYPE, MailError

#: Larger attachments are refused: most mail servers take 25-50 MB per message.
MAX_ATTACHMENT_BYTES = 50 * 2**20

ZIP_MAGIC = b"PK\x03\x04"
_MAIN_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_MAIN_XLSM = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_MAX_CONTENT_TYPES_BYTES = 1 * 2**20
_VBA_TYPE = "application/vnd.ms-office.vbaProject"
_VBA_OVERRIDE = re.compile(
    r"""<Override\s[^>]*PartName\s*=\s*["']([^"']+)["'][^>]*"""
    + re.escape(_VBA_TYPE))


class AttachmentError(MailError):
    """The file cannot be attached; the message names the file and the reason."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def read_attachment(path: Path, *, max_bytes: int = MAX_ATTACHMENT_BYTES) -> bytes:
    """The bytes of ``path``, read once, after checking type and size on the open file.

    ``O_NONBLOCK`` keeps the open of a FIFO from waiting for a writer; the checks are made with
    ``fstat`` on the descriptor that is then read, so the file cannot be swapped in between. At
    most ``max_bytes + 1`` bytes are read, in case the file grows after the check.
    """
    name = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise AttachmentError(f"{name}: no such file") from None
    except OSError as exc:
        raise AttachmentError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AttachmentError(f"{name}: is {_kind(info.st_mode)}, not a workbook file; "
                                  "not sent")
        if info.st_size > max_bytes:
            raise AttachmentError(f"{name}: is {_size(info.st_size)}, larger than the "
                                  f"{_size(max_bytes)} an email attachment may be; not sent")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise AttachmentError(f"{name}: grew past {_size(max_bytes)} while being read; "
                                  "not sent")
        return b"".join(chunks)
    except OSError as exc:
        raise AttachmentError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _open_zip(data: bytes) -> zipfile.ZipFile | None:
    if not data.startswith(ZIP_MAGIC):
        return None
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def _content_types(archive: zipfile.ZipFile) -> str | None:
    try:
        info = archive.getinfo("[Content_Types].xml")
        if info.file_size > _MAX_CONTENT_TYPES_BYTES:
            return None
        with archive.open(info) as handle:
            return handle.read(_MAX_CONTENT_TYPES_BYTES + 1).decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError):
        return None


def workbook_type(data: bytes) -> str:
    """XLSX_TYPE or XLSM_TYPE when ``data`` is such a package, else application/octet-stream.

    Decided by the zip signature and the main part's content type in ``[Content_Types].xml``;
    a file name plays no part.
    """
    archive = _open_zip(data)
    if archive is None:
        return BINARY_TYPE
    with archive:
        text = _content_types(archive)
    if text is None:
        return BINARY_TYPE
    if _MAIN_XLSM in text:
        return XLSM_TYPE
    if _MAIN_XLSX in text:
        return XLSX_TYPE
    return BINARY_TYPE


def macro_parts(data: bytes) -> list[str]:
    """The VBA project parts in a workbook package: ``xl/vbaProject.bin`` or any part whose
    declared content type is a VBA project, whatever its name."""
    archive = _open_zip(data)
    if archive is None:
        return []
    with archive:
        names = archive.namelist()
        text = _content_types(archive) or ""
    found = [name for name in names
             if name.lower().rsplit("/", 1)[-1].startswith("vbaproject")]
    for match in _VBA_OVERRIDE.finditer(text):
        part = match.group(1).lstrip("/")
        if part not in found:
            found.append(part)
    if not found and _VBA_TYPE in text:
        found.append("a part declared as a VBA project")
    return found
