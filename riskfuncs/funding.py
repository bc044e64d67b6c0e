"""Funding: the rate, what a position pays or receives, and what that does to liquidation.

Sign convention: amounts are cash flows to the position holder. Negative means paid. With a
positive rate longs pay and shorts receive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskfuncs._arrays import (
    FloatArray,
    broadcast,
    require_non_negative,
    require_positive,
    side_sign,
    to_float_array,
)
from riskfuncs._typing import Contract, Exchange, FloatLike, SideLike
from riskfuncs.liquidation import liquidation_price
from riskfuncs.margin import contract_kind, notional_of
from riskfuncs.tiers import TierLike

__all__ = [
    "cumulative_funding",
    "funding_payment",
    "funding_rate",
    "liquidation_price_after_funding",
]


def funding_rate(
    premium_index: FloatLike,
    *,
    interest_rate: FloatLike = 0.0001,
    clamp: FloatLike = 0.0005,
    cap: FloatLike | None = None,
) -> Any:
    """Funding rate for one interval from the premium index.

    ``F = P + clamp(I - P, -clamp, +clamp)``, then limited to ``[-cap, +cap]`` when a cap is
    given. ``F`` equals the interest rate whenever the premium is within ``clamp`` of it.

    Parameters
    ----------
    premium_index : float, array-like or Series
        Average premium index over the interval, fraction (0.0003 = 0.03%).
    interest_rate : float, default 0.0001
        Interest per interval: 0.01% per 8 hours (0.03% a day) on Binance, Bybit and BitMEX.
    clamp : float, default 0.0005
        The +/-0.05% band around ``I - P``.
    cap : float, optional
        Venue limit on the absolute rate (Binance: 0.75 x maintenance rate by default, or fixed
        caps per symbol; BitMEX 0.375% per 8 h).

    Notes
    -----
    Binance FAQ "Introduction to Binance Futures Funding Rates"; Bybit Help Center "Funding
    Fee Calculation"; BitMEX "Perpetual Contracts Guide".

    Examples
    --------
    >>> funding_rate(0.0003)
    0.0001
    >>> round(funding_rate(0.002), 6)
    0.0015
    >>> funding_rate(0.01, cap=0.003)
    0.003
    """
    form, (premium, interest, band) = broadcast(
        premium_index=premium_index, interest_rate=interest_rate, clamp=clamp
    )
    require_non_negative("clamp", band)
    rate = premium + np.clip(interest - premium, -band, band)
    if cap is not None:
        limit = to_float_array("cap", cap)
        require_non_negative("cap", limit)
        rate = np.clip(rate, -limit, limit)
    return form.wrap(rate)


def funding_payment(
    side: SideLike,
    quantity: FloatLike,
    mark_price: FloatLike,
    rate: FloatLike,
    *,
    contract: Contract = "linear",
) -> Any:
    """Funding cash flow of one interval, to the position holder (negative = paid).

    Parameters
    ----------
    side : "long", "short", +1, -1, array-like or Series
    quantity : float, array-like or Series
        Base units (linear) or USD size (inverse), > 0.
    mark_price : float, array-like or Series
        Mark price at the funding timestamp (Hyperliquid uses the oracle price), > 0.
    rate : float, array-like or Series
        Funding rate of the interval, fraction.
    contract : {"linear", "inverse"}

    Returns
    -------
    float, ndarray or Series
        ``-s * Q * MP * F`` in quote currency (linear) or ``-s * N / MP * F`` in coin (inverse).

    Notes
    -----
    Binance FAQ "Introduction to Binance Futures Funding Rates": funding = position value x
    funding rate; longs pay shorts when the rate is positive.

    Examples
    --------
    >>> funding_payment("long", 1, 20_000, 0.0001)
    -2.0
    >>> funding_payment("short", 10_000, 25_000, 0.0001, contract="inverse")
    4e-05
    """
    kind = contract_kind(contract)
    sign = side_sign(side)
    form, (s, qty, mp, f) = broadcast(
        side=sign, quantity=quantity, mark_price=mark_price, rate=rate
    )
    require_positive("quantity", qty)
    require_positive("mark_price", mp)
    return form.wrap(-s * notional_of(qty, mp, kind) * f)


def _series_pair(
    rates: FloatLike, mark_prices: FloatLike
) -> tuple[FloatArray, FloatArray, pd.Index | None]:
    index = rates.index if isinstance(rates, pd.Series) else None
    index = mark_prices.index if index is None and isinstance(mark_prices, pd.Series) else index
    _, (f, mp) = broadcast(rates=rates, mark_prices=mark_prices)
    f, mp = np.atleast_1d(f), np.atleast_1d(mp)
    require_positive("mark_prices", mp)
    return f, mp, index


def cumulative_funding(
    side: SideLike,
    quantity: float,
    mark_prices: FloatLike,
    rates: FloatLike,
    *,
    contract: Contract = "linear",
) -> Any:
    """Running total of funding cash flows over a series of intervals.

    Parameters
    ----------
    side : "long" or "short"
    quantity : float
        Base units (linear) or USD size (inverse), > 0, held through every interval.
    mark_prices : array-like or Series
        Mark price at each funding timestamp.
    rates : array-like or Series
        Funding rate of each interval, same length (a scalar applies to every interval).
    contract : {"linear", "inverse"}

    Returns
    -------
    ndarray or Series
        The cumulative cash flow after each interval (negative = paid); a Series keeps the
        time index of the rates. The last value is the total.

    Examples
    --------
    >>> cumulative_funding("long", 1, [20_000, 21_000, 19_000], [0.0001, 0.0002, -0.0001])
    array([-2. , -6.2, -4.3])
    """
    kind = contract_kind(contract)
    s = float(side_sign(side))
    qty = float(quantity)
    require_positive("quantity", np.asarray(qty))
    f, mp, index = _series_pair(rates, mark_prices)
    running = np.cumsum(-s * notional_of(np.asarray(qty), mp, kind) * f)
    if index is not None and len(index) == len(running):
        return pd.Series(running, index=index, name="cumulative_funding")
    return running


def liquidation_price_after_funding(
    side: SideLike,
    entry_price: FloatLike,
    quantity: FloatLike,
    collateral: FloatLike,
    mark_prices: FloatLike,
    rates: FloatLike,
    *,
    exchange: Exchange = "binance",
    contract: Contract = "linear",
    maintenance_margin_rate: FloatLike | None = None,
    maintenance_amount: FloatLike = 0.0,
    tiers: TierLike | None = None,
    max_leverage: FloatLike | None = None,
    fee_rate: FloatLike = 0.0,
) -> Any:
    """Isolated liquidation price once a run of funding has settled into the margin.

    Funding is settled into an isolated position's margin, so paying it moves the liquidation
    price toward the mark and receiving it moves it away. The collateral becomes
    ``collateral + sum_k (-s * notional_k * F_k)`` and the rule of ``exchange`` is applied to it.

    Parameters
    ----------
    side, entry_price, quantity, collateral
        As in :func:`riskfuncs.liquidation_price`; these may be arrays of positions.
    mark_prices, rates : array-like or Series
        One series of funding intervals applied to every position (same symbol).
    exchange, contract, maintenance_margin_rate, maintenance_amount, tiers, max_leverage, fee_rate
        As in :func:`riskfuncs.liquidation_price`.

    Notes
    -----
    Under an entry-value rule (Bybit) the shift is exactly funding / quantity: 200 USDT paid by
    a 1 BTC long moves its liquidation price from 19,700 to 19,900. Under a liquidation-price
    rule it is funding / (Q (1 - s MMR)).

    Examples
    --------
    >>> liquidation_price_after_funding("long", 20_000, 1, 400, [20_000], [0.01],
    ...                                 exchange="bybit", maintenance_margin_rate=0.005)
    19900.0
    """
    kind = contract_kind(contract)
    f, mp, _ = _series_pair(rates, mark_prices)
    sign = side_sign(side)
    form, (s, qty, wb) = broadcast(side=sign, quantity=quantity, collateral=collateral)
    require_positive("quantity", qty)
    # Funding per unit of quantity summed over the intervals, then scaled by each position.
    per_unit = float(np.sum(notional_of(np.asarray(1.0), mp, kind) * f))
    paid = -s * qty * per_unit
    adjusted = np.maximum(wb + paid, 0.0)
    result = liquidation_price(
        side,
        entry_price,
        quantity,
        form.wrap(adjusted),
        exchange=exchange,
        contract=contract,
        maintenance_margin_rate=maintenance_margin_rate,
        maintenance_amount=maintenance_amount,
        tiers=tiers,
        max_leverage=max_leverage,
        fee_rate=fee_rate,
    )
    return result
