"""Book VaR and ES across several assets (riskfuncs.var.book_var).

References: J. C. Hull's two-asset linear-model example (a published figure), and independent
computations with scipy and plain numpy loops on the same returns.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from riskfuncs import RiskInputError
from riskfuncs.var import ShortHistoryWarning, book_var, expected_shortfall, historical_var


def _returns(seed: int = 5, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.standard_t(4, n) * 0.02
    return pd.DataFrame({
        "BTC": common + rng.normal(0, 0.01, n),
        "ETH": 1.2 * common + rng.normal(0, 0.015, n),
        "SOL": 1.8 * common + rng.normal(0, 0.03, n),
    })


def _with_exact_moments(cov: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    """Returns whose sample mean is 0 and sample covariance (ddof=1) is exactly ``cov``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cov.shape[0]))
    x -= x.mean(axis=0)
    whiten = np.linalg.cholesky(np.cov(x, rowvar=False))
    x = x @ np.linalg.inv(whiten).T
    return x @ np.linalg.cholesky(cov).T  # type: ignore[no-any-return]


def test_hull_two_asset_example() -> None:
    """Hull, *Risk Management and Financial Institutions* (linear model): USD 10m in Microsoft
    (2% a day) and 5m in AT&T (1% a day), correlation 0.3: sigma_P = 220,227 and the 10-day
    99% VaR is about 1.62m (Hull rounds, and uses z = 2.33 where we use 2.3263); alone the
    two are 1,473,621 and 368,405 with z = 2.33. Tolerance 0.3%: the z rounding (0.16%)."""
    cov = np.array([[0.02**2, 0.3 * 0.02 * 0.01], [0.3 * 0.02 * 0.01, 0.01**2]])
    r = pd.DataFrame(_with_exact_moments(cov, 250), columns=["MSFT", "T"])
    book = book_var(r, {"MSFT": 10e6, "T": 5e6}, horizon=10, zero_mean=True)
    assert book.normal_var == pytest.approx(1.62e6, rel=3e-3)
    assert book.normal_var / (math.sqrt(10) * 2.3263479) == pytest.approx(220_227, rel=1e-5)
    assert book.per_asset.loc["MSFT", "normal_var"] == pytest.approx(1_473_621, rel=3e-3)
    assert book.per_asset.loc["T", "normal_var"] == pytest.approx(368_405, rel=3e-3)
    assert book.correlation.loc["MSFT", "T"] == pytest.approx(0.3, abs=1e-12)


def test_normal_against_scipy_and_covariance() -> None:
    """sqrt(e' S e) from pandas' covariance and scipy's normal quantile; ES as the integral
    of the loss density beyond VaR (scipy.integrate). 1e-9 relative: float rounding only."""
    r = _returns()
    e = pd.Series({"BTC": 50_000.0, "ETH": -30_000.0, "SOL": 12_000.0})
    book = book_var(r, e, confidence=0.975, horizon=4)
    sd = math.sqrt(float(e.to_numpy() @ r.cov().to_numpy() @ e.to_numpy()))
    mean = float(e.to_numpy() @ r.mean().to_numpy())
    var = -(mean + stats.norm.ppf(0.025) * sd) * 2
    assert book.normal_var == pytest.approx(var, rel=1e-9)
    loss = stats.norm(loc=-mean, scale=sd)
    tail, _ = integrate.quad(lambda x: x * loss.pdf(x), var / 2, np.inf)
    assert book.normal_es == pytest.approx(tail / 0.025 * 2, rel=1e-7)


def test_historical_against_loop() -> None:
    """The P&L of each date summed by hand, its loss quantile with numpy.percentile (linear)
    and the tail mean by a plain loop."""
    r = _returns()
    e = {"BTC": 40_000.0, "ETH": 25_000.0, "SOL": -8_000.0}
    pnl = [sum(e[a] * row[a] for a in e) for _, row in r.iterrows()]
    q = float(np.percentile(pnl, 1))
    tail = [p for p in pnl if p <= q]
    book = book_var(r, e, confidence=0.99)
    assert book.historical_var == pytest.approx(-q, rel=1e-12)
    assert book.historical_es == pytest.approx(-sum(tail) / len(tail), rel=1e-12)
    assert book.historical_es >= book.historical_var
    assert book.observations == len(r)


