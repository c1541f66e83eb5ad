"""A deterministic, venue-agnostic L2 book on exact integer prices.

One ``SortedLevels`` per side (a dict of price units -> quantity units with its prices kept in a
sorted list), keeping every level it is given: the full snapshot depth, not a top-N cut, so the
book stays right when the top is consumed. Views (best, top-N) are cheap slices of the sorted
prices.
"""

from __future__ import annotations

from collections.abc import Iterable

from orderbook.sorted_levels import SortedLevels

Level = tuple[int, int]


class L2Book:
    """Price-level book. Quantities are absolute; a zero quantity removes the level and a
    removal of a level that is not there is a no-op (venues send those routinely)."""

    __slots__ = ("bids", "asks", "last_update_id")

    def __init__(self) -> None:
        self.bids = SortedLevels(best_high=True)
        self.asks = SortedLevels(best_high=False)
        self.last_update_id: int | None = None

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.last_update_id = None

    def load(self, bids: Iterable[Level], asks: Iterable[Level], last_update_id: int) -> None:
        """Replace the whole book with a snapshot (zero-quantity entries are skipped)."""
        self.bids = SortedLevels(((p, q) for p, q in bids if q > 0), best_high=True)
        self.asks = SortedLevels(((p, q) for p, q in asks if q > 0), best_high=False)
        self.last_update_id = last_update_id

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], last_update_id: int) -> None:
        """Set each given level to its absolute quantity (0 deletes)."""
        self.bids.set_levels(bids)
        self.asks.set_levels(asks)
        self.last_update_id = last_update_id

    def best_bid(self) -> Level | None:
        return self.bids.best()

    def best_ask(self) -> Level | None:
        return self.asks.best()

    def is_crossed(self) -> bool:
        """True when best bid >= best ask: an integrity error, never a market state."""
        bid, ask = self.bids.best_price(), self.asks.best_price()
        return bid is not None and ask is not None and bid >= ask

    def top_bids(self, n: int) -> list[Level]:
        """The best ``n`` bid levels, best (highest) first."""
        side = self.bids
        return [(p, side[p]) for p in side.best_prices(n)]

    def top_asks(self, n: int) -> list[Level]:
        """The best ``n`` ask levels, best (lowest) first."""
        side = self.asks
        return [(p, side[p]) for p in side.best_prices(n)]

    def depth(self) -> tuple[int, int]:
        """Number of bid and ask levels held."""
        return len(self.bids), len(self.asks)

    def bids_between(self, low: int, high: int) -> list[Level]:
        """Bid levels with ``low <= price <= high``, ascending by price."""
        side = self.bids
        return [(p, side[p]) for p in side.irange(low, high)]

    def asks_between(self, low: int, high: int) -> list[Level]:
        """Ask levels with ``low <= price <= high``, ascending by price."""
        side = self.asks
        return [(p, side[p]) for p in side.irange(low, high)]
