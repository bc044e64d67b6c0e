"""Hybrid assessment: one green / amber / red rating per position and for the book, with reasons.

The rating combines measures computed elsewhere, each compared with a pair of thresholds held as
data (:class:`RatingThresholds`):

=============================  ==========  ============================  =================
measure                        worse when  amber / red by default        computed by
=============================  ==========  ============================  =================
distance to liquidation        lower       below 20% / below 10%         margin
liquidation probability        higher      above 1% / above 5%           probability
margin buffer                  lower       below 30% / at or below 0     margin
buffer at the leverage cap     lower       below 30% / below -100%       margin
leverage                       higher      above 5x / above 10x          portfolio
liquidated in worst scenario   True        amber (a what-if)             stress
stop beyond liquidation        True        amber                         discipline
VaR as a fraction of equity    higher      above 10% / above 25%         var
=============================  ==========  ============================  =================

The margin buffer measures the balance against the maintenance requirement, a sliver of the
notional: a 45x position can sit 340% above it 1.7% from liquidation. The buffer at the leverage
cap measures it against the initial margin the position would need at the cap (balance /
(notional / cap) - 1): the guide's "margin 30% above the requirement" read as a trader means it,
and the measure the assessment workbook shows. Below -100% the balance itself is negative.

A position is as bad as its worst measure. A position already at or past liquidation (distance
or margin buffer at or below zero) is red whatever the thresholds. A measure given but missing
for a position (NaN) makes it at least amber: an unknown is not a pass. The book is as bad as
its worst position, and its reasons count the positions on each measure.

The default amber levels for buffer and leverage are the discipline defaults of
:class:`riskfuncs.discipline.DisciplineLimits` (margin at least 30% above the requirement,
leverage at most 5x); the 10% alert distance is the assessment
workbook's default. The other levels are conventions to tune: pass your own thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from riskfuncs._arrays import FloatArray, format_value, require, to_float_array
from riskfuncs._errors import RiskInputError
from riskfuncs.discipline import LEVERAGE_CAP, MINIMUM_MARGIN_BUFFER

__all__ = ["MEASURES", "HybridAssessment", "RatingThresholds", "hybrid_assessment"]

Rating = Literal["green", "amber", "red"]
RATINGS: tuple[Rating, ...] = ("green", "amber", "red")

#: Measures in the order their reasons are listed: (name, label, lower_is_worse).
MEASURES: tuple[tuple[str, str, bool], ...] = (
    ("distance_to_liquidation", "distance to liquidation", True),
    ("liquidation_probability", "liquidation probability", False),
    ("margin_buffer", "margin buffer", True),
    ("cap_buffer", "buffer at the leverage cap", True),
    ("leverage", "leverage", False),
    ("worst_scenario_liquidated", "worst scenario", False),
    ("stop_beyond_liquidation", "stop-loss", False),
    ("var_fraction", "VaR", False),
)
#: Yes/no measures: amber when true (the worst scenario's may be made red).
FLAGS = frozenset({"worst_scenario_liquidated", "stop_beyond_liquidation"})
#: Measures whose zero is liquidation itself: red at or below it, whatever the thresholds.
PAST_AT_ZERO = frozenset({"distance_to_liquidation", "margin_buffer"})


@dataclass(frozen=True)
class RatingThresholds:
    """Amber and red levels for each measure (fractions; leverage in x).

    For measures where lower is worse (distance, buffer) a value strictly below the level
    triggers it; for the others a value strictly above. ``worst_scenario_rating`` is the rating
    given to a position its account loses in the worst stress scenario.
    """

    distance_amber: float = 0.20
    distance_red: float = 0.10
    probability_amber: float = 0.01
    probability_red: float = 0.05
    buffer_amber: float = MINIMUM_MARGIN_BUFFER
    buffer_red: float = 0.0
    cap_buffer_amber: float = MINIMUM_MARGIN_BUFFER
    cap_buffer_red: float = -1.0
    leverage_amber: float = LEVERAGE_CAP
    leverage_red: float = 10.0
    var_amber: float = 0.10
    var_red: float = 0.25
    worst_scenario_rating: Literal["amber", "red"] = "amber"

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "worst_scenario_rating":
                if value not in ("amber", "red"):
                    raise RiskInputError(
                        f"worst_scenario_rating must be one of amber, red (got {value!r})"
                    )
                continue
            if not isinstance(value, int | float) or math.isnan(value):
                raise RiskInputError(f"{item.name} must be a number (got {format_value(value)})")
        _order("distance_red", self.distance_red, "distance_amber", self.distance_amber)
        _order("buffer_red", self.buffer_red, "buffer_amber", self.buffer_amber)
        _order("cap_buffer_red", self.cap_buffer_red, "cap_buffer_amber", self.cap_buffer_amber)
        _order("probability_amber", self.probability_amber, "probability_red",
               self.probability_red)
        _order("leverage_amber", self.leverage_amber, "leverage_red", self.leverage_red)
        _order("var_amber", self.var_amber, "var_red", self.var_red)
        for name in ("probability_amber", "probability_red"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise RiskInputError(f"{name} must be in [0, 1] (got {format_value(value)})")

    def levels(self, measure: str) -> tuple[float, float]:
        """(amber, red) levels of a measure (the worst-scenario flag is 0 or 1)."""
        if measure == "worst_scenario_liquidated":
            return (0.5, 0.5) if self.worst_scenario_rating == "red" else (0.5, math.inf)
        if measure == "stop_beyond_liquidation":
            return (0.5, math.inf)
        prefix = {
            "distance_to_liquidation": "distance", "liquidation_probability": "probability",
            "margin_buffer": "buffer", "cap_buffer": "cap_buffer", "leverage": "leverage",
            "var_fraction": "var",
        }[measure]
        return getattr(self, f"{prefix}_amber"), getattr(self, f"{prefix}_red")


def _order(low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise RiskInputError(
            f"{low_name} must be <= {high_name} = {format_value(high)} (got {format_value(low)})"
        )


@dataclass(frozen=True, eq=False)
class HybridAssessment:
    """Ratings per position and for the book.

    Attributes
    ----------
    positions : DataFrame
        The inputs' index; columns ``rating`` ("green"/"amber"/"red"), ``reasons`` (text, "; "
        between reasons, empty when green) and one column per measure given.
    rating : str
        The book's rating: its worst position's.
    reasons : tuple of str
        Why, counted per measure ("2 positions red: distance to liquidation below 10%").
    """

    positions: pd.DataFrame
    rating: Rating
    reasons: tuple[str, ...]


def _percent(value: float) -> str:
    return f"{value:.1%}"


def _level_text(value: float) -> str:
    return f"{value * 100:g}%"


def _describe(measure: str, value: float) -> str:
    if measure == "leverage":
        if not math.isfinite(value):
            return "leverage unbounded (no margin)"
        return f"leverage {value:.1f}x"
    if measure == "worst_scenario_liquidated":
        return "liquidated in the worst stress scenario"
    if measure == "stop_beyond_liquidation":
        return "stop-loss beyond the liquidation price"
    if measure == "var_fraction":
        return f"VaR {_percent(value)} of equity"
    label = next(label for name, label, _ in MEASURES if name == measure)
    return f"{label} {_percent(value)}"


def _limit(measure: str, lower_is_worse: bool, level: float) -> str:
    if measure in FLAGS:
        return ""
    shown = f"{level:g}x" if measure == "leverage" else _level_text(level)
    if lower_is_worse and level == 0:
        return f"at or below {shown}"  # zero distance or buffer is liquidation itself
    return f"{'below' if lower_is_worse else 'above'} {shown}"


def hybrid_assessment(
    *,
    distance_to_liquidation: Any = None,
    liquidation_probability: Any = None,
    margin_buffer: Any = None,
    cap_buffer: Any = None,
    leverage: Any = None,
    worst_scenario_liquidated: Any = None,
    stop_beyond_liquidation: Any = None,
    var_fraction: Any = None,
    thresholds: RatingThresholds | Mapping[str, Any] | None = None,
) -> HybridAssessment:
    """Rate each position green, amber or red from measures already computed, with reasons.

    Parameters
    ----------
    distance_to_liquidation : array-like or Series, optional
        Fraction of the mark price the market must move against the position to liquidate it
        (``riskfuncs.margin.distance_to_liquidation``); ``inf`` when unreachable.
    liquidation_probability : array-like or Series, optional
        Probability of touching the liquidation price within the horizon, in [0, 1].
    margin_buffer : array-like or Series, optional
        ``balance / maintenance requirement - 1`` (0.30 = 30% above).
    cap_buffer : array-like or Series, optional
        ``balance / (notional / leverage cap) - 1``: the margin above the initial margin at the
        leverage cap (a cross position: its account's balance over the account's notional).
    leverage : array-like or Series, optional
        Effective leverage, notional / margin balance (x), >= 0.
    worst_scenario_liquidated : array-like or Series of bool, optional
        Whether the position is liquidated in the worst stress scenario
        (``StressResult.liquidated`` at the worst scenario's column).
    stop_beyond_liquidation : array-like or Series of bool, optional
        Whether the position's stop-loss sits at or beyond its liquidation price, so the
        exchange liquidates it before the stop fires (amber).
    var_fraction : array-like or Series, optional
        Value at risk of the position as a fraction of the equity it risks, >= 0.
    thresholds : RatingThresholds or mapping, optional
        Levels; a mapping overrides the defaults by field name.

    Returns
    -------
    HybridAssessment
        Per-position ratings and reasons, and the book's rating and reasons.

    Examples
    --------
    >>> result = hybrid_assessment(distance_to_liquidation=[0.35, 0.15, 0.05],
    ...                            leverage=[3.0, 4.0, 12.0])
    >>> result.positions["rating"].tolist()
    ['green', 'amber', 'red']
    >>> result.positions["reasons"].iloc[2]
    'distance to liquidation 5.0% (red: below 10%); leverage 12.0x (red: above 10x)'
    >>> result.rating, result.reasons[0]
    ('red', '1 of 3 positions red, 1 amber')
    """
    limits = _thresholds(thresholds)
    given = {
        name: value
        for name, value in {
            "distance_to_liquidation": distance_to_liquidation,
            "liquidation_probability": liquidation_probability,
            "margin_buffer": margin_buffer,
            "cap_buffer": cap_buffer,
            "leverage": leverage,
            "worst_scenario_liquidated": worst_scenario_liquidated,
            "stop_beyond_liquidation": stop_beyond_liquidation,
            "var_fraction": var_fraction,
        }.items()
        if value is not None
    }
    if not given:
        raise RiskInputError("hybrid_assessment needs at least one measure (got none)")
    index, values = _align(given)
    n = len(index)

    level = np.zeros(n, dtype=np.int8)
    reasons: list[list[str]] = [[] for _ in range(n)]
    counts: list[str] = []
    for measure, label, lower_is_worse in MEASURES:
        if measure not in values:
            continue
        x = values[measure]
        amber, red = limits.levels(measure)
        worse = np.less if lower_is_worse else np.greater
        with np.errstate(invalid="ignore"):
            is_red = worse(x, red)
            is_amber = worse(x, amber) & ~is_red
        missing = np.isnan(x)
        if measure in PAST_AT_ZERO:
            past = x <= 0  # at or past liquidation, whatever the thresholds
            is_red |= past
            is_amber &= ~past
        level = np.maximum(level, np.where(is_red, 2, np.where(is_amber | missing, 1, 0)))
        for i in np.flatnonzero(is_red | is_amber | missing):
            if missing[i]:
                reasons[i].append(f"{label} unknown (missing data)")
                continue
            rating = "red" if is_red[i] else "amber"
            limit = _limit(measure, lower_is_worse, red if is_red[i] else amber)
            past_note = (
                "at or past liquidation" if measure in PAST_AT_ZERO and x[i] <= 0 else ""
            )
            detail = past_note or (f"{rating}: {limit}" if limit else rating)
            reasons[i].append(f"{_describe(measure, float(x[i]))} ({detail})")
        counts += _count_reasons(label, measure, lower_is_worse, is_red, is_amber, missing,
                                 red, amber)

    ratings = np.array(RATINGS, dtype=object)[level]
    table = pd.DataFrame(
        {"rating": ratings, "reasons": ["; ".join(r) for r in reasons], **values},
        index=index,
    )
    worst = int(level.max()) if n else 0
    n_red, n_amber = int(np.sum(level == 2)), int(np.sum(level == 1))
    noun = "position" if n == 1 else "positions"
    summary = (
        f"all {n} {noun} green" if worst == 0 else f"{n_red} of {n} {noun} red, {n_amber} amber"
    )
    return HybridAssessment(
        positions=table, rating=RATINGS[worst], reasons=(summary, *counts)
    )


def _count_reasons(
    label: str, measure: str, lower_is_worse: bool, is_red: Any, is_amber: Any, missing: Any,
    red: float, amber: float,
) -> list[str]:
    out = []
    for rating, mask, level in (("red", is_red, red), ("amber", is_amber, amber)):
        count = int(np.sum(mask))
        if count:
            limit = _limit(measure, lower_is_worse, level)
            what = _describe(measure, 1.0) if not limit else f"{label} {limit}"
            out.append(f"{count} {'position' if count == 1 else 'positions'} {rating}: {what}")
    unknown = int(np.sum(missing))
    if unknown:
        out.append(f"{unknown} {'position' if unknown == 1 else 'positions'} amber: "
                   f"{label} unknown")
    return out


def _thresholds(thresholds: RatingThresholds | Mapping[str, Any] | None) -> RatingThresholds:
    if thresholds is None:
        return RatingThresholds()
    if isinstance(thresholds, RatingThresholds):
        return thresholds
    if isinstance(thresholds, Mapping):
        known = {f.name for f in fields(RatingThresholds)}
        unknown = sorted(set(thresholds) - known)
        if unknown:
            raise RiskInputError(
                f"thresholds must use the names {', '.join(sorted(known))} (got {unknown[0]!r})"
            )
        return RatingThresholds(**thresholds)
    raise RiskInputError(
        f"thresholds must be a RatingThresholds or a mapping (got {type(thresholds).__name__})"
    )


def _align(given: Mapping[str, Any]) -> tuple[pd.Index, dict[str, FloatArray]]:
    """Convert the measures to 1-D float arrays of one length, with the Series index if any."""
    index: pd.Index | None = None
    values: dict[str, FloatArray] = {}
    for name, raw in given.items():
        if isinstance(raw, pd.Series):
            if index is None:
                index = raw.index
            elif not index.equals(raw.index):
                raise RiskInputError("all Series arguments must share the same index")
        if name in FLAGS:
            array = _flags(name, raw)
        else:
            array = np.atleast_1d(to_float_array(name, raw)).astype(float, copy=True)
        if array.ndim != 1:
            raise RiskInputError(f"{name} must be one value per position (got shape "
                                 f"{array.shape})")
        values[name] = array
    lengths = {len(a) for a in values.values()}
    if len(lengths) != 1:
        shapes = ", ".join(f"{k} {len(v)}" for k, v in values.items())
        raise RiskInputError(f"measures must have one value per position each (got {shapes})")
    n = lengths.pop()
    if index is not None and len(index) != n:
        raise RiskInputError("all measures must have the length of the Series index")
    _check(values)
    return (index if index is not None else pd.RangeIndex(n)), values


def _flags(name: str, raw: Any) -> FloatArray:
    """Booleans (or 0/1) as 1.0/0.0; None/NaN as NaN (unknown)."""
    items = raw.to_numpy(dtype=object) if isinstance(raw, pd.Series) else np.atleast_1d(
        np.asarray(raw, dtype=object))
    out = np.full(items.shape, np.nan)
    for i, item in enumerate(items.ravel()):
        if item is None or (isinstance(item, float) and math.isnan(item)) or item is pd.NA:
            continue
        if isinstance(item, bool | np.bool_) or item in (0, 1):
            out.flat[i] = float(bool(item))
            continue
        raise RiskInputError(
            f"{name} must be True or False (got {format_value(item)})"
        )
    return out


def _check(values: Mapping[str, FloatArray]) -> None:
    if "liquidation_probability" in values:
        p = values["liquidation_probability"]
        require("liquidation_probability", p, (p >= 0) & (p <= 1), "be in [0, 1]")
    for name in ("leverage", "var_fraction"):
        if name in values:
            require(name, values[name], values[name] >= 0, "be >= 0")
