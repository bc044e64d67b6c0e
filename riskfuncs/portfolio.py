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

from riskfuncs._arrays import FloatArray, choose, format_value, side_sign
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import Contract, Exchange
from riskfuncs.liquidation import EXCHANGE_RULES, EXCHANGES, liquidation_price, rule_for_venue
from riskfuncs.margin import CONTRACTS, maintenance_margin, notional_of, pnl_of
from riskfuncs.tiers import TierMap, resolve_tier_tables

BoolArray = npt.NDArray[np.bool_]

#: pandas copies a column on write (always from pandas 3): a shallow copy of a book is safe.
_COPY_ON_WRITE = int(pd.__version__.split(".", 1)[0]) >= 3

__all__ = ["POSITION_COLUMNS", "RESULT_COLUMNS", "account_of", "portfolio_margin"]

#: Input columns and their defaults (None = required).
POSITION_COLUMNS: Mapping[str, Any] = {
    "exchange": "generic",
    "symbol": "",
    "side": None,
    "contracts": None,
    "contractSize": 1.0,
    "entryPrice": None,
    "markPrice": None,
    "collateral": None,
    "marginMode": "isolated",
    "contractType": "linear",
    "maintenanceMarginRate": np.nan,
    "maintenanceAmount": 0.0,
    "leverage": np.nan,
    "feeRate": 0.0,
    "maxLeverage": np.nan,
}

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


def account_of(exchange: str, symbol: str, contract: str) -> str:
    """Account key ``exchange:settle``: the wallet cross positions share.

    The settlement currency comes from a ccxt symbol (``BTC/USDT:USDT`` settles in USDT,
    ``BTC/USD:BTC`` in BTC); without one, linear contracts settle in the quote and inverse ones
    in the base currency.
    """
    symbol = str(symbol)
    if ":" in symbol:
        settle = symbol.split(":", 1)[1].split("-", 1)[0]
    elif "/" in symbol:
        base, quote = symbol.split("/", 1)
        settle = quote if contract == "linear" else base
    else:
        settle = "quote" if contract == "linear" else symbol or "coin"
    return f"{exchange}:{settle.upper()}"


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


