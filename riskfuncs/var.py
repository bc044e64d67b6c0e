"""Value at risk and expected shortfall of a return history.

Conventions (the reference libraries disagree, so they are stated here once):

* **Losses are positive numbers.** ``historical_var(r, confidence=0.99) == 0.05`` means a loss
  of 5% of the position value or worse in 1% of periods. The loss of a period is minus its
  return; a negative result means even the tail is a gain.
* ``confidence`` is a fraction in (0, 1): 0.99, not 99.
* Returns are per period (fractions, 0.01 = 1%), oldest first, like those of
  :func:`riskfuncs.volatility.returns`. Results are for one period; see :func:`scale_to_horizon`.
* Standard deviations use ``ddof=1`` (Excel ``STDEV.S``).

Input shapes follow :mod:`riskfuncs.volatility`: a 1-D history gives a float, a 2-D array
(time x assets) an ndarray per asset, a DataFrame a Series per column. NaN in a column gives NaN
for that column. Fewer than :data:`MIN_HISTORY` observations raise a
:class:`ShortHistoryWarning`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist
from typing import Literal

import numpy as np
import pandas as pd

from riskfuncs._arrays import (
    FloatArray,
    broadcast,
    choose,
    format_value,
    require,
    to_float_array,
)
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import FloatLike, FloatResult
from riskfuncs.volatility import History, HistoryLike, PerSeries, as_history

#: Observations below which a VaR or ES estimate warns (its tail rests on a handful of points).
MIN_HISTORY = 30

QuantileMethod = Literal[
    "linear",
    "lower",
    "higher",
    "nearest",
    "midpoint",
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "median_unbiased",
    "normal_unbiased",
]
_QUANTILE_METHODS: tuple[str, ...] = QuantileMethod.__args__  # type: ignore[attr-defined]

Distribution = Literal["normal", "cornish_fisher"]
SimulationMethod = Literal["normal", "bootstrap"]
ShortfallMethod = Literal["historical", "rockafellar_uryasev", "normal"]


class ShortHistoryWarning(UserWarning):
    """A VaR or ES estimate rests on too few observations to be trusted."""


def _check_confidence(confidence: float) -> float:
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 1.0:
        raise RiskInputError(
            f"confidence must be in (0, 1) as a fraction, 99% = 0.99 "
            f"(got {format_value(confidence)})"
        )
    return value


def _tail_level(confidence: float) -> float:
    """``1 - confidence`` as written: 0.99 gives 0.01, not 0.010000000000000009.

    The float subtraction lands just above the level, which moves the order-statistic rules
    (``inverted_cdf``, ``closest_observation``, ...) one observation toward the centre whenever
    ``n * (1 - confidence)`` is a whole number: 100 returns at 99% would give the second worst
    loss instead of the worst.
    """
    return float(1 - Decimal(repr(_check_confidence(confidence))))


def _check_ddof(ddof: int) -> None:
    if ddof < 0:
        raise RiskInputError(f"ddof must be >= 0 (got {ddof})")


def _history(returns: HistoryLike, axis: int, function: str) -> History:
    history = as_history("returns", returns, axis=axis)
    n = history.observations
    if n < MIN_HISTORY:
        warnings.warn(
            f"{function} from {n} returns: below {MIN_HISTORY} the tail rests on a few points. "
            f"Pass a longer history (at least {MIN_HISTORY} returns, e.g. daily bars over more "
            f"months), or silence it with warnings.simplefilter('ignore', ShortHistoryWarning).",
            ShortHistoryWarning,
            stacklevel=3,
        )
    return history


def _quantile(values: FloatArray, level: float, method: str) -> FloatArray:
    """Per-column quantile; a NaN anywhere in a column gives NaN."""
    rule = choose("method", method, _QUANTILE_METHODS)
    return np.quantile(values, level, axis=0, method=rule)  # type: ignore[call-overload,no-any-return]


def historical_var(
    returns: HistoryLike,
    *,
    confidence: float = 0.99,
    method: QuantileMethod = "linear",
    axis: int = 0,
) -> PerSeries:
    """Historical value at risk: the loss exceeded in ``1 - confidence`` of the periods.

    Parameters
    ----------
    returns : array-like, Series or DataFrame
        Period returns as fractions (0.01 = 1%).
    confidence : float
        Confidence level in (0, 1), e.g. 0.99.
    method : str
        numpy quantile rule (``numpy.quantile(method=...)``) applied to the returns at level
        ``1 - confidence``:

        * ``"linear"`` (default): Excel ``PERCENTILE.INC``, R type 7, as ``empyrical``;
        * ``"lower"``: the observation at or below the linear position, never interpolated, so
          never a smaller loss than ``"linear"``; ``"inverted_cdf"`` (R type 1, what
          ``riskfolio`` uses) is the same or one observation less severe;
        * ``"weibull"``: Excel ``PERCENTILE.EXC`` (where Excel gives ``#NUM!`` because the level
          is outside the sample, numpy returns the extreme observation);
        * any other numpy method name.
    axis : int
        Time axis of a 2-D input.

    Returns
    -------
    float, ndarray or Series
        .. math:: \\mathrm{VaR}_c = -Q_{1-c}(r)

        a positive fraction of position value (0.05 = 5% loss) for one period.

    Examples
    --------
    Monthly portfolio returns from C. Bacon, *Practical Portfolio Performance Measurement and
    Attribution*, 2nd ed. (2008), the ``portfolio_bacon`` data of R's PerformanceAnalytics:

    >>> bacon = [0.003, 0.026, 0.011, -0.010, 0.015, 0.025, 0.016, 0.067, -0.014, 0.040,
    ...          -0.005, 0.081, 0.040, -0.037, -0.061, 0.017, -0.049, -0.022, 0.070, 0.058,
    ...          -0.065, 0.024, -0.005, -0.009]
    >>> import warnings
    >>> warnings.simplefilter("ignore", ShortHistoryWarning)
    >>> round(historical_var(bacon, confidence=0.95), 4)
    0.0592
    >>> round(historical_var(bacon, confidence=0.95, method="weibull"), 4)
    0.064
    """
    level = _tail_level(confidence)
    history = _history(returns, axis, "historical_var")
    return history.per_series(-_quantile(history.matrix, level, method))  # type: ignore[no-any-return]


def _moments(history: History, zero_mean: bool, ddof: int) -> tuple[FloatArray, FloatArray]:
    _check_ddof(ddof)
    values = history.matrix
    if history.observations <= ddof:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan
    mean = np.zeros(values.shape[1]) if zero_mean else values.mean(axis=0)
    sd = np.std(values, axis=0, ddof=ddof)
    return mean, sd


def _cornish_fisher(z: float, values: FloatArray) -> FloatArray:
    """Cornish-Fisher expansion of the standard quantile ``z`` with sample skew and kurtosis."""
    centred = values - values.mean(axis=0)
    m2 = (centred**2).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = (centred**3).mean(axis=0) / m2**1.5
        excess = (centred**4).mean(axis=0) / m2**2 - 3.0
    return (  # type: ignore[no-any-return]
        z
        + (z**2 - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * excess / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew**2 / 36.0
    )


def parametric_var(
    returns: HistoryLike,
    *,
    confidence: float = 0.99,
    distribution: Distribution = "normal",
    zero_mean: bool = False,
    ddof: int = 1,
    axis: int = 0,
) -> PerSeries:
    """Parametric value at risk from the mean and standard deviation of the returns.

    Parameters
    ----------
    returns : array-like, Series or DataFrame
        Period returns as fractions (0.01 = 1%).
    confidence : float
        Confidence level in (0, 1), e.g. 0.99.
    distribution : {"normal", "cornish_fisher"}
        ``"normal"``: Gaussian quantile. ``"cornish_fisher"``: the Gaussian quantile corrected
        for the sample skewness and excess kurtosis ("modified VaR"), which fattens the tail of
        crypto returns.
    zero_mean : bool
        Take the mean return as 0 (RiskMetrics) instead of the sample mean.
    ddof : int
        Delta degrees of freedom of the standard deviation (1 = ``STDEV.S``).
    axis : int
        Time axis of a 2-D input.

    Returns
    -------
    float, ndarray or Series
        .. math:: \\mathrm{VaR}_c = -(\\mu + z\\,\\sigma)

        a positive fraction of position value for one period, with :math:`z = N^{-1}(1-c)`
        (-2.326 at 99%) or, for Cornish-Fisher,

        .. math:: z_{cf} = z + \\frac{(z^2-1)S}{6} + \\frac{(z^3-3z)K}{24}
                  - \\frac{(2z^3-5z)S^2}{36}

        with :math:`S` the skewness and :math:`K` the excess kurtosis (moment estimators
        :math:`m_3/m_2^{3/2}` and :math:`m_4/m_2^2 - 3`). PerformanceAnalytics ``VaR(...,
        method="modified")`` also takes :math:`\\sigma` from the population moment
        :math:`\\sqrt{m_2}`: pass ``ddof=0`` to reproduce it exactly; the default ``ddof=1``
        (Excel ``STDEV.S``) gives a slightly larger VaR on short histories (up to about 7% at
        10 observations).

    Notes
    -----
    Normal VaR as in J.P. Morgan/Reuters *RiskMetrics Technical Document* (1996) and
    ``quantstats.stats.value_at_risk`` (which reports it as a negative return). Cornish-Fisher
    VaR: L. Favre and J.-A. Galeano, "Mean-modified value-at-risk optimization with hedge
    funds", *Journal of Alternative Investments* 5(2), 2002. The expansion is reliable for
    moderate skew and kurtosis; for very fat tails it can bend back (VaR falling as
    confidence rises), so check it against :func:`historical_var`.

    Examples
    --------
    >>> returns = [0.01, -0.02, 0.015, -0.005, 0.0]
    >>> import warnings
    >>> warnings.simplefilter("ignore", ShortHistoryWarning)
    >>> round(parametric_var(returns, confidence=0.99), 6)
    0.031855
    """
    level = _tail_level(confidence)
    shape = choose("distribution", distribution, ("normal", "cornish_fisher"))
    history = _history(returns, axis, "parametric_var")
    mean, sd = _moments(history, zero_mean, ddof)
    z = NormalDist().inv_cdf(level)
    quantile = _cornish_fisher(z, history.matrix) if shape == "cornish_fisher" else z
    return history.per_series(-(mean + quantile * sd))  # type: ignore[no-any-return]


def monte_carlo_var(
    returns: HistoryLike,
    *,
    confidence: float = 0.99,
    method: SimulationMethod = "normal",
    paths: int = 100_000,
    seed: int | None = None,
    zero_mean: bool = False,
    ddof: int = 1,
    axis: int = 0,
) -> PerSeries:
    """Monte Carlo value at risk: the loss quantile of simulated one-period returns.

    Parameters
    ----------
    returns : array-like, Series or DataFrame
        Period returns as fractions (0.01 = 1%).
    confidence : float
        Confidence level in (0, 1), e.g. 0.99.
    method : {"normal", "bootstrap"}
        ``"normal"``: draw :math:`\\mu + \\sigma Z` with the sample mean (or 0 with
        ``zero_mean``) and standard deviation. ``"bootstrap"``: draw past returns with
        replacement (B. Efron, 1979); the assets of a 2-D input are drawn on the same dates, so
        their joint moves are kept.
    paths : int
        Number of simulated returns.
    seed : int, optional
        Seed of ``numpy.random.default_rng``; fix it for repeatable figures.
    zero_mean, ddof : bool, int
        As in :func:`parametric_var` (``"normal"`` only).
    axis : int
        Time axis of a 2-D input.

    Returns
    -------
    float, ndarray or Series
        :math:`-Q_{1-c}` of the simulated returns (linear quantile), a positive fraction of
        position value for one period. Its sampling error shrinks as
        :math:`1/\\sqrt{\\text{paths}}`.

    Examples
    --------
    >>> returns = [0.01, -0.02, 0.015, -0.005, 0.0] * 6
    >>> round(monte_carlo_var(returns, confidence=0.99, seed=7), 3)
    0.029
    """
    level = _tail_level(confidence)
    mode = choose("method", method, ("normal", "bootstrap"))
    if not isinstance(paths, int | np.integer) or paths < 2:
        raise RiskInputError(f"paths must be a whole number >= 2 (got {format_value(paths)})")
    history = _history(returns, axis, "monte_carlo_var")
    rng = np.random.default_rng(seed)
    if mode == "normal":
        mean, sd = _moments(history, zero_mean, ddof)
        simulated = mean + sd * rng.standard_normal((int(paths), 1))
    else:
        dates = rng.integers(0, history.observations, size=int(paths))
        simulated = history.matrix[dates]
    var = -np.quantile(simulated, level, axis=0)
    # A bootstrap may happen not to draw the missing date; the column is still unknown.
    var = np.where(np.isnan(history.matrix).any(axis=0), np.nan, var)
    return history.per_series(var)  # type: ignore[no-any-return]


def expected_shortfall(
    returns: HistoryLike,
    *,
    confidence: float = 0.99,
    method: ShortfallMethod = "historical",
    quantile_method: QuantileMethod = "linear",
    zero_mean: bool = False,
    ddof: int = 1,
    axis: int = 0,
) -> PerSeries:
    """Expected shortfall (conditional VaR): the mean loss in the worst ``1 - confidence`` tail.

    Parameters
    ----------
    returns : array-like, Series or DataFrame
        Period returns as fractions (0.01 = 1%).
    confidence : float
        Confidence level in (0, 1), e.g. 0.99.
    method : {"historical", "rockafellar_uryasev", "normal"}
        * ``"historical"`` (default): the mean of the losses at or beyond the historical VaR
          (:func:`historical_var` with ``quantile_method``), i.e. of every return
          :math:`r_i \\le Q_{1-c}(r)`. With the linear rule this equals ``empyrical`` and
          ``quantstats`` ``method="historical"``.
        * ``"rockafellar_uryasev"``: :math:`v + \\frac{1}{(1-c)n}\\sum_i \\max(L_i - v, 0)`
          with :math:`v` the lower empirical quantile of the losses (``riskfolio``
          ``CVaR_Hist``); the tail mean with a fractional weight on the boundary observation
          (R. T. Rockafellar and S. Uryasev, *Journal of Banking & Finance* 26, 2002).
        * ``"normal"``: the Gaussian closed form
          :math:`-\\mu + \\sigma\\,\\varphi(N^{-1}(c))/(1-c)`.
    quantile_method : str
        numpy quantile rule of the VaR threshold for ``"historical"`` (see
        :func:`historical_var`).
    zero_mean, ddof : bool, int
        As in :func:`parametric_var` (``"normal"`` only).
    axis : int
        Time axis of a 2-D input.

    Returns
    -------
    float, ndarray or Series
        Mean tail loss, a positive fraction of position value for one period; never below the
        VaR of the same method.

    Examples
    --------
    >>> bacon = [0.003, 0.026, 0.011, -0.010, 0.015, 0.025, 0.016, 0.067, -0.014, 0.040,
    ...          -0.005, 0.081, 0.040, -0.037, -0.061, 0.017, -0.049, -0.022, 0.070, 0.058,
    ...          -0.065, 0.024, -0.005, -0.009]
    >>> import warnings
    >>> warnings.simplefilter("ignore", ShortHistoryWarning)
    >>> round(expected_shortfall(bacon, confidence=0.95), 4)
    0.063
    >>> round(expected_shortfall(bacon, confidence=0.95, method="rockafellar_uryasev"), 4)
    0.0643
    """
    c = _check_confidence(confidence)
    level = _tail_level(c)
    mode = choose("method", method, ("historical", "rockafellar_uryasev", "normal"))
    history = _history(returns, axis, "expected_shortfall")
    values = history.matrix
    if mode == "normal":
        mean, sd = _moments(history, zero_mean, ddof)
        z = NormalDist().inv_cdf(c)
        return history.per_series(-mean + sd * NormalDist().pdf(z) / level)  # type: ignore[no-any-return]
    losses = -values
    if mode == "historical":
        threshold = _quantile(values, level, quantile_method)
        tail = values <= threshold
        with np.errstate(invalid="ignore", divide="ignore"):
            shortfall = -(np.where(tail, values, 0.0).sum(axis=0) / tail.sum(axis=0))
    else:
        var = -np.quantile(values, level, axis=0, method="inverted_cdf")
        excess = np.maximum(losses - var, 0.0).sum(axis=0)
        shortfall = var + excess / (level * history.observations)
    # A NaN in a column leaves NaN out of the comparisons above: restore it.
    shortfall = np.where(np.isnan(values).any(axis=0), np.nan, shortfall)
    return history.per_series(shortfall)  # type: ignore[no-any-return]


def scale_to_horizon(value: FloatLike, horizon: FloatLike) -> FloatResult:
    """Scale a one-period volatility, VaR or ES to ``horizon`` periods by :math:`\\sqrt{h}`.

    Parameters
    ----------
    value : float or array-like
        One-period figure (fraction).
    horizon : float or array-like
        Number of periods (>= 0), e.g. 10 for a 10-day figure from daily data.

    Returns
    -------
    float, ndarray or Series
        :math:`x\\sqrt{h}`.

    Notes
    -----
    The square-root-of-time rule (the Basel "10-day = sqrt(10) x 1-day") assumes independent,
    identically distributed zero-mean returns. It ignores volatility clustering: after a calm
    spell it understates, and right after a shock it overstates, the risk over several periods,
    because volatility reverts to its mean (a GARCH forecast is not flat). It also ignores
    the mean, which matters over long horizons.

    Examples
    --------
    >>> round(scale_to_horizon(0.02, 10), 6)
    0.063246
    """
    form, (one_period, periods) = broadcast(value=value, horizon=horizon)
    require("horizon", periods, periods >= 0, "be >= 0")
    return form.wrap(one_period * np.sqrt(periods))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class BookVar:
    """VaR and ES of a whole book in USD, with what they cover.

    Attributes
    ----------
    historical_var, historical_es : float
        Historical simulation on the joint history: :math:`-Q_{1-c}(P)` and the mean loss at or
        beyond it (as :func:`historical_var` and :func:`expected_shortfall`, ``"historical"``),
        where :math:`P_t = \\sum_i e_i r_{i,t}`, scaled by :math:`\\sqrt{h}`. USD, loss positive.
    normal_var, normal_es : float
        Normal (variance-covariance): :math:`-(e\\cdot\\mu + z\\sqrt{e^\\top\\Sigma e})` and
        :math:`-e\\cdot\\mu + \\sqrt{e^\\top\\Sigma e}\\,\\varphi(z)/(1-c)`, scaled by
        :math:`\\sqrt{h}`. USD.
    observations : int
        Dates on which every covered asset has a return (the joint history).
    covered : tuple of str
        Assets held with a price history, in the order of ``returns``' columns.
    missing : tuple of str
        Assets held with no history (no column, or fewer than 2 returns): not in the figures,
        never counted as riskless.
    exposures : pandas.Series
        Net USD exposure per asset held (long +, short -), covered or not.
    covered_value, book_value : float
        Gross USD value (sum of absolute exposures, per position when positions are given) of
        the covered positions and of the whole book.
    positions_covered : pandas.Series
        One bool per position (the index of ``exposures`` as given): its asset has a history.
    per_asset : pandas.DataFrame
        Per covered asset, on the joint history: ``exposure`` (USD), ``volatility`` (per-period
        standard deviation of its returns), ``historical_var`` and ``normal_var`` of the asset
        alone (USD, over the horizon).
    correlation : pandas.DataFrame
        Correlation matrix of the covered assets' returns on the joint history.
    pnl : pandas.Series
        The one-period P&L series :math:`P_t` (USD) the historical figures come from.
    """

    historical_var: float
    historical_es: float
    normal_var: float
    normal_es: float
    observations: int
    covered: tuple[str, ...]
    missing: tuple[str, ...]
    exposures: pd.Series
    covered_value: float
    book_value: float
    positions_covered: pd.Series
    per_asset: pd.DataFrame
    correlation: pd.DataFrame
    pnl: pd.Series

    @property
    def coverage(self) -> float:
        """Share of the book's gross value the figures cover (NaN for an empty book)."""
        return self.covered_value / self.book_value if self.book_value > 0 else math.nan


