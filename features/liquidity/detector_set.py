"""All six detectors of one symbol behind the ``BookObserver`` hooks.

``LiquidityDetectors`` keeps the shared ``MarketContext`` current (touch, venue time, live flag),
samples the rolling baseline, calls every detector in a fixed order (so a replay gives the same
events every time) and owns the symbol's ``EventLog``. Venue time is the latest ``E``/``T`` seen,
never decreasing; a venue second boundary calls each detector's ``on_second`` once.
"""

from __future__ import annotations

from data_ingestion.events import DepthDiff, DepthSnapshot, Trade
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

    __slots__ = ("_second", "ctx", "detectors", "log")

    def __init__(self, instrument: Instrument, book: L2Book, params: DetectorParams,
                 log: EventLog | None = None,
                 detectors: list[Detector] | None = None) -> None:
        self.log = log or EventLog(instrument.symbol)
        self.ctx = MarketContext(instrument, book, self.log, LevelSizeBaseline(params.baseline))
        self.detectors = detectors if detectors is not None else build_detectors(params)
        self._second: int | None = None

    # ---- BookObserver ----------------------------------------------------------------------

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        ctx = self.ctx
        if snapshot.exchange_ts_ms > ctx.venue_ms:
            ctx.venue_ms = snapshot.exchange_ts_ms
        ctx.live = True
        ctx.best_bid = book.best_bid()
        ctx.best_ask = book.best_ask()
        for detector in self.detectors:
            detector.on_reset(ctx)

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        ctx = self.ctx
        bids, asks = book.bids, book.asks
        ctx.best_bid = bids.peekitem(-1) if bids else None
        ctx.best_ask = asks.peekitem(0) if asks else None
        if diff.exchange_ts_ms > ctx.venue_ms:
            ctx.venue_ms = diff.exchange_ts_ms
            self._maybe_second()
        for detector in self.detectors:
            detector.on_update(ctx, diff)

    def on_trade(self, trade: Trade) -> None:
        ctx = self.ctx
        if not ctx.live:
            return  # no book to judge a trade against
        if trade.exchange_ts_ms > ctx.venue_ms:
            ctx.venue_ms = trade.exchange_ts_ms
            self._maybe_second()
        for detector in self.detectors:
            detector.on_trade(ctx, trade)

    def on_not_live(self) -> None:
        """The book stopped being live (gap, reconnect): nothing is judged until the next
        snapshot, whose ``on_book_reset`` tells the detectors continuity was lost."""
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
        for detector in self.detectors:
            detector.on_second(ctx)
