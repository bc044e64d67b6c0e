"""Counterparty (exchange) risk: due-diligence score, grade, expected loss, concentration.

A perpetual-futures trader is an unsecured creditor of every exchange holding their margin. This
module scores an exchange from public facts, maps the score to a grade and a one-year
probability of default (PD), prices the loss with the Basel expected-loss identity
``EL = EAD * PD * LGD``, and measures how concentrated the exposure is across venues.

Sources
-------
* Expected loss: BCBS, "An Explanatory Note on the Basel II IRB Risk Weight Functions" (2005),
  https://www.bis.org/bcbs/irbriskweight.pdf
* Concentration: U.S. Department of Justice, "Herfindahl-Hirschman Index",
  https://www.justice.gov/atr/herfindahl-hirschman-index, and the 2023 Merger Guidelines.
* Score categories: CryptoCompare/CCData Exchange Benchmark and Kaiko Exchange Ranking (see
  :mod:`riskfuncs.data.score_weights`). Loss-given-default priors: :mod:`riskfuncs.data.lgd_priors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskfuncs._arrays import (
    FloatArray,
    OutputForm,
    broadcast,
    choose,
    format_value,
    require,
    require_non_negative,
    require_positive,
    to_float_array,
)
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import FloatLike
from riskfuncs.book import Book, as_book
from riskfuncs.data.lgd_priors import LGD_PROFILES, VENUE_FAILURES
from riskfuncs.data.score_weights import (
    DEFAULT_WEIGHTS,
    FACTORS,
    GRADE_BANDS,
    GradeBand,
    ScoreWeights,
)
from riskfuncs.margin import unrealized_pnl

__all__ = [
    "Concentration",
    "DiversificationCheck",
    "concentration",
    "diversification_check",
    "exchange_grade",
    "exchange_probability_of_default",
    "exchange_score",
    "expected_loss",
    "exposure_by_exchange",
    "incident_subscore",
    "insurance_fund_subscore",
    "loss_given_default_prior",
    "probability_of_default_over",
    "reserve_subscore",
]

PdBound = Literal["central", "low", "high"]
PD_BOUNDS: tuple[PdBound, ...] = ("central", "low", "high")

#: Default diversification limits: no venue holds more than half the exposure, and at least
#: two venues hold some. A modelling choice, written where the trader can see and change it.
MAX_VENUE_SHARE = 0.5
MIN_VENUES = 2


def _require_unit_interval(name: str, values: FloatArray) -> None:
    require(name, values, (values >= 0) & (values <= 1), "be in [0, 1] as a fraction")


# --------------------------------------------------------------------------------------------
# Sub-scores from raw facts


def reserve_subscore(
    coverage_ratio: FloatLike,
    days_since_attestation: FloatLike,
    *,
    zero_at_coverage: float = 0.90,
    fresh_days: float = 31.0,
    stale_days: float = 180.0,
) -> Any:
    """Proof-of-reserves sub-score in [0, 1] from reserve coverage and attestation age.

    Parameters
    ----------
    coverage_ratio : float, array-like or Series
        On-chain reserves / customer liabilities for the assets you hold there (1.0 = 100 %),
        >= 0. Use the lowest ratio across the assets you care about.
    days_since_attestation : float, array-like or Series
        Days since the reserve snapshot, >= 0; ``inf`` when the venue never published one.
    zero_at_coverage : float
        Coverage at which the coverage part reaches 0 (default 0.90: a 10 % hole is fatal).
    fresh_days, stale_days : float
        Attestations up to ``fresh_days`` old count in full (default 31: monthly reports); the
        credit falls linearly to 0 at ``stale_days`` (default 180).

    Returns
    -------
    float, ndarray or Series
        ``coverage_part * recency_part`` with
        ``coverage_part = clip((coverage - zero_at) / (1 - zero_at), 0, 1)`` and
        ``recency_part = clip((stale - age) / (stale - fresh), 0, 1)``.

    Notes
    -----
    Coverage above 100 % earns nothing extra: a Merkle-tree proof of reserves is a snapshot and
    cannot prove the liabilities are complete (Binance Academy, "Improving crypto transparency
    with zero-knowledge proof"; V. Buterin, "Having a safe CEX: proof of solvency and beyond", 2022,
    https://vitalik.eth.limo/general/2022/11/19/proof_of_solvency.html).

    Examples
    --------
    >>> reserve_subscore(1.02, 10)
    1.0
    >>> reserve_subscore(0.95, 10)
    0.5
    >>> round(reserve_subscore(1.0, 105.5), 4)
    0.5
    """
    if not 0 <= zero_at_coverage < 1:
        raise RiskInputError(f"zero_at_coverage must be in [0, 1) (got {zero_at_coverage:g})")
    if not 0 <= fresh_days < stale_days:
        raise RiskInputError(
            f"fresh_days must be >= 0 and < stale_days (got {fresh_days:g}, {stale_days:g})"
        )
    form, (coverage, age) = broadcast(
        coverage_ratio=coverage_ratio, days_since_attestation=days_since_attestation
    )
    require_non_negative("coverage_ratio", coverage)
    require_non_negative("days_since_attestation", age)
    coverage_part = np.clip((coverage - zero_at_coverage) / (1.0 - zero_at_coverage), 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        recency_part = np.clip((stale_days - age) / (stale_days - fresh_days), 0.0, 1.0)
    return form.wrap(coverage_part * recency_part)


def insurance_fund_subscore(
    insurance_fund: FloatLike, open_interest: FloatLike, *, target_ratio: float = 0.05
) -> Any:
    """Insurance-fund sub-score in [0, 1]: fund / open interest against a target ratio.

    Parameters
    ----------
    insurance_fund : float, array-like or Series
        Insurance fund balance, >= 0, same currency as ``open_interest``.
    open_interest : float, array-like or Series
        Open interest of the venue's perpetuals, > 0.
    target_ratio : float
        Fund / open interest that earns the full score (default 0.05, a modelling choice).

    Returns
    -------
    float, ndarray or Series
        ``min(1, (insurance_fund / open_interest) / target_ratio)``.

    Notes
    -----
    Losses from bankrupt positions go first to the insurance fund and only then to
    auto-deleveraging of profitable traders (Hyperliquid docs, "Auto-deleveraging"; Binance
    ranks ADL by PnL % x effective leverage), so the fund is the buffer between another trader's
    default and your open profit.

    Examples
    --------
    >>> insurance_fund_subscore(1_000_000_000, 40_000_000_000)
    0.5
    """
    if not target_ratio > 0:
        raise RiskInputError(f"target_ratio must be > 0 (got {target_ratio:g})")
    form, (fund, oi) = broadcast(insurance_fund=insurance_fund, open_interest=open_interest)
    require_non_negative("insurance_fund", fund)
    require_positive("open_interest", oi)
    return form.wrap(np.minimum(1.0, fund / oi / target_ratio))


def incident_subscore(
    incidents: FloatLike,
    adl_events: FloatLike = 0.0,
    *,
    incident_factor: float = 0.5,
    adl_factor: float = 0.8,
) -> Any:
    """Incident-history sub-score in [0, 1]: each event multiplies the score down.

    Parameters
    ----------
    incidents : float, array-like or Series
        Count of hacks, insolvency scares and withdrawal halts (suggested window: 36 months),
        >= 0.
    adl_events : float, array-like or Series
        Count of days with auto-deleveraging of traders (suggested window: 12 months), >= 0.
    incident_factor, adl_factor : float
        What one event leaves of the score (defaults 0.5 and 0.8, a modelling choice).

    Returns
    -------
    float, ndarray or Series
        ``incident_factor ** incidents * adl_factor ** adl_events``.

    Notes
    -----
    A breach goes with 13x higher odds that an exchange closes in the same quarter (Moore,
    Christin and Szurdi, "Revisiting the Risks of Bitcoin Currency Exchange Closure", ACM TOIT
    2018). ADL closes a profitable position at the bankruptcy price of someone else's: on
    10 Oct 2025 it hit profitable shorts on several venues, which is a counterparty risk for
    hedges.

    Examples
    --------
    >>> incident_subscore(1, 2)
    0.32
    """
    for name, factor in (("incident_factor", incident_factor), ("adl_factor", adl_factor)):
        if not 0 <= factor <= 1:
            raise RiskInputError(f"{name} must be in [0, 1] (got {factor:g})")
    form, (count, adl) = broadcast(incidents=incidents, adl_events=adl_events)
    require_non_negative("incidents", count)
    require_non_negative("adl_events", adl)
    return form.wrap(np.power(incident_factor, count) * np.power(adl_factor, adl))


# Raw inputs that stand in for a sub-score when the sub-score itself is not given:
# factor -> (required columns, optional columns, helper).
_RAW_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], Any]] = {
    "proof_of_reserves": (("reserve_coverage", "days_since_attestation"), (), reserve_subscore),
    "insurance_fund": (("insurance_fund_balance", "open_interest"), (), insurance_fund_subscore),
    "incident_history": (("incidents",), ("adl_events",), incident_subscore),
}


# --------------------------------------------------------------------------------------------
# Score and grade


def _as_weights(weights: ScoreWeights | Mapping[str, float]) -> ScoreWeights:
    if isinstance(weights, ScoreWeights):
        return weights
    if isinstance(weights, Mapping):
        return ScoreWeights.from_mapping(weights)
    raise RiskInputError(f"weights must be a ScoreWeights or a mapping (got {weights!r})")


def _columns(factors: Any) -> tuple[dict[str, Any], OutputForm]:
    """The factor table as name -> values, and the form the score goes back in."""
    if isinstance(factors, pd.DataFrame):
        frame_columns = {str(name): factors[name].to_numpy() for name in factors.columns}
        return frame_columns, OutputForm(scalar=False, index=factors.index)
    if isinstance(factors, pd.Series):
        factors = factors.to_dict()
    if isinstance(factors, Mapping):
        columns: dict[str, Any] = {str(name): value for name, value in factors.items()}
        scalar = all(np.ndim(value) == 0 for value in columns.values())
        indexes = [value.index for value in columns.values() if isinstance(value, pd.Series)]
        if any(not index.equals(indexes[0]) for index in indexes[1:]):
            raise RiskInputError("all Series in factors must share the same index")
        return columns, OutputForm(scalar=scalar, index=indexes[0] if indexes else None)
    raise RiskInputError(
        f"factors must be a mapping or a DataFrame of sub-scores (got {type(factors).__name__})"
    )


def _subscore(factor: str, columns: dict[str, Any]) -> FloatArray:
    required, optional, helper = _RAW_INPUTS.get(factor, ((), (), None))
    given = factor in columns
    present = [name for name in required if name in columns]
    if present and len(present) < len(required):
        missing = next(name for name in required if name not in columns)
        raise RiskInputError(f"factors must include {missing} with {present[0]} (got none)")
    raw_given = bool(required) and len(present) == len(required)
    if not given and not raw_given:
        hint = f" or {' and '.join(required)}" if required else ""
        raise RiskInputError(f"factors must include {factor}{hint} (got none)")
    values = np.array(np.nan)
    if given:
        values = to_float_array(factor, columns[factor])
        _require_unit_interval(factor, values)
    if raw_given:
        keywords = {name: columns[name] for name in optional if name in columns}
        arguments = [columns[name] for name in required]
        computed = np.asarray(helper(*arguments, **keywords), dtype=float)
        values = np.where(np.isnan(values), computed, values)
    return np.asarray(values, dtype=float)


def exchange_score(
    factors: Mapping[str, Any] | pd.DataFrame | pd.Series,
    *,
    weights: ScoreWeights | Mapping[str, float] = DEFAULT_WEIGHTS,
) -> Any:
    """Exchange due-diligence score from 0 (worst) to 100 (best).

    Parameters
    ----------
    factors : mapping, Series or DataFrame
        One exchange as ``{factor: sub-score}`` (values may be arrays that broadcast), or a
        DataFrame with one row per exchange and one column per factor. Sub-scores are fractions
        in [0, 1], 1 = best. The factors are those of
        :data:`riskfuncs.data.score_weights.FACTORS`: ``proof_of_reserves``, ``audit``,
        ``licence``, ``jurisdiction``, ``insurance_fund``, ``incident_history``,
        ``transparency``. Three may come as raw facts instead, turned into sub-scores with the
        default settings of their helpers (a given sub-score wins; a missing or NaN one is
        computed):

        * ``proof_of_reserves``: ``reserve_coverage``, ``days_since_attestation``
          (:func:`reserve_subscore`);
        * ``insurance_fund``: ``insurance_fund_balance``, ``open_interest``
          (:func:`insurance_fund_subscore`);
        * ``incident_history``: ``incidents`` and optionally ``adl_events``
          (:func:`incident_subscore`).

        Factors with weight 0 may be left out; other columns are ignored.
    weights : ScoreWeights or mapping
        Relative factor weights, normalised to sum 1; default
        :data:`riskfuncs.data.score_weights.DEFAULT_WEIGHTS`.

    Returns
    -------
    float, ndarray or Series
        ``100 * sum(w_i * s_i) / sum(w_i)``; a Series indexed like the DataFrame; NaN where a
        weighted sub-score is missing.

    Notes
    -----
    The structure (category sub-scores, weighted, summed, graded) is the one of the CCData
    Exchange Benchmark; categories follow CCData and Kaiko. Suggested sub-score rubrics for the
    judgement factors: ``licence`` 1 = licensed for derivatives by the regulator of a major
    market, 0.5 = registered/licensed for spot only, 0 = none; ``jurisdiction`` 1 = customer
    assets held under an insolvency regime with segregation, 0 = none or sanctioned;
    ``audit`` 1 = audited financial statements within a year, 0.5 = independent PoR
    examination only, 0 = none; ``transparency`` 1 = full liquidation and trade history
    published through an API, 0 = none.

    Examples
    --------
    >>> exchange_score({"proof_of_reserves": 1, "audit": 0.5, "licence": 1,
    ...                 "jurisdiction": 1, "insurance_fund": 0.6, "incident_history": 1,
    ...                 "transparency": 1})
    89.0
    >>> exchange_score({"licence": 1, "audit": 0}, weights={"licence": 3, "audit": 1})
    75.0
    """
    raw = _as_weights(weights).as_dict()
    columns, form = _columns(factors)
    total: Any = 0.0
    weight_sum = 0.0
    for factor in FACTORS:
        weight = raw[factor]
        if weight == 0:
            continue
        total = total + weight * _subscore(factor, columns)
        weight_sum += weight
    # Dividing once at the end, not by pre-normalised weights, keeps the score inside
    # [0, 100] to the last bit: full marks are exactly 100 (exchange_grade refuses 100.00..03).
    result = 100.0 * (np.asarray(total, dtype=float) / weight_sum)
    if form.index is not None:
        result = np.broadcast_to(result, (len(form.index),))
    return form.wrap(result, name="exchange_score")


def _as_bands(bands: Sequence[GradeBand]) -> tuple[GradeBand, ...]:
    table = tuple(bands)
    if not table:
        raise RiskInputError("bands must not be empty (got 0 bands)")
    floors = [band.min_score for band in table]
    if any(b >= a for a, b in pairwise(floors)) or floors[-1] != 0:
        raise RiskInputError(
            f"bands must have falling min_score ending at 0 (got {', '.join(map(str, floors))})"
        )
    return table


def _band_index(score: FloatArray, bands: tuple[GradeBand, ...]) -> npt.NDArray[np.intp]:
    require("score", score, (score >= 0) & (score <= 100), "be in [0, 100]")
    floors = np.array([band.min_score for band in bands])
    # Bands are ordered best first; the first floor at or below the score is the band.
    return np.asarray((floors[None, :] > np.nan_to_num(score).reshape(-1, 1)).sum(axis=1))


def exchange_grade(score: FloatLike, *, bands: Sequence[GradeBand] = GRADE_BANDS) -> Any:
    """Letter grade for an exchange score (AA best .. E worst).

    Parameters
    ----------
    score : float, array-like or Series
        Score from :func:`exchange_score`, in [0, 100].
    bands : sequence of GradeBand
        Grade table, best first; default :data:`riskfuncs.data.score_weights.GRADE_BANDS`
        (AA >= 85, A >= 75, BB >= 65, B >= 55, C >= 45, D >= 35, E below).

    Returns
    -------
    str, ndarray of str or Series of str
        The grade; ``None`` where the score is NaN.

    Notes
    -----
    AA..B is what CCData calls "top tier" (acceptable risk), C..E "lower tier". The cut-offs
    are this package's modelling choice.

    Examples
    --------
    >>> exchange_grade(89.0)
    'AA'
    >>> exchange_grade([70, 20]).tolist()
    ['BB', 'E']
    """
    table = _as_bands(bands)
    form, (values,) = broadcast(score=score)
    k = _band_index(values, table).reshape(values.shape)
    names = np.array([band.grade for band in table], dtype=object)
    grades = names[k.reshape(-1)].reshape(values.shape)
    grades[np.isnan(values)] = None
    if form.scalar:
        return grades.reshape(-1)[0]
    if form.index is not None:
        return pd.Series(grades, index=form.index, name="grade", dtype=object)
    return grades


def exchange_probability_of_default(
    score: FloatLike, *, bound: PdBound = "central", bands: Sequence[GradeBand] = GRADE_BANDS
) -> Any:
    """One-year probability of default implied by an exchange score, through its grade.

    Parameters
    ----------
    score : float, array-like or Series
        Score from :func:`exchange_score`, in [0, 100].
    bound : {"central", "low", "high"}
        The band's central value (for expected loss), or its lower or upper bound.
    bands : sequence of GradeBand
        Grade table, best first; default :data:`riskfuncs.data.score_weights.GRADE_BANDS`.

    Returns
    -------
    float, ndarray or Series
        PD over one year as a fraction (0.02 = 2 %).

    Notes
    -----
    Default bands (a modelling choice, see :mod:`riskfuncs.data.score_weights`): AA 0.25-0.75 %
    (0.5 %), A 0.75-1.5 % (1 %), BB 1.5-3 % (2 %), B 3-6 % (4 %), C 6-12 % (8 %),
    D 12-25 % (16 %), E 25-50 % (33 %).

    Examples
    --------
    >>> exchange_probability_of_default(70)
    0.02
    >>> exchange_probability_of_default(70, bound="high")
    0.03
    """
    which = choose("bound", bound, PD_BOUNDS)
    table = _as_bands(bands)
    attribute = {"central": "probability_of_default", "low": "pd_low", "high": "pd_high"}[which]
    form, (values,) = broadcast(score=score)
    k = _band_index(values, table).reshape(values.shape)
    pd_values = np.array([getattr(band, attribute) for band in table], dtype=float)[k]
    return form.wrap(np.where(np.isnan(values), np.nan, pd_values), name="probability_of_default")


# --------------------------------------------------------------------------------------------
# Expected loss


def expected_loss(
    exposure: FloatLike, probability_of_default: FloatLike, loss_given_default: FloatLike
) -> Any:
    """Expected loss on an exchange: exposure at default x PD x LGD.

    Parameters
    ----------
    exposure : float, array-like or Series
        Exposure at default (EAD): what the exchange owes you, >= 0, in any currency; the result
        is in the same currency. :func:`exposure_by_exchange` gives it per venue.
    probability_of_default : float, array-like or Series
        PD over the horizon, a fraction in [0, 1].
    loss_given_default : float, array-like or Series
        Fraction of the exposure lost if the venue fails, in [0, 1].

    Returns
    -------
    float, ndarray or Series
        ``EL = EAD * PD * LGD``. Sum over venues for the portfolio's expected loss.

    Notes
    -----
    The Basel II IRB definition of expected loss (BCBS, "An Explanatory Note on the Basel II IRB
    Risk Weight Functions", 2005).

    Examples
    --------
    >>> expected_loss(100_000, 0.02, 0.60)
    1200.0
    """
    form, (ead, pd_, lgd) = broadcast(
        exposure=exposure,
        probability_of_default=probability_of_default,
        loss_given_default=loss_given_default,
    )
    require_non_negative("exposure", ead)
    _require_unit_interval("probability_of_default", pd_)
    _require_unit_interval("loss_given_default", lgd)
    return form.wrap(ead * pd_ * lgd, name="expected_loss")


def probability_of_default_over(pd_1y: FloatLike, horizon_years: FloatLike) -> Any:
    """PD over a horizon from a one-year PD, at a constant default intensity.

    Parameters
    ----------
    pd_1y : float, array-like or Series
        One-year probability of default, a fraction in [0, 1].
    horizon_years : float, array-like or Series
        Horizon in years, >= 0 (one month = 1/12).

    Returns
    -------
    float, ndarray or Series
        ``1 - (1 - PD_1y) ** T``, i.e. ``1 - exp(-h T)`` with hazard ``h = -ln(1 - PD_1y)``.

    Notes
    -----
    Constant-hazard (exponential survival) model, e.g. Hull, "Options, Futures, and Other
    Derivatives", chapter "Credit Risk" (hazard rates).

    Examples
    --------
    >>> round(probability_of_default_over(0.02, 0.5), 6)
    0.010051
    """
    form, (p, t) = broadcast(pd_1y=pd_1y, horizon_years=horizon_years)
    _require_unit_interval("pd_1y", p)
    require_non_negative("horizon_years", t)
    # 1 - (1-p)**t via log1p/expm1 stays accurate for tiny PDs and short horizons.
    with np.errstate(divide="ignore", invalid="ignore"):
        result = -np.expm1(t * np.log1p(-p))
    # A certain default (PD 1) over no time at all: 0 * log(0) is NaN in floats, 0 in fact.
    return form.wrap(np.where((p == 1) & (t == 0), 0.0, result))


LgdPrior = Literal[
    "opaque_offshore",
    "regulated_segregated",
    "ftx",
    "mt_gox",
    "quadrigacx",
    "celsius",
    "voyager",
    "bitfinex_2016",
]
LGD_PRIOR_NAMES: tuple[str, ...] = (*LGD_PROFILES, *VENUE_FAILURES)


def loss_given_default_prior(name: LgdPrior) -> float:
    """Loss given default (fraction) for a venue profile or a past venue failure.

    Parameters
    ----------
    name : str
        ``"opaque_offshore"`` (0.75) or ``"regulated_segregated"`` (0.40), or a past failure:
        ``"ftx"``, ``"mt_gox"``, ``"quadrigacx"``, ``"celsius"``, ``"voyager"``,
        ``"bitfinex_2016"``.

    Returns
    -------
    float
        LGD = ``max(0, 1 - recovery)``; for a past failure, the recovery reported by the
        sources in :data:`riskfuncs.data.lgd_priors.VENUE_FAILURES`.

    Notes
    -----
    Recoveries are measured in the unit of the claim (``basis``): FTX repaid 118 % of the USD
    value at the petition date, LGD 0 in dollars, yet a large loss for a trader who held BTC.
    Money is also frozen for the years to recovery (1 to 10), which LGD does not show.

    Examples
    --------
    >>> loss_given_default_prior("regulated_segregated")
    0.4
    >>> round(loss_given_default_prior("quadrigacx"), 6)
    0.869058
    """
    key = choose("name", name, LGD_PRIOR_NAMES)
    if key in LGD_PROFILES:
        return float(LGD_PROFILES[key])
    return VENUE_FAILURES[key].loss_given_default


# --------------------------------------------------------------------------------------------
# Exposure and concentration


def exposure_by_exchange(positions: pd.DataFrame | Book) -> pd.Series:
    """What each exchange owes you: margin equity per venue, floored at 0, in quote currency.

    Parameters
    ----------
    positions : DataFrame or Book
        ccxt Position columns (:data:`riskfuncs.book.BOOK_COLUMNS`, read by
        :func:`riskfuncs.book.as_book`): ``exchange``, ``symbol``, ``side``, ``contracts``,
        ``contractSize`` (default 1), ``entryPrice``, ``markPrice``, ``collateral``,
        ``marginMode`` (isolated|cross, default isolated), ``contractType`` (linear|inverse,
        default linear). ``collateral`` is the isolated margin of the position, or for cross
        positions the wallet balance of the account (exchange + settle currency), repeated on
        each of its rows. Inverse collateral is in coin.

    Returns
    -------
    Series
        Exposure per exchange (index ``exchange``), in quote currency (USD for USD and
        stablecoin-settled contracts): the sum over accounts of
        ``max(0, collateral + unrealised PnL)``. Isolated positions are floored one by one
        (a loss past the isolated margin is not yours), a cross account once. Coin equity of
        inverse contracts is converted at the account's mean mark price. A venue with a missing
        price or collateral gets NaN: its exposure is unknown, not 0.

    Notes
    -----
    An exchange owes you only positive equity: a negative balance is a debt the venue absorbs
    through its insurance fund, so exposure at default is floored at 0.

    Examples
    --------
    >>> frame = pd.DataFrame({"exchange": ["binance", "bybit"], "symbol": ["BTC/USDT:USDT"] * 2,
    ...                       "side": ["long", "short"], "contracts": [1.0, 2.0],
    ...                       "entryPrice": [60_000.0, 3_000.0], "markPrice": [61_000.0, 3_100.0],
    ...                       "collateral": [10_000.0, 1_000.0]})
    >>> exposure_by_exchange(frame).to_dict()
    {'binance': 11000.0, 'bybit': 800.0}
    """
    book = as_book(positions)
    if len(book) == 0:
        return pd.Series(dtype=float, name="exposure", index=pd.Index([], name="exchange"))
    venues = book.venues
    quantity, mark = book.quantity, book.values("markPrice")
    collateral, entry = book.values("collateral"), book.values("entryPrice")
    require_non_negative("collateral", collateral)
    is_linear = (venues["contractType"] == "linear").to_numpy(dtype=bool)[book.venue]
    pnl = np.full(len(book), np.nan)
    for kind, rows in (("linear", is_linear), ("inverse", ~is_linear)):
        if rows.any():
            pnl[rows] = unrealized_pnl(book.sign[rows], entry[rows], mark[rows], quantity[rows],
                                       contract=kind)  # type: ignore[arg-type]
    exchange_of_venue, exchanges = pd.factorize(venues["exchange"].to_numpy(dtype=object))
    exchange_codes = exchange_of_venue[book.venue]
    cross = book.cross

    # Isolated positions: each floored at 0 on its own.
    isolated = ~cross
    equity = np.clip(collateral + pnl, 0.0, None)
    quote = np.where(is_linear, equity, equity * mark)
    total = _venue_sums(exchange_codes[isolated], quote[isolated], len(exchanges))

    if cross.any():
        # Cross positions: one wallet per account (exchange + settle currency), floored once;
        # as_book checked that every cross row of an account carries the same wallet.
        members = np.flatnonzero(cross)
        account = book.account[members]
        n_accounts = len(book.accounts)
        counts = np.bincount(account, minlength=n_accounts)
        first = np.full(n_accounts, -1, dtype=np.intp)
        first[account[::-1]] = members[::-1]
        present = np.flatnonzero(counts)
        head = first[present]
        # A missing PnL makes the account's sum missing (NaN flows through the sums).
        account_pnl = np.bincount(account, weights=pnl[members], minlength=n_accounts)[present]
        account_mark = np.bincount(account, weights=mark[members], minlength=n_accounts)[
            present] / counts[present]
        wallet_equity = np.clip(collateral[head] + account_pnl, 0.0, None)
        wallet_quote = np.where(is_linear[head], wallet_equity, wallet_equity * account_mark)
        total = total + _venue_sums(exchange_codes[head], wallet_quote, len(exchanges))
    return pd.Series(total, index=pd.Index(np.asarray(exchanges, dtype=object), name="exchange"),
                     name="exposure")


def _venue_sums(codes: npt.NDArray[Any], values: FloatArray, venues: int) -> FloatArray:
    """Sum per venue code; a missing value makes its venue's sum missing (NaN flows)."""
    return np.bincount(codes, weights=values, minlength=venues).astype(float)


class Concentration(NamedTuple):
    """Herfindahl index of exposure shares and the effective number of venues."""

    hhi: Any
    effective_venues: Any


def _exposure_matrix(exposures: Any) -> tuple[FloatArray, OutputForm, pd.Index | None]:
    """Exposures as a 2-D array (one row per portfolio), with the output form and venue names."""
    if isinstance(exposures, Mapping):
        exposures = pd.Series(exposures, dtype=float)
    if isinstance(exposures, pd.DataFrame):
        values = to_float_array("exposures", exposures.to_numpy(dtype=float))
        return values, OutputForm(scalar=False, index=exposures.index), exposures.columns
    venues = exposures.index if isinstance(exposures, pd.Series) else None
    values = to_float_array("exposures", exposures)
    if values.ndim == 1:
        return values.reshape(1, -1), OutputForm(scalar=True, index=None), venues
    if values.ndim == 2:
        return values, OutputForm(scalar=False, index=None), None
    raise RiskInputError(f"exposures must be 1-D or 2-D (got {values.ndim}-D)")


def concentration(exposures: Any) -> Concentration:
    """Herfindahl-Hirschman index (HHI) of exposure across venues and ``1 / HHI``.

    Parameters
    ----------
    exposures : Series, mapping, array-like or DataFrame
        Exposure per venue, >= 0 (any one currency). 1-D: one portfolio. 2-D array or
        DataFrame: one portfolio per row, venues in columns.

    Returns
    -------
    Concentration
        ``hhi``: ``sum(w_i ** 2)`` with ``w_i`` the venue shares, in [1/n, 1] (multiply by
        10,000 for the DOJ "points" scale); ``effective_venues``: ``1 / HHI``, in [1, n], the
        number of equal venues with the same concentration. Floats for one portfolio, arrays
        (or Series for a DataFrame) for several; NaN when the total exposure is 0 or missing.

    Notes
    -----
    U.S. DOJ, "Herfindahl-Hirschman Index": four firms with 30/30/20/20 % give 2,600 points.
    The 2023 Merger Guidelines call a market above 1,800 points highly concentrated.

    Examples
    --------
    >>> result = concentration({"binance": 50, "okx": 30, "bybit": 20})
    >>> round(result.hhi, 4), round(result.effective_venues, 2)
    (0.38, 2.63)
    """
    values, form, _ = _exposure_matrix(exposures)
    require_non_negative("exposures", values)
    total = values.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(total > 0, values / total, np.nan)
        hhi = np.sum(shares**2, axis=1)
        if values.shape[1] == 0:
            hhi = np.full(values.shape[0], np.nan)
        effective = 1.0 / hhi
    return Concentration(hhi=form.wrap(hhi, name="hhi"),
                         effective_venues=form.wrap(effective, name="effective_venues"))


@dataclass(frozen=True)
class DiversificationCheck:
    """Outcome of :func:`diversification_check`.

    ``passed`` is ``None`` when an exposure is missing and the check cannot be judged.
    """

    passed: bool | None
    reason: str
    hhi: float
    effective_venues: float
    venues: int
    largest_venue: str
    largest_share: float
    max_share: float
    min_venues: int


def diversification_check(
    exposures: Any, *, max_share: float = MAX_VENUE_SHARE, min_venues: int = MIN_VENUES
) -> DiversificationCheck:
    """Is the exposure spread over enough venues, none holding too large a share?

    Parameters
    ----------
    exposures : Series, mapping or 1-D array-like
        Exposure per venue, >= 0 (e.g. from :func:`exposure_by_exchange`).
    max_share : float
        Largest share of the total one venue may hold, in (0, 1] (default 0.5).
    min_venues : int
        Fewest venues that must hold some exposure, >= 1 (default 2).

    Returns
    -------
    DiversificationCheck
        ``passed`` and a ``reason`` in plain words, with HHI, effective venues, venue count and
        the largest venue's name and share.

    Examples
    --------
    >>> diversification_check({"binance": 70, "okx": 30}).reason
    'binance holds 70% of exchange exposure (limit 50%): move some margin to another venue'
    >>> diversification_check({"binance": 50, "okx": 30, "bybit": 20}).passed
    True
    """
    if not 0 < max_share <= 1:
        raise RiskInputError(f"max_share must be in (0, 1] (got {format_value(max_share)})")
    if min_venues < 1 or int(min_venues) != min_venues:
        raise RiskInputError(f"min_venues must be a whole number >= 1 (got {min_venues!r})")
    values, _, venues = _exposure_matrix(exposures)
    if values.shape[0] != 1:
        raise RiskInputError(f"exposures must be 1-D (got {values.shape[0]} rows)")
    row = values[0]
    require_non_negative("exposures", row)
    names = [str(v) for v in venues] if venues is not None else [f"venue {i + 1}" for i in
                                                                   range(row.size)]
    hhi, effective = concentration(row)
    count = int(np.sum(row > 0))
    total = float(np.nansum(row))
    top = int(np.nanargmax(row)) if row.size and not np.all(np.isnan(row)) else 0
    largest = names[top] if names else ""
    share = float(row[top] / total) if total > 0 else float("nan")
    passed: bool | None
    if np.any(np.isnan(row)):
        missing = names[int(np.argmax(np.isnan(row)))]
        passed = None
        reason = f"exposure on {missing} is unknown: fill in its collateral and prices"
    elif total <= 0:
        passed, reason = None, "no exposure on any exchange: nothing to diversify"
    elif count < min_venues:
        passed = False
        reason = (f"all exposure sits on {count} venue{'s' if count != 1 else ''} (minimum "
                  f"{int(min_venues)}): spread margin over more exchanges")
    elif share > max_share:
        passed = False
        reason = (f"{largest} holds {share:.0%} of exchange exposure (limit {max_share:.0%}): "
                  "move some margin to another venue")
    else:
        passed = True
        reason = (f"exposure spread over {count} venues, largest {largest} at {share:.0%} "
                  f"(effective venues {float(effective):.2f})")
    return DiversificationCheck(
        passed=passed,
        reason=reason,
        hhi=float(hhi),
        effective_venues=float(effective),
        venues=count,
        largest_venue=largest,
        largest_share=share,
        max_share=float(max_share),
        min_venues=int(min_venues),
    )
