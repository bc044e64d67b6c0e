"""``perprisk addin``: the cell functions' hosts from one place.

``install`` (Excel through xlwings, or LibreOffice Calc's .oxt), ``convert`` (a workbook's PERP_
formulas between Excel's and Calc's names), ``file`` (the ready PerpRisk.xlam) and ``reference``
(the function reference page). The group sits above the Excel and Calc packages, each of which
knows only its own host.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _install(args: argparse.Namespace) -> int:
    if args.libreoffice:
        from addin.calc.install import install_libreoffice

        calc = install_libreoffice(shared=args.shared, profile=args.profile)
        print(calc.text(), end="")
        return 0 if calc.installed else 1
    from addin.excel.install import install

    report = install(addin_dir=args.addin_dir)
    print(report.text(), end="")
    return 0 if report.installed else 1


def _convert(args: argparse.Namespace) -> int:
    from addin.calc.formulas import convert_workbook

    source: Path = args.workbook
    target: Path = args.output or source.with_name(f"{source.stem}-{args.to}{source.suffix}")
    if not source.is_file():
        print(f"perprisk addin convert: {source} not found", file=sys.stderr)
        return 1
    if target.resolve() == source.resolve():
        print("perprisk addin convert: give another --output than the workbook", file=sys.stderr)
        return 1
    count = convert_workbook(source, target, to=args.to)
    print(f"wrote {target} ({count} formulas rewritten for {args.to})")
    return 0


def _file(args: argparse.Namespace) -> int:
    from addin.excel.addin_file import write_addin

    print(f"wrote {write_addin(args.out, interpreter=args.interpreter)}")
    return 0


def _reference(args: argparse.Namespace) -> int:
    from addin.excel.reference import functions, render_markdown, write_reference

    if args.output is None:
        sys.stdout.write(render_markdown(functions()))
    else:
        print(f"wrote {write_reference(args.output)}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``addin`` command group to the ``perprisk`` parser."""
    group = subparsers.add_parser(
        "addin", help="cell functions: Excel (xlwings add-in) and LibreOffice Calc (PerpRisk.oxt)"
    )
    commands = group.add_subparsers(dest="addin_command", metavar="ACTION", required=True)

    install = commands.add_parser(
        "install",
        help="register the PERP_ functions with Excel (Windows) or, with --libreoffice, with "
        "LibreOffice Calc",
    )
    install.add_argument(
        "--addin-dir",
        type=Path,
        default=None,
        help="folder for PerpRisk.xlam (default: %%APPDATA%%\\perprisk)",
    )
    install.add_argument(
        "--libreoffice",
        action="store_true",
        help="add the functions to LibreOffice Calc instead (PerpRisk.oxt, with unopkg)",
    )
    install.add_argument(
        "--shared",
        action="store_true",
        help="with --libreoffice: for every user of this machine (administrator rights)",
    )
    install.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="with --libreoffice: this LibreOffice user folder instead of your own",
    )
    install.set_defaults(func=_install)

    convert = commands.add_parser(
        "convert",
        help="rewrite a workbook's PERP_ formulas for LibreOffice Calc or for Excel",
        description="LibreOffice stores add-in functions under a long name "
        "(ORG.PERPRISK.CALC.PERPRISK.PERP_...) and reads only that; Excel uses PERP_... "
        "This writes a copy of a .xlsx/.xlsm/.ods with the formulas named for the other program.",
    )
    convert.add_argument("workbook", type=Path, help=".xlsx, .xlsm or .ods file")
    convert.add_argument(
        "--for", dest="to", choices=("libreoffice", "excel"), required=True,
        help="the program that will open the copy",
    )
    convert.add_argument(
        "--output", "-o", type=Path, default=None,
        help="where to write the copy (default: NAME-libreoffice.xlsx / NAME-excel.xlsx)",
    )
    convert.set_defaults(func=_convert)

    addin_file = commands.add_parser(
        "file", help="write PerpRisk.xlam, xlwings' add-in template with perprisk's settings"
    )
    addin_file.add_argument("--out", type=Path, default=Path("dist"), help="folder (default dist)")
    addin_file.add_argument(
        "--interpreter", default=None, help="pythonw.exe for Interpreter_Win (default: PATH)"
    )
    addin_file.set_defaults(func=_file)

    reference = commands.add_parser(
        "reference", help="print the cell-function reference (markdown)"
    )
    reference.add_argument("--output", type=Path, default=None, help="write to this file instead")
    reference.set_defaults(func=_reference)
