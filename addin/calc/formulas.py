"""Carry PERP_ formulas between Excel files and LibreOffice Calc.

LibreOffice stores an add-in function in a file under its *programmatic* name,
``ORG.PERPRISK.CALC.PERPRISK.PERP_LIQ_PRICE(...)``, in .ods and in the .xlsx files it writes,
and reads only that name back: a workbook made in Excel (or written by openpyxl) holding
``PERP_LIQ_PRICE(...)`` opens in Calc with #NAME? in those cells, and a workbook saved by Calc
shows #NAME? in Excel. :func:`convert_workbook` rewrites the formulas of a .xlsx/.xlsm/.ods file
for the other program; nothing else in the file changes.

Examples
--------
>>> for_libreoffice('=PERP_NOTIONAL(A1,B1)+LEN("PERP_NOTIONAL(")')
'=ORG.PERPRISK.CALC.PERPRISK.PERP_NOTIONAL(A1,B1)+LEN("PERP_NOTIONAL(")'
>>> for_excel("of:=ORG.PERPRISK.CALC.PERPRISK.PERP_TIER([.A1];[.B1:.F4])")
'of:=PERP_TIER([.A1];[.B1:.F4])'
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Literal

from addin.calc import oxt
from addin.excel import spec

__all__ = ["Target", "convert_workbook", "for_excel", "for_libreoffice"]

Target = Literal["libreoffice", "excel"]


@cache
def _names() -> tuple[str, ...]:
    return tuple(sorted((f.name for f in spec.functions()), key=len, reverse=True))


def _outside_strings(formula: str, change: Callable[[str], str]) -> str:
    """Apply ``change`` to the parts of a formula that are not inside "string literals"."""
    parts = formula.split('"')
    return '"'.join(change(part) if i % 2 == 0 else part for i, part in enumerate(parts))


@cache
def _excel_pattern() -> re.Pattern[str]:
    # PERP_X( as Excel writes it: bare, after an add-in reference ([1]!, 'PerpRisk.xlam'!) or
    # with the _xll. prefix; never a programmatic name or part of a longer identifier.
    names = "|".join(re.escape(n) for n in _names())
    return re.compile(
        rf"(?<![\w.])(?:\[\d+\]!|'[^']*'!|[\w.]+\.xlam!|_xll\.)?({names})(?=\s*\()",
        re.IGNORECASE,
    )


@cache
def _calc_pattern() -> re.Pattern[str]:
    names = "|".join(re.escape(n) for n in _names())
    prefix = re.escape(oxt.IMPLEMENTATION.upper() + ".")
    return re.compile(rf"(?<![\w.]){prefix}({names})(?=\s*\()", re.IGNORECASE)


def _canonical(name: str) -> str:
    return name.upper()


def for_libreoffice(formula: str) -> str:
    """A formula with every PERP_ function under the name LibreOffice stores."""
    return _outside_strings(
        formula,
        lambda part: _excel_pattern().sub(
            lambda m: oxt.programmatic_name(_canonical(m.group(1))), part
        ),
    )


def for_excel(formula: str) -> str:
    """A formula with every PERP_ function under the name Excel's add-in uses."""
    return _outside_strings(
        formula, lambda part: _calc_pattern().sub(lambda m: _canonical(m.group(1)), part)
    )


def _xlsx_part(xml: str, change: Callable[[str], str]) -> str:
    def cell(match: re.Match[str]) -> str:
        formula = html.unescape(match.group(2))
        return match.group(1) + html.escape(change(formula), quote=False) + match.group(3)

    return re.sub(r"(<f\b[^>]*>)(.*?)(</f>)", cell, xml, flags=re.S)


def _ods_part(xml: str, change: Callable[[str], str]) -> str:
    def attribute(match: re.Match[str]) -> str:
        formula = html.unescape(match.group(2))
        return match.group(1) + html.escape(change(formula), quote=True) + match.group(3)

    return re.sub(r'(table:formula=")([^"]*)(")', attribute, xml)


def convert_workbook(source: Path | str, target: Path | str, *, to: Target) -> int:
    """Copy ``source`` (.xlsx, .xlsm or .ods) to ``target`` with its PERP_ formulas rewritten
    for ``to``; return how many formulas changed."""
    change = for_libreoffice if to == "libreoffice" else for_excel
    changed = 0

    def counted(formula: str) -> str:
        nonlocal changed
        new = change(formula)
        changed += new != formula
        return new

    source, target = Path(source), Path(target)
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(partial, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            name = item.filename
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                data = _xlsx_part(data.decode("utf-8"), counted).encode("utf-8")
            elif name == "content.xml":
                data = _ods_part(data.decode("utf-8"), counted).encode("utf-8")
            new.writestr(item, data)
    partial.replace(target)
    return changed
