"""Leverage tiers (maintenance-margin brackets) as data.

A tier table maps a position's notional to its maintenance-margin rate (MMR), maintenance amount
(Binance "cum", Bybit "MM deduction") and maximum leverage. Tables change often, so they are
always values passed in, never constants: a :class:`TierTable`, a ccxt ``LeverageTier`` list
(``fetch_market_leverage_tiers``) or a DataFrame with the same columns.

The maintenance margin of a notional ``x`` in tier ``k`` is ``x * MMR_k - cum_k``. When the
maintenance amounts are missing they are derived with the bracket recurrence Binance uses,
``cum_1 = 0``, ``cum_k = floor_k * (MMR_k - MMR_{k-1}) + cum_{k-1}``, which makes the maintenance
margin continuous across tier boundaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskfuncs._arrays import FloatArray, broadcast, format_value, require, require_non_negative
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import FloatLike

__all__ = [
    "TierLike",
    "TierMap",
    "TierTable",
    "as_tier_table",
    "max_leverage",
    "tier_for_notional",
]


_COLUMNS = ("floors", "caps", "maintenance_margin_rates", "maintenance_amounts", "max_leverages")


@dataclass(frozen=True, eq=False)
class TierTable:
    """A validated, sorted leverage-tier table.

    Attributes
    ----------
    floors, caps : ndarray
        Notional bounds of each tier (quote currency for linear contracts, coin for inverse),
        contiguous: ``caps[k] == floors[k + 1]``. A position of notional ``x`` is in the last
        tier whose floor is ``<= x``.
    maintenance_margin_rates : ndarray
        Fractions (0.004 = 0.4%), non-decreasing.
    maintenance_amounts : ndarray
        The amount subtracted from ``notional * MMR``, same unit as the notional.
    max_leverages : ndarray
        Maximum leverage allowed in each tier (NaN when unknown).
    currency : str or None
        The currency label of the source (ccxt ``currency``). Informative only: ccxt labels
        Binance COIN-M tables ``USD`` although their bounds are in coin, so units are decided
        from the market (``symbol``), never from this label.
    symbol : str or None
        The ccxt unified symbol the table belongs to (ccxt ``symbol``), when the source says.
    """

    floors: FloatArray
    caps: FloatArray
    maintenance_margin_rates: FloatArray
    maintenance_amounts: FloatArray
    max_leverages: FloatArray
    currency: str | None = None
    symbol: str | None = None

    def __post_init__(self) -> None:
        for name in _COLUMNS:
            array = np.array(getattr(self, name), dtype=float)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        _validate(self)

    @property
    def continuous(self) -> bool:
        """True when the maintenance margin has no jump at any tier boundary."""
        at_floor_next = (
            self.floors[1:] * self.maintenance_margin_rates[1:] - self.maintenance_amounts[1:]
        )
        at_floor_prev = (
            self.floors[1:] * self.maintenance_margin_rates[:-1] - self.maintenance_amounts[:-1]
        )
        scale = np.maximum(1.0, np.abs(at_floor_next))
        return bool(np.all(np.abs(at_floor_next - at_floor_prev) <= 1e-9 * scale))

    def __len__(self) -> int:
        return len(self.floors)

    def index_for(self, notional: FloatArray) -> Any:
        """0-based tier index for each notional (the last tier whose floor is <= notional)."""
        index = np.searchsorted(self.floors, notional, side="right") - 1
        return np.clip(index, 0, len(self) - 1)

    def maintenance_margin(self, notional: FloatArray) -> FloatArray:
        """``notional * MMR_k - cum_k`` with ``k`` the tier of that notional."""
        k = self.index_for(notional)
        result: FloatArray = (
            notional * self.maintenance_margin_rates[k] - self.maintenance_amounts[k]
        )
        return result

    def without_amounts(self) -> TierTable:
        """The same brackets with no maintenance amount: the whole position at its tier's rate
        (OKX, whose tiers carry no amount; rebuilding Binance-style ``cum`` deductions for them
        would understate the maintenance margin above tier 1)."""
        if not np.any(self.maintenance_amounts):
            return self
        return TierTable(self.floors, self.caps, self.maintenance_margin_rates,
                         np.zeros(len(self)), self.max_leverages, self.currency, self.symbol)

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame with ccxt-style column names."""
        return pd.DataFrame(
            {
                "tier": np.arange(1, len(self) + 1),
                "minNotional": self.floors,
                "maxNotional": self.caps,
                "maintenanceMarginRate": self.maintenance_margin_rates,
                "maintenanceAmount": self.maintenance_amounts,
                "maxLeverage": self.max_leverages,
            }
        )


