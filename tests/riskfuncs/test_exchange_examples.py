"""Margin, liquidation and funding against the exchanges' own published worked examples.

Every case is one published number in ``tests/reference/exchange_examples.csv``, with its inputs,
the page it comes from and a tolerance that covers the page's own rounding (a price shown to two
decimals, a tick the exchange truncates to, a value the page writes as "0.3232..."). Tier tables
the cases need are in ``tests/reference/tiers/`` in ccxt ``LeverageTier`` shape.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskfuncs.liquidation import bankruptcy_price, liquidation_price
from riskfuncs.margin import initial_margin, maintenance_margin, notional, unrealized_pnl

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
EXAMPLES = REFERENCE / "exchange_examples.csv"
TIERS = REFERENCE / "tiers"

NUMERIC = {
    "quantity", "entry_price", "mark_price", "collateral", "leverage", "max_leverage",
    "maintenance_margin_rate", "maintenance_amount", "fee_rate", "funding_rate", "premium_index",
    "interest_rate", "clamp", "other_quantity", "other_entry_price", "other_mark_price",
    "other_maintenance_margin_rate", "other_maintenance_amount", "expected", "abs_tol", "rel_tol",
}
# Rules each rule-set must be checked against (OKX and Gate publish no worked example: see
# tests/reference/README.md).
RULES_WITH_EXAMPLES = {"binance", "bybit", "hyperliquid", "dydx", "bitmex"}


def load_rows() -> list[dict[str, Any]]:
    with EXAMPLES.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    parsed = []
    for row in rows:
        parsed.append(
            {key: (float(value) if value else None) if key in NUMERIC else value
             for key, value in row.items()}
        )
    return parsed


def load_tiers(name: str) -> list[dict[str, Any]]:
    document = json.loads((TIERS / name).read_text(encoding="utf-8"))
    tiers: list[dict[str, Any]] = document["tiers"]
    return tiers


ROWS = load_rows()


def case_id(row: dict[str, Any]) -> str:
    return f"{row['example_id']}:{row['check']}"


def params() -> list[Any]:
    cases = []
    for row in ROWS:
        marks = ([pytest.mark.xfail(strict=True, reason=row["xfail"])] if row["xfail"] else [])
        cases.append(pytest.param(row, id=case_id(row), marks=marks))
    return cases


def price_of(row: dict[str, Any]) -> float:
    """The price a margin figure is evaluated at: the mark when the example gives one."""
    price = row["mark_price"] if row["mark_price"] is not None else row["entry_price"]
    assert price is not None, case_id(row)
    return float(price)


def rate_terms(row: dict[str, Any]) -> dict[str, Any]:
    """Maintenance inputs as the example gives them: a tier table, or a rate and an amount."""
    if row["tiers"]:
        return {"tiers": load_tiers(row["tiers"])}
    terms: dict[str, Any] = {}
    if row["maintenance_margin_rate"] is not None:
        terms["maintenance_margin_rate"] = row["maintenance_margin_rate"]
        terms["maintenance_amount"] = row["maintenance_amount"] or 0.0
    if row["max_leverage"] is not None:
        terms["max_leverage"] = row["max_leverage"]
    return terms


def collateral_of(row: dict[str, Any]) -> float:
    """Given collateral, or the initial margin of a position opened at that leverage with no
    extra margin added (how the Bybit examples state it)."""
    if row["collateral"] is not None:
        return float(row["collateral"])
    return float(initial_margin(row["quantity"], row["entry_price"], leverage=row["leverage"],
                                contract=row["contract"]))


def other_positions(row: dict[str, Any]) -> tuple[float, float]:
    """Cross margin: maintenance margin and unrealised PnL of the other position at its mark."""
    if row["other_quantity"] is None:
        return 0.0, 0.0
    args = (row["other_quantity"], row["other_mark_price"])
    mm = maintenance_margin(*args, contract=row["contract"],
                            maintenance_margin_rate=row["other_maintenance_margin_rate"],
                            maintenance_amount=row["other_maintenance_amount"] or 0.0)
    pnl = unrealized_pnl(row["other_side"], row["other_entry_price"], row["other_mark_price"],
                         row["other_quantity"], contract=row["contract"])
    return float(mm), float(pnl)


def check_liquidation_price(row: dict[str, Any]) -> float:
    other_mm, other_pnl = other_positions(row)
    return float(liquidation_price(
        row["side"], row["entry_price"], row["quantity"], collateral_of(row),
        exchange=row["rule"], contract=row["contract"], fee_rate=row["fee_rate"] or 0.0,
        other_maintenance_margin=other_mm, other_unrealized_pnl=other_pnl, **rate_terms(row),
    ))


def check_bankruptcy_price(row: dict[str, Any]) -> float:
    return float(bankruptcy_price(row["side"], row["entry_price"], row["quantity"],
                                  collateral_of(row), contract=row["contract"],
                                  fee_rate=row["fee_rate"] or 0.0))


def check_maintenance_margin(row: dict[str, Any]) -> float:
    return float(maintenance_margin(row["quantity"], price_of(row), contract=row["contract"],
                                    **rate_terms(row)))


def check_initial_margin(row: dict[str, Any]) -> float:
    return float(initial_margin(row["quantity"], row["entry_price"], leverage=row["leverage"],
                                contract=row["contract"]))


def check_unrealized_pnl(row: dict[str, Any]) -> float:
    return float(unrealized_pnl(row["side"], row["entry_price"], row["mark_price"],
                                row["quantity"], contract=row["contract"]))


def check_notional(row: dict[str, Any]) -> float:
    return float(notional(row["quantity"], price_of(row), contract=row["contract"]))


def check_funding_payment(row: dict[str, Any]) -> float:
    funding = pytest.importorskip("riskfuncs.funding")
    return float(funding.funding_payment(row["side"], row["quantity"], row["mark_price"],
                                         row["funding_rate"], contract=row["contract"]))


def check_funding_rate(row: dict[str, Any]) -> float:
    funding = pytest.importorskip("riskfuncs.funding")
    return float(funding.funding_rate(row["premium_index"], interest_rate=row["interest_rate"],
                                      clamp=row["clamp"]))


def check_tier_maintenance_margin_rate(row: dict[str, Any]) -> float:
    """The rate the tier lookup applies: the slope of maintenance margin in notional inside
    the bracket of the example's position."""
    quantity, price, step = float(row["quantity"]), price_of(row), 1e-6
    terms = rate_terms(row)
    low = maintenance_margin(quantity, price, contract=row["contract"], **terms)
    high = maintenance_margin(quantity * (1 + step), price, contract=row["contract"], **terms)
    return float((high - low) / (quantity * price * step))


