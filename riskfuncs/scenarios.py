"""Stress scenarios: the data model and the built-in library.

A :class:`Scenario` is plain data: price moves per asset (fractions, -0.30 = -30%), how assets
that are not listed follow a reference asset, a volatility multiplier, a funding shock, collateral
haircuts (stablecoin depegs) and exchange defaults. :func:`riskfuncs.stress.stress_test` applies
scenarios to a portfolio.

The library holds round synthetic shocks (BTC -15% and -30% in one hour, -50% in a day), the
historical events below and funding shocks. Historical moves are rounded from public vendor
data (exchange prices differ by venue; liquidation totals are vendor estimates and only orders
of magnitude); each scenario names its sources.

:func:`span_grid` builds the 16-scenario CME SPAN risk array around a price scan range, and
:func:`price_scan_range` expresses that range from a volatility.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import date
from statistics import NormalDist
from types import MappingProxyType
from typing import Any

from riskfuncs._arrays import broadcast, format_value, require
from riskfuncs._errors import RiskInputError
from riskfuncs._typing import FloatLike, FloatResult

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_BETAS",
    "SPAN_EXTREME_WEIGHT",
    "Scenario",
    "exchange_default_scenario",
    "get_scenario",
    "price_scan_range",
    "scenario_library",
    "span_grid",
]

#: Beta to the reference asset for an asset with neither a move nor a beta of its own (alts 2x).
DEFAULT_BETA = 2.0
#: Betas used when a scenario lists none: ETH 1.3x BTC, stablecoin bases do not move.
DEFAULT_BETAS: Mapping[str, float] = MappingProxyType(
    {"ETH": 1.3, "USD": 0.0, "USDT": 0.0, "USDC": 0.0, "FDUSD": 0.0, "DAI": 0.0, "TUSD": 0.0,
     "USDE": 0.0, "BUSD": 0.0, "PYUSD": 0.0, "USD1": 0.0}
)


def _frozen_map(
    name: str, values: Mapping[str, float], ok: Callable[[float], bool], rule: str
) -> Mapping[str, float]:
    """Copy a mapping with upper-case keys, checking every value with ``ok``."""
    if not isinstance(values, Mapping):
        raise RiskInputError(f"{name} must be a mapping of name to number (got {values!r})")
    out: dict[str, float] = {}
    for key, raw in values.items():
        if not isinstance(key, str) or not key.strip():
            raise RiskInputError(f"{name} keys must be non-empty names (got {key!r})")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise RiskInputError(
                f"{name}[{key!r}] must be a number (got {format_value(raw)})"
            ) from None
        if not ok(value):
            raise RiskInputError(f"{name}[{key!r}] must {rule} (got {format_value(value)})")
        out[key.strip().upper()] = value
    return MappingProxyType(out)


@dataclass(frozen=True, eq=True)
class Scenario:
    """One stress scenario, as data.

    Parameters
    ----------
    name : str
        Short unique name, used as the scenario's label in results.
    description : str
        What happened or what is assumed, in words.
    moves : Mapping[str, float]
        Price move per asset (base currency of the contract, e.g. ``"BTC"``), as a fraction of
        the current mark price: -0.30 is a 30% fall. Must be > -1.
    reference_asset : str
        Asset that unlisted assets follow (default ``"BTC"``).
    betas : Mapping[str, float] or None
        Beta to the reference asset for unlisted assets; None uses :data:`DEFAULT_BETAS`
        (ETH 1.3). Assets without a beta use ``default_beta``.
    default_beta : float
        Beta for any other asset (alts, default 2.0).
    move_floor, move_cap : float
        Bounds applied to moves derived from a beta (default -0.90 and +3.00): an alt at 2x a
        -50% BTC move falls 90%, not 100%.
    volatility_shock : float
        Multiplier on volatility for consumers that need one (option-like or VaR models); it
        does not change a linear perpetual's PnL.
    funding_rate : float
        Funding rate per interval as a fraction (0.003 = 0.3%); positive means longs pay shorts.
    funding_intervals : int
        Number of funding intervals the rate is paid for over the horizon.
    collateral_haircuts : Mapping[str, float]
        Fall in value of collateral held in a currency, as a fraction (``{"USDC": 0.13}``).
    exchange_default : Mapping[str, float]
        Exchange name -> loss given default on the equity held there (fraction in [0, 1]).
    horizon_hours : float
        Time over which the scenario unfolds, in hours.
    weight : float
        Fraction of the loss that counts towards the worst case (SPAN extreme scenarios: 0.35).
    date : datetime.date or None
        Start date of a historical event.
    sources : tuple of str
        Public sources of the numbers.
    """

    name: str
    _: KW_ONLY
    description: str = ""
    moves: Mapping[str, float] = field(default_factory=dict)
    reference_asset: str = "BTC"
    betas: Mapping[str, float] | None = None
    default_beta: float = DEFAULT_BETA
    move_floor: float = -0.90
    move_cap: float = 3.00
    volatility_shock: float = 1.0
    funding_rate: float = 0.0
    funding_intervals: int = 0
    collateral_haircuts: Mapping[str, float] = field(default_factory=dict)
    exchange_default: Mapping[str, float] = field(default_factory=dict)
    horizon_hours: float = 1.0
    weight: float = 1.0
    date: date | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise RiskInputError(f"name must be a non-empty text (got {self.name!r})")
        inf = math.inf
        fix = object.__setattr__
        fix(self, "moves", _frozen_map("moves", self.moves, lambda v: -1.0 < v < inf,
                                       "be > -1 and finite, -30% = -0.3"))
        betas = DEFAULT_BETAS if self.betas is None else self.betas
        fix(self, "betas", _frozen_map("betas", betas, math.isfinite, "be finite"))
        fix(self, "reference_asset", str(self.reference_asset).strip().upper())
        fix(self, "collateral_haircuts", _frozen_map(
            "collateral_haircuts", self.collateral_haircuts, _is_fraction,
            "be in [0, 1] as a fraction"))
        defaults = _frozen_map("exchange_default", self.exchange_default, _is_fraction,
                               "be in [0, 1] as a fraction")
        fix(self, "exchange_default", MappingProxyType({k.lower(): v for k, v in defaults.items()}))
        fix(self, "sources", tuple(self.sources))
        _check("default_beta", self.default_beta, math.isfinite(self.default_beta), "be finite")
        _check("move_floor", self.move_floor, -1.0 < self.move_floor <= 0.0, "be in (-1, 0]")
        _check("move_cap", self.move_cap, 0.0 <= self.move_cap < inf, "be >= 0 and finite")
        _check("volatility_shock", self.volatility_shock,
               0.0 < self.volatility_shock < inf, "be > 0")
        _check("funding_rate", self.funding_rate, abs(self.funding_rate) < 1.0,
               "be a fraction in (-1, 1), 0.3% = 0.003")
        _check("funding_intervals", self.funding_intervals,
               isinstance(self.funding_intervals, int) and self.funding_intervals >= 0,
               "be a whole number >= 0")
        _check("horizon_hours", self.horizon_hours, 0.0 < self.horizon_hours < inf, "be > 0")
        _check("weight", self.weight, 0.0 < self.weight <= 1.0, "be in (0, 1]")

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.moves.items())), self.horizon_hours))

    def price_move(self, asset: str, *, betas: Mapping[str, float] | None = None) -> float:
        """Price move of ``asset`` in this scenario, as a fraction of its mark price.

        A listed move is used as is. Otherwise the asset follows the reference asset:
        ``clip(beta * move[reference], move_floor, move_cap)``, with the beta taken from
        ``betas`` (caller's overrides), then the scenario's betas, then ``default_beta``.

        Examples
        --------
        >>> s = Scenario("crash", moves={"BTC": -0.5})
        >>> s.price_move("BTC"), s.price_move("ETH"), s.price_move("DOGE")
        (-0.5, -0.65, -0.9)
        """
        key = asset.strip().upper()
        if key in self.moves:
            return self.moves[key]
        reference = self.moves.get(self.reference_asset, 0.0)
        if betas is not None and key in (upper := {k.upper(): v for k, v in betas.items()}):
            beta = float(upper[key])
        else:
            assert self.betas is not None  # set in __post_init__
            beta = self.betas.get(key, self.default_beta)
        return float(min(max(beta * reference, self.move_floor), self.move_cap))

    def haircut(self, currency: str) -> float:
        """Fall in value of collateral held in ``currency`` (fraction, 0 if not shocked)."""
        return self.collateral_haircuts.get(currency.strip().upper(), 0.0)

    def loss_given_default(self, exchange: str) -> float:
        """Loss given default on equity held at ``exchange`` (fraction, 0 if it survives)."""
        return self.exchange_default.get(exchange.strip().lower(), 0.0)

    @property
    def cumulative_funding_rate(self) -> float:
        """Funding rate summed over the horizon (fraction of notional paid by longs)."""
        return self.funding_rate * self.funding_intervals


def _is_fraction(value: float) -> bool:
    return 0.0 <= value <= 1.0


def _check(name: str, value: Any, ok: bool, rule: str) -> None:
    if not ok:
        raise RiskInputError(f"{name} must {rule} (got {format_value(value)})")


# --- synthetic shocks ------------------------------------------------------------------------

_BETA_NOTE = (
    "Unlisted assets follow BTC: ETH 1.3x, other assets 2x, derived moves capped at -90%."
)


def _btc_shock(move: float, hours: float) -> Scenario:
    direction = "falls" if move < 0 else "rises"
    return Scenario(
        f"BTC {move:+.0%} {hours:g}h",
        description=f"BTC {direction} {abs(move):.0%} within {hours:g} hour(s). {_BETA_NOTE}",
        moves={"BTC": move},
        horizon_hours=hours,
        sources=(
            "Rounded from historical moves: BTC -22% in about one hour on 12 Mar 2020 "
            "(blog.btcmex.com), -30% on 19 May 2021, -52% over 12-13 Mar 2020",
        ),
    )


def _funding_shock(rate: float) -> Scenario:
    payer = "longs" if rate > 0 else "shorts"
    return Scenario(
        f"Funding {rate:+.1%}/8h 3d",
        description=(
            f"Funding of {rate:+.1%} every 8 hours for 3 days (9 payments), paid by {payer}; "
            "prices unchanged. Above the 0.15% per interval seen in Jan 2021 and below "
            "BitMEX's 0.375% per 8 h cap."
        ),
        funding_rate=rate,
        funding_intervals=9,
        horizon_hours=72.0,
        sources=(
            "https://www.binance.com/en/support/faq/introduction-to-binance-futures-"
            "funding-rates-360033525031",
            "https://blog.bitmex.com (funding cap = 75% x (initial - maintenance margin))",
            "Arcane Research, funding rates Jan 2021",
        ),
    )


# --- historical events (moves rounded from vendor data; venues differ) ---------------------

_HISTORICAL: tuple[Scenario, ...] = (
    Scenario(
        "Bitfinex hack 2016",
        description=(
            "2 Aug 2016: Bitfinex hacked, BTC to about $470 intraday (-20%); a 36% haircut was "
            "applied to all Bitfinex balances (later redeemed through BFX tokens)."
        ),
        moves={"BTC": -0.20},
        exchange_default={"bitfinex": 0.36},
        horizon_hours=24.0,
        date=date(2016, 8, 2),
        sources=("ejinsight.com / Reuters, 2016-08-08", "en.bitcoinwiki.org/wiki/Bitfinex_hack"),
    ),
    Scenario(
        "Black Thursday 2020",
        description=(
            "12-13 Mar 2020 (COVID): BTC 7,900 -> about 3,800 (-52%) in two legs, the first "
            "-22% in about an hour; ETH about 195 -> 87 (-55%). Over $1bn of longs liquidated; "
            "BitMEX's engine overloaded."
        ),
        moves={"BTC": -0.52, "ETH": -0.55},
        volatility_shock=3.0,
        horizon_hours=36.0,
        date=date(2020, 3, 12),
        sources=("blog.btcmex.com, 'Black Thursday'", "Binance Square retrospectives"),
    ),
    Scenario(
        "China ban 2021",
        description=(
            "19 May 2021: BTC 43k -> about 30k (-30%), ETH -40%, main leg about 2 hours; "
            "$6.4-9.3bn liquidated in 24 h by vendor."
        ),
        moves={"BTC": -0.30, "ETH": -0.40},
        volatility_shock=2.0,
        horizon_hours=24.0,
        date=date(2021, 5, 19),
        sources=("Bybt liquidation data via newsbreak.com", "CoinGlass liquidation data"),
    ),
    Scenario(
        "LUNA/UST 2022",
        description=(
            "7-13 May 2022: UST lost its peg (to $0.10-0.22, haircut 85%), LUNA about $80 -> "
            "~0; about $45bn of market value erased. BTC fell about 25% over the week "
            "(approximate)."
        ),
        moves={"BTC": -0.25, "LUNA": -0.999, "UST": -0.85, "USTC": -0.85},
        collateral_haircuts={"UST": 0.85, "USTC": 0.85},
        volatility_shock=2.0,
        horizon_hours=144.0,
        date=date(2022, 5, 7),
        sources=(
            "DefiLlama wiki, 'LUNA Collapse in May 2022'",
            "livemint.com, 2022-05-14",
        ),
    ),
    Scenario(
        "FTX 2022",
        description=(
            "6-11 Nov 2022: BTC about 21k -> 15.48k (-26%), FTT 25.77 -> 2.68 (-90%); FTX "
            "halted withdrawals on 8 Nov and filed for bankruptcy. Equity on FTX counted as "
            "lost over the horizon (claims were later repaid in USD at petition-date prices)."
        ),
        moves={"BTC": -0.26, "FTT": -0.90},
        exchange_default={"ftx": 1.0},
        volatility_shock=2.0,
        horizon_hours=120.0,
        date=date(2022, 11, 6),
        sources=(
            "CoinDesk data via baystreet.ca",
            "bitcoinke.io",
            "The Block, 2024-05-07 (theblock.co/post/293055), FTX recovery plan",
        ),
    ),
    Scenario(
        "USDC depeg 2023",
        description=(
            "10-13 Mar 2023: Circle confirmed $3.3bn stuck at SVB; USDC traded down to "
            "0.8774 (0.86-0.88 by venue), restored 13 Mar. USDC collateral haircut 13%."
        ),
        collateral_haircuts={"USDC": 0.13},
        horizon_hours=72.0,
        date=date(2023, 3, 10),
        sources=("Cointelegraph, 'USDC depegs as Circle confirms $3.3B stuck with SVB'",),
    ),
    Scenario(
        "Yen carry 2024",
        description=(
            "5 Aug 2024: yen-carry unwind; BTC 58,350 -> 49,513 (-15%) in under 5 hours, "
            "ETH 2,695 -> about 2,111 (-22%); about $1bn liquidated on CEXs plus $320m DeFi."
        ),
        moves={"BTC": -0.15, "ETH": -0.22},
        volatility_shock=2.0,
        horizon_hours=5.0,
        date=date(2024, 8, 5),
        sources=("CoinChapter (thecryptofintech.com mirror)", "Parsec data via mackhal.com"),
    ),
    Scenario(
        "Tariff cascade 2025",
        description=(
            "10-11 Oct 2025: BTC 122.6k -> 104.8k (-14.5%), ETH -18%, SOL -40%, other alts "
            "-15% to -40% (2x BTC here). $19.1-19.3bn liquidated in 24 h, $6.93bn in 40 "
            "minutes; auto-deleveraging on several venues."
        ),
        moves={"BTC": -0.145, "ETH": -0.18, "SOL": -0.40},
        volatility_shock=3.0,
        horizon_hours=1.0,
        date=date(2025, 10, 10),
        sources=(
            "CoinGlass liquidation data",
            "Amberdata via Binance Square",
            "ainvest.com",
            "tradesilvania.com",
        ),
    ),
)

_LIBRARY: tuple[Scenario, ...] = (
    _btc_shock(-0.15, 1.0),
    _btc_shock(-0.30, 1.0),
    _btc_shock(-0.50, 24.0),
    _btc_shock(+0.15, 1.0),
    _btc_shock(+0.30, 1.0),
    *_HISTORICAL,
    _funding_shock(+0.003),
    _funding_shock(-0.003),
)


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip()).lower()


def scenario_library() -> tuple[Scenario, ...]:
    """The built-in scenarios, in a stable order.

    Synthetic shocks ``"BTC -15% 1h"``, ``"BTC -30% 1h"`` (the classic "BTC -30% in an hour"),
    ``"BTC -50% 24h"``, ``"BTC +15% 1h"``, ``"BTC +30% 1h"`` (unlisted assets follow BTC:
    ETH 1.3x, others 2x, capped at -90%); historical events from 2016 to 2025 (rounded vendor
    data, sources attached); funding shocks of +/-0.3% per 8 hours for 3 days.

    Examples
    --------
    >>> [s.name for s in scenario_library()][:3]
    ['BTC -15% 1h', 'BTC -30% 1h', 'BTC -50% 24h']
    """
    return _LIBRARY


def get_scenario(name: str) -> Scenario:
    """Look a built-in scenario up by name (case and spacing ignored).

    Raises
    ------
    RiskInputError
        For an unknown name; the message lists the known names.

    Examples
    --------
    >>> get_scenario("btc -30% 1h").moves["BTC"]
    -0.3
    """
    wanted = _key(name) if isinstance(name, str) else None
    for scenario in _LIBRARY:
        if _key(scenario.name) == wanted:
            return scenario
    names = ", ".join(s.name for s in _LIBRARY)
    raise RiskInputError(f"scenario must be one of {names} (got {format_value(name)})")


def scenario_set(scenarios: Scenario | str | Sequence[Scenario | str]) -> tuple[Scenario, ...]:
    """Scenarios as :func:`riskfuncs.stress.stress_test` and
    :func:`riskfuncs.accounts.account_stress` take them: one, or a list, of Scenario objects
    or library names (:func:`get_scenario`); at least one, names unique."""
    items = [scenarios] if isinstance(scenarios, Scenario | str) else list(scenarios)
    if not items:
        raise RiskInputError("scenarios must hold at least one scenario (got none)")
    resolved = []
    for item in items:
        if isinstance(item, str):
            resolved.append(get_scenario(item))
        elif isinstance(item, Scenario):
            resolved.append(item)
        else:
            raise RiskInputError(
                f"scenarios must be Scenario objects or library names (got {type(item).__name__})"
            )
    names = [s.name for s in resolved]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise RiskInputError(f"scenarios must have unique names (got {duplicate!r} twice)")
    return tuple(resolved)


#: Loss given default of a venue failure when none is given (the FTX-like case).
DEFAULT_EXCHANGE_LGD = 0.75


def exchange_default_scenario(exchange: str, *,
                              loss_given_default: float = DEFAULT_EXCHANGE_LGD) -> Scenario:
    """A venue failure: equity held at ``exchange`` is lost at ``loss_given_default``.

    Prices do not move. Priors from past failures (fraction of the claim lost): QuadrigaCX about
    0.87, Mt. Gox about 0.8 in kind, Voyager about 0.64, Bitfinex 2016 0.36 short-term; 0.6-0.9
    suits an opaque offshore venue and 0.3-0.5 a regulated venue with segregated custody.

    Examples
    --------
    >>> exchange_default_scenario("Binance", loss_given_default=0.6).loss_given_default("binance")
    0.6
    """
    if not isinstance(exchange, str) or not exchange.strip():
        raise RiskInputError(f"exchange must be a non-empty name (got {exchange!r})")
    return Scenario(
        f"{exchange.strip()} default",
        description=f"{exchange.strip()} fails; {loss_given_default:.0%} of the equity held "
        "there is lost.",
        exchange_default={exchange: loss_given_default},
        horizon_hours=24.0,
        sources=(
            "EY QuadrigaCX interim distribution (13.09% of proven claims)",
            "decrypt.co/122960 (Mt. Gox)",
            "ejinsight.com / Reuters 2016-08-08 (Bitfinex 36% haircut)",
        ),
    )


# --- SPAN grid -------------------------------------------------------------------------------

#: CME SPAN scenarios 1-14: (price move in thirds of the scan range, volatility move).
_SPAN_PAIRS: tuple[tuple[int, int], ...] = (
    (0, +1), (0, -1), (+1, +1), (+1, -1), (-1, +1), (-1, -1), (+2, +1), (+2, -1),
    (-2, +1), (-2, -1), (+3, +1), (+3, -1), (-3, +1), (-3, -1),
)
#: Fraction of an extreme scenario's loss that counts (SPAN scenarios 15 and 16).
SPAN_EXTREME_WEIGHT = 0.35


def span_grid(
    price_scan_range: float,
    *,
    extreme_multiple: float = 2.0,
    volatility_scan_range: float = 0.0,
    asset: str = "BTC",
) -> tuple[Scenario, ...]:
    """The 16 scenarios of a CME SPAN risk array for one price scan range.

    Scenarios 1-14 move the price by 0, +/-1/3, +/-2/3 and +/-1 times the scan range, each once
    with volatility up and once down; 15 and 16 move it by +/- ``extreme_multiple`` times the
    range with volatility unchanged, and only 35% of their loss counts (``weight = 0.35``). The
    worst weighted loss is SPAN's "scan risk".

    A linear perpetual has no volatility exposure, so for it the grid reduces to 7 distinct price
    points plus the 2 extremes: each pair 1-14 gives the same loss. The volatility axis is kept
    (as ``volatility_shock = 1 +/- volatility_scan_range``) for consumers that use it.

    Parameters
    ----------
    price_scan_range : float
        Price scan range as a fraction of the price (0.10 = 10%), e.g. the 99% one-day move from
        :func:`price_scan_range`. ``extreme_multiple * price_scan_range`` must be < 1.
    extreme_multiple : float
        Size of the extreme moves in scan ranges. NSE uses 2 (McMillan's S&P example fits 2);
        CME descriptions often quote 3.
    volatility_scan_range : float
        Relative volatility move for the vol axis (0.25 = vol x1.25 / x0.75); default 0.
    asset : str
        Reference asset moved by the grid; other assets follow it through the scenario betas.

    References
    ----------
    CME Group, "SPAN Methodology Overview" and the PC-SPAN "Risk Arrays" page; McMillan,
    *Options as a Strategic Investment*, ch. 34.

    Examples
    --------
    >>> grid = span_grid(0.06)
    >>> len(grid), grid[12].moves["BTC"], grid[15].moves["BTC"], grid[15].weight
    (16, -0.06, -0.12, 0.35)
    """
    psr, multiple, vsr = float(price_scan_range), float(extreme_multiple), float(
        volatility_scan_range
    )
    _check("price_scan_range", price_scan_range, 0.0 < psr < 1.0, "be in (0, 1) as a fraction")
    _check("extreme_multiple", extreme_multiple, 1.0 <= multiple < math.inf, "be >= 1")
    _check("extreme_multiple", extreme_multiple, multiple * psr < 1.0,
           f"be < 1/price_scan_range = {1 / psr:g} (a move must stay above -100%)")
    _check("volatility_scan_range", volatility_scan_range, 0.0 <= vsr < 1.0, "be in [0, 1)")
    asset_key = asset.strip().upper()
    rows = [
        (f"price {_thirds(thirds)} vol {'up' if vol > 0 else 'down'}", thirds / 3 * psr, vol, 1.0)
        for thirds, vol in _SPAN_PAIRS
    ]
    rows += [
        (f"price {sign * multiple:+g}x extreme", sign * multiple * psr, 0, SPAN_EXTREME_WEIGHT)
        for sign in (+1, -1)
    ]
    return tuple(
        Scenario(
            f"SPAN {number}: {label}",
            description=(
                f"{asset_key} moves {move:+.2%} ({label}; price scan range {psr:.2%}); "
                f"weight {weight:.0%}."
            ),
            moves={asset_key: round(move, 12)},
            reference_asset=asset_key,
            volatility_shock=1.0 + vol * vsr,
            horizon_hours=24.0,
            weight=weight,
            sources=(
                "https://www.cmegroup.com/clearing/risk-management/span-overview.html",
                "McMillan, Options as a Strategic Investment, ch. 34",
            ),
        )
        for number, (label, move, vol, weight) in enumerate(rows, start=1)
    )


def _thirds(thirds: int) -> str:
    return "0" if thirds == 0 else f"{thirds // 3:+d}" if abs(thirds) == 3 else f"{thirds:+d}/3"


# --- price scan range from volatility ----------------------------------------------------------


def price_scan_range(
    volatility: FloatLike,
    *,
    confidence: float = 0.99,
    horizon_days: float = 1.0,
    periods_per_year: float = 365.0,
) -> FloatResult:
    """Price scan range implied by a volatility: ``z * sigma * sqrt(horizon / year)``.

    Parameters
    ----------
    volatility : float, array-like or Series
        Annualised volatility of log returns as a fraction (0.60 = 60%). NaN flows through.
    confidence : float
        One-sided confidence level in (0.5, 1); z is its standard-normal quantile
        (2.326 at 0.99).
    horizon_days : float
        Horizon in days (1 = one day, the SPAN convention).
    periods_per_year : float
        Days per year used to annualise (365 for crypto, which trades every day; 252 for
        exchange-traded markets).

    Returns
    -------
    float, ndarray or Series
        Price move as a fraction of price (0.0735 = 7.35%).

    Notes
    -----
    The clearing-house convention sets the scan range to about a 99% one-day move (CME SPAN
    overview). This is the normal quantile of the return, not of the price (no lognormal
    correction), which is how margin models quote it.

    Examples
    --------
    >>> round(price_scan_range(0.60), 4)
    0.0731
    """
    form, (sigma,) = broadcast(volatility=volatility)
    require("volatility", sigma, sigma >= 0, "be >= 0 as a fraction, 60% = 0.6")
    _check("confidence", confidence, 0.5 < float(confidence) < 1.0, "be in (0.5, 1)")
    _check("horizon_days", horizon_days, 0.0 < float(horizon_days) < math.inf, "be > 0")
    _check("periods_per_year", periods_per_year, 0.0 < float(periods_per_year) < math.inf,
           "be > 0")
    z = NormalDist().inv_cdf(float(confidence))
    result: FloatResult = form.wrap(
        z * sigma * math.sqrt(float(horizon_days) / float(periods_per_year))
    )
    return result

