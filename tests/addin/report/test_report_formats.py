"""Numbers shown at the precision their size needs, and a buffer check that never passes a
position the alerts call red."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from addin.report import assess, render
from addin.report.assessment import buffer_at_cap
from addin.report.render import amount, buffer, price
from riskfuncs.portfolio import portfolio_margin


@pytest.mark.parametrize(("value", "shown"), [
    (0.00001234, "0.00001234"),  # PEPE: never 0.00
    (0.0000012345, "0.0000012345"),
    (0.1612, "0.1612"),  # DOGE: never 0.16
    (0.158800, "0.1588"),  # trailing zeros dropped
    (146.9, "146.90"),
    (3180.0, "3,180.00"),
    (61850.0, "61,850.0"),
    (53162.65060240964, "53,162.7"),
])
def test_prices_keep_six_significant_digits(value: float, shown: str) -> None:
    assert price(value) == shown


def test_coin_amounts_have_eight_decimals_cash_two() -> None:
    assert amount(0.0027, "BTC") == "0.00270000"  # a COIN-M balance, never 0.00
    assert amount(-1560.0, "USDT") == "-1,560.00"
    assert amount(math.nan, "BTC") == "n/a"


def test_huge_buffers_do_not_read_as_precise() -> None:
    assert buffer(34.97) == ">1,000%" and buffer(0.71) == "71%" and buffer(-0.89) == "-89%"


def _book(**overrides: list[object]) -> pd.DataFrame:
    columns: dict[str, list[object]] = {
        "exchange": ["binance", "binance"], "symbol": ["ETH/USDT:USDT", "PEPE/USDT:USDT"],
        "side": ["short", "long"], "contracts": [12.0, 1e9], "contractSize": [1.0, 1.0],
        "entryPrice": [3050.0, 0.00001200], "markPrice": [3180.0, 0.00001234],
        "collateral": [2400.0, 4000.0], "marginMode": ["isolated", "isolated"],
        "contractType": ["linear", "linear"], "maintenanceMarginRate": [0.005, 0.01],
        "maintenanceAmount": [0.0, 0.0], "leverage": [np.nan, np.nan],
        "feeRate": [0.0, 0.0], "maxLeverage": [np.nan, np.nan],
        "stopLossPrice": [np.nan, np.nan],
    }
    columns.update(overrides)
    return pd.DataFrame(columns, index=[11, 12])


def test_pepe_prices_show_in_the_report() -> None:
    result = assess(_book(), scenarios=())
    pepe = next(p for p in result.positions if p.symbol.startswith("PEPE"))
    for fmt in ("text", "html"):
        shown = render(result, fmt)  # type: ignore[arg-type]
        assert price(pepe.mark_price) == "0.00001234" and "0.00001234" in shown
        assert price(pepe.liquidation_price) in shown
        assert f" {price(pepe.liquidation_price)} " in f" {shown} ".replace(">", " ").replace(
            "<", " ")
        assert price(pepe.liquidation_price) != "0.00"


def test_the_buffer_check_fails_every_red_position() -> None:
    """A 45x short 1.7% from liquidation sits 340% above maintenance: the old check passed it
    next to its red alert. Measured against the initial margin at the 5x cap it is 89% short,
    and a red position fails whatever its margin."""
    book = _book()
    margins = portfolio_margin(book)
    eth = margins.loc[11].to_dict()
    assert eth["margin_buffer"] > 3.0  # "340% above maintenance"
    result = assess(book, scenarios=())
    red = {f"{p.exchange} {p.symbol} {p.side}": p for p in result.positions if p.level == "red"}
    assert "binance ETH/USDT:USDT short" in red
    checks = {c.scope: c for c in result.audit if c.check == "margin_buffer"}
    for scope in red:
        assert checks[scope].passed is False, checks[scope]
        assert "from liquidation (red)" in checks[scope].message
    assert checks["binance ETH/USDT:USDT short"].value == pytest.approx(
        (2400.0 + float(eth["unrealized_pnl"])) / (12 * 3180.0 / 5) - 1)
    assert result.audit_passed is False


def test_buffer_at_cap_is_the_account_figure_for_cross_rows() -> None:
    book = _book(marginMode=["cross", "cross"], collateral=[5000.0, 5000.0],
                 symbol=["ETH/USDT:USDT", "BTC/USDT:USDT"], markPrice=[3000.0, 60000.0],
                 entryPrice=[3000.0, 60000.0], contracts=[1.0, 0.1])
    margins = portfolio_margin(book)
    got = buffer_at_cap(book, margins, 5.0)
    assert got == pytest.approx([5000.0 / ((3000.0 + 6000.0) / 5) - 1] * 2)


def test_a_comfortable_position_passes_with_a_plain_message() -> None:
    book = _book(contracts=[1.0, 1e8], side=["long", "long"], entryPrice=[3180.0, 0.00001234])
    result = assess(book, scenarios=())
    checks = [c for c in result.audit if c.check == "margin_buffer"]
    assert checks and all(c.passed for c in checks)
    assert any("more than 10 times the initial margin at your 5x cap" in c.message
               for c in checks)
