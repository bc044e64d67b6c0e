"""``perprisk report``: the assessment of a filled workbook or an export, rendered."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from addin._commands import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, print_problems, reason
from addin._commands import err as _err


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report", help="compute the full assessment of a filled workbook",
        description="Recompute every figure from the workbook's inputs and render the report.")
    report.add_argument("file", type=Path, metavar="FILE",
                        help="a filled workbook, or an export (.json from perprisk fetch, or a "
                             "ccxt positions .json/.csv): every position, default rules")
    report.add_argument("--format", choices=("text", "html", "json"), default=None,
                        help="default: from the --out extension (.html, .json, .txt), else text")
    report.add_argument("--out", type=Path, metavar="PATH", help="write here instead of stdout")
    report.add_argument("--allow-empty", action="store_true",
                        help="exit 0 for a book without positions (reported as such either way)")
    report.set_defaults(func=cmd_report)


#: Report formats by the extension of ``--out``.
FORMAT_OF_SUFFIX = {".html": "html", ".htm": "html", ".json": "json", ".txt": "text",
                    ".text": "text"}


def report_format(requested: str | None, out: Path | None) -> str:
    """The format of ``perprisk report``: ``--format``, else the extension of ``--out``, else
    text. Raises ValueError when the two disagree or the extension names no format."""
    inferred = FORMAT_OF_SUFFIX.get(out.suffix.lower()) if out is not None else None
    if requested is None:
        if out is None:
            return "text"
        if inferred is None:
            suffix = out.suffix or "a name without an extension"
            raise ValueError(f"--out {out.name}: no format for {suffix}; use .html, .json or "
                             ".txt, or pass --format")
        return inferred
    if inferred is not None and inferred != requested:
        raise ValueError(f"--format {requested} but --out {out.name if out else ''} is "
                         f"{inferred}: drop one or make them agree")
    return requested


def cmd_report(args: argparse.Namespace) -> int:
    from addin.reader import WorkbookError
    from addin.reader.exchange_data import ExportError
    from addin.report import assess_file, render
    from addin.report.pipeline import NO_POSITIONS, NOT_READ, assess_export

    try:
        fmt = report_format(args.format, args.out)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    status = EXIT_OK
    if args.file.suffix.lower() in (".json", ".csv"):
        # An export: every position, however many, with the workbook's default rules.
        try:
            assessment = assess_export(args.file)
        except (ExportError, WorkbookError) as exc:
            _err(str(exc))
            return EXIT_PROBLEMS
        if any(alert.subject == NOT_READ for alert in assessment.alerts):
            status = EXIT_PROBLEMS  # a venue of the export failed: never a clean exit
    else:
        try:
            outcome = assess_file(args.file)
        except WorkbookError as exc:
            _err(str(exc))
            return EXIT_PROBLEMS
        if outcome.assessment is None:
            print_problems(args.file, outcome.book.problems)
            return EXIT_PROBLEMS
        assessment = outcome.assessment
    if any(alert.subject == NO_POSITIONS for alert in assessment.alerts):
        _err(f"{args.file.name}: no positions: nothing was assessed"
             + ("" if args.allow_empty else " (--allow-empty exits 0)"))
        if not args.allow_empty:
            status = EXIT_PROBLEMS
    text = render(assessment, fmt)  # type: ignore[arg-type]
    if args.out:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            _err(f"{args.out}: cannot write the report ({reason(exc)})")
            return EXIT_PROBLEMS
        print(f"{args.out}: {fmt} report written")
    else:
        sys.stdout.write(text)
    return status
