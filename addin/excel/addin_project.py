"""The VBA project of the ready ``PerpRisk.xlam``, written from source.

Modules, all from text (no Excel involved):

* ``xlwings``: xlwings' own add-in module (``xlwings_custom_addin.bas``, shipped with xlwings);
  it starts the Python COM server and reads the add-in's settings sheet;
* ``Dictionary``: the class that module uses (``xlwings/addin/Dictionary.cls``);
* ``xlwings_udfs``: one VBA wrapper per ``PERP_`` function, generated from the declarations in
  :mod:`addin.excel.udfs` exactly as xlwings' "Import Functions" would write it;
* the workbook's document module (``ThisWorkbook``), whose ``Workbook_Open`` gives the Insert
  Function wizard every description, category and argument help, and each sheet's (empty)
  document module, named by the package's code names.

See :mod:`addin.excel.vba_project` for the file format.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import xlwings

from addin.excel import spec, vba_project
from addin.excel.vba_project import Module, WrappedFunction, vba_string

__all__ = ["PROJECT_NAME", "addin_modules", "ready_vba_project", "udf_wrappers", "wizard_texts"]

PROJECT_NAME = "PerpRisk"
XLWINGS_DIR = Path(xlwings.__file__).resolve().parent
XLWINGS_MODULE = XLWINGS_DIR / "xlwings_custom_addin.bas"
DICTIONARY_CLASS = XLWINGS_DIR / "addin" / "Dictionary.cls"


def udf_wrappers() -> str:
    """The ``xlwings_udfs`` module source for every PERP_ function (add-in form)."""
    functions = [
        WrappedFunction(
            name=f.name,
            arguments=tuple((a.name, a.optional) for a in f.arguments),
            volatile=bool(f.options.get("volatile", False)),
            call_in_wizard=bool(f.options.get("call_in_wizard", True)),
        )
        for f in spec.functions()
    ]
    return vba_project.udf_module_source(functions, spec.UDF_MODULE, add_in=True)


def wizard_texts() -> list[str]:
    """ThisWorkbook code that gives the Insert Function wizard each function's description,
    category and argument help when the add-in opens: the ``Application.MacroOptions`` calls
    xlwings' "Import Functions" makes (texts cut to 255 characters, as there)."""
    lines = [
        "Private Sub Workbook_Open()",
        "    ' Function Wizard texts for the PERP_ functions, as Import Functions sets them.",
        "    On Error Resume Next",
    ]
    functions = spec.functions()
    lines += [f"    Describe_{f.name}" for f in functions]
    lines.append("End Sub")
    for function in functions:
        macro = f"\"'\" & ThisWorkbook.Name & \"'!{function.name}\""
        call = [
            f"Private Sub Describe_{function.name}()",
            f"    Application.MacroOptions Macro:={macro}, _",
            f"        Description:={vba_string(function.description[:255])}, _",
        ]
        docs = [vba_string(a.doc[:255]) for a in function.arguments]
        if docs:
            call.append(f"        Category:={vba_string(function.category)}, _")
            call.append("        ArgumentDescriptions:=Array( _")
            call += [f"            {doc}, _" for doc in docs[:-1]]
            call.append(f"            {docs[-1]})")
        else:
            call.append(f"        Category:={vba_string(function.category)}")
        lines += ["", *call, "End Sub"]
    return lines


def _code_names(package: zipfile.ZipFile) -> tuple[str, list[str]]:
    """The workbook's code name and each worksheet's, as the package records them."""
    workbook = package.read("xl/workbook.xml").decode("utf-8")
    found = re.search(r'<workbookPr\b[^>]*\bcodeName="([^"]+)"', workbook)
    sheets = []
    for name in sorted(package.namelist()):
        if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
            sheet = re.search(r'<sheetPr\b[^>]*\bcodeName="([^"]+)"', package.read(name).decode())
            if sheet:
                sheets.append(sheet.group(1))
    return (found.group(1) if found else "ThisWorkbook"), sheets


def addin_modules(package: zipfile.ZipFile) -> list[Module]:
    """Every module of the ready add-in's project, for the workbook in ``package``."""
    workbook, sheets = _code_names(package)
    return [
        Module(
            workbook,
            "document",
            vba_project.document_module_source(
                workbook, vba_project.WORKBOOK_BASE, wizard_texts()
            ),
        ),
        *(
            Module(s, "document", vba_project.document_module_source(s, vba_project.WORKSHEET_BASE))
            for s in sheets
        ),
        Module(
            "Dictionary",
            "class",
            vba_project.class_module_source(DICTIONARY_CLASS.read_text(encoding="cp1252")),
        ),
        Module("xlwings", "module", XLWINGS_MODULE.read_text(encoding="cp1252")),
        Module("xlwings_udfs", "module", udf_wrappers()),
    ]


def ready_vba_project(package: zipfile.ZipFile) -> bytes:
    """``xl/vbaProject.bin`` for the workbook in ``package``."""
    return vba_project.vba_project(addin_modules(package), project_name=PROJECT_NAME)
