"""What ccxt's unified position and balance fields mean, venue by venue, as workbook inputs.

A workbook row needs the margin that is *the trader's money in the position* (isolated) or the
account's wallet (cross), both **without** unrealised PnL: the workbook adds the PnL at the mark
itself. ccxt's unified ``collateral`` already includes unrealised PnL on Binance, OKX, Bybit, Gate
and Hyperliquid, so it is never used as is. Each venue's raw payload (ccxt's ``info``) says what
the exchange holds; where ccxt derives a figure from rounded numbers (Gate's and Hyperliquid's
maintenance rate, OKX's margin ratio) the raw figure or the tier table is used instead.

Sources, per venue (the raw field names are the exchanges' documented API fields):

* Binance USD-M / COIN-M ``GET /fapi/v2/positionRisk``, ``/dapi/v1/positionRisk``: isolated
  margin without PnL = ``isolatedWallet`` (= ``isolatedMargin - unRealizedProfit``); cross wallet =
  ``crossWalletBalance`` of the margin asset in ``GET /fapi/v2/account`` (``assets``).
* Bybit v5 ``GET /v5/position/list``: ``positionBalance`` (isolated margin incl. the fee to
  close, without PnL), ``tradeMode`` 0 cross / 1 isolated (classic accounts); Unified Trading
  Account: the mode is the account's (``GET /v5/account/info`` ``marginMode``), the wallet is
  the settle coin's ``walletBalance`` in ``GET /v5/account/wallet-balance``.
* OKX ``GET /api/v5/account/positions``: ``margin`` (isolated, without ``upl``), ``mgnMode``;
  cross wallet = the settle currency's ``cashBal`` in ``GET /api/v5/account/balance``.
* Gate ``GET /futures/{settle}/positions``: ``margin`` (without PnL), ``maintenance_rate``,
  ``leverage`` 0 = cross; cross wallet = ``total`` of ``GET /futures/{settle}/accounts``.
* Hyperliquid ``info`` ``clearinghouseState``: ``marginUsed`` includes PnL for isolated
  positions; ``maxLeverage`` gives the maintenance rate 1 / (2 x max leverage).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from riskfuncs.margin import unrealized_pnl
from riskfuncs.venues import parse_symbol, rule_for_venue, venue_name

__all__ = [
    "CcxtPosition", "ExportError", "Market", "parse_position", "read_number", "wallet_of",
]


class ExportError(ValueError):
    """An export file cannot be turned into workbook inputs; the message says where."""


@dataclass(frozen=True)
class Market:
    """The facts of one market a position needs (from ccxt ``exchange.market(symbol)``)."""

    symbol: str
    base: str
    quote: str
    settle: str
    contract: str  # "linear" or "inverse"
    contract_size: float | None = None
    taker: float | None = None
    expiry: str | None = None

    @classmethod
    def from_symbol(cls, symbol: str, contract: str | None = None) -> Market:
        """The market as far as a symbol tells (:func:`riskfuncs.venues.parse_symbol`: ccxt
        unified ``BTC/USDT:USDT``, ``BTC/USD:BTC``, ``ETH/USD:ETH-210430``, and exchange ids
        such as ``BTCUSDT`` or ``BTC-USDT-SWAP``)."""
        try:
            parsed = parse_symbol(symbol, contract)
        except ValueError as exc:
            raise ExportError(str(exc)) from None
        kind = contract if contract in ("linear", "inverse") else parsed.contract
        return cls(symbol, parsed.base, parsed.quote, parsed.settle, kind,
                   expiry=parsed.expiry)

    @classmethod
    def from_ccxt(cls, market: Mapping[str, Any]) -> Market:
        symbol = str(market.get("symbol") or "")
        guess = cls.from_symbol(symbol)
        inverse = market.get("inverse")
        contract = ("inverse" if inverse is True else "linear" if market.get("linear") is True
                    else guess.contract)
        size = _float(market.get("contractSize"))
        expiry = market.get("expiryDatetime") or market.get("expiry") or guess.expiry
        return cls(symbol, str(market.get("base") or guess.base).upper(),
                   str(market.get("quote") or guess.quote).upper(),
                   str(market.get("settle") or guess.settle).upper(), contract, size,
                   _float(market.get("taker")), None if expiry in (None, "") else str(expiry))


@dataclass
class CcxtPosition:
    """One ccxt position turned into workbook inputs, and where each figure came from."""

    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _float(value: Any) -> float | None:
    """A finite float from a ccxt or raw field; None for missing, empty, non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def read_number(value: Any, where: str, name: str, *, required: bool = False) -> float | None:
    """A finite number from an export field; None when blank (or NaN and not required).

    Text that is no number, a boolean, or an infinite value is refused, naming ``where`` and
    ``name``: nothing is silently read as zero or one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ExportError(f"{where}: {name} is missing; expected a number")
        return None
    if isinstance(value, bool):
        raise ExportError(f"{where}: {name} is {value!r}; expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ExportError(f"{where}: {name} is {value!r}; expected a number") from None
    except OverflowError:
        raise ExportError(f"{where}: {name} is {value!r}; expected a finite number") from None
    if math.isnan(number):
        if required:
            raise ExportError(f"{where}: {name} is missing; expected a number")
        return None
    if not math.isfinite(number):
        raise ExportError(f"{where}: {name} is {value!r}; expected a finite number")
    return number


def _info(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    info = raw.get("info")
    if not isinstance(info, Mapping):
        return {}
    # Hyperliquid nests the position one level down.
    nested = info.get("position")
    return nested if isinstance(nested, Mapping) else info


def _side(raw: Mapping[str, Any], info: Mapping[str, Any], contracts: float | None,
          where: str) -> tuple[str, list[str]]:
    notes: list[str] = []
    side = str(raw.get("side") or "").strip().lower()
    side = {"buy": "long", "sell": "short"}.get(side, side)
    if side in ("long", "short"):
        if contracts is not None and contracts < 0 and side == "long":
            raise ExportError(f"{where}: side is long but contracts is {contracts:g}; a negative "
                              "size is a short: fix the export")
        if contracts is not None and contracts < 0:
            notes.append(f"{where}: contracts {contracts:g} with side short; size taken as "
                         f"{abs(contracts):g}")
        return side, notes
    if side:
        raise ExportError(f"{where}: side is {raw.get('side')!r}; expected long or short")
    # ccxt leaves side empty on some payloads (Binance hedge-mode rows without notional):
    # the raw position side, else the sign of the raw size.
    hedge = str(info.get("positionSide") or info.get("posSide") or "").strip().lower()
    if hedge in ("long", "short"):
        return hedge, notes
    for key in ("positionAmt", "szi", "pos", "size"):
        signed = _float(info.get(key))
        if signed:
            return ("long" if signed > 0 else "short"), notes
    if contracts:
        notes.append(f"{where}: no side given; contracts {contracts:g} read as "
                     f"{'long' if contracts > 0 else 'short'}")
        return ("long" if contracts > 0 else "short"), notes
    raise ExportError(f"{where}: side is missing; expected long or short")


def _margin_mode(raw: Mapping[str, Any], info: Mapping[str, Any], rule: str,
                 account: Mapping[str, Any], where: str) -> tuple[str, str]:
    """(mode, where it came from)."""
    mode = str(raw.get("marginMode") or raw.get("marginType") or "").strip().lower()
    if mode:
        source = "ccxt marginMode"
    else:
        source = "exchange payload"
        trade_mode = info.get("tradeMode")
        leverage_type = info.get("leverage")
        if rule == "bybit" and str(account.get("type") or "").lower() == "unified":
            account_mode = str(account.get("marginMode") or "").upper()
            mode = "isolated" if account_mode == "ISOLATED_MARGIN" else "cross"
            source = f"Bybit unified account ({account_mode or 'REGULAR_MARGIN'})"
        elif rule == "bybit" and trade_mode not in (None, ""):
            mode = "isolated" if str(trade_mode) == "1" else "cross"
        elif isinstance(leverage_type, Mapping) and leverage_type.get("type"):
            mode = str(leverage_type["type"]).lower()
        elif info.get("mgnMode"):
            mode = str(info["mgnMode"]).lower()
        elif info.get("marginType"):
            mode = str(info["marginType"]).lower()
        elif isinstance(info.get("isolated"), bool):
            mode = "isolated" if info["isolated"] else "cross"
        elif rule == "gate" and _float(info.get("leverage")) is not None:
            mode = "cross" if _float(info.get("leverage")) == 0 else "isolated"
        elif rule == "bybit" and info:
            mode, source = "cross", "Bybit unified account (cross by default)"
        elif not info:
            # A hand-written export: blank means isolated, as in the workbook.
            return "isolated", "default (no marginMode given)"
    mode = "cross" if mode == "crossed" else mode
    if mode not in ("isolated", "cross"):
        raise ExportError(f"{where}: marginMode is {mode or 'missing'!r}; expected isolated or "
                          "cross (give marginMode in the export)")
    return mode, source


def _isolated_margin(raw: Mapping[str, Any], info: Mapping[str, Any], rule: str,
                     where: str) -> tuple[float | None, str]:
    """The isolated margin without unrealised PnL, and the field it came from."""
    upnl = _float(raw.get("unrealizedPnl"))
    if rule == "binance":
        wallet = _float(info.get("isolatedWallet"))
        if wallet:
            return wallet, "Binance isolatedWallet"
        margin, pnl = _float(info.get("isolatedMargin")), _float(info.get("unRealizedProfit"))
        if margin is not None and pnl is not None:
            return margin - pnl, "Binance isolatedMargin - unRealizedProfit"
    elif rule == "bybit":
        balance = _float(info.get("positionBalance"))
        if balance:
            return balance, "Bybit positionBalance"
    elif rule in ("okx", "gate"):
        margin = _float(info.get("margin"))
        if margin:
            return margin, f"{'OKX' if rule == 'okx' else 'Gate'} margin"
    elif rule == "hyperliquid":
        used, pnl = _float(info.get("marginUsed")), _float(info.get("unrealizedPnl"))
        if used is not None and pnl is not None:
            return used - pnl, "Hyperliquid marginUsed - unrealizedPnl"
    margin = _float(raw.get("positionMargin"))
    if margin is not None and margin > 0:
        return margin, "ccxt positionMargin"
    collateral = _float(raw.get("collateral"))
    if collateral is not None and upnl is not None:
        return collateral - upnl, "ccxt collateral - unrealizedPnl"
    if collateral is not None:
        return collateral, "collateral (ccxt: includes unrealised PnL)"
    return None, ""


def wallet_of(rule: str, balance: Mapping[str, Any] | None, settle: str,
              account: Mapping[str, Any] | None = None) -> tuple[float | None, str]:
    """The cross wallet (without unrealised PnL) of ``settle`` from a ccxt ``fetch_balance``
    result, read from the exchange's raw payload (``info``); (None, "") when it is not there."""
    if not isinstance(balance, Mapping):
        return None, ""
    info = balance.get("info")
    settle = settle.upper()
    if rule == "binance" and isinstance(info, Mapping):
        for asset in info.get("assets") or ():
            if isinstance(asset, Mapping) and str(asset.get("asset", "")).upper() == settle:
                wallet = _float(asset.get("crossWalletBalance"))
                if wallet is None:
                    wallet = _float(asset.get("walletBalance"))
                if wallet is not None:
                    return wallet, f"Binance {settle} crossWalletBalance"
    if rule == "bybit" and isinstance(info, Mapping):
        result = info.get("result") if isinstance(info.get("result"), Mapping) else info
        for item in (result or {}).get("list") or ():
            for coin in item.get("coin") or () if isinstance(item, Mapping) else ():
                if isinstance(coin, Mapping) and str(coin.get("coin", "")).upper() == settle:
                    kind = str(item.get("accountType") or "").upper()
                    unified = _bybit_unified_wallet(item, coin)
                    if unified is not None:
                        return unified, (f"Bybit UNIFIED margin balance (every collateral coin "
                                         f"after its haircut) less perp uPnL, in {settle}")
                    wallet = _float(coin.get("walletBalance"))
                    if wallet is not None:
                        return wallet, f"Bybit {kind or 'account'} {settle} walletBalance"
    if rule == "okx" and isinstance(info, Mapping):
        for item in info.get("data") or ():
            for detail in item.get("details") or () if isinstance(item, Mapping) else ():
                if isinstance(detail, Mapping) and str(detail.get("ccy", "")).upper() == settle:
                    wallet = _float(detail.get("cashBal"))
                    if wallet is not None:
                        return wallet, f"OKX {settle} cashBal"
    if rule == "gate":
        items = info if isinstance(info, list) else [info]
        for item in items:
            if isinstance(item, Mapping) and str(item.get("currency", "")).upper() == settle:
                wallet = _float(item.get("total"))
                if wallet is not None:
                    return wallet, f"Gate {settle} futures account total"
    if rule == "hyperliquid" and isinstance(info, Mapping):
        summary = info.get("crossMarginSummary") or info.get("marginSummary")
        if isinstance(summary, Mapping) and settle == "USDC":
            value = _float(summary.get("accountValue"))
            upnl = 0.0
            for item in info.get("assetPositions") or ():
                position = item.get("position") if isinstance(item, Mapping) else None
                if not isinstance(position, Mapping):
                    continue
                leverage = position.get("leverage")
                if isinstance(leverage, Mapping) and leverage.get("type") == "cross":
                    upnl += _float(position.get("unrealizedPnl")) or 0.0
            if value is not None:
                return value - upnl, "Hyperliquid accountValue - cross unrealizedPnl"
    return None, ""


