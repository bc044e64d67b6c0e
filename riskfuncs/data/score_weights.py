"""Exchange due-diligence factors, their default weights, and the grade / PD bands.

The factor *categories* follow public exchange-rating methodologies; the *weights* and the
grade bands are this package's modelling choice (neither CCData nor Kaiko publishes a current
weight set in full). Pass your own :class:`ScoreWeights` or grade table to override them.

Public methodologies the categories follow:

* CryptoCompare / CCData Exchange Benchmark, Q3 2019 (the last edition with all weights in the
  public summary): Legal/Regulation 20 %, Data provision 20 %, Security 20 %, Team/Exchange
  15 %, Market quality 15 %, Investment 5 %, Trade monitoring 5 %, Negative-events penalty
  -5 %. Grades AA..E, "top tier" = AA..B.
  https://pdfslide.us/documents/exchange-cryptocompare-research-benchmark-report-fcas-scores-by-flipside-number.html
  The 2022 derivatives benchmark adds derivatives-only metrics (insurance fund, liquidation
  data): https://ccdata.io/research/exchange-benchmark-rankings-derivatives-methodology
* Kaiko Exchange Ranking: Governance (heaviest, 30 %), Business, Technology, Data quality,
  Security, Liquidity; grades AAA..B (Kaiko exchange-ranking rulebook, kaiko.com; summary in
  New Money Review, 14 Jan 2022).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType

from riskfuncs._errors import RiskInputError

#: The scored factors, in report order. Each takes a sub-score in [0, 1] (1 = best).
FACTORS: tuple[str, ...] = (
    "proof_of_reserves",
    "audit",
    "licence",
    "jurisdiction",
    "insurance_fund",
    "incident_history",
    "transparency",
)


@dataclass(frozen=True)
class ScoreWeights:
    """Relative weight of each due-diligence factor (normalised to sum 1 when used).

    Attributes
    ----------
    proof_of_reserves
        Reserve coverage of customer liabilities and how recent the attestation is
        (CCData Security; CCData 2024 Transparency / PoR).
    audit
        Audited financial statements or an independent PoR examination (Kaiko Governance).
    licence
        Licence for the product traded, from a regulator that supervises it
        (CCData Legal/Regulation; Kaiko "independent regulator" gate).
    jurisdiction
        Rule of law and insolvency regime where customer assets sit (Kaiko "stable
        jurisdiction" gate; CCData Q3 2019 geography metrics).
    insurance_fund
        Insurance fund relative to open interest, the buffer before auto-deleveraging
        (CCData derivatives benchmark).
    incident_history
        Hacks, withdrawal halts and auto-deleveraging events (CCData Negative-events penalty).
    transparency
        Published liquidation records, trade and order-book data (CCData Data provision,
        Kaiko Data quality).
    """

    proof_of_reserves: float = 0.20
    audit: float = 0.10
    licence: float = 0.20
    jurisdiction: float = 0.10
    insurance_fund: float = 0.15
    incident_history: float = 0.15
    transparency: float = 0.10

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise RiskInputError(f"weight {field.name} must be a number >= 0 (got {value!r})")
        if sum(self.as_dict().values()) <= 0:
            raise RiskInputError("weights must not all be 0 (got all 0)")

    def as_dict(self) -> dict[str, float]:
        """Raw weights by factor name."""
        return {name: float(getattr(self, name)) for name in FACTORS}

    def normalised(self) -> dict[str, float]:
        """Weights divided by their sum, so that sub-scores of 1 give a score of 100."""
        raw = self.as_dict()
        total = sum(raw.values())
        return {name: weight / total for name, weight in raw.items()}

    @classmethod
    def from_mapping(cls, weights: Mapping[str, float]) -> ScoreWeights:
        """Build from ``{factor: weight}``; factors left out weigh 0."""
        unknown = sorted(set(weights) - set(FACTORS))
        if unknown:
            raise RiskInputError(
                f"weights must name factors among {', '.join(FACTORS)} (got {unknown[0]!r})"
            )
        return cls(**{name: float(weights.get(name, 0.0)) for name in FACTORS})


#: Default weights. Regulation (licence + jurisdiction) 30 % mirrors Kaiko's heaviest
#: Governance weight and CCData's 20 % Legal/Regulation plus geography; proof of reserves 20 %
#: stands where CCData's Security 20 % did before PoR existed; insurance fund 15 % takes
#: CCData's Market-quality slot because for a derivatives venue the loss waterfall, not the
#: spread, decides what a trader recovers; incidents 15 % widens CCData's -5 % penalty to a
#: full factor because breaches precede closures (Moore, Christin and Szurdi, "Revisiting the
#: Risks of Bitcoin Currency Exchange Closure", ACM TOIT 2018: a breach goes with 13x higher
#: odds that the exchange closes in the same quarter).
DEFAULT_WEIGHTS = ScoreWeights()


@dataclass(frozen=True)
class GradeBand:
    """One grade: the lowest score that earns it and the 1-year probability of default band.

    ``probability_of_default`` is the central value used for expected loss; ``pd_low`` and
    ``pd_high`` bound the band. All PDs are fractions (0.02 = 2 % a year).
    """

    grade: str
    min_score: float
    pd_low: float
    pd_high: float
    probability_of_default: float


#: Grades AA..E as in the CCData Exchange Benchmark (AA..B "top tier"); the score cut-offs and
#: the PD bands are a modelling choice. Anchors: S&P's global speculative-grade corporate
#: default rate ran between about 0.6 % and 11 % a year over 1981-2023 (S&P Global Ratings,
#: 2023 Annual Global Corporate Default and Rating Transition Study, table 1), and 18 of 40
#: Bitcoin exchanges closed within about three years, median lifetime 381 days (Moore and
#: Christin, "Beware the Middleman", Financial Cryptography 2013). So the best venues sit near
#: low speculative grade and the worst band reaches a coin-flip over a year. Bands double from
#: grade to grade, the central value is about the geometric middle of its band.
GRADE_BANDS: tuple[GradeBand, ...] = (
    GradeBand("AA", 85.0, 0.0025, 0.0075, 0.005),
    GradeBand("A", 75.0, 0.0075, 0.015, 0.01),
    GradeBand("BB", 65.0, 0.015, 0.03, 0.02),
    GradeBand("B", 55.0, 0.03, 0.06, 0.04),
    GradeBand("C", 45.0, 0.06, 0.12, 0.08),
    GradeBand("D", 35.0, 0.12, 0.25, 0.16),
    GradeBand("E", 0.0, 0.25, 0.50, 0.33),
)

GRADES: Mapping[str, GradeBand] = MappingProxyType({band.grade: band for band in GRADE_BANDS})
