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

Each figure is a number per position times a number per scenario: the PnL of a move with its
funding is ``s * notional at the mark`` times ``move - (1 + move) * R`` (linear, R the
cumulative funding rate) or ``(move - R) / (1 + move)`` (inverse), a notional its value at the
mark times ``1 + move`` or ``1 / (1 + move)``. So the results are written in bands of rows (all
scenarios wide, small enough to stay in the processor's cache), each array once, and the
per-scenario sums over accounts are taken from each band while it is at hand; a shared account
adds up its members' numbers per asset, not its members' figures, and sums over positions
(PnL, funding, haircut loss) are sums of those numbers. Only a maintenance margin whose tier
follows the moved notional is looked up figure by figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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
from riskfuncs.margin import maintenance_terms, notional_of, unrealized_pnl
from riskfuncs.scenarios import Scenario, scenario_set
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

#: Elements per band of work (positions or accounts x every scenario): 512 KB a float band, so
#: that a band's figures are computed from each other in the processor's cache. A band is at
#: least _MIN_WIDTH rows (fewer make the per-band overhead and the per-scenario sums slow)
#: unless that passes _MAX_BLOCK_ELEMENTS (64 MB a band).
_BLOCK_ELEMENTS = 1 << 16
_MIN_WIDTH = 16
_MAX_BLOCK_ELEMENTS = 1 << 23
#: Up to this many rows in a scenario table (assets x contract types), a band's figures are one
#: matrix product; beyond it, a gather and a product (cheaper than that many products each).
_MATMUL_KINDS = 8
_MATMUL_SIZE = 1 << 18  # rows x scenarios x kinds: OpenBLAS computes up to 2**18 on one thread
#: Tiered positions of shared accounts added to their accounts' requirements at a time.
_SUM_ROWS = 1 << 12


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
    tier_code: IntArray  # the tier table of each position: its symbol in ``tier_words``
    tier_words: list[str]  # ("" for none)
    fee_value: FloatArray  # fixed notional the closing fee is charged on (NaN: moved notional)
    venue_account: IntArray  # the account key cross positions share (``venue_keys``)
    venue_keys: list[str]


def _taken(words: Sequence[str] | npt.NDArray[Any], codes: IntArray, index: pd.Index) -> pd.Series:
    """``words[codes]`` as a text column with ``index``."""
    return pd.Series(_taken_array(words, codes), index=index)


def _taken_array(words: Sequence[str] | npt.NDArray[Any], codes: IntArray) -> Any:
    """``words[codes]`` as pandas' text array."""
    return pd.Series(np.asarray(words, dtype=object)).array.take(codes)


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
    bases, settles = venues["base"].tolist(), venues["settle"].tolist()
    wrong = [not base or (kind == "inverse" and settle != base) for base, settle, kind in
             zip(bases, settles, venues["contractType"].tolist(), strict=True)]
    if any(wrong):
        venue = wrong.index(True)
        row, symbol = int(positions.venue_row[venue]), venues["symbol"].iloc[venue]
        if not bases[venue]:
            raise positions.row_error(
                "symbol", row, "name a market such as BTC/USDT:USDT, BTCUSDT or "
                "BTC-USDT-SWAP", symbol)
        raise positions.row_error(
            "symbol", row, "settle in its base coin for an inverse contract", symbol)
    index = positions.index
    code = positions.venue
    columns: dict[str, Any] = {
        column: _taken_array(venues[source].to_numpy(dtype=object), code)
        for column, source in (("exchange", "exchange"), ("symbol", "symbol"),
                               ("asset", "base"), ("settle", "settle"),
                               ("contract", "contractType"))}
    cross = positions.cross
    columns["margin_mode"] = _taken_array(["isolated", "cross"], cross.astype(np.intp))
    currency = pd.Series(_taken_array(positions.collateral_currency[1],
                                      positions.collateral_currency[0]))
    columns["collateral_currency"] = currency.where(
        currency != "", pd.Series(columns["settle"])).array

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
    tier_of_venue, tier_words = pd.factorize(np.asarray(venue_labels, dtype=object))
    has_tiers = (np.asarray(venue_labels) != "")[code]
    # Hyperliquid: maintenance margin is half the initial margin at maximum leverage.
    rate = positions.maintenance_rate(has_tiers)
    require_rate("maintenanceMarginRate", np.where(has_tiers, 0.0, rate))
    columns["side"] = sign
    columns["mark_price"] = numbers["markPrice"]
    frame = pd.DataFrame(columns, index=index)
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
        tier_code=tier_of_venue.astype(np.intp)[code],
        tier_words=[str(word) for word in tier_words],
        fee_value=fee_value,
        venue_account=positions.account,
        venue_keys=list(positions.accounts),
    )
    return book, tier_map


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
    """The positions by contract type, maintenance basis, tier table and use of amounts, in
    order of first appearance (one group: every row, as a slice)."""
    key = ((book.tier_code * 2 + book.inverse) * 2 + book.entry_basis) * 2 + book.whole_position
    codes, _ = pd.factorize(key)
    count = int(codes.max()) + 1
    if count == 1:
        members: list[Any] = [slice(None)]
    elif count <= 8:
        members = [np.flatnonzero(codes == g) for g in range(count)]
    else:
        order = np.argsort(codes, kind="stable")
        members = np.split(order, np.cumsum(np.bincount(codes, minlength=count))[:-1])
    groups = []
    for rows in members:
        first = 0 if isinstance(rows, slice) else int(rows[0])
        table = tier_map.get(book.tier_words[book.tier_code[first]])
        if table is not None and book.whole_position[first]:
            table = table.without_amounts()
        kind = "inverse" if book.inverse[first] else "linear"
        groups.append(_Group(rows, kind, bool(book.entry_basis[first]), table))
    return groups


