"""One market's book as the cross-venue view sees it, and its conversion to USD.

Venues quote in different currencies (``BTCUSDT`` in USDT, ``BTC-USD`` in USD). Every
cross-venue number is in USD, so each book carries its own ``usd_per_quote`` and is converted
once, here, before anything is compared. Quantities are in the base asset, which markets of one
asset share, so they are summed across venues as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Levels = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class VenueBook:
    """One market's book at one instant.

    - ``market``: the runtime key (``BTCUSDT`` for USD-M, ``binance-spot:BTCUSDT``,
      ``coinbase:BTC-USD``);
    - ``venue``: ``binance-usdm`` | ``binance-spot`` | ``coinbase``;
    - ``quote``: the currency of ``bids``/``asks`` prices (``USDT``, ``USD``, ...);
    - ``usd_per_quote``: USD per one unit of ``quote`` (1.0 for USD, the configured
      ``usdt_usd`` for USDT);
    - ``bids`` / ``asks``: ``(price in quote units, base qty)``, best first, top levels only;
    - ``venue_ts_ms``: venue time (ms) of the last event applied to the book, None if unknown;
    - ``live``: the book is synced and fresh; a book that is not is never compared;
    - ``taker_fee_bps``: the fee a market order pays on this venue, in bps of notional.
    """

    market: str
    venue: str
    quote: str
    usd_per_quote: float
    bids: Sequence[tuple[float, float]]
    asks: Sequence[tuple[float, float]]
    venue_ts_ms: int | None
    live: bool
    taker_fee_bps: float


@dataclass(frozen=True, slots=True)
class UsdBook:
    """``VenueBook`` with prices in USD, sides sorted best first and empty levels dropped.

    Built once per book per call (``to_usd``), so the pairwise functions do not convert the same
    book once per pair.
    """

    book: VenueBook
    bids: Levels  # (USD price, base qty), highest first
    asks: Levels  # (USD price, base qty), lowest first

    @property
    def best_bid(self) -> float | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> float | None:
        """``(best bid + best ask) / 2`` in USD; None with an empty side."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2


def to_usd(book: VenueBook) -> UsdBook:
    """``book`` with every price multiplied by ``usd_per_quote``.

    Sorting is a no-op on a best-first book (Timsort is linear on sorted input) and makes the
    walks below right even if a caller passes levels out of order. Zero-quantity levels are
    dropped: they are removals, not liquidity.
    """
    rate = book.usd_per_quote
    # Tuples sort by price first; a book never holds two levels at one price.
    bids = sorted([(p * rate, q) for p, q in book.bids if q > 0], reverse=True)
    asks = sorted([(p * rate, q) for p, q in book.asks if q > 0])
    return UsdBook(book, tuple(bids), tuple(asks))


def venue_skew_ms(a: VenueBook, b: VenueBook) -> int | None:
    """``|a.venue_ts_ms - b.venue_ts_ms|``: how far apart in venue time two books were last
    updated; None if either is unknown."""
    if a.venue_ts_ms is None or b.venue_ts_ms is None:
        return None
    return abs(a.venue_ts_ms - b.venue_ts_ms)