def _renumber(key: npt.NDArray[np.int64], size: int) -> tuple[
        npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """``key`` (integers below ``size``) numbered 0, 1, ... in order of first appearance, as
    ``pd.factorize`` numbers them, and the first row of each number."""
    n = len(key)
    if size > 4 * n + 1024:  # sparse keys: hash them
        codes = pd.factorize(key)[0].astype(np.intp)
        first = np.empty(int(codes.max()) + 1 if n else 0, dtype=np.intp)
        first[codes[::-1]] = np.arange(n - 1, -1, -1)
        return codes, first
    first_row = np.full(size, n, dtype=np.intp)
    first_row[key[::-1]] = np.arange(n - 1, -1, -1)
    present = np.flatnonzero(first_row < n)
    order = present[np.argsort(first_row[present], kind="stable")]
    number = np.empty(size, dtype=np.intp)
    number[order] = np.arange(len(order))
    return number[key], first_row[order]


def _refuse_unknown(
    frame: pd.DataFrame, column: str, values: pd.Series, codes: Any, allowed: tuple[str, ...]
) -> None:
    """Refuse the first row whose (distinct) value is not allowed, naming the row."""
    unknown = ~values.isin(allowed).to_numpy()
    if unknown.any():
        position = int(np.argmax(unknown[codes]))
        choose(f"{column} (row {frame.index[position]})", values.iloc[codes[position]], allowed)


def _venue_accounts(venues: pd.DataFrame) -> list[str]:
    """The account key of each venue combination (as :func:`_normalise` returns them)."""
    return [account_of(e, s, c) for e, s, c in zip(
        venues["exchange"], venues["symbol"], venues["contractType"], strict=True)]


def _normalise(positions: pd.DataFrame) -> tuple[pd.DataFrame, Any, pd.DataFrame, BoolArray]:
    """The book with defaults filled and numbers as floats; its venue combinations (exchange,
    symbol, contract type and rule, lower-cased where they are words): one row each in the
    returned table, with each position's row number in it; and where positions are cross.
    Text is read once per distinct value, never per row, and not written back to the book.
    """
    if not isinstance(positions, pd.DataFrame):
        raise RiskInputError(f"positions must be a DataFrame (got {type(positions).__name__})")
    # Columns are replaced, never written into: a shallow copy leaves the book alone where
    # pandas copies on write.
    frame = positions.copy(deep=not _COPY_ON_WRITE)
    if "contracts" not in frame and "quantity" in frame:
        frame["contracts"] = frame["quantity"]
    # A default is not written out per row: text is held once per venue, numbers are read
    # through _values.
    for column, default in POSITION_COLUMNS.items():
        if column not in frame and default is None:
            raise RiskInputError(f"positions must have a {column} column")
    text = [c for c in ("exchange", "symbol", "contractType", "rule") if c in frame]
    if text:
        combo, first = _codes(*(frame[c] for c in text))
        venues = frame[text].iloc[first].reset_index(drop=True)
    else:
        combo, first = np.zeros(len(frame), dtype=np.intp), np.zeros(min(len(frame), 1),
                                                                        dtype=np.intp)
        venues = pd.DataFrame(index=range(len(first)))
    for column in ("exchange", "symbol", "contractType"):
        if column not in venues:
            venues[column] = pd.Series(POSITION_COLUMNS[column], index=venues.index,
                                       dtype=object)
    venues = venues[[c for c in ("exchange", "symbol", "contractType", "rule") if c in venues]]
    for column in ("exchange", "contractType"):
        venues[column] = venues[column].fillna(POSITION_COLUMNS[column]).astype(str).str.lower()
    venues["symbol"] = venues["symbol"].fillna("").astype(str)
    venue_rule = venues["exchange"].map(rule_for_venue)
    if "rule" in venues:
        venues["rule"] = venues["rule"].fillna("").astype(str).str.lower()
        venues["rule"] = venues["rule"].where(venues["rule"] != "", venue_rule)
    else:
        venues["rule"] = venue_rule
    if "marginMode" in frame:
        modes, mode_first = _codes(frame["marginMode"])
        mode_words = frame["marginMode"].iloc[mode_first].fillna("isolated").astype(
            str).str.lower()
    else:
        modes, mode_words = np.zeros(len(frame), dtype=np.intp), pd.Series(["isolated"])
    cross = (mode_words == "cross").to_numpy()[modes]
    _refuse_unknown(frame, "rule", venues["rule"], combo, EXCHANGES)
    _refuse_unknown(frame, "marginMode", mode_words, modes, ("isolated", "cross"))
    _refuse_unknown(frame, "contractType", venues["contractType"], combo, CONTRACTS)
    for column in (
        "contracts",
        "contractSize",
        "entryPrice",
        "markPrice",
        "collateral",
        "maintenanceMarginRate",
        "maintenanceAmount",
        "leverage",
        "feeRate",
        "maxLeverage",
    ):
        if column not in frame or frame[column].dtype == np.float64:
            continue
        try:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
        except (TypeError, ValueError):
            raise RiskInputError(f"positions column {column} must hold numbers") from None
    for column, default in (("contractSize", 1.0), ("maintenanceAmount", 0.0),
                            ("feeRate", 0.0)):
        if column in frame and frame[column].isna().any():
            frame[column] = frame[column].fillna(default)
    return frame, combo, venues, cross


def _values(frame: pd.DataFrame, column: str) -> FloatArray:
    """A numeric column of the normalised book, or its default in every row (a read-only view
    of one number) when the book leaves it out."""
    if column in frame:
        values: FloatArray = frame[column].to_numpy()
        return values
    return np.broadcast_to(np.float64(POSITION_COLUMNS[column]), (len(frame),))


def _cross_terms(
    frame: pd.DataFrame, mm: FloatArray, upnl: FloatArray, cross: BoolArray,
    fee: FloatArray | None, accounts: tuple[Any, Any],
) -> tuple[_Wallets, FloatArray, FloatArray]:
    """The cross accounts' sums (maintenance margin, closing fee at the mark, as OKX's "MMR +
    liquidation cost" counts every position of the account, and uPnL in the shared wallet),
    and per row the requirement liquidation is judged on (cross: the account's maintenance
    margin; isolated: the position's) and the balance (cross: the account's wallet + uPnL;
    isolated: collateral + uPnL). ``accounts``: each row's account number and the account
    keys. Only cross rows are read for the accounts' sums."""
    inverse, keys = accounts
    collateral = _values(frame, "collateral")
    members = np.flatnonzero(cross)
    requirement = mm.copy()
    balance: FloatArray = collateral + upnl
    account = inverse[members]
    member_fee = None if fee is None else fee[members]
    # A cross member with missing data makes its whole account unknown (NaN), not zero.
    account_mm = np.bincount(account, weights=mm[members], minlength=len(keys))
    account_fee = np.zeros(len(keys)) if member_fee is None else np.bincount(
        account, weights=member_fee, minlength=len(keys))
    account_pnl = np.bincount(account, weights=upnl[members], minlength=len(keys))
    # The wallet is the first cross member's collateral; every member must repeat it.
    first_member = np.full(len(keys), -1, dtype=np.intp)
    first_member[account[::-1]] = members[::-1]
    wallet = np.where(first_member >= 0, collateral[first_member], np.nan)
    same = np.isclose(collateral[members], wallet[account], rtol=1e-12, equal_nan=True)
    if not same.all():
        differing = np.unique(account[~same])
        key_index = differing[np.argmin(keys[differing].astype(str))]  # first in key order
        rows = frame.index[cross & (inverse == key_index)][:2].tolist()
        raise RiskInputError(
            f"collateral of cross positions on {keys[key_index]} must be the one wallet "
            f"balance (rows {rows[0]} and {rows[1]} differ)"
        )
    requirement[members] = account_mm[account]
    balance[members] = wallet[account] + account_pnl[account]
    sums = (np.asarray(total, dtype=float) for total in (account_mm, account_fee, account_pnl))
    return _Wallets(inverse, *sums), requirement, balance


@dataclass(frozen=True)
class _Wallets:
    """Sums per cross account, and each row's account number."""

    account: npt.NDArray[np.intp]
    mm: FloatArray
    fee: FloatArray
    pnl: FloatArray

    def others(self, rows: Any, mm: FloatArray, upnl: FloatArray, fee: FloatArray | None
               ) -> tuple[FloatArray, FloatArray]:
        """For cross rows: the other positions' requirement and uPnL in the shared wallet."""
        account = self.account[rows]
        own_fee = 0.0 if fee is None else fee[rows]
        other_mm: FloatArray = self.mm[account] - mm[rows] + self.fee[account] - own_fee
        other_pnl: FloatArray = self.pnl[account] - upnl[rows]
        return other_mm, other_pnl


def portfolio_margin(
    positions: pd.DataFrame,
    *,
    tiers: TierMap | None = None,
) -> pd.DataFrame:
    """Margin, PnL and liquidation figures for every position of a book, in one call.

    Parameters
    ----------
    positions : DataFrame
        One row per position, ccxt ``Position`` column names:

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
    frame, combo, venues, cross = _normalise(positions)
    # Per venue combination (few), then per position by its combination's number.
    tier_map, venue_labels = resolve_tier_tables(venues["exchange"], venues["symbol"], tiers)
    venue_accounts = _venue_accounts(venues)
    account_codes, account_first = _codes(venue_accounts)
    account_rows = _rows_of(venue_accounts, combo)
    accounts = (account_codes[combo], np.asarray(venue_accounts, dtype=object)[account_first])
    side_codes, side_words = frame["side"].factorize()
    sign = np.asarray(side_sign(np.asarray(side_words, dtype=object)), dtype=float)
    sign = np.where(side_codes >= 0, sign[side_codes], np.nan)  # a missing side: NaN
    qty = _values(frame, "contracts") * _values(frame, "contractSize")
    entry = _values(frame, "entryPrice")
    mark = _values(frame, "markPrice")
    has_tiers = (venue_labels != "")[combo]
    hyperliquid = (venues["rule"] == "hyperliquid").to_numpy()[combo]
    missing_rate = (
        ~has_tiers
        & np.isnan(_values(frame, "maintenanceMarginRate"))
        & ~(hyperliquid & ~np.isnan(_values(frame, "maxLeverage")))
    )
    if missing_rate.any():
        position = int(np.argmax(missing_rate))
        raise RiskInputError(
            f"positions row {frame.index[position]} needs maintenanceMarginRate or tiers "
            f"for {venues['symbol'].iloc[combo[position]]!r}"
        )

    value = np.full(len(frame), np.nan)
    mm = np.full(len(frame), np.nan)
    upnl = np.full(len(frame), np.nan)
    for rows, kind, exchange, symbol, _ in _groups(combo, venues, venue_labels, None):
        group_qty, group_mark = qty[rows], mark[rows]
        value[rows] = notional_of(group_qty, group_mark, kind)
        upnl[rows] = pnl_of(sign[rows], entry[rows], group_mark, group_qty, kind)
        with _rows_named(frame, rows):
            mm[rows] = maintenance_margin(
                group_qty,
                group_mark,
                contract=kind,  # type: ignore[arg-type]
                **_rate_arguments(frame, rows, tier_map, symbol, exchange),
            )
    fee_rate = frame["feeRate"].to_numpy() if "feeRate" in frame else None
    closing_fee = None if fee_rate is None else fee_rate * value
    wallets, requirement, balance = _cross_terms(frame, mm, upnl, cross, closing_fee, accounts)

    collateral = _values(frame, "collateral")
    liq = np.full(len(frame), np.nan)
    for rows, kind, exchange, symbol, mode in _groups(combo, venues, venue_labels, cross):
        # Isolated rows share nothing; cross rows share their account's wallet.
        others = wallets.others(rows, mm, upnl, closing_fee) if mode == "cross" else (0.0, 0.0)
        with _rows_named(frame, rows):
            liq[rows] = liquidation_price(
                sign[rows],
                entry[rows],
                qty[rows],
                collateral[rows],
                exchange=cast(Exchange, exchange),
                contract=cast(Contract, kind),
                fee_rate=0.0 if fee_rate is None else fee_rate[rows],
                other_maintenance_margin=others[0],
                other_unrealized_pnl=others[1],
                margin_mode=mode,
                **_rate_arguments(frame, rows, tier_map, symbol, exchange),
            )

    # Each figure written into one new array, the exceptions set in place (no temporaries of
    # the book's size beyond masks).
    with np.errstate(divide="ignore", invalid="ignore"):
        unknown = np.isnan(balance) | np.isnan(requirement)
        ratio = requirement / balance
        ratio[~(balance > 0)] = np.inf
        ratio[unknown] = np.nan
        buffer = balance / requirement
        buffer -= 1.0
        buffer[~(requirement > 0)] = np.inf
        buffer[unknown] = np.nan
        effective_leverage = value / balance
        effective_leverage[~(balance > 0)] = np.inf
        effective_leverage[np.isnan(balance) | np.isnan(value)] = np.nan
        initial = np.where(cross, np.nan, collateral)
        if "leverage" in frame:
            leverage_given = frame["leverage"].to_numpy()
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
        index=positions.index,
        copy=False,  # every column is a new array of this call
    )
    return result


def _rows_of(values: Any, codes: Any) -> Any:
    """Per-position text from per-combination text: ``values[codes]``, as the text column a
    DataFrame would infer from it (without converting a million strings)."""
    return pd.Series(np.asarray(values, dtype=object)).array.take(codes)


def _groups(
    combo: Any, venues: pd.DataFrame, venue_labels: Any, cross: BoolArray | None
) -> list[tuple[Any, str, str, str | None, str]]:
    """Row groups for the per-group calls: (rows in the book's order, contract, rule, tier
    label or None, margin mode), in the order of each group's first row.

    With ``cross``, for liquidation: rows that share a contract type, an exchange rule, (if
    tiered) a tier table and a margin mode. Without, for margin and PnL: rows that share a
    contract type and (if tiered) a tier table and whether the rule counts tier amounts; the
    rule and mode reported are those of the group's first venue. One group is all rows (a
    slice, nothing gathered).
    """
    contracts, rules = venues["contractType"].to_numpy(), venues["rule"].to_numpy()
    if cross is None:  # the rule matters only for a tier table's amounts
        amounts = [bool(label) and EXCHANGE_RULES[rule_for_venue(rule)].tier_amounts
                   for rule, label in zip(rules, venue_labels, strict=True)]
        venue_group, first = _codes(contracts, venue_labels, np.asarray(amounts))
        codes = venue_group[combo] * 2
    else:
        venue_group, first = _codes(contracts, rules, venue_labels)
        codes = venue_group[combo] * 2 + cross  # 2g: isolated rows of venue group g, 2g+1: cross
    present = np.flatnonzero(np.bincount(codes, minlength=2 * len(first)))
    parts: list[Any]
    if len(present) == 1:
        parts = [slice(None)]
    elif len(present) <= 16:  # a few groups: one pass each
        parts = [np.flatnonzero(codes == code) for code in present]
    else:  # a stable radix sort of the group numbers, then the runs
        small = np.int16 if 2 * len(first) < 2**15 else np.intp
        order = np.argsort(codes.astype(small), kind="stable")
        parts = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    groups = []
    for rows in parts:
        code = int(codes[rows][0])
        venue = first[code // 2]
        label = str(venue_labels[venue])
        groups.append((rows, str(contracts[venue]), str(rules[venue]), label or None,
                       "cross" if code % 2 else "isolated"))
    # In order of each group's first row, as the book lists them.
    groups.sort(key=lambda group: 0 if isinstance(group[0], slice) else int(group[0][0]))
    return groups


#: Argument names of the per-group calls, as the positions table names its columns.
_COLUMN_OF = {"entry_price": "entryPrice", "quantity": "contracts", "collateral": "collateral",
              "maintenance_margin_rate": "maintenanceMarginRate",
              "maintenance_amount": "maintenanceAmount", "fee_rate": "feeRate",
              "max_leverage": "maxLeverage", "price": "markPrice", "side": "side"}


@contextmanager
def _rows_named(frame: pd.DataFrame, rows: Any) -> Iterator[None]:
    """Re-raise a refusal of a per-group call with the book's row label and column name:
    the group's element ``position`` is row ``frame.index[rows][position]``."""
    try:
        yield
    except RiskInputError as exc:
        if not isinstance(exc.position, int):
            raise
        where = int(np.arange(len(frame))[rows][exc.position])
        label = frame.index[where]
        column = _COLUMN_OF.get(str(exc.argument), str(exc.argument))
        rule = exc.rule or "be valid"
        raise RiskInputError(
            f"{column} (row {label}) must {rule} (got {format_value(exc.value)})",
            argument=column, position=where, value=exc.value,
            rule=exc.rule) from None


def _rate_arguments(
    frame: pd.DataFrame, rows: Any, tier_map: Mapping[str, Any], symbol: str | None,
    exchange: str = "generic",
) -> dict[str, Any]:
    if symbol is not None:
        table = tier_map[symbol]
        if not EXCHANGE_RULES[rule_for_venue(exchange)].tier_amounts:
            table = table.without_amounts()
        return {"tiers": table}
    rate = _values(frame, "maintenanceMarginRate")[rows]
    if np.isnan(rate).any():
        # Only Hyperliquid rows get here without a rate (checked above): MMR = 1/(2 max lev).
        rate = np.where(np.isnan(rate), 1.0 / (2.0 * _values(frame, "maxLeverage")[rows]), rate)
    return {
        "maintenance_margin_rate": rate,
        "maintenance_amount": _values(frame, "maintenanceAmount")[rows],
    }
