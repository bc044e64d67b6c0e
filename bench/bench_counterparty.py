"""Exchange exposure and discipline checks over a large book.

Prints each figure next to baselines measured in the same run:
- exposure_by_exchange on N positions (8 venues, a third cross-margined) against one numpy pass
  that computes the same linear PnL, floors it and sums per venue with bincount from venue codes
  given in advance (a floor: it skips reading the text columns and the cross accounts), and
  against a plain Python loop over the scalar unrealised PnL (sampled, scaled);
- check_leverage and check_stop_loss on N values against the bare numpy comparison (what the
  verdict alone costs: the rest is writing one message per row) and against a loop of scalar
  calls (sampled, scaled).

Run: python bench/bench_counterparty.py [N]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import best_of
from riskfuncs.counterparty import exposure_by_exchange
from riskfuncs.discipline import check_leverage, check_stop_loss
from riskfuncs.margin import unrealized_pnl

VENUES = np.array(["binance", "bybit", "okx", "gate", "hyperliquid", "dydx", "bitmex", "kraken"])


def line(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<28}{seconds * 1e3:10.1f} ms   {note}")


def main(n: int = 1_000_000) -> None:
    rng = np.random.default_rng(0)
    exchange = rng.choice(VENUES, n)
    side = rng.choice(np.array(["long", "short"]), n)
    entry = rng.uniform(20_000, 100_000, n)
    mark = entry * rng.uniform(0.8, 1.2, n)
    contracts = rng.lognormal(0.0, 1.0, n)
    cross = rng.uniform(size=n) < 1 / 3
    collateral = np.where(cross, 1e9, contracts * entry / rng.uniform(1, 20, n))
    book = pd.DataFrame({
        "exchange": exchange, "symbol": "BTC/USDT:USDT", "side": side, "contracts": contracts,
        "entryPrice": entry, "markPrice": mark, "collateral": collateral,
        "marginMode": np.where(cross, "cross", "isolated"),
    })
    codes = np.searchsorted(np.sort(VENUES), exchange)

    def numpy_pass() -> object:
        s = np.where(side == "long", 1.0, -1.0)
        equity = np.maximum(collateral + s * contracts * (mark - entry), 0.0)
        return np.bincount(codes, weights=equity, minlength=len(VENUES))

    sample = 10_000

    def pnl_loop() -> object:
        return [unrealized_pnl(str(side[i]), entry[i], mark[i], contracts[i])
                for i in range(sample)]

    t_exposure = best_of(2, lambda: exposure_by_exchange(book))
    t_floor = best_of(3, numpy_pass)
    t_loop = best_of(1, pnl_loop) * n / sample
    print(f"exposure_by_exchange, {n:,} positions, {len(VENUES)} venues")
    line("vectorised call", t_exposure)
    line("one numpy pass", t_floor, f"ratio {t_exposure / t_floor:6.1f}x")
    line("python loop (scaled)", t_loop, f"speed-up {t_loop / t_exposure:6.0f}x")

    leverage = rng.uniform(0, 10, n)
    liq = entry * (1 - np.where(side == "long", 1, -1) * rng.uniform(0.02, 0.5, n))
    stop = entry * (1 - np.where(side == "long", 1, -1) * rng.uniform(0.01, 0.3, n))
    t_lev = best_of(2, lambda: check_leverage(leverage))
    t_lev_floor = best_of(3, lambda: leverage <= 5.0)
    t_lev_loop = best_of(1, lambda: [check_leverage(v) for v in leverage[:2_000]]) * n / 2_000
    t_stop = best_of(2, lambda: check_stop_loss(side, entry, stop, liq))
    t_stop_loop = best_of(1, lambda: [check_stop_loss(str(side[i]), entry[i], stop[i], liq[i])
                                      for i in range(2_000)]) * n / 2_000
    print(f"discipline checks, {n:,} values (one message per row)")
    line("check_leverage", t_lev)
    line("bare comparison", t_lev_floor, f"ratio {t_lev / t_lev_floor:6.0f}x (messages)")
    line("scalar calls (scaled)", t_lev_loop, f"speed-up {t_lev_loop / t_lev:6.0f}x")
    line("check_stop_loss", t_stop)
    line("scalar calls (scaled)", t_stop_loop, f"speed-up {t_stop_loop / t_stop:6.0f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
