"""Write the sample ETH, SOL and DOGE daily bars of templates/sample/ohlcv.json.

Sample data for the demo, not market data: each asset's log return is a multiple of the sample
BTC bar's return (already in the file) plus its own seeded normal noise, so the assets move
together as crypto assets do; each path ends at the sample positions' mark price. Running it
again writes the same bars.

    python scripts/make_sample_prices.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).resolve().parent.parent / "templates" / "sample" / "ohlcv.json"
BTC = "BTC/USDT:USDT"
#: symbol: (beta to BTC, own daily volatility, last close = the sample mark, decimals, seed)
ASSETS = {
    "ETH/USDT:USDT": (1.15, 0.018, 3180.0, 2, 11),
    "SOL/USDT:USDT": (1.40, 0.030, 146.9, 3, 12),
    "DOGE/USDT:USDT": (1.30, 0.035, 0.1588, 5, 13),
}


def bars(btc: list[list[float]], beta: float, own: float, last: float, decimals: int,
         seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    closes = np.array([bar[4] for bar in btc])
    steps = beta * np.diff(np.log(closes)) + rng.normal(0.0, own, len(closes) - 1)
    path = np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    close = path / path[-1] * last
    out = []
    for i, bar in enumerate(btc):
        open_ = close[i - 1] if i else close[0] * (1 - steps[0])
        spread = np.abs(rng.normal(0.0, own / 2, 2))
        high = max(open_, close[i]) * (1 + spread[0])
        low = min(open_, close[i]) * (1 - spread[1])
        volume = float(round(rng.uniform(0.5, 1.5) * bar[5] * 60_000 / last))
        out.append([bar[0], *(round(float(v), decimals) for v in (open_, high, low, close[i])),
                    volume])
    out[-1][4] = last
    return out


def main() -> None:
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    btc = data[BTC]
    result = {BTC: btc}
    for symbol, (beta, own, last, decimals, seed) in ASSETS.items():
        result[symbol] = bars(btc, beta, own, last, decimals, seed)
    text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in result.items()) + "}"
    SAMPLE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
