"""The book part of a frame: every book feature of docs/frames.md from the top-N levels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from features.book_features import (
    cumulative_depth,
    depth_weighted_price,
    imbalance,
    microprice,
    mid_price,
    spread,
    spread_bps,
    total_qty,
)
from features.slope import book_slope
from orderbook.book import Level
from orderbook.instrument import Instrument


class BookFields(TypedDict):
    """The book keys of a frame (docs/frames.md); ``None`` where a side is missing."""

    best_bid: float | None
    best_ask: float | None
    mid_price: float | None
    spread: float | None
    spread_bps: float | None
    microprice: float | None
    imbalance: float | None
    imbalance_best: float | None
    bid_volume: float
    ask_volume: float
    dwp_bid: float | None
    dwp_ask: float | None
    slope_bid: float | None
    slope_ask: float | None
    bid_levels: list[list[float]]
    ask_levels: list[list[float]]
    cum_bid: list[float]
    cum_ask: list[float]


def book_fields(bids: Sequence[Level], asks: Sequence[Level],
                instrument: Instrument) -> BookFields:
    """Frame keys ``best_bid`` ... ``cum_ask`` from the top-N ``bids`` and ``asks`` (best
    first, integer units). Values needing both sides are ``None`` if either side is empty."""
    ps = instrument.price_scale
    qs = instrument.qty_scale
    bid_qty = total_qty(bids)
    ask_qty = total_qty(asks)
    out: BookFields = {
        "best_bid": bids[0][0] / ps if bids else None,
        "best_ask": asks[0][0] / ps if asks else None,
        "mid_price": None, "spread": None, "spread_bps": None, "microprice": None,
        "imbalance": imbalance(bid_qty, ask_qty),
        "imbalance_best": None,
        "bid_volume": bid_qty / qs,
        "ask_volume": ask_qty / qs,
        "dwp_bid": depth_weighted_price(bids, ps),
        "dwp_ask": depth_weighted_price(asks, ps),
        "slope_bid": None, "slope_ask": None,
        "bid_levels": [[p / ps, q / qs] for p, q in bids],
        "ask_levels": [[p / ps, q / qs] for p, q in asks],
        "cum_bid": cumulative_depth(bids, qs),
        "cum_ask": cumulative_depth(asks, qs),
    }
    if bids and asks:
        bb, ba = bids[0], asks[0]
        out["mid_price"] = mid_price(bb[0], ba[0], ps)
        out["spread"] = spread(bb[0], ba[0], ps)
        out["spread_bps"] = spread_bps(bb[0], ba[0])
        out["microprice"] = microprice(bb, ba, ps)
        out["imbalance_best"] = imbalance(bb[1], ba[1])
        out["slope_bid"] = book_slope(bids, bb[0], ba[0], ps, qs)
        out["slope_ask"] = book_slope(asks, bb[0], ba[0], ps, qs)
    return out