def check_tier_maintenance_amount(row: dict[str, Any]) -> float:
    """The amount the tier lookup subtracts, given the bracket's published rate."""
    quantity, price = float(row["quantity"]), price_of(row)
    looked_up = maintenance_margin(quantity, price, contract=row["contract"],
                                   tiers=load_tiers(row["tiers"]))
    return float(quantity * price * row["maintenance_margin_rate"] - looked_up)


CHECKS: dict[str, Callable[[dict[str, Any]], float]] = {
    "liquidation_price": check_liquidation_price,
    "bankruptcy_price": check_bankruptcy_price,
    "maintenance_margin": check_maintenance_margin,
    "initial_margin": check_initial_margin,
    "unrealized_pnl": check_unrealized_pnl,
    "notional": check_notional,
    "funding_payment": check_funding_payment,
    "funding_rate": check_funding_rate,
    "tier_maintenance_margin_rate": check_tier_maintenance_margin_rate,
    "tier_maintenance_amount": check_tier_maintenance_amount,
}


def tolerance(row: dict[str, Any]) -> float:
    expected = abs(float(row["expected"]))
    # Plus a few ulps so an exact published value survives floating point.
    return ((row["abs_tol"] or 0.0) + (row["rel_tol"] or 0.0) * expected
            + 1e-12 * max(1.0, expected))


@pytest.mark.parametrize("row", params())
def test_published_example(row: dict[str, Any]) -> None:
    got = CHECKS[row["check"]](row)
    expected = float(row["expected"])
    assert abs(got - expected) <= tolerance(row), (
        f"{case_id(row)}: got {got!r}, published {expected!r} "
        f"(tolerance {tolerance(row):g}: {row['tolerance_reason']}; {row['source_url']})"
    )


def test_every_case_is_sourced_and_bounded() -> None:
    assert ROWS, "no reference cases"
    for row in ROWS:
        assert row["check"] in CHECKS, case_id(row)
        assert row["expected"] is not None, case_id(row)
        assert row["source_url"].startswith("https://"), case_id(row)
        assert row["source_title"] and row["retrieved"], case_id(row)
        assert row["source_kind"] in {"exchange", "secondary"}, case_id(row)
        assert (row["abs_tol"] or row["rel_tol"]) and row["tolerance_reason"], case_id(row)
        # A tolerance wider than 1% of the value would let a wrong convention pass.
        assert tolerance(row) <= 0.01 * abs(float(row["expected"])) + 1e-9, case_id(row)


def test_each_rule_has_at_least_two_liquidation_examples() -> None:
    counts: dict[str, int] = {}
    for row in ROWS:
        if row["check"] == "liquidation_price" and not row["xfail"]:
            counts[row["rule"]] = counts.get(row["rule"], 0) + 1
    for rule in RULES_WITH_EXAMPLES - {"bitmex"}:
        assert counts.get(rule, 0) >= 2, (rule, counts)


def test_hyperliquid_positions_in_one_vector_call() -> None:
    """The 29 API positions as arrays give the same prices as the published ones."""
    rows = [r for r in ROWS if r["rule"] == "hyperliquid" and r["check"] == "liquidation_price"]
    column = {key: np.array([r[key] for r in rows]) for key in
              ("entry_price", "quantity", "collateral", "max_leverage", "expected")}
    got = liquidation_price(np.array([r["side"] for r in rows]), column["entry_price"],
                            column["quantity"], column["collateral"], exchange="hyperliquid",
                            max_leverage=column["max_leverage"])
    np.testing.assert_allclose(got, column["expected"], rtol=1e-4)


@pytest.mark.parametrize("name", sorted(path.name for path in TIERS.glob("*.json")))
def test_tier_file_amounts_follow_the_published_recurrence(name: str) -> None:
    """Binance FAQ: maintenance amount of level n = floor_n x (MMR_n - MMR_n-1) + amount of
    level n-1. With the amounts removed, the maintenance margin derived from the rates alone
    must equal the one computed with the amounts the exchange publishes, in every tier."""
    tiers = load_tiers(name)
    stripped = [{k: v for k, v in tier.items() if k != "info"} for tier in tiers]
    for tier in tiers:
        cap = tier["maxNotional"]
        inside = tier["minNotional"] + 0.5 * (cap - tier["minNotional"])
        published = inside * tier["maintenanceMarginRate"] - float(tier["info"]["cum"])
        derived = maintenance_margin(1.0, inside, tiers=stripped)
        assert math.isclose(derived, published, rel_tol=1e-12, abs_tol=1e-6), (name, tier["tier"])
