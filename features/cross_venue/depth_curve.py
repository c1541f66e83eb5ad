"""The merged depth curve: every live market's cumulative depth on one USD price grid.

The grid is ``points`` prices evenly spaced from ``mid * (1 - band/1e4)`` to
``mid * (1 + band/1e4)`` around the consolidated mid. At grid price ``g``, for each market:

- ``bids[m][i]`` = base qty of the market's bids priced ``>= g`` (what a seller reaching down to
  ``g`` could hit), non-increasing along the grid;
- ``asks[m][i]`` = base qty of its asks priced ``<= g``, non-decreasing along the grid.

Both are given over the whole grid: with uncrossed venues the bid curve is zero above the best
bid and the ask curve zero below the best ask, so plotting bids on the left and asks on the right
draws the usual depth chart; where venues cross, the two overlap, which is what the view is for.
``total_bids``/``total_asks`` are the per-market sums, the top of a stacked area chart. Only the
levels a book carries are counted, so a curve flattens where a short book ends.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import accumulate

from features.cross_venue.venue_book import UsdBook, VenueBook, to_usd


@dataclass(frozen=True, slots=True)
class DepthCurve:
    """See the module doc. ``mid`` and ``prices`` in USD, depths in base units; ``markets``,
    ``bids`` and ``asks`` are aligned (one row per live market, in input order). Empty grid and
    rows when no mid exists (no live bid or no live ask)."""

    mid: float | None
    band_bps: float
    prices: tuple[float, ...]
    markets: tuple[str, ...]
    bids: tuple[tuple[float, ...], ...]
    asks: tuple[tuple[float, ...], ...]
    total_bids: tuple[float, ...]
    total_asks: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def merged_depth_curve(books: Iterable[VenueBook], band_bps: float = 50.0,
                       points: int = 41) -> DepthCurve:
    """The merged depth curve of one asset's books (module doc)."""
    return merged_depth_curve_usd([to_usd(b) for b in books], band_bps, points)


def merged_depth_curve_usd(books: Sequence[UsdBook], band_bps: float = 50.0,
                           points: int = 41) -> DepthCurve:
    """``merged_depth_curve`` on books already converted with ``to_usd``."""
    if points < 2 or not band_bps > 0:
        raise ValueError(f"need points >= 2 and band_bps > 0, got {points}, {band_bps}")
    live = [b for b in books if b.book.live]
    best_bid = max((b.bids[0][0] for b in live if b.bids), default=None)
    best_ask = min((b.asks[0][0] for b in live if b.asks), default=None)
    if best_bid is None or best_ask is None:
        return DepthCurve(None, band_bps, (), (), (), (), (), ())
    mid = (best_bid + best_ask) / 2
    step = 2 * band_bps * 1e-4 / (points - 1)
    prices = tuple(mid * (1 - band_bps * 1e-4 + k * step) for k in range(points))
    bids = tuple(_bid_curve(b, prices) for b in live)
    asks = tuple(_ask_curve(b, prices) for b in live)
    return DepthCurve(
        mid=mid, band_bps=band_bps, prices=prices,
        markets=tuple(b.book.market for b in live), bids=bids, asks=asks,
        total_bids=tuple(sum(col) for col in zip(*bids, strict=True)),
        total_asks=tuple(sum(col) for col in zip(*asks, strict=True)),
    )


def _bid_curve(b: UsdBook, prices: tuple[float, ...]) -> tuple[float, ...]:
    # Bids are highest first, so their negated prices ascend and bisect counts levels >= g.
    neg = [-p for p, _ in b.bids]
    cum = [0.0, *accumulate(q for _, q in b.bids)]
    return tuple(cum[bisect_right(neg, -g)] for g in prices)


def _ask_curve(b: UsdBook, prices: tuple[float, ...]) -> tuple[float, ...]:
    ask_prices = [p for p, _ in b.asks]
    cum = [0.0, *accumulate(q for _, q in b.asks)]
    return tuple(cum[bisect_right(ask_prices, g)] for g in prices)
