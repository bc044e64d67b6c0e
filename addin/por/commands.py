"""``perprisk por verify``: check an exchange's proof-of-reserves inclusion proof."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from addin.por.verify import (
    FORMAT_TITLES,
    ProofError,
    Verification,
    merge_scorecard,
    parse_proof,
    plain_decimal,
    scorecard_row,
    verify_proof,
)
from addin.por.workbook import write_proof

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD (got {text!r})") from None


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {text})")
    return value


def register(subparsers: Any) -> None:
    por = subparsers.add_parser(
        "por", help="proof of reserves: check an exchange's Merkle inclusion proof",
        description="Proof of reserves.")
    commands = por.add_subparsers(dest="por_command", metavar="ACTION", required=True)
    verify = commands.add_parser(
        "verify", help="check your inclusion proof against the published root",
        description="Check your inclusion proof against the root the exchange published: OKX "
                    "Merkle sum tree (Nov 2022 - Mar 2023, merkle_proof_file.json), Bitget "
                    "(merkel_tree_bg.json), BitMEX liabilities tree (with --account and "
                    "--nonce). Binance's and OKX's zero-knowledge proofs are named with the "
                    "exchange's own verifier. Exit 0 valid, 1 invalid, 2 unsupported or "
                    "unreadable.")
    verify.add_argument("proof", type=Path, metavar="PROOF.json",
                        help="the proof file downloaded from the exchange")
    verify.add_argument("--account", type=int, metavar="N", help="BitMEX account number")
    secret = verify.add_mutually_exclusive_group()
    secret.add_argument("--nonce", metavar="HEX", help="BitMEX nonce for this proof")
    secret.add_argument("--account-nonce", metavar="HEX",
                        help="BitMEX account nonce (the per-proof nonce is derived from it)")
    verify.add_argument("--reserve-ratio", type=_ratio, metavar="R",
                        help="reserve ratio the exchange published with the proof "
                             "(reserves / customer liabilities, 1.05 = 105 %%)")
    verify.add_argument("--attested", type=_day, metavar="YYYY-MM-DD",
                        help="date of the snapshot the proof belongs to")
    verify.add_argument("--today", type=_day, metavar="YYYY-MM-DD",
                        help="date to count the snapshot's age to (default: today, UTC)")
    verify.add_argument("--exchange", metavar="NAME",
                        help="scorecard name of the exchange (default: from the format)")
    verify.add_argument("--merge", type=Path, metavar="EXCHANGES.json",
                        help="with --json: lay the result over this scorecard file's row "
                             "for the exchange, so the output feeds 'perprisk fill --exchanges'")
    verify.add_argument("--workbook", type=Path, metavar="BOOK.xlsx",
                        help="write the result into this workbook's Exchange Scorecard (the "
                             "exchange's row, or a new one): checked, date, reserve ratio, "
                             "the failed check, and the sub-score when there is one")
    verify.add_argument("--json", action="store_true",
                        help="print {\"proof\": ..., \"exchanges\": [scorecard row]} as JSON")
    verify.add_argument("--steps", action="store_true", help="list every level checked")
    verify.set_defaults(func=run_verify)


def _coins(balances: dict[str, Any]) -> str:
    return ", ".join(f"{coin} {plain_decimal(amount)}" for coin, amount in balances.items())


def render(result: Verification, source: str, *, all_steps: bool = False) -> str:
    """The verification as a person reads it."""
    audit = f" (audit {result.audit_id})" if result.audit_id else ""
    lines = [f"{FORMAT_TITLES[result.format]}: {source}{audit}"]
    ok_levels = [s for s in result.steps if s.name.startswith("level ") and s.ok]
    summarised = False
    for step in result.steps:
        if step.name.startswith("level ") and step.ok and not all_steps:
            if not summarised:
                first, last = ok_levels[0].name.split()[1], ok_levels[-1].name.split()[1]
                span = f"levels {first}-{last}" if first != last else f"level {first}"
                lines.append(f"  ok      {span:<12} recomputed up the tree")
                summarised = True
            continue
        mark = "ok    " if step.ok else "FAILED"
        lines.append(f"  {mark}  {step.name:<12} {step.detail}")
    failed = result.failed_step
    if result.valid:
        lines.append("VALID: your balances are included in the published tree")
    else:
        assert failed is not None
        lines.append(f"INVALID: failed at {failed.name}")
    lines.append(f"Your balances: {_coins(result.balances)}")
    lines.append(f"Root: {result.root_hash} (total {_coins(result.root_balances)})")
    lines.extend(f"Note: {note}" for note in result.notes)
    return "\n".join(lines)


def _scorecard(path: Path) -> list[dict[str, Any]]:
    """The scorecard file ``perprisk fill --exchanges`` reads, read the way it reads it."""
    from addin.reader.exchange_data import ExportError, load_exchanges

    try:
        return load_exchanges(path)
    except (OSError, ExportError) as exc:
        raise ProofError(str(exc)) from None


def run_verify(args: argparse.Namespace) -> int:
    path: Path = args.proof
    try:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProofError(f"{path.name}: cannot read the proof "
                             f"({getattr(exc, 'strerror', None) or exc})") from None
        result = verify_proof(parse_proof(text, path.name), source=path.name,
                              account=args.account, nonce=args.nonce,
                              account_nonce=args.account_nonce)
        today = args.today or datetime.now(UTC).date()
        if args.attested is not None and args.attested > today:
            raise ProofError(f"{path.name}: --attested {args.attested.isoformat()} is after "
                             f"today ({today.isoformat()})")
        row = scorecard_row(result, reserve_ratio=args.reserve_ratio,
                            attested_on=args.attested, today=today, exchange=args.exchange)
        rows = merge_scorecard(_scorecard(args.merge), row) if args.merge else [row]
        written = write_proof(args.workbook, row) if args.workbook else None
    except ProofError as exc:
        print(f"perprisk por verify: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print(json.dumps({"proof": result.as_dict(), "exchanges": rows}, indent=2))
    else:
        print(render(result, path.name, all_steps=args.steps))
        if "proof_of_reserves" in row and result.valid:
            print(f"Scorecard: proof-of-reserves sub-score {row['proof_of_reserves']:.2f} "
                  f"(reserve ratio {row['reserve_ratio']:g}, snapshot "
                  f"{row['days_since_attestation']} day(s) old)")
        elif not result.valid:
            print("Scorecard: red alert, proof-of-reserves sub-score 0")
    if written is not None:
        print(f"{args.workbook}: Exchange Scorecard row {written} ({row['exchange']}): proof "
              f"{row['proof_of_reserves_checked']}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_VALID if result.valid else EXIT_INVALID
