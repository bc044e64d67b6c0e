"""riskfuncs: the numerical core of perprisk.

Exchange-accurate margin, liquidation and funding for perpetual futures, plus the risk models
built on them. numpy and pandas only: no files, network, Excel, clock or environment variables.

Every public function follows one container contract: scalars in give a float; array-likes
broadcast against each other like numpy ufuncs and give an ndarray; a pandas Series in gives a
Series with the same index. Inputs are never modified. Parameters that make no sense raise
:class:`RiskInputError`; missing market data (NaN) flows through as NaN.
"""

from riskfuncs._errors import RiskFuncsError, RiskInputError
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
    "EXCHANGE_RULES",
    "ExchangeRule",
    "RiskFuncsError",
    "RiskInputError",
    "TierTable",
    "as_tier_table",
    "bankruptcy_price",
    "cumulative_funding",
    "distance_to_liquidation",
    "funding_payment",
    "funding_rate",
    "initial_margin",
    "liquidation_price",
    "liquidation_price_after_funding",
    "maintenance_margin",
    "margin_buffer",
    "margin_ratio",
    "max_leverage",
    "max_leverage_for_move",
    "notional",
    "portfolio_margin",
    "tier_for_notional",
    "unrealized_pnl",
]
