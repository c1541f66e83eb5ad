"""One side of the book: a ``dict`` (price units -> quantity units) that also keeps its prices
in a sorted Python list.

Why not ``sortedcontainers.SortedDict`` (what the book used until 2026-12): every insert and
delete there runs SortedList's Python code, and the keys view's slices and ``peekitem`` do too.
A plain list kept sorted with ``bisect`` does the same work in C. Inserting into a list is a
memmove, O(n), but a fast one: about 1 us at BTCUSDT's 5,000 levels a side, and a deep
Coinbase book (~46,000 levels a side) still costs only a few microseconds per *new* price, while
most updates resize an existing level and touch only the dict. On the BTCUSDT replay the book's
apply step took half the time SortedDict needed (benchmarks/replay_throughput.py).

Lookups (``in``, ``[]``, ``get``, ``len``) are the dict's own. Iteration, ``keys``, ``items``
and ``values`` are in ascending price order, as SortedDict's were, and the few SortedDict
methods the code uses (``peekitem``, ``irange``, ``bisect_left``/``bisect_right``) are kept.
``keys()`` returns the live sorted list itself, for O(1) slicing: read it, never mutate it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from typing import Any

_dict_get = dict.__getitem__


class SortedLevels(dict[int, int]):
    """Price -> quantity, with the prices also held ascending in ``prices``."""

    __slots__ = ("prices",)

    def __init__(self, levels: Iterable[tuple[int, int]] = ()) -> None:
        super().__init__(levels)
        self.prices: list[int] = sorted(dict.keys(self))

    # ---- mutation: ``set_levels`` and ``clear`` only -----------------------------------------
    # ``__setitem__``/``__delitem__`` are deliberately the dict's own (C, and ~20 % faster on
    # the hot path than a Python override calling dict's): ``side[p] = q`` would therefore
    # bypass ``prices``, so nothing outside this class assigns or deletes levels. The dict
    # mutators that would bypass it too are refused outright.

    def set_levels(self, levels: Iterable[tuple[int, int]]) -> None:
        """Set each level to its absolute quantity; 0 deletes, and deleting an absent level is
        a no-op (venues send those routinely). The per-diff hot path, in C calls only."""
        prices = self.prices
        for price, qty in levels:
            if qty:
                if price not in self:
                    insort(prices, price)
                self[price] = qty
            elif price in self:
                del self[price]
                del prices[bisect_left(prices, price)]

    def clear(self) -> None:
        super().clear()
        self.prices.clear()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("SortedLevels changes only through set_levels() and clear()")

    pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def copy(self) -> SortedLevels:  # type: ignore[override]
        return SortedLevels(self.items())

    # ---- ordered views ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[int]:
        return iter(self.prices)

    def __reversed__(self) -> Iterator[int]:
        return reversed(self.prices)

    def keys(self) -> list[int]:  # type: ignore[override]
        """The live ascending price list (not a copy: slice it, do not mutate it)."""
        return self.prices

    def values(self) -> list[int]:  # type: ignore[override]
        return list(map(self.__getitem__, self.prices))

    def items(self) -> _ItemsView:  # type: ignore[override]
        return _ItemsView(self)

    def peekitem(self, index: int = -1) -> tuple[int, int]:
        """The level at ``index`` in price order (``-1``: highest, ``0``: lowest)."""
        price = self.prices[index]
        return price, _dict_get(self, price)

    def irange(self, low: int, high: int) -> list[int]:
        """Prices with ``low <= price <= high``, ascending."""
        prices = self.prices
        return prices[bisect_left(prices, low):bisect_right(prices, high)]

    def bisect_left(self, price: int) -> int:
        return bisect_left(self.prices, price)

    def bisect_right(self, price: int) -> int:
        return bisect_right(self.prices, price)

    def __repr__(self) -> str:
        return f"SortedLevels({list(self.items())!r})"


class _ItemsView:
    """``(price, qty)`` pairs in ascending price order, lazily, either way round."""

    __slots__ = ("_levels",)

    def __init__(self, levels: SortedLevels) -> None:
        self._levels = levels

    def __len__(self) -> int:
        return len(self._levels)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        levels = self._levels
        return ((p, _dict_get(levels, p)) for p in levels.prices)

    def __reversed__(self) -> Iterator[tuple[int, int]]:
        levels = self._levels
        return ((p, _dict_get(levels, p)) for p in reversed(levels.prices))
