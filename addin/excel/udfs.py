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
from riskfuncs import (
    RiskInputError,
    accounts,
    assessment,
    counterparty,
    discipline,
    funding,
    liquidation,
    margin,
    portfolio,
    probability,
    stress,
    var,
)
from riskfuncs import scenarios as scenario_models
from riskfuncs import steps as steps_models
from riskfuncs import tiers as tier_tables
from riskfuncs import volatility as volatility_models
from riskfuncs.discipline import LEVERAGE_CAP, MINIMUM_MARGIN_BUFFER
from riskfuncs.liquidation import NEVER_LIQUIDATED
from riskfuncs.scenarios import DEFAULT_EXCHANGE_LGD
from riskfuncs.volatility import RISKMETRICS_LAMBDA

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
TIERS_BY_SYMBOL = (
    "Optional leverage tiers of several markets: header row with symbol plus the tier columns "
    "(minNotional, maxNotional, maintenanceMarginRate, ...)."
)
MAX_LEVERAGE = "Hyperliquid only: the market's max leverage (maintenance rate = 1 / (2 x max))."
FEE_RATE = (
    "Closing taker fee rate counted in the requirement, fraction (0.05% = 0.0005). Default 0."
)
OTHER_MM = "Cross only: maintenance margin of the other positions sharing the wallet. Default 0."
OTHER_PNL = "Cross only: unrealised PnL of the other positions sharing the wallet. Default 0."
UNREACHABLE = NEVER_LIQUIDATED  # the one word for "no price liquidates it"
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
            maintenance_amount=_or(
                cells.optional_numbers("maintenance_amount", maintenance_amount)
            ),
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
@xw.arg("buffer", ndim=2, doc="Margin left above maintenance after the move. Default "
                             f"{MINIMUM_MARGIN_BUFFER:.2f}.")
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
            buffer=MINIMUM_MARGIN_BUFFER if buffer_value is None else buffer_value,
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
@xw.arg("margin_mode", doc='"isolated" (default) or "cross" (a cross wallet may dwarf a position).')
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
    margin_mode: Any = None,
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
            margin_mode=cells.option("margin_mode", margin_mode, "isolated"),
        ),
        inf_text=UNREACHABLE,
    )


@xw.func(category=CATEGORY)
@xw.arg(
    "venue", ndim=2, doc='Exchange name or ccxt id, e.g. "binanceusdm"; a range gives one per cell.'
)
@shows_errors
def PERP_EXCHANGE_RULE(venue: Any) -> Any:
    """Liquidation rule set used for a venue: its own published rule, else "generic"."""
    grid = venue if isinstance(venue, list) else [[venue]]
    rules = [
        [liquidation.rule_for_venue(cells.option("venue", v, "")) for v in row] for row in grid
    ]
    return rules[0][0] if len(rules) == 1 and len(rules[0]) == 1 else rules


def _one(name: str, value: Any) -> float | None:
    """An optional one-cell number: omitted or empty is None."""
    return None if cells.optional_numbers(name, value) is None else cells.number(name, value)


def _or(value: float | np.ndarray | None, default: float = 0.0) -> Any:
    """An optional number argument with its default when omitted."""
    return default if value is None else value


def _count(name: str, value: Any, default: int) -> int:
    """An optional whole-number argument (paths, venues) with its default when omitted."""
    count = cells.whole(name, value, default)
    return default if count is None else count


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
@xw.arg("mark_prices", ndim=2, doc="Mark price at each funding time (one column or row).")
@xw.arg("rates", ndim=2, doc="Funding rate of each interval, fraction, same length as mark_prices.")
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
@xw.arg("mark_prices", ndim=2, doc="Mark price at each funding time (one column or row).")
@xw.arg("rates", ndim=2, doc="Funding rate of each interval, fraction, same length as mark_prices.")
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
    doc=TIERS_BY_SYMBOL,
)
@xw.ret("raw")  # rows built vectorised by cells.rows_out: books run to many thousand rows
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
    return cells.rows_out(result, inf_text=PORTFOLIO_INF_TEXT)


# --- unified accounts -------------------------------------------------------------------------

COLLATERAL_TIERS = (
    "Collateral tiers with a header row: minAmount, maxAmount (coin units; empty = no upper "
    "bound), ratio (fraction). Omit for the flat ratio."
)


@xw.func(category=CATEGORY)
@xw.arg("amount", ndim=2, doc="Coins held (negative: borrowed, counted in full).")
@xw.arg("price", ndim=2, doc="USD index price of the coin (>= 0).")
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=COLLATERAL_TIERS)
@xw.arg("ratio", doc="One collateral ratio for every amount when no tiers are given (1 = 100%).")
@shows_errors
def PERP_COLLATERAL_VALUE(amount: Any, price: Any, tiers: Any = None, ratio: Any = None) -> Any:
    """USD value of a coin balance after the venue's tiered collateral ratio (haircut)."""
    table = cells.optional_table("tiers", tiers, number_columns=("minAmount", "maxAmount",
                                                                 "ratio"))
    flat = cells.optional_numbers("ratio", ratio)
    if table is not None and flat is not None:
        raise RiskInputError("give tiers or ratio, not both")
    return cells.cells_out(accounts.collateral_value(
        cells.numbers("amount", amount), cells.numbers("price", price),
        table if table is not None else float(_or(flat, 1.0))))


@xw.func(category=CATEGORY)
@xw.arg(
    "positions", pd.DataFrame, index=False, header=True,
    doc=("The account's linear positions with a header row (ccxt names): symbol, side, "
         "contracts, entryPrice, markPrice, maintenanceMarginRate; optional contractSize, "
         "maintenanceAmount, feeRate."),
)
@xw.arg("balances", pd.DataFrame, index=False, header=True,
        doc="Coin balances with a header row: coin, balance; optional price (USD) and ratio.")
