"""Returns and volatility estimators for price histories.

Time-series functions take a history and reduce it along the time axis:

* a 1-D sequence (list, ndarray, Series) gives a float;
* a 2-D ndarray (time x assets, ``axis=0``) gives an ndarray with one value per asset;
* a DataFrame (rows = time, columns = assets) gives a Series indexed by the columns.

Volatilities are standard deviations of per-period returns (fractions, 0.02 = 2%) multiplied by
``sqrt(periods_per_year)``. The default 365 suits daily bars of crypto markets, which trade every
day; use 252 for exchange-traded assets, ``365 * 24`` for hourly bars and 1 for the raw
per-period figure. Missing data (NaN) anywhere in a column gives NaN for that column: drop it
first (``Series.dropna()``) if the gap is expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskfuncs._arrays import FloatArray, choose, format_value, require, to_float_array
from riskfuncs._errors import RiskInputError

#: A price or return history: 1-D sequence, 2-D array (time x assets), Series or DataFrame.
HistoryLike: TypeAlias = "npt.ArrayLike | pd.Series[float] | pd.DataFrame"
#: One value per history: float (1-D input), ndarray (2-D) or Series (DataFrame, by column).
PerSeries: TypeAlias = "float | FloatArray | pd.Series[float]"
#: A path in the input's container: ndarray, Series or DataFrame.
PathResult: TypeAlias = "FloatArray | pd.Series[float] | pd.DataFrame"

ReturnKind = Literal["simple", "log"]
EwmaStart = Literal["backcast", "sample", "first"]

#: RiskMetrics' decay factor for daily data (J.P. Morgan/Reuters, *RiskMetrics Technical
#: Document*, 1996): the default ``lam`` everywhere perprisk computes an EWMA volatility.
RISKMETRICS_LAMBDA = 0.94
#: Weight decay and length of the backcast that starts the EWMA recursion, as in the ``arch``
#: package (``VolatilityProcess.backcast``): a 0.94-weighted mean of the first 75 squared returns.
BACKCAST_DECAY = 0.94
BACKCAST_LENGTH = 75
_BACKCAST_DECAY, _BACKCAST_LENGTH = BACKCAST_DECAY, BACKCAST_LENGTH


@dataclass(frozen=True)
class History:
    """A history as a (time x series) float matrix, plus what is needed to hand results back."""

    matrix: FloatArray
    shape: Literal["vector", "matrix", "frame"]
    time_index: pd.Index | None
    columns: pd.Index | None
    axis: int

    @property
    def observations(self) -> int:
        return int(self.matrix.shape[0])

    def as_given(self, matrix: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """A (time x series) matrix back in the caller's layout, for error positions."""
        if self.shape == "vector":
            return matrix[:, 0]
        return matrix if self.axis == 0 else matrix.T

    def require(self, name: str, ok: npt.NDArray[np.bool_], rule: str) -> None:
        """Check every observation; an error names the position in the caller's layout."""
        require(name, self.as_given(self.matrix), self.as_given(ok), rule)

    def per_series(self, result: npt.ArrayLike) -> Any:
        """One value per series: float, ndarray or Series (by column)."""
        array = np.asarray(result, dtype=float).reshape(-1)
        if self.shape == "vector":
            return float(array[0])
        if self.shape == "frame":
            return pd.Series(array, index=self.columns)
        return array

    def path(self, result: npt.ArrayLike, time_index: pd.Index | None = None) -> Any:
        """A (time x series) result shaped like the input (ndarray, Series or DataFrame)."""
        matrix = np.asarray(result, dtype=float)
        index = self.time_index if time_index is None else time_index
        if self.shape == "vector":
            column = matrix[:, 0]
            return column if index is None else pd.Series(column, index=index)
        if self.shape == "frame":
            frame = pd.DataFrame(matrix, index=index, columns=self.columns)
            return frame if self.axis == 0 else frame.T
        return matrix if self.axis == 0 else matrix.T


