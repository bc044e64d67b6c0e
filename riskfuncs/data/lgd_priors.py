"""Recoveries from past crypto venue failures, as priors for loss given default (LGD).

``recovery`` is the fraction of an allowed customer claim returned; ``lgd = 1 - recovery``
floored at 0 (a creditor repaid more than the claim lost nothing on it). ``basis`` says what
the claim was measured in: ``"fiat_at_petition"`` (claims fixed in fiat at the filing date, so
the loss in coin terms is larger in a rising market) or ``"in_kind"`` (coins returned per coin
owed). ``years_to_recovery`` is the time from the failure to the distribution the figure
comes from: money is frozen that long, which a trader should price as well.

The figures are the ones reported by the sources listed with each entry; amounts later paid
may differ. Retrieved November 2026.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

RecoveryBasis = Literal["fiat_at_petition", "in_kind"]


@dataclass(frozen=True)
class VenueFailure:
    """One venue failure and what its customers got back.

    Attributes
    ----------
    name, year : str, int
        Venue and year of the failure.
    recovery : float
        Fraction of the allowed claim returned (1.18 = 118 %).
    basis : {"fiat_at_petition", "in_kind"}
        Unit the claim and the recovery are measured in.
    years_to_recovery : float
        Years from the failure to the distribution ``recovery`` refers to.
    event : str
        What happened, in a few words.
    sources : tuple of str
        Public pages the figures come from.
    """

    name: str
    year: int
    recovery: float
    basis: RecoveryBasis
    years_to_recovery: float
    event: str
    sources: tuple[str, ...]

    @property
    def loss_given_default(self) -> float:
        """``max(0, 1 - recovery)``: the fraction of the claim lost."""
        return max(0.0, 1.0 - self.recovery)


VENUE_FAILURES: Mapping[str, VenueFailure] = MappingProxyType(
    {
        "ftx": VenueFailure(
            name="FTX",
            year=2022,
            # Claims of at most $50k (98 % of creditors) get 118 % of the allowed USD claim;
            # the claim is fixed at the 11 Nov 2022 petition date, when BTC was about $17k.
            recovery=1.18,
            basis="fiat_at_petition",
            years_to_recovery=2.3,
            event="exchange insolvency, customer funds commingled and lent out",
            sources=(
                "https://www.theblock.co/post/293055/ftx-plans-compensation",
                "https://chaincatcher.com/en/article/2123385",
            ),
        ),
        "mt_gox": VenueFailure(
            name="Mt. Gox",
            year=2014,
            # About 142k BTC left (165k held at end-2017 less about 35.8k sold) against about
            # 800k BTC of approved claims, so roughly 18-21 % returned in coin; the early
            # lump-sum option paid 21 % of the balance.
            recovery=0.20,
            basis="in_kind",
            years_to_recovery=10.0,
            event="about 850k BTC lost to theft, bankruptcy then civil rehabilitation",
            sources=(
                "https://decrypt.co/122960/mt-gox-creditors-have-until-friday-file-repayment-claims",
                "https://forklog.com/en/news/details-emerge-of-mt-gox-creditors-payouts",
            ),
        ),
        "quadrigacx": VenueFailure(
            name="QuadrigaCX",
            year=2019,
            # Trustee (EY) interim dividend: 13.094156 % of each proven claim, claims valued
            # in CAD at the 15 Apr 2019 bankruptcy date.
            recovery=0.13094156,
            basis="fiat_at_petition",
            years_to_recovery=4.3,
            event="founder died holding the keys; operated as a Ponzi scheme (OSC)",
            sources=(
                "https://dailyhodl.com/2023/05/14/five-years-after-ceos-sudden-death-victims-of-quadrigacx-collapse-to-receive-13-of-lost-funds/",
                "https://unchainedcrypto.com/quadrigacx-creditors-to-receive-13-of-claims",
            ),
        ),
        "celsius": VenueFailure(
            name="Celsius",
            year=2022,
            # Cumulative distribution after the second (Nov 2024) round: about 60.4 % of the
            # petition-date value of eligible claims.
            recovery=0.604,
            basis="fiat_at_petition",
            years_to_recovery=2.4,
            event="crypto lender insolvency after the Terra/LUNA collapse",
            sources=(
                "https://holder.io/news/celsius-distributes-127m-bitcoin/",
                "https://digitalmoneybox.com/news/cryptocurrency/celsius-to-distribute-127-million-creditors-allege-mismanagement",
            ),
        ),
        "voyager": VenueFailure(
            name="Voyager",
            year=2022,
            # First distribution under the liquidation plan: 35.72 % of account holdings,
            # returned in the same coins (up to 63.74 % if the FTX litigation is won).
            recovery=0.3572,
            basis="in_kind",
            years_to_recovery=0.9,
            event="crypto lender insolvency after the Three Arrows Capital default",
            sources=(
                "https://coinscreed.com/?p=52167",
                "https://finance.yahoo.com/news/voyager-digital-return-35-customer-021947680.html",
            ),
        ),
        "bitfinex_2016": VenueFailure(
            name="Bitfinex (2016 hack)",
            year=2016,
            # Generalised loss of 36.067 % on every account; the BFX debt tokens issued for
            # it were redeemed in full by 3 Apr 2017, so the final loss was 0. The figure
            # here is the loss a trader carried for the eight months in between.
            recovery=1.0 - 0.36067,
            basis="in_kind",
            years_to_recovery=0.7,
            event="about 120k BTC stolen; loss socialised across all accounts",
            sources=(
                "http://www.ejinsight.com/20160808-bitcoin-exchange-customers-to-get-36pc-haircut-debt-tokens/",
                "https://bitcoinwiki.org/wiki/bitfinex-hack",
            ),
        ),
    }
)

#: LGD prior for an opaque offshore venue (no segregation, no regulator that enforces it):
#: the losses of Mt. Gox (0.80 in coin), QuadrigaCX (0.87 in CAD) and Voyager (0.64 in coin)
#: span 0.6-0.9.
LGD_OPAQUE_OFFSHORE = 0.75
#: LGD prior for a regulated venue with segregated customer custody: court-supervised US
#: estates lost 0-40 % of the claim (FTX 0 in USD terms, Celsius 0.40), so 0.3-0.5; 0.40 here.
LGD_REGULATED_SEGREGATED = 0.40

LGD_PROFILES: Mapping[str, float] = MappingProxyType(
    {
        "opaque_offshore": LGD_OPAQUE_OFFSHORE,
        "regulated_segregated": LGD_REGULATED_SEGREGATED,
    }
)
