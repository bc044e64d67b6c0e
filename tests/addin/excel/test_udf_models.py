"""Risk-model cell functions through xlwings' CallUDF: the values equal riskfuncs on the same data.

Histories are synthetic returns from a seeded generator (60 periods, enough to avoid the
short-history warning); the point here is the Excel path (header rows, date columns, spills,
defaults), the models themselves are tested against outside references in tests/riskfuncs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from riskfuncs import assessment, counterparty, discipline, probability, stress, var
from riskfuncs import scenarios as scenario_models
from riskfuncs import volatility as volatility_models
from tests.addin.excel.excel_side import MISSING, Excel, Range, currency
from tests.addin.excel.test_udf_calls import cell, column, one_line

RNG = np.random.default_rng(7)
RETURNS = RNG.normal(0.0005, 0.03, size=(60, 2))
PRICES = 100.0 * np.cumprod(1 + RETURNS, axis=0)
DATES = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(60)]


def price_sheet(columns: int = 2) -> list[list[Any]]:
    """Date column, header row, prices: what a trader pastes from an exchange export."""
    header = ["date", "BTC", "ETH"][: columns + 1]
    return [header] + [[d, *p[:columns]] for d, p in zip(DATES, PRICES.tolist(), strict=True)]


def row(values: Any) -> list[Any]:
    """A one-row result: CallUDF hands Excel a 1-D array for a single row."""
    return [cell(float(v)) for v in np.ravel(values)]


# --- volatility -------------------------------------------------------------------------------


def test_returns_skip_header_and_dates_and_spill_per_asset(excel: Excel) -> None:
    got = excel.call("PERP_RETURNS", Range(price_sheet()))
    expected = volatility_models.returns(PRICES)
    assert got[0] == ["BTC", "ETH"]
    assert got[1:] == expected.tolist()
    single = excel.call("PERP_RETURNS", Range([[p] for p in PRICES[:, 0]]), "log")
    assert single == column(volatility_models.returns(PRICES[:, 0], kind="log"))


def test_volatility_estimators(excel: Excel) -> None:
    returns_range = Range([["BTC", "ETH"], *RETURNS.tolist()])
    assert excel.call("PERP_VOLATILITY", returns_range) == [
        ["BTC", "ETH"],
        row(volatility_models.close_to_close_volatility(RETURNS)),
    ]
    btc = Range([[r] for r in RETURNS[:, 0]])
    assert excel.call("PERP_VOLATILITY", btc, 252.0) == (
        volatility_models.close_to_close_volatility(RETURNS[:, 0], periods_per_year=252)
    )
    assert excel.call("PERP_EWMA_VOLATILITY", btc, 0.97) == volatility_models.ewma_volatility(
        RETURNS[:, 0], lam=0.97
    )
    assert excel.call("PERP_EWMA_VOLATILITY_PATH", btc) == column(
        volatility_models.ewma_volatility_path(RETURNS[:, 0])
    )
    high, low = PRICES * 1.02, PRICES * 0.97
    assert excel.call("PERP_PARKINSON_VOLATILITY", Range(high.tolist()), Range(low.tolist())) == (
        row(volatility_models.parkinson_volatility(high, low))
    )
    bars = [PRICES * 0.995, high, low, PRICES]
    got = excel.call("PERP_GARMAN_KLASS_VOLATILITY", *(Range(b[:, :1].tolist()) for b in bars))
    assert got == volatility_models.garman_klass_volatility(*(b[:, 0] for b in bars))


def test_history_with_currency_cells_and_blank_rows(excel: Excel) -> None:
    rows = [[currency(p)] for p in PRICES[:, 0]] + [[None], [None]]
    expected = volatility_models.returns([float(currency(p)) for p in PRICES[:, 0]])
    assert excel.call("PERP_RETURNS", Range(rows)) == column(expected)


# --- VaR and ES -------------------------------------------------------------------------------


def test_value_at_risk_and_expected_shortfall(excel: Excel) -> None:
    btc = Range([[r] for r in RETURNS[:, 0]])
    r = RETURNS[:, 0]
    assert excel.call("PERP_HISTORICAL_VAR", btc) == var.historical_var(r)
    assert excel.call("PERP_HISTORICAL_VAR", btc, 0.95, "lower") == var.historical_var(
        r, confidence=0.95, method="lower"
    )
    assert excel.call("PERP_PARAMETRIC_VAR", btc, MISSING, "cornish_fisher", True) == (
        var.parametric_var(r, distribution="cornish_fisher", zero_mean=True)
    )
    assert excel.call("PERP_MONTE_CARLO_VAR", btc, 0.99, "bootstrap", 5_000.0) == (
        var.monte_carlo_var(r, method="bootstrap", paths=5_000, seed=0)
    )
    assert excel.call("PERP_EXPECTED_SHORTFALL", btc, Range(None), "rockafellar_uryasev") == (
        var.expected_shortfall(r, method="rockafellar_uryasev")
    )
    assert excel.call("PERP_SCALE_TO_HORIZON", 0.05, 10.0) == var.scale_to_horizon(0.05, 10)
    got = one_line(excel.call("PERP_PARAMETRIC_VAR", btc, 0.99, MISSING, "maybe"))
    assert got == "zero_mean must be TRUE or FALSE (got 'maybe')"
    assert one_line(excel.call("PERP_HISTORICAL_VAR", btc, 99.0)).startswith("confidence must")


# --- liquidation probability ------------------------------------------------------------------


def test_liquidation_probability(excel: Excel) -> None:
    args = (60_000.0, 54_000.0, 0.6, 1 / 365)
    assert excel.call("PERP_LIQ_PROBABILITY", *args, "long") == (
        probability.liquidation_probability(*args, side="long")
    )
    assert excel.call("PERP_LIQ_PROBABILITY", *args, "long", MISSING, "discrete", 24.0) == (
        probability.liquidation_probability(*args, side="long", monitoring="discrete", checks=24)
    )
    assert excel.call(
        "PERP_LIQ_PROBABILITY", *args, "long", MISSING, "monte_carlo", MISSING, 2_000.0, 5.0
    ) == probability.liquidation_probability(
        *args, side="long", monitoring="monte_carlo", paths=2_000, seed=5
    )
    assert excel.call("PERP_LIQ_DISTANCE_SIGMAS", *args, "long") == (
        probability.liquidation_distance_sigmas(*args, side="long")
    )
    assert excel.call("PERP_LIQ_DISTANCE_SIGMAS", 100.0, 0.0, 0.6, 1.0, "long") == "never"


# --- stress and scenarios ---------------------------------------------------------------------

BOOK_ROWS = [
    [
        "exchange",
        "symbol",
        "side",
        "contracts",
        "entryPrice",
        "markPrice",
        "collateral",
        "maintenanceMarginRate",
        "stopLossPrice",
    ],
    ["binance", "BTC/USDT:USDT", "long", 1, 60_000, 61_000, 20_000, 0.004, 57_000],
    ["okx", "ETH/USDT:USDT", "short", 10, 3_000, 3_100, 8_000, 0.005, None],
]


def book_frame() -> pd.DataFrame:
    frame = pd.DataFrame(BOOK_ROWS[1:], columns=BOOK_ROWS[0])
    for name in BOOK_ROWS[0][3:]:
        frame[name] = frame[name].astype(float)
    return frame


def table_rows(frame: pd.DataFrame) -> list[list[Any]]:
    return [
        [cell(v.item() if isinstance(v, np.generic) else v) for v in r]
        for r in frame.astype(object).to_numpy().tolist()
    ]


def test_stress_with_the_library_named_and_custom_scenarios(excel: Excel) -> None:
    book = book_frame()
    got = excel.call("PERP_STRESS", Range(BOOK_ROWS))
    expected = stress.stress_test(book, scenario_models.scenario_library()).by_scenario
    assert got[0] == ["scenario", *expected.columns]
    assert got[1:] == table_rows(expected.reset_index())

    names = Range([["BTC -30% 1h"], ["default binance 0.6"], [None]])
    got = excel.call("PERP_STRESS", Range(BOOK_ROWS), names)
    chosen = [
        scenario_models.get_scenario("BTC -30% 1h"),
        scenario_models.exchange_default_scenario("binance", loss_given_default=0.6),
    ]
    assert got[1:] == table_rows(stress.stress_test(book, chosen).by_scenario.reset_index())

    custom = Range(
        [
            ["name", "BTC", "ETH", "funding_rate", "funding_intervals"],
            ["crash", -0.4, None, 0.001, 9],
            ["squeeze", 0.25, 0.4, None, None],
        ]
    )
    got = excel.call("PERP_STRESS", Range(BOOK_ROWS), custom)
    made = [
        scenario_models.Scenario(
            "crash", moves={"BTC": -0.4}, funding_rate=0.001, funding_intervals=9
        ),
        scenario_models.Scenario("squeeze", moves={"BTC": 0.25, "ETH": 0.4}),
    ]
    assert got[1:] == table_rows(stress.stress_test(book, made).by_scenario.reset_index())


def test_stress_scenario_errors_are_one_line(excel: Excel) -> None:
    got = one_line(excel.call("PERP_STRESS", Range(BOOK_ROWS), "default binance most"))
    assert got == "scenario loss given default must be a number such as 0.6 (got 'most')"
    got = one_line(
        excel.call("PERP_STRESS", Range(BOOK_ROWS), Range([["name", "BTC"], ["crash", -1.5]]))
    )
    assert "must be > -1" in got


def test_stress_positions_table(excel: Excel) -> None:
    got = excel.call(
        "PERP_STRESS_POSITIONS",
        Range(BOOK_ROWS),
        "liquidated",
        Range([["BTC -50% 24h", "BTC +30% 1h"]]),
    )
    result = stress.stress_test(book_frame(), ["BTC -50% 24h", "BTC +30% 1h"])
    assert got[0] == ["symbol", "BTC -50% 24h", "BTC +30% 1h"]
    assert [r[1:] for r in got[1:]] == result.table("liquidated").to_numpy().tolist()
    assert isinstance(got[1][1], bool)


def test_scenario_library_functions(excel: Excel) -> None:
    library = excel.call("PERP_SCENARIOS")
    assert [r[0] for r in library[1:]] == [s.name for s in scenario_models.scenario_library()]
    assert excel.call("PERP_SCENARIO_MOVE", "BTC -30% 1h", Range([["BTC", "ETH", "DOGE"]])) == [
        scenario_models.get_scenario("BTC -30% 1h").price_move(a) for a in ("BTC", "ETH", "DOGE")
    ]
    assert excel.call("PERP_PRICE_SCAN_RANGE", 0.6) == scenario_models.price_scan_range(0.6)
    grid = excel.call("PERP_SPAN_GRID", 0.06)
    assert len(grid) == 17 and grid[16][1] == scenario_models.span_grid(0.06)[15].moves["BTC"]
    got = one_line(excel.call("PERP_SCENARIO_MOVE", "Moon 2030", "BTC"))
    assert got.startswith("scenario must be one of BTC -15% 1h, ") and got.endswith(
        "... (got 'Moon 2030')"
    )


# --- counterparty -----------------------------------------------------------------------------

FACTOR_ROWS = [
    [
        "exchange",
        "proof_of_reserves",
        "audit",
        "licence",
        "jurisdiction",
        "insurance_fund",
        "incident_history",
        "transparency",
    ],
    ["alpha", 1, 0.5, 1, 1, 0.6, 1, 0.8],
    ["beta", 0.4, 0, 0.5, 0.2, 0.3, 0.5, 0.2],
]


def test_exchange_score_grade_pd_and_expected_loss(excel: Excel) -> None:
    factors = pd.DataFrame(FACTOR_ROWS[1:], columns=FACTOR_ROWS[0])
    factors[FACTOR_ROWS[0][1:]] = factors[FACTOR_ROWS[0][1:]].astype(float)
    scores = counterparty.exchange_score(factors)
    assert excel.call("PERP_EXCHANGE_SCORE", Range(FACTOR_ROWS)) == column(scores)
    weights = Range(
        [
            ["factor", "weight"],
            ["proof_of_reserves", 2],
            ["audit", 1],
            ["licence", 1],
            ["jurisdiction", 1],
            ["insurance_fund", 1],
            ["incident_history", 1],
            ["transparency", 0],
        ]
    )
    weighted = counterparty.exchange_score(
        factors,
        weights={
            "proof_of_reserves": 2,
            "audit": 1,
            "licence": 1,
            "jurisdiction": 1,
            "insurance_fund": 1,
            "incident_history": 1,
            "transparency": 0,
        },
    )
    assert excel.call("PERP_EXCHANGE_SCORE", Range(FACTOR_ROWS), weights) == column(weighted)
    assert excel.call("PERP_EXCHANGE_GRADE", Range([[89.0], [20.0], [None]])) == [
        ["AA"],
        ["E"],
        [""],
    ]
    assert excel.call("PERP_EXCHANGE_PD", 70.0, "high") == (
        counterparty.exchange_probability_of_default(70.0, bound="high")
    )
    assert excel.call("PERP_EXPECTED_LOSS", 100_000.0, 0.02, 0.75) == counterparty.expected_loss(
        100_000.0, 0.02, 0.75
    )
    assert excel.call("PERP_PD_OVER", 0.04, 0.25) == counterparty.probability_of_default_over(
        0.04, 0.25
    )
    assert excel.call("PERP_LGD_PRIOR", "quadrigacx") == counterparty.loss_given_default_prior(
        "quadrigacx"
    )
    assert excel.call("PERP_RESERVE_SUBSCORE", 1.02, 40.0) == counterparty.reserve_subscore(
        1.02, 40.0
    )
    assert excel.call("PERP_INSURANCE_SUBSCORE", 1e8, 4e9) == (
        counterparty.insurance_fund_subscore(1e8, 4e9)
    )
    assert excel.call("PERP_INCIDENT_SUBSCORE", 2.0, 1.0) == counterparty.incident_subscore(2, 1)


def test_exposure_concentration_and_diversification(excel: Excel) -> None:
    exposure = counterparty.exposure_by_exchange(book_frame())
    table = excel.call("PERP_EXPOSURE_BY_EXCHANGE", Range(BOOK_ROWS))
    assert table == [["exchange", "exposure"], *[[k, v] for k, v in exposure.items()]]
    pairs = Range(table)  # the spilled table feeds the next functions directly
    result = counterparty.concentration(exposure)
    assert excel.call("PERP_CONCENTRATION", pairs) == [
        ["hhi", "effective_venues"],
        [result.hhi, result.effective_venues],
    ]
    check = counterparty.diversification_check(exposure)
    assert excel.call("PERP_DIVERSIFICATION_CHECK", pairs) == [
        ["passed", "reason"],
        [check.passed, check.reason],
    ]
    got = excel.call("PERP_CHECK_DIVERSIFICATION", pairs, 0.8)
    assert got[1][:3] == ["diversification", "portfolio", True]


# --- discipline -------------------------------------------------------------------------------


def test_position_size(excel: Excel) -> None:
    assert excel.call("PERP_POSITION_SIZE", 10_000.0, 0.01, 60_000.0, 57_000.0, "long") == (
        discipline.position_size(10_000, 0.01, 60_000, 57_000, side="long")
    )
    assert excel.call(
        "PERP_POSITION_SIZE", 1.0, 0.02, 50_000.0, 55_000.0, "short", "inverse", 0.0005
    ) == discipline.position_size(
        1.0, 0.02, 50_000, 55_000, side="short", contract="inverse", fee_rate=0.0005
    )


def test_discipline_checks_spill_the_check_table(excel: Excel) -> None:
    got = excel.call("PERP_CHECK_LEVERAGE", Range([[8.0], [3.0]]))
    expected = discipline.check_leverage(np.array([[8.0], [3.0]]))
    assert got[0] == list(discipline.CHECK_COLUMNS)
    assert got[1:] == table_rows(expected)
    assert got[1][2] is False and got[2][2] is True
    assert (
        excel.call("PERP_CHECK_MARGIN_BUFFER", 1_100.0, 1_000.0)[1]
        == table_rows(discipline.check_margin_buffer(1_100.0, 1_000.0))[0]
    )
    assert (
        excel.call("PERP_CHECK_STOP_LOSS", "long", 100.0, 95.0, 96.0)[1]
        == table_rows(discipline.check_stop_loss("long", 100.0, 95.0, 96.0))[0]
    )
    assert (
        excel.call("PERP_CHECK_MODEL_FRESHNESS", 3.0)[1]
        == table_rows(discipline.check_model_freshness(3.0))[0]
    )


def test_discipline_report_over_a_book(excel: Excel) -> None:
    got = excel.call("PERP_DISCIPLINE_REPORT", Range(BOOK_ROWS), 0.5, 3.0)
    expected = discipline.discipline_report(
        book_frame(), limits=discipline.DisciplineLimits(leverage_cap=3.0), volatility_age_days=0.5
    )
    assert got[0] == list(discipline.CHECK_COLUMNS)
    assert got[1:] == table_rows(expected)
    missing_stop = [r for r in got[1:] if r[0] == "stop_loss" and r[2] is False]
    assert len(missing_stop) == 1


def test_model_errors_are_one_line(excel: Excel) -> None:
    got = one_line(excel.call("PERP_LIQ_PROBABILITY", 100.0, 90.0, -0.5, 1.0, "long"))
    assert got.startswith("volatility must be >= 0")
    got = one_line(
        excel.call("PERP_MONTE_CARLO_VAR", Range([[0.01], [0.02]]), MISSING, MISSING, 2.5)
    )
    assert got == "paths must be a whole number (got 2.5)"


# --- assessment and audit ---------------------------------------------------------------------


def test_assessment_and_book_rating(excel: Excel) -> None:
    distance = Range([[0.35], [0.15], [0.05]])
    leverage = Range([[3.0], [4.0], [12.0]])
    worst = Range([[False], [True], [None]])
    expected = assessment.hybrid_assessment(
        distance_to_liquidation=[0.35, 0.15, 0.05],
        leverage=[3.0, 4.0, 12.0],
        worst_scenario_liquidated=[0.0, 1.0, np.nan],
    )
    got = excel.call("PERP_ASSESSMENT", distance, MISSING, MISSING, leverage, worst)
    assert got == [
        ["rating", "reasons"],
        *expected.positions[["rating", "reasons"]].to_numpy().tolist(),
    ]
    book = excel.call("PERP_BOOK_RATING", distance, MISSING, MISSING, leverage, worst)
    assert book == [[expected.rating], *([r] for r in expected.reasons)]
    lenient = excel.call(
        "PERP_BOOK_RATING",
        MISSING,
        MISSING,
        MISSING,
        leverage,
        MISSING,
        MISSING,
        Range([["leverage_amber", 20], ["leverage_red", 30]]),
    )
    assert lenient == [
        ["green"],
        *(
            [r]
            for r in assessment.hybrid_assessment(
                leverage=[3.0, 4.0, 12.0], thresholds={"leverage_amber": 20.0, "leverage_red": 30.0}
            ).reasons
        ),
    ]


def test_risk_audit_runs_the_checks_given(excel: Excel) -> None:
    got = excel.call(
        "PERP_RISK_AUDIT",
        8.0,
        1_500.0,
        1_000.0,
        MISSING,
        MISSING,
        MISSING,
        MISSING,
        MISSING,
        MISSING,
        0.5,
    )
    expected = discipline.risk_audit(
        leverage=8.0, margin_balance=1_500.0, requirement=1_000.0, volatility_age_days=0.5
    )
    assert got[1:] == table_rows(expected)
    assert [r[0] for r in got[1:]] == ["leverage", "margin_buffer", "model_freshness"]
