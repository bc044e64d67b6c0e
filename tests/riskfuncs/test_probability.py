"""Liquidation probability: independent methods, stored simulations, edge cases, invariants."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import integrate, special

from riskfuncs import RiskInputError
from riskfuncs.probability import (
    BGK_BETA,
    liquidation_distance_sigmas,
    liquidation_probability,
    log_normal_cdf,
    normal_cdf,
)

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "models"
DAY = 1 / 365


def test_bgk_beta_is_minus_zeta_half_over_sqrt_two_pi() -> None:
    # Broadie, Glasserman & Kou (1997): beta = -zeta(1/2) / sqrt(2 pi) = 0.5826.
    assert special.zeta(0.5) == pytest.approx(-1.4603545088095868, rel=1e-14)
    assert pytest.approx(-special.zeta(0.5) / math.sqrt(2 * math.pi), rel=1e-14) == BGK_BETA


def test_normal_cdf_matches_scipy() -> None:
    # scipy.special.ndtr / log_ndtr (Cephes): 1e-14 relative in the body; ndtr's own error grows
    # to ~1e-13 in the far tail (x < -30, checked once against mpmath at 40 digits), hence
    # 5e-13 there. Beyond |x| = 37 ndtr underflows to 0 or 1.
    x = np.concatenate([np.linspace(-8, 37, 20001), [0.0, -0.67448975, 0.67448975, -5.657]])
    assert_allclose(normal_cdf(x), special.ndtr(x), rtol=1e-13)
    tail = np.linspace(-37, -8, 5001)
    assert_allclose(normal_cdf(tail), special.ndtr(tail), rtol=5e-13)
    far = np.concatenate([x, tail, -np.logspace(1.5, 6, 50)])
    assert_allclose(log_normal_cdf(far), special.log_ndtr(far), rtol=5e-13, atol=1e-300)
    assert np.isnan(normal_cdf(np.array([np.nan]))[0])


# --- closed form against independent methods ------------------------------------------------


@pytest.mark.parametrize("volatility", [0.3, 0.8, 1.5])
@pytest.mark.parametrize("horizon", [1 / 24 / 365, DAY, 30 * DAY])
@pytest.mark.parametrize(("side", "liquidation"), [("long", 90.0), ("short", 112.0)])
def test_reflection_principle_at_zero_log_drift(
    volatility: float, horizon: float, side: str, liquidation: float
) -> None:
    # nu = mu - sigma^2/2 = 0: P = 2 N(-|b| / (sigma sqrt T)) (reflection principle), with N
    # from scipy. rtol 1e-10: float rounding, amplified by x^2 in the far tail (the 1-hour
    # cases reach x = -35, P = 1e-274).
    b = abs(math.log(liquidation / 100.0))
    expected = 2 * special.ndtr(-b / (volatility * math.sqrt(horizon)))
    result = liquidation_probability(
        100.0, liquidation, volatility, horizon, side=side, drift=volatility**2 / 2
    )
    assert result == pytest.approx(expected, rel=1e-10, abs=1e-300)


def _density_integral(distance: float, toward: float, sigma: float, horizon: float) -> float:
    """P(first passage <= T) by integrating the first-passage time density of drifted BM,
    f(t) = d / (sigma sqrt(2 pi t^3)) exp(-(d - m t)^2 / (2 sigma^2 t))."""

    def density(t: float) -> float:
        return (
            distance
            / (sigma * math.sqrt(2 * math.pi * t**3))
            * math.exp(-((distance - toward * t) ** 2) / (2 * sigma**2 * t))
        )

    value, _ = integrate.quad(density, 0.0, horizon, epsabs=1e-14, epsrel=1e-11, limit=200)
    return float(value)


CASES = [
    # side, mark, liquidation, volatility, horizon (years), drift (per year)
    ("long", 100.0, 90.0, 0.8, 7 * DAY, 0.0),
    ("long", 100.0, 95.0, 0.6, DAY, 2.0),
    ("long", 100.0, 70.0, 1.2, 90 * DAY, -3.0),
    ("short", 100.0, 110.0, 0.8, 7 * DAY, 0.0),
    ("short", 50_000.0, 55_000.0, 0.5, 30 * DAY, 1.5),
    ("short", 2_000.0, 2_600.0, 0.9, 180 * DAY, -0.8),
]


@pytest.mark.parametrize(("side", "mark", "liquidation", "vol", "horizon", "drift"), CASES)
def test_closed_form_matches_density_integration(
    side: str, mark: float, liquidation: float, vol: float, horizon: float, drift: float
) -> None:
    # Independent method: scipy quadrature of the inverse-Gaussian first-passage density
    # (Borodin & Salminen, formula 2.0.2); rtol 1e-8 covers the quadrature error.
    sign = 1.0 if side == "long" else -1.0
    distance = sign * math.log(mark / liquidation)
    toward = -sign * (drift - vol**2 / 2)
    expected = _density_integral(distance, toward, vol, horizon)
    result = liquidation_probability(mark, liquidation, vol, horizon, side=side, drift=drift)
    assert result == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize(("side", "mark", "liquidation", "vol", "horizon", "drift"), CASES)
def test_continuous_monte_carlo_matches_closed_form(
    side: str, mark: float, liquidation: float, vol: float, horizon: float, drift: float
) -> None:
    # Brownian-bridge Monte Carlo, 100,000 paths: the averaged crossing probability has a
    # standard error below sqrt(P(1-P)/paths); allow four of those.
    exact = liquidation_probability(mark, liquidation, vol, horizon, side=side, drift=drift)
    simulated = liquidation_probability(
        mark, liquidation, vol, horizon, side=side, drift=drift,
        monitoring="monte_carlo", paths=100_000, seed=17,
    )  # fmt: skip
    assert abs(simulated - exact) <= 4 * math.sqrt(exact * (1 - exact) / 100_000) + 1e-12


@pytest.fixture(scope="module")
def discrete_reference() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "discrete_barrier_mc.csv")


def _bgk_tolerance(checks: int) -> float:
    # The correction is asymptotic in the number of checks: BGK (1997) report errors of a few
    # percent for weekly-to-daily monitoring, shrinking like 1/checks. Bounds: 5% below 10
    # checks, 2% up to 50, 0.5% beyond.
    if checks < 10:
        return 0.05
    return 0.02 if checks <= 50 else 0.005


def test_bgk_matches_stored_discrete_simulation(discrete_reference: pd.DataFrame) -> None:
    # Reference: 2,000,000-path brute-force simulation of the discrete checks (README.md).
    table = discrete_reference
    result = liquidation_probability(
        table["mark_price"], table["liquidation_price"], table["volatility"],
        table["horizon_years"], side=table["side"], drift=table["drift"],
        monitoring="discrete", checks=table["checks"],
    )  # fmt: skip
    for row, value in zip(table.itertuples(), result, strict=True):
        slack = _bgk_tolerance(row.checks) * row.probability + 4 * row.standard_error
        assert abs(value - row.probability) <= slack, row
    # And the correction moves the right way: fewer checks, fewer liquidations.
    continuous = liquidation_probability(
        table["mark_price"], table["liquidation_price"], table["volatility"],
        table["horizon_years"], side=table["side"], drift=table["drift"],
    )  # fmt: skip
    assert np.all(result < continuous)


def test_discrete_monte_carlo_matches_stored_simulation(discrete_reference: pd.DataFrame) -> None:
    # Same process simulated by riskfuncs with its own seed and 50,000 paths: the difference
    # has standard error sqrt(se_ref^2 + p(1-p)/50,000); allow four.
    table = discrete_reference[discrete_reference["checks"] <= 168]
    result = liquidation_probability(
        table["mark_price"], table["liquidation_price"], table["volatility"],
        table["horizon_years"], side=table["side"], drift=table["drift"],
        monitoring="monte_carlo", checks=table["checks"], paths=50_000, seed=5,
    )  # fmt: skip
    p = table["probability"]
    se = np.sqrt(table["standard_error"] ** 2 + p * (1 - p) / 50_000)
    assert np.all(np.abs(result - p) <= 4 * se)


# --- edges ----------------------------------------------------------------------------------


@pytest.mark.parametrize("monitoring", ["continuous", "discrete", "monte_carlo"])
def test_breached_and_unreachable(monitoring: str) -> None:
    kw = {"monitoring": monitoring, "checks": None if monitoring == "continuous" else 24,
          "paths": 1000, "seed": 0}
    # Long at or below the liquidation price: already liquidated.
    assert liquidation_probability(100.0, 100.0, 0.8, DAY, side="long", **kw) == 1.0  # type: ignore[arg-type]
    assert liquidation_probability(100.0, 120.0, 0.8, DAY, side="long", **kw) == 1.0  # type: ignore[arg-type]
    assert liquidation_probability(100.0, 80.0, 0.8, DAY, side="short", **kw) == 1.0  # type: ignore[arg-type]
    # Fully collateralised long (LP 0) and inverse short (LP inf) cannot be liquidated.
    assert liquidation_probability(100.0, 0.0, 0.8, DAY, side="long", **kw) == 0.0  # type: ignore[arg-type]
    assert liquidation_probability(100.0, math.inf, 0.8, DAY, side="short", **kw) == 0.0  # type: ignore[arg-type]


def test_no_noise_leaves_the_drift_to_decide() -> None:
    # sigma = 0: the price moves as S0 exp(mu t); a long at 90 with mu = -20/yr over 1 week
    # falls to 100 exp(-20 * 7/365) = 68.1: liquidated. With mu = +1: never.
    assert liquidation_probability(100.0, 90.0, 0.0, 7 * DAY, side="long", drift=-20.0) == 1.0
    assert liquidation_probability(100.0, 90.0, 0.0, 7 * DAY, side="long", drift=1.0) == 0.0
    assert liquidation_probability(100.0, 90.0, 0.8, 0.0, side="long") == 0.0


def test_nan_flows_through() -> None:
    result = liquidation_probability(
        [100.0, np.nan, 100.0, 100.0], [90.0, 90.0, np.nan, 90.0], [0.8, 0.8, 0.8, np.nan],
        DAY, side=["long", "long", "long", "long"],
    )  # fmt: skip
    assert result[0] > 0 and np.all(np.isnan(result[1:]))
    assert math.isnan(liquidation_probability(100.0, 90.0, 0.8, DAY, side=None))  # type: ignore[arg-type]
    for monitoring in ("discrete", "monte_carlo"):
        looks = liquidation_probability(
            100.0, 90.0, 0.8, DAY, side="long", monitoring=monitoring,  # type: ignore[arg-type]
            checks=[24.0, np.nan], paths=100, seed=0,
        )  # fmt: skip
        assert looks[0] > 0 and math.isnan(looks[1])


LONG_DAY = (100.0, 90.0, 0.8, DAY)


def test_bad_parameters_raise_with_the_argument_named() -> None:
    with pytest.raises(RiskInputError, match=r"^mark_price must be > 0 \(got 0\)"):
        liquidation_probability(0.0, 90.0, 0.8, DAY, side="long")
    with pytest.raises(RiskInputError, match=r"^liquidation_price must be >= 0"):
        liquidation_probability(100.0, -1.0, 0.8, DAY, side="long")
    with pytest.raises(RiskInputError, match=r"^volatility must be >= 0"):
        liquidation_probability(100.0, 90.0, -0.8, DAY, side="long")
    with pytest.raises(RiskInputError, match=r"^horizon must be >= 0"):
        liquidation_probability(100.0, 90.0, 0.8, -1.0, side="long")
    with pytest.raises(RiskInputError, match=r"^horizon must be finite \(got inf\)"):
        liquidation_probability(100.0, 90.0, 0.8, math.inf, side="long")
    with pytest.raises(RiskInputError, match=r"^volatility must be finite"):
        liquidation_distance_sigmas(100.0, 90.0, math.inf, DAY, side="long")
    with pytest.raises(RiskInputError, match=r"^drift must be finite"):
        liquidation_probability(100.0, 90.0, 0.8, DAY, side="long", drift=-math.inf)
    with pytest.raises(RiskInputError, match="checks must be given for discrete monitoring"):
        liquidation_probability(100.0, 90.0, 0.8, DAY, side="long", monitoring="discrete")
    with pytest.raises(RiskInputError, match=r"^checks must be None for continuous monitoring"):
        liquidation_probability(*LONG_DAY, side="long", checks=24)
    with pytest.raises(RiskInputError, match=r"^checks must be a whole number >= 1 \(got 2.5\)"):
        liquidation_probability(*LONG_DAY, side="long", monitoring="discrete", checks=2.5)
    with pytest.raises(RiskInputError, match="monitoring must be one of continuous, discrete"):
        liquidation_probability(100.0, 90.0, 0.8, DAY, side="long", monitoring="hourly")  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match="side must be long or short"):
        liquidation_probability(100.0, 90.0, 0.8, DAY, side="up")
    with pytest.raises(RiskInputError, match=r"^paths must be a whole number >= 1"):
        liquidation_probability(*LONG_DAY, side="long", monitoring="monte_carlo", paths=0)


# --- distance in sigmas ---------------------------------------------------------------------


def test_distance_sigmas_by_hand_and_sign() -> None:
    # ln(100/90) / (0.8 sqrt(1/365)) = 0.1053605 / 0.0418740 = 2.516137
    expected = math.log(100 / 90) / (0.8 * math.sqrt(DAY))
    assert liquidation_distance_sigmas(100.0, 90.0, 0.8, DAY, side="long") == pytest.approx(
        expected, rel=1e-14
    )
    assert liquidation_distance_sigmas(100.0, 110.0, 0.8, DAY, side="short") > 0
    assert liquidation_distance_sigmas(100.0, 110.0, 0.8, DAY, side="long") < 0
    assert liquidation_distance_sigmas(100.0, 100.0, 0.8, DAY, side="long") == 0.0
    assert liquidation_distance_sigmas(100.0, 0.0, 0.8, DAY, side="long") == math.inf
    assert liquidation_distance_sigmas(100.0, math.inf, 0.8, DAY, side="short") == math.inf
    # Zero log drift: the probability is 2 N(-z) (reflection principle).
    z = liquidation_distance_sigmas(100.0, 90.0, 0.8, DAY, side="long")
    p = liquidation_probability(100.0, 90.0, 0.8, DAY, side="long", drift=0.32)
    assert p == pytest.approx(2 * special.ndtr(-z), rel=1e-12)


# --- container contract and invariants ------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"drift": 0.7},
        {"monitoring": "discrete", "checks": 24},
        {"monitoring": "monte_carlo", "paths": 2000, "seed": 4},
        {"monitoring": "monte_carlo", "checks": 6, "paths": 2000, "seed": 4},
    ],
)
def test_vector_equals_loop_of_scalars(options: dict[str, object]) -> None:
    rng = np.random.default_rng(21)
    n = 40
    mark = rng.uniform(10, 1000, n)
    liquidation = mark * rng.uniform(0.5, 1.5, n)
    vol = rng.uniform(0.1, 2.0, n)
    horizon = rng.uniform(0.5, 30, n) * DAY
    side = rng.choice(["long", "short"], n)
    vector = liquidation_probability(mark, liquidation, vol, horizon, side=side, **options)  # type: ignore[arg-type]
    loop = [
        liquidation_probability(
            mark[i], liquidation[i], vol[i], horizon[i], side=side[i], **options  # type: ignore[arg-type]
        )
        for i in range(n)
    ]
    assert all(isinstance(value, float) for value in loop)
    assert_allclose(vector, loop, rtol=1e-14, atol=0)


def test_series_in_series_out_and_no_mutation() -> None:
    index = pd.Index(["btc-long", "eth-short", "sol-long"])
    mark = pd.Series([60_000.0, 3_000.0, 150.0], index=index)
    liquidation = pd.Series([50_000.0, 3_600.0, 140.0], index=index)
    side = pd.Series(["long", "short", "long"], index=index)
    before = (mark.copy(), liquidation.copy(), side.copy())
    result = liquidation_probability(mark, liquidation, 0.7, DAY, side=side)
    assert isinstance(result, pd.Series) and result.index.equals(index)
    z = liquidation_distance_sigmas(mark, liquidation, 0.7, DAY, side=side)
    assert isinstance(z, pd.Series) and z.index.equals(index)
    for original, copy in zip((mark, liquidation, side), before, strict=True):
        pd.testing.assert_series_equal(original, copy)
    array = np.array([100.0, 200.0])
    liquidation_probability(array, array * 0.9, 0.5, DAY, side="long", monitoring="monte_carlo",
                            paths=100, seed=1)
    assert_allclose(array, [100.0, 200.0])


def test_a_large_book_in_one_call() -> None:
    n = 200_000
    rng = np.random.default_rng(0)
    mark = rng.uniform(1, 100_000, n)
    result = liquidation_probability(
        mark, mark * rng.uniform(0.6, 1.4, n), rng.uniform(0.2, 1.5, n), DAY,
        side=np.where(rng.random(n) < 0.5, "long", "short"),
    )  # fmt: skip
    assert result.shape == (n,) and np.all((result >= 0) & (result <= 1))


ratio = st.floats(0.2, 0.999)
vols = st.floats(0.05, 3.0)
horizons = st.floats(1e-4, 1.0)
sides = st.sampled_from(["long", "short"])


def _liquidation_for(side: str, ratio_value: float) -> float:
    return 100.0 * ratio_value if side == "long" else 100.0 / ratio_value


@settings(max_examples=150, deadline=None)
@given(sides, ratio, vols, vols, horizons, st.floats(-3.0, 3.0))
def test_probability_is_bounded_and_rises_with_volatility(
    side: str, r: float, v1: float, v2: float, t: float, drift: float
) -> None:
    lp = _liquidation_for(side, r)
    low, high = sorted((v1, v2))
    # With zero log drift (drift = vol^2/2) more volatility always means more liquidations.
    p_low = liquidation_probability(100.0, lp, low, t, side=side, drift=low**2 / 2)
    p_high = liquidation_probability(100.0, lp, high, t, side=side, drift=high**2 / 2)
    assert 0.0 <= p_low <= p_high + 1e-12 <= 1.0 + 1e-12
    p = liquidation_probability(100.0, lp, v1, t, side=side, drift=drift)
    assert 0.0 <= p <= 1.0


@settings(max_examples=150, deadline=None)
@given(sides, ratio, vols, horizons, horizons, st.floats(-3.0, 3.0))
def test_probability_rises_with_horizon(
    side: str, r: float, v: float, t1: float, t2: float, drift: float
) -> None:
    lp = _liquidation_for(side, r)
    short, long_ = sorted((t1, t2))
    p_short = liquidation_probability(100.0, lp, v, short, side=side, drift=drift)
    p_long = liquidation_probability(100.0, lp, v, long_, side=side, drift=drift)
    assert p_short <= p_long + 1e-12


@settings(max_examples=150, deadline=None)
@given(sides, ratio, ratio, vols, horizons, st.floats(-3.0, 3.0))
def test_probability_falls_with_distance(
    side: str, r1: float, r2: float, v: float, t: float, drift: float
) -> None:
    near, far = sorted((r1, r2), reverse=True)  # ratio closer to 1 = nearer the mark price
    p_near = liquidation_probability(100.0, _liquidation_for(side, near), v, t, side=side,
                                     drift=drift)
    p_far = liquidation_probability(100.0, _liquidation_for(side, far), v, t, side=side,
                                    drift=drift)
    assert p_far <= p_near + 1e-12
    discrete_near = liquidation_probability(100.0, _liquidation_for(side, near), v, t, side=side,
                                            drift=drift, monitoring="discrete", checks=24)
    assert discrete_near <= p_near + 1e-12


def test_a_volatility_typed_as_a_percentage_is_refused() -> None:
    with pytest.raises(RiskInputError, match=r"^volatility must be an annual fraction <= 20"):
        liquidation_probability(100.0, 80.0, 60.0, 1 / 365, side="long")


# --- the scalar fast path --------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 6),
    data=st.data(),
    monitoring=st.sampled_from(["continuous", "discrete"]),
)
def test_vector_equals_loop_of_scalar_fast_paths(
    n: int, data: st.DataObject, monitoring: str
) -> None:
    """Plain floats take the math-module path; it gives the vectorised numbers (both are
    Cody's approximations; numpy's and the C library's log and exp may differ in the last
    bit), edges included: breached, unreachable, no noise, far tails, NaN."""
    column = lambda values: data.draw(st.lists(values, min_size=n, max_size=n))  # noqa: E731
    mark = column(st.floats(1.0, 1e5))
    away = column(st.sampled_from([0.0, math.inf, math.nan]) | st.floats(0.05, 3.0))
    liquidation = [m * a for m, a in zip(mark, away, strict=True)]
    volatility = column(st.sampled_from([0.0]) | st.floats(1e-3, 5.0))
    horizon = column(st.sampled_from([0.0, DAY / 24]) | st.floats(1e-4, 2.0))
    side = column(st.sampled_from(["long", "short", "SELL"]))
    drift = column(st.floats(-5.0, 5.0))
    checks = column(st.integers(1, 500)) if monitoring == "discrete" else None
    options = {"monitoring": monitoring}
    vector = liquidation_probability(mark, liquidation, volatility, horizon, side=side,  # type: ignore[arg-type]
                                     drift=drift, checks=checks, **options)  # type: ignore[arg-type]
    loop = [
        liquidation_probability(mark[i], liquidation[i], volatility[i], horizon[i],
                                side=side[i], drift=drift[i],  # type: ignore[arg-type]
                                checks=None if checks is None else checks[i], **options)  # type: ignore[arg-type]
        for i in range(n)
    ]
    assert all(type(value) is float for value in loop)
    assert_allclose(vector, loop, rtol=1e-13, atol=1e-300)


def test_the_scalar_path_uses_no_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    import riskfuncs._arrays

    def refuse(**named: object) -> None:
        raise AssertionError("broadcast called on plain numbers")

    monkeypatch.setattr(riskfuncs._arrays, "broadcast", refuse)
    assert liquidation_probability(100, 90, 0.8, DAY, side="long") == pytest.approx(0.012504482)
    assert isinstance(liquidation_probability(np.float64(100), 110.0, 0.8, DAY, side=-1,
                                              monitoring="discrete", checks=24), float)


PROBABILITY_REFUSALS = [
    {"mark_price": 0.0},
    {"mark_price": -3},
    {"liquidation_price": -1.0},
    {"volatility": -0.8},
    {"volatility": math.inf},
    {"volatility": 60.0},
    {"horizon": -1.0},
    {"horizon": math.inf},
    {"drift": -math.inf},
    {"drift": math.nan, "volatility": 25},
    {"side": "up"},
    {"side": 0},
    {"monitoring": "hourly"},
    {"monitoring": "discrete"},
    {"checks": 24},
    {"monitoring": "discrete", "checks": 2.5},
    {"monitoring": "discrete", "checks": 0},
    {"monitoring": "discrete", "checks": -math.inf},
]


@pytest.mark.parametrize("refusal", PROBABILITY_REFUSALS,
                         ids=lambda r: ",".join(map(str, r.items())))
def test_scalar_refusals_are_worded_as_the_vector_path_words_them(
    refusal: dict[str, object],
) -> None:
    arguments: dict[str, object] = {"mark_price": 100.0, "liquidation_price": 90.0,
                                    "volatility": 0.8, "horizon": DAY, "side": "long"}
    arguments.update(refusal)
    with pytest.raises(RiskInputError) as scalar:
        liquidation_probability(**arguments)  # type: ignore[arg-type]
    as_arrays = {key: np.asarray(value) if isinstance(value, int | float) else value
                 for key, value in arguments.items()}
    with pytest.raises(RiskInputError) as vector:
        liquidation_probability(**as_arrays)  # type: ignore[arg-type]
    assert str(scalar.value) == str(vector.value)
