"""Trading discipline: the rules a trader sets, checked one by one or all at once.

Each ``check_*`` function returns rows of one tidy table with the columns of
:data:`CHECK_COLUMNS`:

* ``check``: which rule (``leverage``, ``margin_buffer``, ``stop_loss``, ``diversification``,
  ``model_freshness``);
* ``scope``: what it was checked on (a position, an account, the portfolio);
* ``passed``: True / False, or missing (``<NA>``) when an input is missing and the rule cannot
  be judged;
* ``value`` and ``limit``: the number checked and the limit it was checked against;
* ``message``: what is wrong and what to do, in trader words.

:func:`risk_audit` runs every check whose inputs are given; :func:`discipline_report` runs them
all on a book of positions (ccxt ``Position`` columns). :func:`position_size` sizes a trade so
that hitting the stop loses a set fraction of equity.

The default limits (:class:`DisciplineLimits`): leverage at most 5x, margin at least 30 % above
the maintenance requirement, a stop-loss that fires before liquidation, no venue with more than
half the exchange exposure and at least two venues, a volatility estimate at most one day old.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskfuncs._arrays import (
    FloatArray,
    broadcast,
    choose,
    format_value,
    require,
    require_non_negative,
    require_positive,
    require_rate,
    side_sign,
)
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import Contract, FloatLike, SideLike
from riskfuncs.book import Book, as_book
from riskfuncs.counterparty import (
    MAX_VENUE_SHARE,
    MIN_VENUES,
    diversification_check,
    exposure_by_exchange,
)
from riskfuncs.margin import CONTRACTS, margin_buffer
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.tiers import TierMap

__all__ = [
    "CHECK_COLUMNS",
    "DisciplineLimits",
    "check_diversification",
    "check_leverage",
    "check_margin_buffer",
    "check_model_freshness",
    "check_stop_loss",
    "discipline_report",
    "position_size",
    "risk_audit",
]

CHECK_COLUMNS: tuple[str, ...] = ("check", "scope", "passed", "value", "limit", "message")

#: Leverage cap, minimum margin buffer and maximum volatility-estimate age used by default.
LEVERAGE_CAP = 5.0
MINIMUM_MARGIN_BUFFER = 0.30
#: RiskMetrics updates its volatility estimates daily (J.P. Morgan/Reuters, "RiskMetrics -
#: Technical Document", 4th ed., 1996); an older estimate misses the latest move.
MAX_MODEL_AGE_DAYS = 1.0


@dataclass(frozen=True)
class DisciplineLimits:
    """The limits :func:`risk_audit` and :func:`discipline_report` check against.

    Attributes
    ----------
    leverage_cap : float
        Highest effective leverage (notional / margin balance), > 0. Default 5x.
    minimum_margin_buffer : float
        Lowest ``balance / maintenance requirement - 1``, >= 0. Default 0.30 (30 % above).
    max_venue_share : float
        Largest share of exchange exposure on one venue, in (0, 1]. Default 0.5.
    min_venues : int
        Fewest venues holding exposure, >= 1. Default 2.
    max_model_age_days : float
        Oldest acceptable volatility estimate in days, > 0. Default 1.
    """

    leverage_cap: float = LEVERAGE_CAP
    minimum_margin_buffer: float = MINIMUM_MARGIN_BUFFER
    max_venue_share: float = MAX_VENUE_SHARE
    min_venues: int = MIN_VENUES
    max_model_age_days: float = MAX_MODEL_AGE_DAYS

    def __post_init__(self) -> None:
        _require_limit("leverage_cap", self.leverage_cap, self.leverage_cap > 0, "be > 0")
        _require_limit("minimum_margin_buffer", self.minimum_margin_buffer,
                       self.minimum_margin_buffer >= 0, "be >= 0")
        _require_limit("max_venue_share", self.max_venue_share,
                       0 < self.max_venue_share <= 1, "be in (0, 1]")
        _require_limit("min_venues", self.min_venues,
                       self.min_venues >= 1 and int(self.min_venues) == self.min_venues,
                       "be a whole number >= 1")
        _require_limit("max_model_age_days", self.max_model_age_days,
                       self.max_model_age_days > 0, "be > 0")


def _require_limit(name: str, value: float, ok: bool, rule: str) -> None:
    if not ok or value != value:  # NaN limits make no sense
        raise RiskInputError(f"{name} must {rule} (got {format_value(value)})")


DEFAULT_LIMITS = DisciplineLimits()


# --------------------------------------------------------------------------------------------
# Row building


def _scopes(scope: Any, index: pd.Index | None, shape: tuple[int, ...]) -> list[str]:
    size = int(np.prod(shape)) if shape else 1
    if scope is None:
        if index is not None:
            return [str(label) for label in index]
        return ["position"] if not shape else [f"position {i}" for i in range(size)]
    if isinstance(scope, str):
        return [scope] * size
    labels = [str(label) for label in (scope.to_numpy() if isinstance(scope, pd.Series)
                                       else scope)]
    if len(labels) != size:
        raise RiskInputError(f"scope must have one label per value (got {len(labels)} for {size})")
    return labels


def _table(check: str, scopes: Sequence[str], passed: Any, value: Any, limit: Any,
           messages: Sequence[str]) -> pd.DataFrame:
    passed_array = np.asarray(passed, dtype=float).reshape(-1)
    return pd.DataFrame(
        {
            "check": pd.Series([check] * len(scopes), dtype=object),
            "scope": pd.Series(list(scopes), dtype=object),
            "passed": pd.arrays.BooleanArray(passed_array == 1.0, np.isnan(passed_array)),
            "value": np.broadcast_to(np.asarray(value, dtype=float), passed_array.shape).copy(),
            "limit": np.broadcast_to(np.asarray(limit, dtype=float), passed_array.shape).copy(),
            "message": pd.Series(list(messages), dtype=object),
        },
        columns=list(CHECK_COLUMNS),
    )


def _verdict(ok: Any, known: Any) -> FloatArray:
    """1.0 pass, 0.0 fail, NaN unknown."""
    return np.where(known, np.asarray(ok, dtype=float), np.nan)


def _price(value: float) -> str:
    return f"{value:,.6g}" if math.isfinite(value) else f"{value}"


# --------------------------------------------------------------------------------------------
# The checks


def check_leverage(
    leverage: FloatLike, *, cap: float = LEVERAGE_CAP, scope: Any = None
) -> pd.DataFrame:
    """Is effective leverage (notional / margin balance) at or under the cap?

    Parameters
    ----------
    leverage : float, array-like or Series
        Effective leverage, >= 0 (``inf`` when the margin balance is gone).
    cap : float
        Highest leverage allowed, > 0 (default 5x).
    scope : str or sequence of str, optional
        Label of each value in the ``scope`` column; default the Series index or
        "position".

    Returns
    -------
    DataFrame
        One row per value, columns :data:`CHECK_COLUMNS`; ``value`` is the leverage, ``limit``
        the cap.

    Notes
    -----
    With margin fixed, cutting the notional by ``1 - cap / leverage`` brings leverage to the cap;
    with the position fixed, the margin must grow by ``leverage / cap - 1``.

    Examples
    --------
    >>> check_leverage(8.0).loc[0, "message"]
    'leverage 8x is above your 5x cap: cut the position by 38% or add 60% more margin'
    >>> bool(check_leverage(3.0).loc[0, "passed"])
    True
    """
    _require_limit("cap", cap, cap > 0, "be > 0")
    form, (lev,) = broadcast(leverage=leverage)
    require_non_negative("leverage", lev)
    flat = lev.reshape(-1)
    messages = []
    for value in flat.tolist():
        if value != value:
            messages.append("leverage unknown: fill in size, prices and collateral")
        elif value == np.inf:
            messages.append("margin balance is gone (leverage unlimited): add margin or close now")
        elif value > cap:
            messages.append(
                f"leverage {value:.3g}x is above your {cap:g}x cap: cut the position by "
                f"{1 - cap / value:.0%} or add {value / cap - 1:.0%} more margin"
            )
        else:
            messages.append(f"leverage {value:.3g}x is within your {cap:g}x cap")
    passed = _verdict(flat <= cap, ~np.isnan(flat))
    return _table("leverage", _scopes(scope, form.index, lev.shape), passed, flat, cap, messages)


def check_margin_buffer(
    margin_balance: FloatLike,
    requirement: FloatLike,
    *,
    minimum: float = MINIMUM_MARGIN_BUFFER,
    scope: Any = None,
) -> pd.DataFrame:
    """Does the margin balance sit at least ``minimum`` above the maintenance requirement?

    Parameters
    ----------
    margin_balance : float, array-like or Series
        Collateral plus unrealised PnL (the account's, for cross margin).
    requirement : float, array-like or Series
        Maintenance margin, > 0, same unit as the balance.
    minimum : float
        Lowest buffer allowed, >= 0, as a fraction of the requirement (default 0.30).
    scope : str or sequence of str, optional
        Label of each value; default the Series index or "position".

    Returns
    -------
    DataFrame
        One row per value, columns :data:`CHECK_COLUMNS`; ``value`` is the buffer
        ``balance / requirement - 1`` (:func:`riskfuncs.margin.margin_buffer`), ``limit`` the
        minimum.

    Examples
    --------
    >>> check_margin_buffer(1_100, 1_000).loc[0, "message"]
    'margin is only 10% above maintenance (minimum 30%): add 200 margin or reduce the position'
    """
    _require_limit("minimum", minimum, minimum >= 0, "be >= 0")
    form, (balance, need) = broadcast(margin_balance=margin_balance, requirement=requirement)
    buffer = np.asarray(margin_buffer(balance, need), dtype=float)
    flat, balances, needs = buffer.reshape(-1), balance.reshape(-1), need.reshape(-1)
    messages = []
    for value, held, required in zip(flat.tolist(), balances.tolist(), needs.tolist(),
                                     strict=True):
        if value != value:
            messages.append("margin buffer unknown: fill in collateral, prices and margin rate")
        elif value < 0:
            messages.append(
                "margin is below maintenance: the position can be liquidated now; "
                "add margin or reduce at once"
            )
        elif value < minimum:
            top_up = (1.0 + minimum) * required - held
            messages.append(
                f"margin is only {value:.0%} above maintenance (minimum {minimum:.0%}): "
                f"add {top_up:,.4g} margin or reduce the position"
            )
        else:
            messages.append(f"margin is {value:.0%} above maintenance (minimum {minimum:.0%})")
    passed = _verdict(flat >= minimum, ~np.isnan(flat))
    return _table("margin_buffer", _scopes(scope, form.index, buffer.shape), passed, flat,
                  minimum, messages)


def check_stop_loss(
    side: SideLike,
    entry_price: FloatLike,
    stop_price: FloatLike,
    liquidation_price: FloatLike,
    *,
    mark_price: FloatLike | None = None,
    scope: Any = None,
) -> pd.DataFrame:
    """Is there a stop-loss, and does it fire before the position is liquidated?

    Parameters
    ----------
    side : "long", "short", +1, -1, array-like or Series
    entry_price : float, array-like or Series
        Average entry price, > 0.
    stop_price : float, array-like or Series
        Stop-loss trigger price, > 0; NaN = no stop set (fails the check).
    liquidation_price : float, array-like or Series
        From :func:`riskfuncs.liquidation.liquidation_price`, >= 0 (0 for a long that cannot be
        liquidated, ``inf`` for an inverse short that cannot).
    mark_price : float, array-like or Series, optional
        When given, the stop is compared with the mark instead of the entry, so a trailing stop
        that locks in profit passes.
    scope : str or sequence of str, optional
        Label of each value; default the Series index or "position".

    Returns
    -------
    DataFrame
        Columns :data:`CHECK_COLUMNS`; ``value`` is the stop price, ``limit`` the liquidation
        price.

    Notes
    -----
    A long passes when ``liquidation < stop < entry`` (or ``< mark``), a short when
    ``entry < stop < liquidation``: the stop must be hit first as price moves against you.
    Stops trigger on last or mark price depending on the order, and fill with slippage, so
    leave room between the stop and the liquidation price.

    Examples
    --------
    >>> print(check_stop_loss("long", 100, 95, 96).loc[0, "message"])
    stop 95 is beyond the liquidation price 96: you are liquidated first;
    move the stop inside 96 or add margin
    >>> bool(check_stop_loss("short", 100, 104, 110).loc[0, "passed"])
    True
    """
    sign = side_sign(side)
    reference = entry_price if mark_price is None else mark_price
    form, (s, entry, stop, liq, ref) = broadcast(
        side=sign, entry_price=entry_price, stop_price=stop_price,
        liquidation_price=liquidation_price, reference=reference,
    )
    require_positive("entry_price", entry)
    require_positive("stop_price", stop)
    require_non_negative("liquidation_price", liq)
    if mark_price is not None:
        require_positive("mark_price", ref)
    reference_word = "entry" if mark_price is None else "the mark price"
    shape = s.shape
    s, entry, stop, liq, ref = (a.reshape(-1) for a in (s, entry, stop, liq, ref))
    with np.errstate(invalid="ignore"):
        before_liquidation = s * (stop - liq) > 0
        loss_side = s * (ref - stop) > 0
    known = ~(np.isnan(s) | np.isnan(entry) | np.isnan(liq) | np.isnan(ref))
    has_stop = ~np.isnan(stop)
    passed = np.where(known & ~has_stop, 0.0, _verdict(before_liquidation & loss_side, known))
    messages = []
    rows = zip(s.tolist(), stop.tolist(), liq.tolist(), ref.tolist(), has_stop.tolist(),
               known.tolist(), before_liquidation.tolist(), loss_side.tolist(), strict=True)
    for sign_i, stop_i, liq_i, ref_i, has_stop_i, known_i, before_i, loss_side_i in rows:
        side_word = "long" if sign_i > 0 else "short"
        below, above = ("below", "above") if sign_i > 0 else ("above", "below")
        reachable = 0.0 < liq_i < math.inf
        if not has_stop_i and known_i:
            bound = f" and {above} the liquidation price {_price(liq_i)}" if reachable else ""
            messages.append(f"no stop-loss set: place one {below} {_price(ref_i)}{bound}")
        elif not known_i:
            messages.append("stop-loss cannot be checked: side, prices or liquidation unknown")
        elif not before_i:
            messages.append(
                f"stop {_price(stop_i)} is beyond the liquidation price {_price(liq_i)}: you "
                f"are liquidated first; move the stop inside {_price(liq_i)} or add margin"
            )
        elif not loss_side_i:
            messages.append(
                f"stop {_price(stop_i)} is on the wrong side of {reference_word} "
                f"{_price(ref_i)} for a {side_word}: it would fire at once; place it {below} "
                f"{_price(ref_i)}"
            )
        elif reachable:
            messages.append(f"stop {_price(stop_i)} fires before liquidation at {_price(liq_i)}")
        else:
            messages.append(f"stop {_price(stop_i)} is set; the position cannot be liquidated")
    return _table("stop_loss", _scopes(scope, form.index, shape), passed, stop, liq, messages)


def check_model_freshness(
    last_volatility_update_age_days: FloatLike,
    *,
    max_age_days: float = MAX_MODEL_AGE_DAYS,
    scope: Any = None,
) -> pd.DataFrame:
    """Is the volatility estimate behind the risk figures recent enough?

    Parameters
    ----------
    last_volatility_update_age_days : float, array-like or Series
        Days since the volatility estimate was last updated, >= 0. The caller measures it
        (riskfuncs has no clock).
    max_age_days : float
        Oldest acceptable age in days, > 0 (default 1: volatility estimates are daily, as in
        RiskMetrics).
    scope : str or sequence of str, optional
        Label of each value; default the Series index or "portfolio".

    Returns
    -------
    DataFrame
        Columns :data:`CHECK_COLUMNS`; ``value`` is the age, ``limit`` the maximum age.

    Examples
    --------
    >>> check_model_freshness(3.0).loc[0, "message"]
    'volatility estimate is 3 days old (limit 1): update it before trusting VaR and stress figures'
    """
    _require_limit("max_age_days", max_age_days, max_age_days > 0, "be > 0")
    form, (age,) = broadcast(last_volatility_update_age_days=last_volatility_update_age_days)
    require_non_negative("last_volatility_update_age_days", age)
    flat = age.reshape(-1)
    messages = []
    for value in flat.tolist():
        if value != value:
            messages.append("volatility estimate age unknown: record when it was last updated")
        elif value > max_age_days:
            messages.append(
                f"volatility estimate is {value:.3g} days old (limit {max_age_days:g}): "
                "update it before trusting VaR and stress figures"
            )
        else:
            messages.append(f"volatility estimate is {value:.3g} days old (limit {max_age_days:g})")
    scopes = _scopes("portfolio" if scope is None and form.scalar else scope, form.index,
                     age.shape)
    return _table("model_freshness", scopes, _verdict(flat <= max_age_days, ~np.isnan(flat)),
                  flat, max_age_days, messages)


def check_diversification(
    exposures: Any,
    *,
    max_share: float = MAX_VENUE_SHARE,
    min_venues: int = MIN_VENUES,
    scope: str = "portfolio",
) -> pd.DataFrame:
    """:func:`riskfuncs.counterparty.diversification_check` as one row of the check table.

    Parameters
    ----------
    exposures : Series, mapping or 1-D array-like
        Exposure per venue, >= 0 (e.g. from :func:`riskfuncs.counterparty.exposure_by_exchange`).
    max_share, min_venues
        As in :func:`riskfuncs.counterparty.diversification_check`.
    scope : str
        Label for the row (default "portfolio").

    Returns
    -------
    DataFrame
        One row; ``value`` is the largest venue's share, ``limit`` ``max_share``.

    Examples
    --------
    >>> check_diversification({"binance": 9, "okx": 1})[["check", "passed", "value", "limit"]]
                 check  passed  value  limit
    0  diversification   False    0.9    0.5
    """
    result = diversification_check(exposures, max_share=max_share, min_venues=min_venues)
    passed = np.nan if result.passed is None else float(result.passed)
    return _table("diversification", [scope], passed, result.largest_share, max_share,
                  [result.reason])


# --------------------------------------------------------------------------------------------
# Position sizing


def position_size(
    equity: FloatLike,
    risk_fraction: FloatLike,
    entry_price: FloatLike,
    stop_price: FloatLike,
    *,
    side: SideLike,
    contract: Contract = "linear",
    fee_rate: FloatLike = 0.0,
) -> Any:
    """Position size that loses exactly ``equity * risk_fraction`` if the stop is hit.

    Parameters
    ----------
    equity : float, array-like or Series
        Account equity, >= 0: quote currency (linear) or coin (inverse).
    risk_fraction : float, array-like or Series
        Share of equity to lose at the stop, in (0, 1] (1 % = 0.01).
    entry_price, stop_price : float, array-like or Series
        Quote currency per base unit, > 0. The stop must be below entry for a long and above
        it for a short.
    side : "long", "short", +1, -1, array-like or Series
    contract : {"linear", "inverse"}
    fee_rate : float, array-like or Series
        Taker fee paid on entry and at the stop, a fraction in [0, 1) (default 0).

    Returns
    -------
    float, ndarray or Series
        Linear: quantity in base units
        ``Q = E r / (s (EP - SP) + f (EP + SP))``. Inverse: USD size
        ``N = E r / (s (1/SP - 1/EP) + f (1/EP + 1/SP))``, the loss being
        ``s N (1/SP - 1/EP)`` coin (BitMEX inverse PnL). Slippage past the stop is not included.

    Notes
    -----
    The fixed-fractional rule: size = money at risk / loss per unit at the stop, as in the
    worked example of https://kulkalotar.com/calculator/finance/stock-position-size ($50,000,
    1 % risk, entry 42, stop 39 -> 166 shares). Leverage does not enter: it only decides how
    much margin the position ties up.

    Examples
    --------
    >>> position_size(10_000, 0.01, 60_000, 57_000, side="long")
    0.0333333333333
    >>> position_size(1.0, 0.02, 50_000, 55_000, side="short", contract="inverse")
    11000.0
    """
    kind = choose("contract", contract, CONTRACTS)
    sign = side_sign(side)
    form, (s, equity_, risk, entry, stop, fee) = broadcast(
        side=sign, equity=equity, risk_fraction=risk_fraction, entry_price=entry_price,
        stop_price=stop_price, fee_rate=fee_rate,
    )
    require_non_negative("equity", equity_)
    require("risk_fraction", risk, (risk > 0) & (risk <= 1),
            "be in (0, 1] as a fraction, 1% = 0.01")
    require_positive("entry_price", entry)
    require_positive("stop_price", stop)
    require_rate("fee_rate", fee)
    require("stop_price", stop, np.isnan(s) | np.isnan(entry) | (s * (entry - stop) > 0),
            "be below entry_price for a long and above it for a short")
    if kind == "linear":
        loss_per_unit = s * (entry - stop) + fee * (entry + stop)
    else:
        loss_per_unit = s * (1.0 / stop - 1.0 / entry) + fee * (1.0 / entry + 1.0 / stop)
    return form.wrap(equity_ * risk / loss_per_unit, name="position_size")


# --------------------------------------------------------------------------------------------
# All together


def _empty() -> pd.DataFrame:
    return _table("", [], np.empty(0), np.empty(0), np.empty(0), [])


def risk_audit(
    *,
    leverage: FloatLike | None = None,
    margin_balance: FloatLike | None = None,
    requirement: FloatLike | None = None,
    side: SideLike | None = None,
    entry_price: FloatLike | None = None,
    stop_price: FloatLike | None = None,
    liquidation_price: FloatLike | None = None,
    mark_price: FloatLike | None = None,
    exposures: Any = None,
    volatility_age_days: FloatLike | None = None,
    limits: DisciplineLimits = DEFAULT_LIMITS,
    scope: Any = None,
) -> pd.DataFrame:
    """Run every discipline check whose inputs are given and stack the results.

    Parameters
    ----------
    leverage
        For :func:`check_leverage`.
    margin_balance, requirement
        For :func:`check_margin_buffer` (both or neither).
    side, entry_price, stop_price, liquidation_price, mark_price
        For :func:`check_stop_loss` (``side``, ``entry_price`` and ``liquidation_price``
        switch it on; a missing ``stop_price`` then fails as "no stop-loss set").
    exposures
        Exposure per venue, for :func:`check_diversification`.
    volatility_age_days
        For :func:`check_model_freshness`.
    limits : DisciplineLimits
        The limits to check against.
    scope : str or sequence of str, optional
        Labels for the per-position checks.

    Returns
    -------
    DataFrame
        Columns :data:`CHECK_COLUMNS`, the rows of each check in the order above, a fresh
        RangeIndex.

    Examples
    --------
    >>> audit = risk_audit(leverage=8, margin_balance=1_500, requirement=1_000,
    ...                    volatility_age_days=0.5)
    >>> audit[["check", "passed"]]
                 check  passed
    0         leverage   False
    1    margin_buffer    True
    2  model_freshness    True
    """
    if not isinstance(limits, DisciplineLimits):
        raise RiskInputError(f"limits must be a DisciplineLimits (got {limits!r})")
    parts: list[pd.DataFrame] = []
    if leverage is not None:
        parts.append(check_leverage(leverage, cap=limits.leverage_cap, scope=scope))
    if (margin_balance is None) != (requirement is None):
        raise RiskInputError("margin_balance and requirement must be given together")
    if margin_balance is not None and requirement is not None:
        parts.append(check_margin_buffer(margin_balance, requirement,
                                         minimum=limits.minimum_margin_buffer, scope=scope))
    stop_inputs = (side, entry_price, liquidation_price)
    if any(value is not None for value in (*stop_inputs, stop_price)):
        missing = [name for name, value in zip(("side", "entry_price", "liquidation_price"),
                                               stop_inputs, strict=True) if value is None]
        if missing:
            # Named by the first missing argument, so a cell can point at it.
            raise RiskInputError(
                f"{missing[0]} is required for the stop-loss check (side, entry_price and "
                "liquidation_price go together)", argument=missing[0],
                rule="be given with the other stop-loss inputs")
        parts.append(check_stop_loss(
            side, entry_price,  # type: ignore[arg-type]
            np.nan if stop_price is None else stop_price,
            liquidation_price,  # type: ignore[arg-type]
            mark_price=mark_price, scope=scope,
        ))
    if exposures is not None:
        parts.append(check_diversification(exposures, max_share=limits.max_venue_share,
                                           min_venues=limits.min_venues))
    if volatility_age_days is not None:
        parts.append(check_model_freshness(volatility_age_days,
                                           max_age_days=limits.max_model_age_days))
    if not parts:
        raise RiskInputError("risk_audit needs at least one input to check (got none)")
    return pd.concat(parts, ignore_index=True)


def discipline_report(
    positions: pd.DataFrame | Book,
    *,
    limits: DisciplineLimits = DEFAULT_LIMITS,
    tiers: TierMap | None = None,
    volatility_age_days: float | None = None,
) -> pd.DataFrame:
    """Every discipline check on a book of positions, as one tidy table.

    Parameters
    ----------
    positions : DataFrame or Book
        ccxt ``Position`` columns as for :func:`riskfuncs.portfolio.portfolio_margin`, plus
        ``stopLossPrice`` (ccxt's name; missing or NaN = no stop set); read once
        (:func:`riskfuncs.book.as_book`) for every check.
    limits : DisciplineLimits
        The limits to check against.
    tiers : mapping of symbol (or (exchange, symbol)) to TierLike, optional
        Leverage tiers, passed to :func:`riskfuncs.portfolio.portfolio_margin` (which looks a
        table up by venue and symbol first).
    volatility_age_days : float, optional
        Days since the volatility estimate was updated; the freshness check runs when given.

    Returns
    -------
    DataFrame
        Columns :data:`CHECK_COLUMNS`. Rows: leverage per position and per cross account
        (total notional / account balance), margin buffer per isolated position and per cross
        account, stop-loss per position (compared with the mark price, so trailing stops
        pass), diversification of :func:`riskfuncs.counterparty.exposure_by_exchange`, and model
        freshness.

    Examples
    --------
    >>> book = pd.DataFrame({
    ...     "exchange": ["binance", "okx"], "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
    ...     "side": ["long", "short"], "contracts": [1.0, 10.0],
    ...     "entryPrice": [60_000.0, 3_000.0], "markPrice": [61_000.0, 3_100.0],
    ...     "collateral": [20_000.0, 8_000.0], "maintenanceMarginRate": [0.004, 0.005],
    ...     "stopLossPrice": [57_000.0, float("nan")]})
    >>> report = discipline_report(book, volatility_age_days=0.2)
    >>> report[["check", "passed"]]
                 check  passed
    0         leverage    True
    1         leverage    True
    2    margin_buffer    True
    3    margin_buffer    True
    4        stop_loss    True
    5        stop_loss   False
    6  diversification   False
    7  model_freshness    True
    >>> print(report.loc[5, "message"])
    no stop-loss set: place one above 3,100 and below the liquidation price 3,781.09
    """
    if not isinstance(positions, pd.DataFrame | Book):
        raise RiskInputError(f"positions must be a DataFrame (got {type(positions).__name__})")
    if not isinstance(limits, DisciplineLimits):
        raise RiskInputError(f"limits must be a DisciplineLimits (got {limits!r})")
    if len(positions) == 0 or (isinstance(positions, pd.DataFrame) and positions.empty):
        return _empty()
    book = as_book(positions)
    margins = portfolio_margin(book, tiers=tiers)
    exchange = book.text("exchange") if "exchange" in book.given else margins["account"]
    signs = book.sign
    side_words = np.where(signs > 0, "long", np.where(signs < 0, "short", ""))
    labels = [" ".join(word for word in (e, s, w) if word) for e, s, w in
              zip(exchange, book.text("symbol"), side_words, strict=True)]
    cross = book.cross

    # A figure that rests on a missing one is missing: a NaN balance is not a gone balance
    # (leverage inf), and a cross account with one unknown position is unknown as a whole,
    # its balance, leverage, buffer and the liquidation prices of all its positions.
    figures = ["notional", "margin_balance", "maintenance_margin", "unrealized_pnl"]
    unknown = margins[figures].isna().any(axis=1)
    unknown |= cross & unknown.where(cross, False).groupby(margins["account"]).transform("any")
    unknown_rows = unknown.to_numpy(dtype=bool)
    position_leverage = np.where(unknown_rows, np.nan, margins["leverage"].to_numpy(dtype=float))
    liquidation = np.where(unknown_rows & cross, np.nan,
                           margins["liquidation_price"].to_numpy(dtype=float))
    accounts = margins.loc[cross].assign(unknown=unknown_rows[cross]).groupby(
        "account", sort=False).agg(
        notional=("notional", "sum"),
        margin_balance=("margin_balance", "first"),
        maintenance_margin=("maintenance_margin", "sum"),
        unknown=("unknown", "any"),
    )
    accounts.loc[accounts.pop("unknown").to_numpy(dtype=bool)] = np.nan
    account_labels = [f"{name} cross account" for name in accounts.index]
    with np.errstate(divide="ignore", invalid="ignore"):
        balance = accounts["margin_balance"].to_numpy()
        account_leverage = np.where(balance > 0, accounts["notional"].to_numpy() / balance,
                                    np.where(np.isnan(balance), np.nan, np.inf))

    parts = [
        check_leverage(position_leverage, cap=limits.leverage_cap, scope=labels),
        check_leverage(account_leverage, cap=limits.leverage_cap, scope=account_labels),
        check_margin_buffer(
            margins.loc[~cross, "margin_balance"].to_numpy(),
            margins.loc[~cross, "maintenance_margin"].to_numpy(),
            minimum=limits.minimum_margin_buffer,
            scope=[label for label, is_cross in zip(labels, cross, strict=True) if not is_cross],
        ),
        check_margin_buffer(
            accounts["margin_balance"].to_numpy(), accounts["maintenance_margin"].to_numpy(),
            minimum=limits.minimum_margin_buffer, scope=account_labels,
        ),
        check_stop_loss(
            signs,
            book.values("entryPrice"),
            book.values("stopLossPrice"),
            liquidation,
            mark_price=book.values("markPrice"),
            scope=labels,
        ),
        check_diversification(exposure_by_exchange(book), max_share=limits.max_venue_share,
                              min_venues=limits.min_venues),
    ]
    if volatility_age_days is not None:
        parts.append(check_model_freshness(volatility_age_days,
                                           max_age_days=limits.max_model_age_days))
    return pd.concat([part for part in parts if len(part)], ignore_index=True)
