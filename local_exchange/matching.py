"""Order-level matching engine for one symbol: FIFO queues per price, price-time priority.

Everything is integer units (see ``orderbook.instrument``). Every change to a price level's total
consumes one new update id, like Binance's engine; ids skip ahead by ``id_gap()`` first, because
Binance ids advance by many per published change (other activity shares the counter). The engine
remembers which levels changed since the last ``drain_changes()``, which is all a publisher
needs to build a ``depthUpdate``: level sizes are always sums of resting orders, never invented.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from sortedcontainers import SortedDict

Side = Literal["buy", "sell"]
Level = tuple[int, int]


@dataclass(slots=True)
class Order:
    """A resting limit order. ``slot`` is its index in the engine's random-access list."""

    order_id: int
    side: Side
    price: int
    qty: int
    slot: int = -1


@dataclass(slots=True)
class PriceLevel:
    """Orders at one price in arrival order (dicts keep insertion order: FIFO for free)."""

    total: int = 0
    orders: dict[int, Order] = field(default_factory=dict)


class LevelTake(NamedTuple):
    """What one taker order consumed at one price: becomes one ``aggTrade``.

    The level's total shrank by exactly ``qty`` under the single update id ``update_id``.
    """

    taker_side: Side
    price: int
    qty: int
    first_trade_id: int
    last_trade_id: int
    update_id: int
    ts_ns: int
    fills: tuple[int, ...] = ()  # each maker order's fill, in queue order: one raw trade each


class ChangeBatch(NamedTuple):
    """Levels changed since the last drain, with their current absolute sizes (0 = removed)."""

    first_update_id: int
    last_update_id: int
    last_change_ns: int
    bids: list[Level]
    asks: list[Level]


