"""The positions table: one declared schema, read once, that every book-level function takes.

A book is one row per position with ccxt ``Position`` column names (:data:`BOOK_COLUMNS`
declares each: type, unit, default, ccxt name and accepted aliases). :func:`as_book` reads a
DataFrame into a :class:`Book`: numbers as float arrays with their defaults, text in its
canonical words (stripped, missing or empty values as the default, words lower case), each
row's rule (a ``rule`` column, else the venue's, :func:`riskfuncs.venues.rule_for_venue`), its
account key ``exchange:SETTLE`` (settle currency from :func:`riskfuncs.venues.parse_symbol`)
and whether it is cross. The one-wallet rule of cross accounts is checked here and nowhere
else. Text is read once per distinct value, never per row.

:func:`portfolio_margin`, :func:`stress_test`, :func:`exposure_by_exchange`,
:func:`discipline_report` and :func:`batch` take a DataFrame or a Book: a caller that already
holds a Book does not pay for reading the table again.

Examples
--------
>>> import pandas as pd
>>> book = as_book(pd.DataFrame({
...     "exchange": ["binanceusdm", " Bybit", "bitmex"],
...     "symbol": ["BTC/USDT:USDT-240628", "BTCUSDT", "XBTUSD"],
...     "side": ["long", "short", "long"], "quantity": [0.5, 1.0, 10_000.0],
...     "entryPrice": [60_000.0] * 3, "markPrice": [61_000.0] * 3,
...     "collateral": [5_000.0, 5_000.0, 0.1], "contractType": ["linear", None, "inverse"],
...     "marginMode": ["cross", "cross", "isolated"]}))
>>> book.account_keys.tolist(), book.rule.tolist()
(['binanceusdm:USDT', 'bybit:USDT', 'bitmex:BTC'], ['binance', 'bybit', 'bitmex'])
>>> book.quantity.tolist(), book.cross.tolist()
([0.5, 1.0, 10000.0], [True, True, False])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskfuncs._arrays import FloatArray, format_value, side_sign
from riskfuncs._errors import RiskInputError
from riskfuncs.venues import RULES, parse_symbol, rule_for_venue

__all__ = ["BOOK_COLUMNS", "Book", "BookColumn", "account_of", "as_book"]

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

#: pandas copies a column on write (always from pandas 3).
_COPY_ON_WRITE = int(pd.__version__.split(".", 1)[0]) >= 3


@dataclass(frozen=True)
class BookColumn:
    """One column of the positions table.

    ``default`` None: the column is required; NaN: missing data (flows through as NaN);
    otherwise the value of a missing column or an empty cell. ``words``: the values a text
    column accepts (empty: any). ``ccxt``: the ccxt ``Position`` field of the same meaning, if
    any. ``aliases``: other names accepted for the column (see ``note``). ``group``:
    ``position`` for the columns of :data:`riskfuncs.portfolio.POSITION_COLUMNS`, else the
    function that reads it.
    """

    name: str
    kind: Literal["number", "text"]
    unit: str
    default: Any
    ccxt: str | None = None
    aliases: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    group: str = "position"
    note: str = ""


#: The positions table, in the order it is documented.
BOOK_COLUMNS: tuple[BookColumn, ...] = (
    BookColumn("exchange", "text", "", "generic",
               note="venue name or ccxt id (binanceusdm, gate.io, ...), kept as given in lower "
                    "case; its rule from riskfuncs.venues"),
    BookColumn("symbol", "text", "", "", "symbol",
               note="BTC/USDT:USDT, BTC/USD:BTC, BTC/USDT:USDT-240628, BTCUSDT, XBTUSD or "
                    "BTC-USDT-SWAP; its settle currency names the account"),
    BookColumn("side", "text", "", None, "side", words=("long", "short"),
               note="long/short (also buy/sell, +1/-1); empty: unknown"),
    BookColumn("contracts", "number", "contracts", None, "contracts", aliases=("quantity",),
               note="quantity: contracts x contractSize (base units for linear, USD for "
                    "inverse), taken when contracts is absent; contractSize must then be 1"),
    BookColumn("contractSize", "number", "base units (linear) or USD (inverse) per contract",
               1.0, "contractSize"),
    BookColumn("entryPrice", "number", "quote per base", None, "entryPrice"),
    BookColumn("markPrice", "number", "quote per base", None, "markPrice"),
    BookColumn("collateral", "number", "settlement currency", None,
               note="isolated margin without uPnL (ccxt's collateral includes it), or for a "
                    "cross position its account's wallet balance, the same on each cross row"),
    BookColumn("marginMode", "text", "", "isolated", "marginMode", words=("isolated", "cross")),
    BookColumn("contractType", "text", "", "linear", words=("linear", "inverse")),
    BookColumn("maintenanceMarginRate", "number", "fraction", np.nan,
               note="needed unless the symbol has tiers (Hyperliquid: 1 / (2 maxLeverage))"),
    BookColumn("maintenanceAmount", "number", "settlement currency", 0.0),
    BookColumn("leverage", "number", "x", np.nan, "leverage"),
    BookColumn("feeRate", "number", "fraction", 0.0, note="taker fee charged on closing"),
    BookColumn("maxLeverage", "number", "x", np.nan),
    BookColumn("rule", "text", "", "", words=RULES, group="override",
               note="the liquidation rule to value the row with; empty: the venue's"),
    BookColumn("collateralCurrency", "text", "", "", group="stress_test",
               note="currency of the collateral (upper case); empty: the settle currency"),
    BookColumn("stopLossPrice", "number", "quote per base", np.nan, "stopLossPrice",
               group="discipline_report"),
)

_COLUMNS: Mapping[str, BookColumn] = MappingProxyType({c.name: c for c in BOOK_COLUMNS})
_NUMBERS = tuple(c.name for c in BOOK_COLUMNS if c.kind == "number")


def account_of(exchange: str, symbol: str, contract: str) -> str:
    """Account key ``exchange:SETTLE``: the wallet cross positions share.

    The settle currency is :func:`riskfuncs.venues.parse_symbol`'s (``BTC/USDT:USDT-240628``
    and ``BTCUSDT`` settle in USDT, ``BTC/USD:BTC``, ``XBTUSD`` and ``BTC-USD-SWAP`` in BTC);
    a symbol it cannot read settles in ``QUOTE`` for a linear contract, in the symbol (or
    ``COIN``) for an inverse one.

    Examples
    --------
    >>> account_of("okx", "BTC-USDT-SWAP", "linear"), account_of("bitmex", "XBTUSD", "inverse")
    ('okx:USDT', 'bitmex:BTC')
    """
    try:
        settle = parse_symbol(symbol, contract).settle
    except ValueError:
        settle = "quote" if contract == "linear" else str(symbol) or "coin"
    return f"{exchange}:{settle.upper()}"


@dataclass(frozen=True, eq=False)
class Book:
    """A positions table read by :func:`as_book`: what every book-level function works on.

    Attributes
    ----------
    index : Index
        The table's index (labels may repeat).
    given : frozenset of str
        The columns the table gave (by their :data:`BOOK_COLUMNS` names).
    numbers : mapping of str to ndarray
        Every number column as floats, its default where the table leaves it out or a cell
        empty (read-only arrays; do not write into them).
    sign : ndarray
        +1 long, -1 short, NaN where the side is missing.
    venue : ndarray of int
        Each row's venue combination: a row of ``venues``.
    venue_row : ndarray of int
        The first row of each venue combination.
    venues : DataFrame
        One row per distinct (exchange, symbol, contractType, rule): those words, ``base`` and
        ``settle`` ("" when the symbol names no market) and ``account``.
    cross : ndarray of bool
        Cross-margined rows.
    account : ndarray of int
        Each row's account: a row of ``accounts``.
    accounts : ndarray of str
        Account keys ``exchange:SETTLE``, in order of first appearance.
    collateral_currency : tuple (ndarray of int, list of str)
        Each row's code into the words of ``collateralCurrency`` (upper case; "" for the settle
        currency).
    """

    index: pd.Index
    given: frozenset[str]
    numbers: Mapping[str, FloatArray]
    sign: FloatArray
    venue: IntArray
    venue_row: IntArray
    venues: pd.DataFrame
    cross: BoolArray
    account: IntArray
    accounts: npt.NDArray[Any]
    collateral_currency: tuple[IntArray, list[str]]

    def __len__(self) -> int:
        return len(self.index)

    def values(self, column: str) -> FloatArray:
        """A number column (default where missing)."""
        return self.numbers[column]

    @property
    def quantity(self) -> FloatArray:
        """contracts x contractSize: base units (linear) or USD (inverse)."""
        result: FloatArray = self.numbers["contracts"] * self.numbers["contractSize"]
        return result

    def text(self, column: str) -> npt.NDArray[Any]:
        """A column of ``venues`` (exchange, symbol, contractType, rule, base, settle,
        account) per row, as objects."""
        words: npt.NDArray[Any] = self.venues[column].to_numpy(dtype=object)[self.venue]
        return words

    @property
    def rule(self) -> npt.NDArray[Any]:
        """The rule each row is valued with."""
        return self.text("rule")

    @property
    def account_keys(self) -> npt.NDArray[Any]:
        """Each row's account key ``exchange:SETTLE``."""
        keys: npt.NDArray[Any] = self.accounts[self.account]
        return keys

    def maintenance_rate(self, has_tiers: BoolArray) -> FloatArray:
        """``maintenanceMarginRate``, Hyperliquid's 1 / (2 maxLeverage) where a Hyperliquid
        row leaves it out; refuses the first row with neither a rate nor tiers
        (``has_tiers``)."""
        rate = self.numbers["maintenanceMarginRate"]
        missing = np.isnan(rate)
        if not missing.any():
            return rate
        hyperliquid = (self.venues["rule"] == "hyperliquid").to_numpy()[self.venue] & missing
        if hyperliquid.any():
            rate = np.where(hyperliquid, 1.0 / (2.0 * self.numbers["maxLeverage"]), rate)
        unset = ~has_tiers & np.isnan(rate)
        if unset.any():
            position = int(np.argmax(unset))
            symbol = self.venues["symbol"].iloc[self.venue[position]]
            rule = f"be given, or tiers for {symbol!r}"
            raise RiskInputError(
                f"maintenanceMarginRate (row {self.index[position]}) must {rule} (got none)",
                argument="maintenanceMarginRate", position=position, value=rate[position],
                rule=rule)
        return rate

    def row_error(self, column: str, position: int, rule: str, value: Any) -> RiskInputError:
        """The refusal of one cell: ``column (row label) must rule (got value)``."""
        return _row_error(self.index, column, position, rule, value)


