"""Liquidation and bankruptcy prices under each exchange's published rules.

Every rule is the same balance condition, solved in notional space. With ``x`` the position's
notional at a price (``Q*P`` in quote for linear, ``N/P`` in coin for inverse), ``x_e`` the entry
notional, ``sigma = s`` for linear and ``-s`` for inverse (an inverse notional falls as price
rises) and ``W`` the effective collateral (collateral - other maintenance margin + other uPnL):

    W + sigma * (x - x_e) = MM(x) + fee_rate * x

Exchanges differ in where they evaluate the maintenance margin ``MM``: at the liquidation price
(``MM(x) = x * MMR_k - cum_k`` with the tier of ``x``) or at the entry value (a constant). The
liquidation price is ``x / Q`` (linear) or ``N / x`` (inverse).

Tiered tables: the maintenance margin is continuous and convex in ``x``, so the left side minus
the right side is monotone and the tier at the liquidation notional is found directly: tabulate
``phi(x) = x (1 - sigma (MMR + fee)) + sigma cum`` at each tier floor, locate the target
``t = x_e - sigma W`` among them (one search per position, in both directions' breaks merged)
and solve inside that tier. That is the tier Binance says to use ("the notional at the
liquidation price"), without re-solving in a loop.

Plain numbers in (float, int, numpy.float64) take a scalar fast path: the same formulas on
Python floats, the same checks and messages, the tier found by ``bisect`` in the same tables,
so a loop of single positions gives the vectorised call's numbers exactly.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskfuncs._arrays import (
    FloatArray,
    broadcast,
    broadcast_or_floats,
    choose,
    constant_value,
    equals_word,
    require,
    require_non_negative,
    require_positive,
    require_rate,
    side_sign,
)
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import Contract, Exchange, FloatLike, SideLike
from riskfuncs.margin import CONTRACTS, maintenance_terms, notional_of, rate_source
from riskfuncs.tiers import TierLike, TierTable
from riskfuncs.venues import RULES, VENUE_RULES, rule_for_venue, venue_key

__all__ = [
    "ALREADY_LIQUIDATED",
    "EXCHANGE_RULES",
    "NEVER_LIQUIDATED",
    "ExchangeRule",
    "bankruptcy_price",
    "liquidation_price",
    "liquidation_state",
    "rule_for_venue",
]

#: The one word every reader (workbook, report, cell functions) shows for a liquidation price or
#: distance that no price reaches (a long whose collateral covers the fall to zero, a short
#: that can rise forever): riskfuncs returns 0.0 (long) or inf (short) for it.
NEVER_LIQUIDATED = "never"
#: The word for a position already at or past its liquidation price. A liquidation price says
#: so on the other side's bound: 0.0 for a short (every price liquidates it, as a cross wallet
#: already below its requirement), inf for a long; :func:`liquidation_state` reads both.
ALREADY_LIQUIDATED = "reached"

MaintenanceBasis = Literal["liquidation", "entry"]
MarginModeLike = Literal["isolated", "cross"] | Sequence[str] | npt.NDArray[Any] | pd.Series


@dataclass(frozen=True)
class ExchangeRule:
    """How one venue turns margin into a liquidation price.

    Attributes
    ----------
    name : str
    maintenance_basis : {"liquidation", "entry"}
        Where the maintenance margin is evaluated: at the liquidation price or at entry value.
    contracts : tuple of {"linear", "inverse"}
        Contract types the venue lists.
    rate_from_max_leverage : bool
        True when the maintenance rate is ``1 / (2 * max_leverage)`` (Hyperliquid).
    tier_amounts : bool
        False when the venue charges the whole position at its tier's rate, with no
        maintenance amount (OKX): a tier table's amounts are then ignored, never rebuilt.
    fee_on_bankruptcy_value : bool
        Entry-value venues only: the closing fee is charged on the value at the bankruptcy
        price (Bybit's "fee to close") rather than on entry value.
    fees : str
        How closing fees enter, in words.
    source : str
        The public document the rule follows.
    """

    name: str
    maintenance_basis: MaintenanceBasis
    contracts: tuple[Contract, ...]
    fees: str
    source: str
    rate_from_max_leverage: bool = False
    fee_on_bankruptcy_value: bool = False
    tier_amounts: bool = True


EXCHANGE_RULES: Mapping[str, ExchangeRule] = MappingProxyType(
    {
        "binance": ExchangeRule(
            "binance",
            "liquidation",
            ("linear", "inverse"),
            fees="none in the published formula; fee_rate, if given, adds to the rate at the "
            "liquidation price",
            source="Binance FAQ 'How to Calculate Liquidation Price of USDⓈ-M Futures Contracts'"
            " (b3c689c1f50a44cabb3a84e663b81d93) and '... COIN-M Futures Contracts' "
            "(ceccfcfb4e3a45e3b48b0b1bb1a8ae46); tier at the liquidation notional",
        ),
        "bybit": ExchangeRule(
            "bybit",
            "entry",
            ("linear", "inverse"),
            fees="'fee to close' when fee_rate is given: taker rate x value at the bankruptcy "
            "price (legacy inverse cross example: BP 5,718.57, LP 5,739.08 before rounding)",
            source="Bybit Help Center 'Liquidation Price (USDT Contract)' and 'Liquidation Price "
            "Calculation under Isolated Mode (Unified Trading Account)': "
            "LP = EP -/+ (IM - MM)/Q with MM = entry value x MMR - MM deduction",
            fee_on_bankruptcy_value=True,
        ),
        "okx": ExchangeRule(
            "okx",
            "liquidation",
            ("linear", "inverse"),
            fees="taker fee at the liquidation price in the requirement (margin ratio "
            "denominator); pass the taker rate as fee_rate",
            source="OKX 'Tiered maintenance margin ratio rules': margin ratio = (margin + uPnL) /"
            " (maintenance margin + liquidation fee); no maintenance amount",
            tier_amounts=False,
        ),
        "gate": ExchangeRule(
            "gate",
            "liquidation",
            ("linear", "inverse"),
            fees="taker fee added to the maintenance rate; pass it as fee_rate",
            source="Gate help 'Liquidation price and bankruptcy price': "
            "LP = (EP - s M/Q) / (1 - s (MMR + taker))",
        ),
        "hyperliquid": ExchangeRule(
            "hyperliquid",
            "liquidation",
            ("linear",),
            fees="none",
            source="Hyperliquid docs 'Liquidations': maintenance margin is half the initial "
            "margin at max leverage",
            rate_from_max_leverage=True,
        ),
        "dydx": ExchangeRule(
            "dydx",
            "liquidation",
            ("linear",),
            fees="none",
            source="dYdX Chain docs 'Margin' and 'Liquidations': p' = (e - S p) / (|S| MMF - S)",
        ),
        "bitmex": ExchangeRule(
            "bitmex",
            "entry",
            ("inverse", "linear"),
            fees="exit taker fee (and any funding charged) added to the maintenance rate on "
            "entry value; pass them as fee_rate",
            source="BitMEX 'Liquidation' guide: LP = EP / (1 + IMR - MMR) for an inverse long",
        ),
        "generic": ExchangeRule(
            "generic",
            "liquidation",
            ("linear", "inverse"),
            fees="fee_rate adds to the rate at the liquidation price",
            source="margin balance = maintenance margin at the liquidation price",
        ),
    }
)

EXCHANGES: tuple[str, ...] = tuple(EXCHANGE_RULES)
if EXCHANGES != RULES:  # pragma: no cover - a rule added in one place only
    raise ImportError("riskfuncs.venues.RULES and EXCHANGE_RULES list different rule sets")


# Collateral beyond this many times the entry notional is a unit mix-up, not a position.
_UNIT_MIXUP_FACTOR = 1000.0


_RULE_CACHE: dict[tuple[str, str], tuple[ExchangeRule, str]] = {}


def _rule_for(exchange: str, contract: str) -> tuple[ExchangeRule, str]:
    if isinstance(exchange, str) and isinstance(contract, str):
        found = _RULE_CACHE.get((exchange, contract))
        if found is None:
            if len(_RULE_CACHE) >= 256:  # spellings of real venues only, but keep it small
                _RULE_CACHE.clear()
            found = _RULE_CACHE[exchange, contract] = _find_rule(exchange, contract)
        return found
    return _find_rule(exchange, contract)


def _find_rule(exchange: str, contract: str) -> tuple[ExchangeRule, str]:
    # A ccxt id names its rule set; any other unknown name is refused here, where a single
    # call asks for one venue's rule (portfolio_margin values unknown venues generically).
    if isinstance(exchange, str) and venue_key(exchange) in VENUE_RULES:
        exchange = VENUE_RULES[venue_key(exchange)]
    rule = EXCHANGE_RULES[choose("exchange", exchange, EXCHANGES)]
    kind = choose("contract", contract, CONTRACTS)
    if kind not in rule.contracts:
        raise RiskInputError(
            f"contract must be {' or '.join(rule.contracts)} on {rule.name} (got {kind!r})"
        )
    return rule, kind


def _price_from_notional(x: Any, qty: Any, contract: str) -> Any:
    """Linear ``x/Q``; inverse ``N/x``. When x <= 0 no positive price solves the balance: 0.0
    (linear) or inf (inverse), a bound that :func:`liquidation_state` reads by side (a long
    never liquidated, a short already liquidated, or the other way round for inverse)."""
    if isinstance(x, float):  # the scalar fast path
        if x <= 0:
            return 0.0 if contract == "linear" else np.inf
        return float(x / qty if contract == "linear" else qty / x)
    price: FloatArray = np.empty(np.broadcast(x, qty).shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if contract == "linear":
            np.divide(x, qty, out=price)
            np.copyto(price, 0.0, where=x <= 0)
        else:
            np.divide(qty, x, out=price)
            np.copyto(price, np.inf, where=x <= 0)
    return price


class _TierLines(NamedTuple):
    """A tier table solved for one fee rate, as lookup tables over one merged search.

    In tier ``k`` the balance condition is the line ``x (1 - sigma (MMR_k + fee)) + sigma cum_k
    = t``. ``phi_up`` (longs of linear, shorts of inverse) and ``phi_down`` tabulate its left
    side at each tier floor; both increase. ``breaks`` merges them, so one search of the
    target ``t`` gives ``j`` = the number of breaks <= t, and ``offsets[j]``, ``slopes[j]``,
    ``caps[j]`` (``sigma > 0``) or the same at ``j + len(breaks) + 1`` (otherwise) are the
    line of the tier that holds the solution.
    """

    breaks: FloatArray
    offsets: FloatArray
    slopes: FloatArray
    caps: FloatArray | None
    scalar: tuple[list[float], list[float], list[float], list[float] | None]


_LINES_CACHE: dict[tuple[int, float], tuple[TierTable, _TierLines]] = {}


def _tier_lines(table: TierTable, fee: float) -> _TierLines:
    """The solving tables of ``table`` at one fee rate, built once per table and rate."""
    key = (id(table), fee)
    cached = _LINES_CACHE.get(key)
    if cached is not None and cached[0] is table:
        return cached[1]
    floors, last = table.floors, len(table) - 1
    rates = table.maintenance_margin_rates + fee
    amounts = table.maintenance_amounts
    # The first floor is -inf so that a target below the table (an unreachable price) lands
    # in tier 1.
    phi_up = floors * (1.0 - rates) + amounts
    phi_down = floors * (1.0 + rates) - amounts
    phi_up[0] = phi_down[0] = -np.inf
    breaks = np.sort(np.concatenate([phi_up, phi_down]))
    # For j breaks <= t (j >= 1: breaks[0] is -inf) the tiers are those of breaks[j - 1]:
    # row k - 1 of the up constants, row k + last of the down ones (k floors' phi <= t).
    up_rows = np.searchsorted(phi_up, breaks, side="right") - 1
    down_rows = np.searchsorted(phi_down, breaks, side="right") + last
    rows = np.concatenate([up_rows[:1], up_rows, down_rows[:1], down_rows])
    offsets = np.concatenate([amounts, -amounts])[rows]
    slopes = np.concatenate([1.0 - rates, 1.0 + rates])[rows]
    caps = None
    if not table.continuous:
        # Amounts that jump at a boundary: liquidation happens at the jump.
        caps = np.concatenate([table.caps[:-1], [np.inf]] * 2)[rows]
    listed = None if caps is None else caps.tolist()
    lines = _TierLines(
        breaks, offsets, slopes, caps, (breaks.tolist(), offsets.tolist(), slopes.tolist(), listed)
    )
    if len(_LINES_CACHE) >= 64:
        _LINES_CACHE.clear()
    _LINES_CACHE[key] = (table, lines)
    return lines


def _solve_in_tiers(t: Any, sigma: Any, fee: Any, table: TierTable) -> Any:
    """Notional ``x`` solving ``x (1 - sigma (MMR_k + fee)) + sigma cum_k = t`` in its own tier."""
    if isinstance(t, float):  # the scalar fast path: the same tables, read with bisect
        breaks, offsets, slopes, caps = _tier_lines(table, fee).scalar
        row = bisect_right(breaks, t)
        if not sigma > 0:
            row += len(breaks) + 1
        inside = (t - offsets[row]) / slopes[row]
        return inside if caps is None else min(inside, caps[row])
    fee = np.broadcast_to(fee, t.shape)
    first_fee = float(fee.flat[0]) if fee.size else 0.0
    if fee.size and constant_value(fee) is None and not np.all(fee == first_fee):
        # Rare: several fee rates in one call. Solve each rate's positions on their own.
        x = np.full(t.shape, np.nan)
        sigma = np.broadcast_to(sigma, t.shape)
        for fee_value in np.unique(fee):
            group = fee == fee_value
            x[group] = _solve_in_tiers(t[group], sigma[group], np.asarray(fee_value), table)
        return x
    lines = _tier_lines(table, first_fee)
    # j = the number of breaks <= t, counted one break at a time: a few dozen fast passes over
    # small integers beat a binary search per position (whose branches the data mispredicts).
    # The two first breaks are -inf; a NaN target counts 2 and stays NaN.
    # Counted in bytes (booleans viewed as uint8 add without casting) while the table is small.
    small = 2 * len(lines.breaks) + 2 < 256
    j: npt.NDArray[Any] = np.full(t.shape, 2, dtype=np.uint8 if small else np.intp)
    at_or_above = np.empty(t.shape, dtype=bool)
    ones = at_or_above.view(np.uint8) if small else at_or_above
    for edge in lines.breaks[2:]:
        np.greater_equal(t, edge, out=at_or_above)
        np.add(j, ones, out=j)
    np.greater(sigma, 0, out=at_or_above)
    np.logical_not(at_or_above, out=at_or_above)  # the down rows (NaN sides too, harmlessly)
    np.add(j, ones * np.asarray(len(lines.breaks) + 1, dtype=j.dtype), out=j)
    solved: FloatArray = np.subtract(t, lines.offsets[j])
    solved /= lines.slopes[j]
    if lines.caps is not None:
        np.minimum(solved, lines.caps[j], out=solved)
    return solved


def _resolve_rates(
    rule: ExchangeRule,
    maintenance_margin_rate: FloatLike | None,
    max_leverage: FloatLike | None,
    tiers: TierLike | None,
) -> FloatLike | None:
    if rule.rate_from_max_leverage and maintenance_margin_rate is None and tiers is None:
        if max_leverage is None:
            raise RiskInputError(
                "max_leverage is required on hyperliquid (maintenance = 1 / (2 x max leverage))"
            )
        _, (lev,) = broadcast_or_floats(("max_leverage",), (max_leverage,))
        require("max_leverage", lev, lev >= 1, "be >= 1")
        rate: FloatLike = 1.0 / (2.0 * lev)
        return rate
    return maintenance_margin_rate


_ARGUMENTS = (
    "side",
    "entry_price",
    "quantity",
    "collateral",
    "maintenance_margin_rate",
    "maintenance_amount",
    "fee_rate",
    "other_maintenance_margin",
    "other_unrealized_pnl",
)


def liquidation_price(
    side: SideLike,
    entry_price: FloatLike,
    quantity: FloatLike,
    collateral: FloatLike,
    *,
    exchange: Exchange = "binance",
    contract: Contract = "linear",
    maintenance_margin_rate: FloatLike | None = None,
    maintenance_amount: FloatLike = 0.0,
    tiers: TierLike | None = None,
    max_leverage: FloatLike | None = None,
    fee_rate: FloatLike = 0.0,
    other_maintenance_margin: FloatLike = 0.0,
    other_unrealized_pnl: FloatLike = 0.0,
    margin_mode: MarginModeLike = "isolated",
) -> Any:
    """Mark price at which the position is liquidated.

    Parameters
    ----------
    side : "long", "short", +1, -1, array-like or Series
    entry_price : float, array-like or Series
        Average entry price, quote currency per base unit, > 0.
    quantity : float, array-like or Series
        Linear: base units (contracts x contract size). Inverse: USD size (contracts x
        contract value). > 0.
    collateral : float, array-like or Series
        Isolated margin (isolated) or the cross wallet balance (cross): quote currency for
        linear, coin for inverse. >= 0.
    exchange : {"binance", "bybit", "okx", "gate", "hyperliquid", "dydx", "bitmex", "generic"}
        The published rule set, see ``EXCHANGE_RULES``; ccxt ids such as ``"binanceusdm"`` are
        accepted too. Binance, OKX, Gate, Hyperliquid, dYdX and
        generic evaluate the maintenance margin at the liquidation price; Bybit and BitMEX at
        entry value.
    contract : {"linear", "inverse"}
    maintenance_margin_rate : float, array-like or Series, optional
        Fraction in [0, 1). Required unless ``tiers`` is given (or, on Hyperliquid,
        ``max_leverage``).
    maintenance_amount : float, array-like or Series, default 0
        Binance "cum" / Bybit "MM deduction", in the notional's unit; ignored with ``tiers``.
    tiers : TierLike, optional
        Leverage tiers. Liquidation-price venues use the tier of the notional at the
        liquidation price; entry-value venues the tier of the entry notional.
    max_leverage : float, optional
        Hyperliquid: the market's max leverage, giving MMR = 1 / (2 x max leverage). Not used by
        other venues.
    fee_rate : float, array-like or Series, default 0
        Closing (taker) fee rate counted in the requirement, on the same basis as the
        maintenance margin (see each rule's ``fees``).
    other_maintenance_margin, other_unrealized_pnl : float, array-like or Series, default 0
        Cross margin: the maintenance margin and unrealised PnL (at mark) of the other positions
        sharing the wallet, same unit as ``collateral``.
    margin_mode : "isolated" or "cross", or an array of them, default "isolated"
        "cross": ``collateral`` is the account's wallet, which may dwarf one small position, so
        the unit check (isolated collateral above 1000x the position value is a unit mix-up)
        does not apply. The price itself depends only on the other arguments.

    Returns
    -------
    float, ndarray or Series
        The liquidation price in quote currency. A long is liquidated at or below it, a short at
        or above it, so the bounds mean opposite things by side (read them with
        :func:`liquidation_state`): ``0.0`` is a long no positive price liquidates (its
        collateral covers the whole loss to zero) but a short every price liquidates (a cross
        wallet already below the requirement at any price: ``ALREADY_LIQUIDATED``); ``inf`` is
        an inverse short that can never be liquidated but an inverse long already past it.
        NaN inputs give NaN.

    Raises
    ------
    RiskInputError
        Non-positive prices or quantities, unknown side/exchange/contract, rates outside
        [0, 1), bad tier tables, collateral that is clearly in the wrong unit.

    Notes
    -----
    Liquidation-price basis (Binance one-way/isolated; with ``cum``; Gate/OKX with the fee in
    the rate):

    .. math:: LP = \\frac{W + cum - s Q EP}{Q (MMR - s)}

    inverse: :math:`LP = N (MMR + s) / (W + cum + s N / EP)`. Entry-value basis (Bybit, BitMEX):
    :math:`LP = EP - s (W - MM_e) / Q` with :math:`MM_e = Q EP\\,MMR - cum`; inverse
    :math:`LP = N / (N/EP + s (W - MM_e))`.

    Plain numbers in (``float``, ``int``, ``numpy.float64``) take a scalar fast path: the same
    formulas and checks on Python floats, a few microseconds a call with a ``TierTable``
    (validate a ccxt tier list once with :func:`as_tier_table` when calling in a loop). A loop
    of single positions gives exactly the vectorised call's numbers.

    Examples
    --------
    Liquidation-price rule (Binance): long 1 BTCUSDT at 10,000 isolated with 1,000 USDT
    margin, MMR 0.4%, gives ``(1000 - 10000) / (0.004 - 1) = 9036.14...``

    >>> round(liquidation_price("long", 10_000, 1, 1_000, maintenance_margin_rate=0.004), 2)
    9036.14

    Bybit (entry value): long 1 BTC at 20,000 with 10x (2,000 margin), MMR 0.5%:

    >>> liquidation_price("long", 20_000, 1, 2_000, exchange="bybit",
    ...                   maintenance_margin_rate=0.005)
    18100.0

    A long that cannot be liquidated above zero, and a cross short whose wallet is already
    below the requirement at every price (the other positions lost 500):

    >>> liquidation_price("long", 100, 1, 150, maintenance_margin_rate=0.01)
    0.0
    >>> short = liquidation_price("short", 100, 1, 150, maintenance_margin_rate=0.01,
    ...                           other_unrealized_pnl=-500, margin_mode="cross")
    >>> short, liquidation_state("short", short)
    (0.0, 'reached')
    """
    rule, kind = _rule_for(exchange, contract)
    rate_input = _resolve_rates(rule, maintenance_margin_rate, max_leverage, tiers)
    table, rate_given = rate_source(rate_input, tiers, kind)
    if table is not None and not rule.tier_amounts:
        table = _without_amounts(table)
    sign = side_sign(side)
    # Plain numbers in: Python floats through the same formulas (no arrays, same checks).
    form, (s, ep, qty, wb, rate_in, amount_in, fee, other_mm, other_pnl) = broadcast_or_floats(
        _ARGUMENTS,
        (sign, entry_price, quantity, collateral, rate_given, maintenance_amount, fee_rate,
         other_maintenance_margin, other_unrealized_pnl),
    )
    require_positive("entry_price", ep)
    require_positive("quantity", qty)
    require_non_negative("collateral", wb)
    require_rate("fee_rate", fee)
    require_non_negative("other_maintenance_margin", other_mm)
    entry_value = notional_of(qty, ep, kind)
    _check_units(kind, entry_value, wb, other_mm, other_pnl, _cross_mask(margin_mode))
    sigma = s if kind == "linear" else -s
    effective = _effective_collateral(wb, other_mm, other_pnl)

    if rule.maintenance_basis == "entry":
        rate, amount = maintenance_terms(entry_value, rate_in, amount_in, table)
        _require_rate_sum(rate, fee)
        fee_value = entry_value
        if rule.fee_on_bankruptcy_value:
            fee_value = _bankruptcy_notional(entry_value, sigma, effective, fee)
        entry_requirement = entry_value * rate - amount + fee * fee_value
        x = entry_value + sigma * (entry_requirement - effective)
    elif table is None:
        rate, amount = maintenance_terms(entry_value, rate_in, amount_in, None)
        _require_rate_sum(rate, fee)
        target = entry_value - sigma * effective
        with _quiet(target):  # the denominator is > 0 (rate + fee < 1)
            x = (target - sigma * amount) / (1.0 - sigma * (rate + fee))
    else:
        _require_rate_sum(table.maintenance_margin_rates.item(-1), fee)  # the highest rate
        target = entry_value - sigma * effective
        x = _solve_in_tiers(target, sigma, fee, table)
    return form.wrap(_price_from_notional(x, qty, kind))


def liquidation_state(side: SideLike, liquidation_price: FloatLike) -> Any:
    """What a liquidation price at a bound means for its side: never, already, or neither.

    A long is liquidated at or below its liquidation price, a short at or above it, so ``0.0``
    and ``inf`` (what :func:`liquidation_price` gives when no positive price solves the
    balance) mean opposite things by side:

    ========  ====================================  ====================================
    price     long                                  short
    ========  ====================================  ====================================
    ``0.0``   ``NEVER_LIQUIDATED`` (collateral      ``ALREADY_LIQUIDATED`` (every price
              covers the fall to zero)              liquidates it: a cross wallet in deficit)
    ``inf``   ``ALREADY_LIQUIDATED``                ``NEVER_LIQUIDATED`` (an inverse short)
    ========  ====================================  ====================================

    Parameters
    ----------
    side : "long", "short", +1, -1, array-like or Series
    liquidation_price : float, array-like or Series
        As :func:`liquidation_price` returns it, >= 0.

    Returns
    -------
    str, None, ndarray of object or Series
        ``NEVER_LIQUIDATED`` or ``ALREADY_LIQUIDATED`` at a bound, None for a price a move can
        reach (and for NaN, missing data).

    Examples
    --------
    >>> liquidation_state("long", 0.0), liquidation_state("short", 0.0)
    ('never', 'reached')
    >>> liquidation_state(["short", "long"], [float("inf"), 95.0]).tolist()
    ['never', None]
    """
    form, (s, lp) = broadcast(side=side_sign(side), liquidation_price=liquidation_price)
    require_non_negative("liquidation_price", lp)
    states = np.full(np.shape(lp), None, dtype=object)
    low, high = np.asarray(lp == 0), np.isposinf(lp)
    long = np.asarray(s > 0)
    states[(long & low) | (~long & high)] = NEVER_LIQUIDATED
    states[(long & high) | (~long & low)] = ALREADY_LIQUIDATED
    if form.scalar:
        return states.reshape(-1)[0] if states.size == 1 else states
    if form.index is not None and states.ndim == 1 and len(states) == len(form.index):
        return pd.Series(states, index=form.index, dtype=object)
    return states


_NO_ERRSTATE = contextlib.nullcontext()


def _quiet(values: Any) -> contextlib.AbstractContextManager[Any]:
    """numpy's errstate for arrays (inf - inf in a NaN row is not a warning); nothing for a
    Python float, whose arithmetic never warns."""
    if isinstance(values, float):
        return _NO_ERRSTATE
    return np.errstate(divide="ignore", invalid="ignore")


_AMOUNTS_CACHE: dict[int, tuple[TierTable, TierTable]] = {}


def _without_amounts(table: TierTable) -> TierTable:
    """``table.without_amounts()``, built once per table (a per-position call reuses it)."""
    cached = _AMOUNTS_CACHE.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    if len(_AMOUNTS_CACHE) >= 64:
        _AMOUNTS_CACHE.clear()
    plain = table.without_amounts()
    _AMOUNTS_CACHE[id(table)] = (table, plain)
    return plain


def _effective_collateral(collateral: Any, other_mm: Any, other_pnl: Any) -> Any:
    """Collateral less the other positions' maintenance margin plus their uPnL (cross)."""
    if isinstance(other_mm, float) and other_mm == 0 and other_pnl == 0:
        return collateral  # the scalar fast path, isolated
    if _is_zero(other_mm) and _is_zero(other_pnl):  # isolated: no full-size temporaries
        return collateral
    return collateral - other_mm + other_pnl


def _is_zero(values: Any) -> bool:
    """True when every value is 0 (cheap for a scalar or a broadcast constant)."""
    if isinstance(values, float):
        return values == 0
    probe = constant_value(values)
    return bool(probe == 0) if probe is not None else not np.any(values)


def _require_rate_sum(rate: Any, fee: Any) -> None:
    if isinstance(rate, float) and isinstance(fee, float):
        if rate + fee < 1:
            return
        require("maintenance_margin_rate + fee_rate", rate + fee, rate + fee < 1, "be < 1")
        return
    if np.max(rate) + np.max(fee) < 1:  # the common case, without a full-size temporary
        return
    total = np.asarray(rate + fee, dtype=float)
    require("maintenance_margin_rate + fee_rate", total, total < 1, "be < 1")


def _cross_mask(margin_mode: MarginModeLike) -> Any:
    """True where the margin mode is cross; a single string is the common, cheap case."""
    if isinstance(margin_mode, str):
        if margin_mode == "isolated":
            return False
        return choose("margin_mode", margin_mode, ("isolated", "cross")) == "cross"
    if isinstance(margin_mode, np.ndarray) and margin_mode.dtype.kind == "U":
        cross = equals_word(margin_mode, "cross")
        if (cross | equals_word(margin_mode, "isolated")).all():  # the usual words only
            return cross
    modes = np.asarray(margin_mode, dtype=object)
    for mode in np.unique(modes.astype(str)):
        choose("margin_mode", mode, ("isolated", "cross"))
    return modes == "cross"


def _check_units(
    kind: str,
    entry_value: Any,
    collateral: Any,
    other_mm: Any,
    other_pnl: Any,
    cross: Any = False,
) -> None:
    """Refuse collateral that only makes sense in the other contract type's unit."""
    if isinstance(collateral, float) and not collateral > _UNIT_MIXUP_FACTOR * entry_value:
        return  # the scalar fast path, and the usual answer
    mm, pnl = constant_value(other_mm), constant_value(other_pnl)
    one_mode = isinstance(cross, bool | np.bool_)
    if (mm is not None and mm != 0) or (pnl is not None and pnl != 0) or (one_mode and cross):
        return  # every position shares a cross wallet: nothing to check
    if isinstance(collateral, float):
        absurd: Any = True
        ok: Any = False
    else:
        with np.errstate(invalid="ignore"):
            absurd = collateral > _UNIT_MIXUP_FACTOR * entry_value
        if not (one_mode and mm is not None and pnl is not None):  # some positions are cross
            absurd &= (other_mm == 0) & (other_pnl == 0) & ~np.asarray(cross, dtype=bool)
        ok = ~absurd
    if np.any(absurd):
        hint = (
            "inverse contracts take collateral in coin"
            if kind == "inverse"
            else "linear contracts take quantity in base units, not USD"
        )
        require(
            "collateral",
            collateral,
            ok,
            f"be at most {_UNIT_MIXUP_FACTOR:g}x the position value; {hint}",
        )


def bankruptcy_price(
    side: SideLike,
    entry_price: FloatLike,
    quantity: FloatLike,
    collateral: FloatLike,
    *,
    contract: Contract = "linear",
    other_unrealized_pnl: FloatLike = 0.0,
    fee_rate: FloatLike = 0.0,
) -> Any:
    """Price at which the margin balance is used up (down to the closing fee, if any).

    Parameters
    ----------
    side, entry_price, quantity, collateral, contract, other_unrealized_pnl
        As in :func:`liquidation_price`.
    fee_rate : float, default 0
        Closing fee charged on the value at the bankruptcy price (Bybit); 0 gives the plain
        zero-balance price.

    Returns
    -------
    float, ndarray or Series
        Linear :math:`(Q EP - s W) / (Q (1 - s f))`; inverse :math:`(1 + s f) N / (N/EP + s W)`.
        0.0 for a long that is fully collateralised, inf for such an inverse short.

    Notes
    -----
    Bybit "What is Bankruptcy Price": isolated long ``EP (1 - 1/L)``, short ``EP (1 + 1/L)``
    (before Bybit rounds the long up and the short down to the tick). BitMEX inverse:
    ``EP / (1 + 1/L)`` for a long.

    Examples
    --------
    >>> bankruptcy_price("long", 20_000, 1, 2_000)
    18000.0
    >>> round(bankruptcy_price("long", 10_000, 100_000, 1, contract="inverse"), 2)
    9090.91
    """
    kind = choose("contract", contract, CONTRACTS)
    sign = side_sign(side)
    form, (s, ep, qty, wb, other_pnl, fee) = broadcast(
        side=sign,
        entry_price=entry_price,
        quantity=quantity,
        collateral=collateral,
        other_unrealized_pnl=other_unrealized_pnl,
        fee_rate=fee_rate,
    )
    require_positive("entry_price", ep)
    require_positive("quantity", qty)
    require_non_negative("collateral", wb)
    require_rate("fee_rate", fee)
    entry_value = notional_of(qty, ep, kind)
    sigma = s if kind == "linear" else -s
    x = _bankruptcy_notional(entry_value, sigma, wb + other_pnl, fee)
    return form.wrap(_price_from_notional(x, qty, kind))


def _bankruptcy_notional(
    entry_value: FloatArray, sigma: FloatArray, balance: FloatArray, fee: FloatArray
) -> FloatArray:
    """Notional where the balance equals the closing fee: ``(x_e - sigma W) / (1 - sigma f)``."""
    result: FloatArray = (entry_value - sigma * balance) / (1.0 - sigma * fee)
    return result
