"""``perprisk email``: one email per filled workbook, with a send log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from addin._commands import EXIT_OK, EXIT_PROBLEMS, print_problems, reason
from addin._commands import err as _err
from addin._commands import positive as _positive


def register(subparsers: Any) -> None:
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
        _err(f"send log {log_path}: {reason(exc)}")
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
                print_problems(Path(shown(label)), problems)
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
            _err(f"--dry-run {args.dry_run}: {reason(exc)}")
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
        _err(f"send log {log.path}: {reason(exc)}; stopped, rerun to continue")
        return EXIT_PROBLEMS
    result.failed.extend(failed)
    print(result.summary())
    print(f"send log: {log.path}")
    return EXIT_OK if result.ok else EXIT_PROBLEMS
