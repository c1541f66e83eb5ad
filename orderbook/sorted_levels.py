"""One side of the book: a ``dict`` (price units -> quantity units) that also keeps its prices
in a sorted Python list, ordered so that the side's best price is the list's last element.

Why not ``sortedcontainers.SortedDict`` (what the book used until 2026-12): every insert and
delete there runs SortedList's Python code, and the keys view's slices and ``peekitem`` do too.
A plain list kept sorted with ``bisect`` does the same work in C. Inserting into a list is a
memmove of everything after the insertion point, and most new prices appear near the touch, so
the touch sits at the list's end: bids are held ascending (best = highest = last), asks as
ascending *negated* prices (best = lowest = last). A deep Coinbase book (~46,000 levels a side)
then still costs little per new price, and most updates only resize an existing level, which
touches the dict alone. On the BTCUSDT replay the book's apply step takes about half the time
SortedDict needed (benchmarks/replay_throughput.py).

Lookups (``in``, ``[]``, ``get``, ``len``) are the dict's own. ``best``/``best_prices`` read
from the touch outwards; iteration, ``keys``, ``items``, ``values``, ``peekitem`` and ``irange``
are in ascending price order, as SortedDict's were.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from operator import neg
from typing import Any

_dict_get = dict.__getitem__


class SortedLevels(dict[int, int]):
    """Price -> quantity for one side. ``best_high``: the best price is the highest (bids)."""

    __slots__ = ("_order", "best_high")

    def __init__(self, levels: Iterable[tuple[int, int]] = (), *, best_high: bool = True) -> None:
        super().__init__(levels)
        self.best_high = best_high
        # Ascending, best last: prices for bids, negated prices for asks.
        self._order: list[int] = sorted(dict.keys(self) if best_high
                                        else map(neg, dict.keys(self)))

    # ---- mutation: ``set_levels`` and ``clear`` only -----------------------------------------
    # ``__setitem__``/``__delitem__`` are deliberately the dict's own (C, and ~20 % faster on
    # the hot path than a Python override calling dict's): ``side[p] = q`` would therefore
    # bypass the price list, so nothing outside this class assigns or deletes levels. The dict
    # mutators that would bypass it too are refused outright.

    def set_levels(self, levels: Iterable[tuple[int, int]]) -> None:
        """Set each level to its absolute quantity; 0 deletes, and deleting an absent level is
        a no-op (venues send those routinely). The per-diff hot path, in C calls only."""
        order = self._order
        if self.best_high:
            for price, qty in levels:
                if qty:
                    if price not in self:
                        insort(order, price)
                    self[price] = qty
                elif price in self:
                    del self[price]
                    del order[bisect_left(order, price)]
        else:
            for price, qty in levels:
                if qty:
                    if price not in self:
                        insort(order, -price)
                    self[price] = qty
                elif price in self:
                    del self[price]
                    del order[bisect_left(order, -price)]

    def clear(self) -> None:
        super().clear()
        self._order.clear()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("SortedLevels changes only through set_levels() and clear()")

    pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def copy(self) -> SortedLevels:  # type: ignore[override]
        return SortedLevels(dict.items(self), best_high=self.best_high)

    # ---- from the touch outwards ---------------------------------------------------------------

    def best(self) -> tuple[int, int] | None:
        """The best level, or None for an empty side."""
        order = self._order
        if not order:
            return None
        price = order[-1] if self.best_high else -order[-1]
        return price, _dict_get(self, price)

    def best_price(self) -> int | None:
        """The best price, or None for an empty side."""
        order = self._order
        if not order:
            return None
        return order[-1] if self.best_high else -order[-1]

    def best_prices(self, n: int) -> list[int]:
        """The ``n`` best prices, best first."""
        if n <= 0:
            return []
        nearest = self._order[:-n - 1:-1]
        return nearest if self.best_high else list(map(neg, nearest))

    # ---- ascending price order -----------------------------------------------------------------

    def __iter__(self) -> Iterator[int]:
        order = self._order
        return iter(order) if self.best_high else map(neg, reversed(order))

    def __reversed__(self) -> Iterator[int]:
        order = self._order
        return reversed(order) if self.best_high else map(neg, order)

    def keys(self) -> list[int]:  # type: ignore[override]
        """All prices, ascending (a new list)."""
        return list(self)

    def values(self) -> list[int]:  # type: ignore[override]
        return list(map(self.__getitem__, self))

    def items(self) -> _ItemsView:  # type: ignore[override]
        return _ItemsView(self)

    def peekitem(self, index: int = -1) -> tuple[int, int]:
        """The level at ``index`` in ascending price order (``-1``: highest, ``0``: lowest)."""
        if self.best_high:
            price = self._order[index]
        else:
            price = -self._order[-1 - index if index >= 0 else -index - 1]
        return price, _dict_get(self, price)

    def irange(self, low: int, high: int) -> list[int]:
        """Prices with ``low <= price <= high``, ascending."""
        order = self._order
        if self.best_high:
            return order[bisect_left(order, low):bisect_right(order, high)]
        found = order[bisect_left(order, -high):bisect_right(order, -low)]
        found.reverse()
        return list(map(neg, found))

    def __repr__(self) -> str:
        return f"SortedLevels({list(self.items())!r}, best_high={self.best_high})"


class _ItemsView:
    """``(price, qty)`` pairs in ascending price order, lazily, either way round."""

    __slots__ = ("_levels",)

    def __init__(self, levels: SortedLevels) -> None:
        self._levels = levels

    def __len__(self) -> int:
        return len(self._levels)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        levels = self._levels
        return ((p, _dict_get(levels, p)) for p in levels)

    def __reversed__(self) -> Iterator[tuple[int, int]]:
        levels = self._levels
        return ((p, _dict_get(levels, p)) for p in reversed(levels))