def _bybit_unified_wallet(account: Mapping[str, Any], coin: Mapping[str, Any]) -> float | None:
    """A Bybit Unified Trading Account's cross wallet in the settle coin: Bybit's own margin
    balance (every collateral coin at its USD index price x collateral value ratio, plus perp
    uPnL) less the perp uPnL, converted at the coin's USD price (usdValue / equity). The
    workbook adds the positions' PnL itself. None when the payload lacks these totals."""
    if str(account.get("accountType") or "").upper() != "UNIFIED":
        return None
    balance = _float(account.get("totalMarginBalance"))
    upl = _float(account.get("totalPerpUPL"))
    usd, equity = _float(coin.get("usdValue")), _float(coin.get("equity"))
    if balance is None or upl is None or not usd or not equity:
        return None
    return (balance - upl) / (usd / equity)


def _exchange_liquidation_price(raw: Mapping[str, Any], info: Mapping[str, Any],
                                rule: str) -> float | None:
    """The liquidation price the exchange itself reported (None when it reported none).

    Read from the raw payload: ccxt fills a missing one with its own estimate on some venues,
    which is not the exchange's figure."""
    raw_key = {"binance": "liquidationPrice", "bybit": "liqPrice", "okx": "liqPx",
               "gate": "liq_price", "hyperliquid": "liquidationPx"}.get(rule)
    value = _float(info.get(raw_key)) if raw_key and info else _float(raw.get("liquidationPrice"))
    return value if value is not None and value > 0 else None


