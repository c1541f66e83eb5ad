"""Keeping an L2 book exact from a snapshot plus a diff stream: the sync state machine.

The rules are Binance's "How to manage a local order book correctly" for USDT-M futures
(../shared/docs/exchange-protocols.md section 1.8) and, where Spot differs, for Spot (section
2.9; ``SyncRules`` holds the four differences), each written once below:

1. buffer diffs from the stream while the snapshot is fetched (fetch only once one has arrived);
2. drop buffered diffs the snapshot already covers (futures ``u < lastUpdateId``, spot
   ``u <= lastUpdateId``);
3. the first applied diff straddles the snapshot (futures ``U <= lastUpdateId <= u``, spot
   ``U <= lastUpdateId + 1 <= u``); if the oldest remaining diff starts after that the snapshot
   is older than the buffer and is fetched again;
4. afterwards every diff continues the previous one (futures: its ``pu`` equals the previous
   applied ``u``; spot: its ``U`` is at most the previous ``u + 1``); otherwise updates were lost
   and this symbol alone resyncs (new snapshot, the socket stays open);
5. a diff with ``u <=`` the last applied ``u`` is a stale duplicate and is ignored;
6. a crossed book after a diff is an integrity error and forces a resync.

The machine is synchronous and owns no I/O: it asks for a snapshot through a callback and is
handed diffs and snapshots in arrival order by its engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from marketdata.events import DepthDiff, DepthSnapshot
from orderbook.book import L2Book
from orderbook.observer import BookObserver

log = logging.getLogger(__name__)


class SyncState(str, Enum):
    SYNCING = "syncing"  # never been live: waiting for diffs and a snapshot
    LIVE = "live"  # every diff applied in an unbroken chain
    RESYNCING = "resyncing"  # was live, lost continuity: rebuilding from a new snapshot


@dataclass
class SyncStats:
    applied: int = 0
    gaps: int = 0  # pu chain breaks
    resyncs: int = 0  # rebuilds after having been live (gap, integrity error, reconnect)
    duplicates: int = 0  # stale diffs ignored (u <= last applied u)
    stale_snapshots: int = 0  # snapshots older than the buffered stream, fetched again
    integrity_errors: int = 0  # crossed books
    buffer_overflows: int = 0  # buffered diffs dropped while waiting for a snapshot
    snapshots_loaded: int = 0


@dataclass(frozen=True)
class SyncRules:
    """Where a venue's update-id rules differ (rules 2-4 above)."""

    name: str
    covered_up_to_snapshot: bool  # rule 2: a diff with u == lastUpdateId is already in it
    straddle_slack: int  # rule 3: the first diff's U may be up to lastUpdateId + this
    chained_by_prev_id: bool  # rule 4: futures' pu link; otherwise U <= previous u + 1

    def continues(self, diff: DepthDiff, last_u: int) -> bool:
        if self.chained_by_prev_id:
            return diff.prev_update_id == last_u
        return diff.first_update_id <= last_u + 1

    def still_needed(self, diff: DepthDiff, snapshot_id: int) -> bool:
        if self.covered_up_to_snapshot:
            return diff.last_update_id > snapshot_id
        return diff.last_update_id >= snapshot_id

    def straddles(self, diff: DepthDiff, snapshot_id: int) -> bool:
        return diff.first_update_id <= snapshot_id + self.straddle_slack


FUTURES_RULES = SyncRules("binance-usdm", covered_up_to_snapshot=False, straddle_slack=0,
                          chained_by_prev_id=True)
SPOT_RULES = SyncRules("binance-spot", covered_up_to_snapshot=True, straddle_slack=1,
                       chained_by_prev_id=False)


