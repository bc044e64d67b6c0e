"""The account view of the report: each unified account of the workbook's Accounts sheet.

Per account (an exchange listed on the Accounts sheet, its cross positions on Positions &
Margin, its coins on Balances by coin, their haircut tiers): the mode, equity and requirement as
the venue counts them, the account ratio in the venue's convention against its trigger, how much
of the trigger is used (``k x requirement / equity``: 100% = liquidation) with the level perprisk
watch gives the exchange's own account ratio (amber from 50%, red from 80%, red when liquidated),
per asset the price that liquidates the whole account with every other price held, and per coin
held its value after the haircut and the price of it that liquidates the account (stablecoins
too: the depeg that does). Computed with :func:`riskfuncs.accounts.account_margin` on the
workbook's inputs (Binance Multi-Assets with its bid/ask conversion buffers, a blank one 0, as
the sheet computes it); an account whose inputs riskfuncs refuses shows the reason instead of
figures. Balance rows the view does not use (their exchange is not in the Accounts table, or
they name no coin) are listed with the reason, never dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from addin.reader import FilledWorkbook
from addin.reader.filled import is_blank
from addin.report.assessment import Alert, positions_frame, tiers_by_symbol
from addin.workbook.layout import ACCOUNT_USE_AMBER, ACCOUNT_USE_RED, CONVERSION_MODE
from riskfuncs._errors import RiskInputError
from riskfuncs.accounts import MODES, USD_COINS, account_margin
from riskfuncs.venues import rule_for_venue

__all__ = ["AccountAsset", "AccountCoin", "AccountSummary", "AccountView", "UnusedBalance",
           "account_alerts", "account_view", "level_of_use"]


@dataclass(frozen=True)
class AccountAsset:
    """One asset of an account: the price of it that liquidates the account."""

    asset: str
    mark_price: float
    #: The mark there, in ``quoted_in``; None when no positive price liquidates the account
    #: on that side.
    liquidation_price: float | None
    #: liquidation price / mark - 1 (the move that liquidates); None with no price.
    move: float | None
    #: The coin the mark is quoted in (its first position's settle coin).
    quoted_in: str = "USDT"

    @property
    def unit(self) -> str:
        """The quote coin, shown beside the price when it is not a dollar."""
        return "" if self.quoted_in in USD_COINS else self.quoted_in


@dataclass(frozen=True)
class AccountCoin:
    """One coin of an account: wallet amount, index price, value after the haircut, and the
    price of the coin that liquidates the account with every other price held."""

    coin: str
    amount: float
    price: float
    value: float  # USD after the haircut
    #: USD; None when no positive price liquidates the account on that side.
    liquidation_price: float | None = None
    #: liquidation price / price - 1; None with no price.
    move: float | None = None


@dataclass(frozen=True)
class UnusedBalance:
    """A Balances by coin row the account view did not use, and why."""

    exchange: str
    coin: str
    amount: Any
    reason: str

    @property
    def text(self) -> str:
        amount = self.amount if isinstance(self.amount, str) else (
            f"{self.amount:,.8g}" if isinstance(self.amount, int | float) else "no amount")
        return (f"{self.exchange or 'no exchange'} {self.coin or 'no coin'} {amount}: "
                f"{self.reason}")


@dataclass(frozen=True)
class AccountSummary:
    """One unified account."""

    exchange: str
    mode: str
    level: str  # red, amber or green ("amber" when its inputs have a problem)
    problem: str = ""
    ratio_name: str = ""
    convention: str = ""
    equity: float = math.nan
    requirement: float = math.nan
    ratio: float = math.nan
    trigger: float = math.nan
    use: float = math.nan  # k x requirement / equity; 1 = liquidation
    margin_left: float = math.nan
    liquidated: bool = False
    note: str = ""
    positions: int = 0
    assets: list[AccountAsset] = field(default_factory=list)
    coins: list[AccountCoin] = field(default_factory=list)

    @property
    def ratio_text(self) -> str:
        """The ratio as the venue states it: a percentage, or USD for Hyperliquid."""
        if math.isnan(self.ratio):
            return "n/a"
        if math.isinf(self.ratio):
            return "no equity" if self.convention == "requirement/equity" else "no requirement"
        if self.convention == "equity-requirement":
            return f"{self.ratio:,.2f} USD"
        return f"{self.ratio:.2%}"

    @property
    def trigger_text(self) -> str:
        if math.isnan(self.trigger):
            return "n/a"
        if self.convention == "equity-requirement":
            return f"{self.trigger:,.0f} USD"
        sign = ">=" if self.convention == "requirement/equity" else "<="
        return f"{sign} {self.trigger:.0%}"


@dataclass(frozen=True)
class AccountView:
    accounts: list[AccountSummary]
    #: Balance rows not valued, each with its reason.
    unused: list[UnusedBalance] = field(default_factory=list)

    @property
    def red(self) -> int:
        return sum(a.level == "red" for a in self.accounts)

    @property
    def amber(self) -> int:
        return sum(a.level == "amber" for a in self.accounts)


def level_of_use(use: float, liquidated: bool) -> str:
    """red (liquidated, or 80% of the trigger used), amber (50%) or green."""
    if liquidated or not use < ACCOUNT_USE_RED:  # NaN (no equity) is not a pass
        return "red"
    return "amber" if use >= ACCOUNT_USE_AMBER else "green"


def _text(value: Any) -> str:
    return "" if is_blank(value) else str(value).strip()


def _haircut_tables(table: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if table is None or table.empty:
        return out
    for record in table.to_dict("records"):
        name = _text(record.get("table")).lower()
        if not name:
            continue
        high = record.get("max_amount")
        # Bounds in coins held, or in USD value (Binance Portfolio Margin Pro).
        low_key, high_key = (("minValue", "maxValue") if _text(record.get("unit")).lower()
                             == "usd" else ("minAmount", "maxAmount"))
        out.setdefault(name, []).append({
            low_key: float(record.get("min_amount") or 0.0),
            high_key: None if high is None or is_blank(high) else float(high),
            "ratio": float(record["ratio"]) if not is_blank(record.get("ratio")) else np.nan})
    return out


def _unused_balances(balances: pd.DataFrame, listed: set[str]) -> list[UnusedBalance]:
    """Balance rows of an exchange the Accounts table does not list, or with no coin."""
    if balances is None or balances.empty:
        return []
    out = []
    for record in balances.to_dict("records"):
        exchange, coin = _text(record.get("exchange")), _text(record.get("coin")).upper()
        amount = record.get("amount")
        if not exchange and not coin and is_blank(amount):
            continue
        if exchange.lower() not in listed:
            reason = ("no exchange given" if not exchange else
                      "its exchange is not in the Accounts table (add the account with its "
                      "mode to value it)")
        elif not coin:
            reason = "no coin given"
        else:
            continue
        out.append(UnusedBalance(exchange, coin, None if is_blank(amount) else amount, reason))
    return out


def account_view(book: FilledWorkbook, tier_tables: Mapping[str, pd.DataFrame]
                 ) -> AccountView | None:
    """The unified accounts of the workbook's Accounts sheet; None when it lists none and no
    balance row waits for one."""
    accounts = book.tables.get("unified_accounts")
    if accounts is None:
        accounts = pd.DataFrame()
    balances = book.tables.get("balances", pd.DataFrame())
    listed = {_text(r.get("exchange")).lower() for r in accounts.to_dict("records")} - {""}
    unused = _unused_balances(balances, listed)
    if not listed:
        return AccountView([], unused) if unused else None
    table = book.tables.get("positions", pd.DataFrame())
    frame = positions_frame(table)
    tiers = tiers_by_symbol(table, tier_tables) if len(table) else {}
    haircuts = _haircut_tables(book.tables.get("haircuts"))
    out = []
    for record in accounts.to_dict("records"):
        exchange, mode = _text(record.get("exchange")), _text(record.get("mode"))
        if not exchange:
            continue
        out.append(_summary(exchange, mode, frame, tiers, balances, haircuts))
    return AccountView(out, unused)


def _summary(exchange: str, mode: str, frame: pd.DataFrame, tiers: Mapping[Any, Any],
             balances: pd.DataFrame, haircuts: Mapping[str, list[dict[str, Any]]]
             ) -> AccountSummary:
    venue = exchange.lower()
    mine = frame[(frame["exchange"].str.strip().str.lower() == venue)
                 & (frame["marginMode"].str.lower() == "cross")] if len(frame) else frame
    count = len(mine)
    if not mode:
        return AccountSummary(exchange, "", "amber", "no mode given", positions=count)
    if mine.empty:
        return AccountSummary(exchange, mode, "amber", "no cross positions on Positions")
    coins: dict[str, float] = {}
    prices: dict[str, float] = {}
    tables: dict[str, Any] = {}
    buffers: dict[str, tuple[float, float]] = {}
    rows = balances[balances["exchange"].astype(str).str.strip().str.lower() == venue] \
        if len(balances) and "exchange" in balances else pd.DataFrame()
    for record in rows.to_dict("records"):
        coin = _text(record.get("coin")).upper()
        if not coin:
            continue
        coins[coin] = float(record.get("amount") or 0.0)
        if not is_blank(record.get("price")):
            prices[coin] = float(record["price"])
        bid: Any = record.get("bid_buffer")
        ask: Any = record.get("ask_buffer")
        if not (is_blank(bid) and is_blank(ask)) and mode != CONVERSION_MODE:
            return AccountSummary(exchange, mode, "amber",
                                  f"bid/ask buffers of {coin} are Binance Multi-Assets' only "
                                  f"(mode {CONVERSION_MODE})", positions=count)
        try:
            buffers[coin] = (0.0 if is_blank(bid) else float(bid),
                             0.0 if is_blank(ask) else float(ask))
        except (TypeError, ValueError):
            return AccountSummary(exchange, mode, "amber",
                                  f"bid/ask buffers of {coin} must be numbers",
                                  positions=count)
        name = _text(record.get("haircut_table"))
        if name:
            if name.lower() not in haircuts:
                return AccountSummary(exchange, mode, "amber",
                                      f"haircut table {name!r} of {coin} not found",
                                      positions=count)
            tables[coin] = haircuts[name.lower()]
    book = mine.copy()
    # Hyperliquid without an MMR: half the initial margin at the market's max leverage.
    rule = book["exchange"].map(lambda v: rule_for_venue(str(v)))
    hyper = (rule == "hyperliquid") & book["maintenanceMarginRate"].isna()
    book.loc[hyper, "maintenanceMarginRate"] = 1 / (2 * book.loc[hyper, "maxLeverage"])
    try:
        state = account_margin(book, coins, mode=mode,  # type: ignore[arg-type]
                               prices=prices, collateral_tiers=tables, tiers=dict(tiers),
                               conversion_buffers=buffers if mode == CONVERSION_MODE
                               else None)
    except RiskInputError as exc:
        return AccountSummary(exchange, mode, "amber", str(exc).splitlines()[0],
                              positions=count)
    k = MODES[mode].requirement_share
    use = k * state.requirement / state.equity if state.equity > 0 else math.nan
    assets = []
    seen = set()
    for asset, mark, price, quote in zip(state.positions["asset"], book["markPrice"],
                                         state.positions["account_liquidation_price"],
                                         state.positions["settle"], strict=True):
        if asset in seen:
            continue
        seen.add(asset)
        found = float(price) if 0 < price < math.inf else None
        assets.append(AccountAsset(str(asset), float(mark), found,
                                   None if found is None else found / float(mark) - 1,
                                   str(quote)))
    return AccountSummary(
        exchange, mode, level_of_use(use, state.liquidated), "", state.ratio_name,
        state.convention, state.equity, state.requirement, state.ratio, state.trigger, use,
        state.equity - k * state.requirement, state.liquidated,
        "", len(book), assets,
        [_coin(str(c), r) for c, r in state.coins.iterrows()])


def _coin(coin: str, row: pd.Series) -> AccountCoin:
    price = float(row["price"])
    found = float(row["account_liquidation_price"])
    at = found if 0 < found < math.inf else None
    return AccountCoin(coin, float(row["balance"]), price, float(row["value"]), at,
                       None if at is None else at / price - 1)


def account_alerts(view: AccountView | None) -> list[Alert]:
    """An alert per account on red or amber: the trigger used, or the problem."""
    if view is None:
        return []
    out = []
    for a in view.accounts:
        if a.level == "green":
            continue
        subject = f"{a.exchange} account"
        if a.problem:
            text = f"not assessed: {a.problem}"
        elif a.liquidated:
            text = f"{a.ratio_name} {a.ratio_text} has reached its trigger ({a.trigger_text})"
        else:
            text = (f"{a.use:.0%} of the way to liquidation ({a.ratio_name} {a.ratio_text}, "
                    f"trigger {a.trigger_text})")
        out.append(Alert(a.level, subject, text))
    if view.unused:
        out.append(Alert("amber", "Accounts sheet balances",
                         f"{len(view.unused)} balance row(s) not used: "
                         + "; ".join(u.text for u in view.unused)))
    return out