def as_book(positions: pd.DataFrame | Book, *, collateral: bool = True) -> Book:
    """Read a positions table (:data:`BOOK_COLUMNS`) into a :class:`Book`, or return a Book.

    Parameters
    ----------
    positions : DataFrame or Book
        One row per position. Required: ``side``, ``contracts`` (or ``quantity``),
        ``entryPrice``, ``markPrice``, ``collateral``; the others take their defaults.
    collateral : bool, default True
        Whether the rows carry their margin (``collateral``). False for a unified account,
        whose coin balances are given apart (:func:`riskfuncs.accounts.account_margin`): the
        column is then neither required nor read (NaN), and no wallet rule applies. A Book read
        that way is refused where collateral is needed.

    Returns
    -------
    Book

    Raises
    ------
    RiskInputError
        Naming the column, the row and the rule: a required column missing, a number column
        holding text, a word outside its column's words, a ``quantity`` beside a contract size
        other than 1, cross rows of one account with different wallet balances.
    """
    if isinstance(positions, Book):
        if collateral and "collateral" not in positions.given:
            raise RiskInputError("positions must have a collateral column")
        return positions
    if not isinstance(positions, pd.DataFrame):
        raise RiskInputError(f"positions must be a DataFrame (got {type(positions).__name__})")
    columns = _resolve_aliases(positions)
    if not collateral:
        columns.pop("collateral", None)
    for column in BOOK_COLUMNS:
        if column.default is None and column.name not in columns and (
                collateral or column.name != "collateral"):
            raise RiskInputError(f"positions must have a {column.name} column")
    book_index = positions.index
    numbers = {name: _numbers(positions, columns, name) for name in _NUMBERS}
    if columns.get("contracts") == "quantity" and "contractSize" in columns:
        size = numbers["contractSize"]
        wrong = size != 1.0
        if wrong.any():
            position = int(np.argmax(wrong))
            raise _row_error(book_index, "contractSize", position,
                             "be 1 beside a quantity column (quantity is contracts x "
                             "contractSize)", size[position])

    texts = {name: _words(positions, columns, name) for name in
             ("exchange", "symbol", "contractType", "rule", "marginMode", "collateralCurrency")}
    venue, first = _combine([texts[name][0] for name in
                             ("exchange", "symbol", "contractType", "rule")])
    venues = pd.DataFrame({name: np.asarray(texts[name][1], dtype=object)[
        texts[name][0][first]] for name in ("exchange", "symbol", "contractType", "rule")})
    for name in ("contractType", "rule", "marginMode"):
        _refuse_words(book_index, name, *texts[name])
    rules = [rule or rule_for_venue(exchange)
             for rule, exchange in zip(venues["rule"], venues["exchange"], strict=True)]
    venues["rule"] = pd.Series(rules, dtype=object)
    parsed = [_parse(symbol, contract) for symbol, contract in
              zip(venues["symbol"], venues["contractType"], strict=True)]
    venues["base"] = pd.Series([base for base, _ in parsed], dtype=object)
    venues["settle"] = pd.Series([settle for _, settle in parsed], dtype=object)
    venues["account"] = pd.Series(
        [account_of(exchange, symbol, contract) for exchange, symbol, contract in
         zip(venues["exchange"], venues["symbol"], venues["contractType"], strict=True)],
        dtype=object)
    account_of_venue, account_venue = pd.factorize(venues["account"].to_numpy(dtype=object))
    account = account_of_venue.astype(np.intp)[venue]
    accounts = np.asarray(account_venue, dtype=object)

    mode_codes, mode_words = texts["marginMode"]
    cross = (np.asarray(mode_words, dtype=object) == "cross")[mode_codes]
    sign = _signs(positions, book_index)
    if collateral:
        _one_wallet(book_index, numbers["collateral"], cross, account, accounts)
    for values in numbers.values():
        values.flags.writeable = False
    return Book(
        index=book_index,
        given=frozenset(columns),
        numbers=MappingProxyType(numbers),
        sign=sign,
        venue=venue,
        venue_row=first,
        venues=venues,
        cross=cross,
        account=account,
        accounts=accounts,
        collateral_currency=texts["collateralCurrency"],
    )


