"""One engine per symbol: a bounded queue from the socket reader into the synchronous book core,
and the snapshot fetches the sync machine asks for.

The reader never blocks on the book: ``submit_diff`` is synchronous and, when the queue is full,
coalesces the waiting diffs losslessly (see ``coalesce``) instead of dropping any.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from data_ingestion.backoff import Backoff
from marketdata.clock import Clock
from data_ingestion.coalesce import coalesce
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.observer import BookObserver
from orderbook.sync import FUTURES_RULES, BookSync, SyncRules, SyncState

log = logging.getLogger(__name__)

SnapshotFetch = Callable[[str], Awaitable[DepthSnapshot]]


class SnapshotUnavailable(Exception):
    """A snapshot could not be fetched now; ``retry_after`` seconds if the venue said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class EngineCounters:
    diffs_received: int = 0
    trades_received: int = 0
    bursts_coalesced: int = 0
    queue_high_water: int = 0
    snapshot_failures: int = 0


class RateMeter:
    """Events per second over the last few whole seconds, O(1) per event, fixed memory.

    It also keeps a slow baseline (an exponential average of whole seconds, ~30 s time
    constant) so a collapse of the rate - a feed that still connects but barely delivers - can
    be flagged even though nothing is technically broken.
    """

    BASELINE_ALPHA = 1 / 30
    COLLAPSE_RATIO = 0.2  # recent rate below a fifth of the baseline
    MIN_BASELINE = 1.0  # events/s; quieter streams are not judged

    def __init__(self, clock: Clock, window_s: int = 5) -> None:
        self._clock = clock
        self._counts = [0] * window_s
        self._second = int(clock.monotonic())
        self.baseline = 0.0

    def tick(self) -> None:
        self._roll()
        self._counts[self._second % len(self._counts)] += 1

    def rate(self) -> float:
        self._roll()
        current = self._second % len(self._counts)
        full = [c for i, c in enumerate(self._counts) if i != current]
        return sum(full) / len(full) if full else 0.0

    def collapsed(self) -> bool:
        return (self.baseline >= self.MIN_BASELINE
                and self.rate() < self.COLLAPSE_RATIO * self.baseline)

    def _roll(self) -> None:
        now = int(self._clock.monotonic())
        if now == self._second:
            return
        size = len(self._counts)
        for second in range(self._second, min(now, self._second + 60)):
            finished = self._counts[second % size] if second == self._second else 0
            self.baseline += self.BASELINE_ALPHA * (finished - self.baseline)
        for s in range(self._second + 1, min(now, self._second + size) + 1):
            self._counts[s % size] = 0
        self._second = now


