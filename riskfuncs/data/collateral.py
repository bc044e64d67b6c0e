"""Collateral haircut tables as published by the venues, each with its venue, date and source.

A table gives, for one coin on one venue, the share of each slice of a balance that counts as
margin (Bybit "Collateral Value Ratio", OKX "discount rate", Binance "collateral rate"). Its
tiers are in coin units (``minAmount`` / ``maxAmount``: Bybit, OKX) or in USD value
(``minValue`` / ``maxValue``: Binance Portfolio Margin Pro, whose tiers are "Floor (USD)" and
"Cap (USD)"). An open last tier has no upper bound (``None``).

These are the tables the venues printed on the pages named with each; venues change them often
and without notice, so read the live list through the venue's API (Bybit
``GET /v5/spot-margin-trade/collateral``, OKX ``GET /api/v5/public/discount-rate-interest-free-
quota``, Binance ``GET /sapi/v2/portfolio/collateralRate``) with
:func:`riskfuncs.accounts.parse_collateral_tiers` for a live account. Retrieved 1 December 2026
from stored copies of the pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["COLLATERAL_TABLES", "CollateralTable"]

TierUnit = Literal["coin", "usd"]


@dataclass(frozen=True)
class CollateralTable:
    """One venue's haircut tiers for one coin.

    Attributes
    ----------
    venue : str
        The account mode the table belongs to (a key of :data:`riskfuncs.accounts.MODES`, or
        ``"binance_portfolio_pro"`` for Binance Portfolio Margin Pro).
    coin : str
    unit : {"coin", "usd"}
        What the tier bounds measure: coins held, or their USD value.
    bounds : tuple of (lower, upper or None, ratio)
        The tiers, lowest first; ``ratio`` a fraction in [0, 1].
    effective : str
        The date the page gives for the table (ISO), or ``""`` where the page gives none.
    source : str
        Title and address of the page.
    note : str
        What kind of table it is (a live list, an announcement, an example on a help page).
    """

    venue: str
    coin: str
    unit: TierUnit
    bounds: tuple[tuple[float, float | None, float], ...]
    effective: str
    source: str
    note: str = ""

    def tiers(self) -> list[dict[str, float | None]]:
        """The tiers as records for :func:`riskfuncs.collateral_value`."""
        low_key, high_key = ("minAmount", "maxAmount") if self.unit == "coin" \
            else ("minValue", "maxValue")
        return [{low_key: low, high_key: high, "ratio": ratio}
                for low, high, ratio in self.bounds]


RETRIEVED = "2026-12-01"

_BYBIT_HELP = ("Bybit help 'Understanding Collateral Value Ratios in Unified Trading Account' "
               "(Assets-Collateral-Value-Ratio-List-UTA), last updated 2025-09-18, "
               "https://testnet.bytick.com/en/help-center/article/"
               "Assets-Collateral-Value-Ratio-List-UTA")
_OKX_HELP = ("OKX help 'Multi-currency margin mode: cross margin trading' tiered discount "
             "example (100 BTC at 60,000 = 5,785,500 USD), as reproduced from the page, "
             "https://www.okx.com/help/iv-multi-currency-margin-mode-cross-margin-trading")
_BINANCE_PM_NOTICE = ("Binance announcement 'Update on the Collateral Ratio Under Portfolio "
                      "Margin and the Leverage & Margin Tiers of USDⓈ-M Perpetual Contracts' "
                      "(October 2025), https://www.binance.bh/fr-AF/square/post/31226871128514")
_BINANCE_MA_FAQ = ("Binance FAQ 'Multi-Assets Mode' collateral value ratios, "
                   "https://www.binance.com/en/support/faq/29b45c485d664028b9ca1cdf90b24f6f")

#: Binance PM Pro tiers after 2025-10-24 06:00 UTC, shared by several coins (USD value;
#: the announcement's last cap 99,999,999,999 is read as open).
_PM_PRO_RANK_8 = ((0.0, 200_000.0, 1.0), (200_000.0, 400_000.0, 0.8),
                  (400_000.0, 800_000.0, 0.7), (800_000.0, 1_000_000.0, 0.4),
                  (1_000_000.0, None, 0.2))
_PM_PRO_RANK_10 = ((0.0, 50_000.0, 1.0), (50_000.0, 100_000.0, 0.8),
                   (100_000.0, 200_000.0, 0.5), (200_000.0, 400_000.0, 0.2),
                   (400_000.0, None, 0.1))


def _flat(venue: str, ratios: Mapping[str, float], effective: str, source: str,
          note: str) -> list[CollateralTable]:
    return [CollateralTable(venue, coin, "coin", ((0.0, None, ratio),), effective, source, note)
            for coin, ratio in ratios.items()]


#: Every stored table, keyed by (venue, coin).
COLLATERAL_TABLES: Mapping[tuple[str, str], CollateralTable] = {
    (t.venue, t.coin): t for t in [
        CollateralTable(
            "bybit_uta", "BTC", "coin",
            ((0.0, 10.0, 0.98), (10.0, 20.0, 0.95), (20.0, 30.0, 0.90), (30.0, 40.0, 0.85),
             (40.0, 50.0, 0.80), (50.0, None, 0.0)),
            "2025-09-18", _BYBIT_HELP,
            "the tiers of the page's worked example ('Assume the tiered value rates of BTC "
            "and USDT are shown as follows'); the live list is on Bybit's collateral page"),
        CollateralTable("bybit_uta", "USDT", "coin", ((0.0, None, 1.0),), "2025-09-18",
                        _BYBIT_HELP, "the page's worked example"),
        CollateralTable(
            "okx_multi_currency", "BTC", "coin",
            ((0.0, 20.0, 0.98), (20.0, 25.0, 0.975), (25.0, 30.0, 0.97), (30.0, 50.0, 0.965),
             (50.0, 70.0, 0.96), (70.0, 90.0, 0.955), (90.0, 110.0, 0.95)),
            "", _OKX_HELP,
            "the tiers of the help page's example; past 110 BTC the page gives no tier, so "
            "the excess counts at 0"),
        *[CollateralTable("binance_portfolio_pro", coin, "usd", _PM_PRO_RANK_8, "2025-10-24",
                          _BINANCE_PM_NOTICE, "PM Pro tiered collateral ratio, rank 8")
          for coin in ("ORDI", "FIL")],
        *[CollateralTable("binance_portfolio_pro", coin, "usd", _PM_PRO_RANK_10, "2025-10-24",
                          _BINANCE_PM_NOTICE, "PM Pro tiered collateral ratio, rank 10")
          for coin in ("NOT", "GALA", "GMT", "EGLD", "THETA", "XTZ")],
        *_flat("binance_portfolio",
               {"PAXG": 0.60, "GALA": 0.40, "VET": 0.40, "GMT": 0.30, "QNT": 0.30, "XTZ": 0.25,
                "EGLD": 0.30, "FLOW": 0.20, "IOTX": 0.10, "KAVA": 0.10, "IOTA": 0.15},
               "2025-10-21", _BINANCE_PM_NOTICE,
               "Portfolio Margin collateral ratio after the October 2025 update"),
        *_flat("binance_multi_assets",
               {"BTC": 0.95, "ETH": 0.95, "BNB": 0.95, "XRP": 0.90, "ADA": 0.90, "DOT": 0.90,
                "SOL": 0.90, "USDT": 0.9999, "BUSD": 1.0},
               "", _BINANCE_MA_FAQ,
               "the ratios the FAQ lists (undated; Binance has changed them since)"),
    ]
}