@xw.arg("mode", doc=("bybit_uta, binance_multi_assets, binance_portfolio, okx_multi_currency, "
                     "hyperliquid_cross or dydx_cross."))
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS_BY_SYMBOL)
@xw.ret("raw")
@shows_errors
def PERP_ACCOUNT_MARGIN(positions: Any, balances: Any, mode: Any, tiers: Any = None) -> Any:
    """Unified account: equity, requirement, the venue's ratio and each liquidation price."""
    book = cells.table("positions", positions, text_columns=("symbol", "side", "exchange"),
                       number_columns=("contracts", "contractSize", "entryPrice", "markPrice",
                                       "maintenanceMarginRate", "maintenanceAmount", "feeRate"))
    coins = cells.table("balances", balances, text_columns=("coin",),
                        number_columns=("balance", "price", "ratio"))
    if "coin" not in coins or "balance" not in coins:
        raise RiskInputError("balances must have coin and balance columns")
    names = coins["coin"].fillna("").astype(str).str.upper()
    state = accounts.account_margin(
        book, dict(zip(names, coins["balance"].astype(float), strict=True)),
        mode=cells.option("mode", mode, ""),
        prices={c: float(p) for c, p in zip(names, coins.get("price", []), strict=False)
                if not np.isnan(p)},
        collateral_tiers={c: float(r) for c, r in zip(names, coins.get("ratio", []),
                                                      strict=False) if not np.isnan(r)},
        tiers=_tiers_by_symbol(cells.optional_table(
            "tiers", tiers, text_columns=("symbol",), number_columns=TIER_COLUMNS)),
    )
    summary: list[list[Any]] = [
        ["equity (USD)", state.equity], ["requirement (USD)", state.requirement],
        [state.ratio_name, state.ratio], ["liquidated at", state.trigger],
        ["liquidated", "yes" if state.liquidated else "no"], ["", ""],
        ["symbol", "account liquidation price"]]
    rows = [[str(symbol), cells.cells_out(float(price), inf_text=UNREACHABLE)]
            for symbol, price in zip(state.positions["symbol"],
                                     state.positions["account_liquidation_price"], strict=True)]
    return [[row[0], cells.cells_out(row[1]) if isinstance(row[1], float) else row[1]]
            for row in summary] + rows


@xw.func(category=CATEGORY)
@xw.arg("side", doc=SIDE)
@xw.arg("entry_price", doc=ENTRY)
@xw.arg("quantity", doc=QUANTITY)
@xw.arg("collateral", doc=COLLATERAL)
@xw.arg("exchange", doc=EXCHANGE)
@xw.arg("maintenance_margin_rate", doc=MMR)
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS)
@xw.arg("max_leverage", doc=MAX_LEVERAGE)
@xw.arg("fee_rate", doc=FEE_RATE)
@xw.ret("raw")
@shows_errors
def PERP_LIQ_STEPS(
    side: Any,
    entry_price: Any,
    quantity: Any,
    collateral: Any,
    exchange: Any = None,
    maintenance_margin_rate: Any = None,
    tiers: Any = None,
    max_leverage: Any = None,
    fee_rate: Any = None,
) -> Any:
    """The liquidation ladder: price, closed, remaining and what happens at each step."""
    steps = steps_models.liquidation_steps(
        cells.option("side", side, ""),
        cells.number("entry_price", entry_price),
        cells.number("quantity", quantity),
        cells.number("collateral", collateral),
        exchange=cells.option("exchange", exchange, "binance"),
        maintenance_margin_rate=_one("maintenance_margin_rate", maintenance_margin_rate),
        tiers=_tiers(tiers),
        max_leverage=_one("max_leverage", max_leverage),
        fee_rate=_one("fee_rate", fee_rate) or 0.0,
    )
    return [["price", "closed", "remaining", "what happens"]] + [
        [cells.cells_out(s.price, inf_text=UNREACHABLE), s.closed, s.remaining, s.note]
        for s in steps]


# --- volatility -------------------------------------------------------------------------------

PRICES = (
    "Prices oldest first: one column per asset; an optional header row of names and a leading "
    "date column are skipped."
)
RETURNS = (
    "Period returns oldest first, fractions (1% = 0.01), one column per asset (e.g. from "
    "PERP_RETURNS); header row and date column skipped."
)
PERIODS_PER_YEAR = "Periods in a year: 365 for daily crypto bars (default), 8760 hourly, 1 raw."
CONFIDENCE = "Confidence level as a fraction, e.g. 0.99 (default)."


def _periods(value: Any) -> float:
    return _or(cells.optional_numbers("periods_per_year", value), 365.0)  # type: ignore[no-any-return]


@xw.func(category=CATEGORY)
@xw.arg("prices", ndim=2, doc=PRICES)
@xw.arg("kind", doc='"simple" (P1/P0 - 1, default) or "log" (ln(P1/P0)).')
@shows_errors
def PERP_RETURNS(prices: Any, kind: Any = None) -> Any:
    """Period returns of a price history (one row fewer than the prices); spills."""
    values, names = cells.history("prices", prices)
    return cells.path_out(
        volatility_models.returns(values, kind=cells.option("kind", kind, "simple")), names
    )


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc=RETURNS)
@xw.arg("periods_per_year", doc=PERIODS_PER_YEAR)
@shows_errors
def PERP_VOLATILITY(returns: Any, periods_per_year: Any = None) -> Any:
    """Annualised close-to-close volatility: standard deviation of returns x sqrt(periods)."""
    values, names = cells.history("returns", returns)
    return cells.per_series_out(
        volatility_models.close_to_close_volatility(
            values, periods_per_year=_periods(periods_per_year)
        ),
        names,
    )


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc=RETURNS)
@xw.arg("lam", doc=f"Decay factor in (0, 1): {RISKMETRICS_LAMBDA} for daily data (default, "
                   "RiskMetrics).")
@xw.arg("periods_per_year", doc=PERIODS_PER_YEAR)
@shows_errors
def PERP_EWMA_VOLATILITY(returns: Any, lam: Any = None, periods_per_year: Any = None) -> Any:
    """RiskMetrics EWMA volatility forecast for the next period, annualised."""
    values, names = cells.history("returns", returns)
    return cells.per_series_out(
        volatility_models.ewma_volatility(
            values,
            lam=_or(cells.optional_numbers("lam", lam), RISKMETRICS_LAMBDA),
            periods_per_year=_periods(periods_per_year),
        ),
        names,
    )


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc=RETURNS)
@xw.arg("lam", doc=f"Decay factor in (0, 1): {RISKMETRICS_LAMBDA} for daily data (default, "
                   "RiskMetrics).")
@xw.arg("periods_per_year", doc=PERIODS_PER_YEAR)
@shows_errors
def PERP_EWMA_VOLATILITY_PATH(returns: Any, lam: Any = None, periods_per_year: Any = None) -> Any:
    """EWMA volatility of every period of the history, annualised; spills beside the returns."""
    values, names = cells.history("returns", returns)
    return cells.path_out(
        volatility_models.ewma_volatility_path(
            values,
            lam=_or(cells.optional_numbers("lam", lam), RISKMETRICS_LAMBDA),
            periods_per_year=_periods(periods_per_year),
        ),
        names,
    )


@xw.func(category=CATEGORY)
@xw.arg("high", ndim=2, doc="Highest price of each bar, oldest first (one column per asset).")
@xw.arg("low", ndim=2, doc="Lowest price of each bar, same shape as high.")
@xw.arg("periods_per_year", doc=PERIODS_PER_YEAR)
@shows_errors
def PERP_PARKINSON_VOLATILITY(high: Any, low: Any, periods_per_year: Any = None) -> Any:
    """Parkinson (1980) high-low range volatility, annualised."""
    high_values, names = cells.history("high", high)
    low_values, _ = cells.history("low", low)
    return cells.per_series_out(
        volatility_models.parkinson_volatility(
            high_values, low_values, periods_per_year=_periods(periods_per_year)
        ),
        names,
    )