def _resolve_aliases(positions: pd.DataFrame) -> dict[str, str]:
    """Each schema column the table gives, with the table's name for it (an alias when the
    column itself is absent)."""
    given: dict[str, str] = {}
    for column in BOOK_COLUMNS:
        for name in (column.name, *column.aliases):
            if name in positions.columns:
                given[column.name] = name
                break
    return given


def _row_error(index: pd.Index, column: str, position: int, rule: str,
               value: Any) -> RiskInputError:
    return RiskInputError(
        f"{column} (row {index[position]}) must {rule} (got {format_value(value)})",
        argument=column, position=position, value=value, rule=rule)


def _numbers(positions: pd.DataFrame, columns: Mapping[str, str], name: str) -> FloatArray:
    """A number column as floats, its default in empty cells; the default everywhere (a
    read-only view of one number) when the table leaves it out."""
    default = _COLUMNS[name].default
    fill = np.nan if default is None else float(default)
    if name not in columns:
        return np.broadcast_to(np.float64(fill), (len(positions),))
    series = positions[columns[name]]
    if series.dtype == np.float64:
        values: FloatArray = series.to_numpy()
    else:
        try:
            values = pd.to_numeric(series, errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError):
            coerced = pd.to_numeric(series, errors="coerce")
            bad = np.flatnonzero((coerced.isna() & series.notna()).to_numpy())
            position = int(bad[0]) if len(bad) else 0
            raise _row_error(positions.index, name, position, "be a number",
                             series.iloc[position]) from None
    if not np.isnan(fill):
        missing = np.isnan(values)
        if missing.any():
            values = np.where(missing, fill, values)
    elif not _COPY_ON_WRITE and values.base is not None:
        values = values.copy()  # the Book's arrays are frozen, the caller's column is not
    return values


