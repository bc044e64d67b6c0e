"""Cell functions called the way Excel calls them: through xlwings' real XLPython.CallUDF.

Each call goes VBA-wrapper arguments -> xlwings conversion (the Windows engine's value cleaning,
converters) -> the PERP_ function -> riskfuncs -> xlwings' return conversion. Expected values
come from calling riskfuncs directly on the same inputs; exact equality is required because both
paths run the same float operations (the only conversion is Decimal -> float, applied to the
expected side too).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import riskfuncs.funding as funding
import riskfuncs.liquidation as liquidation
import riskfuncs.margin as margin
import riskfuncs.portfolio as portfolio
import riskfuncs.tiers as tier_tables
from tests.addin.excel.excel_side import ERROR_CODES, MISSING, Excel, Range, block, currency

# Binance USDⓈ-M BTCUSDT brackets 1-3 (public leverage-bracket table), as a sheet range.
TIER_ROWS = [
    ["minNotional", "maxNotional", "maintenanceMarginRate", "maintenanceAmount", "maxLeverage"],
    [0, 50_000, 0.004, 0, 125],
    [50_000, 600_000, 0.005, 50, 100],
    [600_000, 3_000_000, 0.01, 3_050, 75],
]
TIER_FRAME = pd.DataFrame(TIER_ROWS[1:], columns=TIER_ROWS[0]).astype(float)


def cell(value: Any, inf_text: str = "inf") -> Any:
    """What a riskfuncs float looks like in a cell: NaN as an empty string, inf as text."""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return inf_text if value > 0 else "-" + inf_text
    return value


def table_cells(frame: pd.DataFrame) -> list[list[Any]]:
    """A portfolio result as PERP_PORTFOLIO writes it (without the header row)."""
    unreachable = {"liquidation_price", "distance_to_liquidation"}
    return [
        [cell(v, "never" if name in unreachable else "inf") for name, v in row.items()]
        for _, row in frame.iterrows()
    ]


def column(values: Any) -> list[list[Any]]:
    return [[cell(float(v))] for v in np.ravel(values)]


def one_line(text: Any) -> str:
    assert isinstance(text, str), f"expected an error line, got {text!r}"
    assert "\n" not in text and "Traceback" not in text and len(text) <= 255
    return text


# --- liquidation price: every rule, both contract types, isolated and cross --------------------

RULES = [
    (name, contract)
    for name, rule in liquidation.EXCHANGE_RULES.items()
    for contract in rule.contracts
]


@pytest.mark.parametrize(("exchange", "contract"), RULES)
@pytest.mark.parametrize("side", ["long", "short"])
def test_liquidation_price_matches_riskfuncs_for_every_rule(
    excel: Excel, exchange: str, contract: str, side: str
) -> None:
    # Linear: 0.5 BTC at 60,000 with 3,000 USDT margin; inverse: 30,000 USD face with 0.05 BTC.
    quantity, collateral = (0.5, 3_000.0) if contract == "linear" else (30_000.0, 0.05)
    kwargs: dict[str, Any] = {"maintenance_margin_rate": 0.005, "fee_rate": 0.0004}
    if exchange == "hyperliquid":
        kwargs = {"max_leverage": 40.0}
    expected = liquidation.liquidation_price(
        side, 60_000.0, quantity, collateral, exchange=exchange, contract=contract, **kwargs
    )
    got = excel.call(
        "PERP_LIQ_PRICE",
        side,
        60_000.0,
        quantity,
        collateral,
        exchange,
        contract,
        kwargs.get("maintenance_margin_rate", MISSING),
        MISSING,
        MISSING,
        kwargs.get("max_leverage", MISSING),
        kwargs.get("fee_rate", MISSING),
    )
    assert got == expected


def test_cross_margin_counts_the_other_positions(excel: Excel) -> None:
    expected = liquidation.liquidation_price(
        "long",
        60_000.0,
        1.0,
        10_000.0,
        maintenance_margin_rate=0.004,
        other_maintenance_margin=400.0,
        other_unrealized_pnl=-1_500.0,
    )
    got = excel.call(
        "PERP_LIQ_PRICE",
        Range("long"),
        Range(60_000),
        Range(1),
        Range(10_000),
        "binance",
        MISSING,
        Range(0.004),
        MISSING,
        MISSING,
        MISSING,
        MISSING,
        Range(400),
        Range(-1_500),
    )
    assert got == expected
    isolated = excel.call(
        "PERP_LIQ_PRICE", "long", 60_000.0, 1.0, 10_000.0, MISSING, MISSING, 0.004
    )
    assert got > isolated  # the other positions' losses eat the shared wallet


def test_omitted_and_empty_optionals_mean_the_defaults(excel: Excel) -> None:
    omitted = excel.call("PERP_LIQ_PRICE", "short", 3_000.0, 10.0, 3_000.0, MISSING, MISSING, 0.005)
    empty = excel.call(
        "PERP_LIQ_PRICE",
        "short",
        3_000.0,
        10.0,
        3_000.0,
        Range(None),
        Range(None),
        0.005,
        Range(None),
        MISSING,
        Range(None),
        Range(None),
    )
    explicit = excel.call(
        "PERP_LIQ_PRICE",
        "short",
        3_000.0,
        10.0,
        3_000.0,
        "binance",
        "linear",
        0.005,
        0.0,
        MISSING,
        MISSING,
        0.0,
        0.0,
        0.0,
    )
    assert (
        omitted
        == empty
        == explicit
        == liquidation.liquidation_price(
            "short", 3_000.0, 10.0, 3_000.0, maintenance_margin_rate=0.005
        )
    )


def test_currency_formatted_cells_arrive_as_decimal_and_work(excel: Excel) -> None:
    entry, collateral = currency(61_234.56789), currency(4_000.5)  # 4-decimal Decimals
    got = excel.call(
        "PERP_LIQ_PRICE",
        "long",
        Range(entry),
        0.75,
        Range(collateral),
        "bybit",
        MISSING,
        Range(0.005),
    )
    assert got == liquidation.liquidation_price(
        "long",
        float(entry),
        0.75,
        float(collateral),
        exchange="bybit",
        maintenance_margin_rate=0.005,
    )


def test_ranges_spill_one_result_per_row(excel: Excel) -> None:
    sides = [["long"], ["short"], ["long"]]
    entries = [[60_000], [3_000], [150]]
    quantities = [[0.5], [10], [100]]
    collateral = [[3_000], [3_000], [1_500]]
    got = excel.call(
        "PERP_LIQ_PRICE",
        Range(sides),
        Range(entries),
        Range(quantities),
        Range(collateral),
        MISSING,
        MISSING,
        0.005,
    )
    expected = liquidation.liquidation_price(
        ["long", "short", "long"],
        [60_000.0, 3_000.0, 150.0],
        [0.5, 10.0, 100.0],
        [3_000.0, 3_000.0, 1_500.0],
        maintenance_margin_rate=0.005,
    )
    assert got == column(expected)


def test_computed_arrays_work_like_ranges(excel: Excel) -> None:
    got = excel.call("PERP_NOTIONAL", block([[1, 2], [3, 4]]), 100.0)
    assert got == [[100.0, 200.0], [300.0, 400.0]]


def test_empty_and_error_cells_are_missing_data(excel: Excel) -> None:
    entries = Range([[60_000], [None], ["#N/A"], [55_000]])
    got = excel.call("PERP_LIQ_PRICE", "long", entries, 1.0, 6_000.0, MISSING, MISSING, 0.004)
    expected = liquidation.liquidation_price(
        "long", [60_000.0, np.nan, np.nan, 55_000.0], 1.0, 6_000.0, maintenance_margin_rate=0.004
    )
    assert got == column(expected)
    assert got[1] == [""] and got[2] == [""]
    assert (
        excel.call(
            "PERP_LIQ_PRICE", "long", Range("#DIV/0!"), 1.0, 6_000.0, MISSING, MISSING, 0.004
        )
        == ""
    )


def test_unreachable_liquidation_shows_text(excel: Excel) -> None:
    # Inverse short with 2x its face value in coin: no price liquidates it (riskfuncs gives inf).
    expected = liquidation.liquidation_price(
        "short", 60_000.0, 10_000.0, 0.4, contract="inverse", maintenance_margin_rate=0.005
    )
    assert math.isinf(expected)
    got = excel.call("PERP_LIQ_PRICE", "short", 60_000.0, 10_000.0, 0.4, MISSING, "inverse", 0.005)
    assert got == "never"
    # A fully collateralised long: riskfuncs gives 0.0, shown as the number 0.
    assert excel.call("PERP_LIQ_PRICE", "long", 100.0, 1.0, 100.0, MISSING, MISSING, 0.005) == 0.0


def test_a_position_already_past_liquidation_shows_reached(excel: Excel) -> None:
    # Cross short: wallet 150, the other positions lose 500, so every price liquidates it.
    # riskfuncs gives 0.0, the bound a fully collateralised long also gets: the cell says which.
    cross = (MISSING, MISSING, 0.01, MISSING, MISSING, MISSING, MISSING, MISSING, -500.0, "cross")
    assert liquidation.liquidation_price(
        "short", 100.0, 1.0, 150.0, maintenance_margin_rate=0.01, other_unrealized_pnl=-500.0,
        margin_mode="cross") == 0.0
    assert excel.call("PERP_LIQ_PRICE", "short", 100.0, 1.0, 150.0, *cross) == "reached"
    got = excel.call("PERP_LIQ_PRICE", Range([["short"], ["long"]]), 100.0, 1.0, 150.0, *cross)
    long = liquidation.liquidation_price(  # above its entry: reached too, as a price
        "long", 100.0, 1.0, 150.0, maintenance_margin_rate=0.01, other_unrealized_pnl=-500.0,
        margin_mode="cross")
    assert long > 100.0 and got == [["reached"], [long]]
    # An inverse long in the same state gets inf, which is not "never" for a long.
    inverse = (MISSING, "inverse", 0.01, MISSING, MISSING, MISSING, MISSING, MISSING, -200.0,
               "cross")
    assert excel.call("PERP_LIQ_PRICE", "long", 100.0, 10_000.0, 1.0, *inverse) == "reached"
    assert excel.call("PERP_BANKRUPTCY_PRICE", "short", 100.0, 1.0, 150.0, MISSING,
                      -500.0) == "reached"


def test_portfolio_shows_reached_for_a_cross_short_its_account_already_liquidates(
    excel: Excel,
) -> None:
    # The ETH long loses 10,000 of the 150 wallet the BTC short shares: no price saves the short.
    rows = [["symbol", "side", "contracts", "entryPrice", "markPrice", "collateral", "marginMode",
             "exchange", "maintenanceMarginRate"],
            ["BTC/USDT:USDT", "short", 1.0, 100.0, 100.0, 150.0, "cross", "binance", 0.01],
            ["ETH/USDT:USDT", "long", 10.0, 3000.0, 2000.0, 150.0, "cross", "binance", 0.01],
            ["SOL/USDT:USDT", "short", 1.0, 100.0, 100.0, 50.0, "isolated", "binance", 0.01]]
    expected = portfolio.portfolio_margin(_frame(rows))["liquidation_price"]
    assert expected[0] == 0.0
    got = excel.call("PERP_PORTFOLIO", Range(rows))
    at = got[0].index("liquidation_price")
    assert [row[at] for row in got[1:]] == ["reached", expected[1], expected[2]]


def test_tiers_from_a_range_with_header_row(excel: Excel) -> None:
    got = excel.call(
        "PERP_LIQ_PRICE",
        "long",
        60_000.0,
        12.0,
        90_000.0,
        "binance",
        MISSING,
        MISSING,
        MISSING,
        Range(TIER_ROWS),
    )
    assert got == liquidation.liquidation_price("long", 60_000.0, 12.0, 90_000.0, tiers=TIER_FRAME)
    # Currency-formatted tier cells and a blank row below the table change nothing.
    rows = [TIER_ROWS[0]] + [[currency(v) for v in r] for r in TIER_ROWS[1:]] + [[None] * 5]
    assert (
        excel.call(
            "PERP_LIQ_PRICE",
            "long",
            60_000.0,
            12.0,
            90_000.0,
            "binance",
            MISSING,
            MISSING,
            MISSING,
            Range(rows),
        )
        == got
    )
    assert excel.call("PERP_TIER", Range([[10_000], [60_000], [700_000]]), Range(TIER_ROWS)) == (
        column(tier_tables.tier_for_notional([10_000, 60_000, 700_000], TIER_FRAME))
    )
    assert excel.call("PERP_TIER_MAX_LEVERAGE", 60_000.0, Range(TIER_ROWS)) == 100.0


def test_exchange_rule_for_a_venue(excel: Excel) -> None:
    assert excel.call("PERP_EXCHANGE_RULE", "binanceusdm") == liquidation.rule_for_venue(
        "binanceusdm"
    )
    assert excel.call("PERP_EXCHANGE_RULE", Range([["Bybit"], ["deribit"]])) == [
        [liquidation.rule_for_venue("Bybit")],
        [liquidation.rule_for_venue("deribit")],
    ]


# --- errors: one short line naming the argument and the rule ----------------------------------


def test_bad_values_show_the_riskfuncs_line(excel: Excel) -> None:
    got = excel.call("PERP_LIQ_PRICE", "long", 60_000.0, 1.0, -5.0, MISSING, MISSING, 0.004)
    assert one_line(got) == "collateral must be >= 0 (got -5)"
    got = excel.call("PERP_INITIAL_MARGIN", 1.0, 60_000.0, -5.0)
    assert one_line(got).startswith("leverage must be > 0 (got -5)")


def test_unknown_options_list_the_allowed_values(excel: Excel) -> None:
    got = one_line(excel.call("PERP_LIQ_PRICE", "long", 1.0, 1.0, 1.0, "deribit", MISSING, 0.004))
    assert got.startswith("exchange must be one of binance, ")
    assert got.endswith("(got 'deribit')")
    got = one_line(excel.call("PERP_NOTIONAL", 1.0, 1.0, "perpetual"))
    assert got == "contract must be one of linear, inverse (got 'perpetual')"
    got = one_line(excel.call("PERP_UNREALIZED_PNL", "up", 1.0, 2.0, 1.0))
    assert got == "side must be long or short (got 'up')"


def test_text_and_booleans_where_numbers_belong(excel: Excel) -> None:
    got = excel.call("PERP_NOTIONAL", Range([[1.0], ["two"]]), 100.0)
    assert one_line(got) == "quantity must be a number (got 'two')"
    assert (
        one_line(excel.call("PERP_NOTIONAL", True, 100.0)) == "quantity must be a number (got TRUE)"
    )
    got = excel.call(
        "PERP_LIQ_PRICE",
        "long",
        1.0,
        1.0,
        1.0,
        MISSING,
        MISSING,
        0.004,
        MISSING,
        Range([["minNotional"], [0]]),
    )
    assert one_line(got) == "give maintenance_margin_rate or tiers, not both"


def test_dates_count_as_excel_serial_numbers(excel: Excel) -> None:
    # 2024-01-01 is serial 45292 in Excel's 1900 date system.
    assert excel.call("PERP_NOTIONAL", Range(dt.date(2024, 1, 1)), 1.0) == 45292.0


def test_unexpected_failures_are_one_line_too(
    excel: Excel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("float division by zero")

    from addin.excel import cells as cell_conversion

    monkeypatch.setattr(cell_conversion, "cells_out", broken)  # what turns results into cells
    got = one_line(excel.call("PERP_NOTIONAL", 1.0, 1.0))
    assert got == "unexpected error (ZeroDivisionError): float division by zero"


# --- margin and funding -----------------------------------------------------------------------


def test_margin_functions_match_riskfuncs(excel: Excel) -> None:
    assert excel.call("PERP_NOTIONAL", 30_000.0, 60_000.0, "inverse") == margin.notional(
        30_000.0, 60_000.0, contract="inverse"
    )
    assert excel.call("PERP_INITIAL_MARGIN", 0.5, 60_000.0, 10.0) == margin.initial_margin(
        0.5, 60_000.0, leverage=10.0
    )
    assert excel.call("PERP_MAINT_MARGIN", 12.0, 60_000.0, MISSING, MISSING, Range(TIER_ROWS)) == (
        margin.maintenance_margin(12.0, 60_000.0, tiers=TIER_FRAME)
    )
    assert excel.call("PERP_MAINT_MARGIN", 1.0, 60_000.0, 0.004, 10.0) == margin.maintenance_margin(
        1.0, 60_000.0, maintenance_margin_rate=0.004, maintenance_amount=10.0
    )
    assert excel.call("PERP_UNREALIZED_PNL", "short", 3_000.0, 2_900.0, 10.0) == (
        margin.unrealized_pnl("short", 3_000.0, 2_900.0, 10.0)
    )
    assert excel.call("PERP_MARGIN_RATIO", 250.0, 5_000.0, "balance/maintenance") == (
        margin.margin_ratio(250.0, 5_000.0, convention="balance/maintenance")
    )
    assert excel.call("PERP_MARGIN_BUFFER", 1_300.0, 1_000.0) == margin.margin_buffer(
        1_300.0, 1_000.0
    )
    assert excel.call("PERP_LIQ_DISTANCE", "long", 100.0, 88.0) == margin.distance_to_liquidation(
        "long", 100.0, 88.0
    )
    assert excel.call("PERP_MAX_LEVERAGE_FOR_MOVE", 0.3, "long", 0.005) == (
        margin.max_leverage_for_move(0.3, side="long", maintenance_margin_rate=0.005)
    )
    assert excel.call("PERP_BANKRUPTCY_PRICE", "long", 60_000.0, 1.0, 6_000.0) == (
        liquidation.bankruptcy_price("long", 60_000.0, 1.0, 6_000.0)
    )


def test_optional_arguments_take_ranges_too(excel: Excel) -> None:
    got = excel.call("PERP_MAINT_MARGIN", 1.0, 60_000.0, 0.005, Range([[0.0], [50.0]]))
    expected = margin.maintenance_margin(
        1.0, 60_000.0, maintenance_margin_rate=0.005, maintenance_amount=np.array([[0.0], [50.0]])
    )
    assert got == column(expected)


def test_counts_are_checked_not_replaced(excel: Excel) -> None:
    got = one_line(
        excel.call("PERP_DIVERSIFICATION_CHECK", Range([["a", 1.0], ["b", 2.0]]), MISSING, 0.0)
    )
    assert got.startswith("min_venues must be a whole number >= 1")


def test_funding_functions_match_riskfuncs(excel: Excel) -> None:
    assert excel.call("PERP_FUNDING_RATE", 0.002) == funding.funding_rate(0.002)
    assert excel.call("PERP_FUNDING_RATE", 0.01, MISSING, MISSING, 0.003) == funding.funding_rate(
        0.01, cap=0.003
    )
    assert excel.call("PERP_FUNDING_PAYMENT", "long", 1.0, 60_000.0, 0.0001) == (
        funding.funding_payment("long", 1.0, 60_000.0, 0.0001)
    )
    marks, rates = [20_000, 21_000, 19_000], [0.0001, 0.0002, -0.0001]
    got = excel.call(
        "PERP_CUMULATIVE_FUNDING", "long", 1.0, Range([[m] for m in marks]), Range([rates])
    )
    assert got == column(funding.cumulative_funding("long", 1.0, marks, rates))
    got = excel.call(
        "PERP_LIQ_PRICE_AFTER_FUNDING",
        "long",
        20_000.0,
        1.0,
        2_000.0,
        Range([[m] for m in marks]),
        Range([[r] for r in rates]),
        MISSING,
        MISSING,
        0.005,
    )
    assert got == funding.liquidation_price_after_funding(
        "long", 20_000.0, 1.0, 2_000.0, marks, rates, maintenance_margin_rate=0.005
    )


# --- the portfolio table ----------------------------------------------------------------------

POSITION_ROWS = [
    [
        "exchange",
        "symbol",
        "side",
        "contracts",
        "entryPrice",
        "markPrice",
        "collateral",
        "marginMode",
        "contractType",
        "maintenanceMarginRate",
        "leverage",
    ],
    ["binance", "BTC/USDT:USDT", "long", 0.5, 60_000, 58_000, 6_000, "cross", "linear", 0.004, 10],
    ["binance", "ETH/USDT:USDT", "short", 10, 3_000, 3_100, 6_000, "cross", "linear", 0.005, 10],
    [
        "bybit",
        "BTC/USD:BTC",
        "short",
        30_000,
        60_000,
        59_000,
        0.1,
        "isolated",
        "inverse",
        0.005,
        None,
    ],
    ["okx", "SOL/USDT:USDT", "long", 100, 150, None, 1_500, None, None, 0.01, 5],
]


def _frame(rows: list[list[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows[1:], columns=rows[0])
    for name in frame.columns:
        if name not in ("exchange", "symbol", "side", "marginMode", "contractType"):
            frame[name] = frame[name].astype(float)
    return frame


def test_portfolio_spills_the_per_position_table(excel: Excel) -> None:
    got = excel.call("PERP_PORTFOLIO", Range(POSITION_ROWS))
    expected = portfolio.portfolio_margin(_frame(POSITION_ROWS))
    assert got[0] == ["symbol", *expected.columns]
    assert len(got) == 1 + len(expected)
    assert [row[1:] for row in got[1:]] == table_cells(expected)
    assert [row[0] for row in got[1:]] == [r[1] for r in POSITION_ROWS[1:]]
    assert got[4][expected.columns.get_loc("unrealized_pnl") + 1] == ""  # no mark price


def test_portfolio_with_tiers_per_symbol_and_blank_rows(excel: Excel) -> None:
    rows = [r[:] for r in POSITION_ROWS[:3]]
    for r in rows[1:]:
        r[9] = None  # rate from tiers
    rows += [[None] * len(rows[0])] * 3  # unused bottom of the selected range
    tier_rows = [["symbol", *TIER_ROWS[0]]] + [
        [symbol, *r] for symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT") for r in TIER_ROWS[1:]
    ]
    got = excel.call("PERP_PORTFOLIO", Range(rows), Range(tier_rows))
    expected = portfolio.portfolio_margin(
        _frame(rows[:3]), tiers={"BTC/USDT:USDT": TIER_FRAME, "ETH/USDT:USDT": TIER_FRAME}
    )
    assert [row[1:] for row in got[1:]] == table_cells(expected)


def test_portfolio_errors_name_the_column(excel: Excel) -> None:
    rows = [r[:] for r in POSITION_ROWS[:2]]
    rows[1][3] = "half"
    got = one_line(excel.call("PERP_PORTFOLIO", Range(rows)))
    assert got == "positions contracts must be a number (got 'half')"
    got = one_line(
        excel.call(
            "PERP_PORTFOLIO", Range([[c for c in POSITION_ROWS[0] if c != "side"], [1] * 10])
        )
    )
    assert got == "positions must have a side column"


def test_error_codes_table() -> None:
    # The stand-in's codes are Excel's (xlErrNA = 2042 -> HRESULT 0x800A07FA).
    assert ERROR_CODES["#N/A"] == -2146826246 == 0x800A07FA - 2**32


def test_vectorised_rows_equal_what_xlwings_writes_for_a_table() -> None:
    """PERP_PORTFOLIO builds its rows itself (@xw.ret("raw")): same cells as xlwings' writer."""
    from xlwings import conversion

    from addin.excel import cells as cell_conversion

    frame = pd.DataFrame(
        {
            "symbol": ["BTC/USDT:USDT", None, "ETH/USDT:USDT"],
            "price": [1.5, np.nan, np.inf],
            "count": np.array([1, 2, 3], dtype=np.int64),
            "flag": [True, False, True],
        }
    )
    written = conversion.write(
        cell_conversion.frame_out(frame, inf_text={"price": "unreachable"}),
        None,
        {"index": False, "header": True},
    )
    rows = cell_conversion.rows_out(frame, inf_text={"price": "unreachable"})
    assert rows == written
    assert rows[3] == ["ETH/USDT:USDT", "unreachable", 3.0, True]
    assert [type(v) for v in rows[1]] == [str, float, float, bool]


def test_portfolio_keeps_rows_aligned_with_the_sheet(excel: Excel) -> None:
    rows = [r[:] for r in POSITION_ROWS] + [[None] * len(POSITION_ROWS[0])] * 2
    got = excel.call("PERP_PORTFOLIO", Range(rows))
    assert len(got) == len(POSITION_ROWS)  # trailing empty rows dropped, nothing else


def test_long_text_in_spilled_tables_is_shortened() -> None:
    """Excel shows #VALUE! for the whole array if one text in it is over 255 characters."""
    from addin.excel import cells as cell_conversion

    frame = pd.DataFrame({"message": ["x" * 300, "short"], "value": [1.0, 2.0]})
    for rows in (
        cell_conversion.rows_out(frame),
        [list(frame.columns), *cell_conversion.frame_out(frame).to_numpy().tolist()],
    ):
        assert len(rows[1][0]) == 255 and rows[1][0].endswith("...")
        assert rows[2][0] == "short"


def test_a_missing_required_argument_is_named(excel: Excel) -> None:
    # side comes fifth here (after the market inputs); a formula that stops short names it.
    assert excel.call("PERP_LIQ_PROBABILITY", 100.0, 90.0, 0.5, 0.01) == "side is required"
