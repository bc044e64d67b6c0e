"""VaR and expected shortfall: published and hand-checked values, conventions, invariants."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose
from scipy import integrate, stats

from riskfuncs import RiskInputError
from riskfuncs.var import (
    MIN_HISTORY,
    ShortHistoryWarning,
    expected_shortfall,
    historical_var,
    monte_carlo_var,
    parametric_var,
    scale_to_horizon,
)

# Monthly portfolio returns, C. Bacon, "Practical Portfolio Performance Measurement and
# Attribution", 2nd ed. (Wiley 2008); R PerformanceAnalytics dataset portfolio_bacon[, 1].
BACON = np.array([
    0.003, 0.026, 0.011, -0.010, 0.015, 0.025, 0.016, 0.067, -0.014, 0.040, -0.005, 0.081,
    0.040, -0.037, -0.061, 0.017, -0.049, -0.022, 0.070, 0.058, -0.065, 0.024, -0.005, -0.009,
])  # fmt: skip


@pytest.fixture(autouse=True)
def _quiet_short_history() -> Iterator[None]:
    # The 24-month sample is short on purpose; the warning itself is tested separately.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortHistoryWarning)
        yield


@pytest.fixture(scope="module")
def crypto_like() -> np.ndarray:
    rng = np.random.default_rng(2024)
    return 0.03 * rng.standard_t(4, 1000) / math.sqrt(2.0)


# --- historical VaR / ES on the Bacon sample ------------------------------------------------
# Sorted worst returns: -0.065, -0.061, -0.049, -0.037 (n = 24, level 0.05).
# tolerance abs 1e-12: exact arithmetic on three-decimal data, only float rounding remains.


@pytest.mark.parametrize(
    ("method", "expected", "rule"),
    [
        # PERCENTILE.INC / numpy linear: h = (n-1)p = 1.15 -> -0.061 + 0.15 * 0.012 = -0.0592
        ("linear", 0.0592, "Excel PERCENTILE.INC, empyrical.value_at_risk"),
        # lower order statistic at h = 1.15 -> x(1) = -0.061
        ("lower", 0.061, "floor of the linear position"),
        # riskfolio VaR_Hist: sorted x, index ceil(0.05 * 24) - 1 = 1 -> -0.061
        ("inverted_cdf", 0.061, "riskfolio VaR_Hist, R type 1"),
        # PERCENTILE.EXC / numpy weibull: h = (n+1)p = 1.25 -> -0.065 + 0.25 * 0.004 = -0.064
        ("weibull", 0.064, "Excel PERCENTILE.EXC"),
    ],
)
def test_bacon_historical_var(method: str, expected: float, rule: str) -> None:
    assert historical_var(BACON, confidence=0.95, method=method) == pytest.approx(  # type: ignore[arg-type]
        expected, abs=1e-12
    ), rule


def test_bacon_expected_shortfall() -> None:
    # Mean of the returns at or below the linear VaR (-0.0592): (-0.065 - 0.061) / 2 = -0.063,
    # the empyrical.conditional_value_at_risk figure (k = int(23 * 0.05) = 1, mean of k + 1).
    assert expected_shortfall(BACON, confidence=0.95) == pytest.approx(0.063, abs=1e-12)
    # Rockafellar-Uryasev (riskfolio CVaR_Hist): 0.061 + (0.065 - 0.061) / (0.05 * 24) = 0.064333
    assert expected_shortfall(
        BACON, confidence=0.95, method="rockafellar_uryasev"
    ) == pytest.approx(0.061 + 0.004 / 1.2, abs=1e-12)


def _empyrical_cvar(r: np.ndarray, cutoff: float) -> float:
    """empyrical.conditional_value_at_risk, written out from its definition."""
    ordered = np.sort(r)
    k = int((len(r) - 1) * cutoff)
    return -float(np.mean(ordered[: k + 1]))


def _riskfolio_cvar(r: np.ndarray, alpha: float) -> float:
    """riskfolio CVaR_Hist: VaR at index ceil(alpha T) - 1 plus the mean excess."""
    ordered = np.sort(r)
    var = -ordered[math.ceil(alpha * len(r)) - 1]
    return float(var + np.sum(np.maximum(-r - var, 0.0)) / (alpha * len(r)))


@pytest.mark.parametrize(
    ("confidence", "alpha"), [(0.9, 0.1), (0.95, 0.05), (0.975, 0.025), (0.99, 0.01)]
)
def test_expected_shortfall_matches_library_definitions(
    crypto_like: np.ndarray, confidence: float, alpha: float
) -> None:
    # Independent loops over sorted data; no interpolation involved, so rtol 1e-12. The
    # libraries take the tail level alpha as written (0.01), not as 1 - 0.99 in floats.
    r = crypto_like
    assert expected_shortfall(r, confidence=confidence) == pytest.approx(
        _empyrical_cvar(r, alpha), rel=1e-12
    )
    assert expected_shortfall(
        r, confidence=confidence, method="rockafellar_uryasev"
    ) == pytest.approx(_riskfolio_cvar(r, alpha), rel=1e-12)


@pytest.mark.parametrize(
    ("n", "confidence", "worst"), [(100, 0.99, 1), (1000, 0.99, 10), (40, 0.975, 1), (20, 0.95, 1)]
)
def test_order_statistic_var_at_a_whole_number_of_tail_returns(
    n: int, confidence: float, worst: int
) -> None:
    # R quantile(type = 1) (Hyndman & Fan 1996, definition 1) at p = 1 - c with n p whole is
    # the (n p)-th smallest return exactly: 100 returns at 99% give the worst one. 1 - 0.99 in
    # floats is 0.010000000000000009, which must not push the rule to the next observation.
    r = -np.arange(1, n + 1) / (10.0 * n)  # losses of 0.1/n .. 10%, the worst last
    worst_losses = np.sort(-r)[::-1][:worst]
    assert historical_var(r, confidence=confidence, method="inverted_cdf") == pytest.approx(
        worst_losses[-1], abs=1e-15
    )
    assert expected_shortfall(
        r, confidence=confidence, quantile_method="inverted_cdf"
    ) == pytest.approx(worst_losses.mean(), abs=1e-15)


# --- parametric -----------------------------------------------------------------------------


def test_riskmetrics_z_values() -> None:
    # RiskMetrics Technical Document (1996): one-sided z 1.65 at 95%, 2.33 at 99%; exact
    # values 1.6448536 and 2.3263479. A sample with mean 0 and sd 1 exposes z itself.
    unit = np.array([-1.0, 1.0] * 20) * math.sqrt(39 / 40)
    assert parametric_var(unit, confidence=0.95) == pytest.approx(1.6448536, abs=5e-8)
    assert parametric_var(unit, confidence=0.99) == pytest.approx(2.3263479, abs=5e-8)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99, 0.999])
def test_parametric_normal_matches_scipy(crypto_like: np.ndarray, confidence: float) -> None:
    # quantstats.stats.value_at_risk definition: norm.ppf(1 - c, mean, std(ddof=1)), negated.
    r = crypto_like
    expected = -stats.norm.ppf(1 - confidence, r.mean(), r.std(ddof=1))
    assert parametric_var(r, confidence=confidence) == pytest.approx(expected, rel=1e-12)
    zero = -stats.norm.ppf(1 - confidence, 0.0, r.std(ddof=1))
    assert parametric_var(r, confidence=confidence, zero_mean=True) == pytest.approx(
        zero, rel=1e-12
    )


def test_cornish_fisher_matches_the_expansion_with_scipy_moments(crypto_like: np.ndarray) -> None:
    # Favre & Galeano (2002) modified VaR; skew/kurtosis from scipy.stats (moment estimators,
    # bias=True, as PerformanceAnalytics). Same closed form, so rtol 1e-12.
    r = crypto_like
    z = stats.norm.ppf(0.01)
    s = stats.skew(r, bias=True)
    k = stats.kurtosis(r, fisher=True, bias=True)
    zcf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
    expected = -(r.mean() + zcf * r.std(ddof=1))
    result = parametric_var(r, confidence=0.99, distribution="cornish_fisher")
    assert result == pytest.approx(expected, rel=1e-12)
    # Fat tails (kurtosis ~ 6 here) push the modified VaR above the normal one.
    assert result > parametric_var(r, confidence=0.99)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_normal_expected_shortfall_is_the_tail_average_of_var(
    crypto_like: np.ndarray, confidence: float
) -> None:
    # ES_c = 1/(1-c) * integral_c^1 VaR_u du (Acerbi & Tasche 2002), by scipy quadrature of
    # the normal VaR; rtol 1e-9 covers the quadrature error near u = 1.
    r = crypto_like
    mean, sd = r.mean(), r.std(ddof=1)
    integral, _ = integrate.quad(lambda u: -mean + sd * stats.norm.ppf(u), confidence, 1.0)
    expected = integral / (1 - confidence)
    result = expected_shortfall(r, confidence=confidence, method="normal")
    assert result == pytest.approx(expected, rel=1e-9)


# --- Monte Carlo ----------------------------------------------------------------------------


def test_monte_carlo_normal_converges_to_parametric(crypto_like: np.ndarray) -> None:
    # Sampling error of the 1% quantile: sqrt(p(1-p)/n)/phi(z) = 0.0118 sd at n = 100,000,
    # about 0.5% of the VaR; allow four standard errors.
    r = crypto_like
    exact = parametric_var(r, confidence=0.99)
    se = math.sqrt(0.01 * 0.99 / 100_000) / stats.norm.pdf(stats.norm.ppf(0.01)) * r.std(ddof=1)
    result = monte_carlo_var(r, confidence=0.99, paths=100_000, seed=1)
    assert abs(result - exact) < 4 * se


def test_monte_carlo_is_repeatable_with_a_seed(crypto_like: np.ndarray) -> None:
    first = monte_carlo_var(crypto_like, seed=42, paths=5000)
    assert monte_carlo_var(crypto_like, seed=42, paths=5000) == first
    assert monte_carlo_var(crypto_like, seed=43, paths=5000) != first


def test_bootstrap_lands_between_neighbouring_order_statistics(crypto_like: np.ndarray) -> None:
    # Resampling with replacement: the simulated 1% quantile sits among the sample's lowest
    # returns; 200,000 draws put it within the 6th-15th smallest of 1,000 (the 10th +/- 4 sd
    # of a binomial count, sqrt(1000 * 0.01) = 3.2).
    ordered = np.sort(crypto_like)
    result = monte_carlo_var(crypto_like, method="bootstrap", paths=200_000, seed=9)
    assert -ordered[14] <= result <= -ordered[5]


def test_bootstrap_keeps_assets_on_the_same_dates() -> None:
    # Two identical columns stay identical when drawn on common dates.
    r = np.random.default_rng(8).normal(0, 0.02, 200)
    both = monte_carlo_var(np.column_stack([r, r]), method="bootstrap", seed=1, paths=10_000)
    assert both[0] == both[1]


# --- horizon --------------------------------------------------------------------------------


def test_square_root_of_time() -> None:
    # Basel "10-day = sqrt(10) x 1-day".
    assert scale_to_horizon(0.02, 10) == pytest.approx(0.02 * math.sqrt(10), rel=1e-15)
    series = pd.Series([0.01, 0.02], index=["BTC", "ETH"])
    scaled = scale_to_horizon(series, 4)
    assert isinstance(scaled, pd.Series) and list(scaled.index) == ["BTC", "ETH"]
    assert_allclose(scaled, [0.02, 0.04])
    assert_allclose(scale_to_horizon(0.01, [1, 4, 9]), [0.01, 0.02, 0.03])
    with pytest.raises(RiskInputError, match=r"^horizon must be >= 0 \(got -1\)"):
        scale_to_horizon(0.02, -1)


# --- validation and warnings ----------------------------------------------------------------

ALL: list[Callable[..., Any]] = [
    historical_var,
    parametric_var,
    expected_shortfall,
    lambda r, **kw: monte_carlo_var(r, paths=1000, seed=0, **kw),
]


@pytest.mark.parametrize("function", ALL)
@pytest.mark.parametrize("confidence", [0.0, 1.0, 99.0, -0.5, float("nan")])
def test_confidence_must_be_a_fraction(function: Callable[..., Any], confidence: float) -> None:
    with pytest.raises(RiskInputError, match=r"^confidence must be in \(0, 1\).*99% = 0.99"):
        function(BACON, confidence=confidence)


def test_unknown_options_list_the_allowed_values() -> None:
    with pytest.raises(RiskInputError, match="method must be one of linear, lower, higher"):
        historical_var(BACON, method="excel")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match="distribution must be one of normal, cornish_fisher"):
        parametric_var(BACON, distribution="t")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match="method must be one of historical, rockafellar"):
        expected_shortfall(BACON, method="mixed")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match="method must be one of normal, bootstrap"):
        monte_carlo_var(BACON, method="garch")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match=r"^paths must be a whole number >= 2"):
        monte_carlo_var(BACON, paths=1)


@pytest.mark.parametrize("function", ALL)
def test_short_history_warns_with_the_fix(function: Callable[..., Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortHistoryWarning)
        with pytest.raises(ShortHistoryWarning, match=f"from 24 returns.*at least {MIN_HISTORY}"):
            function(BACON, confidence=0.95)
        function(np.resize(BACON, MIN_HISTORY), confidence=0.95)  # enough: no warning


def test_nan_in_a_column_gives_nan_for_that_column_only() -> None:
    r = np.random.default_rng(0).normal(0, 0.02, (100, 2))
    r[10, 1] = np.nan
    for function in (historical_var, parametric_var, expected_shortfall):
        result = function(r)
        assert not math.isnan(result[0]) and math.isnan(result[1])
    result = expected_shortfall(r, method="rockafellar_uryasev")
    assert not math.isnan(result[0]) and math.isnan(result[1])
    # Two draws almost never hit the missing date; the column must still be unknown.
    for method in ("normal", "bootstrap"):
        result = monte_carlo_var(r, method=method, paths=2, seed=0)  # type: ignore[arg-type]
        assert not math.isnan(result[0]) and math.isnan(result[1])


# --- container contract and invariants ------------------------------------------------------


@pytest.mark.parametrize(
    "function",
    [
        historical_var,
        lambda r: historical_var(r, method="weibull"),
        parametric_var,
        lambda r: parametric_var(r, distribution="cornish_fisher"),
        expected_shortfall,
        lambda r: expected_shortfall(r, method="normal"),
        lambda r: expected_shortfall(r, method="rockafellar_uryasev"),
        lambda r: monte_carlo_var(r, method="bootstrap", seed=3, paths=20_000),
    ],
)
def test_matrix_and_frame_equal_a_loop_over_assets(function: Callable[..., Any]) -> None:
    r = np.random.default_rng(12).standard_t(5, (300, 3)) * 0.02
    frame = pd.DataFrame(r, columns=["BTC", "ETH", "SOL"])
    by_matrix = function(r)
    by_frame = function(frame)
    assert isinstance(by_matrix, np.ndarray) and by_matrix.shape == (3,)
    assert isinstance(by_frame, pd.Series) and list(by_frame.index) == ["BTC", "ETH", "SOL"]
    assert_allclose(by_frame, by_matrix)
    single = [function(r[:, j]) for j in range(3)]
    assert all(isinstance(value, float) for value in single)
    assert_allclose(by_matrix, single, rtol=1e-13)


def test_inputs_are_not_mutated() -> None:
    r = np.random.default_rng(13).normal(0, 0.02, (100, 2))
    frame = pd.DataFrame(r.copy(), columns=["a", "b"])
    before = (r.copy(), frame.copy())
    for data in (r, frame):
        historical_var(data)
        parametric_var(data, distribution="cornish_fisher")
        expected_shortfall(data)
        expected_shortfall(data, method="rockafellar_uryasev")
        monte_carlo_var(data, method="bootstrap", paths=1000, seed=0)
    assert_allclose(r, before[0])
    pd.testing.assert_frame_equal(frame, before[1])


samples = arrays(np.float64, st.integers(30, 120), elements=st.floats(-0.5, 0.5))
levels = st.lists(st.floats(0.5, 0.999), min_size=2, max_size=2, unique=True).map(sorted)


@settings(max_examples=80, deadline=None)
@given(samples, levels)
def test_var_and_es_rise_with_confidence(r: np.ndarray, pair: list[float]) -> None:
    low, high = pair
    tol = 1e-12
    assert historical_var(r, confidence=low) <= historical_var(r, confidence=high) + tol
    assert parametric_var(r, confidence=low) <= parametric_var(r, confidence=high) + tol
    assert expected_shortfall(r, confidence=low) <= expected_shortfall(r, confidence=high) + tol


@settings(max_examples=80, deadline=None)
@given(samples, st.floats(0.5, 0.999), st.sampled_from(["linear", "lower", "weibull", "hazen"]))
def test_expected_shortfall_is_at_least_var(r: np.ndarray, confidence: float, rule: str) -> None:
    tol = 1e-12
    var = historical_var(r, confidence=confidence, method=rule)  # type: ignore[arg-type]
    es = expected_shortfall(r, confidence=confidence, quantile_method=rule)  # type: ignore[arg-type]
    assert es >= var - tol
    ru = expected_shortfall(r, confidence=confidence, method="rockafellar_uryasev")
    assert ru >= historical_var(r, confidence=confidence, method="inverted_cdf") - tol
    assert (
        expected_shortfall(r, confidence=confidence, method="normal")
        >= parametric_var(r, confidence=confidence) - tol
    )


def test_cornish_fisher_with_population_moments_is_performance_analytics() -> None:
    # PerformanceAnalytics VaR(method="modified"): mu + sqrt(m2) * z_cf with population moments
    # m_k = mean((r - mean)^k), written out here independently of riskfuncs.
    r = np.array([0.031, -0.052, 0.012, -0.004, 0.027, -0.071, 0.018, 0.009, -0.015, 0.044])
    centred = r - r.mean()
    m2, m3, m4 = (float(np.mean(centred**k)) for k in (2, 3, 4))
    skew, kurt = m3 / m2**1.5, m4 / m2**2 - 3
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.01)
    zcf = (z + (z**2 - 1) * skew / 6 + (z**3 - 3 * z) * kurt / 24
           - (2 * z**3 - 5 * z) * skew**2 / 36)
    expected = -(r.mean() + zcf * np.sqrt(m2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = parametric_var(r, confidence=0.99, distribution="cornish_fisher", ddof=0)
        sample = parametric_var(r, confidence=0.99, distribution="cornish_fisher")
    assert got == pytest.approx(expected, rel=1e-13)
    # The default (sample standard deviation) differs, as the docstring says.
    assert sample / got - 1 == pytest.approx(np.sqrt(10 / 9) - 1, abs=0.02)
