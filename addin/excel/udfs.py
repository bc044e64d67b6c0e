"""perprisk cell functions for Excel (classic xlwings UDFs, Windows desktop Excel).

Every function is a riskfuncs call plus the conversion in :mod:`addin.excel.cells`. Conventions:

* Ranges work wherever one number does: ``=PERP_LIQ_PRICE(A2:A50, ...)`` spills one result per
  row. Empty and error cells are missing data and give an empty result cell.
* Percentages are fractions, as Excel stores them: a cell showing 0.5% holds 0.005.
* A range with a header row (positions, tiers, price histories) is read as a table by name.
* Optional arguments may be omitted or left as an empty cell.
* A bad input shows one line of text naming the argument, e.g. ``leverage must be > 0 (got -5)``
  (see :mod:`addin.excel.errors`); a price no move reaches shows ``unreachable``.

The first line of each docstring is what Excel's function wizard shows (at most 255
characters); ``docs/functions.md`` is generated from these declarations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xlwings as xw

from addin.excel import cells
from addin.excel.errors import shows_errors
from riskfuncs import RiskInputError, funding, liquidation, margin, portfolio
from riskfuncs import tiers as tier_tables

CATEGORY = "PerpRisk"

# Argument descriptions shared by several functions (function wizard text, <= 255 characters).
SIDE = '"long" or "short" (also buy/sell, +1/-1); a range gives one result per row.'
ENTRY = "Average entry price, quote currency per coin (> 0)."
MARK = "Mark price, quote currency per coin (> 0)."
QUANTITY = "Position size: coins for linear contracts, USD face value for inverse (> 0)."
COLLATERAL = (
    "Isolated: the position's margin. Cross: the account's wallet balance. Quote currency for "
    "linear, coin for inverse."
)
EXCHANGE = (
    "Rule set: binance, bybit, okx, gate, hyperliquid, dydx, bitmex or generic. Default binance."
)
CONTRACT = '"linear" (USDT/USDC margined, default) or "inverse" (coin margined).'
MMR = "Maintenance margin rate as a fraction (0.5% = 0.005). Leave empty when tiers are given."
MM_AMOUNT = (
    "Maintenance amount deducted (Binance cum, Bybit MM deduction), in the notional's unit. "
    "Default 0."
)
TIERS = (
    "Leverage tiers: a range with header row minNotional, maxNotional, maintenanceMarginRate "
    "and optional maintenanceAmount, maxLeverage."
)
MAX_LEVERAGE = "Hyperliquid only: the market's max leverage (maintenance rate = 1 / (2 x max))."
FEE_RATE = (
    "Closing taker fee rate counted in the requirement, fraction (0.05% = 0.0005). Default 0."
)
OTHER_MM = "Cross only: maintenance margin of the other positions sharing the wallet. Default 0."
OTHER_PNL = "Cross only: unrealised PnL of the other positions sharing the wallet. Default 0."
UNREACHABLE = "unreachable"
NOTIONAL = "Position value in the tier table's unit (quote for linear, coin for inverse)."


TIER_COLUMNS = (
    "minNotional",
    "maxNotional",
    "maintenanceMarginRate",
    "maintenanceAmount",
    "maxLeverage",
)


def _tiers(value: Any) -> pd.DataFrame | None:
    return cells.optional_table("tiers", value, number_columns=TIER_COLUMNS)


@xw.func(category=CATEGORY)
@xw.arg("quantity", ndim=2, doc=QUANTITY)
@xw.arg("price", ndim=2, doc="Price, quote currency per coin (> 0).")
@xw.arg("contract", doc=CONTRACT)
@shows_errors
def PERP_NOTIONAL(quantity: Any, price: Any, contract: Any = None) -> Any:
    """Position value: quantity x price (linear, quote) or quantity / price (inverse, coin)."""
    return cells.cells_out(
        margin.notional(
            cells.numbers("quantity", quantity),
            cells.numbers("price", price),
            contract=cells.option("contract", contract, "linear"),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("quantity", ndim=2, doc=QUANTITY)
@xw.arg("price", ndim=2, doc="Entry or mark price, quote currency per coin (> 0).")
@xw.arg("leverage", ndim=2, doc="Leverage chosen for the position (> 0), e.g. 10.")
@xw.arg("contract", doc=CONTRACT)
@shows_errors
def PERP_INITIAL_MARGIN(quantity: Any, price: Any, leverage: Any, contract: Any = None) -> Any:
    """Initial margin: notional / leverage (quote currency for linear, coin for inverse)."""
    return cells.cells_out(
        margin.initial_margin(
            cells.numbers("quantity", quantity),
            cells.numbers("price", price),
            leverage=cells.numbers("leverage", leverage),
            contract=cells.option("contract", contract, "linear"),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("quantity", ndim=2, doc=QUANTITY)
@xw.arg("price", ndim=2, doc="Mark price, quote currency per coin (> 0).")
@xw.arg("maintenance_margin_rate", ndim=2, doc=MMR)
@xw.arg("maintenance_amount", ndim=2, doc=MM_AMOUNT)
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS)
@xw.arg("contract", doc=CONTRACT)
@shows_errors
def PERP_MAINT_MARGIN(
    quantity: Any,
    price: Any,
    maintenance_margin_rate: Any = None,
    maintenance_amount: Any = None,
    tiers: Any = None,
    contract: Any = None,
) -> Any:
    """Maintenance margin: notional x rate - maintenance amount (rate from tiers if given)."""
    return cells.cells_out(
        margin.maintenance_margin(
            cells.numbers("quantity", quantity),
            cells.numbers("price", price),
            contract=cells.option("contract", contract, "linear"),
            maintenance_margin_rate=cells.optional_numbers(
                "maintenance_margin_rate", maintenance_margin_rate
            ),
            maintenance_amount=cells.optional_numbers("maintenance_amount", maintenance_amount)
            or 0.0,
            tiers=_tiers(tiers),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("entry_price", ndim=2, doc=ENTRY)
@xw.arg("mark_price", ndim=2, doc=MARK)
@xw.arg("quantity", ndim=2, doc=QUANTITY)
@xw.arg("contract", doc=CONTRACT)
@shows_errors
def PERP_UNREALIZED_PNL(
    side: Any, entry_price: Any, mark_price: Any, quantity: Any, contract: Any = None
) -> Any:
    """Unrealised PnL at the mark price: quote currency for linear, coin for inverse contracts."""
    return cells.cells_out(
        margin.unrealized_pnl(
            cells.sides(side),
            cells.numbers("entry_price", entry_price),
            cells.numbers("mark_price", mark_price),
            cells.numbers("quantity", quantity),
            contract=cells.option("contract", contract, "linear"),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("maintenance_margin", ndim=2, doc="Maintenance margin of the position or account.")
@xw.arg("margin_balance", ndim=2, doc="Margin balance: collateral plus unrealised PnL.")
@xw.arg(
    "convention",
    doc='"maintenance/balance" (default; 1 = liquidation, Binance/Bybit) or "balance/maintenance".',
)
@shows_errors
def PERP_MARGIN_RATIO(maintenance_margin: Any, margin_balance: Any, convention: Any = None) -> Any:
    """Margin ratio; with the default convention 1.0 (100%) means liquidation."""
    return cells.cells_out(
        margin.margin_ratio(
            cells.numbers("maintenance_margin", maintenance_margin),
            cells.numbers("margin_balance", margin_balance),
            convention=cells.option("convention", convention, "maintenance/balance"),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("margin_balance", ndim=2, doc="Margin balance: collateral plus unrealised PnL.")
@xw.arg("requirement", ndim=2, doc="Requirement to compare with, e.g. the maintenance margin.")
@shows_errors
def PERP_MARGIN_BUFFER(margin_balance: Any, requirement: Any) -> Any:
    """Margin buffer: balance / requirement - 1 (0.30 = 30% above the requirement)."""
    return cells.cells_out(
        margin.margin_buffer(
            cells.numbers("margin_balance", margin_balance),
            cells.numbers("requirement", requirement),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("mark_price", ndim=2, doc=MARK)
@xw.arg("liquidation_price", ndim=2, doc="Liquidation price, e.g. from PERP_LIQ_PRICE.")
@shows_errors
def PERP_LIQ_DISTANCE(side: Any, mark_price: Any, liquidation_price: Any) -> Any:
    """Adverse move, as a fraction of the mark price, that liquidates the position (0.12 = 12%)."""
    return cells.cells_out(
        margin.distance_to_liquidation(
            cells.sides(side),
            cells.numbers("mark_price", mark_price),
            cells.numbers("liquidation_price", liquidation_price),
        ),
        inf_text=UNREACHABLE,
    )


@xw.func(category=CATEGORY)
@xw.arg("move", ndim=2, doc="Adverse price move to survive, fraction (0.30 = 30% against you).")
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("maintenance_margin_rate", ndim=2, doc="Maintenance margin rate, fraction (0.5% = 0.005).")
@xw.arg("buffer", ndim=2, doc="Margin left above maintenance after the move. Default 0.30.")
@xw.arg("contract", doc=CONTRACT)
@shows_errors
def PERP_MAX_LEVERAGE_FOR_MOVE(
    move: Any, side: Any, maintenance_margin_rate: Any, buffer: Any = None, contract: Any = None
) -> Any:
    """Highest leverage that survives an adverse move and still keeps the margin buffer."""
    buffer_value = cells.optional_numbers("buffer", buffer)
    return cells.cells_out(
        margin.max_leverage_for_move(
            cells.numbers("move", move),
            side=cells.sides(side),
            maintenance_margin_rate=cells.numbers(
                "maintenance_margin_rate", maintenance_margin_rate
            ),
            buffer=0.30 if buffer_value is None else buffer_value,
            contract=cells.option("contract", contract, "linear"),
        ),
        inf_text="no limit",
    )


@xw.func(category=CATEGORY)
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("entry_price", ndim=2, doc=ENTRY)
@xw.arg("quantity", ndim=2, doc=QUANTITY)
@xw.arg("collateral", ndim=2, doc=COLLATERAL)
@xw.arg("exchange", doc=EXCHANGE)
@xw.arg("contract", doc=CONTRACT)
@xw.arg("maintenance_margin_rate", ndim=2, doc=MMR)
@xw.arg("maintenance_amount", ndim=2, doc=MM_AMOUNT)
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS)
@xw.arg("max_leverage", ndim=2, doc=MAX_LEVERAGE)
@xw.arg("fee_rate", ndim=2, doc=FEE_RATE)
@xw.arg("other_maintenance_margin", ndim=2, doc=OTHER_MM)
@xw.arg("other_unrealized_pnl", ndim=2, doc=OTHER_PNL)
@shows_errors
def PERP_LIQ_PRICE(
    side: Any,
    entry_price: Any,
    quantity: Any,
    collateral: Any,
    exchange: Any = None,
    contract: Any = None,
    maintenance_margin_rate: Any = None,
    maintenance_amount: Any = None,
    tiers: Any = None,
    max_leverage: Any = None,
    fee_rate: Any = None,
    other_maintenance_margin: Any = None,
    other_unrealized_pnl: Any = None,
) -> Any:
    """Liquidation price by the exchange's published rule, isolated or cross margin."""
    return cells.cells_out(
        liquidation.liquidation_price(
            cells.sides(side),
            cells.numbers("entry_price", entry_price),
            cells.numbers("quantity", quantity),
            cells.numbers("collateral", collateral),
            exchange=cells.option("exchange", exchange, "binance"),
            contract=cells.option("contract", contract, "linear"),
            maintenance_margin_rate=cells.optional_numbers(
                "maintenance_margin_rate", maintenance_margin_rate
            ),
            maintenance_amount=_or(
                cells.optional_numbers("maintenance_amount", maintenance_amount)
            ),
            tiers=_tiers(tiers),
            max_leverage=cells.optional_numbers("max_leverage", max_leverage),
            fee_rate=_or(cells.optional_numbers("fee_rate", fee_rate)),
            other_maintenance_margin=_or(
                cells.optional_numbers("other_maintenance_margin", other_maintenance_margin)
            ),
            other_unrealized_pnl=_or(
                cells.optional_numbers("other_unrealized_pnl", other_unrealized_pnl)
            ),
        ),
        inf_text=UNREACHABLE,
    )


