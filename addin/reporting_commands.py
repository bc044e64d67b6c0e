"""``perprisk check | fill | report | email | demo``: filled workbooks in, reports and email out."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from addin._commands import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from addin._commands import err as _err
from addin._commands import positive as _positive
from addin._resources import templates_dir


def register(subparsers: Any) -> None:
    check = subparsers.add_parser(
        "check", help="validate filled workbooks; list every problem by sheet and cell",
        description="Recognise each workbook's template and version, read its inputs by name "
                    "and list every problem as 'Sheet!Cell: what is wrong; expected ...'. "
                    "Exit 0 when all are clean, 1 otherwise. Files are never modified.")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(func=cmd_check)

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

    email = subparsers.add_parser(
        "email", help="email the assessment of filled workbooks (workbook attached)",
        description="Send one email per workbook: the assessment as HTML and plain text, the "
                    "chart inline, the workbook attached byte for byte. The SMTP password is "
                    "read from the environment variable PERPRISK_SMTP_PASSWORD. A send log "
                    "makes reruns skip what was sent and retry what failed.")
    email.add_argument("files", nargs="+", type=Path, metavar="FILE")
    email.add_argument("--to", action="append", required=True, metavar="ADDR")
    email.add_argument("--cc", action="append", default=[], metavar="ADDR")
    email.add_argument("--from", dest="sender", default="perprisk@localhost", metavar="ADDR")
    email.add_argument("--subject", metavar="TEXT", help="prefix for the generated subject")
    email.add_argument("--smtp-host", metavar="HOST")
    email.add_argument("--smtp-port", type=int, metavar="N")
    security = email.add_mutually_exclusive_group()
    security.add_argument("--starttls", dest="security", action="store_const", const="starttls",
                          help="upgrade with STARTTLS (default, port 587)")
    security.add_argument("--ssl", dest="security", action="store_const", const="ssl",
                          help="implicit TLS (port 465)")
    security.add_argument("--no-tls", dest="security", action="store_const", const="none",
                          help="no encryption (port 25; password only to a loopback server)")
    email.set_defaults(security="starttls")
    email.add_argument("--user", metavar="NAME", help="SMTP login; password from "
                                                     "PERPRISK_SMTP_PASSWORD")
    email.add_argument("--cafile", metavar="PEM", help="trust this CA for the SMTP server")
    email.add_argument("--pdf", action="store_true",
                       help="also attach a PDF of the workbook (needs LibreOffice)")
    email.add_argument("--dry-run", type=Path, metavar="DIR",
                       help="write each message as DIR/<name>.eml instead of sending")
    email.add_argument("--send-log", type=Path, metavar="PATH",
                       help="send log (default: $XDG_STATE_HOME/perprisk/send-log.jsonl)")
    email.add_argument("--attempts", type=_positive(int), default=4,
                       help="tries per message on temporary failures (default 4)")
    email.add_argument("--timeout", type=_positive(float), default=30.0,
                       help="SMTP timeout in seconds, for each network read or write")
    email.add_argument("--message-deadline", type=_positive(float), default=300.0,
                       metavar="SECONDS",
                       help="give up on one message after this long, retries included "
                            "(default 300)")
    email.add_argument("--run-deadline", type=_positive(float), default=3600.0,
                       metavar="SECONDS",
                       help="stop the whole run after this long; what is left is reported, "
                            "not sent (default 3600)")
    email.add_argument("--max-backoff", type=_positive(float), default=60.0, metavar="SECONDS",
                       help="longest wait between two attempts (default 60)")
    email.add_argument("--allow-macros", action="store_true",
                       help="send macro-enabled workbooks (.xlsm with a VBA project) too; "
                            "refused by default")
    email.set_defaults(func=cmd_email)

    demo = subparsers.add_parser(
        "demo", help="write a filled example workbook from bundled sample data, and its report")
    demo.add_argument("--out", type=Path, required=True, metavar="DIR")
    demo.add_argument("--force", action="store_true",
                      help="overwrite a demo workbook that was changed since demo wrote it")
    demo.set_defaults(func=cmd_demo)


# ----------------------------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    from addin.reader import WorkbookError, read_filled_workbook

    status = EXIT_OK
    for path in args.files:
        try:
            book = read_filled_workbook(path)
        except WorkbookError as exc:
            message = str(exc)
            # Most reader messages already start with the file's name.
            print(message if message.startswith((str(path), path.name)) else f"{path}: {message}")
            status = EXIT_PROBLEMS
            continue
        if book.problems:
            status = EXIT_PROBLEMS
            print(f"{path}: {len(book.problems)} problem(s) ({book.template.tag})")
            for problem in book.problems:
                print(f"  {problem}")
        else:
            rows = len(book.tables.get("positions", ()))
            print(f"{path}: OK ({book.template.tag}, {rows} position(s))")
        for warning in book.warnings:
            # Plausible but worth a look (a mark far from entry): named, not a problem.
            print(f"  warning: {warning}")
    return status


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
            _err(f"note: {_printable(note)}")
        for skipped in export.skipped:
            _err(f"skipped: {_printable(skipped)}")
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
            _err(f"note: {_printable(str(caught_note.message))}")
    except ExportError as exc:
        _err(_printable(str(exc)))
        return EXIT_PROBLEMS
    from addin.workbook.builder import fit_print_areas

    fit_print_areas(wb)  # print the filled rows, not the empty capacity
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        wb.save(out)
    except OSError as exc:
        _err(f"{out}: cannot write the workbook ({_reason(exc)})")
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
        _print_problems(out, problems)
        return EXIT_PROBLEMS
    return status


def _printable(text: str) -> str:
    """Text from an export as the terminal may show it: control and bidi-override characters
    escaped (a venue or symbol name is the export's, not ours)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def _print_problems(path: Path, problems: Sequence[Any]) -> None:
    _err(f"{path}: {len(problems)} problem(s); fix them (perprisk check) before reporting")
    for problem in problems:
        _err(f"  {problem}")


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
            _print_problems(args.file, outcome.book.problems)
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
            _err(f"{args.out}: cannot write the report ({_reason(exc)})")
            return EXIT_PROBLEMS
        print(f"{args.out}: {fmt} report written")
    else:
        sys.stdout.write(text)
    return status


def _assess_for_email(data: bytes, name: str) -> tuple[Any, list[str]]:
    """Run in a child process by cmd_email: (assessment or None, problems as text)."""
    from addin.report.pipeline import assess_bytes

    outcome = assess_bytes(data, name)
    return outcome.assessment, [str(problem) for problem in outcome.book.problems]


def _pdf_of(data: bytes, content_type: str) -> bytes:
    """The PDF of exactly these workbook bytes (a private temporary copy is rendered)."""
    import tempfile

    from addin.mail.message import XLSM_TYPE
    from addin.workbook.recalc import pdf_bytes

    with tempfile.TemporaryDirectory(prefix="perprisk-pdf-src-") as tmp:
        copy = Path(tmp) / ("workbook.xlsm" if content_type == XLSM_TYPE else "workbook.xlsx")
        copy.write_bytes(data)
        return pdf_bytes(copy)


def cmd_email(args: argparse.Namespace) -> int:
    from addin.delivery.email import email_for
    from addin.mail import MailError, Outgoing, SendLog, send_batch, write_eml
    from addin.mail.batch import shown
    from addin.mail.content import macro_parts, read_attachment, workbook_type
    from addin.mail.isolated import IsolatedCrashError, run_isolated
    from addin.mail.message import parse_address, parse_addresses
    from addin.mail.sendlog import default_log_path, message_id_for_key, message_key
    from addin.mail.smtp import Deadline, settings_from_env
    from addin.reader import WorkbookError

    if args.dry_run is None and not args.smtp_host:
        _err("--smtp-host is required (or --dry-run DIR to write .eml files)")
        return 2
    run_by = Deadline.after(args.run_deadline, f"the run deadline ({args.run_deadline:g} s)")
    try:
        # Addresses are the same for every workbook: a bad one is a usage error, said once.
        sender = parse_address("from", args.sender)
        # The send log keys on bare addresses: "Desk <desk@x>" and "desk@x" are one person.
        recipients = [a.addr_spec for a in parse_addresses("to", args.to)
                      + parse_addresses("cc", args.cc)]
        settings = None if args.dry_run is not None else settings_from_env(
            args.smtp_host, port=args.smtp_port, security=args.security, user=args.user,
            timeout=args.timeout, cafile=args.cafile)
    except MailError as exc:
        _err(str(exc))
        return 2
    log_path = args.send_log or default_log_path()
    try:
        log = SendLog(log_path)
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"send log {log_path}: {_reason(exc)}")
        return EXIT_PROBLEMS
    items: list[Outgoing] = []
    failed: list[tuple[str, str]] = []
    for path in args.files:
        label = str(path)
        try:
            # Read once, type and size checked first; the assessment, the attachment and the
            # send-log key all come from these same bytes.
            data = read_attachment(path)
            macros = macro_parts(data)
            if macros and not args.allow_macros:
                failed.append((label, (
                    f"carries a VBA macro project ({', '.join(macros)}), code that can run "
                    "when the attachment is opened; not sent (--allow-macros sends it)")))
                continue
            remaining = run_by.remaining()
            if remaining <= 0:
                failed.append((label, f"not attempted: {run_by.what} had passed"))
                continue
            try:
                assessment, problems = run_isolated(_assess_for_email, data, path.name,
                                                    timeout=remaining)
            except IsolatedCrashError as exc:
                failed.append((label, f"not sent: {exc} while reading it"))
                continue
            if assessment is None:
                _print_problems(Path(shown(label)), problems)
                failed.append((label, f"{len(problems)} problem(s) in the workbook"))
                continue
            key = message_key(data, recipients)
            # A retry keeps its first Message-ID; a new message gets one derived from its key,
            # so every run that builds it gives it the same id.
            msg_id = log.message_id_for(key) or message_id_for_key(key, sender.domain)
            content_type = workbook_type(data)
            pdf = _pdf_of(data, content_type) if args.pdf else None
            msg = email_for(assessment, data, filename=path.name, sender=args.sender,
                            to=args.to, cc=args.cc, subject=args.subject, pdf=pdf,
                            message_id=msg_id, content_type=content_type)
        except (OSError, WorkbookError, MailError) as exc:
            failed.append((label, str(exc)))
            continue
        except Exception as exc:  # a LibreOffice failure for --pdf, an input riskfuncs refuses
            failed.append((label, f"{type(exc).__name__}: {exc}"))
            continue
        items.append(Outgoing(label=label, key=key, message=msg))

    if args.dry_run is not None:
        try:
            written_files = write_eml(items, args.dry_run)
        except OSError as exc:
            _err(f"--dry-run {args.dry_run}: {_reason(exc)}")
            return EXIT_PROBLEMS
        for written in written_files:
            print(f"wrote {written}")
        for label, why in failed:
            print(f"  FAILED {shown(label)}: {why}")
        print(f"dry run: {len(items)} message(s) written, {len(failed)} failed")
        return EXIT_PROBLEMS if failed else EXIT_OK

    assert settings is not None
    try:
        result = send_batch(items, settings, log, attempts=args.attempts,
                            max_backoff=args.max_backoff,
                            message_deadline=args.message_deadline,
                            run_deadline=run_by,
                            progress=sys.stderr.isatty() or len(items) > 1)
    except OSError as exc:  # SMTP failures are results; this is the send log failing
        _err(f"send log {log.path}: {_reason(exc)}; stopped, rerun to continue")
        return EXIT_PROBLEMS
    result.failed.extend(failed)
    print(result.summary())
    print(f"send log: {log.path}")
    return EXIT_OK if result.ok else EXIT_PROBLEMS


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


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
        _err(f"{out}: cannot write the demo ({_reason(exc)})")
        return EXIT_PROBLEMS
    outcome = assess_file(book_path)
    if outcome.assessment is None:
        _print_problems(book_path, outcome.book.problems)
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
