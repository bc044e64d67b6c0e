"""Liquidation and bankruptcy prices: invariants, an independent root finder, bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskfuncs import (
    RiskInputError,
    as_tier_table,
    bankruptcy_price,
    liquidation_price,
    maintenance_margin,
    unrealized_pnl,
)
from riskfuncs.liquidation import EXCHANGE_RULES

# Binance BTCUSDT brackets, snapshot 2024-10-24 (freqtrade binance_leverage_tiers.json); the
# maintenance amounts are left out on purpose so the recurrence has to rebuild them.
BTCUSDT_TIERS = [
    {"minNotional": lo, "maxNotional": hi, "maintenanceMarginRate": mmr, "maxLeverage": lev}
    for lo, hi, mmr, lev in [
        (0, 50_000, 0.004, 125),
        (50_000, 600_000, 0.005, 100),
        (600_000, 3_000_000, 0.0065, 75),
        (3_000_000, 12_000_000, 0.01, 50),
        (12_000_000, 70_000_000, 0.02, 25),
        (70_000_000, 100_000_000, 0.025, 20),
        (100_000_000, 230_000_000, 0.05, 10),
        (230_000_000, 480_000_000, 0.10, 5),
        (480_000_000, 600_000_000, 0.125, 4),
        (600_000_000, 800_000_000, 0.15, 3),
        (800_000_000, 1_200_000_000, 0.25, 2),
        (1_200_000_000, 1_800_000_000, 0.50, 1),
    ]
]

AT_LIQUIDATION = [
    name
    for name, rule in EXCHANGE_RULES.items()
    if rule.maintenance_basis == "liquidation" and "inverse" in rule.contracts
]

sides = st.sampled_from(["long", "short"])
prices = st.floats(1.0, 1e5)
leverages = st.floats(1.5, 100.0)


def test_recurrence_rebuilds_binance_cum() -> None:
    # Published cum column of the same snapshot.
    published = [
        0,
        50,
        950,
        11_450,
        131_450,
        481_450,
        2_981_450,
        14_481_450,
        26_481_450,
        41_481_450,
        121_481_450,
        421_481_450,
    ]
    table = as_tier_table(BTCUSDT_TIERS)
    np.testing.assert_allclose(table.maintenance_amounts, published, rtol=0, atol=1e-6)


def _root(
    side: str,
    entry: float,
    qty: float,
    collateral: float,
    contract: str,
    tiers: list[dict[str, float]],
    fee: float,
) -> float:
    """Bisection on the margin balance minus requirement: independent of the closed form."""
    s = 1 if side == "long" else -1

    def gap(price: float) -> float:
        value = qty * price if contract == "linear" else qty / price
        pnl = float(unrealized_pnl(side, entry, price, qty, contract=contract))
        need = float(maintenance_margin(qty, price, contract=contract, tiers=tiers))
        return collateral + pnl - need - fee * value

    lo, hi = 1e-9, entry * 1e4
    if gap(lo) * gap(hi) > 0:
        return math.nan
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (gap(mid) > 0) == (s == 1):
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


@settings(max_examples=200, deadline=None)
@given(
    side=sides,
    entry=st.floats(100.0, 100_000.0),
    size=st.floats(0.01, 20_000.0),
    leverage=leverages,
    fee=st.sampled_from([0.0, 0.0005]),
)
def test_tiered_linear_matches_bisection(
    side: str, entry: float, size: float, leverage: float, fee: float
) -> None:
    collateral = size * entry / leverage
    got = liquidation_price(side, entry, size, collateral, tiers=BTCUSDT_TIERS, fee_rate=fee)
    expected = _root(side, entry, size, collateral, "linear", BTCUSDT_TIERS, fee)
    if math.isnan(expected):
        # No sign change above zero: a long that no positive price liquidates.
        assert side == "long" and got == 0.0
        return
    # Bisection to 200 halvings: far below 1e-9 relative.
    assert got == pytest.approx(expected, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    side=sides,
    entry=prices,
    leverage=leverages,
    mmr=st.floats(0.0, 0.02),
    exchange=st.sampled_from(sorted(EXCHANGE_RULES)),
    contract=st.sampled_from(["linear", "inverse"]),
)
def test_margin_balance_equals_requirement_at_liquidation(
    side: str, entry: float, leverage: float, mmr: float, exchange: str, contract: str
) -> None:
    rule = EXCHANGE_RULES[exchange]
    if contract not in rule.contracts:
        return
    qty = 3.0 if contract == "linear" else 30_000.0
    value = qty * entry if contract == "linear" else qty / entry
    collateral = value / leverage
    kwargs = (
        {"max_leverage": 1 / (2 * mmr) if mmr > 0 else 50.0}
        if exchange == "hyperliquid"
        else {"maintenance_margin_rate": mmr}
    )
    lp = liquidation_price(
        side, entry, qty, collateral, exchange=exchange, contract=contract, **kwargs
    )
    if not (0 < lp < math.inf):
        return
    rate = 1 / (2 * kwargs["max_leverage"]) if exchange == "hyperliquid" else mmr
    balance = collateral + unrealized_pnl(side, entry, lp, qty, contract=contract)
    basis_price = lp if rule.maintenance_basis == "liquidation" else entry
    requirement = maintenance_margin(
        qty, basis_price, contract=contract, maintenance_margin_rate=rate
    )
    assert balance == pytest.approx(requirement, rel=1e-9, abs=1e-9 * value)


@settings(max_examples=200, deadline=None)
@given(
    side=sides,
    entry=prices,
    leverage=leverages,
    more=st.floats(1.05, 3.0),
    exchange=st.sampled_from(sorted(EXCHANGE_RULES)),
    contract=st.sampled_from(["linear", "inverse"]),
)
def test_side_of_entry_and_monotone_in_leverage(
    side: str, entry: float, leverage: float, more: float, exchange: str, contract: str
) -> None:
    if contract not in EXCHANGE_RULES[exchange].contracts:
        return
    qty = 2.0 if contract == "linear" else 20_000.0
    value = qty * entry if contract == "linear" else qty / entry
    # A maintenance rate well inside the initial margin, so the position starts safe.
    mmr = 0.25 / (leverage * more)
    kwargs = (
        {"max_leverage": 1 / (2 * mmr)}
        if exchange == "hyperliquid"
        else {"maintenance_margin_rate": mmr}
    )
    low = liquidation_price(
        side, entry, qty, value / leverage, exchange=exchange, contract=contract, **kwargs
    )
    high = liquidation_price(
        side, entry, qty, value / (leverage * more), exchange=exchange, contract=contract, **kwargs
    )
    if side == "long":
        assert low < entry and high < entry
        assert high > low  # more leverage: closer to entry
    else:
        assert low > entry and high > entry
        assert high < low


def test_unreachable_prices_are_documented_values() -> None:
    assert liquidation_price("long", 100, 1, 150, maintenance_margin_rate=0.01) == 0.0
    assert (
        liquidation_price("short", 100, 1_000, 20, contract="inverse", maintenance_margin_rate=0.01)
        == math.inf
    )
    assert bankruptcy_price("long", 100, 1, 100) == 0.0


def test_entry_basis_differs_by_one_minus_mmr() -> None:
    # Long 10x, MMR 0.5%, EP 100: liquidation-price basis 90.452..., entry basis 90.5.
    at_liq = liquidation_price("long", 100, 1, 10, maintenance_margin_rate=0.005)
    at_entry = liquidation_price(
        "long", 100, 1, 10, exchange="bybit", maintenance_margin_rate=0.005
    )
    assert at_liq == pytest.approx(90 / 0.995, rel=1e-12)
    assert at_entry == pytest.approx(90.5, rel=1e-12)


def test_cross_terms_shift_like_extra_collateral() -> None:
    isolated = liquidation_price("long", 100, 1, 12, maintenance_margin_rate=0.01)
    cross = liquidation_price(
        "long",
        100,
        1,
        15,
        maintenance_margin_rate=0.01,
        other_maintenance_margin=5,
        other_unrealized_pnl=2,
    )
    assert cross == pytest.approx(isolated, rel=1e-12)


def test_vector_equals_loop_of_scalars_and_inputs_untouched() -> None:
    rng = np.random.default_rng(7)
    n = 300
    side = rng.choice(["long", "short"], n)
    entry = rng.uniform(100, 70_000, n)
    qty = rng.uniform(0.01, 500, n)
    collateral = qty * entry / rng.uniform(1, 50, n)
    copies = [a.copy() for a in (side, entry, qty, collateral)]
    vector = liquidation_price(side, entry, qty, collateral, tiers=BTCUSDT_TIERS)
    loop = [
        liquidation_price(*args, tiers=BTCUSDT_TIERS)
        for args in zip(side, entry, qty, collateral, strict=True)
    ]
    np.testing.assert_array_equal(vector, loop)
    for before, after in zip(copies, (side, entry, qty, collateral), strict=True):
        np.testing.assert_array_equal(before, after)


def test_container_contract() -> None:
    assert isinstance(liquidation_price("long", 100, 1, 10, maintenance_margin_rate=0.01), float)
    array = liquidation_price(["long", "short"], 100, 1, 10, maintenance_margin_rate=0.01)
    assert isinstance(array, np.ndarray) and array.shape == (2,)
    index = pd.Index(["a", "b"])
    series = liquidation_price(
        pd.Series(["long", "short"], index=index), 100, 1, 10, maintenance_margin_rate=0.01
    )
    assert isinstance(series, pd.Series) and series.index.equals(index)


def test_nan_market_data_flows_through() -> None:
    out = liquidation_price(
        ["long", None, "short"], [100, 100, np.nan], 1, 10, maintenance_margin_rate=0.01
    )
    assert not np.isnan(out[0]) and np.isnan(out[1]) and np.isnan(out[2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"entry_price": -5}, r"^entry_price must be > 0 \(got -5\)"),
        ({"quantity": 0}, r"^quantity must be > 0 \(got 0\)"),
        ({"side": "flat"}, r"^side must be long or short \(got 'flat'\)"),
        ({"exchange": "ftx"}, r"^exchange must be one of binance, bybit, .* \(got 'ftx'\)"),
        ({"contract": "quanto"}, r"^contract must be one of linear, inverse"),
        ({"maintenance_margin_rate": 1.5}, r"^maintenance_margin_rate must be in \[0, 1\)"),
        ({"exchange": "hyperliquid", "contract": "inverse"}, r"contract must be linear on hyperl"),
        ({"maintenance_margin_rate": None}, r"maintenance_margin_rate or tiers is required"),
        ({"collateral": 5_000_000}, r"^collateral must be at most 1000x the position value"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "side": "long",
        "entry_price": 100,
        "quantity": 1,
        "collateral": 10,
        "maintenance_margin_rate": 0.01,
    }
    arguments.update(kwargs)
    with pytest.raises(RiskInputError, match=message):
        liquidation_price(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        (
            [
                {"minNotional": 0, "maxNotional": 10, "maintenanceMarginRate": 0.01},
                {"minNotional": 5, "maxNotional": 20, "maintenanceMarginRate": 0.02},
            ],
            "overlap",
        ),
        (
            [
                {"minNotional": 0, "maxNotional": 10, "maintenanceMarginRate": 0.01},
                {"minNotional": 12, "maxNotional": 20, "maintenanceMarginRate": 0.02},
            ],
            "gap",
        ),
        (
            [
                {"minNotional": 0, "maxNotional": 10, "maintenanceMarginRate": 0.02},
                {"minNotional": 10, "maxNotional": 20, "maintenanceMarginRate": 0.01},
            ],
            "must not fall",
        ),
        ([{"minNotional": 0, "maxNotional": 10}], "must have maintenanceMarginRate"),
        ([{"minNotional": 5, "maxNotional": 10, "maintenanceMarginRate": 0.01}],
         r"must start at notional 0 \(tier 1 starts at 5\)"),
    ],
)
def test_bad_tier_tables_are_refused(tiers: list[dict[str, float]], message: str) -> None:
    with pytest.raises(RiskInputError, match=message):
        liquidation_price("long", 100, 1, 10, tiers=tiers)


def test_tier_units_follow_the_market_not_the_currency_label() -> None:
    # A linear market's table used for an inverse position is a unit mix-up (quote vs coin).
    tiers = [dict(tier, symbol="BTC/USDT:USDT") for tier in BTCUSDT_TIERS]
    with pytest.raises(RiskInputError, match=r"tiers of BTC/USDT:USDT are for a linear contract"):
        liquidation_price("long", 100, 1_000, 1, contract="inverse", tiers=tiers)
    # ccxt labels Binance COIN-M tables "USD" although their bounds are in coin: accepted.
    coin_m = [{"tier": 1, "symbol": "BTC/USD:BTC", "currency": "USD", "minNotional": 0,
               "maxNotional": 50, "maintenanceMarginRate": 0.004, "maxLeverage": 125,
               "info": {"cum": "0.0"}}]
    assert liquidation_price("long", 37643.10000021, 200, 0.00268058, contract="inverse",
                             tiers=coin_m) == pytest.approx(25119.9744576, rel=1e-9)
    # Linear markets quoted in a coin not on any stablecoin list (USD1, BTC) are linear.
    for symbol in ("BTC/USD1:USD1", "ETH/BTC:BTC"):
        linear = [dict(tier, symbol=symbol, currency=symbol[-4:].strip(":"))
                  for tier in BTCUSDT_TIERS]
        assert liquidation_price("long", 100, 1, 10, tiers=linear) == liquidation_price(
            "long", 100, 1, 10, tiers=BTCUSDT_TIERS)


def test_tier_boundary_gives_the_same_price_from_both_sides() -> None:
    # With continuous maintenance margin, both tiers agree at the boundary notional 50,000.
    table = as_tier_table(BTCUSDT_TIERS)
    qty = 1.0
    lp = 50_000.0
    mm = float(table.maintenance_margin(np.array(qty * lp)))
    collateral = mm + qty * (100_000 - lp)  # a long at 100,000 liquidating exactly at 50,000
    assert liquidation_price("long", 100_000, qty, collateral, tiers=table) == pytest.approx(
        lp, rel=1e-12
    )


def test_ccxt_ids_name_their_rule_and_unknown_venues_are_refused() -> None:
    args = ("long", 100, 1, 10)
    assert liquidation_price(*args, exchange="binanceusdm", maintenance_margin_rate=0.01) == (
        liquidation_price(*args, exchange="binance", maintenance_margin_rate=0.01)
    )
    with pytest.raises(RiskInputError, match=r"^exchange must be one of .*\(got 'binanse'\)"):
        liquidation_price(*args, exchange="binanse", maintenance_margin_rate=0.01)


def test_okx_charges_the_whole_position_at_its_tier_rate() -> None:
    # OKX 'Tiered maintenance margin ratio rules': no maintenance amount; the whole position is
    # at its tier's rate. 5 BTC long at 60,000 with 30,000 margin and a 0.05% taker fee: the
    # liquidation notional (about 273k) is in the 1% tier, so
    # 30,000 + 5 (P - 60,000) = 5 P (1% + 0.05%)  ->  P = 54,000 / 0.9895 = 54,573.02.
    tiers = [
        {"tier": 1, "minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004},
        {"tier": 2, "minNotional": 50_000, "maxNotional": 200_000,
         "maintenanceMarginRate": 0.005},
        {"tier": 3, "minNotional": 200_000, "maxNotional": None, "maintenanceMarginRate": 0.01},
    ]
    okx = liquidation_price("long", 60_000, 5, 30_000, exchange="okx", tiers=tiers,
                            fee_rate=0.0005)
    assert okx == pytest.approx(54_000 / 0.9895, rel=1e-12)
    # Binance-style rebuilt amounts (the generic rule) would put it 213 lower.
    rebuilt = liquidation_price("long", 60_000, 5, 30_000, exchange="generic", tiers=tiers,
                                fee_rate=0.0005)
    assert okx - rebuilt == pytest.approx(212.23, abs=0.01)
    # The same in a book: portfolio_margin and stress_test use the whole-position rule too.
    book = pd.DataFrame({"exchange": ["okx"], "symbol": ["BTC/USDT:USDT"], "side": ["long"],
                         "contracts": [5.0], "entryPrice": [60_000.0], "markPrice": [60_000.0],
                         "collateral": [30_000.0], "feeRate": [0.0005]})
    from riskfuncs import Scenario, portfolio_margin, stress_test

    margins = portfolio_margin(book, tiers={"BTC/USDT:USDT": tiers})
    assert margins["liquidation_price"].iloc[0] == pytest.approx(okx, rel=1e-12)
    assert margins["maintenance_margin"].iloc[0] == pytest.approx(300_000 * 0.01, rel=1e-12)
    drop = 54_573.02 / 60_000 - 1  # just past the liquidation price: liquidated
    past = Scenario("past", description="just past", moves={"BTC": drop - 1e-4})
    short = Scenario("short of", description="just short of", moves={"BTC": drop + 1e-4})
    result = stress_test(book, [past, short], tiers={"BTC/USDT:USDT": tiers})
    # After the move: whole-position maintenance (notional x 1%), no rebuilt amount.
    moved = 5 * 60_000 * (1 + drop - 1e-4)
    assert result.maintenance_margin[0, 0] == pytest.approx(moved * 0.01, rel=1e-12)
    liquidated = result.account_balance < result.account_requirement
    assert liquidated[0, 0] and not liquidated[0, 1]


# --- the scalar fast path ----------------------------------------------------------------------

OKX_TIERS = [
    {"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004},
    {"minNotional": 50_000, "maxNotional": 200_000, "maintenanceMarginRate": 0.005},
    {"minNotional": 200_000, "maxNotional": None, "maintenanceMarginRate": 0.01},
]
# Amounts that do not follow the recurrence: the maintenance margin jumps at 1,000.
JUMPING_TIERS = [
    {"minNotional": 0, "maxNotional": 1_000, "maintenanceMarginRate": 0.01,
     "maintenanceAmount": 0},
    {"minNotional": 1_000, "maxNotional": None, "maintenanceMarginRate": 0.05,
     "maintenanceAmount": 0},
]
TIER_SETS = {"btcusdt": BTCUSDT_TIERS, "okx": OKX_TIERS, "jumping": JUMPING_TIERS}


@st.composite
def books(draw: st.DrawFn) -> dict[str, Any]:
    """A small book on one venue and contract: sides, prices, sizes, leverage, fees, cross."""
    exchange = draw(st.sampled_from(sorted(EXCHANGE_RULES)))
    contract = draw(st.sampled_from(EXCHANGE_RULES[exchange].contracts))
    n = draw(st.integers(1, 8))
    column = lambda values: draw(st.lists(values, min_size=n, max_size=n))  # noqa: E731
    entry = column(st.floats(1.0, 1e5))
    size = column(st.floats(0.01, 2_000.0) if contract == "linear" else st.floats(10.0, 1e7))
    leverage = column(st.floats(1.0, 125.0))
    value = [q * p if contract == "linear" else q / p for q, p in zip(size, entry, strict=True)]
    book: dict[str, Any] = {
        "side": column(draw(st.sampled_from([st.sampled_from(["long", "short", "Buy", " SELL"]),
                                             st.sampled_from([-1, 1.0])]))),
        "entry_price": entry,
        "quantity": size,
        "collateral": [v / lev for v, lev in zip(value, leverage, strict=True)],
        "exchange": exchange,
        "contract": contract,
        "fee_rate": draw(st.sampled_from([0.0, 0.0005])),
    }
    other = draw(st.sampled_from(["isolated", "cross"]))
    if other == "cross":
        book["other_maintenance_margin"] = column(st.floats(0.0, 100.0))
        book["other_unrealized_pnl"] = column(st.floats(-50.0, 50.0))
        book["margin_mode"] = "cross"
    basis = draw(st.sampled_from(["rate", "tiers"]))
    if exchange == "hyperliquid" and basis == "rate":
        book["max_leverage"] = draw(st.sampled_from([3.0, 20.0, 50.0]))
    elif basis == "rate":
        book["maintenance_margin_rate"] = column(st.floats(0.0, 0.05))
        book["maintenance_amount"] = column(st.sampled_from([0.0, 0.001, 5.0]))
    elif contract == "linear":
        book["tiers"] = as_tier_table(TIER_SETS[draw(st.sampled_from(sorted(TIER_SETS)))])
    else:
        # Coin bounds, as ccxt records (a tuple: the lists in a book are its columns).
        book["tiers"] = tuple(
            dict(tier, maxNotional=tier["maxNotional"] and tier["maxNotional"] / 1e4,
                 minNotional=tier["minNotional"] / 1e4) for tier in OKX_TIERS
        )
    return book


@settings(max_examples=300, deadline=None)
@given(book=books())
def test_vector_equals_loop_of_scalar_fast_paths(book: dict[str, Any]) -> None:
    """Every venue, contract, rate or tier table, fee and cross term: the scalar fast path gives
    the vectorised call's numbers exactly (same formulas, same order of operations)."""
    columns = {k: v for k, v in book.items() if isinstance(v, list)}
    n = len(book["entry_price"])
    vector = liquidation_price(**book)
    loop = []
    for i in range(n):
        one = dict(book, **{k: v[i] for k, v in columns.items()})
        loop.append(liquidation_price(**one))
    assert all(type(value) is float for value in loop)
    np.testing.assert_array_equal(vector, loop)


