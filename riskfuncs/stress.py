"""Scenario stress testing: what each scenario does to every position and to the book.

For every position and scenario the mark price moves by the scenario's move for the position's
asset, funding is paid for the scenario's intervals, collateral is haircut, and the margin
account is tested for liquidation at the moved price:

    P' = MP * (1 + move)
    uPnL' = s*Q*(P' - EP) (linear, quote) or s*N*(1/EP - 1/P') (inverse, coin)
    F = -s * notional(P') * rate * intervals      (funding received; negative = paid)
    balance' = collateral * (1 - haircut) + uPnL' + F   (cross: wallet + the account's sums)
    requirement' = MM(P') + fee_rate * notional(P')     (tiers at the moved notional)
    liquidated = requirement' >= balance'

Maintenance margin is evaluated where the venue evaluates it (see
``riskfuncs.liquidation.EXCHANGE_RULES``): at the moved price for Binance, OKX, Gate, dYdX,
Hyperliquid and unknown venues, at entry value for Bybit and BitMEX; Bybit charges the closing
fee of an isolated position on its value at the bankruptcy price. An isolated position is
liquidated in a scenario exactly when the move crosses
:func:`riskfuncs.liquidation.liquidation_price`.

A liquidated account loses all of its margin (the engine closes it and keeps what is left, as
Binance and Bybit do; partial liquidation is ignored, which errs on the side of caution). What
the loss exceeds the margin by, the bankruptcy gap, is reported as ``shortfall``: it falls on
the insurance fund or on auto-deleveraged traders, not on the trader's other accounts.

Every position and scenario is computed in one pass over 2-D arrays (positions x scenarios),
processed in blocks of scenarios so the temporaries stay small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskfuncs._arrays import (
    FloatArray,
    choose,
    require_non_negative,
    require_positive,
    require_rate,
)
from riskfuncs._errors import RiskInputError
from riskfuncs.book import Book, as_book
from riskfuncs.liquidation import EXCHANGE_RULES
from riskfuncs.margin import maintenance_terms, notional_of, pnl_of, unrealized_pnl
from riskfuncs.scenarios import Scenario, get_scenario
from riskfuncs.tiers import TierMap, TierTable, resolve_tier_tables

__all__ = ["StressResult", "stress_test"]

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
Measure = Literal[
    "price", "pnl", "maintenance_margin", "margin_balance", "margin_ratio", "liquidated",
    "shortfall",
]
MEASURES: tuple[str, ...] = (
    "price", "pnl", "maintenance_margin", "margin_balance", "margin_ratio", "liquidated",
    "shortfall",
)

#: Elements (positions x scenarios) per block of work: about 8 MB per float temporary. A block
#: is at least _MIN_WIDTH scenarios wide (narrower ones make the per-scenario sums and the
#: copies into the results slow) unless that passes _MAX_BLOCK_ELEMENTS (64 MB a temporary).
_BLOCK_ELEMENTS = 1 << 20
_MIN_WIDTH = 16
_MAX_BLOCK_ELEMENTS = 1 << 23


@dataclass(frozen=True, eq=False)
class StressResult:
    """Outcome of :func:`stress_test`.

    Per position and scenario the results are 2-D arrays, rows in the order of
    ``positions`` and columns in the order of ``scenarios``; :meth:`table` labels one of them and
    :meth:`by_position` gives them all in long format. Amounts are in the position's settlement
    currency (quote for linear, coin for inverse); portfolio totals are in quote currency.

    Attributes
    ----------
    positions : DataFrame
        One row per position, the input's index: exchange, symbol, asset, settle, side (+1/-1),
        contract, margin_mode, account, mark_price.
    scenarios : tuple of Scenario
    pnl : ndarray (positions x scenarios)
        Price PnL of the move plus funding received over the horizon (settlement currency).
    maintenance_margin : ndarray (positions x scenarios)
        Maintenance margin after the move, tiers honoured (settlement currency).
    accounts : DataFrame
        One row per margin account: an isolated position is its own account, cross positions of
        one exchange and settlement currency share one. Columns: account, exchange, settle,
        margin_mode, collateral_currency, wallet, positions.
    account_of_position : ndarray of int
        Row of ``accounts`` each position belongs to.
    account_balance : ndarray (accounts x scenarios)
        Margin balance after the scenario: haircut collateral + uPnL + funding.
    account_requirement : ndarray (accounts x scenarios)
        Maintenance margin plus closing fees of the account after the scenario.
    by_scenario : DataFrame
        One row per scenario (index: name): weight, horizon_hours, pnl, funding, haircut_loss,
        equity_before, equity_after, default_loss, equity_left, loss, weighted_loss,
        loss_fraction, positions_liquidated, accounts_liquidated, positions_unknown (missing
        data: neither liquidated nor safe), shortfall (quote currency).
    worst : DataFrame
        The row of ``by_scenario`` with the largest weighted loss.
    """

    positions: pd.DataFrame
    scenarios: tuple[Scenario, ...]
    pnl: FloatArray
    maintenance_margin: FloatArray
    accounts: pd.DataFrame
    account_of_position: IntArray
    account_balance: FloatArray
    account_requirement: FloatArray
    by_scenario: pd.DataFrame
    worst: pd.DataFrame
    asset_moves: FloatArray
    asset_of_position: IntArray

    @property
    def scenario_names(self) -> pd.Index:
        return pd.Index([s.name for s in self.scenarios], name="scenario")

    @property
    def account_liquidated(self) -> BoolArray:
        """Accounts x scenarios: the requirement reaches the balance (NaN data: False)."""
        result: BoolArray = self.account_requirement >= self.account_balance
        return result

    @property
    def price(self) -> FloatArray:
        """Mark price after each scenario: ``MP * (1 + move)``."""
        mark = self.positions["mark_price"].to_numpy(dtype=float)
        result: FloatArray = mark[:, None] * (1.0 + self.asset_moves[self.asset_of_position])
        return result

    @property
    def liquidated(self) -> BoolArray:
        """Positions x scenarios: the position's account is liquidated."""
        result: BoolArray = self.account_liquidated[self.account_of_position]
        return result

    @property
    def margin_balance(self) -> FloatArray:
        """Positions x scenarios: the balance liquidation is judged on (cross: the account's)."""
        result: FloatArray = self.account_balance[self.account_of_position]
        return result

    @property
    def margin_ratio(self) -> FloatArray:
        """Positions x scenarios: requirement / balance of the account (1.0 = liquidation).

        ``inf`` where the balance is at or below zero, NaN where data is missing.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(
                self.account_balance > 0,
                self.account_requirement / self.account_balance,
                np.inf,
            )
        ratio = np.where(np.isnan(self.account_balance + self.account_requirement), np.nan, ratio)
        result: FloatArray = ratio[self.account_of_position]
        return result

    @property
    def shortfall(self) -> FloatArray:
        """Positions x scenarios: loss beyond the account's margin, ``max(-balance, 0)``.

        Cross positions show their account's shortfall; sum per account, not per position.
        """
        gap = np.where(self.account_balance < 0, -self.account_balance, 0.0)
        gap = np.where(np.isnan(self.account_balance), np.nan, gap)
        result: FloatArray = gap[self.account_of_position]
        return result

    def table(self, measure: Measure) -> pd.DataFrame:
        """One measure as a positions x scenarios DataFrame.

        Parameters
        ----------
        measure : {"price", "pnl", "maintenance_margin", "margin_balance", "margin_ratio",
                   "liquidated", "shortfall"}
        """
        name = choose("measure", measure, MEASURES)
        return pd.DataFrame(
            getattr(self, name), index=self.positions.index, columns=self.scenario_names
        )

    def by_position(self) -> pd.DataFrame:
        """Every position x scenario in long format (one row per pair, position-major).

        Columns: position (the input's index label), scenario, account, asset, price, pnl,
        maintenance_margin, margin_balance, margin_ratio, liquidated, shortfall. This is
        positions x scenarios rows; for large books prefer :meth:`table`.
        """
        n, m = self.pnl.shape
        columns: dict[str, Any] = {
            "position": np.repeat(self.positions.index.to_numpy(), m),
            "scenario": np.tile(self.scenario_names.to_numpy(), n),
            "account": np.repeat(self.positions["account"].to_numpy(), m),
            "asset": np.repeat(self.positions["asset"].to_numpy(), m),
        }
        for name in MEASURES:
            columns[name] = np.ravel(getattr(self, name))
        return pd.DataFrame(columns)


@dataclass(frozen=True)
class _Book:
    """Validated positions as flat arrays."""

    frame: pd.DataFrame
    sign: FloatArray
    qty: FloatArray
    entry: FloatArray
    mark: FloatArray
    collateral: FloatArray
    rate: FloatArray
    amount: FloatArray
    fee: FloatArray
    inverse: BoolArray
    cross: BoolArray
    entry_basis: BoolArray
    whole_position: BoolArray  # the whole position at its tier's rate, no amount (OKX)
    fee_value: FloatArray  # fixed notional the closing fee is charged on (NaN: moved notional)
    venue_account: IntArray  # the account key cross positions share (``venue_keys``)
    venue_keys: list[str]


def _taken(words: Sequence[str] | npt.NDArray[Any], codes: IntArray, index: pd.Index) -> pd.Series:
    """``words[codes]`` as a text column with ``index``."""
    values = pd.Series(np.asarray(words, dtype=object)).array.take(codes)
    return pd.Series(values, index=index)


def _book(positions: pd.DataFrame | Book,
          tiers: TierMap | None) -> tuple[_Book, dict[str, TierTable]]:
    positions = as_book(positions)
    if "symbol" not in positions.given:
        raise RiskInputError("positions must have a symbol column")
    if len(positions) == 0:
        raise RiskInputError("positions must have at least one row (got none)")
    numbers = positions.numbers
    venues = positions.venues
    # Every position moves with its base asset: its symbol must name a market.
    for venue, row in enumerate(positions.venue_row):
        symbol, base = venues["symbol"].iloc[venue], venues["base"].iloc[venue]
        if not base:
            raise positions.row_error(
                "symbol", int(row), "name a market such as BTC/USDT:USDT, BTCUSDT or "
                "BTC-USDT-SWAP", symbol)
        if venues["contractType"].iloc[venue] == "inverse" and venues["settle"].iloc[
                venue] != base:
            raise positions.row_error(
                "symbol", int(row), "settle in its base coin for an inverse contract", symbol)
    index = positions.index
    code = positions.venue
    frame = pd.DataFrame(index=index)
    for column, source in (("exchange", "exchange"), ("symbol", "symbol"), ("asset", "base"),
                           ("settle", "settle"), ("contract", "contractType")):
        frame[column] = _taken(venues[source].to_numpy(dtype=object), code, index)
    cross = positions.cross
    frame["margin_mode"] = _taken(["isolated", "cross"], cross.astype(np.intp), index)
    frame["collateral_currency"] = _taken(positions.collateral_currency[1],
                                          positions.collateral_currency[0], index)
    frame["collateral_currency"] = frame["collateral_currency"].where(
        frame["collateral_currency"] != "", frame["settle"]
    )

    sign = positions.sign
    if np.isnan(sign).any():
        position = int(np.argmax(np.isnan(sign)))
        raise positions.row_error("side", position, "be long or short", None)
    require_positive("contracts", numbers["contracts"])
    require_positive("contractSize", numbers["contractSize"])
    require_positive("entryPrice", numbers["entryPrice"])
    require_positive("markPrice", numbers["markPrice"])
    require_non_negative("collateral", numbers["collateral"])
    require_non_negative("maintenanceAmount", numbers["maintenanceAmount"])
    require_rate("feeRate", numbers["feeRate"])
    require_positive("maxLeverage", numbers["maxLeverage"])

    # The rule of each venue combination: the venue's, or the row's ``rule`` column.
    venue_rules = [EXCHANGE_RULES[rule] for rule in venues["rule"]]
    tier_map, venue_labels = resolve_tier_tables(venues["exchange"], venues["symbol"], tiers)
    tier_labels = venue_labels[code] if len(venue_labels) else np.array([], dtype=str)
    has_tiers = tier_labels != ""
    # Hyperliquid: maintenance margin is half the initial margin at maximum leverage.
    rate = positions.maintenance_rate(has_tiers)
    require_rate("maintenanceMarginRate", np.where(has_tiers, 0.0, rate))
    frame["tier_symbol"] = tier_labels
    frame["side"] = sign
    frame["mark_price"] = numbers["markPrice"]
    entry_basis = np.array(
        [r is not None and r.maintenance_basis == "entry" for r in venue_rules],
        dtype=bool)[code]
    whole_position = np.array([not r.tier_amounts for r in venue_rules], dtype=bool)[code]
    qty = positions.quantity
    inverse = (venues["contractType"] == "inverse").to_numpy(dtype=bool)[code]
    # Bybit charges the "fee to close" on the value at the bankruptcy price of an isolated
    # position: (x_e - sigma * W) / (1 - sigma * fee), as riskfuncs.liquidation does.
    on_bankruptcy = ~cross & np.array(
        [bool(getattr(r, "fee_on_bankruptcy_value", False)) for r in venue_rules], dtype=bool
    )[code]
    sigma = np.where(inverse, -sign, sign)
    entry_value = np.where(inverse, qty / numbers["entryPrice"], qty * numbers["entryPrice"])
    bankruptcy_value = (entry_value - sigma * numbers["collateral"]) / (
        1.0 - sigma * numbers["feeRate"]
    )
    fee_value = np.where(on_bankruptcy, np.maximum(bankruptcy_value, 0.0), np.nan)
    book = _Book(
        frame=frame,
        sign=sign,
        qty=qty,
        entry=numbers["entryPrice"],
        mark=numbers["markPrice"],
        collateral=numbers["collateral"],
        rate=rate,
        amount=numbers["maintenanceAmount"],
        fee=numbers["feeRate"],
        inverse=inverse,
        cross=cross,
        entry_basis=entry_basis,
        whole_position=whole_position,
        fee_value=fee_value,
        venue_account=positions.account,
        venue_keys=list(positions.accounts),
    )
    return book, tier_map


def _scenario_list(scenarios: Scenario | str | Sequence[Scenario | str]) -> tuple[Scenario, ...]:
    items = [scenarios] if isinstance(scenarios, Scenario | str) else list(scenarios)
    if not items:
        raise RiskInputError("scenarios must hold at least one scenario (got none)")
    resolved = []
    for item in items:
        if isinstance(item, str):
            resolved.append(get_scenario(item))
        elif isinstance(item, Scenario):
            resolved.append(item)
        else:
            raise RiskInputError(
                f"scenarios must be Scenario objects or library names (got {type(item).__name__})"
            )
    names = [s.name for s in resolved]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise RiskInputError(f"scenarios must have unique names (got {duplicate!r} twice)")
    return tuple(resolved)


@dataclass(frozen=True)
class _Accounts:
    code: IntArray  # account of each position
    table: pd.DataFrame
    wallet: FloatArray
    first_row: IntArray  # a position of each account (its price converts coin to quote)
    inverse: BoolArray
    sizes: FloatArray
    identity: bool  # every account is one position, in row order
    shared: IntArray  # accounts of more than one position
    members: IntArray  # their positions, grouped by account in account order
    starts: IntArray  # first index in ``members`` of each shared account


def _accounts(book: _Book) -> _Accounts:
    frame = book.frame
    n = len(book.cross)
    # Cross positions of one venue account share it; an isolated position is its own account,
    # named by row position (index labels may repeat).
    key = np.where(book.cross, book.venue_account, len(book.venue_keys) + np.arange(n))
    codes = pd.factorize(key, sort=False)[0].astype(np.intp)
    n_accounts = int(codes.max()) + 1
    first_row = np.full(n_accounts, -1, dtype=np.intp)
    first_row[codes[::-1]] = np.arange(n)[::-1]
    # ``exchange:SETTLE`` for a cross account, with ``:isolated:<row>`` for a position of its own.
    keys = pd.Series(_taken(book.venue_keys, book.venue_account[first_row], pd.RangeIndex(
        n_accounts)))
    isolated = keys + ":isolated:" + pd.Series(first_row).astype(str)
    labels = isolated.where(~pd.Series(book.cross[first_row]), keys)
    # One wallet per cross account: riskfuncs.book.as_book refuses cross rows that differ.
    wallet = book.collateral[first_row]
    counts = np.bincount(codes, minlength=n_accounts)
    sizes = counts.astype(float)
    shared = np.flatnonzero(counts > 1).astype(np.intp)
    in_shared = (counts > 1)[codes]
    members = np.flatnonzero(in_shared)
    members = members[np.argsort(codes[members], kind="stable")].astype(np.intp)
    starts = np.concatenate([[0], np.cumsum(counts[shared])[:-1]]).astype(np.intp)
    table = pd.DataFrame(
        {
            "account": labels.to_numpy() if labels.dtype == object else labels.array,
            "exchange": _rows_at(frame["exchange"], first_row),
            "settle": _rows_at(frame["settle"], first_row),
            "margin_mode": _rows_at(frame["margin_mode"], first_row),
            "collateral_currency": _rows_at(frame["collateral_currency"], first_row),
            "wallet": wallet,
            "positions": sizes.astype(int),
        }
    )
    return _Accounts(
        code=codes,
        table=table,
        wallet=wallet,
        first_row=first_row,
        inverse=book.inverse[first_row],
        sizes=sizes,
        identity=n_accounts == n,
        shared=shared,
        members=members,
        starts=starts,
    )


def _rows_at(column: pd.Series, rows: IntArray) -> Any:
    """``column``'s values at ``rows``: taken from its own array (text stays in Arrow), or as
    objects from a column of objects."""
    if column.dtype == object:
        return column.to_numpy()[rows]
    return column.array.take(rows)


def _sorted_codes(column: pd.Series) -> tuple[list[str], IntArray]:
    """The distinct values of a text column in sorted order and each row's number among them
    (``np.unique(..., return_inverse=True)``, without converting every row to a string)."""
    codes, uniques = column.factorize()
    words = [str(u) for u in uniques]
    order = sorted(range(len(words)), key=words.__getitem__)
    number = np.empty(len(words), dtype=np.intp)
    number[order] = np.arange(len(words))
    return [words[i] for i in order], number[codes]


@dataclass(frozen=True)
class _Group:
    """Positions sharing a contract type, a maintenance basis and a tier table."""

    rows: Any  # slice or index array
    kind: str
    entry_basis: bool
    table: TierTable | None


def _groups(book: _Book, tier_map: Mapping[str, TierTable]) -> list[_Group]:
    frame = book.frame
    keys = pd.DataFrame(
        {"kind": frame["contract"].to_numpy(), "basis": book.entry_basis,
         "tiers": frame["tier_symbol"].to_numpy(), "whole": book.whole_position}
    )
    grouped = keys.groupby(["kind", "basis", "tiers", "whole"], sort=False).indices
    groups = []
    for key, rows in grouped.items():
        kind, basis, symbol, whole = cast(tuple[str, bool, str, bool], key)
        index: Any = slice(None) if len(grouped) == 1 else np.asarray(rows, dtype=np.intp)
        table = tier_map.get(str(symbol))
        if table is not None and whole:
            table = table.without_amounts()
        groups.append(_Group(index, str(kind), bool(basis), table))
    return groups


def _sum_by_account(values: FloatArray, accounts: _Accounts) -> FloatArray:
    """Sum rows (positions) into accounts: a position of its own is taken as it is, the
    members of a shared account are added up in row order."""
    if accounts.identity:
        return values
    result: FloatArray = np.take(values, accounts.first_row, axis=0)
    if len(accounts.shared):
        result[accounts.shared] = np.add.reduceat(
            np.take(values, accounts.members, axis=0), accounts.starts, axis=0)
    return result


@dataclass(frozen=True)
class _Shocks:
    """Scenario inputs as small tables (rows: assets, currencies, exchanges; columns: scenarios)."""

    moves: FloatArray
    asset_code: IntArray  # per position
    funding: FloatArray  # cumulative rate per scenario
    haircuts: FloatArray
    currency_code: IntArray  # per account
    lgds: FloatArray
    exchange_code: IntArray  # per account

    @staticmethod
    def per_account(table: FloatArray, code: IntArray, block: slice) -> FloatArray | None:
        """Accounts x block values of a table, or None when the block has none."""
        part = table[:, block]
        return part[code] if np.any(part != 0) else None


def _shocks(
    book: _Book,
    accounts: _Accounts,
    scenarios: tuple[Scenario, ...],
    betas: Mapping[str, float] | None,
) -> _Shocks:
    assets, asset_code = _sorted_codes(book.frame["asset"])
    currencies, currency_code = _sorted_codes(accounts.table["collateral_currency"])
    exchanges, exchange_code = _sorted_codes(accounts.table["exchange"])
    return _Shocks(
        moves=np.array([[s.price_move(a, betas=betas) for s in scenarios] for a in assets]),
        asset_code=asset_code.astype(np.intp),
        funding=np.array([s.cumulative_funding_rate for s in scenarios]),
        haircuts=np.array([[s.haircut(c) for s in scenarios] for c in currencies]),
        currency_code=currency_code.astype(np.intp),
        lgds=_loss_given_default(exchanges, scenarios),
        exchange_code=exchange_code.astype(np.intp),
    )


def _loss_given_default(
    exchanges: Sequence[str] | npt.NDArray[Any], scenarios: tuple[Scenario, ...]
) -> FloatArray:
    """Exchanges x scenarios: the loss given default (0 where a scenario does not name the
    exchange), asked of the scenarios only for exchanges one of them names."""
    named = {venue for s in scenarios for venue in s.exchange_default}
    lgds = np.zeros((len(exchanges), len(scenarios)))
    for row, exchange in enumerate(exchanges):
        if exchange.strip().lower() in named:
            lgds[row] = [s.loss_given_default(exchange) for s in scenarios]
    return lgds


def stress_test(
    positions: pd.DataFrame | Book,
    scenarios: Scenario | str | Sequence[Scenario | str],
    *,
    tiers: TierMap | None = None,
    betas: Mapping[str, float] | None = None,
) -> StressResult:
    """Apply stress scenarios to a book of perpetual-futures positions.

    Parameters
    ----------
    positions : DataFrame or Book
        One row per position with ccxt ``Position`` columns (:data:`riskfuncs.book.BOOK_COLUMNS`,
        read by :func:`riskfuncs.book.as_book`): ``symbol`` (ccxt ``BTC/USDT:USDT`` or an
        exchange id such as ``BTCUSDT``; its base is the asset a scenario moves), ``side``,
        ``contracts`` (or ``quantity``),
        ``contractSize`` (default 1), ``entryPrice``, ``markPrice`` (quote per base unit),
        ``collateral`` (isolated margin, or the account's wallet balance repeated on each of its
        cross rows), ``exchange`` (any venue name, default "generic"; known venues bring their
        maintenance-margin rule, a ``rule`` column overrides it), ``marginMode``
        (isolated/cross, default isolated),
        ``contractType`` (linear/inverse, default linear), ``maintenanceMarginRate`` and
        ``maintenanceAmount`` unless the symbol has tiers, ``feeRate`` (closing taker fee,
        default 0), ``maxLeverage`` (Hyperliquid) and ``collateralCurrency`` (default: the
        settlement currency; a scenario's haircut on that currency cuts the collateral).
    scenarios : Scenario, library name, or a sequence of them
        Names must be unique; see :func:`riskfuncs.scenarios.scenario_library`.
    tiers : mapping of symbol (or of ``(exchange, symbol)``) to TierLike, optional
        Leverage tiers by symbol; the tier of the moved notional gives the maintenance rate and
        amount.
    betas : mapping of asset to float, optional
        Betas to each scenario's reference asset for assets the scenario does not list,
        overriding the scenario's own betas.

    Returns
    -------
    StressResult
        Per position x scenario arrays, ``by_scenario`` totals and the ``worst`` scenario.

    Notes
    -----
    Portfolio totals are in quote currency: stablecoin amounts count at par and coin amounts
    of inverse contracts are converted at the scenario's price of the coin, so a coin-margined
    long loses twice. ``equity_before`` is collateral plus unrealised PnL at the mark price;
    ``equity_after`` counts a liquidated account as zero; ``default_loss`` is the loss given
    default times the equity left at each failed venue; ``loss`` = ``equity_before`` -
    ``equity_left``. The worst scenario has the largest ``weight * loss`` (SPAN's 35% weight
    on extreme moves).

    The collateral haircut models collateral in one currency valued for margin in another
    (multi-asset and unified margin modes, USDC backing USDT contracts in March 2023); it lowers
    the balance tested for liquidation and the equity.

    Sources: liquidation condition and tier use as in Binance FAQ "How to Calculate Liquidation
    Price of USDⓈ-M Futures Contracts"; worst-case scan over a scenario grid as in CME SPAN.

    Examples
    --------
    A 5x long of 1 BTC at 60,000 with 12,000 isolated margin and a 0.5% maintenance rate: BTC
    -30% is a PnL of -18,000, the margin balance falls to -6,000, the position is liquidated
    and the exchange is short 6,000 beyond the margin.

    >>> book = pd.DataFrame({"exchange": ["binance"], "symbol": ["BTC/USDT:USDT"],
    ...     "side": ["long"], "contracts": [1.0], "entryPrice": [60_000.0],
    ...     "markPrice": [60_000.0], "collateral": [12_000.0],
    ...     "maintenanceMarginRate": [0.005]})
    >>> result = stress_test(book, "BTC -30% 1h")
    >>> [float(a[0, 0]) for a in (result.pnl, result.margin_balance, result.shortfall)]
    [-18000.0, -6000.0, 6000.0]
    >>> result.worst[["loss", "positions_liquidated", "equity_left"]]
                 loss  positions_liquidated  equity_left
    scenario
    BTC -30% 1h  12000.0                     1          0.0
    """
    chosen = _scenario_list(scenarios)
    if betas is not None:
        betas = {str(k).strip().upper(): float(v) for k, v in betas.items()}
        bad = [k for k, v in betas.items() if not np.isfinite(v)]
        if bad:
            raise RiskInputError(f"betas[{bad[0]!r}] must be finite (got {betas[bad[0]]:g})")
    book, tier_map = _book(positions, tiers)
    accounts = _accounts(book)
    groups = _groups(book, tier_map)
    shocks = _shocks(book, accounts, chosen, betas)

    n, m = len(book.qty), len(chosen)
    upnl_now = np.empty(n)
    for group in groups:
        rows = group.rows
        upnl_now[rows] = unrealized_pnl(
            book.sign[rows], book.entry[rows], book.mark[rows], book.qty[rows],
            contract=group.kind,  # type: ignore[arg-type]
        )
    balance_now = _sum_by_account(upnl_now[:, None], accounts)[:, 0] + accounts.wallet
    quote_now = np.where(accounts.inverse, book.mark[accounts.first_row], 1.0)
    any_inverse = bool(book.inverse.any())

    has_fee = bool(np.any(book.fee > 0))
    pnl = np.empty((n, m))
    mm = np.empty((n, m))
    balance = np.empty((len(accounts.sizes), m))
    requirement = mm if accounts.identity and not has_fee else np.empty_like(balance)
    totals = {name: np.zeros(m) for name in _TOTALS}
    factor = 1.0 + shocks.moves  # per asset and scenario: P' = MP * (1 + move)

    # The block loop works on the positions ordered by group, so that each group's rows are
    # one slice (nothing gathered or scattered per group and block); results are put back in
    # the book's order as they are stored.
    work, work_groups, work_accounts, asset_code, rank = _by_group(book, groups, accounts,
                                                                    shocks.asset_code)
    upnl_work = upnl_now.copy()
    if rank is not None:
        upnl_work[rank] = upnl_now

    width = max(1, min(m, max(_MIN_WIDTH, _BLOCK_ELEMENTS // n), _MAX_BLOCK_ELEMENTS // n))
    for start in range(0, m, width):
        block = slice(start, min(m, start + width))
        price = np.take(factor[:, block], asset_code, axis=0)
        price *= work.mark[:, None]
        after = np.empty_like(price)  # uPnL after the move plus funding received
        rate = shocks.funding[block]
        flows = np.empty_like(price) if np.any(rate != 0) else None
        mm_block = np.empty_like(price)
        need = np.empty_like(price) if has_fee else mm_block
        for group in work_groups:
            _block_group(work, group, price, rate, after, flows, mm_block, need)
        mm[:, block] = mm_block if rank is None else mm_block[rank]
        # Coin amounts of inverse rows count at the coin's moved price (their own price).
        quote_rows = np.where(work.inverse[:, None], price, 1.0) if any_inverse else None
        # Block results are summed while contiguous (a column sum over a narrow view of the
        # full array is many times slower), then put in place.
        pnl_block = np.subtract(after, upnl_work[:, None])
        totals["pnl"][block] = _column_sum(pnl_block, quote_rows)
        pnl[:, block] = pnl_block if rank is None else pnl_block[rank]
        if flows is not None:
            totals["funding"][block] = _column_sum(flows, quote_rows)
        cut = _Shocks.per_account(shocks.haircuts, shocks.currency_code, block)
        collateral = accounts.wallet[:, None] * (1.0 - cut) if cut is not None else (
            accounts.wallet[:, None]
        )
        balance_block = np.add(collateral, _sum_by_account(after, work_accounts))
        balance[:, block] = balance_block
        requirement_block = _sum_by_account(need, work_accounts)
        if requirement is not mm:
            requirement[:, block] = requirement_block
        quote = (
            np.where(accounts.inverse[:, None], price[work_accounts.first_row], 1.0)
            if any_inverse else None
        )
        _account_totals(
            totals, block, balance_block, requirement_block, quote, accounts,
            cut, _Shocks.per_account(shocks.lgds, shocks.exchange_code, block),
        )

    by_scenario = _by_scenario(chosen, totals, float(np.sum(balance_now * quote_now)))
    weighted = by_scenario["weighted_loss"].to_numpy()
    worst_row = int(np.nanargmax(weighted)) if np.any(~np.isnan(weighted)) else 0
    return StressResult(
        positions=book.frame[
            ["exchange", "symbol", "asset", "settle", "side", "contract", "margin_mode",
             "mark_price"]
        ].assign(account=_rows_at(accounts.table["account"], accounts.code)),
        scenarios=chosen,
        pnl=pnl,
        maintenance_margin=mm,
        accounts=accounts.table,
        account_of_position=accounts.code,
        account_balance=balance,
        account_requirement=requirement,
        by_scenario=by_scenario,
        worst=by_scenario.iloc[[worst_row]],
        asset_moves=shocks.moves,
        asset_of_position=shocks.asset_code,
    )


def _by_group(
    book: _Book, groups: list[_Group], accounts: _Accounts, asset_code: IntArray
) -> tuple[_Book, list[_Group], _Accounts, IntArray, IntArray | None]:
    """The book's per-position arrays ordered by group (each group's rows one slice), the
    groups and accounts in that order, each position's asset, and each book row's place in
    that order (None: the book's own order, one group)."""
    if len(groups) == 1:
        return book, groups, accounts, asset_code, None
    order = np.concatenate([np.arange(len(book.qty))[g.rows] for g in groups])
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    work = replace(
        book, sign=book.sign[order], qty=book.qty[order], entry=book.entry[order],
        mark=book.mark[order], rate=book.rate[order], amount=book.amount[order],
        fee=book.fee[order], inverse=book.inverse[order], fee_value=book.fee_value[order],
    )
    bounds = np.cumsum([0] + [len(np.arange(len(book.qty))[g.rows]) for g in groups])
    work_groups = [replace(g, rows=slice(int(start), int(stop)))
                   for g, start, stop in zip(groups, bounds[:-1], bounds[1:], strict=True)]
    # A shared account's members keep their order: its sums add them as before.
    work_accounts = replace(accounts, first_row=rank[accounts.first_row],
                            members=rank[accounts.members], identity=False)
    return work, work_groups, work_accounts, asset_code[order], rank


def _block_group(
    book: _Book,
    group: _Group,
    price: FloatArray,
    funding: FloatArray,
    after: FloatArray,
    flows: FloatArray | None,
    margin_out: FloatArray,
    need: FloatArray,
) -> None:
    """Fill one group's rows of a block: uPnL + funding, maintenance margin, and + fee.

    The formulas are margin's own (``pnl_of``, ``notional_of``, ``maintenance_terms``), without
    the checks of the public functions: every input was checked once in :func:`_book`, and a
    moved price is a checked mark times ``1 + move`` with each move above -1.
    """
    rows, kind = group.rows, group.kind
    s, qty, entry = book.sign[rows, None], book.qty[rows, None], book.entry[rows, None]
    moved = price[rows]
    gain = pnl_of(s, entry, moved, qty, kind)
    value = notional_of(qty, entry if group.entry_basis else moved, kind)
    if flows is not None:
        value_moved = value if not group.entry_basis else notional_of(qty, moved, kind)
        flow = -s * value_moved * funding[None, :]
        flows[rows] = flow
        gain += flow
    after[rows] = gain
    if group.table is not None:
        rate, amount = maintenance_terms(value, np.asarray(np.nan), np.asarray(0.0), group.table)
    else:
        rate, amount = book.rate[rows, None], book.amount[rows, None]
    margin = value * rate
    if np.any(amount != 0):  # (x - 0.0 is x)
        margin = margin - amount
    margin_out[rows] = margin
    if need is not margin_out:
        fixed = book.fee_value[rows, None]
        if not np.isnan(fixed).all():
            value = np.where(np.isnan(fixed), value, fixed)
        need[rows] = margin + book.fee[rows, None] * value


_TOTALS = (
    "pnl", "funding", "haircut_loss", "equity_after", "default_loss", "positions_liquidated",
    "accounts_liquidated", "positions_unknown", "shortfall",
)


def _column_sum(values: FloatArray, quote: FloatArray | None) -> FloatArray:
    """Sum over rows, converting to quote currency first when some rows are in coin."""
    result: FloatArray = np.sum(values if quote is None else values * quote, axis=0)
    return result


def _account_totals(
    totals: dict[str, FloatArray],
    block: slice,
    balance: FloatArray,
    requirement: FloatArray,
    quote: FloatArray | None,
    accounts: _Accounts,
    haircut: FloatArray | None,
    lgd: FloatArray | None,
) -> None:
    """Per-scenario sums over accounts for one block, in quote currency."""
    liquidated = requirement >= balance
    equity = np.where(liquidated, 0.0, balance)
    if quote is not None:
        equity *= quote
    totals["equity_after"][block] = np.sum(equity, axis=0)
    if lgd is not None:
        totals["default_loss"][block] = np.sum(lgd * np.maximum(equity, 0.0), axis=0)
    if haircut is not None:
        cut = accounts.wallet[:, None] * haircut
        totals["haircut_loss"][block] = _column_sum(cut, quote)
    totals["positions_liquidated"][block] = _positions_in(liquidated, accounts)
    totals["accounts_liquidated"][block] = np.count_nonzero(liquidated, axis=0)
    # The loss beyond the margin: sum of max(-balance, 0) = -sum of min(balance, 0), NaN where
    # a balance is.
    short = np.minimum(balance, 0.0)
    shortfall = -_column_sum(short, quote)
    totals["shortfall"][block] = shortfall
    # Missing market data is neither liquidated nor safe: count it so a report can say so. A
    # NaN balance makes its column's shortfall NaN, a NaN requirement its column's sum: without
    # either, nothing is unknown.
    if np.isnan(shortfall).any() or np.isnan(np.sum(requirement, axis=0)).any():
        unknown = np.isnan(balance)
        unknown |= np.isnan(requirement)
        totals["positions_unknown"][block] = _positions_in(unknown, accounts)


def _positions_in(flags: BoolArray, accounts: _Accounts) -> FloatArray:
    """Per column, the positions of the flagged accounts: one each, plus the other members
    of the flagged shared accounts."""
    count: FloatArray = np.count_nonzero(flags, axis=0).astype(float)
    if len(accounts.shared):
        count += (accounts.sizes[accounts.shared] - 1.0) @ flags[accounts.shared]
    return count


def _by_scenario(
    scenarios: tuple[Scenario, ...], totals: Mapping[str, FloatArray], equity_before: float
) -> pd.DataFrame:
    weight = np.array([s.weight for s in scenarios])
    equity_left = totals["equity_after"] - totals["default_loss"]
    loss = equity_before - equity_left
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = loss / equity_before if equity_before != 0 else np.full(len(loss), np.nan)
    frame = pd.DataFrame(
        {
            "weight": weight,
            "horizon_hours": [s.horizon_hours for s in scenarios],
            "pnl": totals["pnl"],
            "funding": totals["funding"],
            "haircut_loss": totals["haircut_loss"],
            "equity_before": equity_before,
            "equity_after": totals["equity_after"],
            "default_loss": totals["default_loss"],
            "equity_left": equity_left,
            "loss": loss,
            "weighted_loss": weight * loss,
            "loss_fraction": fraction,
            "positions_liquidated": totals["positions_liquidated"].astype(int),
            "accounts_liquidated": totals["accounts_liquidated"].astype(int),
            "positions_unknown": totals["positions_unknown"].astype(int),
            "shortfall": totals["shortfall"],
        },
        index=pd.Index([s.name for s in scenarios], name="scenario"),
    )
    return frame

