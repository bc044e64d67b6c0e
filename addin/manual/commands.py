"""``perprisk manual``: write the credit-risk manual as a PDF (``python build.py --manual`` too)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("perprisk-manual.pdf")


def _add_arguments(parser: argparse.ArgumentParser, default_out: Path = DEFAULT_OUT) -> None:
    parser.add_argument("--out", type=Path, default=default_out, metavar="FILE.pdf",
                        help=f"where to write the PDF (default {default_out})")
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4",
                        help="page size (default a4)")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "manual", help="write the credit-risk manual (PDF) with live worked examples",
        description="Write the credit-risk manual as a PDF: the frameworks, a worked example "
                    "per venue and filled samples of the workbook, every figure computed by "
                    "perprisk while building from the bundled sample data. Needs WeasyPrint "
                    "(pip install 'perprisk[manual]').")
    _add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from addin.manual.render import ManualError, build_manual

    out: Path = args.out
    if out.suffix.lower() != ".pdf":
        print(f"perprisk manual: --out must name a .pdf file (got {out})", file=sys.stderr)
        return 2
    if out.is_dir():
        print(f"perprisk manual: {out} is a folder", file=sys.stderr)
        return 2
    try:
        written = build_manual(out, paper=args.paper)
    except ManualError as exc:
        print(f"perprisk manual: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"perprisk manual: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {written} ({args.paper})")
    return 0


def main(argv: Sequence[str] | None = None, *,
         default_out: Path = Path("dist") / DEFAULT_OUT) -> int:
    """``python build.py --manual [--out FILE.pdf] [--paper a4|letter]`` (default
    ``dist/perprisk-manual.pdf``)."""
    parser = argparse.ArgumentParser(prog="build.py --manual",
                                     description="Write the credit-risk manual as a PDF.")
    _add_arguments(parser, default_out)
    return run(parser.parse_args(argv))
