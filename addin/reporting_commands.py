"""``perprisk check | fill | report | email | demo``: filled workbooks in, reports and email out."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from addin._resources import templates_dir

EXIT_OK, EXIT_PROBLEMS = 0, 1


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _positive(kind: type[int] | type[float]) -> Any:
    """An argparse type: a number of ``kind`` above zero, else a usage error."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
        return value
    return parse


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
        description="Write a new workbook from a blank template and a positions export (JSON or "
                    "CSV with ccxt Position fields), optionally with leverage tiers.")
    fill.add_argument("--positions", type=Path, required=True, metavar="FILE")
    fill.add_argument("--tiers", type=Path, metavar="FILE",
                      help="ccxt fetch_leverage_tiers output {symbol: [tiers]} (JSON)")
    fill.add_argument("--funding", type=Path, metavar="FILE",
                      help="ccxt fetch_funding_rate_history output {symbol: [rates]} (JSON)")
    fill.add_argument("--prices", type=Path, metavar="FILE",
                      help="ccxt fetch_ohlcv bars {symbol: [[ts, o, h, l, c, v]...]} (JSON) for "
                           "volatility and VaR")
    fill.add_argument("--exchanges", type=Path, metavar="FILE",
                      help="exchange scorecard facts {\"exchanges\": [...]} (JSON)")
    fill.add_argument("--exchange", default="generic",
                      help="venue for positions that do not name one (default: generic)")
    fill.add_argument("--template", default="credit-risk-assessment",
                      help="template id (default: credit-risk-assessment)")
    fill.add_argument("--out", type=Path, required=True, metavar="BOOK.xlsx")
    fill.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    fill.set_defaults(func=cmd_fill)

    report = subparsers.add_parser(
        "report", help="compute the full assessment of a filled workbook",
        description="Recompute every figure from the workbook's inputs and render the report.")
    report.add_argument("file", type=Path, metavar="FILE")
    report.add_argument("--format", choices=("text", "html", "json"), default="text")
    report.add_argument("--out", type=Path, metavar="PATH", help="write here instead of stdout")
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
                       help="SMTP timeout in seconds")
    email.set_defaults(func=cmd_email)

    demo = subparsers.add_parser(
        "demo", help="write a filled example workbook from bundled sample data, and its report")
    demo.add_argument("--out", type=Path, required=True, metavar="DIR")
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
    return status


def cmd_fill(args: argparse.Namespace) -> int:
    from addin.reader.exchange_data import (
        ExportError,
        ExportNote,
        fill_market_data,
        fill_workbook,
        load_exchanges,
        load_funding,
        load_ohlcv,
        load_positions,
        load_tiers,
    )
    from addin.workbook import layout

    template = layout.TEMPLATES.get(args.template)
    if template is None:
        _err(f"unknown template {args.template!r}; known: {', '.join(layout.TEMPLATES)}")
        return EXIT_PROBLEMS
    if args.out.exists() and not args.force:
        _err(f"{args.out} exists; pass --force to overwrite it")
        return EXIT_PROBLEMS
    keys = layout.sheet_closure(template.sheets)
    for option, sheet in (("funding", "funding"), ("prices", "volatility"),
                          ("exchanges", "scorecard")):
        if getattr(args, option) is not None and sheet not in keys:
            _err(f"--{option}: template {template.id} has no {sheet} sheet")
            return EXIT_PROBLEMS
    try:
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always", ExportNote)
            positions = load_positions(args.positions, default_exchange=args.exchange)
        for note in notes:
            _err(f"note: {note.message}")
        tiers = load_tiers(args.tiers) if args.tiers else None
        wb = fill_workbook(template, positions, tiers)
        fill_market_data(
            wb, positions,
            prices=load_ohlcv(args.prices) if args.prices else None,
            exchanges=load_exchanges(args.exchanges) if args.exchanges else None,
            funding=load_funding(args.funding) if args.funding else None)
    except ExportError as exc:
        _err(str(exc))
        return EXIT_PROBLEMS
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        wb.save(args.out)
    except OSError as exc:
        _err(f"{args.out}: cannot write the workbook ({_reason(exc)})")
        return EXIT_PROBLEMS
    print(f"{args.out}: {len(positions)} position(s) written ({template.tag})")
    # What the export left wrong (a negative leverage, a missing rate) is said now, by cell.
    from addin.reader import WorkbookError, read_filled_workbook

    try:
        problems = read_filled_workbook(args.out).problems
    except WorkbookError as exc:
        _err(str(exc))
        return EXIT_PROBLEMS
    if problems:
        _print_problems(args.out, problems)
        return EXIT_PROBLEMS
    return EXIT_OK


