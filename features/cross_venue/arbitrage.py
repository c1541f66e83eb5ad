"""Cross-venue arbitrage after taker fees: buy on one market's asks, sell on another's bids.

With USD prices and fees as fractions ``f = fee_bps / 1e4``, buying base size ``q`` on ``buy``
and selling it on ``sell``:

- ``cost(q) = sum(ask * qty) * (1 + f_buy)`` over the asks walked (lowest first);
- ``proceeds(q) = sum(bid * qty) * (1 - f_sell)`` over the bids walked (highest first);
- ``profit(q) = proceeds(q) - cost(q)`` (USD), ``net_edge_bps(q) = profit(q) / cost(q) * 1e4``.

The marginal profit of one more unit is ``bid_j * (1 - f_sell) - ask_i * (1 + f_buy)`` at the
levels being walked: it only falls as both walks go deeper, so ``profit`` is concave and
piecewise linear, with breakpoints where either walk finishes a level. The walk below follows
those breakpoints, so every answer is exact (up to float rounding), not sampled:

- ``best_size``: the smallest size maximising profit (where the marginal stops being positive),
  ``best_profit_usd``, ``best_cost_usd`` and ``best_net_edge_bps`` there;
- ``max_size``: the largest size with ``profit > 0`` (the root of the falling segment), 0 if none;
- ``depth_limited``: a walk ran out of levels while profit was still positive, so ``best_size``
  or ``max_size`` is only a lower bound from the levels given.

``gross_edge_bps = (best bid_sell - best ask_buy) / best ask_buy * 1e4`` and ``net_edge_bps`` is
``net_edge_bps(q)`` as ``q -> 0``: the top levels after both fees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from features.cross_venue.venue_book import Levels, UsdBook, VenueBook, to_usd, venue_skew_ms


@dataclass(frozen=True, slots=True)
class ArbQuote:
    """Buying on ``buy_market`` and selling on ``sell_market`` (module doc for each
    definition). Prices and USD amounts in USD, sizes in base units, edges in bps; edges None
    when either side needed is empty. ``live``: both books are live. ``skew_ms``: the
    venue-time difference of the two books, None if either is unknown."""

    buy_market: str
    sell_market: str
    buy_venue: str
    sell_venue: str
    live: bool
    skew_ms: int | None
    buy_price: float | None  # best ask on buy_market
    sell_price: float | None  # best bid on sell_market
    gross_edge_bps: float | None
    net_edge_bps: float | None
    best_size: float
    best_profit_usd: float
    best_cost_usd: float
    best_net_edge_bps: float | None  # None when best_size is 0
    max_size: float
    depth_limited: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Walk:
    best_size: float
    best_profit: float
    best_cost: float
    max_size: float
    depth_limited: bool


def arbitrage(buy: VenueBook, sell: VenueBook) -> ArbQuote:
    """Buy on ``buy``, sell on ``sell`` (module doc)."""
    return arbitrage_usd(to_usd(buy), to_usd(sell))


def all_pairs(books: Iterable[VenueBook]) -> list[ArbQuote]:
    """``arbitrage`` for every ordered pair of distinct live markets of one asset."""
    live = [to_usd(b) for b in books if b.live]
    return [arbitrage_usd(a, b) for a in live for b in live if a.book.market != b.book.market]


def arbitrage_usd(buy: UsdBook, sell: UsdBook) -> ArbQuote:
    """``arbitrage`` on books already converted with ``to_usd``."""
    fee_buy = 1 + buy.book.taker_fee_bps * 1e-4
    fee_sell = 1 - sell.book.taker_fee_bps * 1e-4
    ask, bid = buy.best_ask, sell.best_bid
    gross = net = None
    if ask is not None and bid is not None:
        gross = (bid - ask) / ask * 1e4
        net = (bid * fee_sell - ask * fee_buy) / (ask * fee_buy) * 1e4
    walk = _walk(buy.asks, fee_buy, sell.bids, fee_sell)
    return ArbQuote(
        buy_market=buy.book.market, sell_market=sell.book.market,
        buy_venue=buy.book.venue, sell_venue=sell.book.venue,
        live=buy.book.live and sell.book.live, skew_ms=venue_skew_ms(buy.book, sell.book),
        buy_price=ask, sell_price=bid, gross_edge_bps=gross, net_edge_bps=net,
        best_size=walk.best_size, best_profit_usd=walk.best_profit, best_cost_usd=walk.best_cost,
        best_net_edge_bps=(walk.best_profit / walk.best_cost * 1e4
                           if walk.best_size > 0 and walk.best_cost > 0 else None),
        max_size=walk.max_size, depth_limited=walk.depth_limited,
    )


def _walk(asks: Levels, fee_buy: float, bids: Levels, fee_sell: float) -> _Walk:
    """Follow profit along its breakpoints (module doc); stop at its root or when a side ends.

    Each segment is a stretch of size over which both walks stay on one level each, so the
    marginal ``slope`` is constant there.
    """
    i = j = 0
    ask_left = asks[0][1] if asks else 0.0
    bid_left = bids[0][1] if bids else 0.0
    q = profit = cost = 0.0
    best = (0.0, 0.0, 0.0)
    max_size = 0.0
    while i < len(asks) and j < len(bids):
        unit_cost = asks[i][0] * fee_buy
        slope = bids[j][0] * fee_sell - unit_cost
        if slope <= 0 and profit <= 0:
            return _Walk(*best, max_size, False)  # never profitable from here on
        step = min(ask_left, bid_left)
        if slope < 0 and profit + slope * step <= 0:
            # Profit reaches zero inside this segment: that is the largest profitable size.
            return _Walk(*best, q + profit / -slope, False)
        q += step
        profit += slope * step
        cost += unit_cost * step
        if slope > 0:
            best = (q, profit, cost)
        max_size = q
        ask_left -= step
        bid_left -= step
        # Exactly one of the two usually ends here; both end when the sizes were equal.
        if ask_left <= 0:
            i += 1
            ask_left = asks[i][1] if i < len(asks) else 0.0
        if bid_left <= 0:
            j += 1
            bid_left = bids[j][1] if j < len(bids) else 0.0
    return _Walk(*best, max_size, profit > 0)

