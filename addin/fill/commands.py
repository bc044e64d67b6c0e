"""``perprisk fill``: a blank template filled from an export."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from addin._commands import EXIT_OK, EXIT_PROBLEMS, print_problems, printable, reason
from addin._commands import err as _err


def register(subparsers: Any) -> None:
    fill = subparsers.add_parser(
        "fill", help="fill a blank template from a ccxt-shaped positions export",
        description="Write a new workbook from a blank template and a positions export: the "
                    "JSON that perprisk fetch writes, or JSON/CSV with ccxt Position fields, "
                    "optionally with leverage tiers.")
    fill.add_argument("--positions", type=Path, required=True, metavar="FILE")
    fill.add_argument("--tiers", type=Path, metavar="FILE",
                      help="ccxt fetch_leverage_tiers output {symbol: [tiers]} (JSON)")
    fill.add_argument("--funding", type=Path, metavar="FILE",
                      help="ccxt fetch_funding_rate_history output {symbol: [rates]} (JSON)")
    fill.add_argument("--prices", type=Path, metavar="FILE",
                      help="ccxt fetch_ohlcv bars {symbol: [[ts, o, h, l, c, v]...]} (JSON): "
                           "the first symbol for Volatility & VaR, every symbol (one per asset "
                           "held) for the book VaR on Prices")
    fill.add_argument("--exchanges", type=Path, metavar="FILE",
                      help="exchange scorecard facts {\"exchanges\": [...]} (JSON)")
    fill.add_argument("--exchange", default=None, metavar="VENUE",
                      help="venue (ccxt id such as binanceusdm) of positions that do not name "
                           "one; required when the export does not say")
    fill.add_argument("--template", default="credit-risk-assessment",
                      help="template id (default: credit-risk-assessment)")
    fill.add_argument("--out", type=Path, required=True, metavar="BOOK.xlsx")
    fill.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    fill.set_defaults(func=cmd_fill)


def cmd_fill(args: argparse.Namespace) -> int:
    return fill_from_export(
        args.positions, args.out, template=args.template, force=args.force,
        default_exchange=args.exchange, tiers=args.tiers, funding=args.funding,
        prices=args.prices, exchanges=args.exchanges)


def fill_from_export(
    export_path: Path,
    out: Path,
    *,
    template: str = "credit-risk-assessment",
    force: bool = False,
    default_exchange: str | None = None,
    tiers: Path | None = None,
    funding: Path | None = None,
    prices: Path | None = None,
    exchanges: Path | None = None,
) -> int:
    """Write a filled workbook from an export (``perprisk fill`` and ``perprisk fetch``).

    Prints what it wrote, every note (what it read where, what it assumed), the positions it
    skipped and the venues that failed, then checks the workbook it wrote. Returns the exit code:
    1 when anything failed or is wrong, 0 otherwise.
    """
    from addin.fill.writer import fill_market_data, fill_workbook
    from addin.reader.exchange_data import (
        ExportError,
        ExportNote,
        load_exchanges,
        load_export,
        load_funding,
        load_ohlcv,
        load_price_histories,
        load_tiers,
    )
    from addin.workbook import layout

    chosen = layout.TEMPLATES.get(template)
    if chosen is None:
        _err(f"unknown template {template!r}; known: {', '.join(layout.TEMPLATES)}")
        return EXIT_PROBLEMS
    if out.exists() and not force:
        _err(f"{out} exists; pass --force to overwrite it")
        return EXIT_PROBLEMS
    keys = layout.sheet_closure(chosen.sheets)
    for option, path, sheet in (("funding", funding, "funding"), ("prices", prices, "volatility"),
                                ("exchanges", exchanges, "scorecard")):
        if path is not None and sheet not in keys:
            _err(f"--{option}: template {chosen.id} has no {sheet} sheet")
            return EXIT_PROBLEMS
    try:
        export = load_export(export_path, default_exchange=default_exchange,
                             tiers=load_tiers(tiers) if tiers else None)
        for note in export.notes:
            _err(f"note: {printable(note)}")
        for skipped in export.skipped:
            _err(f"skipped: {printable(skipped)}")
        wb = fill_workbook(chosen, export.positions, export.tiers)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ExportNote)
            fill_market_data(
                wb, export.positions,
                prices=load_ohlcv(prices) if prices else export.prices,
                exchanges=load_exchanges(exchanges) if exchanges else None,
                funding=load_funding(funding) if funding else export.funding,
                histories=load_price_histories(prices) if prices else export.histories)
        for caught_note in caught:
            _err(f"note: {printable(str(caught_note.message))}")
    except ExportError as exc:
        _err(printable(str(exc)))
        return EXIT_PROBLEMS
    from addin.workbook.builder import fit_print_areas

    fit_print_areas(wb)  # print the filled rows, not the empty capacity
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        wb.save(out)
    except OSError as exc:
        _err(f"{out}: cannot write the workbook ({reason(exc)})")
        return EXIT_PROBLEMS
    print(f"{out}: {len(export.positions)} position(s) written ({chosen.tag})")
    status = EXIT_OK
    for error in export.errors:
        # A venue that could not be read is never shown as a venue without positions.
        _err(f"not in the workbook: {error}")
        status = EXIT_PROBLEMS
    if not export.positions and not export.errors:
        _err(f"{export_path.name}: no open positions in the export")
    # What the export left wrong (a negative leverage, a missing rate) is said now, by cell.
    from addin.reader import WorkbookError, read_filled_workbook

    try:
        problems = read_filled_workbook(out).problems
    except WorkbookError as exc:
        _err(str(exc))
        return EXIT_PROBLEMS
    if problems:
        print_problems(out, problems)
        return EXIT_PROBLEMS
    return status
