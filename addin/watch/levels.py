"""Alert levels with hysteresis and cool-down: what changed since the last tick, and what to say.

A position's level comes from its distance to liquidation (adverse move as a fraction of the
mark): ``red`` below the red threshold, ``amber`` below the amber threshold, else ``green``.
Getting worse takes effect at the threshold; getting better needs the distance to clear the
threshold by ``hysteresis`` as well, so a price wobbling at a threshold sends one alert, not
fifty. A venue whose data could not be read is ``red`` ("not read") until it answers again: an
empty or failed read never reads as all clear. Only changes are sent: a worse level always
(unless the same level was sent for the same position within ``cooldown`` seconds), and an
"all clear" when a red or amber position is back to green.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RANK", "Event", "Observation", "Thresholds", "level_for", "transitions"]

#: Levels from best to worst.
RANK: Mapping[str, int] = {"green": 0, "amber": 1, "red": 2}


@dataclass(frozen=True)
class Thresholds:
    """Distance thresholds (fractions of the mark), the hysteresis band and the cool-down."""

    red: float = 0.10
    amber: float = 0.20
    hysteresis: float = 0.01
    cooldown: float = 600.0

    def check(self) -> None:
        if not 0 < self.red < self.amber:
            raise ValueError(f"thresholds must satisfy 0 < red < amber (got red {self.red:g}, "
                             f"amber {self.amber:g})")
        if not 0 <= self.hysteresis < self.red:
            raise ValueError(f"hysteresis must be >= 0 and below the red threshold (got "
                             f"{self.hysteresis:g})")
        if self.cooldown < 0:
            raise ValueError(f"cooldown must be >= 0 seconds (got {self.cooldown:g})")


@dataclass(frozen=True)
class Observation:
    """One watched thing on one tick: a position (with its distance) or a venue."""

    key: str
    label: str
    distance: float | None  # None: no figure (a venue that was not read)
    detail: str = ""
    forced: str | None = None  # a level that does not come from the distance ("not read")
    figure: float | None = None  # the number behind a forced level (an account ratio, a share)


@dataclass(frozen=True)
class Event:
    """A change worth telling: ``level`` is new, ``previous`` what was last known."""

    key: str
    label: str
    level: str
    previous: str
    text: str

    @property
    def kind(self) -> str:
        return "clear" if self.level == "green" else "alert"

    @property
    def subject(self) -> str:
        if self.kind == "clear":
            return f"perprisk all clear: {self.label}"
        return f"perprisk {self.level.upper()}: {self.label}"


def level_for(distance: float, previous: str, thresholds: Thresholds) -> str:
    """The level of a distance, coming from ``previous`` (hysteresis on the way back)."""
    if math.isnan(distance):
        return previous
    raw = "red" if distance < thresholds.red else "amber" if distance < thresholds.amber \
        else "green"
    if RANK[raw] >= RANK[previous]:
        return raw
    # Improving: each threshold must be cleared by the hysteresis band.
    band = thresholds.hysteresis
    if previous == "red" and distance < thresholds.red + band:
        return "red"
    if RANK[previous] >= 1 and distance < thresholds.amber + band:
        return "amber"
    return raw


def _describe(obs: Observation) -> str:
    if obs.distance is None:
        return obs.detail
    where = ("never reached" if math.isinf(obs.distance)
             else f"{obs.distance:.1%} from liquidation" if obs.distance > 0
             else "at or past liquidation")
    return f"{where}{'; ' + obs.detail if obs.detail else ''}"


def transitions(observations: list[Observation], previous: Mapping[str, str],
                last_sent: Mapping[str, tuple[str, float]], thresholds: Thresholds,
                now: float) -> tuple[dict[str, str], list[Event]]:
    """New levels for every observation, and the events to send.

    ``previous``: the last level per key (missing: green). ``last_sent``: per key, the level and
    time (seconds) last sent, for the cool-down. Keys no longer observed (a closed position)
    keep no level and send nothing.
    """
    levels: dict[str, str] = {}
    events: list[Event] = []
    for obs in observations:
        before = previous.get(obs.key, "green")
        if obs.forced is not None:
            level = obs.forced
        elif obs.distance is None:
            level = before
        else:
            level = level_for(obs.distance, before, thresholds)
        levels[obs.key] = level
        if level == before:
            continue
        sent = last_sent.get(obs.key)
        if RANK[level] > RANK[before] and sent is not None and sent[0] == level \
                and now - sent[1] < thresholds.cooldown:
            continue  # the same alert went out moments ago: a wobble, not news
        text = _describe(obs)
        if level == "green":
            text = f"back to green: {text}"
        events.append(Event(obs.key, obs.label, level, before, text))
    order = {"red": 0, "amber": 1, "green": 2}
    events.sort(key=lambda e: (order[e.level], e.label))
    return levels, events
