"""liquidation_price over 1,000,000 positions with a 12-tier table.

Prints the time next to two baselines measured in the same run:
- a plain Python loop over the scalar path (10,000 positions, scaled to the full size);
- one numpy pass over the same input arrays (the untiered closed form, a floor on the cost).
Peak memory is traced with tracemalloc (numpy reports its buffers to it).

Run: python bench/bench_liquidation.py [N]
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import best_of
from riskfuncs import as_tier_table, liquidation_price
from tests.riskfuncs.test_liquidation import BTCUSDT_TIERS


def main(n: int = 1_000_000) -> None:
    rng = np.random.default_rng(0)
    side = rng.choice(np.array(["long", "short"]), n)
    entry = rng.uniform(20_000, 100_000, n)
    qty = rng.lognormal(0.0, 2.0, n)
    collateral = qty * entry / rng.uniform(1.0, 50.0, n)
    table = as_tier_table(BTCUSDT_TIERS)

    def vectorised() -> object:
        return liquidation_price(side, entry, qty, collateral, tiers=table)

    def numpy_pass() -> object:
        s = np.where(side == "long", 1.0, -1.0)
        return (collateral - s * qty * entry) / (qty * (0.004 - s))

    sample = 10_000

    def scalar_loop() -> object:
        return [
            liquidation_price(str(side[i]), entry[i], qty[i], collateral[i], tiers=table)
            for i in range(sample)
        ]

    t_vec = best_of(3, vectorised)
    t_np = best_of(3, numpy_pass)
    t_loop = best_of(1, scalar_loop) * n / sample

    tracemalloc.start()
    vectorised()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"liquidation_price, {n:,} positions, {len(table)} tiers")
    print(f"  vectorised call        {t_vec * 1e3:10.1f} ms")
    print(
        f"  one numpy pass         {t_np * 1e3:10.1f} ms   "
        f"ratio {t_vec / t_np:6.2f}x (target <= 5x)"
    )
    print(
        f"  python loop (scaled)   {t_loop * 1e3:10.1f} ms   speed-up {t_loop / t_vec:8.0f}x "
        f"(target >= 100x)"
    )
    print(f"  peak traced memory     {peak / 2**20:10.1f} MB (target < 500 MB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
