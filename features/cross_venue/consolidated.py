"""The consolidated book of one asset: each market's top and depth, and the best across them.

Definitions (all prices in USD, quantities in base units):

- per market: ``mid = (best_bid + best_ask) / 2``, ``spread_bps = (ask - bid) / mid * 1e4``;
  depth within ``N`` bps of its own mid = the levels with ``bid >= mid * (1 - N/1e4)`` (or
  ``ask <= mid * (1 + N/1e4)``), as base quantity and as USD notional ``sum(price * qty)``;
- consolidated: the highest best bid and the lowest best ask over live markets, the market
  holding each, their mid and ``spread_bps = (ask - bid) / mid * 1e4`` (negative when
  ``crossed``, i.e. some venue bids above another's ask).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from features.cross_venue.venue_book import UsdBook, VenueBook, to_usd

DEPTH_BANDS_BPS: tuple[float, ...] = (10.0, 50.0)

# A level set exactly N bps from the mid (common with tick-aligned books) must count as within
# N bps although the float limit may round a hair past it.
_EDGE_REL_TOL = 1e-12


@dataclass(frozen=True, slots=True)
class BandDepth:
    """Liquidity within ``band_bps`` of the market's own mid: ``bid_qty``/``ask_qty`` in base
    units, ``bid_usd``/``ask_usd`` as USD notional."""

    band_bps: float
    bid_qty: float
    bid_usd: float
    ask_qty: float
    ask_usd: float


@dataclass(frozen=True, slots=True)
class MarketTop:
    """One market's contribution. Prices in USD (``usd_per_quote`` applied), sizes in base
    units, ``*_usd`` sizes as USD notional; None where a side is empty. Computed for books that
    are not ``live`` too (the view may show them greyed), but those never enter the consolidated
    values."""

    market: str
    venue: str
    quote: str
    usd_per_quote: float
    live: bool
    venue_ts_ms: int | None
    best_bid: float | None
    best_bid_qty: float | None
    best_bid_usd: float | None
    best_ask: float | None
    best_ask_qty: float | None
    best_ask_usd: float | None
    mid: float | None
    spread_bps: float | None
    depth: tuple[BandDepth, ...]  # one per DEPTH_BANDS_BPS, empty without a mid


@dataclass(frozen=True, slots=True)
class ConsolidatedBook:
    """Best bid and ask across the live markets (see the module doc); None without any."""

    markets: tuple[MarketTop, ...]
    best_bid: float | None
    best_bid_qty: float | None
    best_bid_market: str | None
    best_ask: float | None
    best_ask_qty: float | None
    best_ask_market: str | None
    mid: float | None
    spread_bps: float | None
    crossed: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def consolidate(books: Iterable[VenueBook]) -> ConsolidatedBook:
    """The consolidated view of one asset's books (module doc for the definitions)."""
    usd = [to_usd(b) for b in books]
    return consolidate_usd(usd)


def consolidate_usd(books: Sequence[UsdBook]) -> ConsolidatedBook:
    """``consolidate`` on books already converted with ``to_usd``."""
    tops = tuple(market_top(b) for b in books)
    live = [b for b in books if b.book.live]
    # Ties go to the first market given, so the answer does not flicker between equal venues.
    bid_book = max((b for b in live if b.bids), key=lambda b: b.bids[0][0], default=None)
    ask_book = min((b for b in live if b.asks), key=lambda b: b.asks[0][0], default=None)
    bid = bid_book.bids[0] if bid_book else None
    ask = ask_book.asks[0] if ask_book else None
    mid = spread = None
    if bid is not None and ask is not None:
        mid = (bid[0] + ask[0]) / 2
        spread = (ask[0] - bid[0]) / mid * 1e4
    return ConsolidatedBook(
        markets=tops,
        best_bid=bid[0] if bid else None,
        best_bid_qty=bid[1] if bid else None,
        best_bid_market=bid_book.book.market if bid_book else None,
        best_ask=ask[0] if ask else None,
        best_ask_qty=ask[1] if ask else None,
        best_ask_market=ask_book.book.market if ask_book else None,
        mid=mid,
        spread_bps=spread,
        crossed=bid is not None and ask is not None and bid[0] > ask[0],
    )


def market_top(b: UsdBook) -> MarketTop:
    """One market's row of the consolidated view."""
    bid = b.bids[0] if b.bids else None
    ask = b.asks[0] if b.asks else None
    mid = b.mid
    spread = None if mid is None or bid is None or ask is None else (ask[0] - bid[0]) / mid * 1e4
    depth = () if mid is None else tuple(band_depth(b, mid, n) for n in DEPTH_BANDS_BPS)
    return MarketTop(
        market=b.book.market, venue=b.book.venue, quote=b.book.quote,
        usd_per_quote=b.book.usd_per_quote, live=b.book.live, venue_ts_ms=b.book.venue_ts_ms,
        best_bid=bid[0] if bid else None, best_bid_qty=bid[1] if bid else None,
        best_bid_usd=bid[0] * bid[1] if bid else None,
        best_ask=ask[0] if ask else None, best_ask_qty=ask[1] if ask else None,
        best_ask_usd=ask[0] * ask[1] if ask else None,
        mid=mid, spread_bps=spread, depth=depth,
    )


def band_depth(b: UsdBook, mid: float, band_bps: float) -> BandDepth:
    """Base qty and USD notional of ``b``'s levels within ``band_bps`` of ``mid``. Levels are
    best first, so the first one outside the band ends each side."""
    low = mid * (1 - band_bps * 1e-4) * (1 - _EDGE_REL_TOL)
    high = mid * (1 + band_bps * 1e-4) * (1 + _EDGE_REL_TOL)
    bid_qty = bid_usd = ask_qty = ask_usd = 0.0
    for price, qty in b.bids:
        if price < low:
            break
        bid_qty += qty
        bid_usd += price * qty
    for price, qty in b.asks:
        if price > high:
            break
        ask_qty += qty
        ask_usd += price * qty
    return BandDepth(band_bps, bid_qty, bid_usd, ask_qty, ask_usd)
