"""liquidation_price at every size, next to honest peers measured in the same run.

One position at a time (a cell function, a user's loop, ``perprisk watch``):
- a plain Python loop that walks the tiers per position, as freqtrade and the exchanges'
  calculators do: solve the balance condition with each tier's rate and amount in turn and keep
  the first tier that holds the solution (Python floats in);
- perprisk's scalar path on the same positions (Python floats in, the table validated once as a
  TierTable), and the same with the ccxt tier list given on every call (it is validated each
  time).

A book in one call (N positions, Binance's 12-tier BTCUSDT table, sides as words):
- the numpy floor: one numpy pass of the untiered closed form over the same arrays, the side
  words read once;
- perprisk's vectorised call;
- peak memory of each (tracemalloc; numpy reports its buffers to it), next to the input arrays.

A book with cross accounts (``portfolio_margin``: every figure of every position, the cross
wallets shared), on bench_stress's book (three venues, three assets, a fifth of the positions
cross), once with its text columns as pandas' ``str`` and once as ``category`` columns:
- the vectorised ``liquidation_price`` on the same rows (its rates, no cross terms): the floor
  the target is set against;
- the result frame alone: its 11 number columns written once each and its two text columns
  written per row, what any implementation that returns the frame pays;
- a plain Python loop over the rows, as a script does it: the cross accounts' maintenance margin
  and uPnL summed in a first pass, then each position's figures (notional, maintenance, uPnL,
  balance, liquidation price by the closed form, distance, ratio), timed on the first 50,000
  positions and scaled;
- peak traced memory of each.

Targets (printed, never asserted): the scalar path within 10x of the plain loop per call, the
vectorised call within 2.5x of the floor, ``portfolio_margin`` under 2x the liquidation call on
the same rows. Timings are the best of a few repeats.

Run: python bench/bench_liquidation.py [N]. OPENBLAS_CORETYPE, where this machine sets it,
slows a current numpy: unset it (and OPENBLAS_L2_SIZE) in the benchmark's command alone,
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_liquidation.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import best_of_each, best_per_item, peak_memory
from riskfuncs import as_tier_table, liquidation_price
from riskfuncs.tiers import TierTable
from tests.riskfuncs.test_liquidation import BTCUSDT_TIERS

Tier = tuple[float, float, float, float]


def python_tier_loop(side: str, entry: float, qty: float, collateral: float,
                     tiers: list[Tier]) -> float:
    """One linear position, the way a per-position calculator does it: for each tier in turn,
    ``LP = (W + cum - s Q EP) / (Q (MMR - s))``; keep it when its notional is in that tier."""
    s = 1.0 if side == "long" else -1.0
    price = 0.0
    for floor, cap, rate, cum in tiers:
        price = (collateral + cum - s * qty * entry) / (qty * (rate - s))
        if floor <= qty * price < cap:
            return price
    return max(price, 0.0)


def book(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    entry = rng.uniform(20_000, 100_000, n)
    qty = rng.lognormal(0.0, 2.0, n)
    return {
        "side": rng.choice(np.array(["long", "short"]), n),
        "entry": entry,
        "qty": qty,
        "collateral": qty * entry / rng.uniform(1.0, 50.0, n),
    }


def main(n: int = 1_000_000, sample: int = 20_000) -> None:
    data = book(n)
    table = as_tier_table(BTCUSDT_TIERS)
    rows: list[Tier] = list(zip(table.floors.tolist(), table.caps.tolist(),
                                table.maintenance_margin_rates.tolist(),
                                table.maintenance_amounts.tolist(), strict=True))
    k = min(sample, n)
    positions = list(zip(data["side"][:k].tolist(), data["entry"][:k].tolist(),
                         data["qty"][:k].tolist(), data["collateral"][:k].tolist(), strict=True))
    flags = ", ".join(f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                      if v in os.environ) or "none"
    print(f"liquidation_price, {len(table)}-tier table (OPENBLAS variables set: {flags})")

    # --- one position per call -------------------------------------------------------------
    Position = tuple[str, float, float, float]

    def plain(part: Sequence[Position]) -> object:
        return [python_tier_loop(*p, rows) for p in part]

    def scalar(tiers: TierTable | list[dict[str, float]]) -> Callable[[Sequence[Position]], object]:
        return lambda part: [liquidation_price(*p, tiers=tiers) for p in part]

    got = scalar(table)(positions)
    assert np.allclose(got, plain(positions), rtol=1e-9), "the plain loop disagrees with perprisk"  # type: ignore[arg-type]
    t_plain = best_per_item(5, plain, positions)
    t_scalar = best_per_item(5, scalar(table), positions)
    t_listed = best_per_item(1, scalar(BTCUSDT_TIERS), positions[:2_000])
    print(f"  one position per call ({k:,} positions, Python floats)")
    print(f"    plain Python tier loop      {t_plain * 1e6:9.2f} us")
    print(f"    perprisk scalar, TierTable  {t_scalar * 1e6:9.2f} us   "
          f"x{t_scalar / t_plain:5.1f} the loop (target <= 10x)")
    print(f"    perprisk scalar, ccxt list  {t_listed * 1e6:9.2f} us   "
          f"x{t_listed / t_plain:5.1f} the loop (the list validated on every call)")

    # --- a book in one call ----------------------------------------------------------------
    side, entry, qty, collateral = data["side"], data["entry"], data["qty"], data["collateral"]

    def vectorised() -> object:
        return liquidation_price(side, entry, qty, collateral, tiers=table)

    def numpy_floor() -> object:
        s = np.where(side == "long", 1.0, -1.0)
        return (collateral - s * qty * entry) / (qty * (0.004 - s))

    t_np, t_vec = best_of_each(7, numpy_floor, vectorised)
    inputs = sum(a.nbytes for a in data.values())
    peak_vec = peak_memory(vectorised)
    peak_np = peak_memory(numpy_floor)
    print(f"  a book in one call ({n:,} positions; inputs {inputs / 2**20:.0f} MB)")
    print(f"    numpy floor (untiered)      {t_np * 1e3:9.1f} ms   peak {peak_np / 2**20:6.1f} MB")
    print(f"    perprisk vectorised         {t_vec * 1e3:9.1f} ms   peak {peak_vec / 2**20:6.1f} MB"
          f"   x{t_vec / t_np:4.2f} the floor (target <= 2.5x)")
    print(f"    plain Python loop, scaled   {t_plain * n * 1e3:9.1f} ms   "
          f"x{t_plain * n / t_vec:5.0f} the vectorised call")
    print(f"    perprisk scalar, scaled     {t_scalar * n * 1e3:9.1f} ms   "
          f"x{t_scalar * n / t_vec:5.0f} the vectorised call")

    portfolio_bench(n, t_vec)


def python_book_loop(rows: Sequence[Mapping[Any, Any]]) -> list[tuple[float, ...]]:
    """portfolio_margin's figures the way a script computes them, one position at a time."""
    sums: dict[object, list[float]] = {}
    for row in rows:
        if row["marginMode"] == "cross":
            s = 1.0 if row["side"] == "long" else -1.0
            q, mark = cast(float, row["contracts"]), cast(float, row["markPrice"])
            account = sums.setdefault(row["exchange"], [0.0, 0.0])
            account[0] += q * mark * cast(float, row["maintenanceMarginRate"])
            account[1] += s * q * (mark - cast(float, row["entryPrice"]))
    out: list[tuple[float, ...]] = []
    for row in rows:
        s = 1.0 if row["side"] == "long" else -1.0
        q, mark = cast(float, row["contracts"]), cast(float, row["markPrice"])
        entry, rate = cast(float, row["entryPrice"]), cast(float, row["maintenanceMarginRate"])
        wallet = cast(float, row["collateral"])
        value, pnl = q * mark, s * q * (mark - entry)
        mm = value * rate
        if row["marginMode"] == "cross":
            account_mm, account_pnl = sums[row["exchange"]]
            base = wallet + (account_pnl - pnl) - (account_mm - mm)
            balance, requirement = wallet + account_pnl, account_mm
        else:
            base, balance, requirement = wallet, wallet + pnl, mm
        price = (base - s * q * entry) / (q * (rate - s))
        out.append((value, mm, pnl, balance, price, s * (mark - price) / mark,
                    requirement / balance if balance > 0 else float("inf")))
    return out