TierLike: TypeAlias = TierTable | Sequence[Mapping[str, Any]] | pd.DataFrame


def _validate(table: TierTable) -> None:
    n = len(table.floors)
    if n == 0:
        raise RiskInputError("tiers must have at least one tier (got none)")
    for name in _COLUMNS:
        if getattr(table, name).shape != (n,):
            raise RiskInputError(f"tiers {name} must have one value per tier")
    for name in ("floors", "caps", "maintenance_margin_rates", "maintenance_amounts"):
        if np.isnan(getattr(table, name)).any():
            raise RiskInputError(f"tiers {name} must not be empty")
    require_non_negative("tiers minNotional", table.floors)
    if table.floors[0] != 0:
        # Below the first floor no rate would apply: exchanges' tables all start at zero.
        raise RiskInputError(
            f"tiers must start at notional 0 (tier 1 starts at {format_value(table.floors[0])})"
        )
    rates = table.maintenance_margin_rates
    bad_rate = (rates < 0) | (rates >= 1)
    if bad_rate.any():
        k = int(np.argmax(bad_rate))
        raise RiskInputError(
            f"tiers maintenanceMarginRate must be in [0, 1) as a fraction "
            f"(got {format_value(rates[k])} in tier {k + 1})"
        )
    if (table.caps <= table.floors).any():
        k = int(np.argmax(table.caps <= table.floors))
        raise RiskInputError(
            f"tiers maxNotional must be above minNotional (tier {k + 1}: "
            f"{format_value(table.floors[k])} to {format_value(table.caps[k])})"
        )
    if n > 1:
        if (np.diff(table.floors) <= 0).any():
            raise RiskInputError("tiers must be sorted by minNotional without duplicates")
        joins = table.caps[:-1] - table.floors[1:]
        tolerance = 1e-9 * np.maximum(1.0, np.abs(table.floors[1:]))
        if (joins > tolerance).any():
            k = int(np.argmax(joins > tolerance))
            raise RiskInputError(
                f"tiers overlap: tier {k + 1} ends at {format_value(table.caps[k])} "
                f"after tier {k + 2} starts at {format_value(table.floors[k + 1])}"
            )
        if (joins < -tolerance).any():
            k = int(np.argmax(joins < -tolerance))
            raise RiskInputError(
                f"tiers have a gap: tier {k + 1} ends at {format_value(table.caps[k])} "
                f"but tier {k + 2} starts at {format_value(table.floors[k + 1])}"
            )
        if (np.diff(rates) < 0).any():
            k = int(np.argmax(np.diff(rates) < 0))
            raise RiskInputError(
                f"tiers maintenanceMarginRate must not fall as notional grows "
                f"(tier {k + 2} has {format_value(rates[k + 1])} after {format_value(rates[k])})"
            )


def _recurrence_amounts(floors: FloatArray, rates: FloatArray) -> FloatArray:
    """cum_1 = 0, cum_k = floor_k * (MMR_k - MMR_{k-1}) + cum_{k-1}."""
    steps = np.concatenate([[0.0], floors[1:] * np.diff(rates)])
    return np.cumsum(steps)


def _number(value: Any) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return float("nan")
    return float(value)


