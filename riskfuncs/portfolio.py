"""One call for a whole book of positions: margin, PnL and liquidation for every row.

Positions come as a DataFrame with ccxt ``Position`` column names, so an export of
``fetch_positions`` can be passed straight in. Cross-margined positions of one account (the same
exchange and settlement currency) share their wallet: each one's liquidation price accounts for
the others' maintenance margin and unrealised PnL, as Binance's cross formula does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
    for column, default in POSITION_COLUMNS.items():
        if column not in frame:
            if default is None:
                raise RiskInputError(f"positions must have a {column} column")
            if not isinstance(default, str):  # a text default is held once, per venue
                frame[column] = np.full(len(frame), default, dtype=float)
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
        if frame[column].dtype == np.float64:
            continue
        try:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
        except (TypeError, ValueError):
            raise RiskInputError(f"positions column {column} must hold numbers") from None
    for column, default in (("contractSize", 1.0), ("maintenanceAmount", 0.0),
                            ("feeRate", 0.0)):
        if frame[column].isna().any():
            frame[column] = frame[column].fillna(default)
    return frame, combo, venues, cross


def _cross_terms(
    frame: pd.DataFrame, mm: FloatArray, upnl: FloatArray, cross: BoolArray,
    fee: FloatArray | None, accounts: tuple[Any, Any],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per row: the others' requirement (maintenance margin plus closing fee at the mark, as
    OKX's "MMR + liquidation cost" counts every position of the account) and uPnL in the shared
    wallet (0 for isolated rows), the requirement liquidation is judged on (cross: the
    account's maintenance margin; isolated: the position's) and the balance (cross: the
    account's; isolated: collateral + uPnL). ``accounts``: each row's account number and the
    account keys. Only cross rows are read and written for the accounts' sums."""
    inverse, keys = accounts
    collateral = frame["collateral"].to_numpy()
    members = np.flatnonzero(cross)
    other_mm, other_pnl = np.zeros(len(mm)), np.zeros(len(mm))
    requirement = mm.astype(float)  # a copy
    balance: FloatArray = collateral + upnl
    if not len(members):
        return other_mm, other_pnl, requirement, balance
    account = inverse[members]
    member_mm, member_pnl = mm[members], upnl[members]
    member_fee = np.zeros(len(members)) if fee is None else fee[members]
    # A cross member with missing data makes its whole account unknown (NaN), not zero.
    account_mm = np.bincount(account, weights=member_mm, minlength=len(keys))
    account_fee = np.bincount(account, weights=member_fee, minlength=len(keys))
    account_pnl = np.bincount(account, weights=member_pnl, minlength=len(keys))
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
    other_mm[members] = account_mm[account] - member_mm + account_fee[account] - member_fee
    other_pnl[members] = account_pnl[account] - member_pnl
    requirement[members] = account_mm[account]
    balance[members] = wallet[account] + account_pnl[account]
    return other_mm, other_pnl, requirement, balance


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
    qty = frame["contracts"].to_numpy() * frame["contractSize"].to_numpy()
    entry = frame["entryPrice"].to_numpy()
    mark = frame["markPrice"].to_numpy()
    has_tiers = (venue_labels != "")[combo]
    hyperliquid = (venues["rule"] == "hyperliquid").to_numpy()[combo]
    missing_rate = (
        ~has_tiers
        & frame["maintenanceMarginRate"].isna().to_numpy()
        & ~(hyperliquid & frame["maxLeverage"].notna().to_numpy())
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
    groups = _groups(frame, combo, venues, venue_labels)
    for rows, kind, exchange, symbol in groups:
        value[rows] = notional_of(qty[rows], mark[rows], kind)
        upnl[rows] = pnl_of(sign[rows], entry[rows], mark[rows], qty[rows], kind)
        with _rows_named(frame, rows):
            mm[rows] = maintenance_margin(
                qty[rows],
                mark[rows],
                contract=kind,  # type: ignore[arg-type]
                **_rate_arguments(frame, rows, tier_map, symbol, exchange),
            )
    closing_fee = frame["feeRate"].to_numpy(dtype=float) * value
    other_mm, other_pnl, requirement, balance = _cross_terms(
        frame, mm, upnl, cross, closing_fee, accounts)

    collateral = frame["collateral"].to_numpy()
    fee_rate = frame["feeRate"].to_numpy()
    liq = np.full(len(frame), np.nan)
    for group_rows, kind, exchange, symbol in groups:
        in_cross = cross[group_rows]
        # Isolated rows, then cross rows: each call has one margin mode.
        for rows, mode in ((group_rows[~in_cross], "isolated"), (group_rows[in_cross], "cross")):
            if not len(rows):
                continue
            with _rows_named(frame, rows):
                liq[rows] = liquidation_price(
                    sign[rows],
                    entry[rows],
                    qty[rows],
                    collateral[rows],
                    exchange=cast(Exchange, exchange),
                    contract=cast(Contract, kind),
                    fee_rate=fee_rate[rows],
                    other_maintenance_margin=other_mm[rows],
                    other_unrealized_pnl=other_pnl[rows],
                    margin_mode=mode,
                    **_rate_arguments(frame, rows, tier_map, symbol, exchange),
                )

    leverage_given = frame["leverage"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        unknown = np.isnan(balance) | np.isnan(requirement)
        ratio = np.where(unknown, np.nan, np.where(balance > 0, requirement / balance, np.inf))
        buffer = np.where(
            unknown, np.nan, np.where(requirement > 0, balance / requirement - 1.0, np.inf)
        )
        effective_leverage = np.where(
            np.isnan(balance) | np.isnan(value),
            np.nan,
            np.where(balance > 0, value / balance, np.inf),
        )
        initial = np.where(cross, np.nan, collateral)
        if not np.isnan(leverage_given).all():
            initial = np.where(~np.isnan(leverage_given), value / leverage_given, initial)
        distance = sign * (mark - liq) / mark
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
    frame: pd.DataFrame, combo: Any, venues: pd.DataFrame, venue_labels: Any
) -> list[tuple[Any, str, str, str | None]]:
    """Row groups that share a contract type, an exchange rule and (if tiered) a tier table."""
    contracts, rules = venues["contractType"].to_numpy(), venues["rule"].to_numpy()
    venue_group, first = _codes(contracts, rules, venue_labels)
    codes = venue_group[combo]
    small = np.int16 if len(first) < 2**15 else np.intp  # a radix sort for a few groups
    order = np.argsort(codes.astype(small), kind="stable")  # rows of each group, book order
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    groups = []
    for rows in np.split(order, bounds) if len(order) else []:
        venue = first[codes[rows[0]]]
        label = str(venue_labels[venue])
        groups.append((rows, str(contracts[venue]), str(rules[venue]), label or None))
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
    rate = frame["maintenanceMarginRate"].to_numpy()[rows]
    if np.isnan(rate).any():
        # Only Hyperliquid rows get here without a rate (checked above): MMR = 1/(2 max lev).
        rate = np.where(np.isnan(rate), 1.0 / (2.0 * frame["maxLeverage"].to_numpy()[rows]), rate)
    return {
        "maintenance_margin_rate": rate,
        "maintenance_amount": frame["maintenanceAmount"].to_numpy()[rows],
    }