def test_the_scalar_path_uses_no_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    import riskfuncs._arrays

    def refuse(**named: object) -> None:
        raise AssertionError("broadcast called on plain numbers")

    monkeypatch.setattr(riskfuncs._arrays, "broadcast", refuse)
    table = as_tier_table(BTCUSDT_TIERS)
    for exchange in ("binance", "bybit", "okx"):
        assert isinstance(liquidation_price("short", 60_000, 2, 9_000.0, exchange=exchange,
                                            tiers=table, fee_rate=0.0005), float)
    assert isinstance(liquidation_price(-1, 60_000.0, 2.0, 9_000.0, exchange="hyperliquid",
                                        max_leverage=40), float)
    nobody: Any = None  # a missing side: NaN, as in a vector
    assert math.isnan(liquidation_price(nobody, 100.0, 1.0, 10.0, maintenance_margin_rate=0.01))


SCALAR_REFUSALS = [
    {"entry_price": -5},
    {"entry_price": 0.0},
    {"quantity": 0},
    {"collateral": -1.5},
    {"fee_rate": 1.2},
    {"fee_rate": -0.001},
    {"other_maintenance_margin": -3, "margin_mode": "cross"},
    {"side": "flat"},
    {"side": 2},
    {"side": 0.0},
    {"exchange": "ftx"},
    {"contract": "quanto"},
    {"maintenance_margin_rate": 1.5},
    {"maintenance_margin_rate": -0.1},
    {"maintenance_amount": -1},
    {"maintenance_margin_rate": 0.6, "fee_rate": 0.5},
    {"maintenance_margin_rate": 0.6, "fee_rate": 0.5, "exchange": "bybit"},
    {"exchange": "hyperliquid", "contract": "inverse"},
    {"exchange": "hyperliquid", "maintenance_margin_rate": None},
    {"exchange": "hyperliquid", "maintenance_margin_rate": None, "max_leverage": 0.5},
    {"maintenance_margin_rate": None},
    {"tiers": BTCUSDT_TIERS},
    {"tiers": BTCUSDT_TIERS, "maintenance_margin_rate": None, "fee_rate": 0.6},
    {"collateral": 5_000_000},
    {"collateral": 5_000_000, "exchange": "bybit"},
    {"collateral": 20_000, "quantity": 1_000, "contract": "inverse"},
    {"margin_mode": "hedge"},
]