def _or(value: float | np.ndarray | None, default: float = 0.0) -> Any:
    """An optional number argument with its default when omitted."""
    return default if value is None else value


@xw.func(category=CATEGORY)
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("entry_price", ndim=2, doc=ENTRY)
@xw.arg("quantity", ndim=2, doc=QUANTITY)
@xw.arg("collateral", ndim=2, doc=COLLATERAL)
@xw.arg("contract", doc=CONTRACT)
@xw.arg("other_unrealized_pnl", ndim=2, doc=OTHER_PNL)
@shows_errors
def PERP_BANKRUPTCY_PRICE(
    side: Any,
    entry_price: Any,
    quantity: Any,
    collateral: Any,
    contract: Any = None,
    other_unrealized_pnl: Any = None,
) -> Any:
    """Bankruptcy price: where the margin balance reaches zero (no maintenance margin left)."""
    return cells.cells_out(
        liquidation.bankruptcy_price(
            cells.sides(side),
            cells.numbers("entry_price", entry_price),
            cells.numbers("quantity", quantity),
            cells.numbers("collateral", collateral),
            contract=cells.option("contract", contract, "linear"),
            other_unrealized_pnl=_or(
                cells.optional_numbers("other_unrealized_pnl", other_unrealized_pnl)
            ),
        ),
        inf_text=UNREACHABLE,
    )


