"""Report on a 10,000-position filled workbook, and 100 emails to a loopback SMTP server.

    python bench/bench_report.py [--positions 10000] [--emails 100]

Prints each figure next to a baseline measured in the same run:

* reading: perprisk's reader (safety checks + python-calamine + a scan of the sheet XML for
  formula cells) against openpyxl on the same file, both in read-only values mode (the fastest
  openpyxl path, which cannot tell formulas from values) and in normal mode (what a formula
  check needs with openpyxl);
* the assessment (riskfuncs on every position) and the rendering, against the read time;
* sending: perprisk's batch sender (send log with fsync per state, retry wrapper) against a bare
  smtplib loop sending the same prebuilt messages over one connection.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from addin.fill import writer
from addin.reader import exchange_data, read_filled_workbook
from addin.workbook import layout
from bench.timing import best_of

SYMBOLS = [("BTC/USDT:USDT", 61850.0), ("ETH/USDT:USDT", 3180.0), ("SOL/USDT:USDT", 146.9),
           ("DOGE/USDT:USDT", 0.1588), ("XRP/USDT:USDT", 0.52)]
VENUES = ["binance", "bybit", "okx", "gate", "hyperliquid"]


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """:func:`bench.timing.best_of`, keeping the last result for the next step."""
    results: list[Any] = []
    return best_of(repeat, lambda: results.append(fn())), results[-1]


def positions(n: int) -> list[exchange_data.PositionInput]:
    rng = random.Random(7)
    rows = []
    for i in range(n):
        symbol, mark = SYMBOLS[i % len(SYMBOLS)]
        side = "long" if rng.random() < 0.6 else "short"
        entry = mark * (1 + rng.uniform(-0.08, 0.08))
        size = round(rng.uniform(1_000, 50_000) / mark, 6)
        lev = rng.choice([2, 3, 5, 10, 20])
        rows.append(exchange_data.PositionInput({
            "exchange": VENUES[i % len(VENUES)], "symbol": symbol, "contract": "linear",
            "side": side, "size": size, "entry_price": round(entry, 6), "mark_price": mark,
            "collateral": round(size * entry / lev, 2), "margin_mode": "isolated",
            "leverage": float(lev), "maintenance_margin_rate": 0.005, "fee_rate": None,
            "max_leverage": None, "stop_price": None,
        }))
    return rows


def big_template(rows: int) -> layout.Template:
    """The position-monitor template with a Positions table of ``rows`` rows."""
    sheet = layout.POSITIONS
    table = dataclasses.replace(sheet.tables[0], rows=rows)
    bigger = dataclasses.replace(sheet, tables=(table,))
    layout.POSITIONS = bigger
    layout.SHEETS["positions"] = bigger
    layout.ALL_SHEETS = tuple(bigger if s.key == "positions" else s for s in layout.ALL_SHEETS)
    return layout.TEMPLATES["position-margin-monitor"]


def openpyxl_values(path: Path) -> int:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    count = sum(1 for row in wb[layout.POSITIONS.title].iter_rows(values_only=True)
                for v in row if v is not None)
    wb.close()
    return count


def openpyxl_full(path: Path) -> int:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb[layout.POSITIONS.title]
    return sum(1 for row in ws.iter_rows() for c in row if c.data_type == "f")


def bench_report(n: int, folder: Path) -> None:
    from addin.report import render
    from addin.report.pipeline import assess_book

    path = folder / f"book-{n}.xlsx"
    template = big_template(n)
    build_s, wb = timed(lambda: writer.fill_workbook(template, positions(n)))
    save_s, _ = timed(lambda: wb.save(path))
    print(f"workbook: {n:,} positions, {path.stat().st_size / 2**20:.1f} MiB "
          f"(built in {build_s:.1f} s, saved in {save_s:.1f} s)")

    read_s, book = timed(lambda: read_filled_workbook(path), repeat=3)
    assert not book.problems, book.problems[:3]
    assert len(book.tables["positions"]) == n
    values_s, _ = timed(lambda: openpyxl_values(path), repeat=3)
    full_s, _ = timed(lambda: openpyxl_full(path))
    assess_s, assessment = timed(lambda: assess_book(book), repeat=3)
    render_s: dict[str, float] = {}
    for fmt in ("text", "html", "json"):
        render_s[fmt], _ = timed(lambda f=fmt: render(assessment, f), repeat=3)  # type: ignore[misc]
    total = read_s + assess_s + render_s["html"]
    print(f"read (perprisk: checks + calamine + formula scan): {read_s:7.2f} s")
    print(f"read (openpyxl read_only, values only)            : {values_s:7.2f} s"
          f"   perprisk is {values_s / read_s:.1f}x faster")
    print(f"read (openpyxl normal, sees formulas)             : {full_s:7.2f} s"
          f"   perprisk is {full_s / read_s:.1f}x faster")
    print(f"assessment (riskfuncs, {n:,} positions, "
          f"{len(assessment.scenarios)} scenarios)    : {assess_s:7.2f} s"
          f"   {assess_s / read_s:.2f}x the read time")
    print("render text / html / json                         : "
          + " / ".join(f"{render_s[f]:.2f}" for f in ("text", "html", "json")) + " s")
    print(f"report end to end (read + assess + html)          : {total:7.2f} s"
          f"   {total / n * 1e6:.0f} us per position")


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_email(count: int, folder: Path) -> None:
    import smtplib

    from aiosmtpd.controller import Controller

    from addin.delivery.email import email_for
    from addin.mail import Outgoing, SendLog, SmtpSettings, send_batch
    from addin.mail.sendlog import message_key
    from addin.report import assess_file

    sample = folder / "sample.xlsx"
    demo = exchange_data.load_positions(
        Path(__file__).resolve().parent.parent / "templates" / "sample" / "positions.json")
    writer.fill_workbook(layout.TEMPLATES["position-margin-monitor"], demo).save(sample)
    outcome = assess_file(sample)
    assert outcome.assessment is not None
    data = sample.read_bytes()

    def build() -> list[Outgoing]:
        items = []
        for i in range(count):
            to = [f"trader{i}@example.test"]
            msg = email_for(outcome.assessment, data, filename=f"book{i}.xlsx",  # type: ignore[arg-type]
                            sender="risk@example.test", to=to)
            items.append(Outgoing(f"book{i}.xlsx", message_key(data, to), msg))
        return items

    build_s, items = timed(build)
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=controller.port, security="none")
        log = SendLog(folder / "send-log.jsonl")
        send_s, result = timed(lambda: send_batch(items, settings, log, progress=False))
        assert result.ok and len(result.sent) == count
        rerun_s, again = timed(lambda: send_batch(items, settings, SendLog(log.path),
                                                  progress=False))
        assert len(again.skipped) == count

        def bare() -> None:
            with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
                for item in items:
                    smtp.send_message(item.message)

        bare_s, _ = timed(bare)
    finally:
        controller.stop()
    assert sink.count == 2 * count
    size = sum(len(i.message.as_bytes()) for i in items) / count / 1024
    print(f"emails: {count} messages of {size:.0f} KiB (HTML + text + chart + workbook)")
    print(f"build (render + chart + MIME)                     : {build_s:7.2f} s"
          f"   {build_s / count * 1e3:.1f} ms per message")
    print(f"send (perprisk: send log + retries, one session)  : {send_s:7.2f} s"
          f"   {count / send_s:.0f} msg/s")
    print(f"send (bare smtplib loop, same messages)           : {bare_s:7.2f} s"
          f"   perprisk takes {send_s / bare_s:.2f}x the bare loop")
    print(f"rerun (all found in the send log, none sent)      : {rerun_s:7.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--emails", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perprisk-bench-") as tmp:
        bench_email(args.emails, Path(tmp))
        print()
        bench_report(args.positions, Path(tmp))


if __name__ == "__main__":
    main()
