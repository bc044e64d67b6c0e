"""``perprisk build``: write every blank assessment workbook, the Excel add-in file, the
LibreOffice Calc add-in (PerpRisk.oxt), and optionally a PDF preview of each workbook."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from addin.calc import oxt
from addin.excel.addin_file import ADDIN_NAME, write_addin
from addin.workbook import builder, layout, recalc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("dist"),
                        help="output folder (default: dist)")
    parser.add_argument("--pdf", action="store_true",
                        help="also render each workbook to PDF with LibreOffice")
    parser.add_argument("--template", action="append", choices=sorted(layout.TEMPLATES),
                        help="build only this template (repeatable; default: all, and the "
                             "Excel add-in file)")
    parser.add_argument("--no-addin", action="store_true",
                        help=f"do not write the Excel add-in file ({ADDIN_NAME})")
    parser.add_argument("--no-oxt", action="store_true",
                        help=f"do not write the LibreOffice Calc add-in ({oxt.OXT_NAME})")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "build", help="write the blank assessment workbooks",
        description="Write every blank assessment workbook into a folder. Files the build did "
                    "not write (a filled copy, say) are never overwritten.")
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    chosen = [layout.TEMPLATES[t] for t in args.template] if args.template else None
    result = builder.build_all(args.out, chosen)
    for path in result.written:
        print(f"wrote {path}")
    for path in result.skipped:
        print(f"kept {path}: not written by this build (move it away to regenerate)",
              file=sys.stderr)
    code = 1 if result.skipped else 0
    if not args.template and not args.no_addin:
        addin_path = write_addin_file(args.out)
        if addin_path is None:
            code = 1
        else:
            print(f"wrote {addin_path}")
    if not args.template and not args.no_oxt:
        try:
            oxt_path = write_oxt_file(args.out)
        except oxt.SdkMissingError as exc:
            print(f"skipped {oxt.OXT_NAME}: {exc}", file=sys.stderr)
        else:
            if oxt_path is None:
                code = 1
            else:
                print(f"wrote {oxt_path}")
    if args.pdf and result.written:
        try:
            for path in render_previews(args.out, result.written):
                print(f"wrote {path}")
        except recalc.LibreOfficeError as exc:
            print(f"perprisk build --pdf: {exc}", file=sys.stderr)
            return 1
    return code


def write_addin_file(out_dir: Path) -> Path | None:
    """The xlwings add-in (PerpRisk.xlam) into ``out_dir``, unless a file there is not ours."""
    target = out_dir / ADDIN_NAME
    if not builder.owned(target, builder.read_manifest(out_dir)):
        print(f"kept {target}: not written by this build (move it away to regenerate)",
              file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="perprisk-addin-") as scratch:
        shutil.move(str(write_addin(Path(scratch))), target)
    builder.record_file(out_dir, target)
    return target


def write_oxt_file(out_dir: Path) -> Path | None:
    """The LibreOffice Calc add-in (PerpRisk.oxt) into ``out_dir``, unless a file there is not
    ours. Raises :class:`addin.calc.oxt.SdkMissingError` when it cannot be compiled here."""
    target = out_dir / oxt.OXT_NAME
    if not builder.owned(target, builder.read_manifest(out_dir)):
        print(f"kept {target}: not written by this build (move it away to regenerate)",
              file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="perprisk-oxt-") as scratch:
        shutil.move(str(oxt.write_oxt(Path(scratch))), target)
    builder.record_file(out_dir, target)
    return target


def render_previews(out_dir: Path, workbooks: Sequence[Path]) -> list[Path]:
    """PDF of each workbook next to it, through a scratch folder so that no PDF the build did
    not write is replaced."""
    manifest = builder.read_manifest(out_dir)
    written = []
    with tempfile.TemporaryDirectory(prefix="perprisk-pdf-") as scratch:
        for pdf in recalc.render_pdf(list(workbooks), Path(scratch)):
            target = out_dir / pdf.name
            if not builder.owned(target, manifest):
                print(f"kept {target}: not written by this build", file=sys.stderr)
                continue
            shutil.move(str(pdf), target)
            builder.record_file(out_dir, target)
            written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