@xw.func(category=CATEGORY)
@xw.arg("notional", ndim=2, doc=NOTIONAL)
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS)
@shows_errors
def PERP_TIER(notional: Any, tiers: Any) -> Any:
    """Tier number (1 = first) that applies to a position value in a leverage-tier table."""
    return cells.cells_out(
        tier_tables.tier_for_notional(
            cells.numbers("notional", notional),
            cells.table("tiers", tiers, number_columns=TIER_COLUMNS),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("notional", ndim=2, doc=NOTIONAL)
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS)
@shows_errors
def PERP_TIER_MAX_LEVERAGE(notional: Any, tiers: Any) -> Any:
    """Highest leverage the exchange allows for a position of this value, from its tier table."""
    return cells.cells_out(
        tier_tables.max_leverage(
            cells.numbers("notional", notional),
            cells.table("tiers", tiers, number_columns=TIER_COLUMNS),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("premium_index", ndim=2, doc="Average premium index of the interval (0.03% = 0.0003).")
@xw.arg("interest_rate", ndim=2, doc="Interest rate per interval. Default 0.0001 (0.01% per 8 h).")
@xw.arg("clamp", ndim=2, doc="Band around interest - premium, fraction. Default 0.0005 (0.05%).")
@xw.arg("cap", ndim=2, doc="Venue cap on the absolute funding rate, fraction. Default none.")
@shows_errors
def PERP_FUNDING_RATE(
    premium_index: Any, interest_rate: Any = None, clamp: Any = None, cap: Any = None
) -> Any:
    """Funding rate of one interval: premium + clamp(interest - premium), optionally capped."""
    return cells.cells_out(
        funding.funding_rate(
            cells.numbers("premium_index", premium_index),
            interest_rate=_or(cells.optional_numbers("interest_rate", interest_rate), 0.0001),
            clamp=_or(cells.optional_numbers("clamp", clamp), 0.0005),
            cap=cells.optional_numbers("cap", cap),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("quantity", ndim=2, doc=QUANTITY)
@xw.arg("mark_price", ndim=2, doc=MARK)
@xw.arg("rate", ndim=2, doc="Funding rate of the interval, fraction (0.01% = 0.0001).")
@xw.arg("contract", doc=CONTRACT)
@shows_errors
def PERP_FUNDING_PAYMENT(
    side: Any, quantity: Any, mark_price: Any, rate: Any, contract: Any = None
) -> Any:
    """Funding cash flow of one interval to the holder (negative = paid)."""
    return cells.cells_out(
        funding.funding_payment(
            cells.sides(side),
            cells.numbers("quantity", quantity),
            cells.numbers("mark_price", mark_price),
            cells.numbers("rate", rate),
            contract=cells.option("contract", contract, "linear"),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("side", doc='"long" or "short".')
@xw.arg("quantity", doc=QUANTITY)
@xw.arg("mark_prices", ndim=1, doc="Mark price at each funding time (one column or row).")
@xw.arg("rates", ndim=1, doc="Funding rate of each interval, fraction, same length as mark_prices.")
@xw.arg("contract", doc=CONTRACT)
@shows_errors
def PERP_CUMULATIVE_FUNDING(
    side: Any, quantity: Any, mark_prices: Any, rates: Any, contract: Any = None
) -> Any:
    """Running total of funding after each interval; spills down, the last is the total."""
    return cells.cells_out(
        funding.cumulative_funding(
            cells.sides(side),
            cells.number("quantity", quantity),
            cells.series("mark_prices", mark_prices),
            cells.series("rates", rates),
            contract=cells.option("contract", contract, "linear"),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("side", doc='"long" or "short".')
@xw.arg("entry_price", doc=ENTRY)
@xw.arg("quantity", doc=QUANTITY)
@xw.arg("collateral", doc="Isolated margin: quote currency for linear, coin for inverse.")
@xw.arg("mark_prices", ndim=1, doc="Mark price at each funding time (one column or row).")
@xw.arg("rates", ndim=1, doc="Funding rate of each interval, fraction, same length as mark_prices.")
@xw.arg("exchange", doc=EXCHANGE)
@xw.arg("contract", doc=CONTRACT)
@xw.arg("maintenance_margin_rate", doc=MMR)
@xw.arg("maintenance_amount", doc=MM_AMOUNT)
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS)
@xw.arg("max_leverage", doc=MAX_LEVERAGE)
@xw.arg("fee_rate", doc=FEE_RATE)
@shows_errors
def PERP_LIQ_PRICE_AFTER_FUNDING(
    side: Any,
    entry_price: Any,
    quantity: Any,
    collateral: Any,
    mark_prices: Any,
    rates: Any,
    exchange: Any = None,
    contract: Any = None,
    maintenance_margin_rate: Any = None,
    maintenance_amount: Any = None,
    tiers: Any = None,
    max_leverage: Any = None,
    fee_rate: Any = None,
) -> Any:
    """Isolated liquidation price once the funding paid or received has settled into the margin."""
    return cells.cells_out(
        funding.liquidation_price_after_funding(
            cells.sides(side),
            cells.number("entry_price", entry_price),
            cells.number("quantity", quantity),
            cells.number("collateral", collateral),
            cells.series("mark_prices", mark_prices),
            cells.series("rates", rates),
            exchange=cells.option("exchange", exchange, "binance"),
            contract=cells.option("contract", contract, "linear"),
            maintenance_margin_rate=cells.optional_numbers(
                "maintenance_margin_rate", maintenance_margin_rate
            ),
            maintenance_amount=_or(
                cells.optional_numbers("maintenance_amount", maintenance_amount)
            ),
            tiers=_tiers(tiers),
            max_leverage=cells.optional_numbers("max_leverage", max_leverage),
            fee_rate=_or(cells.optional_numbers("fee_rate", fee_rate)),
        ),
        inf_text=UNREACHABLE,
    )


PORTFOLIO_INF_TEXT = {"liquidation_price": UNREACHABLE, "distance_to_liquidation": UNREACHABLE}
POSITION_TEXT_COLUMNS = ("exchange", "symbol", "side", "marginMode", "contractType", "currency")


def _tiers_by_symbol(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame] | None:
    if frame is None:
        return None
    if "symbol" not in frame:
        raise RiskInputError("tiers must have a symbol column to apply to positions")
    return {
        str(symbol): rows.drop(columns="symbol").reset_index(drop=True)
        for symbol, rows in frame.groupby("symbol", sort=False)
    }


@xw.func(category=CATEGORY)
@xw.arg(
    "positions",
    pd.DataFrame,
    index=False,
    header=True,
    doc=(
        "Positions with a header row (ccxt names): side, contracts, entryPrice, markPrice, "
        "collateral; optional exchange, symbol, contractSize, marginMode, contractType, "
        "maintenanceMarginRate, maintenanceAmount, leverage, feeRate, maxLeverage."
    ),
)
@xw.arg(
    "tiers",
    pd.DataFrame,
    index=False,
    header=True,
    doc="Leverage tiers of several markets: header row with symbol plus the tier columns.",
)
@xw.ret(index=False, header=True)
@shows_errors
def PERP_PORTFOLIO(positions: Any, tiers: Any = None) -> Any:
    """Per-position margin, PnL, liquidation price and distance for a whole book; spills a table."""
    book = cells.table(
        "positions",
        positions,
        text_columns=POSITION_TEXT_COLUMNS,
        number_columns=[c for c in portfolio.POSITION_COLUMNS if c not in POSITION_TEXT_COLUMNS],
    )
    result = portfolio.portfolio_margin(
        book,
        tiers=_tiers_by_symbol(
            cells.optional_table(
                "tiers", tiers, text_columns=("symbol",), number_columns=TIER_COLUMNS
            )
        ),
    )
    if "symbol" in book:
        result.insert(0, "symbol", book["symbol"].fillna(""))
    return cells.frame_out(result, inf_text=PORTFOLIO_INF_TEXT)
