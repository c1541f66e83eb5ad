"""What an injection agent may do to a market, and that interface over the simulated engine.

Agents (``injection_agents``) only see a ``Venue``: book reads, resting orders, market orders
and two market-condition levers (thin a price band, hold back spread-improving orders). The
simulated venue maps them onto the order-level ``MatchingEngine`` (injections are real orders
there); the replay venue (``injection_replay``) onto an overlay on a recorded book. Sides are
BOOK sides ("bid"/"ask"); ``take("ask", q)`` is a market BUY consuming asks.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import NamedTuple, Protocol

from local_exchange.market_model import SimulatedSymbol
from local_exchange.matching import Side
from local_exchange.scenarios import BookSide

NEAR_LEVELS = 10  # levels per side whose sizes define "the median level size near the touch"
SIDES: tuple[BookSide, BookSide] = ("bid", "ask")


class Fill(NamedTuple):
    """What one injected taker order took at one price (one trade message)."""

    price: int
    qty: int
    ts_ms: int


class Venue(Protocol):
    symbol: str
    tick: int
    step: int
    price_scale: int
    qty_scale: int
    now_ns: int
    last_published_ms: int

    @property
    def ready(self) -> bool: ...

    def best(self, side: BookSide) -> int | None: ...

    def raw_best(self, side: BookSide) -> int | None:
        """The market's own best price, ignoring thinning (what a replay recorded)."""
        ...

    def level_qty(self, side: BookSide, price: int) -> int: ...

    def levels(self, side: BookSide, count: int) -> list[tuple[int, int]]: ...

    def place(self, side: BookSide, price: int, qty: int) -> int | None: ...

    def cancel(self, order_id: int) -> bool: ...

    def remaining(self, order_id: int) -> int: ...

    def take(self, side: BookSide, qty: int, limit: int | None = None) -> list[Fill]: ...

    def thin(self, side: BookSide, low: int, high: int, cap: int | None) -> None: ...

    def hold_improving(self, hold: bool) -> None: ...


def maker_side(side: BookSide) -> Side:
    return "buy" if side == "bid" else "sell"


def taker_side(side: BookSide) -> Side:
    """The taker that consumes book side ``side``: asks are taken by buyers."""
    return "buy" if side == "ask" else "sell"


def touch_median(venue: Venue) -> int:
    """Median size of the ``NEAR_LEVELS`` best levels of both sides (qty units, >= one step)."""
    sizes = [q for side in SIDES for _, q in venue.levels(side, NEAR_LEVELS)]
    return max(int(statistics.median(sizes)) if sizes else venue.step, venue.step)


class SimVenue:
    """A ``Venue`` over one simulated symbol's matching engine."""

    def __init__(self, sim: SimulatedSymbol) -> None:
        self.sim = sim
        self.engine = sim.engine
        self.symbol = sim.spec.symbol
        instrument = sim.spec.instrument
        self.tick, self.step = instrument.tick_units, instrument.step_units
        self.price_scale, self.qty_scale = instrument.price_scale, instrument.qty_scale
        self.now_ns = 0
        self.last_published_ms = 0
        self._params = sim.params
        self._holds = 0
        self._mine: set[int] = set()  # injected orders: thinning never cancels these

    @property
    def ready(self) -> bool:
        return True

    def best(self, side: BookSide) -> int | None:
        return self.engine.best_bid() if side == "bid" else self.engine.best_ask()

    def raw_best(self, side: BookSide) -> int | None:
        return self.best(side)  # thinning cancels real orders: nothing is hidden

    def level_qty(self, side: BookSide, price: int) -> int:
        return self.engine.level_qty(maker_side(side), price)

    def levels(self, side: BookSide, count: int) -> list[tuple[int, int]]:
        bids, asks = self.engine.depth(count)
        return bids if side == "bid" else asks

    def place(self, side: BookSide, price: int, qty: int) -> int | None:
        order_id = self.engine.add_limit(maker_side(side), price, qty, self.now_ns)
        if order_id is not None:
            self._mine.add(order_id)
        return order_id

    def cancel(self, order_id: int) -> bool:
        return self.engine.cancel(order_id, self.now_ns)

    def remaining(self, order_id: int) -> int:
        order = self.engine.orders.get(order_id)
        return order.qty if order is not None else 0

    def take(self, side: BookSide, qty: int, limit: int | None = None) -> list[Fill]:
        engine, start = self.engine, len(self.engine.pending_takes)
        if qty <= 0 or (self.best(side) is None):
            return []
        if limit is None:
            engine.market(taker_side(side), qty, self.now_ns)
        else:
            # Immediate-or-cancel: whatever did not match at ``limit`` or better is withdrawn.
            rest = engine.add_limit(taker_side(side), limit, qty, self.now_ns)
            if rest is not None:
                engine.cancel(rest, self.now_ns)
        return [Fill(t.price, t.qty, t.ts_ns // 1_000_000) for t in engine.pending_takes[start:]]

    def thin(self, side: BookSide, low: int, high: int, cap: int | None) -> None:
        """Cancel resting orders in [low, high], nearest the touch first, until <= ``cap``."""
        if cap is None:
            return
        book = self.engine.bids if side == "bid" else self.engine.asks
        prices = list(book.irange(low, high))
        if side == "bid":
            prices.reverse()
        total = sum(book[p].total for p in prices)
        for price in prices:
            if total <= cap:
                return
            for order_id, order in list(book[price].orders.items()):
                if total <= cap:
                    return
                if order_id in self._mine:
                    continue
                total -= order.qty
                self.engine.cancel(order_id, self.now_ns)

    def hold_improving(self, hold: bool) -> None:
        """While held, the flow places no order inside the spread (so a widened spread stays)."""
        self._holds += 1 if hold else -1
        self.sim.params = replace(self._params, improve_prob=0.0) if self._holds > 0 \
            else self._params
