"""Counterparty risk: score, grade, expected loss, LGD priors, exposure, concentration."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import stats

from riskfuncs import RiskInputError
from riskfuncs.counterparty import (
    concentration,
    diversification_check,
    exchange_grade,
    exchange_probability_of_default,
    exchange_score,
    expected_loss,
    exposure_by_exchange,
    incident_subscore,
    insurance_fund_subscore,
    loss_given_default_prior,
    probability_of_default_over,
    reserve_subscore,
)
from riskfuncs.data.lgd_priors import VENUE_FAILURES
from riskfuncs.data.score_weights import DEFAULT_WEIGHTS, FACTORS, GRADE_BANDS, ScoreWeights
from riskfuncs.portfolio import portfolio_margin

FULL = {factor: 1.0 for factor in FACTORS}
fractions = st.floats(0.0, 1.0, allow_nan=False)


# ------------------------------------------------------------------ outside references


def test_expected_loss_basel_irb_example() -> None:
    # BCBS, "An Explanatory Note on the Basel II IRB Risk Weight Functions" (2005):
    # EL = PD x LGD x EAD. EAD 100,000, PD 2 %, LGD 60 % -> 1,200. Exact arithmetic, so the
    # tolerance only absorbs float rounding.
    assert expected_loss(100_000, 0.02, 0.60) == pytest.approx(1_200.0, rel=1e-12)


def test_hhi_doj_example() -> None:
    # U.S. DOJ, https://www.justice.gov/atr/herfindahl-hirschman-index: four firms with shares
    # 30/30/20/20 % have an HHI of 2,600 points (0.26 on the 0..1 scale). Exact up to rounding.
    result = concentration([30.0, 30.0, 20.0, 20.0])
    assert result.hhi * 10_000 == pytest.approx(2_600.0, rel=1e-12)
    assert result.effective_venues == pytest.approx(1 / 0.26, rel=1e-12)


def test_hhi_fifty_thirty_twenty() -> None:
    # 0.5^2 + 0.3^2 + 0.2^2 = 0.38 (3,800 DOJ points), effective N = 1/0.38 = 2.63; above the
    # 1,800-point "highly concentrated" line of the 2023 DOJ/FTC Merger Guidelines.
    result = concentration(pd.Series({"binance": 50_000.0, "okx": 30_000.0, "bybit": 20_000.0}))
    assert result.hhi == pytest.approx(0.38, rel=1e-12)
    assert round(result.effective_venues, 2) == 2.63
    assert result.hhi * 10_000 > 1_800


@pytest.mark.parametrize(
    ("venue", "expected_lgd", "tolerance", "source"),
    [
        # EY trustee notice, 12 May 2023: "13.094156% of their proven claim" (dailyhodl.com).
        ("quadrigacx", 1 - 0.13094156, 1e-12, "EY interim dividend notice"),
        # Bitfinex blog, 6 Aug 2016: "generalized loss percentage of 36.067%" (ejinsight.com).
        ("bitfinex_2016", 0.36067, 1e-12, "Bitfinex generalised loss"),
        # Plan administrator, June 2023: first distribution 35.72 % (coinscreed.com).
        ("voyager", 1 - 0.3572, 1e-12, "Voyager initial recovery"),
        # Celsius filing, 27 Nov 2024: cumulative ~60.4 % of petition-date value (holder.io).
        ("celsius", 1 - 0.604, 1e-12, "Celsius cumulative distribution"),
        # FTX plan, 7 May 2024: 118 % of allowed USD claims for 98 % of creditors
        # (theblock.co/post/293055): nothing lost in USD terms.
        ("ftx", 0.0, 0.0, "FTX plan"),
        # Mt. Gox: about 142k BTC left against ~800k BTC approved claims (decrypt.co/122960),
        # early lump sum 21 % (forklog.com): recovery 18-21 % in coin, so LGD 0.79-0.82.
        ("mt_gox", 0.80, 0.02, "Mt. Gox rehabilitation"),
    ],
)
def test_lgd_priors_match_sources(
    venue: str, expected_lgd: float, tolerance: float, source: str
) -> None:
    assert loss_given_default_prior(venue) == pytest.approx(expected_lgd, abs=tolerance), source
    assert VENUE_FAILURES[venue].sources, "every prior cites its sources"


def test_lgd_profiles_inside_the_ranges_they_summarise() -> None:
    # Opaque venues: the losses of Mt. Gox, QuadrigaCX and Voyager span 0.64..0.87.
    opaque = [loss_given_default_prior(v) for v in ("mt_gox", "quadrigacx", "voyager")]
    assert min(opaque) <= loss_given_default_prior("opaque_offshore") <= max(opaque)
    assert 0.3 <= loss_given_default_prior("regulated_segregated") <= 0.5
    with pytest.raises(RiskInputError, match=r"^name must be one of opaque_offshore"):
        loss_given_default_prior("lehman")  # type: ignore[arg-type]


def test_probability_of_default_over_matches_scipy_exponential() -> None:
    # Constant hazard h = -ln(1 - PD_1y): the default time is exponential; scipy's cdf is the
    # reference (same formula through another code path, so only float rounding differs).
    pd_1y = np.array([0.001, 0.02, 0.16, 0.5])
    horizon = np.array([1 / 12, 0.5, 2.0, 10.0])
    hazard = -np.log1p(-pd_1y)
    expected = stats.expon.cdf(horizon, scale=1 / hazard)
    assert_allclose(probability_of_default_over(pd_1y, horizon), expected, rtol=1e-12)
    assert probability_of_default_over(0.02, 1.0) == pytest.approx(0.02, rel=1e-12)
    assert probability_of_default_over(1.0, 0.0) == 0.0
    assert probability_of_default_over(1.0, 0.5) == 1.0
    # A missing horizon is unknown, whatever the PD.
    assert np.isnan(probability_of_default_over([1.0, 0.02], np.nan)).all()


# ------------------------------------------------------------------ score and grade


def test_score_weights_default_sum_to_one_and_validate() -> None:
    assert sum(DEFAULT_WEIGHTS.as_dict().values()) == pytest.approx(1.0)
    with pytest.raises(RiskInputError, match=r"^weight audit must be a number >= 0 \(got -1"):
        ScoreWeights(audit=-1)
    with pytest.raises(RiskInputError, match="must not all be 0"):
        ScoreWeights.from_mapping({"audit": 0})
    with pytest.raises(RiskInputError, match=r"weights must name factors .*'licenses'"):
        exchange_score(FULL, weights={"licenses": 1.0})


def test_exchange_score_is_the_weighted_mean_times_100() -> None:
    subscores = dict(zip(FACTORS, [1.0, 0.5, 0.0, 0.25, 0.6, 0.8, 1.0], strict=True))
    weights = DEFAULT_WEIGHTS.as_dict()
    expected = 100 * sum(weights[f] * subscores[f] for f in FACTORS) / sum(weights.values())
    assert exchange_score(subscores) == pytest.approx(expected, rel=1e-12)
    assert exchange_score(FULL) == pytest.approx(100.0)
    assert exchange_score(dict.fromkeys(FACTORS, 0.0)) == 0.0


def test_exchange_score_raw_inputs_equal_helper_subscores() -> None:
    judged = {"audit": 1.0, "licence": 0.5, "jurisdiction": 0.5, "transparency": 1.0}
    raw = {**judged, "reserve_coverage": 0.97, "days_since_attestation": 40.0,
           "insurance_fund_balance": 2e8, "open_interest": 1e10, "incidents": 1, "adl_events": 2}
    scored = {
        **judged,
        "proof_of_reserves": reserve_subscore(0.97, 40.0),
        "insurance_fund": insurance_fund_subscore(2e8, 1e10),
        "incident_history": incident_subscore(1, 2),
    }
    assert exchange_score(raw) == pytest.approx(exchange_score(scored), rel=1e-12)
    # A given sub-score wins over raw facts; a NaN one is filled from them.
    assert exchange_score({**raw, "proof_of_reserves": 1.0}) > exchange_score(raw)
    assert exchange_score({**raw, "proof_of_reserves": math.nan}) == pytest.approx(
        exchange_score(raw)
    )


def test_exchange_score_frame_gives_series_and_equals_row_loop() -> None:
    frame = pd.DataFrame(
        {
            "name": ["a", "b", "c"],
            "proof_of_reserves": [1.0, 0.2, np.nan],
            "audit": [1.0, 0.0, 0.5],
            "licence": [1.0, 0.5, 0.0],
            "jurisdiction": [0.5, 0.5, 0.5],
            "insurance_fund": [0.7, np.nan, 0.1],
            "insurance_fund_balance": [np.nan, 1e8, np.nan],
            "open_interest": [np.nan, 4e9, np.nan],
            "incident_history": [1.0, 0.5, 0.0],
            "transparency": [1.0, 0.0, 0.2],
        },
        index=["binance", "x", "y"],
    )
    before = frame.copy()
    scores = exchange_score(frame)
    assert isinstance(scores, pd.Series)
    assert scores.index.equals(frame.index)
    for label, row in frame.iterrows():
        one = {k: v for k, v in row.items() if k != "name"}
        expected = exchange_score(one)
        if math.isnan(expected):
            assert math.isnan(scores[label])
        else:
            assert scores[label] == pytest.approx(expected, rel=1e-12)
    assert math.isnan(scores["y"])  # missing PoR data flows through as NaN
    pd.testing.assert_frame_equal(frame, before)
    # A mapping of Series (one exchange per label) gives a Series with that index too.
    as_mapping = {k: frame[k] for k in frame.columns if k != "name"}
    from_mapping = exchange_score(as_mapping)
    assert isinstance(from_mapping, pd.Series) and from_mapping.index.equals(frame.index)
    assert_allclose(from_mapping.to_numpy(), scores.to_numpy(), rtol=1e-12)
    with pytest.raises(RiskInputError, match="must share the same index"):
        exchange_score({**as_mapping, "audit": frame["audit"].reset_index(drop=True)})


def test_exchange_score_errors_name_the_factor() -> None:
    partial = {k: v for k, v in FULL.items() if k != "licence"}
    with pytest.raises(RiskInputError, match=r"^factors must include licence \(got none\)"):
        exchange_score(partial)
    with pytest.raises(RiskInputError, match=r"^audit must be in \[0, 1\] .*\(got 1.5\)"):
        exchange_score({**FULL, "audit": 1.5})
    with pytest.raises(RiskInputError, match="factors must include days_since_attestation"):
        exchange_score({**{k: v for k, v in FULL.items() if k != "proof_of_reserves"},
                        "reserve_coverage": 1.0})
    with pytest.raises(RiskInputError, match=r"^factors must include proof_of_reserves or "
                                             r"reserve_coverage and days_since_attestation"):
        exchange_score({k: v for k, v in FULL.items() if k != "proof_of_reserves"})
    # A factor of weight 0 may be left out.
    assert exchange_score(partial, weights={"audit": 1.0}) == 100.0


@given(st.lists(fractions, min_size=7, max_size=7), st.integers(0, 6), fractions)
@settings(max_examples=150, deadline=None)
def test_exchange_score_bounded_and_monotone(values: list[float], which: int, bump: float) -> None:
    subscores = dict(zip(FACTORS, values, strict=True))
    score = exchange_score(subscores)
    assert 0.0 <= score <= 100.0 + 1e-9
    better = dict(subscores)
    better[FACTORS[which]] = max(values[which], bump)
    assert exchange_score(better) >= score - 1e-9


@given(st.lists(st.floats(0.01, 1e3), min_size=7, max_size=7))
@settings(max_examples=150, deadline=None)
def test_a_perfect_exchange_scores_100_and_grades_aa_under_any_weights(
    weights: list[float],
) -> None:
    # Normalised weights can sum to 1 + 2e-16: the score must still be a gradable 100.
    score = exchange_score(FULL, weights=dict(zip(FACTORS, weights, strict=True)))
    assert score == 100.0
    assert exchange_grade(score) == "AA"


def test_subscore_helpers() -> None:
    assert reserve_subscore(1.5, 0) == 1.0  # over-coverage earns nothing extra
    assert reserve_subscore(0.85, 0) == 0.0
    assert reserve_subscore(1.0, math.inf) == 0.0  # never attested
    assert reserve_subscore(1.0, 31) == 1.0
    assert insurance_fund_subscore(0, 1e9) == 0.0
    assert insurance_fund_subscore(1e9, 1e9) == 1.0
    assert incident_subscore(0, 0) == 1.0
    assert math.isnan(reserve_subscore(math.nan, 10))
    with pytest.raises(RiskInputError, match=r"^coverage_ratio must be >= 0 \(got -1\)"):
        reserve_subscore(-1, 10)
    with pytest.raises(RiskInputError, match=r"^open_interest must be > 0 \(got 0\)"):
        insurance_fund_subscore(1.0, 0.0)
    with pytest.raises(RiskInputError, match=r"^incidents must be >= 0"):
        incident_subscore(-2)
    with pytest.raises(RiskInputError, match="fresh_days must be >= 0 and < stale_days"):
        reserve_subscore(1.0, 1.0, fresh_days=200.0)


def test_grade_bands_boundaries() -> None:
    for band in GRADE_BANDS:
        assert exchange_grade(band.min_score) == band.grade
        assert exchange_probability_of_default(band.min_score) == band.probability_of_default
        assert band.pd_low <= band.probability_of_default <= band.pd_high
    assert exchange_grade(84.999) == "A"
    assert exchange_grade(100.0) == "AA"
    assert exchange_grade(math.nan) is None
    assert math.isnan(exchange_probability_of_default(math.nan))
    assert exchange_probability_of_default(50, bound="low") == 0.06
    with pytest.raises(RiskInputError, match=r"^score must be in \[0, 100\] \(got 101\)"):
        exchange_grade(101)
    with pytest.raises(RiskInputError, match=r"^bound must be one of central, low, high"):
        exchange_probability_of_default(50, bound="mid")  # type: ignore[arg-type]


@given(fractions, fractions)
@settings(deadline=None)
def test_pd_falls_as_score_rises(a: float, b: float) -> None:
    low, high = sorted((100 * a, 100 * b))
    assert exchange_probability_of_default(high) <= exchange_probability_of_default(low)


def test_grade_series_and_array_forms() -> None:
    scores = pd.Series([90.0, 60.0, np.nan], index=["a", "b", "c"])
    grades = exchange_grade(scores)
    assert grades.index.equals(scores.index)
    assert grades.tolist() == ["AA", "B", None]
    pds = exchange_probability_of_default(scores)
    assert isinstance(pds, pd.Series) and pds.index.equals(scores.index)
    array = np.array([[90.0, 10.0], [70.0, 40.0]])
    assert exchange_grade(array).tolist() == [["AA", "E"], ["BB", "D"]]
    assert exchange_probability_of_default(array).shape == (2, 2)


# ------------------------------------------------------------------ expected loss


def test_expected_loss_validation_and_nan() -> None:
    with pytest.raises(RiskInputError, match=r"^probability_of_default must be in \[0, 1\]"):
        expected_loss(1_000, 2.0, 0.6)  # 2 given as percent
    with pytest.raises(RiskInputError, match=r"^loss_given_default must be in \[0, 1\]"):
        expected_loss(1_000, 0.02, -0.1)
    with pytest.raises(RiskInputError, match=r"^exposure must be >= 0 \(got -5\)"):
        expected_loss(-5, 0.02, 0.6)
    assert math.isnan(expected_loss(math.nan, 0.02, 0.6))


@given(st.floats(0, 1e9), fractions, fractions, st.floats(0, 1e9), fractions)
@settings(deadline=None)
def test_expected_loss_monotone(ead: float, pd_: float, lgd: float, more: float,
                                bump: float) -> None:
    base = expected_loss(ead, pd_, lgd)
    assert expected_loss(ead + more, pd_, lgd) >= base
    assert expected_loss(ead, max(pd_, bump), lgd) >= base
    assert expected_loss(ead, pd_, max(lgd, bump)) >= base
    assert 0.0 <= base <= ead


@given(fractions, st.floats(0, 50), st.floats(0, 50))
@settings(deadline=None)
def test_probability_of_default_over_monotone_in_horizon(p: float, t1: float, t2: float) -> None:
    short, long_ = sorted((t1, t2))
    a, b = probability_of_default_over(p, short), probability_of_default_over(p, long_)
    assert 0.0 <= a <= b + 1e-12 <= 1.0 + 1e-12


def test_vector_equals_loop() -> None:
    rng = np.random.default_rng(7)
    ead, p, lgd, t = rng.uniform(0, 1e6, 40), rng.uniform(0, 1, 40), rng.uniform(0, 1, 40), \
        rng.uniform(0, 5, 40)
    assert_allclose(expected_loss(ead, p, lgd),
                    [expected_loss(*args) for args in zip(ead, p, lgd, strict=True)])
    assert_allclose(probability_of_default_over(p, t),
                    [probability_of_default_over(*args) for args in zip(p, t, strict=True)])
    cov, age = rng.uniform(0.8, 1.2, 40), rng.uniform(0, 200, 40)
    assert_allclose(reserve_subscore(cov, age),
                    [reserve_subscore(*args) for args in zip(cov, age, strict=True)])
    fund, oi = rng.uniform(0, 1e9, 40), rng.uniform(1e8, 1e10, 40)
    assert_allclose(insurance_fund_subscore(fund, oi),
                    [insurance_fund_subscore(*args) for args in zip(fund, oi, strict=True)])
    score = rng.uniform(0, 100, 40)
    assert exchange_grade(score).tolist() == [exchange_grade(s) for s in score]
    assert_allclose(exchange_probability_of_default(score),
                    [exchange_probability_of_default(s) for s in score])
    matrix = rng.uniform(0, 1e6, (10, 4))
    rows = concentration(matrix)
    assert_allclose(rows.hhi, [concentration(row).hhi for row in matrix])
    assert_allclose(rows.effective_venues, [concentration(row).effective_venues for row in matrix])


def test_series_in_series_out_and_no_mutation() -> None:
    index = pd.Index(["binance", "okx"], name="exchange")
    ead = pd.Series([1e5, 5e4], index=index)
    p = pd.Series([0.02, 0.04], index=index)
    saved = (ead.copy(), p.copy())
    result = expected_loss(ead, p, 0.6)
    assert isinstance(result, pd.Series) and result.index.equals(index)
    assert_allclose(result.to_numpy(), [1_200.0, 1_200.0])
    pd.testing.assert_series_equal(ead, saved[0])
    pd.testing.assert_series_equal(p, saved[1])
    array = np.array([0.02, 0.5])
    probability_of_default_over(array, 2.0)
    assert_allclose(array, [0.02, 0.5])
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 0.0]})
    frame_before = frame.copy()
    assert isinstance(concentration(frame).hhi, pd.Series)
    pd.testing.assert_frame_equal(frame, frame_before)


# ------------------------------------------------------------------ concentration


@given(st.lists(st.floats(0, 1e12), min_size=1, max_size=30).filter(lambda v: sum(v) > 0))
@settings(deadline=None)
def test_hhi_and_effective_venues_bounds(values: list[float]) -> None:
    result = concentration(values)
    n = len(values)
    assert 1 / n - 1e-12 <= result.hhi <= 1 + 1e-12
    assert 1 - 1e-9 <= result.effective_venues <= n + 1e-9
    # Scale free: the currency does not matter.
    assert concentration([2.5 * v for v in values]).hhi == pytest.approx(result.hhi, rel=1e-9)


def test_concentration_edge_cases() -> None:
    assert concentration([5.0, 0.0, 0.0]).hhi == 1.0
    assert concentration([1.0] * 4).effective_venues == pytest.approx(4.0)
    assert math.isnan(concentration([0.0, 0.0]).hhi)
    assert math.isnan(concentration([1.0, np.nan]).hhi)
    with pytest.raises(RiskInputError, match=r"^exposures must be >= 0 \(got -1 at position"):
        concentration([3.0, -1.0])


def test_diversification_check() -> None:
    ok = diversification_check({"binance": 50, "okx": 30, "bybit": 20})
    assert ok.passed is True
    assert ok.hhi == pytest.approx(0.38) and ok.largest_venue == "binance"
    heavy = diversification_check({"binance": 70, "okx": 30})
    assert heavy.passed is False and "binance holds 70%" in heavy.reason
    single = diversification_check({"binance": 70, "okx": 0})
    assert single.passed is False and "1 venue" in single.reason
    assert diversification_check({"a": 1.0, "b": np.nan}).passed is None
    assert diversification_check({"a": 60, "b": 40}, max_share=0.6).passed is True
    with pytest.raises(RiskInputError, match=r"^max_share must be in \(0, 1\] \(got 50\)"):
        diversification_check({"a": 1}, max_share=50)
    with pytest.raises(RiskInputError, match="min_venues must be a whole number"):
        diversification_check({"a": 1}, min_venues=0)


# ------------------------------------------------------------------ exposure


def _book() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "exchange": ["binance", "binance", "binance", "bybit", "okx"],
            "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BTC/USD:BTC",
                       "ETH/USDT:USDT"],
            "side": ["long", "short", "long", "long", "long"],
            "contracts": [1.0, 10.0, 100.0, 100.0, 5.0],
            "contractSize": [1.0, 1.0, 1.0, 100.0, 1.0],
            "entryPrice": [60_000.0, 3_000.0, 150.0, 50_000.0, 3_000.0],
            "markPrice": [61_000.0, 3_100.0, 100.0, 40_000.0, 2_000.0],
            "collateral": [20_000.0, 20_000.0, 3_000.0, 0.5, 1_000.0],
            "marginMode": ["cross", "cross", "isolated", "isolated", "isolated"],
            "contractType": ["linear", "linear", "linear", "inverse", "linear"],
            "maintenanceMarginRate": [0.004, 0.005, 0.01, 0.005, 0.005],
        }
    )


def test_exposure_by_exchange_by_hand() -> None:
    book = _book()
    before = book.copy()
    exposure = exposure_by_exchange(book)
    # binance cross account: wallet 20,000 + 1,000 - 1,000 = 20,000 (wallet counted once);
    # SOL isolated: 3,000 - 5,000 < 0 -> 0. bybit inverse: 0.5 BTC + 10,000 * (1/50k - 1/40k)
    # = 0.45 BTC at 40,000 = 18,000 USD. okx isolated: 1,000 - 5,000 -> 0.
    assert exposure.to_dict() == pytest.approx({"binance": 20_000.0, "bybit": 18_000.0,
                                                "okx": 0.0})
    assert exposure.index.name == "exchange"
    pd.testing.assert_frame_equal(book, before)


def test_exposure_agrees_with_portfolio_margin_balances() -> None:
    # The core's portfolio_margin gives each row's margin balance (cross: the account's);
    # flooring those per isolated row and per cross account must give the same exposure.
    book = _book()
    margins = portfolio_margin(book)
    linear = book["contractType"] == "linear"
    balance = margins["margin_balance"].where(linear, margins["margin_balance"] *
                                              book["markPrice"])
    cross = book["marginMode"] == "cross"
    per_account = balance[cross].groupby(margins["account"][cross]).first().clip(lower=0)
    isolated = balance[~cross].clip(lower=0).groupby(book["exchange"][~cross]).sum()
    expected = isolated.add(
        per_account.groupby(per_account.index.str.split(":").str[0]).sum(), fill_value=0
    )
    got = exposure_by_exchange(book)
    assert_allclose(got.sort_index().to_numpy(), expected.sort_index().to_numpy(), rtol=1e-12)


def test_exposure_errors_and_missing_data() -> None:
    book = _book()
    book.loc[1, "collateral"] = 25_000.0
    with pytest.raises(RiskInputError, match="collateral must be one wallet balance on every "
                                             "cross row of binance:USDT"):
        exposure_by_exchange(book)
    book = _book()
    book.loc[4, "markPrice"] = np.nan
    assert math.isnan(exposure_by_exchange(book)["okx"])
    # One unknown position makes its venue's exposure unknown, also inside a cross account.
    book = _book()
    book.loc[1, "markPrice"] = np.nan
    exposure = exposure_by_exchange(book)
    assert math.isnan(exposure["binance"]) and exposure["bybit"] == pytest.approx(18_000.0)
    with pytest.raises(RiskInputError, match=r"^positions must have a collateral column"):
        exposure_by_exchange(_book().drop(columns="collateral"))
    with pytest.raises(RiskInputError, match=r"^marginMode \(row 0\) must be one of isolated, "
                                             r"cross \(got 'portfolio'\)"):
        exposure_by_exchange(_book().assign(marginMode="portfolio"))
    assert exposure_by_exchange(_book().iloc[:0]).empty
