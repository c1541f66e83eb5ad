"""Static features of the top of an integer-unit book.

Inputs are exact integer units, as the book holds them: a price unit is ``1/price_scale`` of
the quote currency and a quantity unit ``1/qty_scale`` of the base currency (see
``orderbook.instrument``). Each function forms the exact integer numerator and denominator and
divides once, so every result is the float nearest the exact value (Python rounds ``int / int``
correctly), and nothing drifts with the size of the numbers.

Levels are ``(price_units, qty_units)`` pairs, best first, as ``L2Book.top_bids`` /
``top_asks`` return them. ``None`` means "cannot be computed" (an empty side).
"""

from __future__ import annotations

from collections.abc import Sequence

from orderbook.book import Level


def mid_price(best_bid: int, best_ask: int, price_scale: int) -> float:
    """``mid = (best_bid + best_ask) / 2``, in quote currency."""
    return (best_bid + best_ask) / (2 * price_scale)


def spread(best_bid: int, best_ask: int, price_scale: int) -> float:
    """``spread = best_ask - best_bid``, in quote currency."""
    return (best_ask - best_bid) / price_scale


def spread_bps(best_bid: int, best_ask: int) -> float | None:
    """``spread / mid * 1e4`` = ``2e4 * (ask - bid) / (ask + bid)``; scale-free, so no scale
    argument. ``None`` if ``ask + bid`` is zero (never for a real book)."""
    total = best_bid + best_ask
    if total == 0:
        return None
    return 20_000 * (best_ask - best_bid) / total


def microprice(best_bid: Level, best_ask: Level, price_scale: int) -> float | None:
    """Size-weighted mid at the best level:
    ``(bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)``, in quote currency.

    Each price is weighted by the size on the *opposite* side, so the microprice leans towards
    the side that is about to be exhausted. ``None`` if both sizes are zero."""
    bid, bid_qty = best_bid
    ask, ask_qty = best_ask
    size = bid_qty + ask_qty
    if size == 0:
        return None
    return (bid * ask_qty + ask * bid_qty) / (size * price_scale)


def imbalance(bid_qty: int, ask_qty: int) -> float | None:
    """``(bid_qty - ask_qty) / (bid_qty + ask_qty)`` in [-1, 1]; ``None`` when both are zero.
    Units cancel, so quantities may be in any common unit."""
    total = bid_qty + ask_qty
    if total == 0:
        return None
    return (bid_qty - ask_qty) / total


def total_qty(levels: Sequence[Level]) -> int:
    """``sum(q)`` over the given levels, in quantity units."""
    return sum(q for _, q in levels)


def depth_imbalance(bids: Sequence[Level], asks: Sequence[Level]) -> float | None:
    """``(sum bid qty - sum ask qty) / (sum bid qty + sum ask qty)`` over the given (top N)
    levels of each side; ``None`` when both sides are empty."""
    return imbalance(total_qty(bids), total_qty(asks))


def depth_weighted_price(levels: Sequence[Level], price_scale: int) -> float | None:
    """``sum(p * q) / sum(q)`` over the given levels of one side, in quote currency;
    ``None`` for an empty side."""
    qty = 0
    notional = 0
    for price, size in levels:
        qty += size
        notional += price * size
    if qty == 0:
        return None
    return notional / (qty * price_scale)


def cumulative_depth(levels: Sequence[Level], qty_scale: int) -> list[float]:
    """``[q1, q1 + q2, ..., q1 + ... + qn]`` in base currency, one entry per given level.
    Summed in exact units first, so the last entry equals the side's total exactly."""
    out: list[float] = []
    running = 0
    for _, size in levels:
        running += size
        out.append(running / qty_scale)
    return out
