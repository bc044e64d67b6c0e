"""``perprisk fetch``: the account straight from the exchange, into a workbook or an export."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from addin._commands import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from addin._commands import err as _err
from addin._commands import positive as _positive

#: First wait (seconds) before retrying a rate-limited call; doubled each time, capped at 8 s.
RETRY_BACKOFF = 1.0


def register(subparsers: Any) -> None:
    from addin.accounts.keys import default_config_path

    fetch = subparsers.add_parser(
        "fetch", help="read positions, balances and market data from exchanges (ccxt)",
        description="Read the account of each exchange through ccxt (positions, balance, "
                    "leverage tiers, funding history, daily prices) with read-only API keys, "
                    "and write a filled assessment workbook (BOOK.xlsx) or a ccxt-shaped "
                    "export (--format json) that 'perprisk fill --positions' reads. Keys come "
                    "from PERPRISK_<EXCHANGE>_API_KEY, _SECRET and _PASSWORD (EXCHANGE the "
                    "upper-cased ccxt id; Hyperliquid reads by wallet address, "
                    "PERPRISK_HYPERLIQUID_WALLET_ADDRESS) or from the key file. Exit 0 when "
                    "every exchange "
                    "answered in full, 1 when any failed (the others are still written).")
    fetch.add_argument("--exchange", action="append", required=True, metavar="ID",
                       help="ccxt exchange id: binanceusdm, binancecoinm, bybit, okx, gate, "
                            "hyperliquid (repeatable)")
    fetch.add_argument("--out", type=Path, required=True, metavar="BOOK.xlsx|EXPORT.json")
    fetch.add_argument("--format", choices=("xlsx", "json"),
                       help="default: from the --out suffix")
    fetch.add_argument("--template", default="credit-risk-assessment",
                       help="workbook template id (default: credit-risk-assessment)")
    fetch.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    fetch.add_argument("--config", type=Path, metavar="FILE",
                       help=f"key file (TOML, chmod 600; default: {default_config_path()})")
    fetch.add_argument("--symbol", action="append", default=[], metavar="SYMBOL",
                       help="also fetch market data for this ccxt symbol (e.g. "
                            "BTC/USDT:USDT) on every exchange that lists it (repeatable)")
    fetch.add_argument("--days", type=_positive(int), default=90,
                       help="days of daily prices (default 90)")
    fetch.add_argument("--timeout", type=_positive(float), default=30.0,
                       help="seconds to wait for each answer (default 30)")
    fetch.add_argument("--testnet", action="store_true",
                       help="use each exchange's testnet (ccxt sandbox mode)")
    fetch.add_argument("--api-base", action="append", default=[], metavar="[ID=]URL",
                       help="send every REST call (of exchange ID, or of all) to URL, keeping "
                            "the path: a mirror or a local replay (repeatable)")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=cmd_fetch)


def api_bases(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if sep and "://" not in name:
            out[name.strip().lower()] = url.strip()
        else:
            out["*"] = value.strip()
    return out


class _Bar:
    """The tqdm progress bar over venues and calls (stderr, only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=0, unit="call", file=sys.stderr, disable=not enabled,
                        leave=False, dynamic_ncols=True)
        self.lock = threading.Lock()  # the venues report from their own threads

    def expect(self, calls: int) -> None:
        with self.lock:
            if self.bar.total is not None:
                self.bar.total += calls
                self.bar.refresh()

    def done(self, label: str) -> None:
        with self.lock:
            self.bar.set_description(label, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _output_format(args: argparse.Namespace) -> str | None:
    if args.format:
        return str(args.format)
    suffix = args.out.suffix.lower()
    return {".xlsx": "xlsx", ".json": "json"}.get(suffix)


def cmd_fetch(args: argparse.Namespace) -> int:
    import ccxt

    from addin.accounts.fetch import (
        SUPPORTED,
        FetchError,
        FetchSettings,
        fetch_venues,
        rewrite_api_urls,
    )
    from addin.accounts.keys import KeyConfigError, Redactor, load_credentials
    from addin.workbook.layout import TEMPLATES

    out: Path = args.out
    fmt = _output_format(args)
    if fmt is None:
        _err(f"--out {out}: expected a .xlsx workbook or a .json export (or give --format)")
        return EXIT_USAGE
    if fmt == "xlsx" and out.suffix.lower() != ".xlsx":
        _err(f"--out {out}: a workbook is written as .xlsx")
        return EXIT_USAGE
    if fmt == "json" and out.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        _err(f"--out {out}: --format json writes a .json export, not a workbook")
        return EXIT_USAGE
    if fmt == "xlsx" and args.template not in TEMPLATES:
        _err(f"unknown template {args.template!r}; known: {', '.join(TEMPLATES)}")
        return EXIT_USAGE
    if out.exists() and not args.force:
        _err(f"{out} exists; pass --force to overwrite it")
        return EXIT_PROBLEMS
    venues = list(dict.fromkeys(v.strip().lower() for v in args.exchange))
    unknown = [v for v in venues if v not in ccxt.exchanges]
    if unknown:
        _err(f"--exchange {', '.join(unknown)}: not a ccxt exchange id (covered: "
             f"{', '.join(SUPPORTED)}; any ccxt id with positions may work)")
        return EXIT_USAGE
    try:
        credentials = load_credentials(venues, config=args.config)
    except KeyConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    bases = api_bases(args.api_base)
    for base in bases.values():
        try:
            rewrite_api_urls({}, base)
        except FetchError as exc:
            _err(str(exc))
            return EXIT_USAGE
    redact = Redactor(s for c in credentials.values() for s in c.secrets())
    settings = FetchSettings(
        testnet=args.testnet, api_base=bases or None, timeout=args.timeout,
        days=args.days, symbols=tuple(args.symbol), backoff=RETRY_BACKOFF)
    bar = _Bar(enabled=not args.quiet and sys.stderr.isatty())
    try:
        export, results = fetch_venues(venues, credentials, settings, progress=bar)
    finally:
        bar.close()

    messages = [redact(e["message"]) for r in results for e in r.errors]
    for symbol in args.symbol:
        if not any(symbol in r.data.get("markets", {}) for r in results):
            _err(f"--symbol {symbol}: no exchange here lists it (ccxt symbols look like "
                 "BTC/USDT:USDT)")
    read = [r for r in results if r.positions_read]
    if fmt == "json" or not read:
        for message in messages:
            _err(message)
    if fmt == "json":
        code = _write_json(export, out, redact)
    elif not read:
        _err(f"{out}: not written: no exchange's positions could be read")
        return EXIT_PROBLEMS
    else:
        code = _write_workbook(export, out, template=args.template, redact=redact,
                               messages=messages)
    if code == EXIT_OK or out.exists():
        for result in results:
            print(f"  {result.venue}: {_venue_summary(result.data)}")
    return code if code != EXIT_OK else (EXIT_PROBLEMS if messages else EXIT_OK)


def _venue_summary(data: Mapping[str, Any]) -> str:
    positions = data.get("positions")
    if not isinstance(positions, list):
        return "positions NOT read (see its error); not shown as flat"
    held = sum(1 for p in positions if _size(p) != 0.0)
    kind = (data.get("account") or {}).get("type")
    account = f", {kind} account" if kind else ""
    return f"{held} open position(s){account}"


def _size(position: Mapping[str, Any]) -> float:
    try:
        return float(position.get("contracts") or 0.0)
    except (TypeError, ValueError):
        return 1.0


def _atomic_write(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` through a temporary file in the same folder and a rename, so
    that a failure never leaves a half-written file under the final name."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 would differ from any other output
        os.replace(temp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _write_json(export: Mapping[str, Any], out: Path, redact: Callable[[str], str]) -> int:
    text = redact(json.dumps(export, indent=1, ensure_ascii=False, allow_nan=False, default=str))
    try:
        _atomic_write(out, (text + "\n").encode("utf-8"))
    except OSError as exc:
        _err(f"{out}: cannot write the export ({exc.strerror or exc})")
        return EXIT_PROBLEMS
    count = sum(len(v.get("positions") or []) for v in export["venues"].values())
    print(f"{out}: export of {len(export['venues'])} exchange(s), {count} position(s)")
    return EXIT_OK


def _write_workbook(export: Mapping[str, Any], out: Path, *, template: str,
                    redact: Callable[[str], str], messages: Sequence[str]) -> int:
    """Fill the workbook through ``perprisk fill``'s export reader, into a temporary file that
    replaces ``out`` only once it is complete. Each fetch failure is said once: by fill, which
    says what is not in the workbook, or here when fill did not say it."""
    fill = getattr(importlib.import_module("addin.fill.commands"), "fill_from_export", None)
    if fill is None:
        for message in messages:
            _err(message)
        _err(f"{out}: this perprisk cannot fill a workbook from an export yet; write the "
             "export with --format json and fill it with perprisk fill")
        return EXIT_PROBLEMS
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".perprisk-fetch-", dir=out.parent) as scratch:
        export_path = Path(scratch) / "fetch.json"
        export_path.write_text(json.dumps(export, ensure_ascii=False, allow_nan=False,
                                          default=str), encoding="utf-8")
        staged = Path(scratch) / out.name
        said_out, said_err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(said_out), contextlib.redirect_stderr(said_err):
                code = int(fill(export_path, staged, template=template, force=True))
        finally:
            # fill speaks of the file it wrote: the staged one, which becomes ``out``.
            said = said_err.getvalue()
            for message in messages:
                if message not in said:
                    _err(message)
            for text, stream in ((said_out.getvalue(), sys.stdout), (said, sys.stderr)):
                text = text.replace(str(staged), str(out)).replace(str(export_path), "the export")
                if text:
                    stream.write(redact(text))
        if staged.is_file():
            try:
                os.replace(staged, out)
            except OSError as exc:
                _err(f"{out}: cannot write the workbook ({exc.strerror or exc})")
                return EXIT_PROBLEMS
    return code
