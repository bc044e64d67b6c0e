"""riskfuncs: the numerical core of perprisk.

Exchange-accurate margin, liquidation and funding for perpetual futures, plus the risk models
built on them. numpy and pandas only: no files, network, Excel, clock or environment variables.

Every public function follows one container contract: scalars in give a float; array-likes
broadcast against each other like numpy ufuncs and give an ndarray; a pandas Series in gives a
Series with the same index. Inputs are never modified. Parameters that make no sense raise
:class:`RiskInputError`; missing market data (NaN) flows through as NaN.
"""

from riskfuncs._errors import RiskFuncsError, RiskInputError
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
from riskfuncs.liquidation import EXCHANGE_RULES, ExchangeRule, bankruptcy_price, liquidation_price
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
from riskfuncs.tiers import TierTable, as_tier_table, max_leverage, tier_for_notional

__version__ = "0.1.0"

__all__ = [
    "as_tier_table",
    "bankruptcy_price",
    "check_diversification",
    "check_leverage",
    "check_margin_buffer",
    "check_model_freshness",
    "check_stop_loss",
    "Concentration",
    "concentration",
    "cumulative_funding",
    "DEFAULT_WEIGHTS",
    "discipline_report",
    "DisciplineLimits",
    "distance_to_liquidation",
    "diversification_check",
    "DiversificationCheck",
    "exchange_grade",
    "exchange_probability_of_default",
    "EXCHANGE_RULES",
    "exchange_score",
    "ExchangeRule",
    "expected_loss",
    "exposure_by_exchange",
    "funding_payment",
    "funding_rate",
    "GRADE_BANDS",
    "GradeBand",
    "incident_subscore",
    "initial_margin",
    "insurance_fund_subscore",
    "liquidation_price",
    "liquidation_price_after_funding",
    "loss_given_default_prior",
    "maintenance_margin",
    "margin_buffer",
    "margin_ratio",
    "max_leverage",
    "max_leverage_for_move",
    "notional",
    "portfolio_margin",
    "position_size",
    "probability_of_default_over",
    "reserve_subscore",
    "risk_audit",
    "RiskFuncsError",
    "RiskInputError",
    "ScoreWeights",
    "tier_for_notional",
    "TierTable",
    "unrealized_pnl",
]
