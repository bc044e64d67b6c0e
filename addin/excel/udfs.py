"""perprisk cell functions for Excel (classic xlwings UDFs, Windows desktop Excel).

Each function is declared below as a short :class:`~addin.excel.declare.Cell` over the riskfuncs
callable it serves; :mod:`addin.excel.declare` generates from it and from the callable's
signature and numpydoc docstring the xlwings UDF (``@xw.func``/``@xw.arg``/``@xw.ret`` over a
function with the cell arguments as its signature), its function-wizard texts and the declaration
every other host reads (:mod:`addin.excel.spec`). A new riskfuncs parameter becomes an optional
cell argument at the end without code here. Conventions:

* Ranges work wherever one number does: ``=PERP_LIQ_PRICE(A2:A50, ...)`` spills one result per
  row. Empty and error cells are missing data and give an empty result cell.
* Percentages are fractions, as Excel stores them: a cell showing 0.5% holds 0.005.
* A range with a header row (positions, tiers, price histories) is read as a table by name.
* Optional arguments may be omitted or left as an empty cell.
* A bad input shows one line of text naming the argument, e.g. ``leverage must be > 0 (got -5)``
  (see :mod:`addin.excel.errors`); a price no move reaches shows ``never``.

The description (first docstring line) is what Excel's function wizard shows (at most 255
characters); ``docs/functions.md`` is generated from these declarations.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from addin.excel import cells, declare
from addin.excel.declare import (
    COLUMN,
    EXPOSURES,
    FLAGS,
    NUMBER,
    OMIT,
    PAIRS,
    RANGE_OPTIONS,
    SERIES,
    TEXT,
    WHOLE,
    Cell,
    Kind,
    define,
    frame,
    numbers,
    path,
    per_cell,
    per_series,
    table,
)
from addin.excel.spec import CellFunction
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
    venues,
)
from riskfuncs import scenarios as scenario_models
from riskfuncs import steps as steps_models
from riskfuncs import tiers as tier_tables
from riskfuncs import volatility as volatility_models
from riskfuncs.data.collateral import COLLATERAL_TABLES
from riskfuncs.liquidation import ALREADY_LIQUIDATED, NEVER_LIQUIDATED
from riskfuncs.scenarios import DEFAULT_EXCHANGE_LGD
from riskfuncs.venues import coin_name
from riskfuncs.volatility import RISKMETRICS_LAMBDA

# Cell wording of arguments shared by several functions (function wizard text, <= 255 characters);
# an argument not named here takes its riskfuncs docstring text.
HELP = {
    "side": '"long" or "short" (also buy/sell, +1/-1); a range gives one result per row.',
    "entry_price": "Average entry price, quote currency per coin (> 0).",
    "mark_price": "Mark price, quote currency per coin (> 0).",
    "quantity": "Position size: coins for linear contracts, USD face value for inverse (> 0).",
    "collateral": "Isolated: the position's margin. Cross: the account's wallet balance. Quote "
    "currency for linear, coin for inverse.",
    "exchange": "Rule set: binance, bybit, okx, gate, hyperliquid, dydx, bitmex or generic. "
    "Default binance.",
    "contract": '"linear" (USDT/USDC margined, default) or "inverse" (coin margined).',
    "maintenance_margin_rate": "Maintenance margin rate as a fraction (0.5% = 0.005). Leave "
    "empty when tiers are given.",
    "maintenance_amount": "Maintenance amount deducted (Binance cum, Bybit MM deduction), in the "
    "notional's unit. Default 0.",
    "max_leverage": "Hyperliquid only: the market's max leverage (maintenance rate = 1 / (2 x "
    "max)).",
    "fee_rate": "Closing taker fee rate counted in the requirement, fraction (0.05% = 0.0005). "
    "Default 0.",
    "other_maintenance_margin": "Cross only: maintenance margin of the other positions sharing "
    "the wallet. Default 0.",
    "other_unrealized_pnl": "Cross only: unrealised PnL of the other positions sharing the "
    "wallet. Default 0.",
    "notional": "Position value in the tier table's unit (quote for linear, coin for inverse).",
    "margin_balance": "Margin balance: collateral plus unrealised PnL.",
    "mark_prices": "Mark price at each funding time (one column or row).",
    "rates": "Funding rate of each interval, fraction, same length as mark_prices.",
    "liquidation_price": "Liquidation price, e.g. from PERP_LIQ_PRICE.",
    "prices": "Prices oldest first: one column per asset; an optional header row of names and a "
    "leading date column are skipped.",
    "returns": "Period returns oldest first, fractions (1% = 0.01), one column per asset (e.g. "
    "from PERP_RETURNS); header row and date column skipped.",
    "periods_per_year": "Periods in a year: 365 for daily crypto bars (default), 8760 hourly, "
    "1 raw.",
    "confidence": "Confidence level as a fraction, e.g. 0.99 (default).",
    "quantile_method": 'Quantile rule: "linear" (default, as PERCENTILE.INC) or "lower" (no '
    "interpolation).",
    "zero_mean": 'TRUE to take the mean return as 0 (method "normal"). Default FALSE.',
    "lam": f"Decay factor in (0, 1): {RISKMETRICS_LAMBDA} for daily data (default, "
    "RiskMetrics).",
    "volatility": "Annualised volatility, fraction (60% = 0.6).",
    "horizon": "Horizon in years: one day = 1/365, one hour = 1/8760.",
    "seed": "Random seed; the same seed gives the same figure. Default 0.",
    "score": "Exchange score 0-100, e.g. from PERP_EXCHANGE_SCORE.",
    "max_share": "Largest share one exchange may hold, fraction. Default 0.5.",
    "min_venues": "Fewest exchanges that must hold exposure. Default 2.",
    "distance_to_liquidation": "Distance to liquidation per position, e.g. PERP_LIQ_DISTANCE.",
    "liquidation_probability": "Liquidation probability per position, e.g. "
    "PERP_LIQ_PROBABILITY.",
    "worst_scenario_liquidated": "TRUE where the position is liquidated in the worst scenario.",
    "var_fraction": "VaR of each position as a fraction of the equity it risks.",
    "thresholds": "Optional two columns: threshold | level, e.g. leverage_amber | 4 (defaults: "
    "distance 20%/10%, probability 1%/5%, buffer 30%/0, leverage 5x/10x, VaR 10%/25%).",
}

AXIS = "one column per asset: the layout of the range fixes the axis"
DDOF = "sample standard deviation (n - 1), as Excel's STDEV.S"
SCOPE = "labels the check table's rows; a cell check's rows follow its range"
BANDS = "the published grade scale (GRADE_BANDS); a cell cannot hold a table of bands"
SEED = {"seed": 0}  # a cell recalculates often: the same figure each time unless asked otherwise
ONE_SIDE = {"side": '"long" or "short".'}  # functions of one position's history
NEVER = numbers(NEVER_LIQUIDATED)  # the one word for "no price liquidates it"


def _with_side(source: Any) -> Any:
    """Call ``source`` and keep the sides, so a price at a bound is read by side."""
    return lambda **given: (given["side"], source(**given))


def _bounds(result: Any, names: Any) -> Any:
    """Prices as cells (inf: never); a bound that means already liquidated for its side (0 for
    a short, inf for a long: riskfuncs.liquidation.liquidation_state) shows that word. A long's
    0 stays the number, so PERP_LIQ_DISTANCE still takes it."""
    side, price = result
    words = np.asarray(liquidation.liquidation_state(side, price), dtype=object)
    out = cells.cells_out(price, inf_text=NEVER_LIQUIDATED)
    if words.ndim == 0:
        return ALREADY_LIQUIDATED if words.item() == ALREADY_LIQUIDATED else out
    grid = words.reshape(len(words), -1) if words.ndim == 1 else words
    return [[ALREADY_LIQUIDATED if w == ALREADY_LIQUIDATED else v
             for w, v in zip(ws, vs, strict=True)]
            for ws, vs in zip(grid.tolist(), out, strict=True)]


def _words(name: str, value: Any, default: Any) -> Any:
    """A range of words, read cell by cell by the function."""
    return value


WORDS = Kind("range of words", _words, RANGE_OPTIONS)


def _checks(result: Any, names: Any) -> Any:
    return cells.frame_out(result, inf_text={"value": "inf"})


TABLE = {"index": False, "header": True}  # a pandas table spilled with its header row


def _check(name: str, source: Any, description: str, **spec: Any) -> Cell:
    """A discipline check: its rows spill as the check table."""
    return Cell(name, source, description, spill=_checks, returns=TABLE, **spec)


HISTORY_ONLY = {"axis": AXIS}
MOMENTS = {"ddof": DDOF, "axis": AXIS}


def _portfolio(positions: pd.DataFrame, tiers: Any = None) -> pd.DataFrame:
    result = portfolio.portfolio_margin(positions, tiers=tiers)
    price = result["liquidation_price"]
    reached = liquidation.liquidation_state(positions["side"].to_numpy(dtype=object),
                                            price.to_numpy()) == ALREADY_LIQUIDATED
    if reached.any():  # as PERP_LIQ_PRICE shows it; other bounds keep their words
        result["liquidation_price"] = [
            ALREADY_LIQUIDATED if r else NEVER_LIQUIDATED if v == np.inf else v
            for r, v in zip(reached, price, strict=True)]
    if "symbol" in positions:
        result.insert(0, "symbol", positions["symbol"].fillna(""))
    return result


def _collateral_value(amount: Any, price: Any, tiers: Any = None, ratio: Any = OMIT) -> Any:
    if tiers is not None and ratio is not OMIT:
        raise RiskInputError("give tiers or ratio, not both")
    return accounts.collateral_value(
        amount, price, tiers if tiers is not None else (1.0 if ratio is OMIT else ratio)
    )


BUFFER_COLUMNS = ("bid_buffer", "ask_buffer")
#: The columns of a collateral tier range besides coin: bounds in coins or in USD, the ratio.
COLLATERAL_BOUNDS = {"coin": ("minAmount", "maxAmount"), "usd": ("minValue", "maxValue")}
COLLATERAL_TIER_COLUMNS = (*COLLATERAL_BOUNDS["coin"], *COLLATERAL_BOUNDS["usd"], "ratio")
#: The venues (account modes) with stored haircut tables, as PERP_COLLATERAL_TIERS names them.
STORED_HAIRCUTS = tuple(sorted({venue for venue, _ in COLLATERAL_TABLES}))

Record = dict[str, float | None]


def _tier_rule(records: list[Record], name: str) -> None:
    """riskfuncs' check of a haircut table (``accounts._tier_arrays``: numbers, ratios in [0, 1],
    from 0 with no gap, one unit); the caller names the row, so no position within the table."""
    try:
        accounts._tier_arrays(records, name=name)
    except RiskInputError as exc:
        if exc.position is None or exc.rule is None:
            raise
        raise RiskInputError(f"{exc.argument} must {exc.rule} (got {exc.value:g})",
                             argument=exc.argument, value=exc.value, rule=exc.rule) from None


def _checked_tiers(name: str, rows: list[tuple[int, Record]]) -> list[Record]:
    """One coin's tier records, checked by riskfuncs' own rule (``accounts._tier_arrays``); a
    refusal names the first row (lowest tiers first) that breaks it."""
    ordered = sorted(rows, key=lambda row: float(row[1].get("minAmount", row[1].get("minValue"))
                                                 or 0.0))
    records = [record for _, record in ordered]
    try:
        _tier_rule(records, name)
    except RiskInputError:
        for count in range(1, len(ordered) + 1):  # the shortest run of tiers riskfuncs refuses
            _tier_rule(records[:count], f"{name} (row {ordered[count - 1][0]})")
        raise
    return [record for _, record in rows]


def _tiers_by_coin(name: str, value: Any, default: Any) -> Any:
    """A range of haircut tiers of several coins: coin, minAmount, maxAmount (coins) or
    minValue, maxValue (USD), ratio, as {coin: tier records} for ``account_margin``. Each
    coin's tiers are checked as riskfuncs checks a table; a refusal names the row, counted from
    1 under the header."""
    frame = cells.optional_table(name, value, text_columns=("coin", *COLLATERAL_TIER_COLUMNS))
    if frame is None:
        return default
    if "coin" not in frame or "ratio" not in frame or not any(
            bound in frame for bounds in COLLATERAL_BOUNDS.values() for bound in bounds):
        raise RiskInputError(f"{name} must have a header row: coin, minAmount, maxAmount, ratio "
                             "(or coin, minValue, maxValue, ratio for tiers in USD)")
    blocks: dict[str, list[tuple[int, Record]]] = {}
    for row, given in enumerate(frame.to_dict("records"), start=1):
        coin = given.get("coin")
        numbers = {column: cells._to_float(f"{name} (row {row}) {column}", given.get(column))
                   for column in COLLATERAL_TIER_COLUMNS}
        filled = {column for column, number in numbers.items() if not np.isnan(number)}
        if coin is None and not filled:
            continue  # an empty row inside the range
        if not isinstance(coin, str) or not coin.strip():
            raise RiskInputError(f"{name} (row {row}) coin must name the coin of the tier, e.g. "
                                 "BTC")
        units = [unit for unit, bounds in COLLATERAL_BOUNDS.items() if filled & set(bounds)]
        if len(units) > 1:
            raise RiskInputError(f"{name} (row {row}) must give minAmount, maxAmount (coins) or "
                                 "minValue, maxValue (USD), not both")
        if "ratio" not in filled:
            raise RiskInputError(f"{name} (row {row}) ratio must be given (98% = 0.98)")
        low, high = COLLATERAL_BOUNDS[units[0] if units else "coin"]
        record: Record = {low: numbers[low] if low in filled else 0.0,
                          high: numbers[high] if high in filled else None,
                          "ratio": numbers["ratio"]}
        blocks.setdefault(coin_name(coin), []).append((row, record))
    if not blocks:
        raise RiskInputError(f"{name} must hold at least one tier under its header row")
    return {coin: _checked_tiers(f"{name} {coin}", rows) for coin, rows in blocks.items()}


COLLATERAL_TIERS_BY_COIN = Kind(
    "collateral tiers by coin", _tiers_by_coin, declare.TABLE_OPTIONS,
    doc="Optional haircut tiers with a header row: coin, minAmount, maxAmount (coins; empty = "
    "no end) or minValue, maxValue (USD), ratio; each coin's rows from 0, each starting where "
    "the last ends. A coin here leaves balances ratio empty.",
)


def _stored_venue(word: str, mode: Any) -> str:
    """The stored haircut tables a ratio cell's word names: a table's venue as
    PERP_COLLATERAL_TIERS takes it, or an exchange (okx, bybit, binance...): the account
    mode's own table when the mode is on it, else the exchange's only table."""
    key = venues.venue_key(word)
    if key in STORED_HAIRCUTS:
        return key
    exchange = venues.venue_name(key)
    if isinstance(mode, str) and mode.strip().lower() in STORED_HAIRCUTS \
            and mode.strip().lower().startswith(exchange + "_"):
        return mode.strip().lower()
    found = [venue for venue in STORED_HAIRCUTS if venue.startswith(exchange + "_")]
    if len(found) == 1:
        return found[0]
    if found:
        raise RiskInputError(f"names {len(found)} stored haircut tables ({', '.join(found)}): "
                             "type one of them")
    raise RiskInputError(f"must be a collateral ratio (0.95) or a venue with stored haircut "
                         f"tables: {', '.join(STORED_HAIRCUTS)} (got {word!r})")


def _haircut(where: str, value: Any, coin: str, mode: Any) -> Any:
    """A balances ratio cell: a ratio (checked by riskfuncs' tier rule), a stored table's venue
    (its tiers for the coin), or None when empty."""
    if isinstance(value, str) and value.strip():
        try:
            return accounts.collateral_tiers(_stored_venue(value, mode), coin)
        except RiskInputError as exc:
            raise RiskInputError(f"{where} ratio {value.strip()!r}: {exc}") from None
    ratio = cells._to_float(f"{where} ratio", value)
    if np.isnan(ratio):
        return None
    _tier_rule([{"minAmount": 0.0, "ratio": ratio}], where)
    return ratio


def _balances(balances: pd.DataFrame, mode: Any = None, collateral_tiers: Any = None,
              haircuts: bool = True) -> dict[str, Any]:
    """The balances table as account arguments: balances, prices, collateral ratios (a number
    or a stored table's venue in the ratio column, or the coin's rows of ``collateral_tiers``)
    and, for an account ``mode``, Binance Multi-Assets conversion buffers from its bid_buffer
    and ask_buffer columns. Without ``haircuts`` the ratio column is not read."""
    if "coin" not in balances or "balance" not in balances:
        raise RiskInputError("balances must have coin and balance columns")
    names = balances["coin"].map(lambda c: coin_name(c) if isinstance(c, str) else "")
    first: dict[str, int] = {}
    for row, coin in enumerate(names, start=1):
        if not coin:
            raise RiskInputError(f"balances coin (row {row}) must be given")
        if coin in first:
            raise RiskInputError(f"balances {coin} (row {row}) must be listed once (row "
                                 f"{first[coin]} has it too)")
        first[coin] = row

    def by_coin(column: str) -> dict[str, float]:
        values: Any = balances.get(column, [])
        return {c: float(v) for c, v in zip(names, values, strict=False) if not np.isnan(v)}

    given: dict[str, Any] = {
        "balances": dict(zip(names, balances["balance"].astype(float), strict=True)),
        "prices": by_coin("price"),
    }
    if haircuts:
        tables = dict(collateral_tiers or {})
        ratios: dict[str, Any] = {}
        for row, (coin, value) in enumerate(zip(names, balances.get("ratio", [None] * len(names)),
                                                strict=True), start=1):
            where = f"balances {coin} (row {row})"
            ratio = _haircut(where, value, coin, mode)
            if ratio is not None and coin in tables:
                raise RiskInputError(f"{where} ratio must be empty: collateral_tiers gives "
                                     f"{coin}'s tiers (give them once)")
            if ratio is not None:
                ratios[coin] = ratio
        given["collateral_tiers"] = {**tables, **ratios}
    bid, ask = by_coin("bid_buffer"), by_coin("ask_buffer")
    if mode is not None and (bid or ask):  # the account functions; empty columns are no buffers
        if mode != "binance_multi_assets":
            raise RiskInputError("balances bid_buffer and ask_buffer are Binance Multi-Assets' "
                                 "conversion buffers: use mode binance_multi_assets (got "
                                 f"{mode!r})")
        given["conversion_buffers"] = {
            c: (bid.get(c, 0.0), ask.get(c, 0.0)) for c in names if c in bid or c in ask}
    return given


def _account_margin(book: pd.DataFrame, balances: pd.DataFrame, mode: Any,
                    tiers: Any = None, collateral_tiers: Any = None) -> list[list[Any]]:
    state = accounts.account_margin(book, **_balances(balances, mode, collateral_tiers),
                                    mode=mode, tiers=tiers)
    summary: list[list[Any]] = [
        ["equity (USD)", state.equity], ["requirement (USD)", state.requirement],
        [state.ratio_name, state.ratio], ["liquidated at", state.trigger],
        ["liquidated", "yes" if state.liquidated else "no"], ["", ""],
        ["symbol", "account liquidation price"]]
    # Per position's asset and per coin: 0.0 (no falling price) and inf (no rising price)
    # are never.
    rows = [[str(symbol), NEVER_LIQUIDATED if price in (0.0, np.inf) else float(price)]
            for symbol, price in zip(state.positions["symbol"],
                                     state.positions["account_liquidation_price"], strict=True)]
    coins = [[str(coin), NEVER_LIQUIDATED if price in (0.0, np.inf) else float(price)]
             for coin, price in state.coins["account_liquidation_price"].items()]
    return [[row[0], cells.cells_out(row[1]) if isinstance(row[1], float) else row[1]]
            for row in [*summary, *rows, ["", ""], ["coin", "account liquidation price"],
                        *coins]]


def _steps(steps: Any, names: Any) -> list[list[Any]]:
    return [["price", "closed", "remaining", "what happens"]] + [
        [cells.cells_out(s.price, inf_text=NEVER_LIQUIDATED), s.closed, s.remaining, s.note]
        for s in steps]


def _figure(value: Any) -> Any:
    """One number as a cell of a raw table: NaN (no figure) empty, +/-inf as text."""
    number = float(value)
    return "" if np.isnan(number) else cells.cells_out(number)


def _account_stress(book: pd.DataFrame, balances: pd.DataFrame, scenarios: Any,
                    mode: Any, tiers: Any = None, collateral_tiers: Any = None) -> pd.DataFrame:
    result = accounts.account_stress(book, **_balances(balances, mode, collateral_tiers),
                                     scenarios=scenarios, mode=mode, tiers=tiers)
    return result.rename_axis("scenario").reset_index()


def _named_rows(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A scenario table indexed by its name column (else by row number from 1)."""
    if "name" not in frame:
        return frame.set_axis(pd.RangeIndex(1, len(frame) + 1), axis=0)
    labels = frame["name"]
    if labels.isna().any():
        raise RiskInputError(f"{name} name must be given on every row "
                             f"(row {int(labels.isna().to_numpy().argmax()) + 1} is empty)")
    return frame.drop(columns="name").set_axis(labels.astype(str).str.strip().tolist(), axis=0)


def _account_scenarios(name: str, value: Any, default: Any) -> pd.DataFrame | list[str]:
    """Library scenario names (every filled cell text), or a table of moves with a header."""
    grid = value if isinstance(value, list) else [[value]]
    header = {str(cell).strip().lower() for cell in grid[0] if isinstance(cell, str)}
    if "name" not in header and all(cell is None or isinstance(cell, str)
                                    for row in grid for cell in row):
        names = cells.words(name, grid)
        if not names:
            raise RiskInputError(f"{name} must name library scenarios or be a table of moves "
                                 "with a header row (got an empty range)")
        for word in names:
            try:
                scenario_models.get_scenario(word)
            except RiskInputError:
                raise RiskInputError(f"{name} {word!r} must be a scenario name from "
                                     "PERP_SCENARIOS, or the range a table of moves with a "
                                     "header row") from None
        return names
    if any(cell is not None and not isinstance(cell, str) for cell in grid[0]):
        raise RiskInputError(f"{name} must start with a header row: name, then one column per "
                             "asset or coin (BTC, ETH, USDT...)")
    header_row = ["name" if isinstance(cell, str) and cell.strip().lower() == "name" else cell
                  for cell in grid[0]]
    frame = _named_rows(name, cells.table(name, pd.DataFrame(grid[1:], columns=header_row),
                                          text_columns=("name",)))
    for column in frame.columns:
        if frame[column].dtype.kind != "f":
            raise RiskInputError(f"{name} {column} must hold price moves as fractions "
                                 "(-0.3 = 30% down)")
    return frame


ACCOUNT_SCENARIOS = Kind(
    "account scenario table or names", _account_scenarios, RANGE_OPTIONS,
    doc="Library scenario names (PERP_SCENARIOS), or a table with a header row: name, then "
    "one column per asset or coin (BTC, ETH, USDT...) holding its price move as a fraction "
    "(-0.3 = 30% down); empty = unchanged.",
)


def _margin_scenarios(name: str, value: Any, default: Any) -> pd.DataFrame:
    return _named_rows(name, cells.table(name, value, text_columns=("name", "underlying"),
                                         number_columns=("price_move", "vol_move")))


MARGIN_SCENARIOS = Kind(
    "portfolio-margin scenario table", _margin_scenarios, declare.TABLE_OPTIONS,
    doc="Scenario grid with a header row: price_move (fraction); optional name, vol_move and "
    "underlying (the risk unit a row applies to; empty or * for every unit).",
)


def _scenario_margin(book: pd.DataFrame, scenarios: pd.DataFrame, balances: Any = None,
                     add_ons: Any = None) -> list[list[Any]]:
    held = _balances(balances, haircuts=False) if balances is not None else {}
    result = accounts.scenario_margin(book, scenarios, balances=held.get("balances"),
                                      prices=held.get("prices"), add_ons=add_ons)
    units = result.units
    rows: list[list[Any]] = [[
        str(unit), _figure(row["worst_loss"]), row["worst_scenario"], _figure(row["add_on"]),
        _figure(row["maintenance"]), row["basis"]] for unit, row in units.iterrows()]
    total = ["total", _figure(units["worst_loss"].sum()), "", _figure(units["add_on"].sum()),
             _figure(result.maintenance), result.basis]
    header = ["underlying", "worst_loss", "worst_scenario", "add_on", "maintenance", "basis"]
    return cells.fit_rows([header, *rows, total])


def _collateral_tier_rows(records: Any, names: Any) -> list[list[Any]]:
    unit = ("minValue", "maxValue") if "minValue" in records[0] else ("minAmount", "maxAmount")
    return [[*unit, "ratio"], *(
        [float(r[unit[0]] or 0.0), "" if r[unit[1]] is None else float(r[unit[1]]),
         float(r["ratio"])] for r in records)]


def _book_returns(name: str, value: Any, default: Any) -> pd.DataFrame:
    values, labels = cells.history(name, value)
    if not labels or any(not label for label in labels):
        raise RiskInputError(f"{name} must have a header row naming the asset of each column "
                             "(BTC, ETH...)")
    return pd.DataFrame(values.reshape(len(values), -1), columns=labels)


BOOK_RETURNS = Kind(
    "returns by asset", _book_returns, RANGE_OPTIONS,
    doc="Period returns oldest first (fractions, e.g. from PERP_RETURNS), one column per asset "
    "under a header row of asset names; a leading date column is skipped; empty = no return.",
)


def _exposure_rows(name: str, value: Any, default: Any) -> list[tuple[str, float]]:
    grid = [row for row in cells._grid(value) if any(v is not None for v in row)]
    if any(len(row) != 2 for row in grid):
        raise RiskInputError(f"{name} must be two columns: asset (or symbol) and USD exposure")
    if grid and isinstance(grid[0][1], str):
        grid = grid[1:]
    if not grid:
        raise RiskInputError(f"{name} must hold at least one position")
    rows = []
    for label, amount in grid:
        if not isinstance(label, str) or not label.strip():
            raise RiskInputError(f"{name} must name the asset or symbol of each exposure "
                                 f"(got {label!r})")
        rows.append((label.strip(), cells._to_float(f"{name} {label.strip()}", amount)))
    return rows


BOOK_EXPOSURES = Kind(
    "asset | USD exposure rows", _exposure_rows, RANGE_OPTIONS,
    doc="Two columns: asset or symbol (BTC, BTC/USDT:USDT) | USD value of the position, long "
    "+, short -; one row per position (positions on one asset are netted).",
)


def _asset_of(label: str) -> str:
    """BTC for BTC, BTC/USDT:USDT and BTC/USD:BTC."""
    return label.split(":", 1)[0].split("/", 1)[0].strip().upper()


def _book_var(returns: pd.DataFrame, exposures: list[tuple[str, float]],
              **options: Any) -> Any:
    labels = [label for label, _ in exposures]
    values = pd.Series([amount for _, amount in exposures], index=labels, dtype=float)
    return var.book_var(returns, values, assets=[_asset_of(a) for a in labels], **options)


def _book_var_rows(book: Any, names: Any) -> list[list[Any]]:
    width = 5
    summary: list[list[Any]] = [
        ["figure", "value"],
        ["historical VaR (USD)", _figure(book.historical_var)],
        ["historical ES (USD)", _figure(book.historical_es)],
        ["normal VaR (USD)", _figure(book.normal_var)],
        ["normal ES (USD)", _figure(book.normal_es)],
        ["joint observations", float(book.observations)],
        ["coverage (share of the book)", _figure(book.coverage)],
        ["covered assets", ", ".join(book.covered)],
        ["assets without history", ", ".join(book.missing)],
        [""],
        ["asset", "exposure", "volatility", "historical_var", "normal_var"],
    ]
    per_asset = [[str(asset), *(_figure(v) for v in row)]
                 for asset, row in zip(book.per_asset.index,
                                       book.per_asset.to_numpy(dtype=float).tolist(),
                                       strict=True)]
    return cells.fit_rows([[*row, *[""] * (width - len(row))] for row in summary + per_asset])


# --- scenarios ----------------------------------------------------------------------------------

SCENARIO_SETTINGS = (
    "description", "reference_asset", "default_beta", "move_floor", "move_cap",
    "volatility_shock", "funding_rate", "funding_intervals", "horizon_hours", "weight",
)
_SCENARIO_TEXT = ("name", "description", "reference_asset")


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
    rows = cells.table("scenarios", pd.DataFrame(grid[1:], columns=header),
                       text_columns=_SCENARIO_TEXT)
    made = []
    for _, row in rows.iterrows():
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


def _scenarios(name: str, value: Any, default: Any) -> list[scenario_models.Scenario]:
    if value is None:
        return list(scenario_models.scenario_library())
    grid = value if isinstance(value, list) else [[value]]
    header = [str(v).strip().lower() if isinstance(v, str) else v for v in grid[0]]
    if "name" in header and len(grid) > 1 and len(grid[0]) > 1:
        return _scenario_table(grid)
    return [_named_scenario(word) for word in cells.words(name, grid)]


SCENARIOS = Kind(
    "scenario names or a scenario table", _scenarios, RANGE_OPTIONS,
    doc='Scenario names from PERP_SCENARIOS (default: all), "default <exchange> [lgd]" for a '
    "venue failure, or a table: header name, asset columns (BTC...) with moves, optional "
    "settings.",
)
STRESS_KINDS = {"scenarios": SCENARIOS, "betas": PAIRS}


def _stress_positions(positions: pd.DataFrame, scenarios: Any, measure: Any,
                      tiers: Any = None, betas: Any = None) -> pd.DataFrame:
    result = stress.stress_test(positions, scenarios, tiers=tiers, betas=betas)
    table_ = result.table(measure).reset_index(drop=True)
    table_.insert(0, "symbol", positions["symbol"].fillna("") if "symbol" in positions else "")
    return table_


def _scenario_library() -> list[list[Any]]:
    header = ["name", "description", "moves", "reference_asset", "funding_rate",
              "funding_intervals", "horizon_hours", "weight"]
    return cells.fit_rows([header, *(
        [s.name, s.description, ", ".join(f"{a} {m:+.0%}" for a, m in s.moves.items()),
         s.reference_asset, s.funding_rate, s.funding_intervals, s.horizon_hours, s.weight]
        for s in scenario_models.scenario_library())])


def _span_grid(grid: Any, names: Any) -> list[list[Any]]:
    rows = [[s.name, s.moves[s.reference_asset], s.volatility_shock, s.weight] for s in grid]
    return [["name", "move", "volatility_shock", "weight"], *rows]


# --- counterparty ---------------------------------------------------------------------------------

def _grades(grades: Any, names: Any) -> Any:
    if isinstance(grades, np.ndarray):
        return [[g if g is not None else "" for g in row] for row in grades.tolist()]
    return grades if grades is not None else ""


def _concentration(result: Any, names: Any) -> list[list[Any]]:
    return [["hhi", "effective_venues"],
            [cells.cells_out(float(result.hhi)), cells.cells_out(float(result.effective_venues))]]


def _diversification(check: Any, names: Any) -> list[list[Any]]:
    passed = "" if check.passed is None else bool(check.passed)
    return cells.fit_rows([["passed", "reason"], [passed, check.reason]])


# --- assessment -----------------------------------------------------------------------------------

MEASURES = {
    "distance_to_liquidation": COLUMN, "liquidation_probability": COLUMN, "margin_buffer": COLUMN,
    "leverage": COLUMN, "worst_scenario_liquidated": FLAGS, "var_fraction": COLUMN,
    "thresholds": PAIRS, "cap_buffer": COLUMN, "stop_beyond_liquidation": FLAGS,
}
# The cell order of the first measures; measures riskfuncs added since follow them.
MEASURE_ORDER = ("distance_to_liquidation", "liquidation_probability", "margin_buffer",
                 "leverage", "worst_scenario_liquidated", "var_fraction", "thresholds")
MEASURE_DOCS = {
    "margin_buffer": "Margin buffer per position, e.g. PERP_MARGIN_BUFFER.",
    "leverage": "Effective leverage per position.",
    "cap_buffer": "Margin above the initial margin at the leverage cap per position: balance / "
    "(notional / cap) - 1.",
    "stop_beyond_liquidation": "TRUE where the stop-loss sits at or beyond the liquidation "
    "price, so the exchange liquidates first.",
}


def _ratings(result: Any, names: Any) -> Any:
    return cells.frame_out(result.positions[["rating", "reasons"]])


def _book_rating(result: Any, names: Any) -> list[list[Any]]:
    return cells.fit_rows([[result.rating], *([reason] for reason in result.reasons)])


# --- unified accounts -----------------------------------------------------------------------------

ACCOUNT_KINDS = {
    "positions": table("account positions", ("symbol", "side", "exchange"), (
        "contracts", "contractSize", "entryPrice", "markPrice", "maintenanceMarginRate",
        "maintenanceAmount", "feeRate")),
    # ratio: a number or the venue of a stored haircut table, read row by row (_haircut)
    "balances": table("balances", ("coin", "ratio"), ("balance", "price", *BUFFER_COLUMNS)),
    "collateral_tiers": COLLATERAL_TIERS_BY_COIN,
}
ACCOUNT_EXCLUDED = {
    "prices": "the price column of balances",
    "conversion_buffers": "the bid_buffer and ask_buffer columns of balances",
}
ACCOUNT_DOCS = {
    "positions": "The account's linear positions with a header row (ccxt names): symbol, side, "
    "contracts, entryPrice, markPrice, maintenanceMarginRate; optional contractSize, "
    "maintenanceAmount, feeRate.",
    "balances": "Coins with a header row: coin, balance; optional price (USD), ratio (0.95, or "
    "a venue such as okx for its stored tiers: see PERP_COLLATERAL_TIERS); Binance "
    "Multi-Assets: optional bid_buffer, ask_buffer.",
    "mode": "bybit_uta, binance_multi_assets, binance_portfolio, okx_multi_currency, "
    "hyperliquid_cross or dydx_cross.",
}

CELLS = (
    Cell("PERP_NOTIONAL", margin.notional,
         "Position value: quantity x price (linear, quote) or quantity / price (inverse, coin).",
         docs={"price": "Price, quote currency per coin (> 0)."}),
    Cell("PERP_INITIAL_MARGIN", margin.initial_margin,
         "Initial margin: notional / leverage (quote currency for linear, coin for inverse).",
         docs={"price": "Entry or mark price, quote currency per coin (> 0).",
               "leverage": "Leverage chosen for the position (> 0), e.g. 10."}),
    Cell("PERP_MAINT_MARGIN", margin.maintenance_margin,
         "Maintenance margin: notional x rate - maintenance amount (rate from tiers if given).",
         order=("quantity", "price", "maintenance_margin_rate", "maintenance_amount", "tiers"),
         docs={"price": "Mark price, quote currency per coin (> 0)."}),
    Cell("PERP_UNREALIZED_PNL", margin.unrealized_pnl,
         "Unrealised PnL at the mark price: quote currency for linear, coin for inverse "
         "contracts."),
    Cell("PERP_MARGIN_RATIO", margin.margin_ratio,
         "Margin ratio; with the default convention 1.0 (100%) means liquidation.",
         docs={"maintenance_margin": "Maintenance margin of the position or account.",
               "convention": '"maintenance/balance" (default; 1 = liquidation, Binance/Bybit) '
               'or "balance/maintenance".'}),
    Cell("PERP_MARGIN_BUFFER", margin.margin_buffer,
         "Margin buffer: balance / requirement - 1 (0.30 = 30% above the requirement).",
         docs={"requirement": "Requirement to compare with, e.g. the maintenance margin."}),
    Cell("PERP_LIQ_DISTANCE", margin.distance_to_liquidation,
         "Adverse move, as a fraction of the mark price, that liquidates the position (0.12 = "
         "12%).", spill=NEVER),
    Cell("PERP_MAX_LEVERAGE_FOR_MOVE", margin.max_leverage_for_move,
         docs={"move": "Adverse price move to survive, fraction (0.30 = 30% against you).",
               "maintenance_margin_rate": "Maintenance margin rate, fraction (0.5% = 0.005).",
               "buffer": "Margin left above maintenance after the move. Default 0.30."},
         spill=numbers("no limit")),
    Cell("PERP_LIQ_PRICE", liquidation.liquidation_price,
         "Liquidation price by the exchange's published rule, isolated or cross margin.",
         docs={"margin_mode": '"isolated" (default) or "cross" (a cross wallet may dwarf a '
               "position)."}, call=_with_side(liquidation.liquidation_price), spill=_bounds),
    Cell("PERP_EXCHANGE_RULE", liquidation.rule_for_venue,
         'Liquidation rule set used for a venue: its own published rule, else "generic".',
         kinds={"venue": WORDS},
         docs={"venue": 'Exchange name or ccxt id, e.g. "binanceusdm"; a range gives one per '
               "cell."},
         call=lambda venue: per_cell("venue", liquidation.rule_for_venue, venue),
         spill=lambda rules, names: rules),
    Cell("PERP_BANKRUPTCY_PRICE", liquidation.bankruptcy_price,
         "Bankruptcy price: where the margin balance reaches zero (no maintenance margin left).",
         call=_with_side(liquidation.bankruptcy_price), spill=_bounds),
    Cell("PERP_TIER", tier_tables.tier_for_notional,
         "Tier number (1 = first) that applies to a position value in a leverage-tier table."),
    Cell("PERP_TIER_MAX_LEVERAGE", tier_tables.max_leverage),
    Cell("PERP_FUNDING_RATE", funding.funding_rate,
         "Funding rate of one interval: premium + clamp(interest - premium), optionally capped.",
         docs={"premium_index": "Average premium index of the interval (0.03% = 0.0003).",
               "interest_rate": "Interest rate per interval. Default 0.0001 (0.01% per 8 h).",
               "clamp": "Band around interest - premium, fraction. Default 0.0005 (0.05%).",
               "cap": "Venue cap on the absolute funding rate, fraction. Default none."}),
    Cell("PERP_FUNDING_PAYMENT", funding.funding_payment,
         "Funding cash flow of one interval to the holder (negative = paid).",
         docs={"rate": "Funding rate of the interval, fraction (0.01% = 0.0001)."}),
    Cell("PERP_CUMULATIVE_FUNDING", funding.cumulative_funding,
         "Running total of funding after each interval; spills down, the last is the total.",
         kinds={"mark_prices": SERIES, "rates": SERIES}, docs=ONE_SIDE),
    Cell("PERP_LIQ_PRICE_AFTER_FUNDING", funding.liquidation_price_after_funding,
         kinds={"entry_price": NUMBER, "quantity": NUMBER, "collateral": NUMBER,
                "mark_prices": SERIES, "rates": SERIES},
         docs={**ONE_SIDE,
               "collateral": "Isolated margin: quote currency for linear, coin for inverse."},
         call=_with_side(funding.liquidation_price_after_funding), spill=_bounds),
    Cell("PERP_PORTFOLIO", portfolio.portfolio_margin,
         "Per-position margin, PnL, liquidation price and distance for a whole book; spills a "
         "table.",
         docs={"positions": "Positions with a header row (ccxt names): side, contracts, "
               "entryPrice, markPrice, collateral; optional exchange, symbol, contractSize, "
               "marginMode, contractType, maintenanceMarginRate, maintenanceAmount, leverage, "
               "feeRate, maxLeverage."},
         call=_portfolio,
         # rows built vectorised by cells.rows_out: books run to many thousand rows
         spill=lambda result, names: cells.rows_out(result, inf_text={
             "liquidation_price": NEVER_LIQUIDATED, "distance_to_liquidation": NEVER_LIQUIDATED}),
         returns={"convert": "raw"}),
    Cell("PERP_COLLATERAL_VALUE", accounts.collateral_value,
         order=("amount", "price", "tiers", "ratio"),
         kinds={"tiers": table("collateral tiers", number_columns=(
             "minAmount", "maxAmount", "minValue", "maxValue", "ratio")),
                "ratio": NUMBER},
         defaults={"tiers": None, "ratio": OMIT},
         docs={"amount": "Coins held (negative: borrowed, counted in full).",
               "price": "USD index price of the coin (>= 0).",
               "tiers": "Collateral tiers with a header row: minAmount, maxAmount (coin units; "
               "empty = no upper bound) or minValue, maxValue (USD), ratio (fraction), e.g. "
               "PERP_COLLATERAL_TIERS. Omit for the flat ratio.",
               "ratio": "One collateral ratio for every amount when no tiers are given (1 = "
               "100%)."},
         call=_collateral_value),
    Cell("PERP_ACCOUNT_MARGIN", accounts.account_margin,
         "Unified account: equity, requirement, the venue's ratio and the account liquidation "
         "price of each position and coin.",
         order=("positions", "balances", "mode", "tiers", "collateral_tiers"),
         rename={"book": "positions"}, kinds=ACCOUNT_KINDS, excluded=ACCOUNT_EXCLUDED,
         docs=ACCOUNT_DOCS, call=_account_margin, spill=lambda rows, names: rows,
         returns={"convert": "raw"}),
    Cell("PERP_ACCOUNT_STRESS", accounts.account_stress,
         "Unified account under joint scenarios: equity, requirement, ratio, liquidated; spills "
         "a table.",
         order=("positions", "balances", "scenarios", "mode", "tiers", "collateral_tiers"),
         rename={"book": "positions"}, kinds={**ACCOUNT_KINDS, "scenarios": ACCOUNT_SCENARIOS},
         excluded=ACCOUNT_EXCLUDED, docs=ACCOUNT_DOCS, call=_account_stress,
         spill=lambda result, names: cells.frame_out(result), returns=TABLE),
    Cell("PERP_COLLATERAL_TIERS", accounts.collateral_tiers,
         "A venue's stored collateral haircut tiers for a coin, as a range PERP_COLLATERAL_VALUE "
         "takes.",
         docs={"venue": "bybit_uta, okx_multi_currency, binance_multi_assets, "
               "binance_portfolio or binance_portfolio_pro.",
               "coin": 'Coin held, e.g. "BTC".'},
         spill=_collateral_tier_rows, returns={"convert": "raw"}),
    Cell("PERP_SCENARIO_MARGIN", accounts.scenario_margin,
         "Approximate portfolio margin: worst scenario loss per risk unit plus add-ons, labelled "
         "approximation.",
         rename={"book": "positions"},
         kinds={"positions": table("portfolio-margin positions", ("symbol", "side"), (
             "contracts", "contractSize", "markPrice", "vega")),
                "scenarios": MARGIN_SCENARIOS, "balances": ACCOUNT_KINDS["balances"],
                "add_ons": PAIRS},
         defaults={"balances": None, "add_ons": None},
         excluded={"prices": "the price column of balances"},
         docs={"positions": "Linear positions with a header row: symbol (its base asset is the "
               "risk unit), side, contracts, markPrice; optional contractSize, vega (USD per "
               "unit vol_move).",
               "balances": "Optional coins held with a header row: coin, balance; optional "
               "price (USD). A non-dollar coin joins its risk unit.",
               "add_ons": "Optional two columns: underlying | add-on in USD (e.g. from "
               "PERP_TIERED_ADD_ON)."},
         call=_scenario_margin, spill=lambda rows, names: rows, returns={"convert": "raw"}),
    Cell("PERP_TIERED_ADD_ON", accounts.tiered_add_on,
         "A charge at tiered marginal rates: each USD slice of the value at its tier's rate "
         "(approximation input).",
         kinds={"tiers": table("add-on tiers", number_columns=("minValue", "maxValue",
                                                                "rate"))},
         docs={"value": "USD exposure (>= 0); a range gives one charge per cell.",
               "tiers": "Tiers with a header row: minValue, maxValue (USD; empty = no upper "
               "bound), rate (fraction)."}),
    Cell("PERP_LIQ_STEPS", steps_models.liquidation_steps,
         "The liquidation ladder: price, closed, remaining and what happens at each step.",
         defaults={"exchange": "binance"}, spill=_steps, returns={"convert": "raw"}),
    Cell("PERP_RETURNS", volatility_models.returns,
         "Period returns of a price history (one row fewer than the prices); spills.",
         docs={"kind": '"simple" (P1/P0 - 1, default) or "log" (ln(P1/P0)).'},
         excluded=HISTORY_ONLY, spill=path),
    Cell("PERP_VOLATILITY", volatility_models.close_to_close_volatility,
         "Annualised close-to-close volatility: standard deviation of returns x sqrt(periods).",
         excluded=MOMENTS, spill=per_series),
    Cell("PERP_EWMA_VOLATILITY", volatility_models.ewma_volatility,
         excluded={"start": "the first variance is backcast from the history (RiskMetrics)",
                   **HISTORY_ONLY}, spill=per_series),
    Cell("PERP_EWMA_VOLATILITY_PATH", volatility_models.ewma_volatility_path,
         "EWMA volatility of every period of the history, annualised; spills beside the "
         "returns.",
         excluded={"start": "the first variance is backcast from the history (RiskMetrics)",
                   **HISTORY_ONLY}, spill=path),
    Cell("PERP_PARKINSON_VOLATILITY", volatility_models.parkinson_volatility,
         docs={"high": "Highest price of each bar, oldest first (one column per asset).",
               "low": "Lowest price of each bar, same shape as high."},
         excluded=HISTORY_ONLY, spill=per_series),
    # Open and Close are VBA statements, so the cell arguments are opening and closing.
    Cell("PERP_GARMAN_KLASS_VOLATILITY", volatility_models.garman_klass_volatility,
         rename={"open": "opening", "close": "closing"},
         docs={"opening": "Opening price of each bar, oldest first (one column per asset).",
               "high": "Highest price of each bar, same shape as opening.",
               "low": "Lowest price of each bar, same shape as opening.",
               "closing": "Closing price of each bar, same shape as opening."},
         excluded=HISTORY_ONLY, spill=per_series),
    Cell("PERP_HISTORICAL_VAR", var.historical_var,
         "Historical one-period VaR: the loss (a positive fraction) exceeded in 1 - confidence.",
         rename={"method": "quantile_method"}, excluded=HISTORY_ONLY, spill=per_series),
    Cell("PERP_PARAMETRIC_VAR", var.parametric_var,
         "Parametric one-period VaR (loss, fraction) from the mean and standard deviation.",
         docs={"distribution": '"normal" (default) or "cornish_fisher" (corrected for skew and '
               "fat tails).",
               "zero_mean": "TRUE to take the mean return as 0 (RiskMetrics). Default FALSE."},
         excluded=MOMENTS, spill=per_series),
    Cell("PERP_MONTE_CARLO_VAR", var.monte_carlo_var,
         "Monte Carlo one-period VaR: loss quantile of simulated returns (repeatable with the "
         "seed).",
         defaults=SEED, excluded=MOMENTS, spill=per_series,
         docs={"method": '"normal" (default) or "bootstrap" (redraw past returns).',
               "paths": "Number of simulated returns. Default 100000."}),
    Cell("PERP_EXPECTED_SHORTFALL", var.expected_shortfall,
         "Expected shortfall (CVaR): mean loss in the worst 1 - confidence tail, fraction.",
         order=("returns", "confidence", "method", "zero_mean"), excluded=MOMENTS,
         docs={"method": '"historical" (default), "rockafellar_uryasev" or "normal".'},
         spill=per_series),
    Cell("PERP_BOOK_VAR", var.book_var,
         "Book VaR and ES in USD over several assets' joint history, with coverage and each "
         "asset alone.",
         order=("returns", "exposures", "confidence", "quantile_method", "horizon",
                "zero_mean"),
         rename={"method": "quantile_method"},
         kinds={"returns": BOOK_RETURNS, "exposures": BOOK_EXPOSURES},
         excluded={"assets": "the first column of exposures: an asset, or a symbol whose base "
                   "asset is taken", "ddof": DDOF},
         docs={"horizon": "Periods to scale to by the square root of time, e.g. 10 for ten "
               "days from daily returns. Default 1.",
               "zero_mean": "TRUE to take the mean return as 0 (normal figures). Default "
               "FALSE."},
         call=_book_var, spill=_book_var_rows, returns={"convert": "raw"}),
    Cell("PERP_SCALE_TO_HORIZON", var.scale_to_horizon,
         "Square-root-of-time scaling: value x sqrt(horizon) (assumes independent returns).",
         docs={"value": "One-period volatility, VaR or ES (fraction).",
               "horizon": "Number of periods, e.g. 10 for a 10-day figure from daily data."}),
    Cell("PERP_LIQ_PROBABILITY", probability.liquidation_probability,
         kinds={"checks": WHOLE}, defaults=SEED,
         docs={"drift": "Expected annual return of the price, fraction. Default 0.",
               "monitoring": '"continuous" (default), "discrete" (needs checks) or '
               '"monte_carlo".',
               "checks": "Discrete monitoring: number of price checks within the horizon.",
               "paths": "Monte Carlo: number of simulated paths. Default 20000.",
               "seed": "Monte Carlo: random seed; the same seed gives the same figure. "
               "Default 0."}),
    Cell("PERP_LIQ_DISTANCE_SIGMAS", probability.liquidation_distance_sigmas,
         "Distance to the liquidation price in standard deviations of the log price.",
         spill=NEVER),
    Cell("PERP_STRESS", stress.stress_test,
         "Stress test the book: loss, liquidations and shortfall per scenario; spills a table.",
         kinds=STRESS_KINDS, defaults={"scenarios": None}, returns=TABLE,
         spill=lambda result, names: cells.frame_out(result.by_scenario.reset_index())),
    Cell("PERP_STRESS_POSITIONS", stress.stress_test,
         "One stress measure per position (rows) and scenario (columns); spills a table.",
         order=("positions", "measure", "scenarios", "tiers"),
         kinds={**STRESS_KINDS, "measure": TEXT},
         defaults={"scenarios": None, "measure": "pnl"},
         docs={"measure": "price, pnl (default), maintenance_margin, margin_balance, "
               "margin_ratio, liquidated or shortfall."},
         call=_stress_positions, spill=frame(), returns=TABLE),
    Cell("PERP_SCENARIOS", scenario_models.scenario_library,
         "The built-in stress scenarios: name, description, moves, funding, horizon; spills a "
         "table.", call=_scenario_library, spill=lambda rows, names: rows),
    Cell("PERP_SCENARIO_MOVE", scenario_models.Scenario.price_move,
         "Price move of an asset in a scenario (fraction); unlisted assets follow BTC by beta.",
         order=("scenario", "asset"), kinds={"scenario": TEXT, "asset": WORDS, "betas": PAIRS},
         excluded={"self": "the scenario named by the scenario argument"},
         docs={"scenario": 'Scenario name from PERP_SCENARIOS, e.g. "BTC -30% 1h".',
               "asset": 'Asset (base currency), e.g. "ETH"; a range gives one move per cell.',
               "betas": "Optional two columns: asset | beta to the scenario's reference asset, "
               "for assets the scenario does not list."},
         call=lambda scenario, asset, betas=None: per_cell(
             "asset", partial(_named_scenario(scenario).price_move, betas=betas), asset),
         spill=lambda moves, names: cells.cells_out(np.array(moves, dtype=float))),
    Cell("PERP_PRICE_SCAN_RANGE", scenario_models.price_scan_range,
         "SPAN price scan range from a volatility: z x volatility x sqrt(horizon / year), "
         "fraction.",
         docs={"volatility": "Annualised volatility of log returns, fraction (60% = 0.6).",
               "confidence": "One-sided confidence level, e.g. 0.99 (default).",
               "horizon_days": "Horizon in days. Default 1 (the SPAN convention).",
               "periods_per_year": "Days per year: 365 for crypto (default), 252 for exchange "
               "hours."}),
    Cell("PERP_SPAN_GRID", scenario_models.span_grid,
         "The 16 CME SPAN risk-array scenarios for a scan range: name, move, volatility, weight.",
         docs={"price_scan_range": "Price scan range, fraction of price (10% = 0.1).",
               "extreme_multiple": "Size of the two extreme moves in scan ranges. Default 2.",
               "volatility_scan_range": "Relative volatility move (0.25 = x1.25 / x0.75). "
               "Default 0.",
               "asset": 'Reference asset the grid moves. Default "BTC".'}, spill=_span_grid),
    Cell("PERP_RESERVE_SUBSCORE", counterparty.reserve_subscore,
         docs={"coverage_ratio": "Reserves / customer liabilities, e.g. 1.05 for 105%.",
               "days_since_attestation": "Days since the last proof-of-reserves attestation."}),
    Cell("PERP_INSURANCE_SUBSCORE", counterparty.insurance_fund_subscore,
         docs={"insurance_fund": "Insurance fund balance, quote currency.",
               "open_interest": "Open interest, same currency.",
               "target_ratio": "Fund / open interest that scores 1. Default 0.05."}),
    Cell("PERP_INCIDENT_SUBSCORE", counterparty.incident_subscore,
         docs={"incidents": "Number of security or solvency incidents (hacks, halts).",
               "adl_events": "Number of auto-deleveraging events. Default 0."}),
    Cell("PERP_EXCHANGE_SCORE", counterparty.exchange_score,
         "Exchange due-diligence score from 0 (worst) to 100 (best), one per row of factors.",
         kinds={"factors": table("factors", ("exchange", "name")), "weights": PAIRS},
         defaults={"weights": OMIT},
         docs={"factors": "One row per exchange, header row of factors: proof_of_reserves, "
               "audit, licence, jurisdiction, insurance_fund, incident_history, transparency "
               "(sub-scores 0-1).",
               "weights": "Optional two columns: factor | weight (normalised to sum 1)."}),
    Cell("PERP_EXCHANGE_GRADE", counterparty.exchange_grade,
         "Letter grade for an exchange score: AA (best), A, BB, B, C, D, E (worst).",
         excluded={"bands": BANDS}, spill=_grades),
    Cell("PERP_EXCHANGE_PD", counterparty.exchange_probability_of_default,
         docs={"bound": '"central" (default), "low" or "high" end of the grade\'s PD band.'},
         excluded={"bands": BANDS}),
    Cell("PERP_EXPECTED_LOSS", counterparty.expected_loss,
         "Expected loss on an exchange: exposure x probability of default x loss given default.",
         docs={"exposure": "Exposure at default: your equity on the exchange.",
               "probability_of_default": "Probability of default, fraction (2% = 0.02).",
               "loss_given_default": "Loss given default, fraction, e.g. from PERP_LGD_PRIOR."}),
    Cell("PERP_PD_OVER", counterparty.probability_of_default_over,
         "Probability of default over a horizon from a one-year PD, at a constant default "
         "intensity.",
         docs={"pd_1y": "One-year probability of default, fraction.",
               "horizon_years": "Horizon in years, e.g. 0.25 for three months."}),
    # Name is a VBA statement, so the cell argument is profile.
    Cell("PERP_LGD_PRIOR", counterparty.loss_given_default_prior,
         "Loss given default (fraction) for a venue profile or a past exchange failure.",
         rename={"name": "profile"},
         docs={"profile": "opaque_offshore, regulated_segregated, or a past failure: ftx, "
               "mt_gox, quadrigacx, celsius, voyager, bitfinex_2016."}),
    Cell("PERP_EXPOSURE_BY_EXCHANGE", counterparty.exposure_by_exchange,
         "What each exchange owes you: margin equity per venue, floored at 0; spills a table.",
         spill=lambda exposure, names: cells.frame_out(exposure.rename("exposure").reset_index()),
         returns=TABLE),
    Cell("PERP_CONCENTRATION", counterparty.concentration,
         "Herfindahl index of exposure across exchanges and the effective number of venues; "
         "spills.", kinds={"exposures": EXPOSURES}, spill=_concentration),
    Cell("PERP_DIVERSIFICATION_CHECK", counterparty.diversification_check,
         "Is exchange exposure spread widely enough? Spills passed (TRUE/FALSE) and the reason.",
         kinds={"exposures": EXPOSURES}, spill=_diversification),
    Cell("PERP_POSITION_SIZE", discipline.position_size,
         "Position size losing equity x risk_fraction at the stop (coins; USD face if inverse).",
         docs={"equity": "Account equity: quote currency (linear) or coin (inverse).",
               "risk_fraction": "Share of equity to lose at the stop, fraction (1% = 0.01).",
               "stop_price": "Stop-loss price: below entry for a long, above for a short.",
               "fee_rate": "Taker fee paid on entry and at the stop, fraction. Default 0."}),
    _check("PERP_CHECK_LEVERAGE", discipline.check_leverage,
         "Leverage discipline check: passed, value, limit and what to do; spills one row per "
         "value.",
         docs={"leverage": "Effective leverage: notional / margin balance.",
               "cap": "Highest leverage allowed. Default 5."},
         excluded={"scope": SCOPE}),
    _check("PERP_CHECK_MARGIN_BUFFER", discipline.check_margin_buffer,
         "Margin-buffer discipline check (balance at least 30% above maintenance by default).",
         docs={"margin_balance": "Collateral plus unrealised PnL.",
               "requirement": "Maintenance margin, same currency.",
               "minimum": "Lowest buffer above maintenance, fraction. Default 0.30."},
         excluded={"scope": SCOPE}),
    _check("PERP_CHECK_STOP_LOSS", discipline.check_stop_loss,
         "Stop-loss discipline check: is there a stop, and does it fire before liquidation?",
         docs={"stop_price": "Stop-loss trigger price; empty = no stop (fails the check).",
               "mark_price": "Optional mark price, so a trailing stop in profit passes."},
         excluded={"scope": SCOPE}),
    _check("PERP_CHECK_MODEL_FRESHNESS", discipline.check_model_freshness,
         "Model-freshness discipline check: is the volatility estimate recent enough?",
         rename={"last_volatility_update_age_days": "age_days"},
         docs={"age_days": "Days since the volatility estimate was last updated.",
               "max_age_days": "Oldest acceptable age in days. Default 1."},
         excluded={"scope": SCOPE}),
    _check("PERP_CHECK_DIVERSIFICATION", discipline.check_diversification,
         "Diversification discipline check over exchanges, as one row of the check table.",
         kinds={"exposures": EXPOSURES}, excluded={"scope": SCOPE}),
    _check("PERP_DISCIPLINE_REPORT", discipline.discipline_report,
         "Every discipline check on a book of positions, one row per check; spills a table.",
         order=("positions", "volatility_age_days", "leverage_cap", "minimum_margin_buffer",
                "max_venue_share", "min_venues"),
         docs={"positions": "Positions as for PERP_PORTFOLIO, plus stopLossPrice (empty = no "
               "stop set).",
               "volatility_age_days": "Days since the volatility estimate was updated "
               "(optional).",
               "max_venue_share": "Largest share of exchange exposure on one venue. Default "
               "0.5.",
               "min_venues": "Fewest venues holding exposure. Default 2."}),
    _check("PERP_RISK_AUDIT", discipline.risk_audit,
         "Run every discipline check whose inputs are given (default limits); spills a table.",
         kinds={"exposures": EXPOSURES}, excluded={"scope": SCOPE},
         docs={"leverage": "Effective leverage per position (optional).",
               "margin_balance": "Margin balance per position, with requirement (optional).",
               "requirement": "Maintenance margin per position, with margin_balance.",
               "side": "For the stop-loss check, with entry_price and liquidation_price.",
               "entry_price": "For the stop-loss check: entry price per position.",
               "stop_price": "For the stop-loss check: stop price; empty = no stop set.",
               "liquidation_price": "For the stop-loss check: liquidation price.",
               "mark_price": "For the stop-loss check: mark price (trailing stops pass).",
               "exposures": "For the diversification check: two columns: exchange | exposure "
               "(e.g. the PERP_EXPOSURE_BY_EXCHANGE table).",
               "volatility_age_days": "For the freshness check: age of the volatility "
               "estimate, days."}),
    Cell("PERP_ASSESSMENT", assessment.hybrid_assessment,
         "Green / amber / red rating and reasons per position from the measures given; spills.",
         order=MEASURE_ORDER, kinds=MEASURES, docs=MEASURE_DOCS, spill=_ratings,
         returns=TABLE),
    Cell("PERP_BOOK_RATING", assessment.hybrid_assessment,
         "The book's rating (its worst position's), then one reason per line below it; spills "
         "down.", order=MEASURE_ORDER, kinds=MEASURES, docs=MEASURE_DOCS, spill=_book_rating),
)

_declared = [define(cell, HELP, __name__) for cell in CELLS]
#: The declaration of every function, in this order, as every host reads it.
CELL_FUNCTIONS: tuple[CellFunction, ...] = tuple(d.function for d in _declared)
globals().update({d.function.name: d.udf for d in _declared})
