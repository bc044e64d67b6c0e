"""Returns and volatility estimators: reference values, container contract, invariants."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from riskfuncs import RiskInputError
from riskfuncs.volatility import (
    close_to_close_volatility,
    ewma_volatility,
    ewma_volatility_path,
    garman_klass_volatility,
    parkinson_volatility,
    returns,
)

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "models"


@pytest.fixture(scope="module")
def arch_ewma() -> tuple[pd.DataFrame, dict[str, float]]:
    table = pd.read_csv(REFERENCE / "ewma_arch.csv")
    meta = json.loads((REFERENCE / "ewma_arch.json").read_text())
    return table, meta["one_step_variance"]


# --- returns -------------------------------------------------------------------------------


def test_simple_and_log_returns_by_hand() -> None:
    # 100 -> 110 -> 99: +10% then -10%; log return ln(1.1) = 0.0953101798.
    assert_allclose(returns([100.0, 110.0, 99.0]), [0.1, -0.1], rtol=1e-15)
    assert_allclose(returns([100.0, 110.0], kind="log"), [0.09531017980432493], rtol=1e-15)


def test_returns_keep_labels_of_the_later_price() -> None:
    prices = pd.Series([100.0, 105.0, 84.0], index=pd.date_range("2024-01-01", periods=3))
    result = returns(prices)
    assert isinstance(result, pd.Series)
    assert list(result.index) == list(prices.index[1:])
    assert_allclose(result, [0.05, -0.2], rtol=1e-14)


def test_returns_of_frame_and_matrix_by_column() -> None:
    frame = pd.DataFrame({"BTC": [100.0, 110.0, 121.0], "ETH": [10.0, 9.0, 9.9]})
    result = returns(frame)
    assert isinstance(result, pd.DataFrame)
    assert list(result.columns) == ["BTC", "ETH"]
    assert_allclose(result.to_numpy(), [[0.1, -0.1], [0.1, 0.1]], rtol=1e-14)
    assert_allclose(returns(frame.to_numpy()), result.to_numpy())
    assert_allclose(returns(frame.to_numpy().T, axis=1), result.to_numpy().T)


def test_returns_reject_bad_prices_and_options() -> None:
    with pytest.raises(RiskInputError, match=r"^prices must be > 0 \(got -1 at position 1\)"):
        returns([100.0, -1.0])
    with pytest.raises(RiskInputError, match="kind must be one of simple, log"):
        returns([1.0, 2.0], kind="pct")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match="prices must be a history"):
        returns(5.0)


# --- close-to-close --------------------------------------------------------------------------


def test_close_to_close_matches_stdev_s_by_hand() -> None:
    # Excel STDEV.S of (1%, -1%, 1%, -1%): sqrt(4 * 0.0001 / 3) = 0.0115470054.
    r = [0.01, -0.01, 0.01, -0.01]
    assert close_to_close_volatility(r, periods_per_year=1) == pytest.approx(
        math.sqrt(0.0004 / 3), rel=1e-14
    )
    assert close_to_close_volatility(r) == pytest.approx(math.sqrt(0.0004 / 3 * 365), rel=1e-14)
    assert close_to_close_volatility(r, ddof=0, periods_per_year=1) == pytest.approx(0.01)


def test_close_to_close_matches_pandas_std_per_column() -> None:
    # pandas DataFrame.std (ddof=1) is an independent implementation of the sample deviation.
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(0, 0.03, (250, 3)), columns=["a", "b", "c"])
    result = close_to_close_volatility(frame, periods_per_year=252)
    assert isinstance(result, pd.Series)
    assert_allclose(result, frame.std() * math.sqrt(252), rtol=1e-13)


def test_close_to_close_nan_and_short_input() -> None:
    assert math.isnan(close_to_close_volatility([0.01, np.nan, 0.02]))
    assert math.isnan(close_to_close_volatility([0.01]))
    with pytest.raises(RiskInputError, match=r"^periods_per_year must be > 0"):
        close_to_close_volatility([0.01, 0.02], periods_per_year=0)


# --- EWMA ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.94, 0.97])
def test_ewma_path_matches_arch(
    arch_ewma: tuple[pd.DataFrame, dict[str, float]], lam: float
) -> None:
    # Reference: arch 8.0.0 EWMAVariance conditional volatility (tests/reference/models).
    # rtol 1e-12: the same float64 recursion; only the summation order of the seed can differ.
    table, _ = arch_ewma
    path = ewma_volatility_path(table["return"].to_numpy(), lam=lam, periods_per_year=1)
    assert_allclose(path, table[f"sigma_lam_{lam}"], rtol=1e-12)


@pytest.mark.parametrize("lam", [0.94, 0.97])
def test_ewma_forecast_matches_arch(
    arch_ewma: tuple[pd.DataFrame, dict[str, float]], lam: float
) -> None:
    # Reference: arch 8.0.0 forecast(horizon=1) variance; same tolerance and reason as above.
    table, forecast = arch_ewma
    sigma = ewma_volatility(table["return"], lam=lam, periods_per_year=1)
    assert sigma**2 == pytest.approx(forecast[str(lam)], rel=1e-12)
    annual = ewma_volatility(table["return"], lam=lam)
    assert annual == pytest.approx(math.sqrt(forecast[str(lam)] * 365), rel=1e-12)


def test_ewma_equals_an_explicit_loop_for_every_start() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0, 0.02, 120)
    backcast_weights = 0.94 ** np.arange(75)
    seeds = {
        "first": r[0] ** 2,
        "sample": float(np.mean(r**2)),
        "backcast": float(backcast_weights @ r[:75] ** 2 / backcast_weights.sum()),
        0.0009: 0.0009,
    }
    for start, seed in seeds.items():
        variance = seed
        expected = []
        for value in r:
            expected.append(math.sqrt(variance))
            variance = 0.9 * variance + 0.1 * value * value
        path = ewma_volatility_path(r, lam=0.9, start=start, periods_per_year=1)  # type: ignore[arg-type]
        assert_allclose(path, expected, rtol=1e-13)
        last = ewma_volatility(r, lam=0.9, start=start, periods_per_year=1)  # type: ignore[arg-type]
        assert last == pytest.approx(math.sqrt(variance), rel=1e-13)


def test_ewma_path_keeps_the_container() -> None:
    index = pd.date_range("2024-01-01", periods=40)
    frame = pd.DataFrame(
        np.random.default_rng(2).normal(0, 0.02, (40, 2)), index=index, columns=["x", "y"]
    )
    path = ewma_volatility_path(frame)
    assert isinstance(path, pd.DataFrame)
    assert path.index.equals(index) and list(path.columns) == ["x", "y"]
    single = ewma_volatility_path(frame["x"])
    assert isinstance(single, pd.Series) and single.index.equals(index)
    assert_allclose(single, path["x"])
    forecast = ewma_volatility(frame)
    assert isinstance(forecast, pd.Series)
    assert forecast["y"] == pytest.approx(ewma_volatility(frame["y"].to_list()))


def test_ewma_rejects_bad_parameters() -> None:
    with pytest.raises(RiskInputError, match=r"^lam must be in \(0, 1\)"):
        ewma_volatility([0.01, 0.02], lam=1.0)
    with pytest.raises(RiskInputError, match="start must be one of backcast, sample, first"):
        ewma_volatility([0.01, 0.02], start="zero")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match=r"^start must be a variance >= 0"):
        ewma_volatility([0.01, 0.02], start=-1.0)


# --- range estimators ------------------------------------------------------------------------


def test_parkinson_constant_range_by_hand() -> None:
    # ln(H/L) = 0.02 every bar: sigma = 0.02 / sqrt(4 ln 2) = 0.0120112240 per bar (Parkinson
    # 1980, eq. for the variance of the range).
    low = np.array([100.0, 90.0, 120.0])
    high = low * math.exp(0.02)
    expected = 0.02 / math.sqrt(4 * math.log(2))
    assert parkinson_volatility(high, low, periods_per_year=1) == pytest.approx(expected, rel=1e-14)
    assert parkinson_volatility(high, low) == pytest.approx(expected * math.sqrt(365), rel=1e-14)


def test_garman_klass_by_hand() -> None:
    # Open = close, ln(H/L) = 0.03: sigma^2 = 0.5 * 0.03^2 -> sigma = 0.0212132034.
    # Second bar adds ln(C/O) = 0.01: 0.5*0.03^2 - (2 ln 2 - 1) 0.01^2.
    o = np.array([100.0, 100.0])
    c = np.array([100.0, 100.0 * math.exp(0.01)])
    low = np.array([99.0, 99.0])
    h = low * math.exp(0.03)
    bar2 = 0.5 * 0.03**2 - (2 * math.log(2) - 1) * 0.01**2
    expected = math.sqrt((0.5 * 0.03**2 + bar2) / 2)
    assert garman_klass_volatility(o, h, low, c, periods_per_year=1) == pytest.approx(
        expected, rel=1e-13
    )


def test_range_estimators_check_their_inputs() -> None:
    with pytest.raises(RiskInputError, match=r"^high must be >= low"):
        parkinson_volatility([99.0], [100.0])
    with pytest.raises(RiskInputError, match="low must have the shape of high"):
        parkinson_volatility([101.0, 102.0], [99.0])
    with pytest.raises(RiskInputError, match="low must share the index of high"):
        parkinson_volatility(pd.Series([101.0], index=[1]), pd.Series([99.0], index=[2]))
    with pytest.raises(RiskInputError, match=r"^close must be > 0"):
        garman_klass_volatility([1.0], [2.0], [1.0], [0.0])
    # A close above the high would shrink the variance (here to a negative one): refuse it.
    bad_close = r"^close must be within \[low, high\] of its bar \(got 130 at position 0\)"
    with pytest.raises(RiskInputError, match=bad_close):
        garman_klass_volatility([100.0], [101.0], [99.0], [130.0])
    with pytest.raises(RiskInputError, match=r"^open must be within \[low, high\] .*position 1"):
        garman_klass_volatility([100.0, 98.0], [101.0, 101.0], [99.0, 99.0], [100.0, 100.0])


def test_range_estimators_recover_a_simulated_volatility() -> None:
    # Driftless GBM sampled finely inside each bar: both estimators are unbiased for sigma^2
    # up to discretisation (the sampled range understates the true one by ~1/sqrt(steps)).
    rng = np.random.default_rng(11)
    bars, steps, sigma = 2000, 400, 0.02
    paths = np.cumsum(rng.normal(0, sigma / math.sqrt(steps), (bars, steps)), axis=1)
    paths = np.hstack([np.zeros((bars, 1)), paths])
    prices = 100 * np.exp(paths)
    o, c = prices[:, 0], prices[:, -1]
    h, low = prices.max(axis=1), prices.min(axis=1)
    assert parkinson_volatility(h, low, periods_per_year=1) == pytest.approx(sigma, rel=0.06)
    assert garman_klass_volatility(o, h, low, c, periods_per_year=1) == pytest.approx(
        sigma, rel=0.06
    )


# --- container contract and invariants -------------------------------------------------------

ESTIMATORS = [
    lambda r: close_to_close_volatility(r),
    lambda r: ewma_volatility(r, lam=0.9),
]


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_matrix_equals_loop_over_columns_and_axis_one(estimator) -> None:  # type: ignore[no-untyped-def]
    matrix = np.random.default_rng(3).normal(0, 0.02, (60, 4))
    result = estimator(matrix)
    assert isinstance(result, np.ndarray) and result.shape == (4,)
    assert_allclose(result, [estimator(matrix[:, j]) for j in range(4)], rtol=1e-14)
    assert isinstance(estimator(matrix[:, 0]), float)
    assert isinstance(estimator(list(matrix[:, 0])), float)


def test_axis_one_and_frame_match() -> None:
    matrix = np.random.default_rng(4).normal(0, 0.02, (50, 3))
    by_row = close_to_close_volatility(matrix.T, axis=1)
    assert_allclose(by_row, close_to_close_volatility(matrix))
    frame = pd.DataFrame(matrix.T, index=["a", "b", "c"])
    by_frame = close_to_close_volatility(frame, axis=1)
    assert list(by_frame.index) == ["a", "b", "c"]
    assert_allclose(by_frame, by_row)
    with pytest.raises(RiskInputError, match="axis must be 0 or 1"):
        close_to_close_volatility(matrix, axis=2)


def test_inputs_are_not_mutated() -> None:
    matrix = np.random.default_rng(6).normal(0, 0.02, (40, 2))
    frame = pd.DataFrame(matrix.copy(), columns=["a", "b"])
    prices = 100 * np.exp(np.cumsum(matrix, axis=0))
    copies = [matrix.copy(), frame.copy(), prices.copy()]
    close_to_close_volatility(matrix)
    ewma_volatility(frame)
    ewma_volatility_path(matrix)
    returns(prices, kind="log")
    parkinson_volatility(prices * 1.01, prices)
    garman_klass_volatility(prices, prices * 1.01, prices * 0.99, prices)
    assert_allclose(matrix, copies[0])
    pd.testing.assert_frame_equal(frame, copies[1])
    assert_allclose(prices, copies[2])


history = arrays(
    np.float64, st.integers(3, 80), elements=st.floats(-0.5, 0.5, allow_subnormal=False)
)


@settings(max_examples=60, deadline=None)
@given(history, st.floats(0.1, 10.0))
def test_volatility_scales_with_returns(r: np.ndarray, k: float) -> None:
    # Both estimators are homogeneous of degree one in the returns and never negative.
    for estimator in (close_to_close_volatility, ewma_volatility):
        base = estimator(r)
        assert base >= 0
        assert estimator(k * r) == pytest.approx(k * base, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(history)
def test_ewma_path_is_positive_and_last_matches_forecast_recursion(r: np.ndarray) -> None:
    path = ewma_volatility_path(r, periods_per_year=1)
    assert np.all(path >= 0)
    forecast = ewma_volatility(r, periods_per_year=1)
    expected = 0.94 * path[-1] ** 2 + 0.06 * r[-1] ** 2
    assert forecast**2 == pytest.approx(expected, rel=1e-12, abs=1e-300)
