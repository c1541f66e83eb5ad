"""One Coinbase product seen through the engine interface the runtime reads (status, book,
counters, update rate), so health, metrics, frames, ``/book`` and ``/simulate`` serve Coinbase
markets like Binance ones.

Coinbase has no per-product engine: one ``CoinbaseFeed`` connection owns every product's book
and its ``CoinbaseBookSync`` decides liveness. This facade only reads that state, and counts
what passes through the product's observer (``attach_observer`` wraps the rolling state's).
Connection-wide facts (sequence gaps, rebuilds) are reported for each product of it: a gap may
have hidden any product's updates, and every one of them is rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable

from marketdata.clock import Clock
from data_ingestion.coinbase.feed import CoinbaseFeed
from data_ingestion.engine import EngineCounters, RateMeter
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.observer import BookObserver
from orderbook.sync import SyncStats


class _SyncView:
    """What the runtime reads from ``engine.sync``."""

    def __init__(self, feed: CoinbaseFeed, product: str) -> None:
        self._feed = feed
        self._product = product
        self.stats = SyncStats()
        self.last_event_receive_ns: int | None = None

    @property
    def last_applied_u(self) -> int | None:
        """The sequence number of the last message applied to this book."""
        return self._feed.sync.books[self._product].last_update_id

    def refresh(self) -> None:
        connection = self._feed.sync.stats
        self.stats.gaps = connection.gaps
        self.stats.resyncs = connection.rebuilds
        self.stats.duplicates = connection.duplicates
        self.stats.integrity_errors = connection.integrity_errors


class CoinbaseMarket:
    """The runtime's view of one product; implements the ``BookObserver`` hooks it wraps."""

    def __init__(self, feed: CoinbaseFeed, instrument: Instrument, clock: Clock,
                 stale_after_s: float = 5.0) -> None:
        self.symbol = instrument.symbol
        self.instrument = instrument
        self.feed = feed
        self.counters = EngineCounters()
        self.diff_rate = RateMeter(clock)
        self.queue_depth = 0  # applied on the socket's own read loop: nothing queues
        self.after_diff: Callable[[DepthDiff], None] | None = None
        self._sync = _SyncView(feed, instrument.symbol)
        self._clock = clock
        self._stale_after = stale_after_s
        self._observer: BookObserver | None = None
        feed.sync.observe(instrument.symbol, self)

    @property
    def book(self) -> L2Book:
        return self.feed.sync.books[self.symbol]

    @property
    def sync(self) -> _SyncView:
        self._sync.refresh()
        return self._sync

    @property
    def connected(self) -> bool:
        return self.feed.connected

    def attach_observer(self, observer: BookObserver) -> None:
        self._observer = observer

    def status(self) -> str:
        """``syncing``, ``live``, ``resyncing``, ``stale`` or ``disconnected``."""
        if not self.feed.connected:
            return "disconnected"
        if not self.feed.sync.is_live(self.symbol):
            return "resyncing" if self._sync.stats.applied else "syncing"
        age = self.last_event_age_s()
        return "stale" if age is not None and age > self._stale_after else "live"

    def last_event_age_s(self) -> float | None:
        last = self._sync.last_event_receive_ns
        return None if last is None else max(0.0, (self._clock.time_ns() - last) / 1e9)

    async def run(self) -> None:
        """Nothing to run per product: the feed's connection applies every update."""

    # ---- BookObserver, called by CoinbaseBookSync ----------------------------------------------

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        self._sync.last_event_receive_ns = snapshot.receive_ts_ns
        if self._observer is not None:
            self._observer.on_book_reset(book, snapshot)

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        self.counters.diffs_received += 1
        self._sync.stats.applied += 1
        self._sync.last_event_receive_ns = diff.receive_ts_ns
        self.diff_rate.tick()
        if self._observer is not None:
            self._observer.on_book_update(book, diff)
        if self.after_diff is not None:
            self.after_diff(diff)

    def on_book_lost(self) -> None:
        if self._observer is not None:
            self._observer.on_book_lost()

    def on_trade(self, trade: Trade) -> None:
        self.counters.trades_received += 1
        if self._observer is not None:
            self._observer.on_trade(trade)
