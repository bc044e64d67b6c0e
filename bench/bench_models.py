"""Risk models at book scale.

Prints each figure next to baselines measured in the same run:
- liquidation_probability (continuous closed form and discrete BGK) over N positions, against a
  plain Python loop over the scalar path (10,000 positions, scaled to N) and against one numpy
  pass over the same arrays (np.log of mark / liquidation, a floor on the cost);
- the same with monitoring="monte_carlo" on a smaller book (simulation cost grows with
  positions x paths);
- monte_carlo_var with 100,000 paths on 1,000 daily returns, against a plain Python loop over the
  scalar path (random.gauss draws, sorted; 10,000 draws timed and scaled) and against drawing
  the normals alone (one numpy pass); then 10 assets in one call.

Timings are the best of a few repeats; nothing is asserted.

Run: python bench/bench_models.py [N]
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import best_of
from riskfuncs.probability import liquidation_probability
from riskfuncs.var import monte_carlo_var

DAY = 1 / 365


def line(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<34}{seconds * 1e3:11.1f} ms   {note}")


def book(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mark = rng.uniform(1.0, 100_000.0, n)
    side = np.where(rng.random(n) < 0.5, "long", "short")
    away = rng.uniform(0.02, 0.5, n)
    liquidation = np.where(side == "long", mark * (1 - away), mark * (1 + away))
    return {
        "mark": mark,
        "liquidation": liquidation,
        "volatility": rng.uniform(0.2, 1.5, n),
        "horizon": rng.uniform(1, 30, n) * DAY,
        "side": side,
    }


def probability_bench(n: int, sample: int = 10_000) -> None:
    data = book(n)
    args = (data["mark"], data["liquidation"], data["volatility"], data["horizon"])
    print(f"liquidation_probability, {n:,} positions")
    floor = best_of(3, lambda: np.log(data["mark"] / data["liquidation"]))
    line("numpy floor (one log pass)", floor)
    for label, options in [
        ("continuous closed form", {}),
        ("discrete, 24 checks (BGK)", {"monitoring": "discrete", "checks": 24}),
    ]:
        k = min(sample, n)

        def whole(o: dict[str, object] = options) -> None:
            liquidation_probability(*args, side=data["side"], **o)  # type: ignore[arg-type]

        vector = best_of(3, whole)

        def loop(o: dict[str, object] = options, k: int = k) -> None:
            for i in range(k):
                liquidation_probability(
                    args[0][i], args[1][i], args[2][i], args[3][i], side=data["side"][i], **o  # type: ignore[arg-type]
                )

        looped = best_of(1, loop) * n / k
        line(label, vector, f"x{vector / floor:6.1f} floor, loop {looped:8.1f} s "
             f"(x{looped / vector:,.0f} slower, {k:,} timed and scaled)")
    m = min(n, 20_000)
    paths = 2_000
    small = tuple(a[:m] for a in args)
    simulated = best_of(1, lambda: liquidation_probability(
        *small, side=data["side"][:m], monitoring="monte_carlo", paths=paths, seed=1
    ))
    per_draw = simulated / (m * paths) * 1e9
    line(f"monte_carlo, {m:,} x {paths:,} paths", simulated, f"{per_draw:.1f} ns per position-path")


def python_loop_var(returns: np.ndarray, paths: int, confidence: float = 0.99) -> float:
    """The scalar path in plain Python: draw, sort, read the order statistic."""
    rng = random.Random(1)
    mean = statistics.fmean(returns)
    sd = statistics.stdev(returns)
    draws = sorted(mean + sd * rng.gauss(0.0, 1.0) for _ in range(paths))
    position = (paths - 1) * (1 - confidence)
    below = int(position)
    return -(draws[below] + (position - below) * (draws[below + 1] - draws[below]))


def var_bench(paths: int = 100_000, assets: int = 10, days: int = 1_000) -> None:
    rng = np.random.default_rng(2)
    returns = 0.03 * rng.standard_t(4, (days, assets)) / np.sqrt(2.0)
    column = returns[:, 0]
    print(f"monte_carlo_var, {paths:,} paths, {days:,} returns")
    sample = 10_000
    # Sorting is n log n, so the linear scaling slightly flatters the loop.
    looped = best_of(1, lambda: python_loop_var(list(column), sample)) * paths / sample
    floor = best_of(3, lambda: np.random.default_rng(1).standard_normal(paths))
    line("numpy floor (draw the normals)", floor)
    for method in ("normal", "bootstrap"):
        one = best_of(3, lambda m=method: monte_carlo_var(column, method=m, paths=paths, seed=1))  # type: ignore[misc]
        line(f"{method}, one asset", one, f"x{one / floor:5.1f} floor, python loop "
             f"{looped * 1e3:7.1f} ms (x{looped / one:.0f} slower, {sample:,} draws scaled)")
    many = best_of(3, lambda: monte_carlo_var(returns, paths=paths, seed=1))
    line(f"normal, {assets} assets in one call", many, f"x{many / floor:5.1f} one-asset floor")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    probability_bench(n)
    var_bench()


if __name__ == "__main__":
    main()