@pytest.mark.parametrize("refusal", SCALAR_REFUSALS, ids=lambda r: ",".join(map(str, r.items())))
def test_scalar_refusals_are_worded_as_the_vector_path_words_them(
    refusal: dict[str, object],
) -> None:
    arguments: dict[str, object] = {
        "side": "long",
        "entry_price": 100.0,
        "quantity": 1.0,
        "collateral": 10.0,
        "maintenance_margin_rate": 0.01,
    }
    arguments.update(refusal)
    with pytest.raises(RiskInputError) as scalar:
        liquidation_price(**arguments)  # type: ignore[arg-type]
    # The same call through the array machinery: every number as a 0-d array.
    as_arrays = {
        key: np.asarray(value) if isinstance(value, int | float) and key != "max_leverage"
        else value
        for key, value in arguments.items()
    }
    with pytest.raises(RiskInputError) as vector:
        liquidation_price(**as_arrays)  # type: ignore[arg-type]
    assert str(scalar.value) == str(vector.value)


def test_a_long_tier_table_and_missing_values_in_the_tier_search() -> None:
    # 80 tiers: the vectorised search counts in wide integers past 127 breaks.
    floors = [0.0, *np.geomspace(1e3, 1e10, 79).tolist()]
    tiers = [
        {"minNotional": lo, "maxNotional": hi, "maintenanceMarginRate": 0.004 + 0.006 * k}
        for k, (lo, hi) in enumerate(zip(floors, [*floors[1:], None], strict=True))
    ]
    table = as_tier_table(tiers)
    rng = np.random.default_rng(3)
    n = 400
    side = rng.choice(["long", "short"], n).astype(object)
    side[:3] = None
    entry = rng.uniform(1, 1e5, n)
    entry[5] = np.nan
    qty = rng.lognormal(0, 3, n)
    collateral = qty * entry / rng.uniform(1, 20, n)
    vector = liquidation_price(side, entry, qty, collateral, tiers=table)
    loop = [liquidation_price(*p, tiers=table)
            for p in zip(side, entry, qty, collateral, strict=True)]
    np.testing.assert_array_equal(vector, loop)
    assert np.isnan(vector[:3]).all() and np.isnan(vector[5])
    assert np.isfinite(vector[6:]).all()