def as_history(name: str, data: Any, *, axis: int = 0) -> History:
    """Read a 1-D or 2-D history; series run along ``axis`` (time axis)."""
    if axis not in (0, 1):
        raise RiskInputError(f"axis must be 0 or 1 (got {format_value(axis)})")
    time_index: pd.Index | None = None
    columns: pd.Index | None = None
    if isinstance(data, pd.DataFrame):
        values = to_float_array(name, data.to_numpy())
        time_index, columns = data.index, data.columns
        if axis == 1:
            time_index, columns = columns, time_index
        shape: Literal["vector", "matrix", "frame"] = "frame"
    else:
        if isinstance(data, pd.Series):
            time_index = data.index
        values = to_float_array(name, data)
        if values.ndim == 0:
            raise RiskInputError(f"{name} must be a history of values (got one number)")
        if values.ndim > 2:
            raise RiskInputError(f"{name} must be 1-D or 2-D (got {values.ndim}-D)")
        shape = "vector" if values.ndim == 1 else "matrix"
    if values.ndim == 1:
        if axis != 0:
            raise RiskInputError(f"axis must be 0 for a 1-D {name} (got {axis})")
        values = values[:, np.newaxis]
    elif axis == 1:
        values = values.T
    if values.shape[0] == 0:
        raise RiskInputError(f"{name} must hold at least one observation (got none)")
    return History(matrix=values, shape=shape, time_index=time_index, columns=columns, axis=axis)


def same_shape(histories: dict[str, History]) -> None:
    """Check that several histories (open, high, low, close) line up."""
    (first_name, first), *rest = histories.items()
    for name, other in rest:
        if other.matrix.shape != first.matrix.shape:
            raise RiskInputError(
                f"{name} must have the shape of {first_name} "
                f"(got {other.matrix.shape} vs {first.matrix.shape})"
            )
        mine, theirs = other.time_index, first.time_index
        if mine is not None and theirs is not None and not mine.equals(theirs):
            raise RiskInputError(f"{name} must share the index of {first_name}")


def require_periods_per_year(periods_per_year: float) -> float:
    value = float(periods_per_year)
    if not (value > 0 and math.isfinite(value)):
        raise RiskInputError(
            f"periods_per_year must be > 0, e.g. 365 for daily crypto bars "
            f"(got {format_value(periods_per_year)})"
        )
    return value


def returns(prices: HistoryLike, *, kind: ReturnKind = "simple", axis: int = 0) -> PathResult:
    """Period returns of a price history.

    Parameters
    ----------
    prices : array-like, Series or DataFrame
        Prices (quote currency per unit, > 0) in time order; 2-D input is time x assets.
    kind : {"simple", "log"}
        ``"simple"``: :math:`r_t = P_t / P_{t-1} - 1`; ``"log"``: :math:`r_t = \\ln(P_t/P_{t-1})`.
    axis : int
        Time axis of a 2-D input.

    Returns
    -------
    ndarray, Series or DataFrame
        One row fewer than ``prices`` (the first price has no return), as fractions
        (0.01 = 1%). A Series or DataFrame keeps the index labels of the later price.

    Examples
    --------
    >>> returns([100.0, 110.0, 99.0]).round(6).tolist()
    [0.1, -0.1]
    >>> returns([100.0, 110.0], kind="log").round(6).tolist()
    [0.09531]
    """
    history = as_history("prices", prices, axis=axis)
    mode = choose("kind", kind, ("simple", "log"))
    values = history.matrix
    history.require("prices", values > 0, "be > 0")
    ratio = values[1:] / values[:-1]
    result = np.log(ratio) if mode == "log" else ratio - 1.0
    later = None if history.time_index is None else history.time_index[1:]
    return history.path(result, later)  # type: ignore[no-any-return]


