"""riskfuncs: the numerical core of perprisk.

Exchange-accurate margin, liquidation and funding for perpetual futures, plus the risk models
built on them. numpy and pandas only: no files, network, Excel, clock or environment variables.

Every public function follows one container contract: scalars in give a float; array-likes
broadcast against each other like numpy ufuncs and give an ndarray; a pandas Series in gives a
Series with the same index. Inputs are never modified. Parameters that make no sense raise
:class:`RiskInputError`; missing market data (NaN) flows through as NaN.
"""

from riskfuncs._errors import RiskFuncsError, RiskInputError
from riskfuncs.accounts import (
    AccountMargin,
    ScenarioMargin,
    account_margin,
    account_stress,
    collateral_tables,
    collateral_tiers,
    collateral_value,
    conversion_rates,
    parse_collateral_tiers,
    scenario_margin,
    tiered_add_on,
)
from riskfuncs.assessment import HybridAssessment, RatingThresholds, hybrid_assessment
from riskfuncs.book import BOOK_COLUMNS, Book, BookColumn, as_book
from riskfuncs.counterparty import (
    Concentration,
    DiversificationCheck,
    concentration,
    diversification_check,
    exchange_grade,
    exchange_probability_of_default,
    exchange_score,
    expected_loss,
    exposure_by_exchange,
    incident_subscore,
    insurance_fund_subscore,
    loss_given_default_prior,
    probability_of_default_over,
    reserve_subscore,
)
from riskfuncs.data.score_weights import DEFAULT_WEIGHTS, GRADE_BANDS, GradeBand, ScoreWeights
from riskfuncs.discipline import (
    DisciplineLimits,
    check_diversification,
    check_leverage,
    check_margin_buffer,
    check_model_freshness,
    check_stop_loss,
    discipline_report,
    position_size,
    risk_audit,
)
from riskfuncs.funding import (
    cumulative_funding,
    funding_payment,
    funding_rate,
    liquidation_price_after_funding,
)
from riskfuncs.liquidation import (
    EXCHANGE_RULES,
    ExchangeRule,
    bankruptcy_price,
    liquidation_price,
    rule_for_venue,
)
from riskfuncs.margin import (
    distance_to_liquidation,
    initial_margin,
    maintenance_margin,
    margin_buffer,
    margin_ratio,
    max_leverage_for_move,
    notional,
    unrealized_pnl,
)
from riskfuncs.portfolio import portfolio_margin
from riskfuncs.probability import liquidation_distance_sigmas, liquidation_probability
from riskfuncs.scenarios import (
    DEFAULT_BETAS,
    Scenario,
    exchange_default_scenario,
    get_scenario,
    price_scan_range,
    scenario_library,
    span_grid,
)
from riskfuncs.steps import LiquidationStep, liquidation_steps
from riskfuncs.stress import StressResult, stress_test
from riskfuncs.tiers import TierTable, as_tier_table, max_leverage, tier_for_notional
from riskfuncs.var import (
    BookVar,
    ShortHistoryWarning,
    book_var,
    expected_shortfall,
    historical_var,
    monte_carlo_var,
    parametric_var,
    scale_to_horizon,
)
from riskfuncs.volatility import (
    close_to_close_volatility,
    ewma_volatility,
    ewma_volatility_path,
    garman_klass_volatility,
    parkinson_volatility,
    returns,
)

__version__ = "0.1.0"

__all__ = [
    "BOOK_COLUMNS",
    "DEFAULT_BETAS",
    "DEFAULT_WEIGHTS",
    "EXCHANGE_RULES",
    "GRADE_BANDS",
    "AccountMargin",
    "Book",
    "BookColumn",
    "BookVar",
    "Concentration",
    "DisciplineLimits",
    "DiversificationCheck",
    "ExchangeRule",
    "GradeBand",
    "HybridAssessment",
    "LiquidationStep",
    "RatingThresholds",
    "RiskFuncsError",
    "RiskInputError",
    "Scenario",
    "ScenarioMargin",
    "ScoreWeights",
    "ShortHistoryWarning",
    "StressResult",
    "TierTable",
    "account_margin",
    "account_stress",
    "as_book",
    "as_tier_table",
    "bankruptcy_price",
    "book_var",
    "check_diversification",
    "check_leverage",
    "check_margin_buffer",
    "check_model_freshness",
    "check_stop_loss",
    "close_to_close_volatility",
    "collateral_tables",
    "collateral_tiers",
    "collateral_value",
    "concentration",
    "conversion_rates",
    "cumulative_funding",
    "discipline_report",
    "distance_to_liquidation",
    "diversification_check",
    "ewma_volatility",
    "ewma_volatility_path",
    "exchange_default_scenario",
    "exchange_grade",
    "exchange_probability_of_default",
    "exchange_score",
    "expected_loss",
    "expected_shortfall",
    "exposure_by_exchange",
    "funding_payment",
    "funding_rate",
    "garman_klass_volatility",
    "get_scenario",
    "historical_var",
    "hybrid_assessment",
    "incident_subscore",
    "initial_margin",
    "insurance_fund_subscore",
    "liquidation_distance_sigmas",
    "liquidation_price",
    "liquidation_price_after_funding",
    "liquidation_probability",
    "liquidation_steps",
    "loss_given_default_prior",
    "maintenance_margin",
    "margin_buffer",
    "margin_ratio",
    "max_leverage",
    "max_leverage_for_move",
    "monte_carlo_var",
    "notional",
    "parametric_var",
    "parkinson_volatility",
    "parse_collateral_tiers",
    "portfolio_margin",
    "position_size",
    "price_scan_range",
    "probability_of_default_over",
    "reserve_subscore",
    "returns",
    "risk_audit",
    "rule_for_venue",
    "scale_to_horizon",
    "scenario_library",
    "scenario_margin",
    "span_grid",
    "stress_test",
    "tier_for_notional",
    "tiered_add_on",
    "unrealized_pnl",
]
