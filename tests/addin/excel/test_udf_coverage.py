"""Every public riskfuncs capability is reachable from a cell.

Each public function of riskfuncs is either called by a PERP_ function (checked in its source)
or listed below with the reason it is not a cell function of its own.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import riskfuncs

NOT_CELL_FUNCTIONS = {
    "tiers.as_tier_table": "conversion: every tiers argument takes a tier range directly",
    "portfolio.account_of": "the account key is the account column of PERP_PORTFOLIO",
    "scenarios.get_scenario": "scenario names are accepted wherever scenarios are",
    "scenarios.scenario_library": "listed by PERP_SCENARIOS",
    "scenarios.exchange_default_scenario": 'scenario name "default <exchange> [lgd]"',
    "volatility.as_history": "input reader used inside the volatility functions",
    "volatility.same_shape": "input check used inside the volatility functions",
    "volatility.require_periods_per_year": "input check used inside the volatility functions",
    "probability.normal_cdf": "numeric helper; Excel has NORM.S.DIST",
    "probability.log_normal_cdf": "numeric helper; Excel has NORM.S.DIST and LN",
    "batch.batch": "a whole-book batch for cluster engines; PERP_PORTFOLIO and PERP_STRESS are "
                   "its cell forms",
    "batch.account_key": "the partition key for cluster engines (PERP_PORTFOLIO's account column)",
    "accounts.conversion_rates": "index x (1 - bid buffer) is one multiplication in a cell",
    "venues.known_venue": 'PERP_EXCHANGE_RULE answers it: "generic" for a venue without a rule',
    "venues.venue_key": "spelling normaliser (trim, lower case) used inside PERP_EXCHANGE_RULE",
    "venues.parse_symbol": "symbol reader used by every book function; a cell's symbol is text",
    "venues.venue_name": "a cell already holds the venue name the trader typed",
    "var.book_var": "a whole book against a price table: the Prices sheet computes it in native "
                    "formulas; one asset's figures are PERP_HISTORICAL_VAR and friends",
}


def _public_functions() -> dict[str, types.FunctionType]:
    found = {}
    for info in pkgutil.iter_modules(riskfuncs.__path__):
        if info.name.startswith("_") or info.name == "data":
            continue
        module = importlib.import_module(f"riskfuncs.{info.name}")
        names = getattr(module, "__all__", None) or [
            n
            for n, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module.__name__
        ]
        for name in names:
            value = getattr(module, name)
            if inspect.isfunction(value) and not name.startswith("_"):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_public_function_has_a_cell_function(udf_module: types.ModuleType) -> None:
    sources = "\n".join(
        inspect.getsource(inspect.unwrap(f))
        for name, f in vars(udf_module).items()
        if name.startswith("PERP_")
    ) + inspect.getsource(udf_module)
    uncovered = [
        qualified
        for qualified in _public_functions()
        if qualified not in NOT_CELL_FUNCTIONS and f".{qualified.split('.')[1]}(" not in sources
    ]
    assert uncovered == [], f"no PERP_ function calls {uncovered}"
    assert set(NOT_CELL_FUNCTIONS) <= set(_public_functions()), "stale exclusion"