def _from_records(records: Sequence[Mapping[str, Any]]) -> TierTable:
    rows = []
    currency = symbol = None
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise RiskInputError(
                f"tiers must be a list of tier mappings (item {position} is "
                f"{type(record).__name__})"
            )
        info = record.get("info") or {}
        amount = record.get("maintenanceAmount", record.get("maintAmt", info.get("cum")))
        try:
            rows.append(
                (
                    _number(record["minNotional"]),
                    _number(record["maxNotional"]),
                    _number(record["maintenanceMarginRate"]),
                    _number(amount),
                    _number(record.get("maxLeverage")),
                )
            )
        except KeyError as missing:
            raise RiskInputError(f"tiers item {position} must have {missing.args[0]}") from None
        except (TypeError, ValueError):
            raise RiskInputError(f"tiers item {position} must hold numbers") from None
        currency = currency or record.get("currency")
        symbol = symbol or record.get("symbol")
    rows.sort(key=lambda row: row[0])
    floors, caps, rates, amounts, leverages = (
        np.array(column) for column in zip(*rows, strict=True)
    )
    return _table(floors, caps, rates, amounts, leverages, currency,
                  None if symbol is None else str(symbol))


def _from_frame(frame: pd.DataFrame) -> TierTable:
    missing = [c for c in ("minNotional", "maxNotional", "maintenanceMarginRate") if c not in frame]
    if missing:
        raise RiskInputError(f"tiers must have columns {', '.join(missing)}")
    ordered = frame.sort_values("minNotional")

    def column(name: str) -> FloatArray:
        if name not in ordered:
            return np.full(len(ordered), np.nan)
        return pd.to_numeric(ordered[name], errors="raise").to_numpy(dtype=float)

    currency = None
    if "currency" in ordered and len(ordered):
        currency = str(ordered["currency"].iloc[0])
    return _table(
        column("minNotional"),
        column("maxNotional"),
        column("maintenanceMarginRate"),
        column("maintenanceAmount"),
        column("maxLeverage"),
        currency,
    )


def _table(
    floors: FloatArray,
    caps: FloatArray,
    rates: FloatArray,
    amounts: FloatArray,
    leverages: FloatArray,
    currency: str | None,
    symbol: str | None = None,
) -> TierTable:
    # An open-ended last tier (ccxt sometimes gives None) extends to infinity.
    caps = np.where(np.isnan(caps) & (np.arange(len(caps)) == len(caps) - 1), np.inf, caps)
    if np.isnan(amounts).any():
        derived = _recurrence_amounts(floors, rates)
        amounts = np.where(np.isnan(amounts), derived, amounts)
    return TierTable(floors, caps, rates, amounts, leverages, currency, symbol)


#: Tier tables by symbol (str), or by (exchange, symbol) where venues list a symbol differently.
TierMap: TypeAlias = Mapping[Any, TierLike]


def resolve_tier_tables(
    exchanges: Iterable[Any], symbols: Iterable[Any], tiers: TierMap | None
) -> tuple[dict[str, TierTable], npt.NDArray[np.str_]]:
    """Find each position's tier table: by ``(exchange, symbol)`` first, then by ``symbol``.

    Returns the validated tables by label and one label per position (``""``: no table, the
    position's own maintenance rate applies).
    """
    tables: dict[str, TierTable] = {}
    for key, table in (tiers or {}).items():
        if isinstance(key, tuple):
            venue, symbol = key
            tables[f"{str(venue).strip().lower()}|{symbol}"] = as_tier_table(table)
        else:
            tables[str(key)] = as_tier_table(table)
    labels = []
    for venue, symbol in zip(exchanges, symbols, strict=True):
        pair = f"{str(venue).strip().lower()}|{symbol}"
        labels.append(pair if pair in tables else (str(symbol) if str(symbol) in tables else ""))
    return tables, np.array(labels, dtype=str)