def _asset_key(value: object) -> str:
    return str(value).strip().upper()


def book_var(
    returns: pd.DataFrame,
    exposures: pd.Series | dict[str, float],
    *,
    assets: pd.Series | list[str] | tuple[str, ...] | None = None,
    confidence: float = 0.99,
    method: QuantileMethod = "linear",
    horizon: float = 1.0,
    zero_mean: bool = False,
    ddof: int = 1,
) -> BookVar:
    """Value at risk and expected shortfall of a book of several assets, in USD.

    Parameters
    ----------
    returns : pandas.DataFrame
        Period returns (fractions), oldest first, one column per asset named by the asset
        (``"BTC"``; matched without regard to case or surrounding spaces). NaN where an asset
        has no return on a date.
    exposures : pandas.Series or dict
        USD value of each position (or of each asset), long +, short -. Its index names the
        asset unless ``assets`` is given.
    assets : sequence of str, optional
        The asset of each exposure, in order (``"BTC"`` for ``BTC/USDT:USDT`` and for
        ``BTC/USD:BTC``); positions on one asset are netted.
    confidence : float
        Confidence level in (0, 1), e.g. 0.99.
    method : str
        numpy quantile rule of the historical VaR (see :func:`historical_var`).
    horizon : float
        Periods (>= 0); every figure is scaled by :math:`\\sqrt{h}` (:func:`scale_to_horizon`).
    zero_mean, ddof : bool, int
        As in :func:`parametric_var` (normal figures only).

    Returns
    -------
    BookVar
        The four figures in USD (losses positive) and the coverage: the assets held that have a
        history are covered, the others are named in ``missing`` and left out (their share of
        the book is ``1 - coverage``).

    Notes
    -----
    The joint history is the dates on which every covered asset has a return; the P&L of a
    date is :math:`P_t = \\sum_i e_i r_{i,t}` with :math:`e_i` the net exposure (a
    first-order, delta P&L; with log returns it is the usual approximation). Historical VaR
    and ES are those of :math:`P` as :func:`historical_var` and :func:`expected_shortfall`
    compute them for returns. The normal figures take the mean vector :math:`\\mu` and the
    sample covariance :math:`\\Sigma` (``ddof``) of the joint returns; since the covariance
    is bilinear, :math:`\\sqrt{e^\\top\\Sigma e}` is exactly the standard deviation of
    :math:`P` (Jorion, *Value at Risk*, 3rd ed., ch. 7). A book whose assets have no joint
    history gets NaN figures, never zero.

    Examples
    --------
    >>> import warnings
    >>> warnings.simplefilter("ignore", ShortHistoryWarning)
    >>> r = pd.DataFrame({"BTC": [0.01, -0.02, 0.015, -0.005, 0.0],
    ...                   "ETH": [0.02, -0.03, 0.01, 0.0, -0.01]})
    >>> book = book_var(r, {"BTC": 1000.0, "ETH": -500.0, "SOL": 200.0}, confidence=0.95)
    >>> book.covered, book.missing, round(book.coverage, 4)
    (('BTC', 'ETH'), ('SOL',), 0.8824)
    >>> round(book.historical_var, 4), round(book.normal_var, 4)
    (5.0, 9.7231)
    """
    c = _check_confidence(confidence)
    level = _tail_level(c)
    rule = choose("method", method, _QUANTILE_METHODS)
    _check_ddof(ddof)
    if not isinstance(returns, pd.DataFrame):
        raise RiskInputError("returns must be a table with one column per asset, named by it "
                             f"(got {type(returns).__name__})")
    frame = pd.DataFrame(to_float_array("returns", returns.to_numpy()),
                         index=returns.index, columns=[_asset_key(c) for c in returns.columns])
    if frame.columns.duplicated().any():
        twice = frame.columns[frame.columns.duplicated()][0]
        raise RiskInputError(f"returns must have one column per asset ({twice} twice)")
    raw = pd.Series(exposures, dtype=object) if isinstance(exposures, dict) else exposures
    if not isinstance(raw, pd.Series):
        raise RiskInputError("exposures must be a Series or dict of USD values "
                             f"(got {type(exposures).__name__})")
    values = pd.Series(to_float_array("exposures", raw.to_numpy()), index=raw.index)
    if not np.isfinite(values.to_numpy()).all():
        bad = values[~np.isfinite(values.to_numpy())]
        raise RiskInputError(f"exposures must be finite USD values "
                             f"(got {format_value(bad.iloc[0])} for {bad.index[0]})")
    if assets is None:
        names = [_asset_key(a) for a in values.index]
    else:
        names = [_asset_key(a) for a in assets]
        if len(names) != len(values):
            raise RiskInputError(f"assets must name the asset of each exposure "
                                 f"(got {len(names)} for {len(values)})")
    try:
        periods = float(horizon)
    except (TypeError, ValueError):
        periods = math.nan
    if not periods >= 0:
        raise RiskInputError(f"horizon must be >= 0 (got {format_value(horizon)})")
    scale = math.sqrt(periods)

    held = pd.Series(names, index=values.index)
    net = values.groupby(held.to_numpy(), sort=False).sum()
    has_history = {a for a in frame.columns if int(np.isfinite(frame[a]).sum()) >= 2}
    covered = tuple(a for a in frame.columns if a in has_history and a in net.index)
    missing = tuple(a for a in net.index if a not in has_history)
    positions_covered = held.isin(covered)
    gross = values.abs()

    joint = frame[list(covered)]
    joint = joint[np.isfinite(joint.to_numpy()).all(axis=1)]
    e = net.reindex(list(covered)).to_numpy(dtype=float)
    matrix = joint.to_numpy(dtype=float)
    pnl = pd.Series(matrix @ e, index=joint.index)
    n = len(pnl)
    nan = math.nan
    if covered and n >= 1:
        if n < MIN_HISTORY:
            warnings.warn(
                f"book_var from {n} joint returns: below {MIN_HISTORY} the tail rests on a few "
                "points. Pass a longer history, or silence it with "
                "warnings.simplefilter('ignore', ShortHistoryWarning).",
                ShortHistoryWarning, stacklevel=2)
        threshold = float(np.quantile(pnl.to_numpy(), level, method=rule))  # type: ignore[call-overload]
        tail = pnl.to_numpy()[pnl.to_numpy() <= threshold]
        h_var, h_es = -threshold * scale, -float(tail.mean()) * scale
    else:
        h_var = h_es = nan
    z = NormalDist().inv_cdf(level)
    density = NormalDist().pdf(z) / level
    if covered and n > ddof:
        mu = np.zeros(len(covered)) if zero_mean else matrix.mean(axis=0)
        sigma = np.atleast_2d(np.cov(matrix, rowvar=False, ddof=ddof))
        sd = math.sqrt(max(float(e @ sigma @ e), 0.0))
        mean = float(e @ mu)
        n_var, n_es = -(mean + z * sd) * scale, (-mean + sd * density) * scale
        vol = np.sqrt(np.diag(sigma))
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = sigma / np.outer(vol, vol)
        alone_normal = -(e * mu + z * np.abs(e) * vol) * scale
    else:
        n_var = n_es = nan
        mu = vol = alone_normal = np.full(len(covered), nan)
        correlation = np.full((len(covered), len(covered)), nan)
    if covered and n >= 1:
        alone_hist = np.array([
            -float(np.quantile(e[i] * matrix[:, i], level, method=rule))  # type: ignore[call-overload]
            for i in range(len(covered))]) * scale
    else:
        alone_hist = np.full(len(covered), nan)
    per_asset = pd.DataFrame({"exposure": e, "volatility": vol,
                              "historical_var": alone_hist, "normal_var": alone_normal},
                             index=pd.Index(covered, name="asset"))
    return BookVar(
        historical_var=h_var, historical_es=h_es, normal_var=n_var, normal_es=n_es,
        observations=n, covered=covered, missing=missing, exposures=net,
        covered_value=float(gross[positions_covered.to_numpy()].sum()),
        book_value=float(gross.sum()), positions_covered=positions_covered,
        per_asset=per_asset,
        correlation=pd.DataFrame(correlation, index=list(covered), columns=list(covered)),
        pnl=pnl,
    )
