"""Binance USDT-M payloads from a matching engine: depthUpdate, aggTrade, bookTicker.

``DepthPublisher`` drains the engine once per 100 ms tick into one ``depthUpdate`` (U = first
update id of the batch, u = last, pu = u of the previous event) and keeps the book exactly as
published, which tests compare against a client's book. ``DepthMerger`` folds consecutive 100 ms
events into the slower ``@depth`` (250 ms) and ``@depth@500ms`` streams, each with its own pu chain.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from local_exchange.instruments import SymbolSpec
from local_exchange.matching import Level, LevelTake, MatchingEngine
from local_exchange.snapshot import Snapshot

Payload = dict[str, Any]

# Keep a copy of the published book about once a second, a few seconds deep: enough to serve a
# "stale snapshot" (older than what was already published) without copying the book every tick.
_HISTORY_EVERY_MS = 1000
_HISTORY_LEN = 8


@dataclass(frozen=True, slots=True)
class TickOutput:
    """Everything one symbol publishes in one tick."""

    depth: Payload | None
    agg_trades: list[Payload]
    book_ticker: Payload | None
    # Per aggTrade, each fill's quantity (trade ids f..l) when the engine reports them
    # (``LevelTake.fills``); empty otherwise, and ``trade_history`` then keeps one raw trade.
    agg_fills: list[tuple[int, ...]] = field(default_factory=list)


class DepthPublisher:
    """Publishes one symbol's engine changes; owns the published-book copy."""

    def __init__(self, engine: MatchingEngine, spec: SymbolSpec, first_agg_id: int = 1) -> None:
        self.engine = engine
        self.spec = spec
        self.last_u = engine.update_id
        self.last_transaction_ms = 0
        # The engine may start with a book (the model seeds one): that is the published start.
        bids, asks = engine.depth(0)
        self._bids: dict[int, int] = dict(bids)
        self._asks: dict[int, int] = dict(asks)
        self._history: deque[Snapshot] = deque(maxlen=_HISTORY_LEN)
        self._last_history_ms = 0
        self._last_touch: tuple[int | None, int, int | None, int] | None = None
        self._next_agg_id = first_agg_id

    def publish(self, now_ms: int) -> TickOutput:
        """Drain the engine: the depthUpdate (None if nothing changed), aggTrades, bookTicker."""
        takes = self.engine.drain_takes()
        trades = [self._agg_trade(take, now_ms) for take in takes]
        fills = [tuple(getattr(take, "fills", ())) for take in takes]
        batch = self.engine.drain_changes()
        if batch is None:
            return TickOutput(None, trades, None, fills)
        fmt_p, fmt_q = self.spec.instrument.prices.format, self.spec.instrument.quantities.format
        transaction_ms = batch.last_change_ns // 1_000_000
        depth = {
            "e": "depthUpdate", "E": now_ms, "T": transaction_ms, "s": self.spec.symbol,
            "U": batch.first_update_id, "u": batch.last_update_id, "pu": self.last_u,
            "b": [[fmt_p(p), fmt_q(q)] for p, q in batch.bids],
            "a": [[fmt_p(p), fmt_q(q)] for p, q in batch.asks],
        }
        self.last_u = batch.last_update_id
        self.last_transaction_ms = transaction_ms
        _apply(self._bids, batch.bids)
        _apply(self._asks, batch.asks)
        if now_ms - self._last_history_ms >= _HISTORY_EVERY_MS:
            self._history.append(self.published_book())
            self._last_history_ms = now_ms
        return TickOutput(depth, trades, self._book_ticker(now_ms, transaction_ms), fills)

    def top(self, levels: int) -> tuple[list[Level], list[Level]]:
        """The best ``levels`` of each side of the published book (partial depth)."""
        return (heapq.nlargest(levels, self._bids.items()),
                heapq.nsmallest(levels, self._asks.items()))

    def published_book(self) -> Snapshot:
        """The book as published so far (every change with id <= ``last_u``)."""
        bids = sorted(self._bids.items(), reverse=True)
        asks = sorted(self._asks.items())
        return Snapshot(self.last_u, self.last_transaction_ms, bids, asks)

    def stale_book(self) -> Snapshot | None:
        """An older published state (a few seconds back), or None if there is none yet."""
        for state in self._history:
            if state.last_update_id < self.last_u:
                return state
        return None

    def _agg_trade(self, take: LevelTake, now_ms: int) -> Payload:
        agg_id, self._next_agg_id = self._next_agg_id, self._next_agg_id + 1
        instrument = self.spec.instrument
        return {
            "e": "aggTrade", "E": now_ms, "s": self.spec.symbol, "a": agg_id,
            "p": instrument.prices.format(take.price), "q": instrument.quantities.format(take.qty),
            "f": take.first_trade_id, "l": take.last_trade_id, "T": take.ts_ns // 1_000_000,
            # m: the buyer was the maker, i.e. the taker sold.
            "m": take.taker_side == "sell",
        }

    def _book_ticker(self, now_ms: int, transaction_ms: int) -> Payload | None:
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        if bid is None or ask is None:
            return None
        touch = (bid, self._bids.get(bid, 0), ask, self._asks.get(ask, 0))
        if touch == self._last_touch:
            return None
        self._last_touch = touch
        fmt_p, fmt_q = self.spec.instrument.prices.format, self.spec.instrument.quantities.format
        return {"e": "bookTicker", "u": self.last_u, "E": now_ms, "T": transaction_ms,
                "s": self.spec.symbol, "b": fmt_p(bid), "B": fmt_q(touch[1]),
                "a": fmt_p(ask), "A": fmt_q(touch[3])}


class DepthMerger:
    """Folds 100 ms depthUpdates into a slower stream (250 ms ``@depth``, ``@depth@500ms``).

    A later size for a price overrides an earlier one; U is the first merged event's U, u the
    last one's u, and pu links to this stream's own previous event.
    """

    def __init__(self, interval_ms: int, initial_u: int) -> None:
        self.interval_ms = interval_ms
        self._last_u = initial_u
        self._pending: list[Payload] = []
        self._due_ms: int | None = None

    def add(self, event: Payload, now_ms: int) -> None:
        if self._due_ms is None:
            self._due_ms = now_ms - (now_ms % self.interval_ms) + self.interval_ms
        self._pending.append(event)

    def flush_due(self, now_ms: int) -> Payload | None:
        if not self._pending or self._due_ms is None or now_ms < self._due_ms:
            return None
        first, last = self._pending[0], self._pending[-1]
        bids: dict[str, str] = {}
        asks: dict[str, str] = {}
        for event in self._pending:
            bids.update(event["b"])
            asks.update(event["a"])
        merged = {**last, "E": now_ms, "U": first["U"], "pu": self._last_u,
                  "b": _sorted_levels(bids), "a": _sorted_levels(asks)}
        self._last_u = last["u"]
        self._pending.clear()
        self._due_ms = None
        return merged


def _sorted_levels(levels: dict[str, str]) -> list[list[str]]:
    # Fixed-decimal strings of one symbol sort numerically by (length, text).
    return [[p, q] for p, q in sorted(levels.items(), key=lambda kv: (len(kv[0]), kv[0]))]


def _apply(side: dict[int, int], levels: list[Level]) -> None:
    for price, qty in levels:
        if qty:
            side[price] = qty
        else:
            side.pop(price, None)