def _words(positions: pd.DataFrame, columns: Mapping[str, str],
           name: str) -> tuple[IntArray, list[str]]:
    """A text column as each row's code into its distinct words: stripped, empty or missing
    values as the column's default, lower case (``collateralCurrency``: upper case); the words
    in order of first appearance, each one used. A categorical or dictionary-encoded column is
    read through its codes: its words once per category, no row hashed."""
    default = str(_COLUMNS[name].default)
    upper = name == "collateralCurrency"
    if name not in columns:
        return np.zeros(len(positions), dtype=np.intp if upper else np.int8), [default]
    codes, uniques, encoded = _encoded(positions[columns[name]], use_na_sentinel=False)
    words = []
    for value in uniques:
        missing = value is None or value is pd.NA or (isinstance(value, float) and value != value)
        word = "" if missing else str(value).strip()
        word = word or default
        words.append(word.upper() if upper else word if name == "symbol" else word.lower())
    if encoded:  # codes into categories: some may be unused, -1 is a missing value
        words.append(default)
    distinct: dict[str, int] = {}
    renumber = np.array([distinct.setdefault(w, len(distinct)) for w in words], dtype=np.intp)
    if not len(renumber):
        return np.zeros(len(positions), dtype=np.intp), [default]
    if name != "collateralCurrency":  # read here only: codes as small as the words allow
        renumber = renumber.astype(_small_codes(len(distinct)))
    if not encoded:  # factorize numbered the values in order of first appearance
        return renumber.take(codes), list(distinct)
    # Number the words in order of their first row, leaving out those no row uses.
    first = _first_rows(codes, len(words), sentinel=True)
    word_first = np.full(len(distinct), len(codes), dtype=np.intp)
    np.minimum.at(word_first, renumber, first)
    used = np.flatnonzero(word_first < len(codes))
    order = used[np.argsort(word_first[used], kind="stable")]
    number = np.empty(len(distinct), dtype=renumber.dtype)
    number[order] = np.arange(len(order))
    listed = list(distinct)
    return number[renumber].take(codes), [listed[i] for i in order]


