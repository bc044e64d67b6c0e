"""``perprisk demo``: a filled example workbook from the bundled sample data, and its report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from addin._commands import EXIT_OK, EXIT_PROBLEMS, print_problems, reason
from addin._commands import err as _err
from addin._resources import templates_dir


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo", help="write a filled example workbook from bundled sample data, and its report")
    demo.add_argument("--out", type=Path, required=True, metavar="DIR")
    demo.add_argument("--force", action="store_true",
                      help="overwrite a demo workbook that was changed since demo wrote it")
    demo.set_defaults(func=cmd_demo)


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def cmd_demo(args: argparse.Namespace) -> int:
    from addin.fill import writer
    from addin.reader import exchange_data as data
    from addin.report import assess_file, render
    from addin.workbook import layout

    sample = templates_dir() / "sample"
    out: Path = args.out
    book_path = out / "demo-assessment.xlsx"
    # The digest of the workbook demo wrote: a workbook that no longer matches it was edited
    # (or is someone else's file) and is never overwritten without --force.
    stamp = out / ".demo-assessment.sha256"
    if book_path.exists() and not args.force:
        try:
            written = stamp.read_text(encoding="ascii").strip()
            edited = _digest(book_path) != written
        except OSError:
            edited = True
        if edited:
            _err(f"{book_path} exists and was changed since perprisk demo wrote it; "
                 "pass --force to overwrite it")
            return EXIT_PROBLEMS
    positions = data.load_export(sample / "positions.json").positions
    wb = writer.fill_workbook(layout.TEMPLATES["credit-risk-assessment"], positions,
                            data.load_tiers(sample / "tiers.json"))
    writer.fill_market_data(wb, positions, prices=data.load_ohlcv(sample / "ohlcv.json"),
                          exchanges=data.load_exchanges(sample / "exchanges.json"),
                          funding=data.load_funding(sample / "funding.json"),
                          histories=data.load_price_histories(sample / "ohlcv.json"))
    from addin.workbook.builder import fit_print_areas

    fit_print_areas(wb)  # a six-position book prints in a few pages, not sixty
    try:
        out.mkdir(parents=True, exist_ok=True)
        wb.save(book_path)
        stamp.write_text(_digest(book_path) + "\n", encoding="ascii")
    except OSError as exc:
        _err(f"{out}: cannot write the demo ({reason(exc)})")
        return EXIT_PROBLEMS
    outcome = assess_file(book_path)
    if outcome.assessment is None:
        print_problems(book_path, outcome.book.problems)
        return EXIT_PROBLEMS
    written_paths = [book_path]
    for fmt, suffix in (("html", ".html"), ("text", ".txt"), ("json", ".json")):
        target = out / f"demo-report{suffix}"
        target.write_text(render(outcome.assessment, fmt), encoding="utf-8")  # type: ignore[arg-type]
        written_paths.append(target)
    for path in written_paths:
        print(f"wrote {path}")
    print("next: perprisk email", book_path, "--to YOU@example.com --dry-run", out / "outbox")
    return EXIT_OK