def _sum_by_account(values: FloatArray, accounts: _Accounts) -> FloatArray:
    """Sum per-position values into accounts: a position of its own is taken as it is, the
    members of a shared account are added up in row order."""
    if accounts.identity:
        return values
    result: FloatArray = values[accounts.first_row]
    if len(accounts.shared):
        result[accounts.shared] = np.add.reduceat(values[accounts.members], accounts.starts)
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

    See Also
    --------
    riskfuncs.accounts.account_stress : the same scenarios on a unified or multi-asset
        account (Bybit UTA, Binance Multi-Assets and Portfolio Margin, OKX multi-currency,
        Hyperliquid, dYdX), where every asset and collateral coin moves at once and
        liquidation is the account ratio reaching its trigger.

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
    chosen = scenario_set(scenarios)
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
    balance_now = _sum_by_account(upnl_now, accounts) + accounts.wallet
    quote_now = np.where(accounts.inverse, book.mark[accounts.first_row], 1.0)

    forms = _forms(book, groups, shocks)
    # Bands of positions (or accounts), every scenario wide: small enough to stay in the
    # processor's cache while a band's figures are computed from each other.
    band = max(1, min(max(_MIN_WIDTH, _BLOCK_ELEMENTS // m), _MAX_BLOCK_ELEMENTS // m))
    pnl = np.empty((n, m))
    mm = np.empty((n, m))
    _fill_positions(forms, pnl, mm, band)
    _fill_tiered(book, groups, shocks, mm, band)

    has_fee = bool(np.any(book.fee > 0))
    balance = np.empty((len(accounts.sizes), m))
    requirement = mm if accounts.identity and not has_fee else np.empty_like(balance)
    totals = _book_totals(book, accounts, forms, shocks)
    _fill_accounts(_account_forms(book, accounts, forms, upnl_now, balance_now), accounts,
                   forms, shocks, book.mark, balance, requirement, mm, totals, band)

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


@dataclass(frozen=True)
class _Forms:
    """Every figure of a position as ``coefficient * row of a scenario table + constant``.

    The PnL of a move plus the funding received is ``s * notional at the mark`` times a row of
    ``gain``: ``move - (1 + move) * R`` (linear) or ``(move - R) / (1 + move)`` (inverse), R the
    cumulative funding rate. A notional is its value at the mark times a row of ``value``:
    ``1 + move`` (linear) or ``1 / (1 + move)`` (inverse), or the row of ones for a value fixed
    at entry; so are the maintenance margin (``value * rate - amount``) and the requirement
    (plus the closing fee). Rows of the tables are per asset and contract type.
    """

    gain: FloatArray  # kinds x scenarios
    value: FloatArray  # kinds (and ones) x scenarios
    pnl_type: IntArray  # row of ``gain``, per position
    pnl_coef: FloatArray
    mm_type: IntArray  # row of ``value``, per position
    mm_coef: FloatArray
    amount: FloatArray | None  # subtracted from the maintenance margin (None: all 0)
    need_coef: FloatArray  # requirement: maintenance margin plus closing fee (tiered: fee only)
    need_const: FloatArray
    tiered: BoolArray  # maintenance margin from the tier of the moved notional
    fund_weight: FloatArray  # funding paid per unit of R (quote currency at the moved price)


def _kind_rows(kinds: IntArray, linear: FloatArray, inverse: FloatArray) -> FloatArray:
    """Rows of a table for each kind ``2 * asset + inverse``."""
    asset, coin = kinds // 2, kinds % 2 == 1
    rows: FloatArray = np.where(coin[:, None], inverse[asset], linear[asset])
    return rows


def _forms(book: _Book, groups: list[_Group], shocks: _Shocks) -> _Forms:
    n = len(book.qty)
    factor = 1.0 + shocks.moves  # per asset and scenario: P' = MP * (1 + move)
    rate = shocks.funding
    with np.errstate(divide="ignore", invalid="ignore"):
        at_mark = np.where(book.inverse, book.qty / book.mark, book.qty * book.mark)
        at_entry = np.where(book.inverse, book.qty / book.entry, book.qty * book.entry)
        kind = (2 * shocks.asset_code + book.inverse).astype(np.intp)
        kinds, pnl_type = np.unique(kind, return_inverse=True)
        gain = _kind_rows(kinds, shocks.moves - factor * rate, (shocks.moves - rate) / factor)
        # PnL: s*Q*(P' - MP) - s*Q*P'*R, or s*N*(1/MP - 1/P') - s*(N/P')*R; it is unknown
        # without an entry price, as the formulas with the entry price are.
        pnl_coef = book.sign * at_mark
        pnl_coef[np.isnan(book.entry)] = np.nan
        fund_weight = book.sign * np.where(book.inverse, at_mark * book.mark, at_mark)

        rate_of = book.rate.copy()
        amount = book.amount.copy()
        tiered = np.zeros(n, dtype=bool)
        for group in groups:
            if group.table is None:
                continue
            if group.entry_basis:  # one tier per position, whatever the move
                terms = maintenance_terms(at_entry[group.rows], np.asarray(np.nan),
                                          np.asarray(0.0), group.table)
                rate_of[group.rows], amount[group.rows] = terms
            else:
                tiered[group.rows] = True
        basis = np.where(book.entry_basis, at_entry, at_mark)
        mm_coef = basis * rate_of
        mm_kinds, mm_type = np.unique(np.where(book.entry_basis, -1, kind), return_inverse=True)
        value = np.ones((len(mm_kinds), len(rate)))
        moved = mm_kinds >= 0
        value[moved] = _kind_rows(mm_kinds[moved], factor, 1.0 / factor)
        # The closing fee: on the value the margin is taken on, or on a fixed value (Bybit's
        # bankruptcy value of an isolated position).
        fixed = ~np.isnan(book.fee_value)
        fee_value = np.where(fixed, book.fee * book.fee_value, 0.0)
        need_coef = np.where(fixed, mm_coef, mm_coef + book.fee * basis)
        need_const = fee_value - amount
        # Tiered rows: their margin is computed apart; here only the fee.
        mm_coef[tiered] = 0.0
        amount[tiered] = 0.0
        need_coef[tiered] = np.where(fixed, 0.0, book.fee * basis)[tiered]
        need_const[tiered] = fee_value[tiered]
    return _Forms(
        gain=gain, value=value, pnl_type=pnl_type.astype(np.intp), pnl_coef=pnl_coef,
        mm_type=mm_type.astype(np.intp), mm_coef=mm_coef,
        amount=amount if np.any(amount != 0) else None, need_coef=need_coef,
        need_const=need_const, tiered=tiered, fund_weight=fund_weight,
    )


def _rank_one(out: FloatArray, table: FloatArray, types: IntArray, coef: FloatArray) -> None:
    """``out = coef * table[types]``, row by row, written in place.

    With a few rows in the table this is a matrix product of the coefficients, spread over
    one column per row of the table (zero elsewhere), with the table: each figure is a single
    product plus exact zeros, the same number as ``coef * table[types]`` (the table holds only
    finite numbers), written once instead of gathered and then scaled. The products are kept
    small enough for BLAS to compute each on one thread (a second thread on a busy machine
    costs more than it gives).
    """
    kinds, m = table.shape
    step = _MATMUL_SIZE // (kinds * m)
    if kinds == 1:
        np.multiply(coef[:, None], table[0], out=out)
    elif kinds <= _MATMUL_KINDS and step > 0:
        spread = np.zeros((len(types), kinds))
        spread[np.arange(len(types)), types] = coef
        for start in range(0, len(types), step):
            np.matmul(spread[start:start + step], table, out=out[start:start + step])
    else:
        np.take(table, types, axis=0, out=out)
        out *= coef[:, None]


def _fill_positions(forms: _Forms, pnl: FloatArray, mm: FloatArray, rows: int) -> None:
    """PnL and maintenance margin of every position, a band of rows at a time."""
    n = len(pnl)
    for start in range(0, n, rows):
        band = slice(start, min(n, start + rows))
        _rank_one(pnl[band], forms.gain, forms.pnl_type[band], forms.pnl_coef[band])
        _rank_one(mm[band], forms.value, forms.mm_type[band], forms.mm_coef[band])
        if forms.amount is not None:
            mm[band] -= forms.amount[band, None]


def _fill_tiered(book: _Book, groups: list[_Group], shocks: _Shocks, mm: FloatArray,
                 rows: int) -> None:
    """Maintenance margin of the positions whose tier follows the moved notional: the tier is
    looked up for every position and scenario."""
    factor = 1.0 + shocks.moves
    everyone = np.arange(len(mm))
    for group in groups:
        if group.table is None or group.entry_basis:
            continue
        members = everyone[group.rows]
        for start in range(0, len(members), rows):
            part = members[start:start + rows]
            price = np.take(factor, shocks.asset_code[part], axis=0)
            price *= book.mark[part, None]
            value = notional_of(book.qty[part, None], price, group.kind)
            rate, amount = maintenance_terms(value, np.asarray(np.nan), np.asarray(0.0),
                                             group.table)
            margin = value * rate
            if np.any(amount != 0):  # (x - 0.0 is x)
                margin = margin - amount
            mm[part] = margin


@dataclass(frozen=True)
class _AccountForms:
    """Balance and requirement of every account in the forms of :class:`_Forms`.

    An account of one position takes its position's coefficients; a shared account sums its
    members' coefficients per row of the table (``pairs``: account, row, summed coefficient,
    in account order), so its figures cost one row per asset it holds, not one per position.
    Positions whose margin follows tiers add their margin rows to their account's requirement.
    """

    pnl_type: IntArray
    pnl_coef: FloatArray
    constant: FloatArray  # balance at no move: wallet + uPnL at the mark
    need_type: IntArray
    need_coef: FloatArray
    need_const: FloatArray | None
    gain_pairs: tuple[IntArray, IntArray, FloatArray]
    need_pairs: tuple[IntArray, IntArray, FloatArray]
    tiered: tuple[IntArray, IntArray]  # (account, position) in account order
    unsure: BoolArray  # accounts whose figures may be NaN (missing or infinite inputs)


def _pairs(account: IntArray, types: IntArray, coef: FloatArray, count: int
           ) -> tuple[IntArray, IntArray, FloatArray]:
    """Per account and row of a table (sorted by account), the sum of the members'
    coefficients."""
    key, where = np.unique(account * count + types, return_inverse=True)
    summed: FloatArray = np.bincount(where.ravel(), weights=coef, minlength=len(key)).astype(float)
    return (key // count).astype(np.intp), (key % count).astype(np.intp), summed


def _account_forms(book: _Book, accounts: _Accounts, forms: _Forms, upnl_now: FloatArray,
                   balance_now: FloatArray) -> _AccountForms:
    first = accounts.first_row
    alone = accounts.sizes == 1
    members = accounts.members
    owner = accounts.code[members]
    need_const = np.where(alone, forms.need_const[first], 0.0)
    if len(accounts.shared):
        np.add.at(need_const, owner, forms.need_const[members])
    tiered = forms.tiered[members]
    by_tiers = np.flatnonzero(forms.tiered[first] & alone)
    tiered_rows = (np.concatenate([by_tiers, owner[tiered]]),
                   np.concatenate([first[by_tiers], members[tiered]]))
    order = np.argsort(tiered_rows[0], kind="stable")
    bad = ~(np.isfinite(forms.pnl_coef) & np.isfinite(forms.need_coef)
            & np.isfinite(forms.need_const) & np.isfinite(upnl_now))
    bad |= forms.tiered & ~np.isfinite(book.qty * book.mark)
    unsure = np.bincount(accounts.code, weights=bad.astype(float), minlength=len(alone)) > 0
    unsure |= ~np.isfinite(accounts.wallet)
    return _AccountForms(
        pnl_type=np.where(alone, forms.pnl_type[first], 0),
        pnl_coef=np.where(alone, forms.pnl_coef[first], 0.0),
        constant=balance_now,
        need_type=np.where(alone, forms.mm_type[first], 0),
        need_coef=np.where(alone, forms.need_coef[first], 0.0),
        need_const=need_const if np.any(need_const != 0) else None,
        gain_pairs=_pairs(owner, forms.pnl_type[members], forms.pnl_coef[members],
                          len(forms.gain)),
        need_pairs=_pairs(owner, forms.mm_type[members], forms.need_coef[members],
                          len(forms.value)),
        tiered=(tiered_rows[0][order], tiered_rows[1][order]),
        unsure=unsure,
    )


def _shared_rows(pairs: tuple[IntArray, IntArray, FloatArray], table: FloatArray,
                 first: int, stop: int) -> tuple[IntArray, FloatArray] | None:
    """Accounts in ``[first, stop)`` with pairs, and the sum of their pairs' rows."""
    account, types, coef = pairs
    low, high = np.searchsorted(account, [first, stop])
    if low == high:
        return None
    rows = np.take(table, types[low:high], axis=0)
    rows *= coef[low:high, None]
    owners = account[low:high]
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    return owners[starts], np.add.reduceat(rows, starts, axis=0)


_TOTALS = (
    "pnl", "funding", "haircut_loss", "equity_after", "default_loss", "positions_liquidated",
    "accounts_liquidated", "positions_unknown", "shortfall",
)


def _book_totals(book: _Book, accounts: _Accounts, forms: _Forms,
                 shocks: _Shocks) -> dict[str, FloatArray]:
    """The per-scenario totals that are sums of rank-one figures (PnL, funding, haircut loss),
    from sums of coefficients per row of the tables; the others start at zero."""
    m = len(shocks.funding)
    totals = {name: np.zeros(m) for name in _TOTALS}
    factor = 1.0 + shocks.moves
    kind = 2 * shocks.asset_code + book.inverse
    kinds = np.unique(kind)
    asset, coin = kinds // 2, kinds % 2 == 1
    # Coin amounts of inverse rows count at the coin's moved price, MP * (1 + move).
    quote = np.where(coin[:, None], factor[asset], 1.0)
    weight = np.where(book.inverse, forms.pnl_coef * book.mark, forms.pnl_coef)
    summed = np.bincount(forms.pnl_type, weights=weight, minlength=len(kinds))
    totals["pnl"] = np.sum(summed[:, None] * (forms.gain * quote), axis=0)
    rate = shocks.funding
    if np.any(rate != 0):
        paid = np.bincount(forms.pnl_type, weights=forms.fund_weight, minlength=len(kinds))
        moved = np.where(coin[:, None], 1.0, factor[asset])
        totals["funding"] = -np.sum(paid[:, None] * moved, axis=0) * rate
    if np.any(shocks.haircuts != 0):
        first = accounts.first_row
        coin_account = accounts.inverse
        weight = np.where(coin_account, accounts.wallet * book.mark[first], accounts.wallet)
        # One row per currency and quote (par, or the moved price of an asset).
        per = np.where(coin_account, shocks.asset_code[first] + 1, 0)
        key, where = np.unique(shocks.currency_code * (len(factor) + 1) + per,
                               return_inverse=True)
        held = np.bincount(where.ravel(), weights=weight, minlength=len(key))
        currency, price = key // (len(factor) + 1), key % (len(factor) + 1)
        at = np.where(price[:, None] > 0, factor[np.maximum(price - 1, 0)], 1.0)
        totals["haircut_loss"] = np.sum(held[:, None] * shocks.haircuts[currency] * at, axis=0)
    return totals


def _fill_accounts(
    forms: _AccountForms,
    accounts: _Accounts,
    positions: _Forms,
    shocks: _Shocks,
    mark: FloatArray,
    balance: FloatArray,
    requirement: FloatArray,
    mm: FloatArray,
    totals: dict[str, FloatArray],
    rows: int,
) -> None:
    """Balance and requirement of every account, a band of accounts at a time, and the
    per-scenario sums over accounts taken from each band while it is at hand."""
    count, m = balance.shape
    own = requirement is mm  # every account one position, no fee: the requirement is its margin
    haircuts = shocks.haircuts if np.any(shocks.haircuts != 0) else None
    lgds = shocks.lgds if np.any(shocks.lgds != 0) else None
    factor = 1.0 + shocks.moves
    first_row = accounts.first_row
    extra = accounts.sizes - 1.0
    scratch = np.empty((min(rows, count), m))
    zeros = np.zeros_like(scratch)  # (a minimum with an array of zeros is the fast one)
    for start in range(0, count, rows):
        stop = min(count, start + rows)
        band = slice(start, stop)
        money, need = balance[band], requirement[band]
        _rank_one(money, positions.gain, forms.pnl_type[band], forms.pnl_coef[band])
        money += forms.constant[band, None]
        if not own:
            _rank_one(need, positions.value, forms.need_type[band], forms.need_coef[band])
        shared = _shared_rows(forms.gain_pairs, positions.gain, start, stop)
        if shared is not None:
            money[shared[0] - start] = shared[1] + forms.constant[shared[0], None]
        if not own:
            summed = _shared_rows(forms.need_pairs, positions.value, start, stop)
            if summed is not None:
                need[summed[0] - start] = summed[1]
            if forms.need_const is not None:
                need += forms.need_const[band, None]
            _add_tiered(need, forms.tiered, mm, start, stop)
        if haircuts is not None:
            cut = np.take(haircuts, shocks.currency_code[band], axis=0)
            cut *= accounts.wallet[band, None]
            money -= cut
        # Sums over the band's accounts, in quote currency.
        coin = np.flatnonzero(accounts.inverse[band])
        quote = None
        if len(coin):
            quote = np.take(factor, shocks.asset_code[first_row[start + coin]], axis=0)
            quote *= mark[first_row[start + coin], None]
        lost = None if lgds is None else np.take(lgds, shocks.exchange_code[band], axis=0)
        local = None if shared is None else shared[0] - start
        sums = None
        if not forms.unsure[band].any():
            sums = _known_sums(money, need, scratch[:stop - start], zeros[:stop - start], coin,
                               quote, lost, extra, start, local)
        if sums is None:
            sums = _band_sums(money, need, scratch[:stop - start], zeros[:stop - start], coin,
                              quote, lost, extra, start, local)
        for name, values in sums.items():
            totals[name] += values


def _add_tiered(need: FloatArray, tiered: tuple[IntArray, IntArray], mm: FloatArray,
                start: int, stop: int) -> None:
    """Add to the requirements of accounts ``[start, stop)`` the margins from tiers of their
    positions, in row order, at most _SUM_ROWS rows at a time (counted from the first tiered
    position, so an account's sum does not depend on the band it falls in)."""
    owner, row = tiered
    low, high = np.searchsorted(owner, [start, stop])
    while low < high:
        end = min(high, (low // _SUM_ROWS + 1) * _SUM_ROWS)
        owners = owner[low:end]
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        need[owners[starts] - start] += np.add.reduceat(
            np.take(mm, row[low:end], axis=0), starts, axis=0)
        low = end


def _known_sums(money: FloatArray, need: FloatArray, work: FloatArray, zeros: FloatArray,
                coin: IntArray, quote: FloatArray | None, lost: FloatArray | None,
                extra: FloatArray, start: int, shared: IntArray | None
                ) -> dict[str, FloatArray] | None:
    """The per-scenario sums of a band whose balances and requirements are all numbers: the
    accounts that survive as 1.0 and 0.0, their equity as balance times that (None if a sum
    turns out not to be a number after all)."""
    alive = np.less(need, money, out=work)  # not liquidated: requirement below the balance
    liquidated = len(money) - np.sum(alive, axis=0)
    positions = liquidated.copy()
    if shared is not None:
        # (numpy's own loop: BLAS would hand a vector-matrix product of this size to threads)
        positions += np.einsum("a,as->s", extra[start + shared], 1.0 - alive[shared])
    equity = np.multiply(alive, money, out=work)
    if quote is not None:
        equity[coin] *= quote
    sums = {"equity_after": np.sum(equity, axis=0), "accounts_liquidated": liquidated,
            "positions_liquidated": positions}
    if np.isnan(sums["equity_after"]).any():
        return None
    _loss_sums(sums, money, work, zeros, coin, quote, lost)
    return sums


def _loss_sums(sums: dict[str, FloatArray], money: FloatArray, work: FloatArray,
               zeros: FloatArray, coin: IntArray, quote: FloatArray | None,
               lost: FloatArray | None) -> None:
    """Add the band's default loss (``lost`` x the equity left, which ``work`` holds) and
    shortfall to ``sums``; ``work`` is overwritten."""
    if lost is not None:
        lost *= np.maximum(work, zeros, out=work)
        sums["default_loss"] = np.sum(lost, axis=0)
    # The loss beyond the margin: sum of max(-balance, 0) = -sum of min(balance, 0).
    short = np.minimum(money, zeros, out=work)
    if quote is not None:
        short[coin] *= quote
    sums["shortfall"] = -np.sum(short, axis=0)


def _band_sums(money: FloatArray, need: FloatArray, work: FloatArray, zeros: FloatArray,
               coin: IntArray, quote: FloatArray | None, lost: FloatArray | None,
               extra: FloatArray, start: int, shared: IntArray | None) -> dict[str, FloatArray]:
    """The per-scenario sums of a band, missing data included: a NaN balance or requirement
    is neither liquidated nor safe, and is counted as unknown."""
    liquidated = np.greater_equal(need, money)
    equity = work
    np.copyto(equity, money)
    equity[liquidated] = 0.0
    if quote is not None:
        equity[coin] *= quote
    sums = {"equity_after": np.sum(equity, axis=0),
            "accounts_liquidated": np.count_nonzero(liquidated, axis=0).astype(float),
            "positions_liquidated": _positions_in(liquidated, extra, start, shared)}
    _loss_sums(sums, money, work, zeros, coin, quote, lost)
    unknown = np.isnan(money)
    unknown |= np.isnan(need)
    sums["positions_unknown"] = _positions_in(unknown, extra, start, shared)
    return sums


def _positions_in(flags: BoolArray, extra: FloatArray, start: int,
                  shared: IntArray | None) -> FloatArray:
    """Per column, the positions of the flagged accounts of a band: one each, plus the other
    members of the flagged shared accounts."""
    count: FloatArray = np.count_nonzero(flags, axis=0).astype(float)
    if shared is not None:
        count += np.einsum("a,as->s", extra[start + shared], flags[shared].astype(float))
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