def test_a_lookup_past_the_last_tier_cap_is_refused_not_guessed() -> None:
    from riskfuncs import max_leverage, tier_for_notional

    capped = [{"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004,
               "maxLeverage": 125},
              {"minNotional": 50_000, "maxNotional": 600_000, "maintenanceMarginRate": 0.005,
               "maxLeverage": 100}]
    assert tier_for_notional(600_000, capped) == 2.0
    with pytest.raises(RiskInputError, match=r"notional must be at most the last tier's cap "
                                             r"600,000 .*\(got 700000\)"):
        tier_for_notional(700_000, capped)
    with pytest.raises(RiskInputError, match="last tier's cap"):
        max_leverage([100.0, 1e9], capped)
    open_ended = [dict(capped[0]), dict(capped[1], maxNotional=None)]
    assert tier_for_notional(1e12, open_ended) == 2.0


@pytest.mark.parametrize("exchange", ["binance", "bybit", "okx", "gate", "generic"])
def test_a_cross_short_already_past_liquidation_reads_as_reached_not_never(exchange: str) -> None:
    """The wallet (150) less the other positions' loss (500) is below the requirement at every
    price: the short is already liquidated, which its 0.0 bound must say (not "never")."""
    from riskfuncs.liquidation import ALREADY_LIQUIDATED, NEVER_LIQUIDATED, liquidation_state

    terms = {"maintenance_margin_rate": 0.01, "exchange": exchange}
    price = liquidation_price("short", 100.0, 1.0, 150.0, other_unrealized_pnl=-500.0,
                              margin_mode="cross", **terms)
    # Independently: balance and requirement at prices from 1e-6 to 1e6 (entry 100, 1 coin).
    marks = np.geomspace(1e-6, 1e6, 61)
    balance = 150.0 - 500.0 + (100.0 - marks)
    assert (balance < 0.01 * marks).all()
    assert liquidation_state("short", price) == ALREADY_LIQUIDATED
    # The same bound on a fully collateralised long means the opposite.
    long = liquidation_price("long", 100.0, 1.0, 150.0, **terms)
    assert long == 0.0 and liquidation_state("long", long) == NEVER_LIQUIDATED


def test_liquidation_state_reads_each_bound_by_side_and_keeps_prices_and_index() -> None:
    from riskfuncs.liquidation import liquidation_state

    # Inverse: a long whose wallet is in deficit (inf, reached) and a short never liquidated.
    past_long = liquidation_price("long", 100.0, 10_000.0, 1.0, contract="inverse",
                                  maintenance_margin_rate=0.01, margin_mode="cross",
                                  other_unrealized_pnl=-200.0)
    safe_short = liquidation_price("short", 100.0, 100.0, 2.0, contract="inverse",
                                   maintenance_margin_rate=0.01)
    assert math.isinf(past_long) and math.isinf(safe_short)
    sides = pd.Series(["long", "short", "long", "short"], index=list("abcd"))
    got = liquidation_state(sides, pd.Series([past_long, safe_short, 95.0, np.nan],
                                             index=list("abcd")))
    assert got.index.tolist() == list("abcd")
    assert got.tolist() == ["reached", "never", None, None]
    with pytest.raises(RiskInputError, match="liquidation_price must be >= 0"):
        liquidation_state("long", -1.0)
