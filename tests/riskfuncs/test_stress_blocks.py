"""stress_test in blocks of any width, the last one partial, gives the one-pass answer: the
positions ordered by group for the block loop and put back, shared accounts summed alike."""

from __future__ import annotations

import pandas as pd
import pytest
from numpy.testing import assert_array_equal

import riskfuncs.stress as stress_module
from riskfuncs.stress import stress_test
from tests.riskfuncs.test_stress import library_and_more, mixed_book

ARRAYS = ("pnl", "maintenance_margin", "account_balance", "account_requirement", "price",
          "liquidated", "margin_ratio", "shortfall")


@pytest.mark.parametrize("width", [1, 3, 5, 31])
def test_blocks_of_any_width_give_the_one_pass_answer(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    positions, tiers = mixed_book()
    scenarios = library_and_more()  # 32: the last block of 3, 5 or 31 is partial
    one_pass = stress_test(positions, scenarios, tiers=tiers)
    monkeypatch.setattr(stress_module, "_BLOCK_ELEMENTS", width * len(positions))
    monkeypatch.setattr(stress_module, "_MIN_WIDTH", 1)
    blocks = stress_test(positions, scenarios, tiers=tiers)
    for name in ARRAYS:
        assert_array_equal(getattr(blocks, name), getattr(one_pass, name))
    pd.testing.assert_frame_equal(blocks.by_scenario, one_pass.by_scenario, rtol=1e-12)
    pd.testing.assert_frame_equal(blocks.accounts, one_pass.accounts)


def test_rows_come_back_in_the_book_order() -> None:
    positions, tiers = mixed_book()
    scenarios = library_and_more()
    whole = stress_test(positions, scenarios, tiers=tiers)
    # Each isolated position alone is its own book: the same row of every result.
    isolated = [i for i, mode in enumerate(positions["marginMode"]) if mode == "isolated"]
    for i in isolated:
        alone = stress_test(positions.iloc[[i]], scenarios, tiers=tiers)
        assert_array_equal(alone.pnl[0], whole.pnl[i])
        assert_array_equal(alone.maintenance_margin[0], whole.maintenance_margin[i])
        assert_array_equal(alone.margin_balance[0], whole.margin_balance[i])
    assert whole.positions.index.equals(positions.index)