def test_one_asset_equals_the_single_asset_functions() -> None:
    """A one-asset long book is the exposure times historical_var / expected_shortfall; a
    short one takes the other tail."""
    r = _returns()[["BTC"]]
    long = book_var(r, {"BTC": 1000.0}, confidence=0.95, horizon=9)
    assert long.historical_var == pytest.approx(3000 * historical_var(r["BTC"], confidence=0.95))
    assert long.historical_es == pytest.approx(
        3000 * expected_shortfall(r["BTC"], confidence=0.95))
    short = book_var(r, {"BTC": -1000.0}, confidence=0.95)
    assert short.historical_var == pytest.approx(1000 * historical_var(-r["BTC"],
                                                                       confidence=0.95))


def test_positions_are_netted_and_coverage_is_gross() -> None:
    """Two BTC positions (a linear and an inverse contract) net into one exposure; the ETH
    short nets to zero with its long yet both stay covered; DOGE has no history."""
    r = _returns().rename(columns={"SOL": "eth"})[["BTC", "eth"]]
    exposures = pd.Series([49_480.0, 20_000.0, -38_160.0, 38_160.0, -23_820.0],
                          index=[1, 2, 3, 4, 5])
    book = book_var(r, exposures, assets=["BTC", "btc ", "ETH", "ETH", "DOGE"])
    assert book.covered == ("BTC", "ETH")
    assert book.missing == ("DOGE",)
    assert book.exposures.to_dict() == {"BTC": 69_480.0, "ETH": 0.0, "DOGE": -23_820.0}
    assert book.book_value == pytest.approx(169_620.0)
    assert book.covered_value == pytest.approx(169_620.0 - 23_820.0)
    assert book.positions_covered.tolist() == [True, True, True, True, False]
    only_btc = book_var(r[["BTC"]], {"BTC": 69_480.0})
    assert book.historical_var == pytest.approx(only_btc.historical_var, rel=1e-12)


def test_joint_history_drops_dates_any_covered_asset_lacks() -> None:
    r = _returns()
    r.loc[:9, "SOL"] = np.nan  # SOL listed later: its first ten dates are missing
    full = book_var(r, {"BTC": 1.0, "ETH": 1.0, "SOL": 1.0})
    assert full.observations == len(r) - 10
    assert (full.pnl.index == r.index[10:]).all()
    without = book_var(r, {"BTC": 1.0, "ETH": 1.0})  # SOL not held: all dates count
    assert without.observations == len(r)


def test_nothing_covered_is_nan_never_zero() -> None:
    r = _returns()[["BTC"]]
    book = book_var(r, {"PEPE": 5000.0})
    assert book.covered == () and book.missing == ("PEPE",)
    assert math.isnan(book.historical_var) and math.isnan(book.normal_es)
    assert book.coverage == 0.0


def test_short_history_warns() -> None:
    r = _returns(n=12)
    with pytest.warns(ShortHistoryWarning, match="12 joint returns"):
        book_var(r, {"BTC": 1.0})


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"confidence": 99}, "confidence must be in (0, 1)"),
    ({"horizon": -1}, "horizon must be >= 0"),
    ({"ddof": -1}, "ddof must be >= 0"),
    ({"method": "middle"}, "method"),
    ({"assets": ["BTC"]}, "assets must name the asset of each exposure"),
])
def test_errors_name_the_argument(kwargs: dict[str, object], message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortHistoryWarning)
        with pytest.raises(RiskInputError, match=re.escape(message)):
            book_var(_returns(), {"BTC": 1.0, "ETH": 2.0}, **kwargs)  # type: ignore[arg-type]


def test_errors_on_inputs() -> None:
    with pytest.raises(RiskInputError, match="returns must be a table"):
        book_var(np.zeros((40, 2)), {"BTC": 1.0})  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match="exposures must be finite"):
        book_var(_returns(), {"BTC": math.nan})
    twice = _returns().rename(columns={"ETH": "btc"})
    with pytest.raises(RiskInputError, match="BTC twice"):
        book_var(twice, {"BTC": 1.0})