@xw.func(category=CATEGORY)
@xw.arg("opening", ndim=2, doc="Opening price of each bar, oldest first (one column per asset).")
@xw.arg("high", ndim=2, doc="Highest price of each bar, same shape as opening.")
@xw.arg("low", ndim=2, doc="Lowest price of each bar, same shape as opening.")
@xw.arg("closing", ndim=2, doc="Closing price of each bar, same shape as opening.")
@xw.arg("periods_per_year", doc=PERIODS_PER_YEAR)
@shows_errors
def PERP_GARMAN_KLASS_VOLATILITY(
    opening: Any, high: Any, low: Any, closing: Any, periods_per_year: Any = None
) -> Any:
    """Garman-Klass (1980) open-high-low-close volatility, annualised."""
    # Open and Close are VBA statements, so the cell arguments are opening and closing.
    bars = [
        cells.history(n, v)
        for n, v in (("opening", opening), ("high", high), ("low", low), ("closing", closing))
    ]
    return cells.per_series_out(
        volatility_models.garman_klass_volatility(
            *(values for values, _ in bars), periods_per_year=_periods(periods_per_year)
        ),
        bars[0][1],
    )


# --- value at risk and expected shortfall ----------------------------------------------------


def _confidence(value: Any) -> float:
    one = _one("confidence", value)
    return 0.99 if one is None else one


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc=RETURNS)
@xw.arg("confidence", doc=CONFIDENCE)
@xw.arg(
    "quantile_method",
    doc='Quantile rule: "linear" (default, as PERCENTILE.INC) or "lower" (no interpolation).',
)
@shows_errors
def PERP_HISTORICAL_VAR(returns: Any, confidence: Any = None, quantile_method: Any = None) -> Any:
    """Historical one-period VaR: the loss (a positive fraction) exceeded in 1 - confidence."""
    values, names = cells.history("returns", returns)
    return cells.per_series_out(
        var.historical_var(
            values,
            confidence=_confidence(confidence),
            method=cells.option("quantile_method", quantile_method, "linear"),
        ),
        names,
    )


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc=RETURNS)
@xw.arg("confidence", doc=CONFIDENCE)
@xw.arg(
    "distribution",
    doc='"normal" (default) or "cornish_fisher" (corrected for skew and fat tails).',
)
@xw.arg("zero_mean", doc="TRUE to take the mean return as 0 (RiskMetrics). Default FALSE.")
@shows_errors
def PERP_PARAMETRIC_VAR(
    returns: Any, confidence: Any = None, distribution: Any = None, zero_mean: Any = None
) -> Any:
    """Parametric one-period VaR (loss, fraction) from the mean and standard deviation."""
    values, names = cells.history("returns", returns)
    return cells.per_series_out(
        var.parametric_var(
            values,
            confidence=_confidence(confidence),
            distribution=cells.option("distribution", distribution, "normal"),
            zero_mean=cells.flag("zero_mean", zero_mean, False),
        ),
        names,
    )


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc=RETURNS)
@xw.arg("confidence", doc=CONFIDENCE)
@xw.arg("method", doc='"normal" (default) or "bootstrap" (redraw past returns).')
@xw.arg("paths", doc="Number of simulated returns. Default 100000.")
@xw.arg("seed", doc="Random seed; the same seed gives the same figure. Default 0.")
@shows_errors
def PERP_MONTE_CARLO_VAR(
    returns: Any, confidence: Any = None, method: Any = None, paths: Any = None, seed: Any = None
) -> Any:
    """Monte Carlo one-period VaR: loss quantile of simulated returns (repeatable with the seed)."""
    values, names = cells.history("returns", returns)
    return cells.per_series_out(
        var.monte_carlo_var(
            values,
            confidence=_confidence(confidence),
            method=cells.option("method", method, "normal"),
            paths=_count("paths", paths, 100_000),
            seed=cells.whole("seed", seed, 0),
        ),
        names,
    )


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc=RETURNS)
@xw.arg("confidence", doc=CONFIDENCE)
@xw.arg("method", doc='"historical" (default), "rockafellar_uryasev" or "normal".')
@xw.arg("zero_mean", doc='TRUE to take the mean return as 0 (method "normal"). Default FALSE.')
@shows_errors
def PERP_EXPECTED_SHORTFALL(
    returns: Any, confidence: Any = None, method: Any = None, zero_mean: Any = None
) -> Any:
    """Expected shortfall (CVaR): mean loss in the worst 1 - confidence tail, fraction."""
    values, names = cells.history("returns", returns)
    return cells.per_series_out(
        var.expected_shortfall(
            values,
            confidence=_confidence(confidence),
            method=cells.option("method", method, "historical"),
            zero_mean=cells.flag("zero_mean", zero_mean, False),
        ),
        names,
    )


@xw.func(category=CATEGORY)
@xw.arg("value", ndim=2, doc="One-period volatility, VaR or ES (fraction).")
@xw.arg("horizon", ndim=2, doc="Number of periods, e.g. 10 for a 10-day figure from daily data.")
@shows_errors
def PERP_SCALE_TO_HORIZON(value: Any, horizon: Any) -> Any:
    """Square-root-of-time scaling: value x sqrt(horizon) (assumes independent returns)."""
    return cells.cells_out(
        var.scale_to_horizon(cells.numbers("value", value), cells.numbers("horizon", horizon))
    )


# --- liquidation probability ------------------------------------------------------------------

VOLATILITY = "Annualised volatility, fraction (60% = 0.6)."
HORIZON = "Horizon in years: one day = 1/365, one hour = 1/8760."