def _maintenance_rate(raw: Mapping[str, Any], info: Mapping[str, Any], rule: str,
                      where: str) -> tuple[float | None, str]:
    if rule == "gate":
        rate = _float(info.get("maintenance_rate"))
        if rate is not None:
            return rate, "Gate maintenance_rate"
    if rule == "bybit":
        mm, value = _float(info.get("positionMM")), _float(info.get("positionValue"))
        if mm and value:
            return mm / value, "Bybit positionMM / positionValue"
    for key in ("maintenanceMarginPercentage", "maintenanceMarginRate"):
        rate = read_number(raw.get(key), where, key)
        if rate is not None:
            return rate, f"ccxt {key} (derived by ccxt; give tiers for the exact rate)"
    return None, ""


def parse_position(raw: Mapping[str, Any], *, venue: str, where: str,
                   market: Market | None = None, account: Mapping[str, Any] | None = None,
                   fee_rate: float | None = None) -> CcxtPosition | None:
    """One ccxt ``Position`` (with its ``info``) as workbook inputs; None for a flat position.

    ``venue`` is shown as :func:`venue_name` gives it (a ccxt id becomes its venue's name, any
    other venue is kept as given); its rule is :func:`rule_for_venue`.
    Cross positions get their wallet later, per account (:func:`wallet_of`).
    """
    account = account or {}
    rule = rule_for_venue(venue)
    info = _info(raw)
    symbol = str(raw.get("symbol") or "").strip()
    if not symbol:
        raise ExportError(f"{where}: symbol is missing; expected e.g. BTC/USDT:USDT")
    contracts = read_number(raw.get("contracts"), where, "contracts", required=True)
    assert contracts is not None
    if contracts == 0:
        return None
    side, notes = _side(raw, info, contracts, where)
    if market is None:
        kind = str(raw.get("contractType") or "").strip().lower()
        if kind not in ("linear", "inverse"):
            flags = {str(raw.get(k, "")).lower() for k in ("inverse",)}
            kind = "inverse" if flags & {"true", "1"} else ""
        try:
            market = Market.from_symbol(symbol, kind or None)
        except ExportError as exc:
            raise ExportError(f"{where}: {exc}") from None
    if market.expiry:
        notes.append(f"{where}: {symbol} is a dated future (expiry {market.expiry}): it pays no "
                     "funding; its margin and liquidation are valued like a perpetual's")
    size_field = raw.get("contractSize")
    contract_size = read_number(size_field, where, "contractSize")
    if contract_size is None and not (
            size_field is None or (isinstance(size_field, str) and not size_field.strip())):
        # NaN: a size the export gives but that is no number is never replaced by 1.
        raise ExportError(f"{where}: contractSize is {size_field!r}; expected a number > 0")
    if contract_size is None:
        contract_size = market.contract_size if market.contract_size is not None else 1.0
    if contract_size <= 0:
        raise ExportError(f"{where}: contractSize is {size_field!r}; expected a number > 0")
    mode, mode_source = _margin_mode(raw, info, rule, account, where)
    sources = {"margin_mode": mode_source}
    values: dict[str, Any] = {
        "exchange": venue_name(venue), "symbol": symbol, "contract": market.contract, "side": side,
        "size": abs(contracts) * contract_size,
        "entry_price": read_number(raw.get("entryPrice"), where, "entryPrice", required=True),
        "mark_price": read_number(raw.get("markPrice"), where, "markPrice"),
        "margin_mode": mode,
        # Gate reports leverage 0 for a cross position: no leverage setting, not zero.
        "leverage": read_number(raw.get("leverage"), where, "leverage") or None,
        "stop_price": _stop(raw, where),
        "exchange_liquidation_price": _exchange_liquidation_price(raw, info, rule),
    }
    if values["mark_price"] is None:
        raise ExportError(f"{where}: markPrice is missing; fetch the mark price (perprisk fetch "
                          "does) or add markPrice to the export")
    if mode == "isolated":
        margin, source = _isolated_margin(raw, info, rule, where)
        if margin is None:
            raise ExportError(f"{where}: the isolated margin is missing; expected positionMargin "
                              "(or collateral and unrealizedPnl)")
        if source.startswith("collateral (ccxt"):
            # ccxt's collateral is margin + unrealised PnL: take the PnL at the mark out.
            pnl = float(unrealized_pnl(side, values["entry_price"], values["mark_price"],
                                       values["size"],
                                       contract="inverse" if market.contract == "inverse"
                                       else "linear"))
            margin -= pnl
            source = "ccxt collateral - unrealised PnL at the mark"
            notes.append(f"{where}: collateral {margin + pnl:g} read as ccxt's collateral "
                         f"(margin + unrealised PnL {pnl:+g}); margin {margin:g} written (give "
                         "positionMargin to set the margin itself)")
        values["collateral"], sources["collateral"] = margin, source
    rate, rate_source = _maintenance_rate(raw, info, rule, where)
    okx_mm = _float(info.get("mmr")) if rule == "okx" else None
    if okx_mm:
        # OKX's mmr is the maintenance margin at the mark; ccxt rounds the rate to 0.01%.
        size, mark = values["size"], values["mark_price"]
        value = size / mark if market.contract == "inverse" else size * mark
        rate, rate_source = okx_mm / value, "OKX mmr / position value at the mark"
    values["maintenance_margin_rate"] = rate
    if rate_source:
        sources["maintenance_margin_rate"] = rate_source
    if rule == "hyperliquid":
        values["max_leverage"] = _float(info.get("maxLeverage"))
        if values["max_leverage"]:
            values["maintenance_margin_rate"] = None
            sources["maintenance_margin_rate"] = "Hyperliquid 1 / (2 x maxLeverage)"
    else:
        values["max_leverage"] = read_number(raw.get("maxLeverage"), where, "maxLeverage")
    given_fee = read_number(raw.get("feeRate"), where, "feeRate")
    if given_fee is not None:
        values["fee_rate"], sources["fee_rate"] = given_fee, "export feeRate"
    elif fee_rate is not None:
        values["fee_rate"], sources["fee_rate"] = fee_rate, "market taker fee"
    return CcxtPosition(values, sources, notes)


