"""PERP_PORTFOLIO over a 10,000-row positions range through xlwings' CallUDF path.

Excel hands Python the range as a tuple of row tuples (pywin32's Range.Value); from there the
cell call runs xlwings' real Windows code: value cleaning, the DataFrame converter, the
function's own conversion, riskfuncs.portfolio_margin, and the writer back to rows. The baseline,
measured in the same run, is the bare riskfuncs.portfolio_margin call on the same data as a
ready DataFrame. The target is an overhead within 3x. COM marshalling itself (inside pywin32 and
Excel) is not in either figure.

Run: python bench/bench_udfs.py [ROWS]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import best_of
from tests.addin.excel.win32_standins import load_windows_udf_stack

_, COM_SERVER = load_windows_udf_stack()  # before the UDF module is imported

from riskfuncs.portfolio import portfolio_margin  # noqa: E402
from tests.addin.excel.excel_side import Range  # noqa: E402

HEADER = (
    "exchange",
    "symbol",
    "side",
    "contracts",
    "entryPrice",
    "markPrice",
    "collateral",
    "marginMode",
    "contractType",
    "maintenanceMarginRate",
    "leverage",
    "feeRate",
)


def positions(n: int) -> tuple[tuple[object, ...], ...]:
    """A book of ``n`` positions as Excel's Range.Value gives it (header row first)."""
    rng = np.random.default_rng(0)
    exchanges = rng.choice(["binance", "bybit", "okx", "gate"], n)
    symbols = rng.choice(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"], n)
    sides = rng.choice(["long", "short"], n)
    entry = rng.uniform(100.0, 70_000.0, n)
    mark = entry * rng.uniform(0.9, 1.1, n)
    contracts = rng.lognormal(0.0, 1.0, n)
    collateral = contracts * entry / rng.uniform(2.0, 20.0, n)
    modes = rng.choice(["isolated", "cross"], n, p=[0.7, 0.3])
    # Cross rows of one account carry that account's wallet balance.
    wallets = {"binance": 4e6, "bybit": 3e6, "okx": 2e6, "gate": 1e6}
    collateral = np.where(modes == "cross", [wallets[e] for e in exchanges], collateral)
    rows = [
        (
            str(exchanges[i]),
            str(symbols[i]),
            str(sides[i]),
            float(contracts[i]),
            float(entry[i]),
            float(mark[i]),
            float(collateral[i]),
            str(modes[i]),
            "linear",
            0.005,
            10.0,
            0.0004,
        )
        for i in range(n)
    ]
    return (HEADER, *rows)


def as_frame(value: tuple[tuple[object, ...], ...]) -> pd.DataFrame:
    frame = pd.DataFrame(list(value[1:]), columns=list(value[0]))
    return frame


def main(n: int = 10_000) -> None:
    value = positions(n)
    frame = as_frame(value)
    server = COM_SERVER.XLPython()
    book, caller = Range(raw=value), Range(row=1, column=14)

    def cell_call() -> object:  # what the VBA wrapper's XLPy.CallUDF(...) runs
        return server.CallUDF("addin.excel.udfs", "PERP_PORTFOLIO", (book,), None, caller)

    result = cell_call()
    if not isinstance(result, list) or len(result) != n + 1:
        raise SystemExit(f"PERP_PORTFOLIO did not return the table: {str(result)[:200]}")

    t_cell = best_of(5, cell_call)
    t_bare = best_of(5, lambda: portfolio_margin(frame))

    print(f"PERP_PORTFOLIO, {n:,} positions x {len(HEADER)} columns")
    print(f"  through CallUDF (xlwings conversion)  {t_cell * 1e3:9.1f} ms")
    print(f"  bare riskfuncs.portfolio_margin       {t_bare * 1e3:9.1f} ms")
    print(f"  ratio                                 {t_cell / t_bare:9.2f}x (target <= 3x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
