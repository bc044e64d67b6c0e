"""Unified and multi-asset margin accounts: collateral haircuts, the account ratio, and the
price of each asset that liquidates the whole account.

In a unified account (Bybit UTA, Binance Multi-Assets and Portfolio Margin, OKX multi-currency,
Hyperliquid and dYdX v4 cross) liquidation is an account event. Every mode has one shape:

    equity      = sum over coins of  value(coin equity)          (haircut, in USD)
    requirement = sum over positions of maintenance margin (+ liquidation fees where counted)
    liquidated  when  equity <= k * requirement

with ``value`` the coin's USD value after its tiered collateral ratio (a negative balance,
borrowing, counts in full), coin equity = wallet balance + the unrealised PnL of the positions
settled in that coin, and ``k`` = 1 (1.05 for Binance Portfolio Margin's liquidation band). Each
mode reports its ratio in the venue's own convention (:data:`MODES`).

Sources (re-read December 2026): Bybit help "Glossary - Unified Trading Account" and
"Liquidation Process (UTA)" (Account MM Rate = Total MM / Margin Balance, liquidation at 100%);
Binance FAQ c983a9268cfa4e70a4916c276bb3b7bc "How to Calculate Margin in Multi-Assets Mode"
(account margin ratio = account MM / account equity, 100%; with ``conversion_buffers`` each
asset's equity at min(equity x bid rate, equity x ask rate) and the maintenance margin at the
ask rate, as its example computes 416.02 and 199.596); Binance FAQ
5e33af8e6ac04d57a1d0a3398e0a0752 (uniMMR = adjusted equity / MM, liquidation at or below
105%); OKX help "Multi-currency margin mode: cross margin" (margin ratio = adjusted equity /
(MMR + liquidation cost), below 100%); Hyperliquid docs "Liquidations" (account value below the
maintenance margin); dYdX Chain docs "Liquidations" (total net collateral below the maintenance
requirement).

Also here: the venues' haircut tables as data (:func:`collateral_tiers`,
:func:`collateral_tables`, :mod:`riskfuncs.data.collateral`) and readers of their API
responses (:func:`parse_collateral_tiers`); joint scenarios that move every asset and coin of
an account at once (:func:`account_stress`); and scenario-based portfolio margin (Bybit PM, OKX
PM, Binance PM Pro), which public data cannot make exact: :func:`scenario_margin` gives an
approximation from your scenario table, and labels every figure "approximation".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from riskfuncs._arrays import FloatArray, broadcast, choose, format_value, require, side_sign
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import FloatLike
from riskfuncs.book import Book, as_book
from riskfuncs.data.collateral import COLLATERAL_TABLES
from riskfuncs.liquidation import EXCHANGE_RULES
from riskfuncs.margin import maintenance_margin
from riskfuncs.scenarios import Scenario, scenario_set
from riskfuncs.tiers import TierMap, resolve_tier_tables
from riskfuncs.venues import coin_name

__all__ = [
    "MODES",
    "AccountMargin",
    "AccountMode",
    "ScenarioMargin",
    "account_margin",
    "account_stress",
    "collateral_tables",
    "collateral_tiers",
    "collateral_value",
    "conversion_rates",
    "parse_collateral_tiers",
    "scenario_margin",
    "tiered_add_on",
]

AccountMode = Literal[
    "bybit_uta", "binance_multi_assets", "binance_portfolio", "okx_multi_currency",
    "hyperliquid_cross", "dydx_cross",
]


@dataclass(frozen=True)
class _Mode:
    ratio_name: str
    #: How the venue states its ratio: "requirement/equity" (%, liquidation at >= trigger),
    #: "equity/requirement" (liquidation at <= trigger) or "equity-requirement" (USD, <= 0).
    convention: Literal["requirement/equity", "equity/requirement", "equity-requirement"]
    trigger: float
    fees_in_requirement: bool
    haircuts: bool
    source: str
    #: The venue's liquidation rule (:data:`riskfuncs.liquidation.EXCHANGE_RULES`): whether a
    #: tier table's maintenance amounts count (OKX values a position at its tier's rate alone).
    rule: str = "generic"

    @property
    def requirement_share(self) -> float:
        """k in ``equity = k x requirement`` at the trigger."""
        if self.convention == "equity/requirement":
            return self.trigger
        return 1.0 if self.convention == "equity-requirement" else 1.0 / self.trigger


#: The account modes, with each venue's ratio convention and trigger.
MODES: Mapping[str, _Mode] = {
    "bybit_uta": _Mode("Account MM Rate", "requirement/equity", 1.0, False, True,
                       "Bybit 'Liquidation Process (UTA)': Account MM Rate >= 100%", "bybit"),
    "binance_multi_assets": _Mode("account margin ratio", "requirement/equity", 1.0, False, True,
                                  "Binance FAQ c983a9268cfa4e70a4916c276bb3b7bc: 100%",
                                  "binance"),
    "binance_portfolio": _Mode("uniMMR", "equity/requirement", 1.05, False, True,
                               "Binance FAQ 5e33af8e6ac04d57a1d0a3398e0a0752: uniMMR <= 105%",
                               "binance"),
    "okx_multi_currency": _Mode("margin ratio", "equity/requirement", 1.0, True, True,
                                "OKX multi-currency margin: adjusted equity / (MMR + "
                                "liquidation cost) below 100%", "okx"),
    "hyperliquid_cross": _Mode("margin available", "equity-requirement", 0.0, False, False,
                               "Hyperliquid 'Liquidations': account value below maintenance",
                           "hyperliquid"),
    "dydx_cross": _Mode("maintenance / net collateral", "requirement/equity", 1.0, False, False,
                        "dYdX Chain 'Liquidations': net collateral below maintenance", "dydx"),
}

#: A collateral ratio: one number for every amount, or tiers by amount held (coin units) or by
#: USD value.
CollateralTiers: TypeAlias = float | Sequence[Mapping[str, Any]] | pd.DataFrame

#: Bound names of a tier table, by unit: coins held, or their USD value.
_BOUNDS = {"coin": ("minAmount", "maxAmount"), "usd": ("minValue", "maxValue")}


#: A tier table read by :func:`_tier_arrays`: floors, caps, ratios, unit ("coin" or "usd").
_TierArrays: TypeAlias = tuple[FloatArray, FloatArray, FloatArray, str]


def _tier_arrays(tiers: CollateralTiers | _TierArrays, name: str = "tiers",
                 rate: str = "ratio") -> _TierArrays:
    """(floors, caps, ratios, unit) of a tier table; unit "coin" or "usd"."""
    if isinstance(tiers, tuple) and len(tiers) == 4 and isinstance(tiers[3], str):
        return tiers  # already read
    if isinstance(tiers, int | float | np.floating) and not isinstance(tiers, bool):
        ratio = float(tiers)
        if not 0.0 <= ratio <= 1.0:
            raise RiskInputError(f"{name} must be a ratio in [0, 1] or a list of collateral "
                                 f"tiers (got {format_value(ratio)})")
        return np.array([0.0]), np.array([np.inf]), np.array([ratio]), "coin"
    records: list[Any]
    if isinstance(tiers, pd.DataFrame):
        records = list(tiers.to_dict("records"))
    elif isinstance(tiers, Sequence) and not isinstance(tiers, str):
        records = list(tiers)
    else:
        raise RiskInputError(f"{name} must be a ratio or a list of collateral tiers (got "
                             f"{type(tiers).__name__})")
    if not records:
        raise RiskInputError(f"{name} must have at least one tier (got none)")
    rows = []
    units = set()
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise RiskInputError(f"{name} item {i} must be a mapping with minAmount, maxAmount "
                                 f"and {rate}")
        unit = "usd" if "minValue" in record or "maxValue" in record else "coin"
        units.add(unit)
        low_key, high_key = _BOUNDS[unit]
        try:
            low = float(record.get(low_key) or 0.0)
            high = record.get(high_key)
            cap = np.inf if high is None or (isinstance(high, float) and np.isnan(high)) \
                else float(high)
            ratio = float(record[rate])
        except KeyError:
            raise RiskInputError(f"{name} item {i} must have {rate}") from None
        except (TypeError, ValueError):
            raise RiskInputError(f"{name} item {i} must hold numbers") from None
        rows.append((low, cap, ratio))
    if len(units) > 1:
        raise RiskInputError(f"{name} must give every tier in one unit: minAmount/maxAmount "
                             "(coins) or minValue/maxValue (USD), not both")
    rows.sort()
    floors, caps, ratios = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    require(f"{name} {rate}", ratios, (ratios >= 0) & (ratios <= 1), "be in [0, 1]")
    if floors[0] != 0 or np.any(caps[:-1] != floors[1:]):
        raise RiskInputError(f"{name} must start at 0 and each tier end where the next begins")
    return floors, caps, ratios, units.pop()


#: A coin counted at 100%.
_IN_FULL: _TierArrays = (np.array([0.0]), np.array([np.inf]), np.array([1.0]), "coin")


def _weighted_value(amount: Any, price: Any, tiers: CollateralTiers | _TierArrays
                    ) -> FloatArray:
    """USD value after the tiered ratio, slice by slice; a negative amount (borrowing) in full.

    Coin tiers slice the amount held, USD tiers its value; past a finite last cap the excess
    counts at 0. ``tiers`` may be a table already read by :func:`_tier_arrays`."""
    floors, caps, ratios, unit = _tier_arrays(tiers)
    amount = np.asarray(amount, dtype=float)
    price = np.asarray(price, dtype=float)
    measured = np.maximum(amount, 0.0) * (price if unit == "usd" else 1.0)
    in_tier = np.clip(measured[..., None] - floors, 0.0, caps - floors)
    weighted = (in_tier * ratios).sum(axis=-1) * (1.0 if unit == "usd" else price)
    value: FloatArray = np.where(amount < 0, amount * price, weighted)
    return value


def collateral_value(amount: FloatLike, price: FloatLike,
                     tiers: CollateralTiers = 1.0) -> Any:
    """USD value of a coin balance after the venue's tiered collateral ratio (haircut).

    Parameters
    ----------
    amount : float, array-like or Series
        Coins held (negative: borrowed, valued in full with no haircut).
    price : float, array-like or Series
        USD index price of the coin.
    tiers : float, list of mappings or DataFrame, default 1.0
        One ratio for every amount, or tiers ``{"minAmount", "maxAmount", "ratio"}`` in coin
        units (Bybit, OKX) or ``{"minValue", "maxValue", "ratio"}`` in USD value (Binance
        Portfolio Margin Pro), as records or a DataFrame with those columns
        (:func:`collateral_tiers` gives the stored tables, :func:`parse_collateral_tiers` reads
        the venues' API responses); each slice of the balance counts at its own tier's ratio;
        an open last tier has no upper bound (None); past a finite last cap the excess counts
        at 0.

    Returns
    -------
    float, ndarray or Series
        USD.

    Examples
    --------
    OKX's tiered discount example: 100 BTC at 60,000 is worth 5,785,500 USD.

    >>> okx = [{"minAmount": 0, "maxAmount": 20, "ratio": 0.98},
    ...        {"minAmount": 20, "maxAmount": 25, "ratio": 0.975},
    ...        {"minAmount": 25, "maxAmount": 30, "ratio": 0.97},
    ...        {"minAmount": 30, "maxAmount": 50, "ratio": 0.965},
    ...        {"minAmount": 50, "maxAmount": 70, "ratio": 0.96},
    ...        {"minAmount": 70, "maxAmount": 90, "ratio": 0.955},
    ...        {"minAmount": 90, "maxAmount": 110, "ratio": 0.95}]
    >>> collateral_value(100, 60_000, okx)
    5785500.0
    >>> collateral_value(-2, 60_000, okx)  # borrowed: counted in full
    -120000.0
    """
    form, (held, px) = broadcast(amount=amount, price=price)
    require("price", px, ~(px < 0), "be >= 0")
    return form.wrap(_weighted_value(held, px, tiers))


def conversion_rates(index_price: FloatLike, *, bid_buffer: FloatLike = 0.0,
                     ask_buffer: FloatLike = 0.0) -> tuple[Any, Any]:
    """Binance Multi-Assets conversion rates: (bid, ask) = index x (1 - bid buffer, 1 + ask
    buffer). A margin asset's positive balance converts at the bid, a negative one at the ask.

    Examples
    --------
    Binance FAQ "How to Calculate Margin in Multi-Assets Mode": USDT index 0.99, bid buffer
    0.01, ask buffer 0.005.

    >>> conversion_rates(0.99, bid_buffer=0.01, ask_buffer=0.005)
    (0.9801, 0.99495)
    """
    form, (index, bid, ask) = broadcast(index_price=index_price, bid_buffer=bid_buffer,
                                        ask_buffer=ask_buffer)
    require("bid_buffer", bid, (bid >= 0) & (bid < 1), "be in [0, 1)")
    require("ask_buffer", ask, ask >= 0, "be >= 0")
    return form.wrap(index * (1.0 - bid)), form.wrap(index * (1.0 + ask))


def collateral_tiers(venue: str, coin: str) -> list[dict[str, float | None]]:
    """A stored haircut table (:data:`riskfuncs.data.collateral.COLLATERAL_TABLES`) as tier
    records for :func:`collateral_value` and ``account_margin(collateral_tiers=...)``.

    Parameters
    ----------
    venue : str
        ``"bybit_uta"``, ``"okx_multi_currency"``, ``"binance_multi_assets"``,
        ``"binance_portfolio"`` or ``"binance_portfolio_pro"``.
    coin : str

    Examples
    --------
    The OKX table of its help page's example, through the loader:

    >>> collateral_value(100, 60_000, collateral_tiers("okx_multi_currency", "BTC"))
    5785500.0
    """
    key = (str(venue), str(coin).upper())
    if key not in COLLATERAL_TABLES:
        known = sorted({v for v, _ in COLLATERAL_TABLES})
        if key[0] not in known:
            raise RiskInputError(f"venue must be one of {', '.join(known)} (got {venue!r})")
        coins = sorted(c for v, c in COLLATERAL_TABLES if v == key[0])
        raise RiskInputError(f"coin {key[1]!r} has no stored {venue} table (stored: "
                             f"{', '.join(coins)}); pass its tiers from the venue's API")
    return COLLATERAL_TABLES[key].tiers()


def collateral_tables(venue: str | None = None) -> pd.DataFrame:
    """Every stored haircut tier, one row each, with its venue, coin, unit, date and source.

    Columns: venue, coin, unit ("coin" or "usd"), lower, upper (NaN: open), ratio, effective,
    source, note.
    """
    rows = [{"venue": t.venue, "coin": t.coin, "unit": t.unit, "lower": low,
             "upper": np.nan if high is None else high, "ratio": ratio,
             "effective": t.effective, "source": t.source, "note": t.note}
            for t in COLLATERAL_TABLES.values() if venue is None or t.venue == venue
            for low, high, ratio in t.bounds]
    if not rows:
        raise RiskInputError(f"venue has no stored collateral table (got {venue!r})")
    return pd.DataFrame(rows)


CollateralVenue = Literal["bybit", "okx", "binance_portfolio"]


def parse_collateral_tiers(response: Any, *, venue: CollateralVenue
                           ) -> dict[str, list[dict[str, float | None]]]:
    """A venue's collateral-ratio API response (parsed JSON) as tier records per coin.

    Parameters
    ----------
    response : dict or list
        The decoded body (or its ``result`` / ``data`` part) of
        Bybit ``GET /v5/spot-margin-trade/collateral`` (``collateralRatioList`` of ``minQty``,
        ``maxQty``, ``collateralRatio``; ``""`` an open upper bound),
        OKX ``GET /api/v5/public/discount-rate-interest-free-quota`` (``details`` of ``minAmt``,
        ``maxAmt``, ``discountRate``; past the last tier ``minDiscountRate``; the older
        ``discountInfo`` shape too) or
        Binance ``GET /sapi/v2/portfolio/collateralRate`` (``collateralInfo`` of ``tierFloor``,
        ``tierCap``, ``collateralRate`` in USD value) and ``/sapi/v1/portfolio/collateralRate``
        (one ``collateralRate`` per asset).
    venue : {"bybit", "okx", "binance_portfolio"}

    Returns
    -------
    dict of coin to list of tier records
        ``minAmount``/``maxAmount`` (coins) or ``minValue``/``maxValue`` (USD) and ``ratio``.
    """
    venue = choose("venue", venue, ("bybit", "okx", "binance_portfolio"))  # type: ignore[assignment]

    def number(value: Any, field: str) -> float | None:
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise RiskInputError(f"response {field} must be a number (got {value!r})") from None

    def body(keys: tuple[str, ...]) -> list[Any]:
        node = response
        for key in keys:
            if isinstance(node, Mapping) and key in node:
                node = node[key]
        if not isinstance(node, list):
            raise RiskInputError(f"response must hold a list under {'.'.join(keys)}")
        return node

    out: dict[str, list[dict[str, float | None]]] = {}
    if venue == "bybit":
        for item in body(("result", "list")):
            out[str(item["currency"]).upper()] = [
                {"minAmount": number(t.get("minQty"), "minQty") or 0.0,
                 "maxAmount": number(t.get("maxQty"), "maxQty"),
                 "ratio": number(t["collateralRatio"], "collateralRatio")}
                for t in item["collateralRatioList"]]
    elif venue == "okx":
        for item in body(("data",)):
            details = item.get("details") or item.get("discountInfo") or []
            tiers: list[dict[str, float | None]] = [
                {"minAmount": number(t.get("minAmt"), "minAmt") or 0.0,
                 "maxAmount": number(t.get("maxAmt"), "maxAmt"),
                 "ratio": number(t["discountRate"], "discountRate")} for t in details]
            tiers.sort(key=lambda t: t["minAmount"] or 0.0)
            last = tiers[-1]["maxAmount"] if tiers else 0.0
            floor_rate = number(item.get("minDiscountRate"), "minDiscountRate")
            if last is not None and floor_rate is not None:
                # OKX: "minimum discount rate when it exceeds the maximum amount of the last tier".
                tiers.append({"minAmount": last, "maxAmount": None, "ratio": floor_rate})
            out[str(item["ccy"]).upper()] = tiers
    else:
        for item in body(()):
            asset = str(item["asset"]).upper()
            if "collateralInfo" in item:
                out[asset] = [
                    {"minValue": number(t.get("tierFloor"), "tierFloor") or 0.0,
                     "maxValue": number(t.get("tierCap"), "tierCap"),
                     "ratio": number(t["collateralRate"], "collateralRate")}
                    for t in item["collateralInfo"]]
            else:
                out[asset] = [{"minAmount": 0.0, "maxAmount": None,
                               "ratio": number(item["collateralRate"], "collateralRate")}]
    for coin, tiers in out.items():
        _tier_arrays(tiers, name=f"response {coin} tiers")  # the same checks as any table
    return out


@dataclass(frozen=True)
class AccountMargin:
    """The state of a unified account (:func:`account_margin`).

    Attributes
    ----------
    mode : str
    equity : float
        USD, adjusted as the venue does (haircut coin equity, unrealised PnL included).
    requirement : float
        USD: maintenance margin of every position (plus liquidation fees on OKX).
    ratio : float
        In the venue's own convention, named ``ratio_name``.
    ratio_name, convention : str
    trigger : float
        Liquidation when ``ratio`` reaches it (>= for requirement/equity, <= otherwise).
    liquidated : bool
    positions : DataFrame
        Per position: asset, settle, notional_usd, maintenance_margin (USD), unrealized_pnl
        (in the settle coin), liquidation_fee (USD), account_liquidation_price (the position's
        mark, in the coin it is quoted in, at which its asset liquidates the account with every
        other price held; 0.0 never for a falling price, inf never for a rising one).
    coins : DataFrame
        Per coin: balance, unrealized_pnl (in the coin: the PnL of the positions it settles),
        equity (coins), price, value (USD after haircut), account_liquidation_price (the USD
        price of that coin that liquidates the account with every other price held, marks
        quoted in it included; 0.0 and inf as for positions); with ``conversion_buffers``
        also bid_rate and ask_rate (USD), the value at the bid rate when the equity is
        positive, at the ask rate when negative.
    """

    mode: str
    equity: float
    requirement: float
    ratio: float
    ratio_name: str
    convention: str
    trigger: float
    liquidated: bool
    positions: pd.DataFrame
    coins: pd.DataFrame


@dataclass
class _Account:
    """A validated account, ready to be valued at any prices."""

    mode: _Mode
    asset: np.ndarray  # base asset per position
    settle: np.ndarray  # settle coin per position
    sign: FloatArray
    qty: FloatArray
    entry: FloatArray
    mark: FloatArray
    fee: FloatArray
    rate: FloatArray
    amount: FloatArray
    tables: dict[str, Any]
    labels: np.ndarray
    coins: list[str]
    balances: dict[str, float]
    prices: dict[str, float]
    haircuts: dict[str, _TierArrays]
    symbol: np.ndarray
    index: pd.Index
    #: Binance Multi-Assets bid/ask buffers per coin; None: no conversion rates (index prices).
    buffers: dict[str, tuple[float, float]] | None = None

    def _buffer(self, coin: str) -> tuple[float, float]:
        return (self.buffers or {}).get(coin, (0.0, 0.0))

    def _coin_price(self, coin: str, moved: Mapping[str, Any]) -> Any:
        """A coin's USD price: moved, else its index price (USD coins 1)."""
        return np.asarray(moved.get(coin, self.prices.get(coin, 1.0)), dtype=float)

    def marks(self, moved: Mapping[str, Any], hold: Sequence[str] = ()) -> FloatArray:
        """Each position's mark with some coins' USD prices moved: a mark is its asset's USD
        price over its quote coin's, so it moves by the asset's move over the quote coin's
        (ETH/BTC holds when both fall 30%; BTC/USDC rises when USDC alone falls). Marks quoted
        in a coin of ``hold`` ignore that coin's move (its assets move with it)."""
        price = np.array(self.mark, dtype=float)
        for coin, value in moved.items():
            move = float(value) / self.prices[coin]
            if move == 1.0:
                continue
            price[self.asset == coin] *= move
            if coin not in hold:
                price[self.settle == coin] /= move
        return price

    def evaluate(self, moved: Mapping[str, Any] | None = None, funding: float = 0.0,
                 hold: Sequence[str] = ()) -> dict[str, Any]:
        """Equity and requirement (USD) with some coins' USD prices moved (scalars), and a
        cumulative funding rate paid by longs on the moved notional (``flow``: received, in
        each settle coin, counted in the PnL).

        Amounts are in each coin (marks are quoted in the settle coin): coin equity = wallet
        balance + the PnL of the positions it settles, valued at the coin's bid rate when
        positive (then its collateral ratio) and its ask rate when negative; maintenance
        margin and fees in the settle coin at its ask rate. Without conversion buffers both
        rates are the coin's index price."""
        moved = dict(moved or {})
        price = self.marks(moved, hold)
        value = self.qty * price
        flow = -self.sign * value * funding
        pnl = self.sign * self.qty * (price - self.entry) + flow
        mm = np.empty_like(value)
        for label in np.unique(self.labels):
            rows = self.labels == label
            if label:
                mm[rows] = maintenance_margin(self.qty[rows], price[rows],
                                              tiers=self.tables[label])
            else:
                mm[rows] = value[rows] * self.rate[rows] - self.amount[rows]
        fees = value * self.fee if self.mode.fees_in_requirement else np.zeros_like(value)
        equity = 0.0
        for coin in self.coins:
            held = self.balances.get(coin, 0.0) + float(pnl[self.settle == coin].sum())
            bid, ask = self._rates(coin, moved)
            ratio = self.haircuts.get(coin, _IN_FULL) if self.mode.haircuts else _IN_FULL
            equity += float(_weighted_value(held, bid if held >= 0 else ask, ratio))
        rates = {coin: (float(self._coin_price(coin, moved)), self._rates(coin, moved)[1])
                 for coin in set(self.settle)}
        usd = np.array([rates[c][0] for c in self.settle], dtype=float)
        asks = np.array([rates[c][1] for c in self.settle], dtype=float)
        return {"equity": equity, "requirement": float(((mm + fees) * asks).sum()), "mm": mm,
                "pnl": pnl, "fees": fees, "value": value, "flow": flow, "usd": usd,
                "ask": asks, "price": price}

    def _rates(self, coin: str, moved: Mapping[str, Any]) -> tuple[float, float]:
        """(bid, ask) USD conversion rates of a coin: index x (1 - bid, 1 + ask buffer)."""
        index = float(self._coin_price(coin, moved))
        bid_buffer, ask_buffer = self._buffer(coin)
        return index * (1.0 - bid_buffer), index * (1.0 + ask_buffer)

    def margin_left(self, moved: Mapping[str, Any] | None = None,
                    hold: Sequence[str] = ()) -> Any:
        """equity - k x requirement: liquidation where it reaches 0."""
        state = self.evaluate(moved, hold=hold)
        return state["equity"] - self.mode.requirement_share * state["requirement"]


def _buffers(given: Mapping[str, Any] | None, mode: str
             ) -> dict[str, tuple[float, float]] | None:
    """Validated conversion buffers per coin, or None when none are given."""
    if given is None:
        return None
    if mode != "binance_multi_assets":
        raise RiskInputError(f"conversion_buffers are Binance Multi-Assets' bid/ask rates: use "
                             f"them with mode binance_multi_assets (got {mode!r})")
    if not isinstance(given, Mapping):
        raise RiskInputError(f"conversion_buffers must map each coin to (bid buffer, ask "
                             f"buffer) (got {type(given).__name__})")
    out = {}
    for coin, pair in _by_coin("conversion_buffers", given).items():
        name = f"conversion_buffers {coin}"
        try:
            bid, ask = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise RiskInputError(f"{name} must be two numbers: bid buffer, ask buffer (got "
                                 f"{pair!r})") from None
        if not 0.0 <= bid < 1.0:
            raise RiskInputError(f"{name} bid buffer must be in [0, 1) (got {bid!r})")
        if not 0.0 <= ask < np.inf:
            raise RiskInputError(f"{name} ask buffer must be >= 0 (got {ask!r})")
        out[coin] = (bid, ask)
    return out


def _by_coin(name: str, given: Mapping[Any, Any]) -> dict[str, Any]:
    """A mapping keyed by coin as perprisk names it (:func:`coin_name`: ``xbt`` is BTC),
    refusing two keys that name one coin."""
    if not isinstance(given, Mapping):
        raise RiskInputError(f"{name} must map each coin to its value (got "
                             f"{type(given).__name__})")
    out: dict[str, Any] = {}
    spelt: dict[str, Any] = {}
    for key, value in given.items():
        coin = coin_name(key)
        if coin in out:
            raise RiskInputError(f"{name} must name each coin once ({spelt[coin]!r} and "
                                 f"{key!r} are both {coin})")
        out[coin], spelt[coin] = value, key
    return out


def _account(book: pd.DataFrame | Book, balances: Mapping[str, float], mode: str,
             prices: Mapping[str, float] | None, collateral_tiers: Mapping[str, Any] | None,
             tiers: TierMap | None,
             conversion_buffers: Mapping[str, Any] | None = None) -> _Account:
    chosen = MODES[choose("mode", mode, tuple(MODES))]
    buffers = _buffers(conversion_buffers, str(mode))
    if not isinstance(book, (pd.DataFrame, Book)):
        raise RiskInputError(f"book must be a DataFrame (got {type(book).__name__})")
    if isinstance(book, pd.DataFrame) and "symbol" not in book:
        raise RiskInputError("book must have a symbol column")
    read = as_book(book, collateral=False)
    if (read.venues["contractType"] == "inverse").any():
        raise RiskInputError("book must hold linear contracts only: a unified account margins "
                             "coin-settled (inverse) contracts in their own coin")
    asset = read.text("base").astype(str)
    settle = read.text("settle").astype(str)
    symbols = read.text("symbol")
    unread = np.flatnonzero(asset == "")
    if len(unread):
        raise read.row_error("symbol", int(unread[0]), "name a market such as BTC/USDT:USDT, "
                             "BTCUSDT or BTC-USDT-SWAP", symbols[unread[0]])
    own = np.flatnonzero(asset == settle)
    if len(own):
        raise read.row_error("symbol", int(own[0]), "be a linear contract: one settled in its "
                             "own coin is inverse, margined in that coin", symbols[own[0]])
    sign = read.sign
    unknown = np.flatnonzero(np.isnan(sign))
    if len(unknown):
        raise read.row_error("side", int(unknown[0]), "be long or short", None)
    qty = read.quantity
    entry = read.values("entryPrice")
    mark = read.values("markPrice")
    for name, values in (("contracts", qty), ("entryPrice", entry), ("markPrice", mark)):
        bad = np.flatnonzero(~(values > 0))
        if len(bad):
            raise read.row_error(name, int(bad[0]), "be > 0", values[bad[0]])
    exchanges = read.text("exchange") if "exchange" in read.given else np.full(len(read), mode)
    tables, labels = resolve_tier_tables(exchanges, symbols, tiers)
    if not EXCHANGE_RULES[chosen.rule].tier_amounts:  # OKX: the tier's rate alone
        tables = {label: table.without_amounts() for label, table in tables.items()}
    rate = read.maintenance_rate(labels != "")
    coin_prices = {coin: _number(f"prices {coin}", v)
                   for coin, v in _by_coin("prices", prices or {}).items()}
    for coin, price in coin_prices.items():
        if not price > 0:
            raise RiskInputError(f"prices {coin} must be > 0 (got {price!r})")
    coin_prices = {**dict.fromkeys(USD_COINS, 1.0), **coin_prices}
    # An asset with no price given is worth its mark in USD: its mark times the USD price of
    # the coin it is quoted in (that coin priced first, by a position quoted in USD).
    for _ in range(2):
        for a, m, quote in zip(asset, mark, settle, strict=True):
            if a not in coin_prices and quote in coin_prices:
                coin_prices[a] = float(m) * coin_prices[quote]
    held = {coin: _number(f"balances {coin}", v)
            for coin, v in _by_coin("balances", balances).items()}
    coins = sorted(set(held) | set(settle))
    unpriced = sorted({c for c in [*coins, *asset] if c not in coin_prices})
    if unpriced:
        raise RiskInputError(f"prices must give the USD price of {', '.join(unpriced)}")
    return _Account(
        chosen, asset, settle, _floats(sign), _floats(qty), _floats(entry), _floats(mark),
        _floats(read.values("feeRate")), _floats(rate),
        _floats(read.values("maintenanceAmount")), tables, labels, coins, held, coin_prices,
        _haircuts(collateral_tiers), symbols, read.index, buffers)


def _haircuts(given: Mapping[str, Any] | None) -> dict[str, _TierArrays]:
    """Each coin's collateral table, read and checked once, named by its coin."""
    return {coin: _tier_arrays(tiers, name=f"collateral_tiers {coin}")
            for coin, tiers in _by_coin("collateral_tiers", given or {}).items()}


def _number(name: str, value: Any) -> float:
    """A finite number, or a refusal naming it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = np.nan
    if not np.isfinite(number):
        raise RiskInputError(f"{name} must be a number (got {format_value(value)})")
    return number


def _floats(values: Any) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


#: Coins taken at 1 USD when no price is given.
USD_COINS: tuple[str, ...] = ("USD", "USDT", "USDC")


def account_margin(book: pd.DataFrame | Book, balances: Mapping[str, float], *,
                   mode: AccountMode, prices: Mapping[str, float] | None = None,
                   collateral_tiers: Mapping[str, CollateralTiers] | None = None,
                   tiers: TierMap | None = None,
                   conversion_buffers: Mapping[str, tuple[float, float]] | None = None,
                   ) -> AccountMargin:
    """Equity, requirement, the account ratio and each asset's account liquidation price.

    Parameters
    ----------
    book : DataFrame or Book
        The account's linear positions, read by the positions schema
        (:func:`riskfuncs.book.as_book`, its aliases and symbols such as ``BTCUSDT``) without
        a ``collateral`` column: ``symbol``, ``side``, ``contracts`` (or ``quantity``),
        ``contractSize``, ``entryPrice``, ``markPrice`` (quoted in the settle coin),
        ``maintenanceMarginRate``/``maintenanceAmount`` or ``tiers``, ``feeRate``, optional
        ``exchange`` (for tiers keyed by venue).
    balances : mapping of coin to amount
        Wallet balances, before unrealised PnL (negative: borrowed).
    mode : {"bybit_uta", "binance_multi_assets", "binance_portfolio", "okx_multi_currency",
            "hyperliquid_cross", "dydx_cross"}
    prices : mapping of coin to USD price, optional
        USD index prices of the coins held and traded (``XBT`` is ``BTC``); an asset not
        given is worth its mark times the USD price of the coin it is quoted in, USD, USDT
        and USDC 1.
    collateral_tiers : mapping of coin to a ratio or tiers, optional
        :func:`collateral_value` tables per coin (a coin not listed counts at 100%). Ignored by
        modes without haircuts (Hyperliquid, dYdX).
    tiers : mapping, optional
        Maintenance tiers by symbol (or ``(exchange, symbol)``), as in :func:`portfolio_margin`.
    conversion_buffers : mapping of coin to (bid buffer, ask buffer), optional
        Binance Multi-Assets only: the index bid and ask buffers of each margin asset
        (``GET /fapi/v1/assetIndex`` ``bidBuffer``, ``askBuffer``; a coin not listed has 0,
        0). Given, amounts are read in each margin asset as Binance does (marks quoted in the
        settle coin): asset equity = wallet balance + unrealised PnL, valued at the bid rate
        ``price x (1 - bid buffer)`` when positive (then its collateral ratio) and at the ask
        rate ``price x (1 + ask buffer)`` when negative, and each position's maintenance
        margin at its settle coin's ask rate (:func:`conversion_rates`). Omitted, coins are
        valued at their index prices as before.

    Returns
    -------
    AccountMargin

    Notes
    -----
    Each position's PnL, maintenance margin and fee are in its settle coin and count at that
    coin's USD price (a USDC perpetual with USDC at 0.998 counts 0.998 USD per USDC of each).
    On OKX a tier table's maintenance amounts are not used: a position counts at its tier's
    rate, as :func:`portfolio_margin` values OKX.

    The account liquidation price of an asset moves every position on that asset, and a
    balance held in that coin, with all other prices held; it is where ``equity = k x
    requirement`` (:data:`MODES`), found by bisection to machine precision through the tier
    and haircut breakpoints. A coin moves with the marks quoted in it held (a stablecoin's
    depeg with its markets unchanged). A position alone, with no haircut and no fee,
    reproduces :func:`portfolio_margin`'s cross liquidation price on a venue that values
    maintenance at the mark (Binance, OKX, Hyperliquid, dYdX); :func:`portfolio_margin`
    also counts a cross position's own closing fee, and values Bybit's on entry.

    Examples
    --------
    dYdX Chain "Liquidations": deposit 1,000 USDC, short 3 ETH at 3,000, MMF 5%.

    >>> book = pd.DataFrame({"symbol": ["ETH/USD:USDC"], "side": ["short"], "contracts": [3.0],
    ...                      "entryPrice": [3000.0], "markPrice": [3000.0],
    ...                      "maintenanceMarginRate": [0.05]})
    >>> state = account_margin(book, {"USDC": 1000.0}, mode="dydx_cross")
    >>> round(float(state.positions["account_liquidation_price"].iloc[0]), 2)
    3174.6

    Binance FAQ "How to Calculate Margin in Multi-Assets Mode": 200 USDT (index 0.99, bid
    buffer 0.01, ask buffer 0.005) and 220 USDC (index 1) behind 0.5 BTCUSDT at 20,000 (MMR
    0.8%) and 20 ETHUSDC at 600 (MMR 1%): equity 200 x 0.9801 + 220 = 416.02, maintenance
    80 x 0.99495 + 120 = 199.596, margin ratio 47.98%.

    >>> book = pd.DataFrame({"symbol": ["BTC/USDT:USDT", "ETH/USDC:USDC"],
    ...                      "side": ["long", "long"], "contracts": [0.5, 20.0],
    ...                      "entryPrice": [20_000.0, 600.0], "markPrice": [20_000.0, 600.0],
    ...                      "maintenanceMarginRate": [0.008, 0.01]})
    >>> state = account_margin(book, {"USDT": 200.0, "USDC": 220.0},
    ...                        mode="binance_multi_assets", prices={"USDT": 0.99},
    ...                        conversion_buffers={"USDT": (0.01, 0.005)})
    >>> round(state.equity, 6), round(state.requirement, 6), round(state.ratio, 4)
    (416.02, 199.596, 0.4798)
    """
    account = _account(book, balances, mode, prices, collateral_tiers, tiers,
                       conversion_buffers)
    state = account.evaluate()
    equity, requirement = float(state["equity"]), float(state["requirement"])
    m = account.mode
    ratio, liquidated = _ratio(m, equity, requirement)
    prices_by_asset = _liquidation_prices(account)
    usd, mm_usd = state["usd"], state["ask"]  # the settle coin's index price and ask rate
    # A position's account liquidation price is its mark there: the asset's USD root over
    # its USD price now, times the mark (in the coin the position is quoted in).
    root = np.array([prices_by_asset[a] for a in account.asset], dtype=float)
    now = np.array([account.prices[a] for a in account.asset], dtype=float)
    positions = pd.DataFrame({
        "symbol": account.symbol, "asset": account.asset, "settle": account.settle,
        "notional_usd": state["value"] * usd, "maintenance_margin": state["mm"] * mm_usd,
        "unrealized_pnl": state["pnl"], "liquidation_fee": state["fees"] * mm_usd,
        "account_liquidation_price": np.where(np.isin(root, (0.0, np.inf)), root,
                                              account.mark * (root / now)),
    }, index=account.index)
    coins = pd.DataFrame({
        "balance": [account.balances.get(c, 0.0) for c in account.coins],
        "price": [account.prices.get(c, 1.0) for c in account.coins],
    }, index=pd.Index(account.coins, name="coin"))
    coins["unrealized_pnl"] = [float(state["pnl"][account.settle == c].sum())
                               for c in account.coins]
    coins["equity"] = coins["balance"] + coins["unrealized_pnl"]
    # Valued at the bid rate (held) or the ask rate (owed): the index price without buffers.
    rates = [account._rates(c, {}) for c in account.coins]
    bids = pd.Series([bid for bid, _ in rates], index=coins.index)
    asks = pd.Series([ask for _, ask in rates], index=coins.index)
    rate = bids.where(coins["equity"] >= 0, asks)
    if account.buffers is not None:
        coins["bid_rate"], coins["ask_rate"] = bids, asks
    coins["value"] = [
        float(_weighted_value(e, p, account.haircuts.get(c, _IN_FULL) if m.haircuts
                              else _IN_FULL))
        for c, e, p in zip(account.coins, coins["equity"], rate, strict=True)]
    coins["account_liquidation_price"] = [prices_by_asset[c] for c in account.coins]
    return AccountMargin(mode, equity, requirement, float(ratio), m.ratio_name, m.convention,
                         m.trigger, bool(liquidated), positions, coins)


def _ratio(m: _Mode, equity: float, requirement: float) -> tuple[float, bool]:
    """The account ratio in the venue's convention, and whether it has reached the trigger."""
    if m.convention == "requirement/equity":
        ratio = requirement / equity if equity > 0 else np.inf
        return ratio, bool(ratio >= m.trigger)
    if m.convention == "equity/requirement":
        ratio = equity / requirement if requirement > 0 else np.inf
        return ratio, bool(ratio <= m.trigger)
    ratio = equity - requirement
    return ratio, bool(ratio <= m.trigger)


def account_stress(book: pd.DataFrame | Book, balances: Mapping[str, float],
                   scenarios: pd.DataFrame | Mapping[str, Mapping[str, float]] | Scenario | str
                   | Sequence[Scenario | str], *,
                   mode: AccountMode, prices: Mapping[str, float] | None = None,
                   collateral_tiers: Mapping[str, CollateralTiers] | None = None,
                   tiers: TierMap | None = None,
                   conversion_buffers: Mapping[str, tuple[float, float]] | None = None,
                   ) -> pd.DataFrame:
    """A unified account under joint scenarios: every asset and collateral coin moved at once.

    Parameters
    ----------
    book, balances, mode, prices, collateral_tiers, tiers, conversion_buffers
        As in :func:`account_margin` (a moved coin's bid and ask rates move with it).
    scenarios : DataFrame, mapping of scenario name to {coin: move}, or Scenario(s)
        One row per scenario (its index names it), one column per asset or coin, each value
        a fractional move of that coin's price (-0.3 = 30% down; a stablecoin may move too).
        A coin with no column, or NaN, keeps its price; a column for a coin the account
        neither holds nor trades is ignored.
        Or the scenarios :func:`stress_test` takes (:class:`Scenario` objects or library
        names such as ``"BTC -30% 1h"``): every asset and coin of the account moves by
        :meth:`Scenario.price_move` (unlisted assets follow the reference asset by beta,
        stablecoins stay), a coin in its ``collateral_haircuts`` falls by that fraction (a
        depeg), and the scenario's funding is paid on each position's moved notional, as in
        :func:`stress_test`.

    Returns
    -------
    DataFrame
        Per scenario: funding (USD received over the scenario; negative: paid), equity and
        requirement (USD, as :func:`account_margin` values them at the moved prices, funding
        included), ratio (the venue's convention, named by ratio_name), trigger,
        liquidated (the ratio has reached the trigger) and margin_left (USD: equity less the
        trigger's share of the requirement; liquidation at or below 0).

    Notes
    -----
    Each coin's USD price moves from its index price in ``prices`` (an asset not given: its
    mark times its quote coin's price); each mark moves by its asset's move over its quote
    coin's (ETH/BTC holds when both fall 30%, BTC/USDC rises when USDC alone falls), every
    balance in a coin is valued at its moved price, and the tiered maintenance and haircuts
    are re-read at the new values. A scenario moving one asset to the USD price behind its
    ``account_liquidation_price`` from :func:`account_margin` lands on the trigger.

    Examples
    --------
    dYdX Chain "Liquidations": deposit 1,000 USDC, short 3 ETH at 3,000, MMF 5%; ETH up 5%
    leaves margin; up 6%, past the account liquidation price 3,174.60, liquidates.

    >>> book = pd.DataFrame({"symbol": ["ETH/USD:USDC"], "side": ["short"], "contracts": [3.0],
    ...                      "entryPrice": [3000.0], "markPrice": [3000.0],
    ...                      "maintenanceMarginRate": [0.05]})
    >>> out = account_stress(book, {"USDC": 1000.0}, {"ETH +5%": {"ETH": 0.05},
    ...                      "ETH +6%": {"ETH": 0.06}}, mode="dydx_cross")
    >>> out["liquidated"].tolist()
    [False, True]
    """
    account = _account(book, balances, mode, prices, collateral_tiers, tiers,
                       conversion_buffers)
    known = set(account.asset) | set(account.coins)
    funding: FloatArray | None = None
    if isinstance(scenarios, pd.DataFrame):
        frame = scenarios
    elif isinstance(scenarios, Mapping):
        frame = pd.DataFrame.from_dict({k: dict(v) for k, v in scenarios.items()},
                                       orient="index")
    elif isinstance(scenarios, Scenario | str) or (
            isinstance(scenarios, Sequence)
            and all(isinstance(item, Scenario | str) for item in scenarios)):
        chosen = scenario_set(scenarios)
        coins = sorted(known)
        frame = pd.DataFrame(
            [[-s.haircut(c) if s.haircut(c) and c not in s.moves else s.price_move(c)
              for c in coins] for s in chosen],
            index=pd.Index([s.name for s in chosen], name="scenario"), columns=coins)
        funding = np.array([s.cumulative_funding_rate for s in chosen], dtype=float)
    else:
        raise RiskInputError(f"scenarios must be a DataFrame, a mapping of scenario to moves or "
                             f"stress scenarios (got {type(scenarios).__name__})")
    if frame.empty:
        raise RiskInputError("scenarios must have at least one scenario")
    columns = _by_coin("scenarios", {c: c for c in frame.columns})
    moves = {coin: _floats(pd.to_numeric(frame[c], errors="coerce"))
             for coin, c in columns.items() if coin in known}
    for coin, values in moves.items():
        require(f"scenarios {coin}", values, ~(values <= -1), "be > -1 (a price above 0)")
    m = account.mode
    k = m.requirement_share
    rows = []
    for i in range(len(frame)):
        moved = {coin: float(account._coin_price(coin, {})) * (1.0 + float(values[i]))
                 for coin, values in moves.items() if not np.isnan(values[i])}
        rate = 0.0 if funding is None else float(funding[i])
        state = account.evaluate(moved, funding=rate)
        equity, requirement = float(state["equity"]), float(state["requirement"])
        ratio, liquidated = _ratio(m, equity, requirement)
        paid = float((state["flow"] * state["usd"]).sum())
        rows.append({"funding": paid, "equity": equity, "requirement": requirement, "ratio": ratio,
                     "ratio_name": m.ratio_name, "trigger": m.trigger,
                     "liquidated": liquidated, "margin_left": equity - k * requirement})
    return pd.DataFrame(rows, index=frame.index)


def _liquidation_prices(account: _Account) -> dict[str, float]:
    """Per asset and coin of the account, its USD price that liquidates the whole account
    with every other price held, marks quoted in it included (a stablecoin's depeg with the
    markets quoted in it unchanged).

    0.0: no positive price liquidates it on the way down; inf: none on the way up."""
    assets = sorted(set(account.asset) | set(account.coins))
    out: dict[str, float] = {}
    for asset in assets:
        def left(price: float, asset: str = asset) -> float:
            return float(account.margin_left({asset: price}, hold=(asset,)))

        now = float(account._coin_price(asset, {}))
        left_now = left(now)
        # Which way is adverse: the margin left falls as the price moves that way.
        falling_hurts = left(now * (1 - 1e-6)) < left(now * (1 + 1e-6))
        # Past liquidation already: the root lies on the favourable side.
        search_down = falling_hurts == (left_now > 0)
        out[asset] = _bisect(left, now, search_down)
    return out


def _bisect(left: Callable[[float], float], now: float, down: bool) -> float:
    """The root of ``left`` (the margin left at a price) on one side of ``now`` (0.0 or inf
    when there is none)."""
    left_now = left(now)
    if down:
        low, high = _TINY, now
        if left(low) * left_now > 0:
            return 0.0
    else:
        low = high = now
        for _ in range(64):  # widen until the sign changes: at most 2^64 x the price
            high *= 2.0
            if left(high) * left_now <= 0:
                break
        else:
            return float("inf")
    left_low = left(low)
    for _ in range(200):  # halving: machine precision long before 200 steps
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        at = left(middle)
        if at == 0.0:
            return middle
        if (at > 0) == (left_low > 0):
            low, left_low = middle, at
        else:
            high = middle
    return 0.5 * (low + high)


#: Stands for a zero price where prices must be positive.
_TINY = 1e-300


# --- scenario-based portfolio margin: an approximation -------------------------------------

#: The label every scenario-based portfolio-margin figure carries.
APPROXIMATION = "approximation"


@dataclass(frozen=True)
class ScenarioMargin:
    """An approximate portfolio-margin maintenance requirement (:func:`scenario_margin`).

    Every figure here is an approximation: Bybit, OKX and Binance compute portfolio margin
    with scenario sets and parameters they do not publish in full.

    Attributes
    ----------
    maintenance : float
        USD, approximation: the sum over risk units of worst loss plus add-on.
    units : DataFrame
        Per risk unit (index ``underlying``): worst_loss (USD, >= 0), worst_scenario (the
        scenarios index label of that loss), add_on (USD), maintenance (USD) and ``basis``
        ("approximation" on every row).
    grid : DataFrame
        Profit and loss (USD) of each risk unit (columns) in each scenario (rows, the
        scenarios' index); NaN where a scenario does not apply to the unit.
    basis : str
        Always "approximation".
    """

    maintenance: float
    units: pd.DataFrame
    grid: pd.DataFrame
    basis: str = APPROXIMATION


def scenario_margin(book: pd.DataFrame, scenarios: pd.DataFrame, *,
                    balances: Mapping[str, float] | None = None,
                    prices: Mapping[str, float] | None = None,
                    add_ons: Mapping[str, float] | None = None) -> ScenarioMargin:
    """Approximate portfolio-margin maintenance: worst loss over your scenario grid per risk
    unit, plus the venue's add-ons.

    Bybit Portfolio Margin, OKX Portfolio Margin and Binance Portfolio Margin Pro group
    positions by underlying into risk units and stress each unit over a grid of price moves
    and (for options) volatility moves; the maintenance margin is the largest loss over the
    grid plus add-ons (OKX: theta, basis, interest-rate, extreme-move, position-reduction cost,
    borrowing and, since its 2024-25 update, a stablecoin depeg charge). The venues publish
    the method but not every parameter, so the result is an **approximation** built from
    the scenario table you supply (for instance the ranges on the venue's parameter page) and
    is labelled so.

    Parameters
    ----------
    book : DataFrame
        Linear positions: ``symbol`` (the base asset is the risk unit), ``side``,
        ``contracts`` (with ``contractSize``), ``markPrice``; optional ``vega``: USD gained
        per unit of the scenarios' ``vol_move`` (first order; 0 for perpetuals).
    scenarios : DataFrame
        One row per scenario: ``price_move`` (fraction, -0.15 = 15% down), optional
        ``vol_move`` (default 0) and optional ``underlying`` (the unit the row applies to;
        missing or "*" for every unit). Its index labels the scenarios.
    balances : mapping of coin to amount, optional
        Coins held in the account; a non-dollar coin joins its underlying's risk unit (OKX's
        unified risk unit counts spot). USD, USDT and USDC are not stressed here (OKX's depeg
        charge is an add-on: :func:`tiered_add_on`).
    prices : mapping of coin to USD price, optional
        For balances; default the mark of a position on that coin.
    add_ons : mapping of underlying to USD, optional
        Add-ons per risk unit you computed from the venue's published rules.

    Returns
    -------
    ScenarioMargin
        Every figure labelled "approximation".

    Examples
    --------
    Long 2 BTC and short 1 BTC at 50,000 (net long 1 BTC), scanned at +-10%: the worst loss
    is 1 BTC x 5,000.

    >>> book = pd.DataFrame({"symbol": ["BTC/USDT:USDT", "BTC/USDC:USDC"],
    ...                      "side": ["long", "short"], "contracts": [2.0, 1.0],
    ...                      "markPrice": [50_000.0, 50_000.0]})
    >>> grid = pd.DataFrame({"price_move": [-0.1, 0.0, 0.1]})
    >>> result = scenario_margin(book, grid)
    >>> result.maintenance, result.basis
    (5000.0, 'approximation')
    """
    if not isinstance(book, pd.DataFrame):
        raise RiskInputError(f"book must be a DataFrame (got {type(book).__name__})")
    if not isinstance(scenarios, pd.DataFrame):
        raise RiskInputError(f"scenarios must be a DataFrame (got {type(scenarios).__name__})")
    if "price_move" not in scenarios:
        raise RiskInputError("scenarios must have a price_move column (fraction)")
    if scenarios.empty:
        raise RiskInputError("scenarios must have at least one row")
    move = _floats(scenarios["price_move"])
    require("scenarios price_move", move, move > -1, "be > -1")
    vol = _floats(scenarios["vol_move"].fillna(0.0)) if "vol_move" in scenarios \
        else np.zeros_like(move)
    target = (scenarios["underlying"].fillna("*").astype(str).str.upper().to_numpy()
              if "underlying" in scenarios else np.full(len(move), "*"))
    frame = book.reset_index(drop=True)
    for column in ("symbol", "side", "contracts", "markPrice"):
        if column not in frame:
            raise RiskInputError(f"book must have a {column} column")
    asset = frame["symbol"].astype(str).str.split(":", n=1).str[0].str.split("/", n=1).str[0] \
        .str.upper().to_numpy()
    size = frame.get("contractSize", pd.Series(1.0, index=frame.index)).astype(float)
    qty = _floats(frame["contracts"].astype(float) * size)
    mark = _floats(frame["markPrice"])
    require("markPrice", mark, mark > 0, "be > 0")
    require("contracts", qty, qty >= 0, "be >= 0")
    sign = _floats(side_sign(frame["side"].to_numpy())) if len(frame) else np.zeros(0)
    vega = _floats(frame["vega"].fillna(0.0)) if "vega" in frame else np.zeros_like(qty)
    # Delta (USD per unit price move) and vega (USD per unit vol move) of each risk unit.
    delta: dict[str, float] = {}
    vegas: dict[str, float] = {}
    for a, d, v in zip(asset, sign * qty * mark, vega, strict=True):
        delta[a] = delta.get(a, 0.0) + float(d)
        vegas[a] = vegas.get(a, 0.0) + float(v)
    marks = {a: float(m) for a, m in zip(asset, mark, strict=True)}
    given = {str(k).upper(): float(v) for k, v in (prices or {}).items()}
    for coin, amount in (balances or {}).items():
        coin = str(coin).upper()
        if coin in USD_COINS or not amount:
            continue
        price = given.get(coin, marks.get(coin, np.nan))
        if not price > 0:
            raise RiskInputError(f"prices must give the USD price of {coin} (a balance held)")
        delta[coin] = delta.get(coin, 0.0) + float(amount) * price
        vegas.setdefault(coin, 0.0)
    extra = {str(k).upper(): float(v) for k, v in (add_ons or {}).items()}
    for unit, value in extra.items():
        if not value >= 0:
            raise RiskInputError(f"add_ons {unit} must be >= 0 (got {value!r})")
        if unit not in delta:
            raise RiskInputError(f"add_ons {unit} names no risk unit of the book or balances")
    units = sorted(delta)
    grid = pd.DataFrame(index=scenarios.index, columns=units, dtype=float)
    rows = []
    for unit in units:
        applies = (target == "*") | (target == unit)
        if not applies.any():
            raise RiskInputError(f"scenarios has no row for underlying {unit}")
        pnl = np.where(applies, delta[unit] * move + vegas[unit] * vol, np.nan)
        grid[unit] = pnl
        worst = int(np.nanargmin(pnl))
        loss = max(0.0, -float(pnl[worst]))
        add = extra.get(unit, 0.0)
        rows.append({"underlying": unit, "worst_loss": loss,
                     "worst_scenario": scenarios.index[worst], "add_on": add,
                     "maintenance": loss + add, "basis": APPROXIMATION})
    table = pd.DataFrame(rows, columns=["underlying", "worst_loss", "worst_scenario", "add_on",
                                        "maintenance", "basis"]).set_index("underlying")
    table.attrs["basis"] = grid.attrs["basis"] = APPROXIMATION
    return ScenarioMargin(float(table["maintenance"].sum()), table, grid)


def tiered_add_on(value: FloatLike, tiers: Sequence[Mapping[str, Any]] | pd.DataFrame) -> Any:
    """A charge at tiered marginal rates: each slice of ``value`` (USD) at its tier's rate.

    The shape of OKX Portfolio Margin's stablecoin depeg add-on (MR9), for
    :func:`scenario_margin`'s ``add_ons``; an approximation input like the rest of it.

    Parameters
    ----------
    value : float, array-like or Series
        USD exposure.
    tiers : list of mappings or DataFrame
        ``{"minValue", "maxValue", "rate"}`` in USD; an open last tier has ``maxValue`` None.

    Examples
    --------
    OKX's MR9 example: 10,000,000 USD of exposure at 0.75% to 1M, 1.75% to 5M, 2.5% above.

    >>> tiered_add_on(10_000_000, [{"minValue": 0, "maxValue": 1e6, "rate": 0.0075},
    ...                            {"minValue": 1e6, "maxValue": 5e6, "rate": 0.0175},
    ...                            {"minValue": 5e6, "maxValue": None, "rate": 0.025}])
    202500.0
    """
    form, (amount,) = broadcast(value=value)
    require("value", amount, ~(amount < 0), "be >= 0")
    floors, caps, rates, _ = _tier_arrays(tiers, rate="rate")
    sliced = np.clip(amount[..., None] - floors, 0.0, caps - floors)
    return form.wrap((sliced * rates).sum(axis=-1))
