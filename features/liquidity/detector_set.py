"""All six detectors of one symbol behind the ``BookObserver`` hooks.

``LiquidityDetectors`` keeps the shared ``MarketContext`` current (touch, venue time, live flag),
samples the rolling baseline, calls every detector in a fixed order (so a replay gives the same
events every time) and owns the symbol's ``EventLog``. Venue time is the latest ``E``/``T`` seen,
never decreasing; a venue second boundary calls each detector's ``on_second`` once.

Trades are three quarters of the events and every detector looks at each one, so they are
buffered and handed over in arrival order just before the next diff, second boundary, reset or
frame cut: detectors see exactly the sequence (and the venue time at each trade) they would have
seen one by one. On the way, consecutive prints with the same trade time, price and aggressor are
merged into one, which is what Binance's aggTrade does (the raw ``trade`` stream of the
recordings has about two prints per such group; one taker or several is unknowable anyway).
"""

from __future__ import annotations

from typing import Any

from marketdata.events import DepthDiff, DepthSnapshot, Trade
from features.liquidity.absorption import AbsorptionDetector
from features.liquidity.baseline import LevelSizeBaseline
from features.liquidity.context import Detector, MarketContext
from features.liquidity.event import EventLog
from features.liquidity.exhaustion import ExhaustionDetector
from features.liquidity.iceberg import IcebergDetector
from features.liquidity.layering import LayeringDetector
from features.liquidity.params import DetectorParams
from features.liquidity.sweep import SweepDetector
from features.liquidity.wall import WallDetector
from orderbook.book import L2Book
from orderbook.instrument import Instrument


def build_detectors(params: DetectorParams) -> list[Detector]:
    """The six detectors in their fixed calling order."""
    # Absorption keeps the touch evidence (net flow, refills) that the iceberg-like detector
    # reads: computed once, and both apply the same iceberg-like rule (one level, one report).
    absorption = AbsorptionDetector(params.absorption, params.iceberg)
    return [WallDetector(params.wall), SweepDetector(params.sweep), absorption,
            LayeringDetector(params.layering), IcebergDetector(params.iceberg, absorption.touch),
            ExhaustionDetector(params.exhaustion)]


class LiquidityDetectors:
    """One symbol's detectors; implements ``orderbook.observer.BookObserver``."""

    __slots__ = ("_on_second", "_on_trade", "_on_update", "_pending", "_second", "ctx",
                 "detectors", "log")

    def __init__(self, instrument: Instrument, book: L2Book, params: DetectorParams,
                 log: EventLog | None = None,
                 detectors: list[Detector] | None = None) -> None:
        self.log = log or EventLog(instrument.symbol)
        self.ctx = MarketContext(instrument, book, self.log, LevelSizeBaseline(params.baseline))
        self.detectors = detectors if detectors is not None else build_detectors(params)
        # Bound once: these run after every diff and trade.
        self._on_update = tuple(d.on_update for d in self.detectors)
        self._on_trade = tuple(d.on_trade for d in self.detectors)
        self._on_second = tuple(d.on_second for d in self.detectors)
        self._second: int | None = None
        # Buffered trades: [trade, merged quantity, venue ms when it arrived].
        self._pending: list[list[Any]] = []

    # ---- BookObserver ----------------------------------------------------------------------

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        self.flush()
        ctx = self.ctx
        if snapshot.exchange_ts_ms > ctx.venue_ms:
            ctx.venue_ms = snapshot.exchange_ts_ms
        ctx.live = True
        ctx.best_bid = book.best_bid()
        ctx.best_ask = book.best_ask()
        for detector in self.detectors:
            detector.on_reset(ctx)

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        if self._pending:
            self.flush()  # trades received before this diff are judged against the old touch
        ctx = self.ctx
        ctx.best_bid = book.bids.best()
        ctx.best_ask = book.asks.best()
        if diff.exchange_ts_ms > ctx.venue_ms:
            ctx.venue_ms = diff.exchange_ts_ms
            self._maybe_second()
        for on_update in self._on_update:
            on_update(ctx, diff)

    def on_trade(self, trade: Trade) -> None:
        ctx = self.ctx
        if not ctx.live:
            return  # no book to judge a trade against
        ts = trade.exchange_ts_ms
        pending = self._pending
        if ts > ctx.venue_ms:
            if ts // 1000 != self._second:
                self.flush()  # the second's trades first, then its boundary
                ctx.venue_ms = ts
                self._maybe_second()
            else:
                ctx.venue_ms = ts
        elif pending:
            last = pending[-1]
            first = last[0]
            if (first.exchange_ts_ms == ts and first.price == trade.price
                    and first.taker_side == trade.taker_side):
                last[1] += trade.qty
                return
        pending.append([trade, trade.qty, ctx.venue_ms])

    def flush(self) -> None:
        """Hand the buffered trades to the detectors (in order, each with the venue time it
        arrived at). Called before each diff, boundary and reset, and by the frame cut."""
        pending = self._pending
        if not pending:
            return
        ctx = self.ctx
        now_ms = ctx.venue_ms
        handlers = self._on_trade
        for trade, qty, venue_ms in pending:
            if qty != trade.qty:
                trade = Trade(trade.symbol, trade.trade_id, trade.price, qty, trade.taker_side,
                              trade.exchange_ts_ms, trade.receive_ts_ns)
            ctx.venue_ms = venue_ms
            for handler in handlers:
                handler(ctx, trade)
        ctx.venue_ms = now_ms
        pending.clear()

    def on_not_live(self) -> None:
        """The book stopped being live (gap, reconnect): nothing is judged until the next
        snapshot, whose ``on_book_reset`` tells the detectors continuity was lost."""
        self.flush()
        self.ctx.live = False

    # ---- internals ---------------------------------------------------------------------------

    def _maybe_second(self) -> None:
        ctx = self.ctx
        second = ctx.venue_ms // 1000
        if second == self._second:
            return
        self._second = second
        if ctx.live and ctx.baseline.due(ctx.venue_ms):
            ctx.baseline.sample(ctx.book, ctx.tick, ctx.venue_ms)
        for on_second in self._on_second:
            on_second(ctx)
