"""What is left after the venue's first liquidation action: liquidation as a ladder of steps.

A liquidation is not always one event. Where the venue publishes a deterministic rule, the
ladder below says, for a price moving against the position, at which price each step fires,
what it closes and what is left:

* **Hyperliquid** (docs "Liquidations"): a liquidatable position worth more than 100,000 USDC
  is liquidated 20% at a time; after a partial liquidation a 30-second cool-down follows during
  which any further liquidation closes the entire position. Each remaining slice keeps the
  isolated margin less the loss realised on the slices closed.
* **Bybit** (help "Liquidation Process (USDT Contract)", risk-limit reduction): a position above
  the lowest risk-limit tier is first cut with a FillOrKill order to the lower tier's value, at
  the lower tier's maintenance rate, tier by tier; at the lowest tier it is taken over at the
  bankruptcy price.
* **Binance** reduces a position with one large immediate-or-cancel order whose fill depends on
  the order book: no deterministic ladder exists, and :func:`liquidation_steps` says so rather
  than guess (one step: the whole position at the liquidation price).
* **OKX** says only that "depending on the position tier, partial liquidation may occur" and
  that positions "will continue to be reduced until the margin level requirement is met" (OKX
  Learn "When would my order be liquidated?", https://www.okx.com/learn/when-would-my-order-be-
  liquidated, read December 2026). Its current tier-reduction amount is not published: the
  older rules found are contradictory and not OKX's current pages (a legacy OKEx support
  article, https://supdljgzdhc.okx.com/hc/en-us/articles/360020411711, cut a tier-3 swap
  position down to tier 1; third-party copies of later coin-margined rules, amorrr.com/14966
  and 365shuku.com/10258, cut two tiers at a time). So OKX gets one step, named as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from riskfuncs._errors import RiskInputError
from riskfuncs.liquidation import liquidation_price
from riskfuncs.tiers import TierLike, as_tier_table
from riskfuncs.venues import rule_for_venue

__all__ = ["HYPERLIQUID_PARTIAL_ABOVE", "LiquidationStep", "liquidation_steps"]

#: Hyperliquid liquidates positions worth more than this (USDC) 20% at a time.
HYPERLIQUID_PARTIAL_ABOVE = 100_000.0
HYPERLIQUID_SLICE = 0.20
HYPERLIQUID_COOLDOWN_SECONDS = 30


@dataclass(frozen=True)
class LiquidationStep:
    """One step of the ladder: at ``price`` the venue closes ``closed`` (base units), leaving
    ``remaining``; ``note`` says what happens (and any condition, such as a cool-down)."""

    price: float
    closed: float
    remaining: float
    note: str


def liquidation_steps(
    side: str,
    entry_price: float,
    quantity: float,
    collateral: float,
    *,
    exchange: str,
    maintenance_margin_rate: float | None = None,
    tiers: TierLike | None = None,
    max_leverage: float | None = None,
    fee_rate: float = 0.0,
) -> list[LiquidationStep]:
    """The liquidation ladder of an isolated linear position, price moving against it.

    Parameters
    ----------
    side, entry_price, quantity, collateral
        As in :func:`liquidation_price` (quantity in base units, collateral the isolated margin
        in quote currency).
    exchange : str
        Venue name or ccxt id: Hyperliquid and Bybit have ladders; other venues one step, whose
        note says why (Binance: the order book decides; OKX: its tier reduction is unpublished).
    maintenance_margin_rate, tiers, max_leverage, fee_rate
        As in :func:`liquidation_price`; Bybit's ladder needs ``tiers`` (its risk limits).

    Returns
    -------
    list of LiquidationStep
        In the order they happen; the last step leaves nothing.

    Examples
    --------
    A 2 BTC long at 100,000 on Hyperliquid (200,000 USDC, above the partial threshold), 40x
    max leverage, 10,000 USDC of isolated margin: 20% goes first, the rest after it.

    >>> steps = liquidation_steps("long", 100_000, 2, 10_000, exchange="hyperliquid",
    ...                           max_leverage=40)
    >>> [(round(s.price, 2), s.closed, s.remaining) for s in steps]
    [(96202.53, 0.4, 1.6), (95898.09, 1.6, 0.0)]
    """
    rule = rule_for_venue(exchange)
    if side not in ("long", "short"):
        raise RiskInputError(f"side must be long or short (got {side!r})")
    sign = 1.0 if side == "long" else -1.0
    common: dict[str, Any] = {"exchange": rule, "fee_rate": fee_rate}

    def lp(qty: float, margin: float, **rates: Any) -> float:
        return float(liquidation_price(side, entry_price, qty, margin, **common, **rates))

    if rule == "hyperliquid":
        rates = {"maintenance_margin_rate": maintenance_margin_rate, "tiers": tiers,
                 "max_leverage": max_leverage}
        rates = {k: v for k, v in rates.items() if v is not None}
        steps: list[LiquidationStep] = []
        qty, margin = float(quantity), float(collateral)
        first = lp(qty, margin, **rates)
        if not first > 0 or qty * first <= HYPERLIQUID_PARTIAL_ABOVE:
            return [LiquidationStep(first, qty, 0.0, "the whole position (worth at most "
                                    f"{HYPERLIQUID_PARTIAL_ABOVE:,.0f} USDC)")]
        closed = qty * HYPERLIQUID_SLICE
        # The slice is closed at the liquidation price: its loss comes out of the margin.
        margin += sign * closed * (first - entry_price)
        left = qty - closed
        steps.append(LiquidationStep(first, closed, left, "20% of the position (worth more "
                                     f"than {HYPERLIQUID_PARTIAL_ABOVE:,.0f} USDC)"))
        nxt = lp(left, margin, **rates)
        steps.append(LiquidationStep(
            nxt, left, 0.0, f"the rest, if the price gets there: within "
            f"{HYPERLIQUID_COOLDOWN_SECONDS} s of the first step the whole remaining position "
            "is liquidated, after it 20% again"))
        return steps
    if rule == "bybit":
        if tiers is None:
            raise RiskInputError("tiers (Bybit's risk limits) are required for Bybit's "
                                 "liquidation ladder")
        table = as_tier_table(tiers)
        qty, margin = float(quantity), float(collateral)
        steps = []
        k = int(table.index_for(np.asarray(qty * entry_price)))
        while True:
            rate, amount = float(table.maintenance_margin_rates[k]), \
                float(table.maintenance_amounts[k])
            price = lp(qty, margin, maintenance_margin_rate=rate, maintenance_amount=amount)
            if k == 0 or not price > 0:
                steps.append(LiquidationStep(price, qty, 0.0, "the rest, at the lowest "
                                             "risk-limit tier: taken over at the bankruptcy "
                                             "price"))
                return steps
            cap = float(table.floors[k])  # the lower tier ends where this one starts
            keep = min(qty, cap / entry_price)  # position value at entry within the lower tier
            closed = qty - keep
            # The position keeps its margin, less the loss realised on what was cut.
            margin += sign * closed * (price - entry_price)
            steps.append(LiquidationStep(price, closed, keep,
                                         f"FillOrKill down to risk-limit tier {k} "
                                         f"({cap:,.0f} of position value)"))
            qty, k = keep, k - 1
    price = lp(float(quantity), float(collateral),
               **({"tiers": tiers} if tiers is not None else
                  {"maintenance_margin_rate": maintenance_margin_rate}))
    if rule == "binance":
        note = ("the whole position: Binance first tries one large immediate-or-cancel "
                "reduction whose fill depends on the order book, so no partial step can be "
                "foreseen")
    elif rule == "okx":
        note = ("the whole position: OKX may liquidate in part depending on the position tier, "
                "but does not publish how much its tier reduction closes, so no partial step "
                "is foreseen")
    else:
        note = "the whole position (no partial rule published here)"
    return [LiquidationStep(price, float(quantity), 0.0, note)]
