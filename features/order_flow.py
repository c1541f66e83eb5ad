"""Order flow imbalance (OFI) between two consecutive book states.

Both measures return exact integer quantity units; callers sum them over an interval and convert
once (``units / qty_scale``), so a second's total carries no rounding error.
"""

from __future__ import annotations

from orderbook.book import Level


def volume_ofi(prev_bid_volume: int, prev_ask_volume: int,
               bid_volume: int, ask_volume: int) -> int:
    """Top-N OFI of one update: ``dBidVolume - dAskVolume`` where ``dXVolume`` is the change of
    the total top-N quantity of side X since the previous book state::

        ofi = (bid_volume - prev_bid_volume) - (ask_volume - prev_ask_volume)

    Positive when bid depth grew (or ask depth shrank): buying pressure."""
    return (bid_volume - prev_bid_volume) - (ask_volume - prev_ask_volume)


def best_level_ofi(prev_bid: Level | None, prev_ask: Level | None,
                   bid: Level | None, ask: Level | None) -> int:
    """Best-level OFI of Cont, Kukanov and Stoikov (2014), one event ``n``::

        e_n = 1{Pb_n >= Pb_n-1} qb_n - 1{Pb_n <= Pb_n-1} qb_n-1
            - 1{Pa_n <= Pa_n-1} qa_n + 1{Pa_n >= Pa_n-1} qa_n-1

    An empty side is treated as a best price of -inf (bids) or +inf (asks) with zero size, which
    is what the formula gives in the limit: a bid side appearing contributes ``+qb_n``, one
    vanishing ``-qb_n-1`` (mirrored for asks)."""
    e = 0
    if bid is not None and prev_bid is not None:
        pb, qb = bid
        ppb, pqb = prev_bid
        if pb >= ppb:
            e += qb
        if pb <= ppb:
            e -= pqb
    elif bid is not None:
        e += bid[1]
    elif prev_bid is not None:
        e -= prev_bid[1]
    if ask is not None and prev_ask is not None:
        pa, qa = ask
        ppa, pqa = prev_ask
        if pa <= ppa:
            e -= qa
        if pa >= ppa:
            e += pqa
    elif ask is not None:
        e -= ask[1]
    elif prev_ask is not None:
        e += prev_ask[1]
    return e