def _small_codes(count: int) -> type[np.signedinteger[Any]]:
    """The smallest signed integer type that numbers ``count`` values."""
    for dtype in (np.int8, np.int16, np.int32):
        if count <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def _encoded(series: pd.Series, *, use_na_sentinel: bool) -> tuple[Any, Any, bool]:
    """``(codes, uniques, encoded)`` of a column. A pandas Categorical or an Arrow dictionary
    column gives its own codes (-1 where missing) and categories, which may be unused or out of
    order (``encoded`` True): nothing is hashed per row. Any other column is factorized:
    uniques in order of first appearance, a missing value coded -1 or (``use_na_sentinel``
    False) as one of the uniques."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return series.array.codes, dtype.categories, True  # type: ignore[attr-defined]
    if getattr(getattr(dtype, "pyarrow_dtype", None), "index_type", None) is not None:
        # Arrow's dictionary encoding (a Parquet column read with it): its indices, -1 for
        # null, and its dictionary (chunks unified).
        codes, uniques = series.factorize(use_na_sentinel=True)
        return codes, uniques, True
    codes, uniques = series.factorize(use_na_sentinel=use_na_sentinel)
    return codes, uniques, False


def _first_rows(codes: Any, size: int, *, sentinel: bool = False) -> IntArray:
    """The first row holding each value 0 .. size - 1 of ``codes`` (``len(codes)`` where
    none does). With ``sentinel``, code -1 counts as value ``size - 1``. The first rows are
    found in a short head of the table when every value shows there, else value by value
    (a few missing) or in one pass."""
    n = len(codes)
    first = np.full(size, n, dtype=np.intp)
    head = min(n, 4096)
    first[codes[:head][::-1]] = np.arange(head - 1, -1, -1)
    unseen = np.flatnonzero(first == n)
    if not len(unseen) or head == n:
        return first
    rest = codes[head:]
    if len(unseen) <= 8:
        for value in unseen.tolist():
            code = -1 if sentinel and value == size - 1 else value
            hit = rest == code
            row = int(np.argmax(hit))
            if hit[row]:
                first[value] = head + row
        return first
    later = np.full(size, n, dtype=np.intp)
    later[rest[::-1]] = np.arange(n - 1, head - 1, -1)
    np.minimum(first, later, out=first)
    return first


def _refuse_words(index: pd.Index, name: str, codes: IntArray, words: list[str]) -> None:
    allowed = _COLUMNS[name].words
    for number, word in enumerate(words):
        if word not in allowed and not (name == "rule" and word == ""):
            position = int(np.argmax(codes == number))
            raise _row_error(index, name, position, f"be one of {', '.join(allowed)}", word)


def _signs(positions: pd.DataFrame, index: pd.Index) -> FloatArray:
    """+1/-1 per row (NaN where missing), read once per distinct side (a categorical or
    dictionary-encoded column: once per category, through its codes)."""
    codes, uniques, _ = _encoded(positions["side"], use_na_sentinel=True)
    numbers = np.asarray(uniques)
    # +1/-1 as numbers read as numbers; anything else word by word.
    words = numbers if numbers.dtype.kind in "iuf" else np.asarray(uniques, dtype=object)
    try:
        signs = np.asarray(side_sign(words), dtype=float)
    except RiskInputError:
        # The first row holding a word that is no side (a category no row uses is no error).
        bad = np.array([not _is_side(word) for word in words] + [False])
        rows = bad[codes]
        position = int(np.argmax(rows))
        if rows[position]:
            raise _row_error(index, "side", position, "be long or short",
                             words[codes[position]]) from None
        signs = np.array([_word_sign_or_nan(word) for word in words], dtype=float)
    # Code -1 (missing) reads the NaN appended last.
    result: FloatArray = np.append(signs, np.nan).take(codes)
    return result


def _word_sign_or_nan(word: Any) -> float:
    try:
        return float(side_sign(word))
    except RiskInputError:
        return np.nan


def _is_side(word: Any) -> bool:
    try:
        side_sign(word if isinstance(word, str) else np.asarray([word]))
    except RiskInputError:
        return False
    return True


def _parse(symbol: str, contract: str) -> tuple[str, str]:
    """(base, settle) of a symbol; ("", "") when it names no market."""
    try:
        parsed = parse_symbol(symbol, contract)
    except ValueError:
        return "", ""
    return parsed.base, parsed.settle


def _one_wallet(index: pd.Index, collateral: FloatArray, cross: BoolArray, account: IntArray,
                accounts: npt.NDArray[Any]) -> None:
    """The cross-wallet rule: every cross row of an account carries the account's one wallet
    balance (its first cross row's collateral)."""
    members = np.flatnonzero(cross)
    if not len(members):
        return
    member_account = account[members]
    first = np.full(len(accounts), -1, dtype=np.intp)
    first[member_account[::-1]] = members[::-1]
    wallet = collateral[first[member_account]]
    same = np.isclose(collateral[members], wallet, rtol=1e-12, atol=0.0, equal_nan=True)
    if same.all():
        return
    position = int(members[int(np.argmin(same))])
    key = accounts[account[position]]
    head = int(first[account[position]])
    rule = f"be one wallet balance on every cross row of {key}"
    raise RiskInputError(
        f"collateral must {rule} (got {format_value(collateral[head])} in row {index[head]}, "
        f"{format_value(collateral[position])} in row {index[position]})",
        argument="collateral", position=position, value=collateral[position], rule=rule)


def _combine(codes: list[IntArray]) -> tuple[IntArray, IntArray]:
    """Each row's combination of integer ``codes`` numbered 0, 1, ... in order of first
    appearance, and the first row of each combination."""
    n = len(codes[0])
    widths = [int(code.max()) + 1 if n else 1 for code in codes]
    size = 1
    for width in widths:
        size *= width
    # The mixed-radix key, in the smallest integer type that holds it (columns with one value
    # leave it as it is).
    key: Any = None
    dtype = _small_codes(size) if size < 2**62 else np.int64
    done = 1
    for code, width in zip(codes, widths, strict=True):
        if width == 1:
            continue
        if key is None:
            key = code.astype(dtype)
        else:
            if done * width >= 2**62:  # keep the mixed-radix key inside int64
                key = pd.factorize(key)[0].astype(np.int64)
                done = int(key.max()) + 1
            key *= width
            key += code
        done *= width
    if key is None:
        return np.zeros(n, dtype=np.intp), np.zeros(1 if n else 0, dtype=np.intp)
    return _renumber(key, done)


def _renumber(key: npt.NDArray[np.int64], size: int) -> tuple[IntArray, IntArray]:
    """``key`` (integers below ``size``) numbered 0, 1, ... in order of first appearance, as
    ``pd.factorize`` numbers them, and the first row of each number."""
    n = len(key)
    if size > 4 * n + 1024:  # sparse keys: hash them
        codes = pd.factorize(key)[0].astype(np.intp)
        first = np.empty(int(codes.max()) + 1 if n else 0, dtype=np.intp)
        first[codes[::-1]] = np.arange(n - 1, -1, -1)
        return codes, first
    first_row = _first_rows(key, size)
    present = np.flatnonzero(first_row < n)
    order = present[np.argsort(first_row[present], kind="stable")]
    if len(order) and (order == np.arange(len(order))).all() and len(order) == size:
        return key.astype(np.intp, copy=False), first_row  # numbered in order already
    number = np.empty(size, dtype=np.intp)
    number[order] = np.arange(len(order))
    return number.take(key), first_row[order]