def portfolio_bench(n: int, t_tiered: float) -> None:
    """portfolio_margin on a book with cross accounts (bench_stress's book: three venues, three
    assets, a fifth of the positions cross), next to liquidation_price on the same rows and a
    plain Python loop. The book twice, side by side: its text columns (exchange, symbol, side,
    marginMode) as pandas makes them from Python strings (pandas' ``str`` dtype), and the same
    values as ``category`` columns (what a Parquet file written from a categorical book, or any
    dictionary-encoded column, reads back as)."""
    from bench.bench_stress import make_book
    from riskfuncs import portfolio_margin
    from riskfuncs.portfolio import RESULT_COLUMNS

    positions = make_book(n)
    text = ["exchange", "symbol", "side", "marginMode"]
    encoded = positions.astype(dict.fromkeys(text, "category"))
    # The baseline's inputs: the same rows as numpy arrays, side and mode as numpy words (the
    # conversion is not timed), the same for both books.
    side = positions["side"].to_numpy(dtype=str)
    entry, qty = positions["entryPrice"].to_numpy(), positions["contracts"].to_numpy()
    collateral = positions["collateral"].to_numpy()
    rate = positions["maintenanceMarginRate"].to_numpy()
    modes = positions["marginMode"].to_numpy(dtype=str)

    def same_rows() -> object:
        return liquidation_price(side, entry, qty, collateral, maintenance_margin_rate=rate,
                                 margin_mode=modes)

    # What any implementation returning the result frame pays: its 11 number columns written
    # once each into new arrays and its two text columns (account, rule) written per row from
    # per-venue words, as pandas' str.
    venue_codes = pd.factorize(positions["exchange"])[0]
    accounts = pd.Series([f"{e}:USDT" for e in pd.unique(positions["exchange"])]).array
    rules = pd.Series(list(pd.unique(positions["exchange"]))).array
    figures = [name for name in RESULT_COLUMNS if name not in ("account", "rule")]

    def frame_alone() -> object:
        return pd.DataFrame({"account": accounts.take(venue_codes),
                             "rule": rules.take(venue_codes),
                             **{name: qty * 1.0 for name in figures}}, copy=False)

    def text_book() -> object:
        return portfolio_margin(positions)

    def encoded_book() -> object:
        return portfolio_margin(encoded)

    # The baseline alone first, then in turn with portfolio_margin: the faster figure is kept.
    t_alone = best_of_each(5, same_rows)[0]
    t_rows, t_text, t_encoded, t_frame = best_of_each(7, same_rows, text_book, encoded_book,
                                                      frame_alone)
    t_rows = min(t_rows, t_alone)
    sample = positions.iloc[: min(n, 50_000)].to_dict("records")
    t_loop = best_of_each(3, lambda: python_book_loop(sample))[0] / len(sample) * n
    print(f"  portfolio_margin, {n:,} positions with cross accounts (3 venues, 3 assets)")
    print(f"    liquidation_price, same rows{t_rows * 1e3:9.1f} ms   "
          f"peak {peak_memory(same_rows) / 2**20:6.1f} MB")
    for name, t_book, call in (("portfolio_margin, str text", t_text, text_book),
                               ("portfolio_margin, category", t_encoded, encoded_book)):
        print(f"    {name:28s}{t_book * 1e3:9.1f} ms   "
              f"peak {peak_memory(call) / 2**20:6.1f} MB   x{t_book / t_rows:4.2f} the same rows "
              f"(target < 2x), x{t_book / t_tiered:4.1f} the tiered call above")
    print(f"    the result frame alone      {t_frame * 1e3:9.1f} ms   "
          f"peak {peak_memory(frame_alone) / 2**20:6.1f} MB   x{t_frame / t_rows:4.2f} the same "
          "rows (its columns written once)")
    print(f"    plain Python loop, scaled   {t_loop * 1e3:9.1f} ms   "
          f"x{t_loop / t_text:5.0f} portfolio_margin (str text)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