def _stop(raw: Mapping[str, Any], where: str) -> float | None:
    """The stop-loss price; 0, empty or missing is "no stop"."""
    for key in ("stopLossPrice", "stopLoss"):
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        number = read_number(value, where, key)
        if number is None or number == 0:
            return None
        if number < 0:
            raise ExportError(f"{where}: {key} is {value!r}; expected a price > 0 (or empty "
                              "for no stop)")
        return number
    return None


def tier_for_contracts(tiers: Sequence[Mapping[str, Any]], contracts: float,
                       where: str) -> Mapping[str, Any]:
    """The OKX tier a position is in: OKX tiers are bounded by position size in contracts
    (ccxt's ``minNotional``/``maxNotional`` hold contracts for OKX) and the whole position
    is charged at its tier's rate (OKX 'Tiered maintenance margin ratio rules')."""
    size = abs(contracts)
    ordered = sorted(tiers, key=lambda t: _float(t.get("minNotional")) or 0.0)
    for tier in ordered:
        low = _float(tier.get("minNotional")) or 0.0
        high = _float(tier.get("maxNotional"))
        if low <= size and (high is None or size <= high):
            return tier
    if ordered and size > (_float(ordered[-1].get("maxNotional")) or math.inf):
        raise ExportError(f"{where}: {size:g} contracts is above the last tier "
                          f"({ordered[-1].get('maxNotional')}); the tier table is incomplete")
    raise ExportError(f"{where}: no tier holds {size:g} contracts")
