"""Liquidation ladders: Hyperliquid's 20% slices, Bybit's risk-limit step-down, and one step
where the venue's partial rule depends on the order book (Binance) or is unpublished (OKX)."""

from __future__ import annotations

from typing import Any

import pytest

from riskfuncs import RiskInputError, liquidation_price, liquidation_steps

BYBIT_TIERS: list[dict[str, Any]] = [
    {"minNotional": 0, "maxNotional": 200_000, "maintenanceMarginRate": 0.005,
     "info": {"mmDeduction": "0"}},
    {"minNotional": 200_000, "maxNotional": 400_000, "maintenanceMarginRate": 0.01,
     "maintenanceAmount": 1_000},
    {"minNotional": 400_000, "maxNotional": 600_000, "maintenanceMarginRate": 0.015,
     "maintenanceAmount": 3_000},
]


def test_hyperliquid_small_positions_go_whole() -> None:
    (step,) = liquidation_steps("long", 2_000, 10, 1_000, exchange="hyperliquid",
                                max_leverage=20)
    assert step.price == liquidation_price("long", 2_000, 10, 1_000, exchange="hyperliquid",
                                           max_leverage=20)
    assert (step.closed, step.remaining) == (10, 0)


@pytest.mark.parametrize("side", ["long", "short"])
def test_hyperliquid_large_positions_lose_20_percent_first(side: str) -> None:
    first, rest = liquidation_steps(side, 100_000, 2, 10_000, exchange="hyperliquid",
                                    max_leverage=40)
    lp = liquidation_price(side, 100_000, 2, 10_000, exchange="hyperliquid", max_leverage=40)
    assert first.price == pytest.approx(lp, rel=1e-15)
    assert (first.closed, first.remaining) == pytest.approx((0.4, 1.6))
    # The slice's loss leaves the margin; the rest keeps the remainder, with less maintenance.
    sign = 1 if side == "long" else -1
    margin = 10_000 + sign * 0.4 * (lp - 100_000)
    expected = liquidation_price(side, 100_000, 1.6, margin, exchange="hyperliquid",
                                 max_leverage=40)
    assert rest.price == pytest.approx(expected, rel=1e-15)
    assert sign * (lp - rest.price) > 0  # further away, in the adverse direction
    assert "30 s" in rest.note and rest.remaining == 0


def test_bybit_steps_down_one_risk_limit_tier_at_a_time() -> None:
    # 10 BTC long at 50,000 (500,000: tier 3) with 60,000 margin. Entry-value maintenance:
    # tier 3: 60,000 + 10 (P - 50,000) = 500,000 x 1.5% - 3,000  ->  P = 44,450, cut to 8 BTC;
    # tier 2: 48,900 + 8 (P - 50,000) = 400,000 x 1% - 1,000    ->  P = 44,262.5, cut to 4 BTC;
    # tier 1: 25,950 + 4 (P - 50,000) = 200,000 x 0.5%          ->  P = 43,762.5.
    steps = liquidation_steps("long", 50_000, 10, 60_000, exchange="bybit", tiers=BYBIT_TIERS)
    assert [(s.price, s.closed, s.remaining) for s in steps] == [
        pytest.approx((44_450, 2, 8)), pytest.approx((44_262.5, 4, 4)),
        pytest.approx((43_762.5, 4, 0))]
    assert steps[0].price == pytest.approx(liquidation_price(
        "long", 50_000, 10, 60_000, exchange="bybit", tiers=BYBIT_TIERS), rel=1e-15)
    assert "tier 2" in steps[0].note and "bankruptcy" in steps[-1].note
    with pytest.raises(RiskInputError, match="tiers"):
        liquidation_steps("long", 50_000, 10, 60_000, exchange="bybit",
                          maintenance_margin_rate=0.005)


def test_binance_says_the_order_book_decides() -> None:
    (step,) = liquidation_steps("short", 3_000, 100, 30_000, exchange="binanceusdm",
                                maintenance_margin_rate=0.005)
    assert step.price == liquidation_price("short", 3_000, 100, 30_000, exchange="binance",
                                           maintenance_margin_rate=0.005)
    assert "order book" in step.note


def test_okx_tier_reduction_is_named_unpublished() -> None:
    # OKX publishes that a tiered position may be liquidated in part, not how much is cut.
    tiers: list[dict[str, Any]] = [
        {"minNotional": 0, "maxNotional": 200_000, "maintenanceMarginRate": 0.004},
        {"minNotional": 200_000, "maxNotional": 1_000_000, "maintenanceMarginRate": 0.006,
         "maintenanceAmount": 400}]
    (step,) = liquidation_steps("long", 50_000, 10, 60_000, exchange="okx", tiers=tiers)
    assert step.price == liquidation_price("long", 50_000, 10, 60_000, exchange="okx",
                                           tiers=tiers)
    assert (step.closed, step.remaining) == (10, 0)
    assert "does not publish" in step.note and "tier" in step.note
