"""Margin, PnL, ratios, tiers and funding: reference values, properties and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskfuncs import (
    RiskInputError,
    cumulative_funding,
    distance_to_liquidation,
    funding_payment,
    funding_rate,
    initial_margin,
    liquidation_price,
    liquidation_price_after_funding,
    maintenance_margin,
    margin_buffer,
    margin_ratio,
    max_leverage,
    max_leverage_for_move,
    notional,
    tier_for_notional,
    unrealized_pnl,
)

OLD_BINANCE_BRACKETS = [  # Binance FAQ "Leverage and Margin of USDⓈ-M Futures" (2021 table)
    {"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004, "maxLeverage": 125},
    {
        "minNotional": 50_000,
        "maxNotional": 250_000,
        "maintenanceMarginRate": 0.005,
        "maxLeverage": 100,
    },
    {
        "minNotional": 250_000,
        "maxNotional": 1_000_000,
        "maintenanceMarginRate": 0.01,
        "maxLeverage": 50,
    },
]


def test_binance_bracket_examples() -> None:
    # FAQ: a 264,000 USDT position is in the 1% bracket; "Level 3" cum = 250,000 x 0.5% + 50.
    assert tier_for_notional(264_000, OLD_BINANCE_BRACKETS) == 3.0
    assert maintenance_margin(1, 264_000, tiers=OLD_BINANCE_BRACKETS) == pytest.approx(
        264_000 * 0.01 - 1_300
    )
    assert max_leverage(264_000, OLD_BINANCE_BRACKETS) == 50.0


def test_maintenance_margin_is_continuous_across_tiers() -> None:
    below = maintenance_margin(1, 250_000 - 1e-6, tiers=OLD_BINANCE_BRACKETS)
    above = maintenance_margin(1, 250_000, tiers=OLD_BINANCE_BRACKETS)
    assert above == pytest.approx(below, abs=1e-6)


def test_inverse_units() -> None:
    # Binance COIN-M FAQ: 100 contracts x 100 USD at mark 25,000 = 0.4 BTC; MM at 0.4% = 0.0016.
    assert notional(10_000, 25_000, contract="inverse") == pytest.approx(0.4)
    assert maintenance_margin(
        10_000, 25_000, contract="inverse", maintenance_margin_rate=0.004
    ) == pytest.approx(0.0016)
    # Bybit: 12,000 contracts at 8,000 with 50x need 0.03 BTC of initial margin.
    assert initial_margin(12_000, 8_000, leverage=50, contract="inverse") == pytest.approx(0.03)
    # BitMEX: 15,000 XBTUSD long 750 -> 800 gains 1.25 XBT.
    assert unrealized_pnl("long", 750, 800, 15_000, contract="inverse") == pytest.approx(1.25)


def test_ratios_and_distance() -> None:
    assert margin_ratio(50, 200) == 0.25
    assert margin_ratio(50, -1) == np.inf
    assert margin_ratio(50, 200, convention="balance/maintenance") == 4.0
    assert margin_buffer(130, 100) == pytest.approx(0.30)
    assert distance_to_liquidation("long", 100, 88) == pytest.approx(0.12)
    assert distance_to_liquidation("short", 100, 110) == pytest.approx(0.10)


@settings(max_examples=200, deadline=None)
@given(
    move=st.just(0.0) | st.floats(1e-4, 0.9),
    mmr=st.just(0.0) | st.floats(1e-4, 0.05),
    buffer=st.floats(0.0, 1.0),
    side=st.sampled_from(["long", "short"]),
    contract=st.sampled_from(["linear", "inverse"]),
)
def test_max_leverage_for_move_leaves_exactly_the_buffer(
    move: float, mmr: float, buffer: float, side: str, contract: str
) -> None:
    leverage = max_leverage_for_move(
        move, side=side, maintenance_margin_rate=mmr, buffer=buffer, contract=contract
    )
    if not np.isfinite(leverage):
        assert move == 0 and mmr == 0
        return
    entry, qty = 100.0, (1.0 if contract == "linear" else 100.0)
    moved = entry * (1 - move) if side == "long" else entry * (1 + move)
    collateral = notional(qty, entry, contract=contract) / leverage
    balance = collateral + unrealized_pnl(side, entry, moved, qty, contract=contract)
    requirement = maintenance_margin(qty, moved, contract=contract, maintenance_margin_rate=mmr)
    assert balance == pytest.approx((1 + buffer) * requirement, rel=1e-9, abs=1e-12)


def test_funding_rate_and_payments() -> None:
    # Binance funding FAQ: with |I - P| <= 0.05% the rate equals the 0.01% interest rate.
    assert funding_rate(0.0004) == pytest.approx(0.0001)
    assert funding_rate(-0.0010) == pytest.approx(-0.0005)
    assert funding_rate(0.05, cap=0.003) == pytest.approx(0.003)
    assert funding_payment("long", 2, 30_000, 0.0001) == pytest.approx(-6.0)
    assert funding_payment("short", 2, 30_000, 0.0001) == pytest.approx(6.0)
    index = pd.date_range("2025-01-01", periods=3, freq="8h")
    running = cumulative_funding(
        "short",
        1,
        pd.Series([100.0, 110, 90], index=index),
        pd.Series([0.01, 0.02, -0.01], index=index),
    )
    assert isinstance(running, pd.Series) and running.index.equals(index)
    np.testing.assert_allclose(running.to_numpy(), [1.0, 3.2, 2.3])


def test_funding_moves_isolated_liquidation_as_margin_does() -> None:
    before = liquidation_price("long", 20_000, 1, 1_000, maintenance_margin_rate=0.004)
    after = liquidation_price_after_funding(
        "long", 20_000, 1, 1_000, [20_000, 20_000], [0.005, 0.005], maintenance_margin_rate=0.004
    )
    # 200 USDT paid: the liquidation-price rule moves LP by 200 / (Q (1 - MMR)).
    assert after - before == pytest.approx(200 / 0.996, rel=1e-12)


def test_vectors_equal_scalars_and_series_keep_index() -> None:
    rng = np.random.default_rng(3)
    side = pd.Series(rng.choice(["long", "short"], 50), index=[f"p{i}" for i in range(50)])
    entry = rng.uniform(10, 1_000, 50)
    mark = rng.uniform(10, 1_000, 50)
    qty = rng.uniform(1, 10, 50)
    frozen = entry.copy()
    out = unrealized_pnl(side, entry, mark, qty)
    assert isinstance(out, pd.Series) and out.index.equals(side.index)
    loop = [unrealized_pnl(*row) for row in zip(side, entry, mark, qty, strict=True)]
    np.testing.assert_array_equal(out.to_numpy(), loop)
    np.testing.assert_array_equal(entry, frozen)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: initial_margin(1, 100, leverage=-5), r"^leverage must be > 0 \(got -5\)"),
        (lambda: notional([1, -2], 100), r"^quantity must be > 0 \(got -2 at position 1\)"),
        (lambda: margin_ratio(1, 2, convention="percent"), r"^convention must be one of"),
        (
            lambda: max_leverage_for_move(1.2, side="long", maintenance_margin_rate=0.01),
            r"^move must be < 1 for a long",
        ),
        (
            lambda: maintenance_margin(
                1, 100, maintenance_margin_rate=0.01, tiers=OLD_BINANCE_BRACKETS
            ),
            r"not both",
        ),
        (lambda: notional("abc", 100), r"^quantity must be a number \(got 'abc'\)"),
    ],
)
def test_bad_input(call: object, message: str) -> None:
    with pytest.raises(RiskInputError, match=message):
        call()  # type: ignore[operator]