@xw.func(category=CATEGORY)
@xw.arg("mark_price", ndim=2, doc=MARK)
@xw.arg("liquidation_price", ndim=2, doc="Liquidation price, e.g. from PERP_LIQ_PRICE.")
@xw.arg("volatility", ndim=2, doc=VOLATILITY)
@xw.arg("horizon", ndim=2, doc=HORIZON)
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("drift", ndim=2, doc="Expected annual return of the price, fraction. Default 0.")
@xw.arg(
    "monitoring",
    doc='"continuous" (default), "discrete" (needs checks) or "monte_carlo".',
)
@xw.arg("checks", doc="Discrete monitoring: number of price checks within the horizon.")
@xw.arg("paths", doc="Monte Carlo: number of simulated paths. Default 20000.")
@xw.arg("seed", doc="Monte Carlo: random seed; the same seed gives the same figure. Default 0.")
@shows_errors
def PERP_LIQ_PROBABILITY(
    mark_price: Any,
    liquidation_price: Any,
    volatility: Any,
    horizon: Any,
    side: Any,
    drift: Any = None,
    monitoring: Any = None,
    checks: Any = None,
    paths: Any = None,
    seed: Any = None,
) -> Any:
    """Probability that the mark price touches the liquidation price within the horizon (GBM)."""
    return cells.cells_out(
        probability.liquidation_probability(
            cells.numbers("mark_price", mark_price),
            cells.numbers("liquidation_price", liquidation_price),
            cells.numbers("volatility", volatility),
            cells.numbers("horizon", horizon),
            side=cells.sides(side),
            drift=_or(cells.optional_numbers("drift", drift)),
            monitoring=cells.option("monitoring", monitoring, "continuous"),
            checks=cells.whole("checks", checks, None),
            paths=_count("paths", paths, 20_000),
            seed=cells.whole("seed", seed, 0),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("mark_price", ndim=2, doc=MARK)
@xw.arg("liquidation_price", ndim=2, doc="Liquidation price, e.g. from PERP_LIQ_PRICE.")
@xw.arg("volatility", ndim=2, doc=VOLATILITY)
@xw.arg("horizon", ndim=2, doc=HORIZON)
@xw.arg("side", ndim=2, doc=SIDE)
@shows_errors
def PERP_LIQ_DISTANCE_SIGMAS(
    mark_price: Any, liquidation_price: Any, volatility: Any, horizon: Any, side: Any
) -> Any:
    """Distance to the liquidation price in standard deviations of the log price."""
    return cells.cells_out(
        probability.liquidation_distance_sigmas(
            cells.numbers("mark_price", mark_price),
            cells.numbers("liquidation_price", liquidation_price),
            cells.numbers("volatility", volatility),
            cells.numbers("horizon", horizon),
            side=cells.sides(side),
        ),
        inf_text=UNREACHABLE,
    )


# --- stress tests and the scenario library ----------------------------------------------------

POSITIONS = (
    "Positions with a header row (ccxt names): symbol, side, contracts, entryPrice, markPrice, "
    "collateral; optional exchange, contractSize, marginMode, contractType, "
    "maintenanceMarginRate, feeRate."
)
SCENARIOS = (
    'Scenario names from PERP_SCENARIOS (default: all), "default <exchange> [lgd]" for a venue '
    "failure, or a table: header name, asset columns (BTC...) with moves, optional settings."
)
SCENARIO_SETTINGS = (
    "description",
    "reference_asset",
    "default_beta",
    "move_floor",
    "move_cap",
    "volatility_shock",
    "funding_rate",
    "funding_intervals",
    "horizon_hours",
    "weight",
)
_SCENARIO_TEXT = ("name", "description", "reference_asset")


def _book(positions: Any) -> pd.DataFrame:
    return cells.table(
        "positions",
        positions,
        text_columns=(*POSITION_TEXT_COLUMNS, "collateralCurrency"),
        number_columns=[c for c in portfolio.POSITION_COLUMNS if c not in POSITION_TEXT_COLUMNS],
    )


def _scenario_lgd(word: str) -> float:
    try:
        return float(word)
    except ValueError:
        raise RiskInputError(
            f"scenario loss given default must be a number such as 0.6 (got {word!r})"
        ) from None


def _named_scenario(name: str) -> scenario_models.Scenario:
    words = name.split()
    if len(words) in (2, 3) and words[0].lower() == "default":
        lgd = _scenario_lgd(words[2]) if len(words) == 3 else DEFAULT_EXCHANGE_LGD
        return scenario_models.exchange_default_scenario(words[1], loss_given_default=lgd)
    return scenario_models.get_scenario(name)


def _scenario_table(grid: list[list[Any]]) -> list[scenario_models.Scenario]:
    known = ("name", *SCENARIO_SETTINGS)
    header = [
        h.strip().lower() if isinstance(h, str) and h.strip().lower() in known else h
        for h in grid[0]
    ]
    frame = cells.table(
        "scenarios",
        pd.DataFrame(grid[1:], columns=header),
        text_columns=_SCENARIO_TEXT,
    )
    made = []
    for _, row in frame.iterrows():
        settings: dict[str, Any] = {}
        moves: dict[str, float] = {}
        for column, value in row.items():
            key = str(column)
            if key == "name" or value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            if key in SCENARIO_SETTINGS:
                settings[key] = int(value) if key == "funding_intervals" else value
            else:
                moves[key.upper()] = float(value)
        made.append(scenario_models.Scenario(str(row["name"]), moves=moves, **settings))
    return made


def _scenarios(value: Any) -> list[scenario_models.Scenario]:
    if value is None:
        return list(scenario_models.scenario_library())
    grid = value if isinstance(value, list) else [[value]]
    header = [str(v).strip().lower() if isinstance(v, str) else v for v in grid[0]]
    if "name" in header and len(grid) > 1 and len(grid[0]) > 1:
        return _scenario_table(grid)
    return [_named_scenario(name) for name in cells.words("scenarios", grid)]


@xw.func(category=CATEGORY)
@xw.arg("positions", pd.DataFrame, index=False, header=True, doc=POSITIONS)
@xw.arg("scenarios", ndim=2, doc=SCENARIOS)
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS_BY_SYMBOL)
@xw.ret(index=False, header=True)
@shows_errors
def PERP_STRESS(positions: Any, scenarios: Any = None, tiers: Any = None) -> Any:
    """Stress test the book: loss, liquidations and shortfall per scenario; spills a table."""
    result = stress.stress_test(
        _book(positions),
        _scenarios(scenarios),
        tiers=_tiers_by_symbol(
            cells.optional_table(
                "tiers", tiers, text_columns=("symbol",), number_columns=TIER_COLUMNS
            )
        ),
    )
    return cells.frame_out(result.by_scenario.reset_index())


@xw.func(category=CATEGORY)
@xw.arg("positions", pd.DataFrame, index=False, header=True, doc=POSITIONS)
@xw.arg(
    "measure",
    doc="price, pnl (default), maintenance_margin, margin_balance, margin_ratio, liquidated or "
    "shortfall.",
)
@xw.arg("scenarios", ndim=2, doc=SCENARIOS)
@xw.arg("tiers", pd.DataFrame, index=False, header=True, doc=TIERS_BY_SYMBOL)
@xw.ret(index=False, header=True)
@shows_errors
def PERP_STRESS_POSITIONS(
    positions: Any, measure: Any = None, scenarios: Any = None, tiers: Any = None
) -> Any:
    """One stress measure per position (rows) and scenario (columns); spills a table."""
    book = _book(positions)
    result = stress.stress_test(
        book,
        _scenarios(scenarios),
        tiers=_tiers_by_symbol(
            cells.optional_table(
                "tiers", tiers, text_columns=("symbol",), number_columns=TIER_COLUMNS
            )
        ),
    )
    table = result.table(cells.option("measure", measure, "pnl")).reset_index(drop=True)
    table.insert(0, "symbol", book["symbol"].fillna("") if "symbol" in book else "")
    return cells.frame_out(table)


@xw.func(category=CATEGORY)
@shows_errors
def PERP_SCENARIOS() -> Any:
    """The built-in stress scenarios: name, description, moves, funding, horizon; spills a table."""
    rows = [
        [
            s.name,
            s.description,
            ", ".join(f"{asset} {move:+.0%}" for asset, move in s.moves.items()),
            s.reference_asset,
            s.funding_rate,
            s.funding_intervals,
            s.horizon_hours,
            s.weight,
        ]
        for s in scenario_models.scenario_library()
    ]
    header = [
        "name",
        "description",
        "moves",
        "reference_asset",
        "funding_rate",
        "funding_intervals",
        "horizon_hours",
        "weight",
    ]
    return cells.fit_rows([header, *rows])


@xw.func(category=CATEGORY)
@xw.arg("scenario", doc='Scenario name from PERP_SCENARIOS, e.g. "BTC -30% 1h".')
@xw.arg("asset", ndim=2, doc='Asset (base currency), e.g. "ETH"; a range gives one move per cell.')
@shows_errors
def PERP_SCENARIO_MOVE(scenario: Any, asset: Any) -> Any:
    """Price move of an asset in a scenario (fraction); unlisted assets follow BTC by beta."""
    chosen = _named_scenario(cells.option("scenario", scenario, ""))
    grid = asset if isinstance(asset, list) else [[asset]]
    moves = [[chosen.price_move(cells.option("asset", a, "")) for a in row] for row in grid]
    return cells.cells_out(np.array(moves, dtype=float))


@xw.func(category=CATEGORY)
@xw.arg("volatility", ndim=2, doc="Annualised volatility of log returns, fraction (60% = 0.6).")
@xw.arg("confidence", doc="One-sided confidence level, e.g. 0.99 (default).")
@xw.arg("horizon_days", doc="Horizon in days. Default 1 (the SPAN convention).")
@xw.arg("periods_per_year", doc="Days per year: 365 for crypto (default), 252 for exchange hours.")
@shows_errors
def PERP_PRICE_SCAN_RANGE(
    volatility: Any, confidence: Any = None, horizon_days: Any = None, periods_per_year: Any = None
) -> Any:
    """SPAN price scan range from a volatility: z x volatility x sqrt(horizon / year), fraction."""
    return cells.cells_out(
        scenario_models.price_scan_range(
            cells.numbers("volatility", volatility),
            confidence=_confidence(confidence),
            horizon_days=_or(cells.optional_numbers("horizon_days", horizon_days), 1.0),
            periods_per_year=_periods(periods_per_year),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("price_scan_range", doc="Price scan range, fraction of price (10% = 0.1).")
@xw.arg("extreme_multiple", doc="Size of the two extreme moves in scan ranges. Default 2.")
@xw.arg("volatility_scan_range", doc="Relative volatility move (0.25 = x1.25 / x0.75). Default 0.")
@xw.arg("asset", doc='Reference asset the grid moves. Default "BTC".')
@shows_errors
def PERP_SPAN_GRID(
    price_scan_range: Any,
    extreme_multiple: Any = None,
    volatility_scan_range: Any = None,
    asset: Any = None,
) -> Any:
    """The 16 CME SPAN risk-array scenarios for a scan range: name, move, volatility, weight."""
    grid = scenario_models.span_grid(
        cells.number("price_scan_range", price_scan_range),
        extreme_multiple=_or(cells.optional_numbers("extreme_multiple", extreme_multiple), 2.0),
        volatility_scan_range=_or(
            cells.optional_numbers("volatility_scan_range", volatility_scan_range)
        ),
        asset=cells.option("asset", asset, "BTC"),
    )
    rows = [[s.name, s.moves[s.reference_asset], s.volatility_shock, s.weight] for s in grid]
    return [["name", "move", "volatility_shock", "weight"], *rows]


# --- counterparty: exchange score, expected loss, concentration -------------------------------


@xw.func(category=CATEGORY)
@xw.arg("coverage_ratio", ndim=2, doc="Reserves / customer liabilities, e.g. 1.05 for 105%.")
@xw.arg("days_since_attestation", ndim=2, doc="Days since the last proof-of-reserves attestation.")
@shows_errors
def PERP_RESERVE_SUBSCORE(coverage_ratio: Any, days_since_attestation: Any) -> Any:
    """Proof-of-reserves sub-score in [0, 1] from reserve coverage and attestation age."""
    return cells.cells_out(
        counterparty.reserve_subscore(
            cells.numbers("coverage_ratio", coverage_ratio),
            cells.numbers("days_since_attestation", days_since_attestation),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("insurance_fund", ndim=2, doc="Insurance fund balance, quote currency.")
@xw.arg("open_interest", ndim=2, doc="Open interest, same currency.")
@xw.arg("target_ratio", doc="Fund / open interest that scores 1. Default 0.05.")
@shows_errors
def PERP_INSURANCE_SUBSCORE(
    insurance_fund: Any, open_interest: Any, target_ratio: Any = None
) -> Any:
    """Insurance-fund sub-score in [0, 1]: fund / open interest against a target ratio."""
    return cells.cells_out(
        counterparty.insurance_fund_subscore(
            cells.numbers("insurance_fund", insurance_fund),
            cells.numbers("open_interest", open_interest),
            target_ratio=_or(cells.optional_numbers("target_ratio", target_ratio), 0.05),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("incidents", ndim=2, doc="Number of security or solvency incidents (hacks, halts).")
@xw.arg("adl_events", ndim=2, doc="Number of auto-deleveraging events. Default 0.")
@shows_errors
def PERP_INCIDENT_SUBSCORE(incidents: Any, adl_events: Any = None) -> Any:
    """Incident-history sub-score in [0, 1]: each event multiplies the score down."""
    return cells.cells_out(
        counterparty.incident_subscore(
            cells.numbers("incidents", incidents),
            _or(cells.optional_numbers("adl_events", adl_events)),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg(
    "factors",
    pd.DataFrame,
    index=False,
    header=True,
    doc="One row per exchange, header row of factors: proof_of_reserves, audit, licence, "
    "jurisdiction, insurance_fund, incident_history, transparency (sub-scores 0-1).",
)
@xw.arg("weights", ndim=2, doc="Optional two columns: factor | weight (normalised to sum 1).")
@shows_errors
def PERP_EXCHANGE_SCORE(factors: Any, weights: Any = None) -> Any:
    """Exchange due-diligence score from 0 (worst) to 100 (best), one per row of factors."""
    table = cells.table("factors", factors, text_columns=("exchange", "name"))
    chosen = cells.pairs("weights", weights) if weights is not None else None
    if chosen is None:
        return cells.cells_out(counterparty.exchange_score(table))
    return cells.cells_out(counterparty.exchange_score(table, weights=chosen))


@xw.func(category=CATEGORY)
@xw.arg("score", ndim=2, doc="Exchange score 0-100, e.g. from PERP_EXCHANGE_SCORE.")
@shows_errors
def PERP_EXCHANGE_GRADE(score: Any) -> Any:
    """Letter grade for an exchange score: AA (best), A, BB, B, C, D, E (worst)."""
    grades = counterparty.exchange_grade(cells.numbers("score", score))
    if isinstance(grades, np.ndarray):
        return [[g if g is not None else "" for g in row] for row in grades.tolist()]
    return grades if grades is not None else ""


@xw.func(category=CATEGORY)
@xw.arg("score", ndim=2, doc="Exchange score 0-100, e.g. from PERP_EXCHANGE_SCORE.")
@xw.arg("bound", doc='"central" (default), "low" or "high" end of the grade\'s PD band.')
@shows_errors
def PERP_EXCHANGE_PD(score: Any, bound: Any = None) -> Any:
    """One-year probability of default implied by an exchange score, through its grade."""
    return cells.cells_out(
        counterparty.exchange_probability_of_default(
            cells.numbers("score", score), bound=cells.option("bound", bound, "central")
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("exposure", ndim=2, doc="Exposure at default: your equity on the exchange.")
@xw.arg("probability_of_default", ndim=2, doc="Probability of default, fraction (2% = 0.02).")
@xw.arg("loss_given_default", ndim=2, doc="Loss given default, fraction, e.g. from PERP_LGD_PRIOR.")
@shows_errors
def PERP_EXPECTED_LOSS(exposure: Any, probability_of_default: Any, loss_given_default: Any) -> Any:
    """Expected loss on an exchange: exposure x probability of default x loss given default."""
    return cells.cells_out(
        counterparty.expected_loss(
            cells.numbers("exposure", exposure),
            cells.numbers("probability_of_default", probability_of_default),
            cells.numbers("loss_given_default", loss_given_default),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("pd_1y", ndim=2, doc="One-year probability of default, fraction.")
@xw.arg("horizon_years", ndim=2, doc="Horizon in years, e.g. 0.25 for three months.")
@shows_errors
def PERP_PD_OVER(pd_1y: Any, horizon_years: Any) -> Any:
    """Probability of default over a horizon from a one-year PD, at a constant default intensity."""
    return cells.cells_out(
        counterparty.probability_of_default_over(
            cells.numbers("pd_1y", pd_1y), cells.numbers("horizon_years", horizon_years)
        )
    )


@xw.func(category=CATEGORY)
@xw.arg(
    "profile",
    doc="opaque_offshore, regulated_segregated, or a past failure: ftx, mt_gox, quadrigacx, "
    "celsius, voyager, bitfinex_2016.",
)
@shows_errors
def PERP_LGD_PRIOR(profile: Any) -> Any:
    """Loss given default (fraction) for a venue profile or a past exchange failure."""
    # Name is a VBA statement, so the cell argument is profile.
    return counterparty.loss_given_default_prior(cells.option("profile", profile, ""))


@xw.func(category=CATEGORY)
@xw.arg("positions", pd.DataFrame, index=False, header=True, doc=POSITIONS)
@xw.ret(index=False, header=True)
@shows_errors
def PERP_EXPOSURE_BY_EXCHANGE(positions: Any) -> Any:
    """What each exchange owes you: margin equity per venue, floored at 0; spills a table."""
    exposure = counterparty.exposure_by_exchange(_book(positions))
    return cells.frame_out(exposure.rename("exposure").reset_index())


def _exposures(value: Any) -> pd.Series:
    named = cells.pairs("exposures", value)
    return pd.Series(named, dtype=float)


EXPOSURES = "Two columns: exchange | exposure (e.g. the PERP_EXPOSURE_BY_EXCHANGE table)."


@xw.func(category=CATEGORY)
@xw.arg("exposures", ndim=2, doc=EXPOSURES)
@shows_errors
def PERP_CONCENTRATION(exposures: Any) -> Any:
    """Herfindahl index of exposure across exchanges and the effective number of venues; spills."""
    result = counterparty.concentration(_exposures(exposures))
    return [
        ["hhi", "effective_venues"],
        [cells.cells_out(float(result.hhi)), cells.cells_out(float(result.effective_venues))],
    ]


@xw.func(category=CATEGORY)
@xw.arg("exposures", ndim=2, doc=EXPOSURES)
@xw.arg("max_share", doc="Largest share one exchange may hold, fraction. Default 0.5.")
@xw.arg("min_venues", doc="Fewest exchanges that must hold exposure. Default 2.")
@shows_errors
def PERP_DIVERSIFICATION_CHECK(
    exposures: Any, max_share: Any = None, min_venues: Any = None
) -> Any:
    """Is exchange exposure spread widely enough? Spills passed (TRUE/FALSE) and the reason."""
    check = counterparty.diversification_check(
        _exposures(exposures),
        max_share=_or(cells.optional_numbers("max_share", max_share), 0.5),
        min_venues=_count("min_venues", min_venues, 2),
    )
    passed = "" if check.passed is None else bool(check.passed)
    return cells.fit_rows([["passed", "reason"], [passed, check.reason]])


# --- discipline and position sizing -----------------------------------------------------------

CHECKS_INF = {"value": "inf"}


@xw.func(category=CATEGORY)
@xw.arg("equity", ndim=2, doc="Account equity: quote currency (linear) or coin (inverse).")
@xw.arg("risk_fraction", ndim=2, doc="Share of equity to lose at the stop, fraction (1% = 0.01).")
@xw.arg("entry_price", ndim=2, doc=ENTRY)
@xw.arg("stop_price", ndim=2, doc="Stop-loss price: below entry for a long, above for a short.")
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("contract", doc=CONTRACT)
@xw.arg("fee_rate", ndim=2, doc="Taker fee paid on entry and at the stop, fraction. Default 0.")
@shows_errors
def PERP_POSITION_SIZE(
    equity: Any,
    risk_fraction: Any,
    entry_price: Any,
    stop_price: Any,
    side: Any,
    contract: Any = None,
    fee_rate: Any = None,
) -> Any:
    """Position size losing equity x risk_fraction at the stop (coins; USD face if inverse)."""
    return cells.cells_out(
        discipline.position_size(
            cells.numbers("equity", equity),
            cells.numbers("risk_fraction", risk_fraction),
            cells.numbers("entry_price", entry_price),
            cells.numbers("stop_price", stop_price),
            side=cells.sides(side),
            contract=cells.option("contract", contract, "linear"),
            fee_rate=_or(cells.optional_numbers("fee_rate", fee_rate)),
        )
    )


def _optional_number(name: str, value: Any) -> float | None:
    return None if value is None else cells.number(name, value)


def _checks_out(table: pd.DataFrame) -> Any:
    return cells.frame_out(table, inf_text=CHECKS_INF)


@xw.func(category=CATEGORY)
@xw.arg("leverage", ndim=2, doc="Effective leverage: notional / margin balance.")
@xw.arg("cap", doc=f"Highest leverage allowed. Default {LEVERAGE_CAP:g}.")
@xw.ret(index=False, header=True)
@shows_errors
def PERP_CHECK_LEVERAGE(leverage: Any, cap: Any = None) -> Any:
    """Leverage discipline check: passed, value, limit and what to do; spills one row per value."""
    return _checks_out(
        discipline.check_leverage(
            cells.numbers("leverage", leverage), cap=_or(_one("cap", cap), LEVERAGE_CAP)
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("margin_balance", ndim=2, doc="Collateral plus unrealised PnL.")
@xw.arg("requirement", ndim=2, doc="Maintenance margin, same currency.")
@xw.arg("minimum", doc="Lowest buffer above maintenance, fraction. Default 0.30.")
@xw.ret(index=False, header=True)
@shows_errors
def PERP_CHECK_MARGIN_BUFFER(margin_balance: Any, requirement: Any, minimum: Any = None) -> Any:
    """Margin-buffer discipline check (balance at least 30% above maintenance by default)."""
    return _checks_out(
        discipline.check_margin_buffer(
            cells.numbers("margin_balance", margin_balance),
            cells.numbers("requirement", requirement),
            minimum=_or(cells.optional_numbers("minimum", minimum), 0.30),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("side", ndim=2, doc=SIDE)
@xw.arg("entry_price", ndim=2, doc=ENTRY)
@xw.arg("stop_price", ndim=2, doc="Stop-loss trigger price; empty = no stop (fails the check).")
@xw.arg("liquidation_price", ndim=2, doc="Liquidation price, e.g. from PERP_LIQ_PRICE.")
@xw.arg("mark_price", ndim=2, doc="Optional mark price, so a trailing stop in profit passes.")
@xw.ret(index=False, header=True)
@shows_errors
def PERP_CHECK_STOP_LOSS(
    side: Any, entry_price: Any, stop_price: Any, liquidation_price: Any, mark_price: Any = None
) -> Any:
    """Stop-loss discipline check: is there a stop, and does it fire before liquidation?"""
    return _checks_out(
        discipline.check_stop_loss(
            cells.sides(side),
            cells.numbers("entry_price", entry_price),
            cells.numbers("stop_price", stop_price),
            cells.numbers("liquidation_price", liquidation_price),
            mark_price=cells.optional_numbers("mark_price", mark_price),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("age_days", ndim=2, doc="Days since the volatility estimate was last updated.")
@xw.arg("max_age_days", doc="Oldest acceptable age in days. Default 1.")
@xw.ret(index=False, header=True)
@shows_errors
def PERP_CHECK_MODEL_FRESHNESS(age_days: Any, max_age_days: Any = None) -> Any:
    """Model-freshness discipline check: is the volatility estimate recent enough?"""
    return _checks_out(
        discipline.check_model_freshness(
            cells.numbers("age_days", age_days),
            max_age_days=_or(cells.optional_numbers("max_age_days", max_age_days), 1.0),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("exposures", ndim=2, doc=EXPOSURES)
@xw.arg("max_share", doc="Largest share one exchange may hold, fraction. Default 0.5.")
@xw.arg("min_venues", doc="Fewest exchanges that must hold exposure. Default 2.")
@xw.ret(index=False, header=True)
@shows_errors
def PERP_CHECK_DIVERSIFICATION(
    exposures: Any, max_share: Any = None, min_venues: Any = None
) -> Any:
    """Diversification discipline check over exchanges, as one row of the check table."""
    return _checks_out(
        discipline.check_diversification(
            _exposures(exposures),
            max_share=_or(cells.optional_numbers("max_share", max_share), 0.5),
            min_venues=_count("min_venues", min_venues, 2),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg(
    "positions",
    pd.DataFrame,
    index=False,
    header=True,
    doc="Positions as for PERP_PORTFOLIO, plus stopLossPrice (empty = no stop set).",
)
@xw.arg("volatility_age_days", doc="Days since the volatility estimate was updated (optional).")
@xw.arg("leverage_cap", doc="Highest effective leverage. Default 5.")
@xw.arg("minimum_margin_buffer", doc="Lowest margin buffer above maintenance. Default 0.30.")
@xw.arg("max_venue_share", doc="Largest share of exchange exposure on one venue. Default 0.5.")
@xw.arg("min_venues", doc="Fewest venues holding exposure. Default 2.")
@xw.ret(index=False, header=True)
@shows_errors
def PERP_DISCIPLINE_REPORT(
    positions: Any,
    volatility_age_days: Any = None,
    leverage_cap: Any = None,
    minimum_margin_buffer: Any = None,
    max_venue_share: Any = None,
    min_venues: Any = None,
) -> Any:
    """Every discipline check on a book of positions, one row per check; spills a table."""
    limits = discipline.DisciplineLimits(
        leverage_cap=_or(cells.optional_numbers("leverage_cap", leverage_cap), LEVERAGE_CAP),
        minimum_margin_buffer=_or(
            cells.optional_numbers("minimum_margin_buffer", minimum_margin_buffer), 0.30
        ),
        max_venue_share=_or(cells.optional_numbers("max_venue_share", max_venue_share), 0.5),
        min_venues=_count("min_venues", min_venues, 2),
    )
    book = cells.table(
        "positions",
        positions,
        text_columns=POSITION_TEXT_COLUMNS,
        number_columns=[
            *(c for c in portfolio.POSITION_COLUMNS if c not in POSITION_TEXT_COLUMNS),
            "stopLossPrice",
        ],
    )
    return _checks_out(
        discipline.discipline_report(
            book,
            limits=limits,
            volatility_age_days=_optional_number("volatility_age_days", volatility_age_days),
        )
    )


@xw.func(category=CATEGORY)
@xw.arg("leverage", ndim=2, doc="Effective leverage per position (optional).")
@xw.arg("margin_balance", ndim=2, doc="Margin balance per position, with requirement (optional).")
@xw.arg("requirement", ndim=2, doc="Maintenance margin per position, with margin_balance.")
@xw.arg("side", ndim=2, doc="For the stop-loss check, with entry_price and liquidation_price.")
@xw.arg("entry_price", ndim=2, doc="For the stop-loss check: entry price per position.")
@xw.arg("stop_price", ndim=2, doc="For the stop-loss check: stop price; empty = no stop set.")
@xw.arg("liquidation_price", ndim=2, doc="For the stop-loss check: liquidation price.")
@xw.arg("mark_price", ndim=2, doc="For the stop-loss check: mark price (trailing stops pass).")
@xw.arg("exposures", ndim=2, doc="For the diversification check: " + EXPOSURES)
@xw.arg("volatility_age_days", doc="For the freshness check: age of the volatility estimate, days.")
@xw.ret(index=False, header=True)
@shows_errors
def PERP_RISK_AUDIT(
    leverage: Any = None,
    margin_balance: Any = None,
    requirement: Any = None,
    side: Any = None,
    entry_price: Any = None,
    stop_price: Any = None,
    liquidation_price: Any = None,
    mark_price: Any = None,
    exposures: Any = None,
    volatility_age_days: Any = None,
) -> Any:
    """Run every discipline check whose inputs are given (default limits); spills a table."""
    return _checks_out(
        discipline.risk_audit(
            leverage=cells.optional_numbers("leverage", leverage),
            margin_balance=cells.optional_numbers("margin_balance", margin_balance),
            requirement=cells.optional_numbers("requirement", requirement),
            side=None if side is None else cells.sides(side),
            entry_price=cells.optional_numbers("entry_price", entry_price),
            stop_price=cells.optional_numbers("stop_price", stop_price),
            liquidation_price=cells.optional_numbers("liquidation_price", liquidation_price),
            mark_price=cells.optional_numbers("mark_price", mark_price),
            exposures=None if exposures is None else _exposures(exposures),
            volatility_age_days=cells.optional_numbers("volatility_age_days", volatility_age_days),
        )
    )


# --- hybrid assessment (green / amber / red) --------------------------------------------------

MEASURE_DOCS = {
    "distance_to_liquidation": "Distance to liquidation per position, e.g. PERP_LIQ_DISTANCE.",
    "liquidation_probability": "Liquidation probability per position, e.g. PERP_LIQ_PROBABILITY.",
    "margin_buffer": "Margin buffer per position, e.g. PERP_MARGIN_BUFFER.",
    "leverage": "Effective leverage per position.",
    "worst_scenario_liquidated": "TRUE where the position is liquidated in the worst scenario.",
    "var_fraction": "VaR of each position as a fraction of the equity it risks.",
}
THRESHOLDS = (
    "Optional two columns: threshold | level, e.g. leverage_amber | 4 (defaults: distance 20%/10%,"
    " probability 1%/5%, buffer 30%/0, leverage 5x/10x, VaR 10%/25%)."
)


def _assessment(
    distance_to_liquidation: Any,
    liquidation_probability: Any,
    margin_buffer: Any,
    leverage: Any,
    worst_scenario_liquidated: Any,
    var_fraction: Any,
    thresholds: Any,
) -> assessment.HybridAssessment:
    given = {
        "distance_to_liquidation": distance_to_liquidation,
        "liquidation_probability": liquidation_probability,
        "margin_buffer": margin_buffer,
        "leverage": leverage,
        "worst_scenario_liquidated": worst_scenario_liquidated,
        "var_fraction": var_fraction,
    }
    measures = {
        name: cells.column_values(name, value, flags=name == "worst_scenario_liquidated")
        for name, value in given.items()
        if value is not None
    }
    levels = None if thresholds is None else cells.pairs("thresholds", thresholds)
    return assessment.hybrid_assessment(**measures, thresholds=levels)


@xw.func(category=CATEGORY)
@xw.arg("distance_to_liquidation", ndim=2, doc=MEASURE_DOCS["distance_to_liquidation"])
@xw.arg("liquidation_probability", ndim=2, doc=MEASURE_DOCS["liquidation_probability"])
@xw.arg("margin_buffer", ndim=2, doc=MEASURE_DOCS["margin_buffer"])
@xw.arg("leverage", ndim=2, doc=MEASURE_DOCS["leverage"])
@xw.arg("worst_scenario_liquidated", ndim=2, doc=MEASURE_DOCS["worst_scenario_liquidated"])
@xw.arg("var_fraction", ndim=2, doc=MEASURE_DOCS["var_fraction"])
@xw.arg("thresholds", ndim=2, doc=THRESHOLDS)
@xw.ret(index=False, header=True)
@shows_errors
def PERP_ASSESSMENT(
    distance_to_liquidation: Any = None,
    liquidation_probability: Any = None,
    margin_buffer: Any = None,
    leverage: Any = None,
    worst_scenario_liquidated: Any = None,
    var_fraction: Any = None,
    thresholds: Any = None,
) -> Any:
    """Green / amber / red rating and reasons per position from the measures given; spills."""
    result = _assessment(
        distance_to_liquidation,
        liquidation_probability,
        margin_buffer,
        leverage,
        worst_scenario_liquidated,
        var_fraction,
        thresholds,
    )
    return cells.frame_out(result.positions[["rating", "reasons"]])


@xw.func(category=CATEGORY)
@xw.arg("distance_to_liquidation", ndim=2, doc=MEASURE_DOCS["distance_to_liquidation"])
@xw.arg("liquidation_probability", ndim=2, doc=MEASURE_DOCS["liquidation_probability"])
@xw.arg("margin_buffer", ndim=2, doc=MEASURE_DOCS["margin_buffer"])
@xw.arg("leverage", ndim=2, doc=MEASURE_DOCS["leverage"])
@xw.arg("worst_scenario_liquidated", ndim=2, doc=MEASURE_DOCS["worst_scenario_liquidated"])
@xw.arg("var_fraction", ndim=2, doc=MEASURE_DOCS["var_fraction"])
@xw.arg("thresholds", ndim=2, doc=THRESHOLDS)
@shows_errors
def PERP_BOOK_RATING(
    distance_to_liquidation: Any = None,
    liquidation_probability: Any = None,
    margin_buffer: Any = None,
    leverage: Any = None,
    worst_scenario_liquidated: Any = None,
    var_fraction: Any = None,
    thresholds: Any = None,
) -> Any:
    """The book's rating (its worst position's), then one reason per line below it; spills down."""
    result = _assessment(
        distance_to_liquidation,
        liquidation_probability,
        margin_buffer,
        leverage,
        worst_scenario_liquidated,
        var_fraction,
        thresholds,
    )
    return cells.fit_rows([[result.rating], *([reason] for reason in result.reasons)])
