"""Stress testing at book scale: 10,000 positions x 1,000 scenarios in one call.

Prints the time of ``stress_test`` next to two baselines measured in the same run:
- a plain Python loop over the same formulas (moved price, PnL, funding, maintenance margin,
  liquidation test) for each position x scenario pair, timed on a sample of pairs and scaled to
  the full grid;
- one numpy multiply-add over a positions x scenarios array (``Q * (P' - EP) + W``), the floor
  set by memory bandwidth for touching the grid once (target: within 3x of it);
- the results alone: the four arrays ``stress_test`` returns (PnL and maintenance margin per
  position, balance and requirement per account, each scenario a column) written once each
  by one numpy multiply, what any implementation that returns them pays.

Peak traced memory (tracemalloc; numpy reports its buffers to it) is printed beside each.

The book mixes isolated and cross positions on three venues and three assets; scenarios are
random BTC moves with funding. Timings are the best of a few repeats, the calls taken in turn;
nothing is asserted.

Then one partition of ``bench_scale.py``'s 10M book (200,000 positions, half of them in cross
accounts of about 50, 100 scenarios): ``stress_test`` against the numpy pass over that grid, and
``riskfuncs.batch.batch`` (``portfolio_margin``, ``stress_test`` and the result frame), and the
result frame alone beside the same columns copied into a new frame.

Run: python bench/bench_stress.py [POSITIONS] [SCENARIOS] [PARTITION]
(PARTITION positions, default 200,000; 0 skips that part.)
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_scale import book as scale_book
from bench.bench_scale import scenarios as scale_scenarios
from bench.timing import best_of_each, peak_memory
from riskfuncs.batch import _stress_columns, batch
from riskfuncs.book import as_book
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.scenarios import Scenario
from riskfuncs.stress import stress_test

MARKS = {"BTC/USDT:USDT": 60_000.0, "ETH/USDT:USDT": 3_000.0, "SOL/USDT:USDT": 150.0}


def make_book(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    symbol = rng.choice(list(MARKS), n)
    mark = np.array([MARKS[s] for s in symbol])
    contracts = rng.uniform(1_000, 100_000, n) / mark
    cross = rng.random(n) < 0.2
    exchange = rng.choice(["binance", "okx", "bybit"], n)
    collateral = contracts * mark * rng.uniform(0.05, 0.5, n)
    # One wallet balance per cross account (exchange + USDT).
    wallets = {e: float(rng.uniform(50_000, 500_000)) for e in ("binance", "okx", "bybit")}
    collateral = np.where(cross, [wallets[e] for e in exchange], collateral)
    return pd.DataFrame({
        "exchange": exchange,
        "symbol": symbol,
        "side": rng.choice(["long", "short"], n),
        "contracts": contracts,
        "entryPrice": mark * rng.uniform(0.8, 1.2, n),
        "markPrice": mark,
        "collateral": collateral,
        "marginMode": np.where(cross, "cross", "isolated"),
        "maintenanceMarginRate": rng.choice([0.004, 0.005, 0.01], n),
    })


def make_scenarios(m: int, seed: int = 1) -> list[Scenario]:
    rng = np.random.default_rng(seed)
    return [
        Scenario(f"s{j}", moves={"BTC": float(x)}, funding_rate=float(f), funding_intervals=3)
        for j, (x, f) in enumerate(
            zip(rng.uniform(-0.5, 0.5, m), rng.uniform(-0.003, 0.003, m), strict=True)
        )
    ]


def python_loop(positions: pd.DataFrame, scenarios: list[Scenario], pairs: int) -> float:
    """Seconds per pair for the scalar formulas (isolated rule), on ``pairs`` random pairs."""
    rows = positions.to_dict("records")
    pick = random.Random(2)
    sample = [(pick.choice(rows), pick.choice(scenarios)) for _ in range(pairs)]
    start = time.perf_counter()
    liquidated = 0
    for row, scenario in sample:
        s = 1.0 if row["side"] == "long" else -1.0
        q = row["contracts"]
        price = row["markPrice"] * (1.0 + scenario.price_move(row["symbol"].split("/")[0]))
        pnl = s * q * (price - row["entryPrice"])
        funding = -s * q * price * scenario.funding_rate * scenario.funding_intervals
        balance = row["collateral"] + pnl + funding
        mm = q * price * row["maintenanceMarginRate"]
        liquidated += mm >= balance
    return (time.perf_counter() - start) / pairs


def peak(work: Callable[[], object]) -> str:
    return f"peak {peak_memory(work) / 2**20:7.1f} MB"


def partition(n: int, m: int = 100) -> None:
    """stress_test and batch on one partition of bench_scale.py's book."""
    book = as_book(scale_book(n).drop(columns="id"))
    grid = scale_scenarios(m)
    print(f"one partition of the 10M book: {n:,} positions x {m} scenarios, "
          f"{len(stress_test(book, grid[:1]).accounts):,} accounts")
    rng = np.random.default_rng(3)
    qty = book.quantity[:, None]
    entry = book.numbers["entryPrice"][:, None]
    wallet = book.numbers["collateral"][:, None]
    moved = book.numbers["markPrice"][:, None] * (1.0 + rng.uniform(-0.5, 0.5, (1, m)))

    def floor() -> object:
        return qty * (moved - entry) + wallet

    t_stress, t_batch, t_margin, t_floor = best_of_each(
        3, lambda: stress_test(book, grid), lambda: batch(book, scenarios=grid),
        lambda: portfolio_margin(book), floor)
    print(f"  stress_test                   {t_stress * 1e3:10.1f} ms   "
          f"{peak(lambda: stress_test(book, grid))}   x{t_stress / t_floor:4.1f} the numpy pass "
          f"({t_floor * 1e3:.1f} ms)")
    print(f"  batch (margin + stress + frame) {t_batch * 1e3:8.1f} ms   "
          f"{peak(lambda: batch(book, scenarios=grid))}   portfolio_margin "
          f"{t_margin * 1e3:.0f} ms")
    # The result frame alone, as batch builds it, beside the same columns copied into a new
    # frame (as batch built it before it kept the stress arrays as blocks).
    stressed, margins = stress_test(book, grid), portfolio_margin(book)
    liquidated = (stressed.account_balance < stressed.account_requirement)[
        stressed.account_of_position]
    names = [s.name for s in grid]

    def frame() -> object:
        return pd.concat([margins, _stress_columns(stressed.pnl, liquidated, names,
                                                   margins.index)], axis=1)

    def copied() -> object:
        columns = {}
        for j, name in enumerate(names):
            columns[f"pnl: {name}"] = stressed.pnl[:, j]
            columns[f"liquidated: {name}"] = liquidated[:, j]
        return pd.concat([margins, pd.DataFrame(columns, index=margins.index)], axis=1)

    t_frame, t_copied = best_of_each(3, frame, copied)
    print(f"  its result frame              {t_frame * 1e3:10.1f} ms   {peak(frame)}   "
          f"the columns copied into a frame: {t_copied * 1e3:.1f} ms, {peak(copied)}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    part = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    positions = make_book(n)
    scenarios = make_scenarios(m)
    print(f"stress_test: {n:,} positions x {m:,} scenarios ({n * m:,} pairs)")

    qty = positions["contracts"].to_numpy()[:, None]
    entry = positions["entryPrice"].to_numpy()[:, None]
    wallet = positions["collateral"].to_numpy()[:, None]
    moved = positions["markPrice"].to_numpy()[:, None] * (
        1.0 + np.random.default_rng(3).uniform(-0.5, 0.5, (1, m))
    )
    accounts = len(stress_test(positions, scenarios[:1]).accounts)
    shift = np.random.default_rng(4).uniform(-0.5, 0.5, (1, m))

    def call() -> object:
        return stress_test(positions, scenarios)

    def floor() -> object:
        return qty * (moved - entry) + wallet

    def results() -> object:
        return [np.multiply(qty[:rows], shift) for rows in (n, n, accounts, accounts)]

    # The baselines alone first, then each in turn with stress_test: the faster figure of
    # each is kept (a baseline run right after a large call can be slowed by it).
    alone = best_of_each(5, floor, results)
    vector, t_floor, t_results = best_of_each(5, call, floor, results)
    t_floor, t_results = min(t_floor, alone[0]), min(t_results, alone[1])
    per_pair = python_loop(positions, scenarios, 20_000)
    loop = per_pair * n * m

    print(f"  stress_test (one call)        {vector * 1e3:10.1f} ms   {peak(call)}")
    print(f"  one numpy multiply-add pass   {t_floor * 1e3:10.1f} ms   {peak(floor)}   "
          f"stress_test x{vector / t_floor:4.1f} (target <= 3x)")
    print(f"  the results alone ({accounts:,} accounts) {t_results * 1e3:6.1f} ms   "
          f"{peak(results)}   stress_test x{vector / t_results:4.1f}")
    print(f"  Python loop (20,000 pairs, scaled) {loop * 1e3:10.1f} ms   "
          f"stress_test is {loop / vector:,.0f}x faster")
    if part:
        partition(part)


if __name__ == "__main__":
    main()