class SymbolEngine:
    """Owns one symbol's book. Runs on the event loop that owns every book: no locks."""

    def __init__(self, instrument: Instrument, fetch_snapshot: SnapshotFetch, clock: Clock,
                 observer: BookObserver | None = None, queue_size: int = 10_000,
                 stale_after_s: float = 5.0, rules: SyncRules = FUTURES_RULES) -> None:
        self.symbol = instrument.symbol
        self.instrument = instrument
        self.book = L2Book()
        self.sync = BookSync(self.symbol, self.book, self._want_snapshot, observer, rules=rules)
        self.counters = EngineCounters()
        self.connected = False
        self.diff_rate = RateMeter(clock)
        self._observer = observer
        self._fetch = fetch_snapshot
        self._clock = clock
        self._stale_after = stale_after_s
        self._queue: asyncio.Queue[DepthDiff] = asyncio.Queue(maxsize=queue_size)
        self._snapshot_wanted = asyncio.Event()
        self._backoff = Backoff(base=0.25, cap=30.0)
        # Called after each diff is handled (latency metrics); None costs nothing.
        self.after_diff: Callable[[DepthDiff], None] | None = None

    # ---- called by the feed (synchronous, never blocks) -------------------------------------

    def submit_diff(self, diff: DepthDiff) -> None:
        self.counters.diffs_received += 1
        self.diff_rate.tick()
        try:
            self._queue.put_nowait(diff)
        except asyncio.QueueFull:
            self._coalesce_queue(diff)
        size = self._queue.qsize()
        if size > self.counters.queue_high_water:
            self.counters.queue_high_water = size

    def on_trade(self, trade: Trade) -> None:
        self.counters.trades_received += 1
        if self._observer is not None:
            self._observer.on_trade(trade)

    def on_connection(self, connected: bool) -> None:
        """The depth socket went up or down. Either way continuity is lost: resync."""
        self.connected = connected
        self._drain_queue()
        self.sync.force_resync("reconnect" if connected else "disconnected")

    def attach_observer(self, observer: BookObserver) -> None:
        """Follow this book (features, rolling state); set once, before ``run``."""
        self._observer = observer
        self.sync.observer = observer

    # ---- state ----------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def status(self) -> str:
        """``syncing``, ``live``, ``resyncing``, ``stale`` or ``disconnected``."""
        if not self.connected:
            return "disconnected"
        state = self.sync.state
        if state is SyncState.LIVE:
            age = self.last_event_age_s()
            return "stale" if age is not None and age > self._stale_after else "live"
        return state.value

    def last_event_age_s(self) -> float | None:
        last = self.sync.last_event_receive_ns
        if last is None:
            return None
        return max(0.0, (self._clock.time_ns() - last) / 1e9)

    # ---- tasks ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Apply queued diffs and fetch snapshots until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._apply_loop(), name=f"{self.symbol}-apply")
            tasks.create_task(self._snapshot_loop(), name=f"{self.symbol}-snapshots")

    async def _apply_loop(self) -> None:
        queue, on_diff = self._queue, self.sync.on_diff
        while True:
            diff = await queue.get()
            while True:  # drain without a context switch per diff
                try:
                    on_diff(diff)
                    if self.after_diff is not None:
                        self.after_diff(diff)
                except Exception:
                    # A bug in an observer may have left the book half-updated: never trust
                    # it, rebuild it from a snapshot, and keep the engine running.
                    log.exception("%s: failed handling diff u=%s; resyncing", self.symbol,
                                  diff.last_update_id)
                    self.sync.force_resync("internal error")
                if queue.empty():
                    break
                diff = queue.get_nowait()

    async def _snapshot_loop(self) -> None:
        while True:
            await self._snapshot_wanted.wait()
            self._snapshot_wanted.clear()
            try:
                snapshot = await self._fetch(self.symbol)
            except SnapshotUnavailable as exc:
                self.counters.snapshot_failures += 1
                delay = max(exc.retry_after or 0.0, self._backoff.next_delay())
                log.warning("%s: snapshot unavailable (%s); retrying in %.1fs", self.symbol,
                            exc, delay)
                await asyncio.sleep(delay)
                self.sync.on_snapshot_failed()
                continue
            self.sync.on_snapshot(snapshot)
            if self.sync.state is SyncState.LIVE:
                self._backoff.reset()
            elif self._snapshot_wanted.is_set():
                # Too old for the buffer: ask again, but never in a tight loop (resync storms
                # get IPs banned).
                await asyncio.sleep(self._backoff.next_delay())

    def _want_snapshot(self) -> None:
        self._snapshot_wanted.set()

    def _coalesce_queue(self, diff: DepthDiff) -> None:
        waiting = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        waiting.append(diff)
        merged = coalesce(waiting)
        capacity = self._queue.maxsize
        if len(merged) > capacity - 1:
            # Only a stream broken at nearly every diff gets here; the sync machine will see
            # the gap and resync, so the oldest pieces can go.
            merged = merged[-(capacity - 1):]
        for item in merged:
            self._queue.put_nowait(item)
        self.counters.bursts_coalesced += 1
        log.warning("%s: book engine behind; coalesced %d queued diffs into %d", self.symbol,
                    len(waiting), len(merged))

    def _drain_queue(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
