"""Perp-vs-spot basis, with the perp's mark, index and funding when the venue sent them.

``basis_usd = perp mid - spot mid`` and ``basis_bps = basis_usd / spot mid * 1e4``, both mids in
USD. Positive: the perpetual trades rich to spot (longs pay funding when it persists).
``mark_index_bps = (mark - index) / index * 1e4`` is the venue's own premium, from its
``markPriceUpdate``; it is in the perp's quote currency on both sides, so no conversion enters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from features.cross_venue.venue_book import VenueBook, to_usd, venue_skew_ms
from marketdata.events import MarkPrice


@dataclass(frozen=True, slots=True)
class Basis:
    """See the module doc. Mids and mark/index in USD; None where not computable (an empty
    side, no mark event). ``live`` is true when both books are; ``skew_ms`` is the venue-time
    difference of the two books (None if either is unknown). ``funding_rate`` is a fraction per
    funding interval, ``next_funding_ms`` venue time."""

    perp_market: str
    spot_market: str
    live: bool
    skew_ms: int | None
    perp_mid: float | None
    spot_mid: float | None
    basis_usd: float | None
    basis_bps: float | None
    mark_price: float | None
    index_price: float | None
    mark_index_bps: float | None
    funding_rate: float | None
    next_funding_ms: int | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def basis(perp: VenueBook, spot: VenueBook, mark: MarkPrice | None = None) -> Basis:
    """The basis of ``perp`` over ``spot`` (module doc); ``mark`` is the perp's latest
    ``MarkPrice`` if any."""
    perp_mid, spot_mid = to_usd(perp).mid, to_usd(spot).mid
    diff = None if perp_mid is None or spot_mid is None else perp_mid - spot_mid
    rate = perp.usd_per_quote
    return Basis(
        perp_market=perp.market, spot_market=spot.market, live=perp.live and spot.live,
        skew_ms=venue_skew_ms(perp, spot), perp_mid=perp_mid, spot_mid=spot_mid,
        basis_usd=diff,
        basis_bps=None if diff is None or not spot_mid else diff / spot_mid * 1e4,
        mark_price=mark.mark_price * rate if mark else None,
        index_price=mark.index_price * rate if mark else None,
        mark_index_bps=((mark.mark_price - mark.index_price) / mark.index_price * 1e4
                        if mark and mark.index_price else None),
        funding_rate=mark.funding_rate if mark else None,
        next_funding_ms=mark.next_funding_ms if mark else None,
    )

