"""Risk models at book scale.

Prints each figure next to baselines measured in the same run:
- liquidation_probability one position per call: perprisk's scalar path against a plain Python
  closed form (``math.erfc``, the reflection formula with drift) on the same Python floats;
- liquidation_probability (continuous closed form and discrete BGK) over N positions, against
  one numpy pass over the same arrays (np.log of mark / liquidation, a floor on the cost) and
  against the plain Python loop (timed on 20,000 positions, scaled to N);
- the same with monitoring="monte_carlo" on a smaller book (simulation cost grows with
  positions x paths);
- monte_carlo_var with 100,000 paths on 1,000 daily returns, against a plain Python loop over the
  scalar path (random.gauss draws, sorted; 10,000 draws timed and scaled) and against drawing
  the normals alone (one numpy pass); then 10 assets in one call.

Timings are the best of a few repeats; nothing is asserted. Target (printed): the scalar path
within 10x of the plain Python closed form per call.

Run: python bench/bench_models.py [N] (with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in
that command where this machine sets them: they slow a current numpy).
"""

from __future__ import annotations

import math
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import best_of, best_per_item
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


SQRT2 = math.sqrt(2.0)


def python_probability(mark: float, liquidation: float, volatility: float, horizon: float,
                       side: str, drift: float = 0.0) -> float:
    """First-passage probability in plain Python: what a user's own loop would compute."""
    long = side == "long"
    if liquidation <= 0 or math.isinf(liquidation):
        return 0.0
    d = math.log(mark / liquidation) if long else math.log(liquidation / mark)
    if d <= 0:
        return 1.0
    nu = drift - 0.5 * volatility * volatility
    m = -nu if long else nu
    scale = volatility * math.sqrt(horizon)
    below = 0.5 * math.erfc((d - m * horizon) / (scale * SQRT2))
    beyond = 0.5 * math.erfc((d + m * horizon) / (scale * SQRT2))
    return below + math.exp(2.0 * m * d / (volatility * volatility)) * beyond


def probability_bench(n: int, sample: int = 20_000) -> None:
    data = book(n)
    args = (data["mark"], data["liquidation"], data["volatility"], data["horizon"])
    k = min(sample, n)
    rows = list(zip(*(a[:k].tolist() for a in args), data["side"][:k].tolist(), strict=True))

    Row = tuple[float, float, float, float, str]

    def plain(part: Sequence[Row]) -> object:
        return [python_probability(*row) for row in part]

    def scalar(part: Sequence[Row]) -> object:
        return [liquidation_probability(m, b, v, t, side=s) for m, b, v, t, s in part]

    assert np.allclose(plain(rows), scalar(rows), rtol=1e-9, atol=1e-15)  # type: ignore[arg-type]
    t_plain = best_per_item(5, plain, rows)
    t_scalar = best_per_item(5, scalar, rows)
    print(f"liquidation_probability, one position per call ({k:,} positions, Python floats)")
    print(f"  {'plain Python closed form':<34}{t_plain * 1e6:11.2f} us")
    print(f"  {'perprisk scalar path':<34}{t_scalar * 1e6:11.2f} us   "
          f"x{t_scalar / t_plain:5.1f} the plain loop (target <= 10x)")

    print(f"liquidation_probability, {n:,} positions")
    floor = best_of(3, lambda: np.log(data["mark"] / data["liquidation"]))
    line("numpy floor (one log pass)", floor)
    looped = t_plain * n
    for label, options in [
        ("continuous closed form", {}),
        ("discrete, 24 checks (BGK)", {"monitoring": "discrete", "checks": 24}),
    ]:

        def whole(o: dict[str, object] = options) -> None:
            liquidation_probability(*args, side=data["side"], **o)  # type: ignore[arg-type]

        vector = best_of(3, whole)
        line(label, vector, f"x{vector / floor:6.1f} floor; plain Python loop "
             f"x{looped / vector:,.0f} slower ({k:,} timed and scaled)")
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
