"""One call for a whole book of positions: margin, PnL and liquidation for every row.

Positions come as a DataFrame with ccxt ``Position`` column names, so an export of
``fetch_positions`` can be passed straight in. Cross-margined positions of one account (the same
exchange and settlement currency) share their wallet: each one's liquidation price accounts for
the others' maintenance margin and unrealised PnL, as Binance's cross formula does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskfuncs._arrays import FloatArray, constant_value
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import Contract, Exchange
from riskfuncs.book import BOOK_COLUMNS, Book, _renumber, account_of, as_book
from riskfuncs.liquidation import EXCHANGE_RULES, liquidation_price, rule_for_venue
from riskfuncs.margin import maintenance_margin, notional_of, pnl_of
from riskfuncs.tiers import TierMap, resolve_tier_tables

BoolArray = npt.NDArray[np.bool_]

__all__ = ["POSITION_COLUMNS", "RESULT_COLUMNS", "account_of", "portfolio_margin"]

#: Input columns and their defaults (None = required): the position columns of
#: :data:`riskfuncs.book.BOOK_COLUMNS`.
POSITION_COLUMNS: Mapping[str, Any] = {
    column.name: column.default for column in BOOK_COLUMNS if column.group == "position"}

RESULT_COLUMNS: tuple[str, ...] = (
    "account",
    "rule",
    "quantity",
    "notional",
    "initial_margin",
    "maintenance_margin",
    "unrealized_pnl",
    "margin_balance",
    "liquidation_price",
    "distance_to_liquidation",
    "margin_ratio",
    "margin_buffer",
    "leverage",
)


def _codes(*columns: Any) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Each row's combination of ``columns`` as a code (0, 1, ... in order of first appearance)
    and the first row of each code, so that work on text is done once per distinct value."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    size = 1
    for column in columns:
        if isinstance(column, pd.Series):  # its own factorize (dictionary encoding for Arrow)
            codes, uniques = column.factorize(use_na_sentinel=False)
        else:
            codes, uniques = pd.factorize(np.asarray(column, dtype=object), use_na_sentinel=False)
        if size * len(uniques) >= 2**62:  # keep the mixed-radix key inside int64
            key = pd.factorize(key)[0]
            size = int(key.max()) + 1
        key = key * len(uniques) + codes
        size *= max(len(uniques), 1)
    if len(columns) > 1:
        return _renumber(key, size)
    first = np.empty(int(key.max()) + 1 if len(key) else 0, dtype=np.intp)
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1)
    return key.astype(np.intp), first


def _cross_terms(
    book: Book, mm: FloatArray, upnl: FloatArray, fee: FloatArray | None,
) -> tuple[_Wallets, FloatArray, FloatArray]:
    """The cross accounts' sums (maintenance margin, closing fee at the mark, as OKX's "MMR +
    liquidation cost" counts every position of the account, and uPnL in the shared wallet),
    and per row the requirement liquidation is judged on (cross: the account's maintenance
    margin; isolated: the position's) and the balance (cross: the account's wallet + uPnL;
    isolated: collateral + uPnL). Only cross rows are read for the accounts' sums; the wallet
    is the first cross row's collateral (:func:`riskfuncs.book.as_book` checked that every
    cross row of the account repeats it). Each cross row's other positions' requirement and
    uPnL are worked out here too, once for all cross rows."""
    inverse, n_accounts = book.account, len(book.accounts)
    collateral = book.values("collateral")
    members = np.flatnonzero(book.cross)
    requirement = mm.copy()
    balance: FloatArray = collateral + upnl
    account = inverse.take(members)
    member_mm, member_pnl = mm.take(members), upnl.take(members)
    member_fee = None if fee is None else fee.take(members)
    # A cross member with missing data makes its whole account unknown (NaN), not zero.
    account_mm = np.bincount(account, weights=member_mm, minlength=n_accounts)
    account_fee = np.zeros(n_accounts) if member_fee is None else np.bincount(
        account, weights=member_fee, minlength=n_accounts)
    account_pnl = np.bincount(account, weights=member_pnl, minlength=n_accounts)
    first_member = np.full(n_accounts, -1, dtype=np.intp)
    first_member[account[::-1]] = members[::-1]
    wallet = np.where(first_member >= 0, collateral[first_member], np.nan)
    member_requirement = account_mm[account]
    requirement[members] = member_requirement
    balance[members] = wallet[account] + account_pnl[account]
    own_fee = 0.0 if member_fee is None else member_fee
    other_mm: FloatArray = member_requirement - member_mm + account_fee[account] - own_fee
    other_pnl: FloatArray = account_pnl[account] - member_pnl
    return _Wallets(members, other_mm, other_pnl), requirement, balance


@dataclass(frozen=True)
class _Wallets:
    """The cross rows (``members``, in the book's order) and, for each, the other positions'
    requirement and uPnL in the shared wallet."""

    members: npt.NDArray[np.intp]
    other_mm: FloatArray
    other_pnl: FloatArray

    def others(self, members: Any) -> tuple[FloatArray, FloatArray]:
        """For cross rows given by their place in ``members``: the other positions'
        requirement and uPnL."""
        return _at(self.other_mm, members), _at(self.other_pnl, members)


def _at(values: Any, rows: Any) -> Any:
    """``values[rows]`` (a view for a slice); the one value of a column the table left out (a
    broadcast default) as a float."""
    one = constant_value(values)
    if one is not None:
        return float(one)
    return values[rows] if isinstance(rows, slice) else values.take(rows)


#: Rows per block of the liquidation pass: a block's columns (1 MiB each) stay in cache while
#: its groups are gathered from them.
_BLOCK = 1 << 17


def _liquidation_groups(
    combo: Any, venues: pd.DataFrame, venue_labels: Any, cross: BoolArray,
) -> tuple[Any, list[tuple[str, str, str | None, str]]]:
    """Each row's liquidation group as a small integer, and each group's (contract, rule, tier
    label or None, margin mode): rows that share a contract type, an exchange rule, (if
    tiered) a tier table and a margin mode. Code 2g holds the isolated rows of venue group g,
    2g + 1 its cross rows."""
    contracts, rules = venues["contractType"].to_numpy(), venues["rule"].to_numpy()
    venue_group, first = _codes(contracts, rules, venue_labels)
    small = np.int8 if 2 * len(first) < 2**7 else np.int16 if 2 * len(first) < 2**15 else np.intp
    codes = (venue_group * 2).astype(small).take(combo)
    codes += cross
    kinds = [(str(contracts[venue]), str(rules[venue]), str(venue_labels[venue]) or None, mode)
             for venue in first for mode in ("isolated", "cross")]
    return codes, kinds


def _split(codes: Any, block: slice, count: int,
           members: npt.NDArray[np.intp]) -> list[tuple[int, Any, Any]]:
    """The groups of the rows of ``block``: (code, rows within the block, for a cross group
    the rows' places among the block's cross rows ``members``), in order of each group's
    first row; a group of every row of the block is the slice of them all."""
    part = codes[block]
    groups: list[tuple[int, Any, Any]] = []
    if count <= 16:  # a few groups: one pass each (a cross group's over the cross rows)
        member_codes = codes[members]
        for code in range(count):
            if code % 2:
                places = np.flatnonzero(member_codes == code)
                rows = members[places] - block.start
            else:
                places, rows = None, np.flatnonzero(part == code)
            if len(rows):
                groups.append((code, rows, places))
    else:  # a stable radix sort of the group numbers, then the runs
        order = np.argsort(part, kind="stable")
        for rows in np.split(order, np.flatnonzero(np.diff(part[order])) + 1):
            if len(rows):
                code = int(part[rows[0]])
                places = np.searchsorted(members, rows + block.start) if code % 2 else None
                groups.append((code, rows, places))
    if len(groups) == 1:
        code, _, places = groups[0]
        return [(code, slice(None), None if places is None else slice(None))]
    groups.sort(key=lambda group: int(group[1][0]))
    return groups


def _shifted(rows: Any, block: slice) -> Any:
    """Rows within ``block`` as rows of the book."""
    if isinstance(rows, slice):
        return block
    return rows + block.start if block.start else rows


def portfolio_margin(
    positions: pd.DataFrame | Book,
    *,
    tiers: TierMap | None = None,
) -> pd.DataFrame:
    """Margin, PnL and liquidation figures for every position of a book, in one call.

    Parameters
    ----------
    positions : DataFrame or Book
        One row per position, ccxt ``Position`` column names (:data:`riskfuncs.book.BOOK_COLUMNS`,
        read by :func:`riskfuncs.book.as_book`):

        - ``side`` ("long"/"short"), ``contracts`` (or ``quantity``), ``contractSize``
          (default 1; base units per contract for linear, USD per contract for inverse),
          ``entryPrice``, ``markPrice``;
        - ``collateral``: isolated margin, or for cross positions the account's wallet balance
          (repeated on each cross row of that account);
        - ``exchange`` (venue name or ccxt id; its rule set comes from :func:`rule_for_venue`,
          or from a ``rule`` column when given), ``symbol`` (ccxt, e.g. "BTC/USDT:USDT"),
          ``marginMode`` ("isolated"/"cross"), ``contractType`` ("linear"/"inverse");
        - ``maintenanceMarginRate`` and ``maintenanceAmount`` unless the symbol has tiers,
          ``leverage`` (for the initial margin), ``feeRate``, ``maxLeverage`` (Hyperliquid).
    tiers : mapping of symbol (or of ``(exchange, symbol)``) to TierLike, optional
        Leverage tiers; those rows use the tier table instead of a rate. An
        ``(exchange, symbol)`` key wins over a plain symbol key for that venue.

    Returns
    -------
    DataFrame
        Same index, columns ``RESULT_COLUMNS``: ``account``, ``rule`` (the liquidation rule
        applied), ``quantity``, ``notional`` (at
        mark), ``initial_margin`` (notional / leverage when given, else the isolated margin),
        ``maintenance_margin`` (at mark), ``unrealized_pnl``, ``margin_balance`` (isolated:
        collateral + uPnL; cross: wallet + the account's uPnL), ``liquidation_price``,
        ``distance_to_liquidation``, ``margin_ratio`` (maintenance / balance; cross: the
        account's), ``margin_buffer`` (balance / maintenance - 1), ``leverage`` (notional /
        margin balance). Amounts are in quote currency for linear rows and coin for inverse
        rows.

    Examples
    --------
    >>> book = pd.DataFrame({
    ...     "exchange": ["binance", "binance"], "symbol": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
    ...     "side": ["long", "short"], "contracts": [1.0, 10.0],
    ...     "entryPrice": [60_000.0, 3_000.0], "markPrice": [61_000.0, 3_100.0],
    ...     "collateral": [6_000.0, 3_000.0], "maintenanceMarginRate": [0.004, 0.005]})
    >>> portfolio_margin(book)[["unrealized_pnl", "liquidation_price"]].round(2)
       unrealized_pnl  liquidation_price
    0          1000.0           54216.87
    1         -1000.0            3283.58
    """
    book = as_book(positions)
    combo, venues, cross = book.venue, book.venues, book.cross
    # Per venue combination (few), then per position by its combination's number.
    tier_map, venue_labels = resolve_tier_tables(venues["exchange"], venues["symbol"], tiers)
    account_rows = _rows_of(book.accounts, book.account)
    sign = book.sign
    qty = book.quantity
    entry = book.values("entryPrice")
    mark = book.values("markPrice")
    tiered = venue_labels != ""
    rate = book.maintenance_rate(tiered[combo] if tiered.any() else np.zeros(len(book), bool))

    n = len(book)
    # The groups cover every row once: each figure is written whole (one group) or group by
    # group into an array that starts empty.
    groups = _groups(combo, venues, venue_labels)
    whole = len(groups) == 1
    value = np.empty(0) if whole else np.empty(n)
    mm = np.empty(0) if whole else np.empty(n)
    upnl = np.empty(0) if whole else np.empty(n)
    for rows, kind, exchange, symbol in groups:
        group_qty, group_mark = _at(qty, rows), _at(mark, rows)
        group_value = notional_of(group_qty, group_mark, kind)
        group_pnl = pnl_of(_at(sign, rows), _at(entry, rows), group_mark, group_qty, kind)
        with _rows_named(book, rows):
            group_mm = maintenance_margin(
                group_qty,
                group_mark,
                contract=kind,  # type: ignore[arg-type]
                **_rate_arguments(rate, book.values("maintenanceAmount"), rows, tier_map,
                                  symbol, exchange),
            )
        if whole:
            value, upnl, mm = (np.array(figure, dtype=float, copy=None)
                               for figure in (group_value, group_pnl, group_mm))
        else:
            value[rows], upnl[rows], mm[rows] = group_value, group_pnl, group_mm
    fee_rate = book.values("feeRate") if "feeRate" in book.given else None
    closing_fee = None if fee_rate is None else fee_rate * value
    wallets, requirement, balance = _cross_terms(book, mm, upnl, closing_fee)

    collateral = book.values("collateral")
    amount = book.values("maintenanceAmount")
    codes, kinds = _liquidation_groups(combo, venues, venue_labels, cross)
    members = wallets.members
    liq = np.empty(n)
    # Block by block (each block's columns stay in cache while its groups are gathered), the
    # rows of each group of the block in one call.
    for start in range(0, n, _BLOCK):
        block = slice(start, min(n, start + _BLOCK))
        block_members = slice(*np.searchsorted(members, [block.start, block.stop]).tolist())
        block_liq = liq[block]
        for code, rows, places in _split(codes, block, len(kinds), members[block_members]):
            kind, exchange, symbol, mode = kinds[code]
            # Isolated rows share nothing; cross rows share their account's wallet.
            others: tuple[Any, Any] = (0.0, 0.0)
            if mode == "cross":
                others = wallets.others(block_members if isinstance(places, slice) else
                                        places + block_members.start)
            with _rows_named(book, _shifted(rows, block)):
                block_liq[rows] = liquidation_price(
                    _at(sign[block], rows),
                    _at(entry[block], rows),
                    _at(qty[block], rows),
                    _at(collateral[block], rows),
                    exchange=cast(Exchange, exchange),
                    contract=cast(Contract, kind),
                    fee_rate=0.0 if fee_rate is None else _at(fee_rate[block], rows),
                    other_maintenance_margin=others[0],
                    other_unrealized_pnl=others[1],
                    margin_mode=mode,
                    **_rate_arguments(rate[block], amount[block], rows, tier_map, symbol,
                                      exchange),
                )

    del wallets, members, codes  # the cross rows' terms and the groups, before the results

    # Each figure written into one new array, the exceptions set in place (masked copies, no
    # temporaries of the book's size beyond masks).
    with np.errstate(divide="ignore", invalid="ignore"):
        no_balance = np.isnan(balance)
        unknown = np.isnan(requirement)
        unknown |= no_balance
        not_positive = balance > 0
        np.logical_not(not_positive, out=not_positive)
        # Each figure, then its exceptions in place where they occur: inf where nothing is left
        # (or nothing required), then NaN where the figure is unknown.
        ratio = requirement / balance
        _set_where(ratio, not_positive, unknown)
        buffer = balance / requirement
        buffer -= 1.0
        no_requirement = requirement > 0
        _set_where(buffer, np.logical_not(no_requirement, out=no_requirement), unknown)
        del no_requirement, unknown
        effective_leverage = value / balance
        no_balance |= np.isnan(value)
        _set_where(effective_leverage, not_positive, no_balance)
        del not_positive, no_balance
        initial = np.where(cross, np.nan, collateral)
        if "leverage" in book.given:
            leverage_given = book.values("leverage")
            given = ~np.isnan(leverage_given)
            initial[given] = value[given] / leverage_given[given]
        distance = np.subtract(mark, liq)
        np.multiply(sign, distance, out=distance)
        distance /= mark
    result = pd.DataFrame(
        {
            "account": account_rows,
            "rule": _rows_of(venues["rule"], combo),
            "quantity": qty,
            "notional": value,
            "initial_margin": initial,
            "maintenance_margin": mm,
            "unrealized_pnl": upnl,
            "margin_balance": balance,
            "liquidation_price": liq,
            "distance_to_liquidation": distance,
            "margin_ratio": ratio,
            "margin_buffer": buffer,
            "leverage": effective_leverage,
        },
        index=book.index,
        copy=False,  # every column is a new array of this call
    )
    return result


def _set_where(figure: FloatArray, infinite: BoolArray, unknown: BoolArray) -> None:
    """inf where ``infinite``, then NaN where ``unknown`` (each skipped where no row has it)."""
    for mask, fill in ((infinite, np.inf), (unknown, np.nan)):
        if mask.any():
            np.copyto(figure, fill, where=mask)


def _rows_of(values: Any, codes: Any) -> Any:
    """Per-position text from per-combination text: ``values[codes]``, as the text column a
    DataFrame would infer from it (without converting a million strings)."""
    return pd.Series(np.asarray(values, dtype=object)).array.take(codes)


def _groups(combo: Any, venues: pd.DataFrame,
            venue_labels: Any) -> list[tuple[Any, str, str, str | None]]:
    """Row groups of the margin and PnL pass: (rows in the book's order, contract, rule, tier
    label or None), in the order of each group's first row: rows that share a contract type
    and (if tiered) a tier table and whether the rule counts tier amounts; the rule reported
    is that of the group's first venue. One group is all rows (a slice, nothing gathered).
    """
    contracts, rules = venues["contractType"].to_numpy(), venues["rule"].to_numpy()
    amounts = [bool(label) and EXCHANGE_RULES[rule_for_venue(rule)].tier_amounts
               for rule, label in zip(rules, venue_labels, strict=True)]
    venue_group, first = _codes(contracts, venue_labels, np.asarray(amounts))
    parts: list[Any] = [slice(None)]
    if len(first) > 1:
        codes = venue_group[combo]
        if len(first) <= 16:  # a few groups: one pass each
            parts = [np.flatnonzero(codes == code) for code in range(len(first))]
        else:  # a stable radix sort of the group numbers, then the runs
            order = np.argsort(codes, kind="stable")
            parts = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
        parts.sort(key=lambda rows: int(rows[0]))
    groups = []
    for rows in parts:
        venue = first[0 if isinstance(rows, slice) else int(venue_group[combo[rows[0]]])]
        groups.append((rows, str(contracts[venue]), str(rules[venue]),
                       str(venue_labels[venue]) or None))
    return groups


#: Argument names of the per-group calls, as the positions table names its columns.
_COLUMN_OF = {"entry_price": "entryPrice", "quantity": "contracts", "collateral": "collateral",
              "maintenance_margin_rate": "maintenanceMarginRate",
              "maintenance_amount": "maintenanceAmount", "fee_rate": "feeRate",
              "max_leverage": "maxLeverage", "price": "markPrice", "side": "side"}


@contextmanager
def _rows_named(book: Book, rows: Any) -> Iterator[None]:
    """Re-raise a refusal of a per-group call with the book's row label and column name:
    the group's element ``position`` is row ``rows[position]`` of the book."""
    try:
        yield
    except RiskInputError as exc:
        if not isinstance(exc.position, int):
            raise
        where = int(np.arange(len(book))[rows][exc.position])
        column = _COLUMN_OF.get(str(exc.argument), str(exc.argument))
        raise book.row_error(column, where, exc.rule or "be valid", exc.value) from None


def _rate_arguments(
    rate: FloatArray, amount: FloatArray, rows: Any, tier_map: Mapping[str, Any],
    symbol: str | None, exchange: str = "generic",
) -> dict[str, Any]:
    if symbol is not None:
        table = tier_map[symbol]
        if not EXCHANGE_RULES[rule_for_venue(exchange)].tier_amounts:
            table = table.without_amounts()
        return {"tiers": table}
    return {"maintenance_margin_rate": _at(rate, rows), "maintenance_amount": _at(amount, rows)}
