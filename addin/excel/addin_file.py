"""Build the PerpRisk Excel add-in (.xlam) from xlwings' own custom add-in template.

xlwings ships ``quickstart_addin.xlam``: the xlwings VBA (the COM-server start-up, ``RunPython``,
``ImportPythonUDFs``/``ImportPythonUDFsToAddin``) plus a hidden settings sheet ``_myaddin.conf``
that stays inactive until renamed. This module copies that template and edits the OOXML parts
directly (openpyxl refuses add-ins): the settings sheet is activated as ``myaddin.conf`` and
filled with the UDF module and, when known, the Python interpreter. The VBA project is written
from source (:mod:`addin.excel.addin_project`): xlwings' add-in module plus one wrapper per PERP_
function, so the add-in is ready without Excel's "Import Functions". ``ready=False`` keeps the
template's project byte for byte instead (then the wrappers are imported in Excel).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

import xlwings

from addin.excel.addin_project import ready_vba_project

__all__ = ["ADDIN_NAME", "TEMPLATE", "UDF_MODULES", "addin_settings", "write_addin"]

ADDIN_NAME = "PerpRisk.xlam"
UDF_MODULES = "addin.excel.udfs"
TEMPLATE = Path(xlwings.__file__).resolve().parent / "quickstart_addin.xlam"
# The template's VBA constant PROJECT_NAME; its settings sheet must be named after it.
_PROJECT = "myaddin"


def addin_settings(interpreter: str | None = None, pythonpath: str | None = None) -> dict[str, str]:
    """The settings-sheet values (keys as the template labels them)."""
    settings = {"UDF Modules": UDF_MODULES}
    if interpreter:
        settings["Interpreter_Win"] = interpreter
    if pythonpath:
        settings["PYTHONPATH"] = pythonpath
    return settings


def _shared_strings(xml: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", item) for item in re.findall(r"<si>(.*?)</si>", xml, flags=re.S)]


def _fill_settings(sheet_xml: str, labels: list[str], settings: Mapping[str, str]) -> str:
    """Write each setting into column B of the row whose column A holds its label."""
    remaining = dict(settings)

    def fill(row: re.Match[str]) -> str:
        opening, body, closing = row.group(1), row.group(2), row.group(3)
        number = re.search(r'r="(\d+)"', opening)
        label = re.search(r'<c r="A\d+"[^>]*t="s"[^>]*><v>(\d+)</v></c>', body)
        if number is None or label is None or labels[int(label.group(1))] not in remaining:
            return row.group(0)
        value = remaining.pop(labels[int(label.group(1))])
        r = number.group(1)
        body = re.sub(rf'<c r="B{r}"[^>]*?(?:/>|>.*?</c>)', "", body, flags=re.S)
        cell = f'<c r="B{r}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
        opening = re.sub(r'spans="\d+:\d+"', 'spans="1:2"', opening)
        return opening + body + cell + closing

    filled = re.sub(r"(<row [^>]*>)(.*?)(</row>)", fill, sheet_xml, flags=re.S)
    if remaining:
        raise ValueError(f"template has no setting rows for {sorted(remaining)}")
    return filled


def write_addin(
    out_dir: Path | str,
    *,
    interpreter: str | None = None,
    pythonpath: str | None = None,
    template: Path = TEMPLATE,
    ready: bool = True,
) -> Path:
    """Write ``PerpRisk.xlam`` into ``out_dir`` and return its path.

    Parameters
    ----------
    out_dir : path
        Folder to write into (created if missing).
    interpreter : str, optional
        ``Interpreter_Win``: full path of ``pythonw.exe`` in the environment where perprisk is
        installed. Left empty, xlwings starts ``pythonw`` from the PATH.
    pythonpath : str, optional
        Extra folders for Python's import path (``;``-separated).
    ready : bool
        Write the VBA project with the function wrappers (default); False keeps the template's.
    """
    target = Path(out_dir) / ADDIN_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    settings = addin_settings(interpreter, pythonpath)
    with zipfile.ZipFile(template) as source:
        labels = _shared_strings(source.read("xl/sharedStrings.xml").decode("utf-8"))
        # Read before writing: writestr() updates the shared ZipInfo records it is given.
        project = ready_vba_project(source) if ready else None
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for item in source.infolist():
                data = source.read(item.filename)
                if item.filename == "xl/workbook.xml":
                    xml = data.decode("utf-8")
                    xml = xml.replace(f'name="_{_PROJECT}.conf"', f'name="{_PROJECT}.conf"')
                    # Drop the template author's absolute path (x15ac:absPath).
                    xml = re.sub(
                        r"<mc:AlternateContent.*?</mc:AlternateContent>", "", xml, flags=re.S
                    )
                    data = xml.encode("utf-8")
                elif item.filename == "xl/worksheets/sheet1.xml":
                    data = _fill_settings(data.decode("utf-8"), labels, settings).encode("utf-8")
                elif item.filename == "xl/vbaProject.bin" and project is not None:
                    data = project
                out.writestr(item, data)
    return target