def close_to_close_volatility(
    returns: HistoryLike, *, periods_per_year: float = 365, ddof: int = 1, axis: int = 0
) -> PerSeries:
    """Annualised standard deviation of period returns (close-to-close volatility).

    Parameters
    ----------
    returns : array-like, Series or DataFrame
        Period returns as fractions (0.01 = 1%), e.g. from :func:`returns`.
    periods_per_year : float
        Return periods in a year: 365 for daily crypto bars (default), 252 for exchange hours,
        8760 for hourly bars, 1 to leave the figure per period.
    ddof : int
        Delta degrees of freedom of the standard deviation; 1 (default) is the sample standard
        deviation (Excel ``STDEV.S``).
    axis : int
        Time axis of a 2-D input.

    Returns
    -------
    float, ndarray or Series
        :math:`\\sigma = \\operatorname{sd}(r) \\sqrt{\\text{periods\\_per\\_year}}`, a fraction
        per year (0.6 = 60%). NaN when there are ``ddof`` observations or fewer.

    Notes
    -----
    Same definition as ``empyrical.annual_volatility`` and ``quantstats.stats.volatility``, which
    annualise with 252 by default; crypto trades every day of the year, hence 365 here.

    Examples
    --------
    >>> round(close_to_close_volatility([0.01, -0.01, 0.01, -0.01], periods_per_year=1), 6)
    0.011547
    """
    history = as_history("returns", returns, axis=axis)
    scale = require_periods_per_year(periods_per_year)
    if ddof < 0:
        raise RiskInputError(f"ddof must be >= 0 (got {ddof})")
    n = history.observations
    if n <= ddof:
        sd = np.full(history.matrix.shape[1], np.nan)
    else:
        sd = np.std(history.matrix, axis=0, ddof=ddof)
    return history.per_series(sd * math.sqrt(scale))  # type: ignore[no-any-return]


def _ewma_start(values: FloatArray, start: EwmaStart | float) -> FloatArray:
    """Per-period variance that seeds the recursion, one per series."""
    if not isinstance(start, str):
        seed = float(start)
        if not (seed >= 0 and math.isfinite(seed)):
            raise RiskInputError(
                f"start must be a variance >= 0 per period or one of backcast, sample, first "
                f"(got {format_value(start)})"
            )
        return np.full(values.shape[1], seed)
    mode = choose("start", start, ("backcast", "sample", "first"))
    squares = values**2
    if mode == "first":
        return np.array(squares[0])
    if mode == "sample":
        return squares.mean(axis=0)  # type: ignore[no-any-return]
    length = min(_BACKCAST_LENGTH, values.shape[0])
    weights = _BACKCAST_DECAY ** np.arange(length)
    return weights @ squares[:length] / weights.sum()  # type: ignore[no-any-return]


def _ewma_variances(values: FloatArray, lam: float, start: EwmaStart | float) -> FloatArray:
    """Per-period variances sigma2_0..sigma2_n: sigma2_t is known after return t - 1.

    Row t of the (n + 1) x series result is the variance of return t (0-based); the last row is
    the forecast for the period after the history.
    """
    lam = float(lam)
    if not 0.0 < lam < 1.0:
        raise RiskInputError(
            f"lam must be in (0, 1), 0.94 for daily data (got {format_value(lam)})"
        )
    n = values.shape[0]
    variances = np.empty((n + 1, values.shape[1]))
    variances[0] = _ewma_start(values, start)
    squares = values**2
    innovation = 1.0 - lam
    # The recursion is sequential in time; each step is vectorised over the series.
    for t in range(n):
        variances[t + 1] = lam * variances[t] + innovation * squares[t]
    return variances


