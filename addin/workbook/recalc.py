"""Recalculate or render workbooks with LibreOffice headless.

LibreOffice's default profile never recalculates an xlsx on load (``OOXMLRecalcMode`` = 1) and
keeps whatever cached values the file carries, so each call here runs with a private profile
seeded to always recalculate. Each process gets its own profile: concurrent conversions that
share one lose output files silently. soffice exits 0 even when a file failed to load, so every
expected output is checked.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

INSTALL_HINT = (
    "LibreOffice (soffice) not found: install it, e.g. `sudo apt-get install "
    "libreoffice-calc-nogui` (Debian/Ubuntu) or `brew install --cask libreoffice` (macOS), "
    "or set PERPRISK_SOFFICE to its path"
)

_profile: Path | None = None
_profile_pid: int | None = None


class LibreOfficeError(RuntimeError):
    """LibreOffice is missing or did not produce the expected file."""


def soffice_path() -> str:
    """Path of the soffice executable, or LibreOfficeError with one line on how to install it."""
    override = os.environ.get("PERPRISK_SOFFICE")
    if override and Path(override).exists():
        return override
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise LibreOfficeError(INSTALL_HINT)


def profile_dir() -> Path:
    """This process's private LibreOffice profile (created once, removed at exit)."""
    global _profile, _profile_pid
    if _profile is None or _profile_pid != os.getpid():
        root = Path(tempfile.mkdtemp(prefix="perprisk-lo-"))
        (root / "user").mkdir()
        (root / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")
        _profile, _profile_pid = root, os.getpid()
        atexit.register(shutil.rmtree, root, True)
    return _profile


def _convert(paths: Sequence[Path], out_dir: Path, target: str, suffix: str,
             timeout: float) -> list[Path]:
    if not paths:
        return []
    soffice = soffice_path()
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        if path.resolve().parent == out_dir.resolve() and suffix == path.suffix:
            raise LibreOfficeError(f"refusing to convert {path} onto itself: pick another folder")
    command = [soffice, f"-env:UserInstallation={profile_dir().as_uri()}", "--headless",
               "--norestore", "--convert-to", target, "--outdir", str(out_dir),
               *[str(p) for p in paths]]
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise LibreOfficeError(f"LibreOffice took longer than {timeout:g} s") from exc
    outputs = [out_dir / (p.stem + suffix) for p in paths]
    missing = [o for o in outputs if not o.exists() or o.stat().st_size == 0]
    if missing:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise LibreOfficeError(
            f"LibreOffice did not write {', '.join(m.name for m in missing)}"
            + (f": {detail[-1]}" if detail else ""))
    return outputs


def recalculate(paths: Sequence[Path], out_dir: Path, *, timeout: float = 300) -> list[Path]:
    """Recalculate every formula of ``paths`` and write the results as xlsx into ``out_dir``.

    Read the values back with ``openpyxl.load_workbook(path, data_only=True)``. The output is
    LibreOffice's re-save: use it for values only, never ship it.
    """
    return _convert(paths, out_dir, 'xlsx:Calc MS Excel 2007 XML', ".xlsx", timeout)


def render_pdf(paths: Sequence[Path], out_dir: Path, *, timeout: float = 300) -> list[Path]:
    """Render each workbook to PDF (recalculated, with its print setup) into ``out_dir``."""
    return _convert(paths, out_dir, "pdf:calc_pdf_Export", ".pdf", timeout)


def pdf_bytes(path: Path) -> bytes:
    """One workbook as PDF bytes (LibreOffice renders a temporary copy; the file is untouched)."""
    with tempfile.TemporaryDirectory(prefix="perprisk-pdf-") as tmp:
        return render_pdf([path], Path(tmp))[0].read_bytes()