def _print_problems(path: Path, problems: Sequence[Any]) -> None:
    _err(f"{path}: {len(problems)} problem(s); fix them (perprisk check) before reporting")
    for problem in problems:
        _err(f"  {problem}")


def cmd_report(args: argparse.Namespace) -> int:
    from addin.reader import WorkbookError
    from addin.report import assess_file, render

    try:
        outcome = assess_file(args.file)
    except WorkbookError as exc:
        _err(str(exc))
        return EXIT_PROBLEMS
    if outcome.assessment is None:
        _print_problems(args.file, outcome.book.problems)
        return EXIT_PROBLEMS
    text = render(outcome.assessment, args.format)
    if args.out:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            _err(f"{args.out}: cannot write the report ({_reason(exc)})")
            return EXIT_PROBLEMS
        print(f"{args.out}: {args.format} report written")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_email(args: argparse.Namespace) -> int:
    from addin.mail import MailError, Outgoing, SendLog, send_batch, write_eml
    from addin.mail.message import parse_address, parse_addresses
    from addin.mail.sendlog import default_log_path, message_key
    from addin.mail.smtp import settings_from_env
    from addin.reader import WorkbookError
    from addin.report import assess_file
    from addin.report.pipeline import email_for, workbook_pdf

    if args.dry_run is None and not args.smtp_host:
        _err("--smtp-host is required (or --dry-run DIR to write .eml files)")
        return 2
    try:
        # Addresses are the same for every workbook: a bad one is a usage error, said once.
        parse_address("from", args.sender)
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
            data = path.read_bytes()
            outcome = assess_file(path)
            if outcome.assessment is None:
                _print_problems(path, outcome.book.problems)
                failed.append((label, f"{len(outcome.book.problems)} problem(s) in the workbook"))
                continue
            key = message_key(data, recipients)
            msg_id = log.message_id_for(key)  # a retry keeps its first Message-ID
            pdf = workbook_pdf(path) if args.pdf else None
            msg = email_for(outcome.assessment, data, filename=path.name, sender=args.sender,
                            to=args.to, cc=args.cc, subject=args.subject, pdf=pdf,
                            message_id=msg_id)
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
            print(f"  FAILED {label}: {why}")
        print(f"dry run: {len(items)} message(s) written, {len(failed)} failed")
        return EXIT_PROBLEMS if failed else EXIT_OK

    assert settings is not None
    try:
        result = send_batch(items, settings, log, attempts=args.attempts,
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


def cmd_demo(args: argparse.Namespace) -> int:
    from addin.reader import exchange_data as data
    from addin.report import assess_file, render
    from addin.workbook import layout

    sample = templates_dir() / "sample"
    out: Path = args.out
    book_path = out / "demo-assessment.xlsx"
    positions = data.load_positions(sample / "positions.json")
    wb = data.fill_workbook(layout.TEMPLATES["credit-risk-assessment"], positions,
                            data.load_tiers(sample / "tiers.json"))
    data.fill_market_data(wb, positions, prices=data.load_ohlcv(sample / "ohlcv.json"),
                          exchanges=data.load_exchanges(sample / "exchanges.json"),
                          funding=data.load_funding(sample / "funding.json"))
    try:
        out.mkdir(parents=True, exist_ok=True)
        wb.save(book_path)
    except OSError as exc:
        _err(f"{out}: cannot write the demo ({_reason(exc)})")
        return EXIT_PROBLEMS
    outcome = assess_file(book_path)
    if outcome.assessment is None:
        _print_problems(book_path, outcome.book.problems)
        return EXIT_PROBLEMS
    written = [book_path]
    for fmt, suffix in (("html", ".html"), ("text", ".txt"), ("json", ".json")):
        target = out / f"demo-report{suffix}"
        target.write_text(render(outcome.assessment, fmt), encoding="utf-8")  # type: ignore[arg-type]
        written.append(target)
    for path in written:
        print(f"wrote {path}")
    print("next: perprisk email", book_path, "--to YOU@example.com --dry-run", out / "outbox")
    return EXIT_OK