def ewma_volatility(
    returns: HistoryLike,
    *,
    lam: float = RISKMETRICS_LAMBDA,
    periods_per_year: float = 365,
    start: EwmaStart | float = "backcast",
    axis: int = 0,
) -> PerSeries:
    """RiskMetrics exponentially weighted volatility forecast for the next period, annualised.

    Parameters
    ----------
    returns : array-like, Series or DataFrame
        Period returns as fractions, oldest first. The mean is taken as zero.
    lam : float
        Decay factor in (0, 1): 0.94 for daily data, 0.97 for monthly (RiskMetrics).
    periods_per_year : float
        Return periods in a year used to annualise (365 for daily crypto bars; 1 = per period).
    start : {"backcast", "sample", "first"} or float
        Variance :math:`\\sigma^2_0` that seeds the recursion (for the first return):

        * ``"backcast"`` (default): :math:`\\sum_{i<\\tau} w_i r_i^2` with
          :math:`w_i \\propto 0.94^i` over the first :math:`\\tau = \\min(75, n)` returns, the
          rule of the ``arch`` package (``EWMAVariance``); the weights use 0.94 whatever ``lam``;
        * ``"sample"``: the mean of all squared returns (zero-mean sample variance);
        * ``"first"``: the first squared return;
        * a number: that per-period variance.

        The seed's weight decays as :math:`\\lambda^n` (below 1% after 75 daily returns).
    axis : int
        Time axis of a 2-D input.

    Returns
    -------
    float, ndarray or Series
        :math:`\\sqrt{\\sigma^2_{n} \\cdot \\text{periods\\_per\\_year}}`, the volatility of the
        period after the last return, a fraction per year.

    Notes
    -----
    J.P. Morgan/Reuters, *RiskMetrics Technical Document*, 4th ed. (1996), chapter 5:

    .. math:: \\sigma^2_t = \\lambda \\sigma^2_{t-1} + (1 - \\lambda) r^2_{t-1}

    The forecast for any later period is the same (a flat term structure), which is why
    :func:`riskfuncs.var.scale_to_horizon` scales it by :math:`\\sqrt{h}`. Use
    :func:`ewma_volatility_path` for the whole series of conditional volatilities.

    Examples
    --------
    >>> round(ewma_volatility([0.02, -0.01, 0.03], periods_per_year=1, start=0.0004), 6)
    0.020324
    """
    history = as_history("returns", returns, axis=axis)
    scale = require_periods_per_year(periods_per_year)
    variances = _ewma_variances(history.matrix, lam, start)
    return history.per_series(np.sqrt(variances[-1] * scale))  # type: ignore[no-any-return]


def ewma_volatility_path(
    returns: HistoryLike,
    *,
    lam: float = RISKMETRICS_LAMBDA,
    periods_per_year: float = 365,
    start: EwmaStart | float = "backcast",
    axis: int = 0,
) -> PathResult:
    """Conditional EWMA volatility of every period of the history, annualised.

    Same recursion, parameters and seed as :func:`ewma_volatility`. Entry ``t`` is the volatility
    of return ``t`` forecast from the returns before it (entry 0 is the seed), the series the
    ``arch`` package reports as ``conditional_volatility``. Its length equals that of
    ``returns``, and a Series or DataFrame keeps the index; the forecast for the next period is
    :func:`ewma_volatility`.

    Examples
    --------
    >>> path = ewma_volatility_path([0.02, -0.01, 0.03], periods_per_year=1, start=0.0004)
    >>> path.round(6).tolist()
    [0.02, 0.02, 0.019545]
    """
    history = as_history("returns", returns, axis=axis)
    scale = require_periods_per_year(periods_per_year)
    variances = _ewma_variances(history.matrix, lam, start)
    return history.path(np.sqrt(variances[:-1] * scale))  # type: ignore[no-any-return]


