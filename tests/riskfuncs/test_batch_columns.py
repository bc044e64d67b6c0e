"""riskfuncs.batch's stress columns: one pair per scenario in turn, the figures stress_test
gives, held as the stress arrays themselves (no copy) where pandas allows it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from riskfuncs.batch import _stress_columns, batch
from riskfuncs.portfolio import RESULT_COLUMNS
from riskfuncs.stress import stress_test
from tests.riskfuncs.test_stress import mixed_book

SCENARIOS = ["BTC -30% 1h", "FTX 2022", "USDC depeg 2023"]


def test_stress_columns_follow_each_scenario_in_turn_with_stress_test_figures() -> None:
    positions, tiers = mixed_book()
    frame = batch(positions, tiers=tiers, scenarios=SCENARIOS)
    assert list(frame.columns) == list(RESULT_COLUMNS) + [
        f"{kind}: {name}" for name in SCENARIOS for kind in ("pnl", "liquidated")]
    assert frame.index.equals(positions.index)
    stressed = stress_test(positions, SCENARIOS, tiers=tiers)
    for j, name in enumerate(SCENARIOS):
        assert frame[f"pnl: {name}"].dtype == np.float64
        assert frame[f"liquidated: {name}"].dtype == np.bool_
        assert_array_equal(frame[f"pnl: {name}"].to_numpy(), stressed.pnl[:, j])
        assert_array_equal(frame[f"liquidated: {name}"].to_numpy(), stressed.liquidated[:, j])
    assert frame[[f"liquidated: {name}" for name in SCENARIOS]].to_numpy().any()


def test_the_stress_columns_are_the_arrays_themselves() -> None:
    if int(pd.__version__.split(".")[0]) < 3:
        pytest.skip("pandas 2 copies the columns into its blocks")
    pnl = np.arange(6.0).reshape(3, 2)
    liquidated = pnl > 2.0
    frame = _stress_columns(pnl, liquidated, ["a", "b"], pd.RangeIndex(3))
    assert list(frame.columns) == ["pnl: a", "liquidated: a", "pnl: b", "liquidated: b"]
    assert frame["pnl: b"].tolist() == [1.0, 3.0, 5.0]
    assert frame["liquidated: a"].tolist() == [False, False, True]
    assert np.shares_memory(frame["pnl: a"].to_numpy(), pnl)
    assert np.shares_memory(frame["liquidated: b"].to_numpy(), liquidated)
    beside = pd.concat([pd.DataFrame({"x": ["p", "q", "r"]}), frame], axis=1)
    assert np.shares_memory(beside["pnl: b"].to_numpy(), pnl)


def test_a_balance_exactly_at_the_requirement_is_liquidated_in_both() -> None:
    # Long 1 at 100, 1% maintenance, 50.5 of margin; BTC -50%: balance 50.5 - 50 = 0.5 and
    # requirement 50 x 1% = 0.5, both exact in binary. stress_test liquidates at equality
    # (the requirement reaches the balance); batch says the same.
    from riskfuncs.scenarios import Scenario

    book = pd.DataFrame({"exchange": ["binance"], "symbol": ["BTC/USDT:USDT"],
                         "side": ["long"], "contracts": [1.0], "entryPrice": [100.0],
                         "markPrice": [100.0], "collateral": [50.5],
                         "maintenanceMarginRate": [0.01]})
    half = [Scenario("half", moves={"BTC": -0.5})]
    stressed = stress_test(book, half)
    assert stressed.account_balance[0, 0] == stressed.account_requirement[0, 0] == 0.5
    assert stressed.liquidated[0, 0]
    assert bool(batch(book, scenarios=half)["liquidated: half"].iloc[0])