class BookSync:
    """Applies a diff stream to ``book`` by the rules above (``rules``: futures by default)."""

    def __init__(self, symbol: str, book: L2Book, request_snapshot: Callable[[], None],
                 observer: BookObserver | None = None, max_buffer: int = 5000,
                 rules: SyncRules = FUTURES_RULES) -> None:
        self.symbol = symbol
        self.rules = rules
        self.book = book
        self.state = SyncState.SYNCING
        self.stats = SyncStats()
        self.last_applied_u: int | None = None
        self.last_event_receive_ns: int | None = None
        self._request_snapshot = request_snapshot
        self.observer = observer
        self._max_buffer = max_buffer
        self._buffer: list[DepthDiff] = []
        self._pending: DepthSnapshot | None = None  # a snapshot waiting for its straddling diff
        self._snapshot_requested = False

    # ---- inputs -------------------------------------------------------------------------

    def on_diff(self, diff: DepthDiff) -> None:
        if self.state is SyncState.LIVE:
            self._on_live_diff(diff)
            return
        self._buffer_diff(diff)
        if self._pending is not None:
            self._try_start(self._pending)
        elif not self._snapshot_requested:
            self._ask_for_snapshot()

    def on_snapshot(self, snapshot: DepthSnapshot) -> None:
        """A snapshot fetched at our request (ignored when it is no longer needed)."""
        self._snapshot_requested = False
        if self.state is SyncState.LIVE:
            return
        self._try_start(snapshot)

    def on_snapshot_failed(self) -> None:
        """The fetch failed; the engine retries, this only re-arms the request."""
        self._snapshot_requested = False
        if self.state is not SyncState.LIVE:
            self._ask_for_snapshot()

    def force_resync(self, reason: str) -> None:
        """Drop continuity (e.g. the socket reconnected): rebuild from a fresh snapshot.

        Nothing is requested yet: the new snapshot is fetched once the stream delivers a diff,
        so it cannot predate the buffer.
        """
        if self.state is SyncState.LIVE:
            self.stats.resyncs += 1
            self.state = SyncState.RESYNCING
            log.warning("%s: resync (%s) at u=%s", self.symbol, reason, self.last_applied_u)
            if self.observer is not None:
                self.observer.on_book_lost()
        self._buffer.clear()
        self._pending = None

    # ---- live path ----------------------------------------------------------------------

    def _on_live_diff(self, diff: DepthDiff) -> None:
        last = self.last_applied_u
        assert last is not None
        if diff.last_update_id <= last:  # rule 5
            self.stats.duplicates += 1
            return
        if not self.rules.continues(diff, last):  # rule 4
            self.stats.gaps += 1
            link = (f"pu={diff.prev_update_id}" if diff.prev_update_id is not None
                    else f"U={diff.first_update_id} > u + 1")
            log.warning("%s: gap: %s but last applied u=%s (diff U=%s u=%s); resyncing",
                        self.symbol, link, last, diff.first_update_id, diff.last_update_id)
            self.force_resync("update-id gap")
            self.on_diff(diff)
            return
        self._apply(diff)

    def _apply(self, diff: DepthDiff) -> None:
        self.book.apply(diff.bids, diff.asks, diff.last_update_id)
        self.last_applied_u = diff.last_update_id
        self.last_event_receive_ns = diff.receive_ts_ns
        self.stats.applied += 1
        if self.book.is_crossed():  # rule 6
            self.stats.integrity_errors += 1
            log.error("%s: crossed book after u=%s (bid %s >= ask %s); resyncing", self.symbol,
                      diff.last_update_id, self.book.best_bid(), self.book.best_ask())
            self.force_resync("crossed book")
            return
        if self.observer is not None:
            self.observer.on_book_update(self.book, diff)

    # ---- synchronisation ----------------------------------------------------------------

    def _buffer_diff(self, diff: DepthDiff) -> None:
        if len(self._buffer) >= self._max_buffer:
            # Bounded: a snapshot that takes this long is newer than the dropped diffs anyway.
            del self._buffer[0]
            self.stats.buffer_overflows += 1
        self._buffer.append(diff)

    def _ask_for_snapshot(self) -> None:
        if self._buffer:  # rule 1: only once the stream is flowing
            self._snapshot_requested = True
            self._request_snapshot()

    def _try_start(self, snapshot: DepthSnapshot) -> None:
        last_id = snapshot.last_update_id
        # Arrival order may differ from id order after a reorder; the chain is by id.
        still_needed = self.rules.still_needed
        buffered = sorted((d for d in self._buffer if still_needed(d, last_id)),  # rule 2
                          key=lambda d: d.last_update_id)
        if not buffered:
            self._buffer.clear()
            self._pending = snapshot  # wait for the diff that straddles it
            return
        first = buffered[0]
        if not self.rules.straddles(first, last_id):  # rule 3: the snapshot predates the buffer
            self.stats.stale_snapshots += 1
            log.info("%s: snapshot %s older than buffered U=%s; fetching again", self.symbol,
                     last_id, first.first_update_id)
            self._pending = None
            self._buffer = buffered
            self._ask_for_snapshot()
            return
        self._pending = None
        self._buffer.clear()
        self._load(snapshot)
        self._apply(first)
        for diff in buffered[1:]:
            if self.state is not SyncState.LIVE:
                self._buffer_diff(diff)  # a break inside the buffer: keep the rest for later
            else:
                self._on_live_diff(diff)
        if self.state is not SyncState.LIVE and not self._snapshot_requested:
            self._ask_for_snapshot()

    def _load(self, snapshot: DepthSnapshot) -> None:
        self.book.load(snapshot.bids, snapshot.asks, snapshot.last_update_id)
        self.last_applied_u = snapshot.last_update_id
        self.last_event_receive_ns = snapshot.receive_ts_ns
        self.stats.snapshots_loaded += 1
        self.state = SyncState.LIVE
        log.info("%s: live from snapshot %s (%d bids, %d asks)", self.symbol,
                 snapshot.last_update_id, len(snapshot.bids), len(snapshot.asks))
        if self.observer is not None:
            self.observer.on_book_reset(self.book, snapshot)