class MatchingEngine:
    """One symbol's book. Synchronous and single-threaded: the owning event loop calls it."""

    def __init__(self, symbol: str, first_update_id: int = 1, first_trade_id: int = 1,
                 id_gap: Callable[[], int] | None = None) -> None:
        self.symbol = symbol
        self.bids: SortedDict = SortedDict()  # price -> PriceLevel, best bid is the last key
        self.asks: SortedDict = SortedDict()  # price -> PriceLevel, best ask is the first key
        self.orders: dict[int, Order] = {}
        self.update_id = first_update_id  # last id consumed by a level change
        self.last_change_ns = 0
        self._id_gap = id_gap or (lambda: 0)
        self._next_order_id = 1
        self._next_trade_id = first_trade_id
        self._live: list[Order] = []  # random access for the market model's cancels
        # Orders the market model's random cancels skip (injected scenarios' orders: their
        # life is the scenario's, not the flow's 12 s mean). The draw is made all the same,
        # so the flow's random stream does not depend on what was injected.
        self.protected: set[int] = set()
        self._changed_bids: set[int] = set()
        self._changed_asks: set[int] = set()
        self._batch_first_id: int | None = None
        self.pending_takes: list[LevelTake] = []

    # ------------------------------------------------------------------ queries
    def best_bid(self) -> int | None:
        return self.bids.peekitem(-1)[0] if self.bids else None

    def best_ask(self) -> int | None:
        return self.asks.peekitem(0)[0] if self.asks else None

    def level_qty(self, side: Side, price: int) -> int:
        level = (self.bids if side == "buy" else self.asks).get(price)
        return level.total if level else 0

    def depth(self, limit: int) -> tuple[list[Level], list[Level]]:
        """Top ``limit`` levels per side, best first, as of ``self.update_id``."""
        bids = [(p, lvl.total) for p, lvl in _top(self.bids, limit, reverse=True)]
        asks = [(p, lvl.total) for p, lvl in _top(self.asks, limit, reverse=False)]
        return bids, asks

    def random_order(self, rng: random.Random) -> Order | None:
        if not self._live:
            return None
        order = self._live[rng.randrange(len(self._live))]
        return None if order.order_id in self.protected else order

    def has_changes(self) -> bool:
        return self._batch_first_id is not None

    # --------------------------------------------------------------- operations
    def add_limit(self, side: Side, price: int, qty: int, ts_ns: int) -> int | None:
        """Place a limit order; the marketable part matches first. Returns the resting order id,
        or None when it filled completely."""
        if qty <= 0 or price <= 0:
            raise ValueError(f"{self.symbol}: bad limit order {side} {qty}@{price}")
        qty = self._match(side, qty, price, ts_ns)
        if qty == 0:
            return None
        order = Order(self._next_order_id, side, price, qty)
        self._next_order_id += 1
        book = self.bids if side == "buy" else self.asks
        level = book.get(price)
        if level is None:
            level = book[price] = PriceLevel()
        level.orders[order.order_id] = order
        level.total += qty
        self.orders[order.order_id] = order
        order.slot = len(self._live)
        self._live.append(order)
        self._changed(side, price, ts_ns)
        return order.order_id

    def cancel(self, order_id: int, ts_ns: int) -> bool:
        """Remove a resting order; False if it is not resting (filled or unknown)."""
        order = self.orders.get(order_id)
        if order is None:
            return False
        book = self.bids if order.side == "buy" else self.asks
        level = book[order.price]
        del level.orders[order_id]
        level.total -= order.qty
        if not level.orders:
            del book[order.price]
        self._forget(order)
        self._changed(order.side, order.price, ts_ns)
        return True

    def market(self, side: Side, qty: int, ts_ns: int) -> int:
        """Market order: consume the opposite side best price first. Returns the filled qty."""
        if qty <= 0:
            raise ValueError(f"{self.symbol}: bad market order qty {qty}")
        return qty - self._match(side, qty, None, ts_ns)

    def drain_changes(self) -> ChangeBatch | None:
        """Changed levels since the last drain (sorted ascending by price, like Binance)."""
        if self._batch_first_id is None:
            return None
        bids = [(p, self._total(self.bids, p)) for p in sorted(self._changed_bids)]
        asks = [(p, self._total(self.asks, p)) for p in sorted(self._changed_asks)]
        batch = ChangeBatch(self._batch_first_id, self.update_id, self.last_change_ns, bids, asks)
        self._changed_bids.clear()
        self._changed_asks.clear()
        self._batch_first_id = None
        return batch

    def drain_takes(self) -> list[LevelTake]:
        takes, self.pending_takes = self.pending_takes, []
        return takes

    # ---------------------------------------------------------------- internals
    def _match(self, side: Side, qty: int, limit_price: int | None, ts_ns: int) -> int:
        """Fill ``qty`` against the opposite side; returns what is left."""
        opposite = self.asks if side == "buy" else self.bids
        maker_side: Side = "sell" if side == "buy" else "buy"
        while qty and opposite:
            price, level = opposite.peekitem(0 if side == "buy" else -1)
            if limit_price is not None and (price > limit_price if side == "buy"
                                            else price < limit_price):
                break
            taken, first_trade = 0, self._next_trade_id
            fills: list[int] = []
            while qty and level.orders:
                order = next(iter(level.orders.values()))
                fill = min(qty, order.qty)
                order.qty -= fill
                qty -= fill
                taken += fill
                fills.append(fill)
                self._next_trade_id += 1
                if order.qty == 0:
                    del level.orders[order.order_id]
                    self._forget(order)
            level.total -= taken
            if not level.orders:
                del opposite[price]
            update_id = self._changed(maker_side, price, ts_ns)
            self.pending_takes.append(LevelTake(side, price, taken, first_trade,
                                                self._next_trade_id - 1, update_id, ts_ns,
                                                tuple(fills)))
        return qty

    def shift(self, delta: int, ts_ns: int) -> None:
        """Move every resting order ``delta`` price units, keeping its id, queue place and size
        (a dislocation of the whole book).

        Every level whose total changes (the old prices emptied, the new ones filled) consumes
        an update id like any other change, so the next depthUpdate carries the move and every
        size in it is still a sum of resting orders. Orders that would land at or below zero
        are cancelled.
        """
        for side, book in (("buy", self.bids), ("sell", self.asks)):
            for price in [p for p in book.irange(None, -delta) if p + delta <= 0]:
                for order_id in list(book[price].orders):
                    self.cancel(order_id, ts_ns)
            old = list(book.items())
            book.clear()
            for price, level in old:
                for order in level.orders.values():
                    order.price = price + delta
                book[price + delta] = level
            touched = {p for p, _ in old} | {p + delta for p, _ in old}
            for price in sorted(touched):
                self._changed(side, price, ts_ns)  # type: ignore[arg-type]

    def _changed(self, side: Side, price: int, ts_ns: int) -> int:
        self.update_id += 1 + self._id_gap()
        if self._batch_first_id is None:
            self._batch_first_id = self.update_id
        (self._changed_bids if side == "buy" else self._changed_asks).add(price)
        self.last_change_ns = max(self.last_change_ns, ts_ns)
        return self.update_id

    def _forget(self, order: Order) -> None:
        del self.orders[order.order_id]
        last = self._live.pop()
        if last is not order:
            last.slot = order.slot
            self._live[order.slot] = last

    @staticmethod
    def _total(book: SortedDict, price: int) -> int:
        level = book.get(price)
        return level.total if level else 0


def _top(book: SortedDict, limit: int, reverse: bool) -> list[tuple[int, PriceLevel]]:
    keys = book.keys()
    count = len(keys) if limit <= 0 else min(limit, len(keys))
    if reverse:
        return [(p, book[p]) for p in keys[len(keys) - count:][::-1]]
    return [(p, book[p]) for p in keys[:count]]