def as_tier_table(tiers: TierLike) -> TierTable:
    """Accept a TierTable, a ccxt LeverageTier list or a DataFrame and return a TierTable.

    Parameters
    ----------
    tiers : TierTable, list of mappings or DataFrame
        ccxt ``LeverageTier`` shape: ``minNotional``, ``maxNotional``, ``maintenanceMarginRate``
        (fraction), ``maxLeverage`` and the maintenance amount in ``info.cum`` (Binance) or a
        ``maintenanceAmount`` field. Missing amounts are derived with the bracket recurrence.

    Raises
    ------
    RiskInputError
        Unsorted, overlapping or gapped tiers, rates outside [0, 1), missing columns.

    Examples
    --------
    >>> table = as_tier_table([
    ...     {"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004,
    ...      "maxLeverage": 125},
    ...     {"minNotional": 50_000, "maxNotional": 600_000, "maintenanceMarginRate": 0.005,
    ...      "maxLeverage": 100},
    ... ])
    >>> table.maintenance_amounts.tolist()
    [0.0, 50.0]
    """
    if isinstance(tiers, TierTable):
        return tiers
    if isinstance(tiers, pd.DataFrame):
        return _from_frame(tiers)
    if isinstance(tiers, Sequence) and not isinstance(tiers, str | bytes):
        return _from_records(tiers)
    raise RiskInputError(
        f"tiers must be a TierTable, a list of tier mappings or a DataFrame "
        f"(got {type(tiers).__name__})"
    )


def tier_for_notional(notional: FloatLike, tiers: TierLike) -> Any:
    """Tier number (1-based, as exchanges number them) that applies to a notional.

    Parameters
    ----------
    notional : float, array-like or Series
        Position value in the table's unit (quote currency for linear, coin for inverse), >= 0.
    tiers : TierLike
        The tier table.

    Returns
    -------
    float, ndarray or Series
        The tier number; NaN where the notional is NaN.

    Examples
    --------
    >>> tiers = [{"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004},
    ...          {"minNotional": 50_000, "maxNotional": 600_000, "maintenanceMarginRate": 0.005}]
    >>> tier_for_notional(50_000, tiers)
    2.0
    """
    table = as_tier_table(tiers)
    form, (values,) = broadcast(notional=notional)
    require_non_negative("notional", values)
    _require_within(values, table)
    number = (table.index_for(np.nan_to_num(values)) + 1).astype(float)
    return form.wrap(np.where(np.isnan(values), np.nan, number))


def max_leverage(notional: FloatLike, tiers: TierLike) -> Any:
    """Highest leverage the exchange allows for a position of this notional.

    Parameters
    ----------
    notional : float, array-like or Series
        Position value in the table's unit, >= 0.
    tiers : TierLike
        The tier table; its ``maxLeverage`` column is used.

    Examples
    --------
    >>> tiers = [{"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004,
    ...           "maxLeverage": 125},
    ...          {"minNotional": 50_000, "maxNotional": 600_000, "maintenanceMarginRate": 0.005,
    ...           "maxLeverage": 100}]
    >>> max_leverage(100_000, tiers)
    100.0
    """
    table = as_tier_table(tiers)
    form, (values,) = broadcast(notional=notional)
    require_non_negative("notional", values)
    _require_within(values, table)
    leverage = table.max_leverages[table.index_for(np.nan_to_num(values))]
    return form.wrap(np.where(np.isnan(values), np.nan, leverage))


def _require_within(values: FloatArray, table: TierTable) -> None:
    """A lookup past a table's last finite cap names no tier: the exchange takes no position
    that large, so saying the last tier's rate would be a guess."""
    cap = float(table.caps[-1])
    if np.isfinite(cap):
        require("notional", values, ~(values > cap),
                f"be at most the last tier's cap {cap:,.0f} (the table ends there)")


def check_tier_units(table: TierTable, contract: str) -> None:
    """Refuse a table whose market says its bounds are in the other unit than the position's.

    The unit follows from the market the table belongs to (its ccxt ``symbol``): a market
    settled in its base currency (``BTC/USD:BTC``) is inverse and its bounds are in coin; any
    other (``BTC/USDT:USDT``, ``BTC/USD1:USD1``, ``ETH/BTC:BTC``) is linear, bounds in the quote
    currency. A table without a symbol is taken as given.
    """
    if not table.symbol or ":" not in table.symbol:
        return
    pair, _, settle = table.symbol.partition(":")
    base = pair.partition("/")[0]
    market = "inverse" if settle.partition("-")[0].upper() == base.upper() else "linear"
    if market != contract:
        unit = "coin" if market == "inverse" else "the quote currency"
        raise RiskInputError(
            f"tiers of {table.symbol} are for {'an' if market == 'inverse' else 'a'} {market} "
            f"contract (bounds in {unit}) but the "
            f"position is {contract}"
        )