def _price_histories(axis: int, **named: HistoryLike) -> tuple[History, list[FloatArray]]:
    """Read aligned bar prices; the first history decides the output container."""
    histories = {name: as_history(name, value, axis=axis) for name, value in named.items()}
    same_shape(histories)
    for name, history in histories.items():
        history.require(name, history.matrix > 0, "be > 0")
    high = histories["high"]
    high_values, low_values = high.matrix, histories["low"].matrix
    high.require("high", high_values >= low_values, "be >= low")
    # An open or close outside its bar's range is a data error; Garman-Klass would turn it
    # into a smaller (even negative) variance instead of failing.
    for name in ("open", "close"):
        if name in histories:
            bar = histories[name]
            bar.require(name, (bar.matrix >= low_values) & (bar.matrix <= high_values),
                        "be within [low, high] of its bar")
    first = next(iter(histories.values()))
    return first, [history.matrix for history in histories.values()]


def parkinson_volatility(
    high: HistoryLike, low: HistoryLike, *, periods_per_year: float = 365, axis: int = 0
) -> PerSeries:
    """Parkinson (1980) high-low range volatility, annualised.

    Parameters
    ----------
    high, low : array-like, Series or DataFrame
        Highest and lowest price of each bar (quote currency, > 0), same shape.
    periods_per_year : float
        Bars in a year (365 for daily crypto bars; 1 = per bar).
    axis : int
        Time axis of 2-D input.

    Returns
    -------
    float, ndarray or Series
        .. math:: \\sigma = \\sqrt{\\frac{P}{4 n \\ln 2} \\sum_t \\ln^2(H_t / L_t)}

        with ``P = periods_per_year``; a fraction per year.

    Notes
    -----
    M. Parkinson, "The extreme value method for estimating the variance of the rate of return",
    *Journal of Business* 53(1), 61-65 (1980). Assumes a driftless random walk traded
    continuously inside each bar; gaps between bars are not seen.

    Examples
    --------
    >>> round(parkinson_volatility([101.0, 102.0], [99.0, 100.0], periods_per_year=1), 6)
    0.011952
    """
    history, (high_values, low_values) = _price_histories(axis, high=high, low=low)
    scale = require_periods_per_year(periods_per_year)
    squares = np.log(high_values / low_values) ** 2
    variance = squares.mean(axis=0) / (4.0 * math.log(2.0))
    return history.per_series(np.sqrt(variance * scale))  # type: ignore[no-any-return]


def garman_klass_volatility(
    open: HistoryLike,
    high: HistoryLike,
    low: HistoryLike,
    close: HistoryLike,
    *,
    periods_per_year: float = 365,
    axis: int = 0,
) -> PerSeries:
    """Garman-Klass (1980) open-high-low-close volatility, annualised.

    Parameters
    ----------
    open, high, low, close : array-like, Series or DataFrame
        Prices of each bar (quote currency, > 0), same shape.
    periods_per_year : float
        Bars in a year (365 for daily crypto bars; 1 = per bar).
    axis : int
        Time axis of 2-D input.

    Returns
    -------
    float, ndarray or Series
        .. math:: \\sigma = \\sqrt{\\frac{P}{n} \\sum_t \\left[\\tfrac12 \\ln^2(H_t/L_t)
                  - (2\\ln 2 - 1) \\ln^2(C_t/O_t)\\right]}

        with ``P = periods_per_year``; a fraction per year.

    Notes
    -----
    M. B. Garman and M. J. Klass, "On the estimation of security price volatilities from
    historical data", *Journal of Business* 53(1), 67-78 (1980), estimator
    :math:`\\hat\\sigma^2_5` in its practical form. Assumes zero drift and no opening gap.

    Examples
    --------
    >>> round(garman_klass_volatility([100.0], [102.0], [99.0], [101.0], periods_per_year=1), 6)
    0.020183
    """
    history, (open_values, high_values, low_values, close_values) = _price_histories(
        axis, open=open, high=high, low=low, close=close
    )
    scale = require_periods_per_year(periods_per_year)
    range_term = 0.5 * np.log(high_values / low_values) ** 2
    body_term = (2.0 * math.log(2.0) - 1.0) * np.log(close_values / open_values) ** 2
    variance = (range_term - body_term).mean(axis=0)
    return history.per_series(np.sqrt(variance * scale))  # type: ignore[no-any-return]
