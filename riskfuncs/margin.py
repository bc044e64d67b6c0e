"""Notional, margin, PnL and the ratios that say how close a position is to liquidation.

Units: for linear (USDⓈ-margined) contracts ``quantity`` is in base units (contracts x contract
size) and every amount is in the quote currency. For inverse (coin-margined) contracts
``quantity`` is the position size in USD (contracts x contract value) and every amount is in coin.
Rates are fractions: 0.5% is 0.005.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Literal

import numpy as np

from riskfuncs._arrays import (
    FloatArray,
    broadcast,
    choose,
    require,
    require_non_negative,
    require_positive,
    require_rate,
    side_sign,
)
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import Contract, FloatLike, SideLike
from riskfuncs.tiers import TierLike, TierTable, as_tier_table, check_tier_units

__all__ = [
    "distance_to_liquidation",
    "initial_margin",
    "maintenance_margin",
    "margin_buffer",
    "margin_ratio",
    "max_leverage_for_move",
    "notional",
    "unrealized_pnl",
]

CONTRACTS: tuple[Contract, ...] = ("linear", "inverse")
MarginRatioConvention = Literal["maintenance/balance", "balance/maintenance"]


def contract_kind(contract: str) -> str:
    return choose("contract", contract, CONTRACTS)


def notional_of(quantity: FloatArray, price: FloatArray, contract: str) -> FloatArray:
    """Position value: ``Q * P`` (linear, quote) or ``N / P`` (inverse, coin)."""
    if isinstance(quantity, float) and isinstance(price, float) and price != 0:
        return quantity * price if contract == "linear" else quantity / price  # type: ignore[return-value]
    with np.errstate(divide="ignore", invalid="ignore"):
        result: FloatArray = quantity * price if contract == "linear" else quantity / price
    return result


def rate_source(
    maintenance_margin_rate: FloatLike | None,
    tiers: TierLike | None,
    contract: str,
) -> tuple[TierTable | None, FloatLike]:
    """Pick where the maintenance rate comes from: a tier table or the rate given.

    Returns the validated table (or None) and the rate to broadcast (NaN placeholder with tiers).
    """
    if tiers is not None:
        if maintenance_margin_rate is not None:
            raise RiskInputError("give maintenance_margin_rate or tiers, not both")
        table = as_tier_table(tiers)
        check_tier_units(table, contract)
        return table, np.nan
    if maintenance_margin_rate is None:
        raise RiskInputError("maintenance_margin_rate or tiers is required")
    return None, maintenance_margin_rate


def maintenance_terms(
    value: FloatArray, rate: FloatArray, amount: FloatArray, table: TierTable | None
) -> tuple[FloatArray, FloatArray]:
    """The (rate, amount) pair that applies at notional ``value``: from tiers or as given."""
    if table is not None:
        if isinstance(value, float):  # the scalar fast path: the same tier, found by bisect
            floors = table.floors.tolist()
            k = bisect_right(floors, value if value == value else 0.0) - 1
            k = min(max(k, 0), len(floors) - 1)
            return table.maintenance_margin_rates.item(k), table.maintenance_amounts.item(k)
        k = table.index_for(np.nan_to_num(value))
        return table.maintenance_margin_rates[k], table.maintenance_amounts[k]
    require_rate("maintenance_margin_rate", rate)
    require_non_negative("maintenance_amount", amount)
    return rate, amount


def notional(quantity: FloatLike, price: FloatLike, *, contract: Contract = "linear") -> Any:
    """Position value at a price.

    Parameters
    ----------
    quantity : float, array-like or Series
        Base units (linear) or USD size (inverse), > 0.
    price : float, array-like or Series
        Price in quote currency per base unit, > 0.
    contract : {"linear", "inverse"}

    Returns
    -------
    float, ndarray or Series
        ``Q * P`` in quote currency (linear) or ``N / P`` in coin (inverse).

    Examples
    --------
    >>> notional(2, 30_000)
    60000.0
    >>> notional(10_000, 25_000, contract="inverse")
    0.4
    """
    kind = contract_kind(contract)
    form, (qty, px) = broadcast(quantity=quantity, price=price)
    require_positive("quantity", qty)
    require_positive("price", px)
    return form.wrap(notional_of(qty, px, kind))


def initial_margin(
    quantity: FloatLike, price: FloatLike, *, leverage: FloatLike, contract: Contract = "linear"
) -> Any:
    """Initial margin: notional / leverage.

    Parameters
    ----------
    quantity, price : float, array-like or Series
        As in :func:`notional`.
    leverage : float, array-like or Series
        Leverage, > 0 (5 means 5x).
    contract : {"linear", "inverse"}

    Returns
    -------
    float, ndarray or Series
        Quote currency (linear) or coin (inverse).

    Notes
    -----
    Bybit inverse example (help centre, "Initial margin"): 12,000 contracts at 8,000 with 50x
    need 12,000 / (8,000 x 50) = 0.03 BTC.

    Examples
    --------
    >>> initial_margin(12_000, 8_000, leverage=50, contract="inverse")
    0.03
    """
    kind = contract_kind(contract)
    form, (qty, px, lev) = broadcast(quantity=quantity, price=price, leverage=leverage)
    require_positive("quantity", qty)
    require_positive("price", px)
    require_positive("leverage", lev)
    return form.wrap(notional_of(qty, px, kind) / lev)


def maintenance_margin(
    quantity: FloatLike,
    price: FloatLike,
    *,
    contract: Contract = "linear",
    maintenance_margin_rate: FloatLike | None = None,
    maintenance_amount: FloatLike = 0.0,
    tiers: TierLike | None = None,
) -> Any:
    """Maintenance margin at a price: ``notional * MMR - maintenance_amount``.

    Parameters
    ----------
    quantity, price : float, array-like or Series
        As in :func:`notional`.
    contract : {"linear", "inverse"}
    maintenance_margin_rate : float, array-like or Series, optional
        Fraction in [0, 1). Required unless ``tiers`` is given.
    maintenance_amount : float, array-like or Series, default 0
        Binance "cum" / Bybit "MM deduction", in the notional's unit.
    tiers : TierLike, optional
        Leverage tiers; the tier of this notional gives the rate and the amount.

    Returns
    -------
    float, ndarray or Series
        Quote currency (linear) or coin (inverse).

    Notes
    -----
    Binance FAQ "Leverage and Margin of USDⓈ-M Futures" (older BTCUSDT brackets: 50k-250k at
    0.5% with cum 50, 250k-1M at 1% with cum 1,300): a 500,000 USDT position needs
    500,000 x 1% - 1,300 = 3,700 USDT.

    Examples
    --------
    >>> tiers = [
    ...     {"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004},
    ...     {"minNotional": 50_000, "maxNotional": 250_000, "maintenanceMarginRate": 0.005},
    ...     {"minNotional": 250_000, "maxNotional": 1_000_000, "maintenanceMarginRate": 0.01},
    ... ]
    >>> maintenance_margin(10, 50_000, tiers=tiers)
    3700.0
    >>> maintenance_margin(10_000, 25_000, contract="inverse", maintenance_margin_rate=0.004)
    0.0016
    """
    kind = contract_kind(contract)
    table, rate_given = rate_source(maintenance_margin_rate, tiers, kind)
    form, (qty, px, rate_in, amount_in) = broadcast(
        quantity=quantity,
        price=price,
        maintenance_margin_rate=rate_given,
        maintenance_amount=maintenance_amount,
    )
    require_positive("quantity", qty)
    require_positive("price", px)
    value = notional_of(qty, px, kind)
    rate, amount = maintenance_terms(value, rate_in, amount_in, table)
    return form.wrap(value * rate - amount)


def pnl_of(
    sign: FloatArray, entry: FloatArray, price: FloatArray, qty: FloatArray, contract: str
) -> FloatArray:
    """``s*Q*(P - EP)`` (linear) or ``s*N*(1/EP - 1/P)`` (inverse)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if contract == "linear":
            result: FloatArray = sign * qty * (price - entry)
        else:
            result = sign * qty * (1.0 / entry - 1.0 / price)
    return result


def unrealized_pnl(
    side: SideLike,
    entry_price: FloatLike,
    mark_price: FloatLike,
    quantity: FloatLike,
    *,
    contract: Contract = "linear",
) -> Any:
    """Unrealised profit or loss at the mark price.

    Parameters
    ----------
    side : "long", "short", +1, -1, array-like or Series
    entry_price, mark_price : float, array-like or Series
        Quote currency per base unit, > 0.
    quantity : float, array-like or Series
        Base units (linear) or USD size (inverse), > 0.
    contract : {"linear", "inverse"}

    Returns
    -------
    float, ndarray or Series
        ``s * Q * (MP - EP)`` in quote currency (linear) or ``s * N * (1/EP - 1/MP)`` in coin
        (inverse); positive is a gain.

    Notes
    -----
    BitMEX inverse example ("Futures Guide", XBTUSD): 15,000 contracts long from 750 to 800
    gain 15,000 x (1/750 - 1/800) = 1.25 XBT.

    Examples
    --------
    >>> unrealized_pnl("long", 750, 800, 15_000, contract="inverse")
    1.25
    >>> unrealized_pnl("short", 100, 90, 3)
    30.0
    """
    kind = contract_kind(contract)
    sign = side_sign(side)
    form, (s, ep, mp, qty) = broadcast(
        side=sign, entry_price=entry_price, mark_price=mark_price, quantity=quantity
    )
    require_positive("entry_price", ep)
    require_positive("mark_price", mp)
    require_positive("quantity", qty)
    return form.wrap(pnl_of(s, ep, mp, qty, kind))


def margin_ratio(
    maintenance_margin: FloatLike,
    margin_balance: FloatLike,
    *,
    convention: MarginRatioConvention = "maintenance/balance",
) -> Any:
    """Margin ratio: how much of the margin balance the maintenance requirement uses.

    Parameters
    ----------
    maintenance_margin : float, array-like or Series
        Maintenance margin (plus any closing fee the venue counts), >= 0.
    margin_balance : float, array-like or Series
        Collateral plus unrealised PnL (cross: the account's), same unit.
    convention : {"maintenance/balance", "balance/maintenance"}
        ``"maintenance/balance"`` (Binance, Bybit, ccxt ``marginRatio``): 0 is safe and 1.0 is
        liquidation; a balance at or below zero gives ``inf``. ``"balance/maintenance"`` (OKX's
        ``mgnRatio``): 1.0 is liquidation and larger is safer.

    Examples
    --------
    >>> margin_ratio(50, 200)
    0.25
    >>> margin_ratio(50, 200, convention="balance/maintenance")
    4.0
    """
    form, (mm, balance) = broadcast(
        maintenance_margin=maintenance_margin, margin_balance=margin_balance
    )
    require_non_negative("maintenance_margin", mm)
    rule = choose("convention", convention, ("maintenance/balance", "balance/maintenance"))
    with np.errstate(divide="ignore", invalid="ignore"):
        if rule == "maintenance/balance":
            ratio = np.where(balance > 0, mm / balance, np.inf)
        else:
            ratio = np.where(mm > 0, balance / mm, np.where(balance > 0, np.inf, 0.0))
    ratio = np.where(np.isnan(mm) | np.isnan(balance), np.nan, ratio)
    return form.wrap(ratio)


def margin_buffer(margin_balance: FloatLike, requirement: FloatLike) -> Any:
    """How far the margin balance sits above a requirement, as a fraction of the requirement.

    ``balance / requirement - 1``: 0.30 means 30% above. The guide's rule is a buffer of at least
    30% above the maintenance requirement; below 0 the position is liquidatable.

    Parameters
    ----------
    margin_balance : float, array-like or Series
        Collateral plus unrealised PnL, same unit as the requirement.
    requirement : float, array-like or Series
        Usually the maintenance margin, > 0.

    Examples
    --------
    >>> margin_buffer(130, 100)
    0.3
    """
    form, (balance, need) = broadcast(margin_balance=margin_balance, requirement=requirement)
    require_positive("requirement", need)
    return form.wrap(balance / need - 1.0)


def distance_to_liquidation(
    side: SideLike, mark_price: FloatLike, liquidation_price: FloatLike
) -> Any:
    """Fraction of the mark price the market must move against the position to liquidate it.

    ``s * (MP - LP) / MP``: 0.12 means a 12% adverse move liquidates. Negative means the mark is
    already past the liquidation price. An unreachable long (LP = 0) gives 1.0; an unreachable
    inverse short (LP = inf) gives inf.

    Examples
    --------
    >>> distance_to_liquidation("long", 100, 88)
    0.12
    >>> distance_to_liquidation("short", 100, 110)
    0.1
    """
    sign = side_sign(side)
    form, (s, mp, lp) = broadcast(
        side=sign, mark_price=mark_price, liquidation_price=liquidation_price
    )
    require_positive("mark_price", mp)
    require_non_negative("liquidation_price", lp)
    with np.errstate(invalid="ignore"):
        return form.wrap(s * (mp - lp) / mp)


def max_leverage_for_move(
    move: FloatLike,
    *,
    side: SideLike,
    maintenance_margin_rate: FloatLike,
    buffer: FloatLike = 0.30,
    contract: Contract = "linear",
) -> Any:
    """Highest leverage that survives an adverse move with a margin buffer left.

    Parameters
    ----------
    move : float, array-like or Series
        Adverse price move as a fraction (0.30 = price 30% against the position), >= 0 and below
        1 for longs.
    side : "long" or "short", array-like or Series
    maintenance_margin_rate : float, array-like or Series
        Fraction in [0, 1).
    buffer : float, default 0.30
        Margin balance required above the maintenance margin after the move (0.30 = 30%).
    contract : {"linear", "inverse"}

    Returns
    -------
    float, ndarray or Series
        Leverage ``L`` (entry notional / initial margin) such that after the move the margin
        balance is exactly ``(1 + buffer)`` x the maintenance margin at the moved price; ``inf``
        when no leverage limit applies (no move and no maintenance margin). Below 1 means even
        an unleveraged position fails the rule.

    Notes
    -----
    Per unit of entry notional, with ``m`` the move, ``s`` the side and ``r = (1 + b) MMR``:
    linear ``1/L = m + r (1 - s m)``; inverse ``1/L = (m + r) / (1 - s m)``.

    Examples
    --------
    >>> round(max_leverage_for_move(0.30, side="long", maintenance_margin_rate=0.005), 4)
    3.2835
    """
    kind = contract_kind(contract)
    sign = side_sign(side)
    form, (s, m, mmr, b) = broadcast(
        side=sign, move=move, maintenance_margin_rate=maintenance_margin_rate, buffer=buffer
    )
    require_non_negative("move", m)
    require("move", m, (m < 1) | (s < 0), "be < 1 for a long (a price cannot fall 100%)")
    require_rate("maintenance_margin_rate", mmr)
    require_non_negative("buffer", b)
    required = (1.0 + b) * mmr
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "linear":
            inverse_leverage = m + required * (1.0 - s * m)
        else:
            inverse_leverage = (m + required) / (1.0 - s * m)
        leverage = np.where(inverse_leverage > 0, 1.0 / inverse_leverage, np.inf)
    leverage = np.where(np.isnan(inverse_leverage), np.nan, leverage)
    return form.wrap(leverage)
