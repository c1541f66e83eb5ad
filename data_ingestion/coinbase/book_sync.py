"""Keeping Coinbase Advanced Trade books exact on one connection: the sequence state machine.

Coinbase sends no book update ids; integrity rests on the subscription snapshot and the
envelope's ``sequence_num`` (exchange-protocols.md sections 3.2-3.3, 4), so the rules are:

1. ``sequence_num`` is ONE counter per connection, shared by every channel (the capture's
   counter runs 0..1029 across l2_data, ticker, trades and heartbeats): it is checked on every
   message, whatever its channel;
2. a value at or below the last one seen is a duplicate or stale message and is ignored;
3. a jump (more than +1) means messages were lost, possibly level2 ones for any product, so
   every product of the connection stops being live and a rebuild is requested for each (the
   feed re-subscribes it, which makes Coinbase send a fresh snapshot);
4. a ``snapshot`` event is the whole book: it replaces the book and makes that product live;
5. an ``update`` applies absolute sizes to a live book; updates for a product that is waiting
   for its snapshot are dropped (the snapshot will supersede them);
6. a crossed book after an update is an integrity error: that product is rebuilt;
7. a new connection restarts the counter: every product waits for the snapshot its new
   subscription brings.

Synchronous and without I/O: rebuilds are asked for through a callback; frames are handed in
arrival order by the feed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from data_ingestion.coinbase.parser import CoinbaseFrame
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book
from orderbook.observer import BookObserver

log = logging.getLogger(__name__)


@dataclass
class CoinbaseSyncStats:
    frames: int = 0  # messages accepted in sequence, every channel
    applied: int = 0  # updates applied to live books
    snapshots_loaded: int = 0
    gaps: int = 0  # sequence_num jumps (rule 3)
    duplicates: int = 0  # repeated or old sequence_num values ignored (rule 2)
    rebuilds: int = 0  # per-product rebuild requests (gap or integrity error)
    integrity_errors: int = 0  # crossed books (rule 6)
    dropped_updates: int = 0  # updates for a product waiting for its snapshot (rule 5)
    reconnects: int = 0  # connection resets (rule 7)


class CoinbaseBookSync:
    """Owns the books of one connection's products and the connection's sequence check."""

    def __init__(self, books: Mapping[str, L2Book], request_rebuild: Callable[[str], None],
                 observers: Mapping[str, BookObserver] | None = None) -> None:
        self.books = dict(books)
        self.stats = CoinbaseSyncStats()
        self.last_sequence: int | None = None
        self._live = dict.fromkeys(self.books, False)
        self._request_rebuild = request_rebuild
        self._observers = dict(observers or {})

    def add_product(self, product: str) -> None:
        """Keep ``product``'s book from its subscription's snapshot on (a market started at
        runtime); not live until then."""
        self.books[product] = L2Book()
        self._live[product] = False

    def remove_product(self, product: str) -> None:
        """Forget ``product``: its book, liveness and observer. Late messages are ignored."""
        self.books.pop(product, None)
        self._live.pop(product, None)
        self._observers.pop(product, None)

    def observe(self, product: str, observer: BookObserver) -> None:
        """Follow ``product``'s book (features, rolling state) from now on."""
        self._observers[product] = observer

    def is_live(self, product: str) -> bool:
        return self._live[product]

    def on_frame(self, frame: CoinbaseFrame) -> bool:
        """One parsed message of the connection, of any channel, in arrival order. False when
        it was a duplicate or stale one (rule 2), whose contents must be ignored by everyone."""
        seq, last = frame.sequence_num, self.last_sequence
        if last is not None:
            if seq <= last:  # rule 2
                self.stats.duplicates += 1
                return False
            if seq != last + 1:  # rule 3
                self.stats.gaps += 1
                log.warning("coinbase: sequence gap: %d after %d (%s); rebuilding %s", seq, last,
                            frame.channel, ", ".join(self.books))
                self._lose_all()
                for product in self.books:
                    self._rebuild(product)
        self.last_sequence = seq
        self.stats.frames += 1
        for event in frame.events:
            if event.symbol not in self.books:
                continue  # not (or no longer) one of this connection's products
            if isinstance(event, DepthDiff):
                self._on_update(event)
            elif isinstance(event, DepthSnapshot):
                self._on_snapshot(event)
            elif isinstance(event, Trade):
                observer = self._observers.get(event.symbol)
                if observer is not None:
                    observer.on_trade(event)
        return True

    def connection_reset(self) -> None:
        """The socket closed or reopened (rule 7): the counter restarts and every book waits
        for the snapshot of its new subscription, which the feed sends on connecting."""
        self.stats.reconnects += 1
        self.last_sequence = None
        self._lose_all()

    def _on_snapshot(self, snapshot: DepthSnapshot) -> None:  # rule 4
        book = self.books[snapshot.symbol]
        book.load(snapshot.bids, snapshot.asks, snapshot.last_update_id)
        self.stats.snapshots_loaded += 1
        if book.is_crossed():
            self._integrity_error(snapshot.symbol, snapshot.last_update_id)
            return
        self._live[snapshot.symbol] = True
        log.info("coinbase: %s: live from snapshot #%d (%d bids, %d asks)", snapshot.symbol,
                 snapshot.last_update_id, len(snapshot.bids), len(snapshot.asks))
        observer = self._observers.get(snapshot.symbol)
        if observer is not None:
            observer.on_book_reset(book, snapshot)

    def _on_update(self, diff: DepthDiff) -> None:
        if not self._live[diff.symbol]:  # rule 5
            self.stats.dropped_updates += 1
            return
        book = self.books[diff.symbol]
        book.apply(diff.bids, diff.asks, diff.last_update_id)
        self.stats.applied += 1
        if book.is_crossed():  # rule 6
            self._integrity_error(diff.symbol, diff.last_update_id)
            return
        observer = self._observers.get(diff.symbol)
        if observer is not None:
            observer.on_book_update(book, diff)

    def _integrity_error(self, product: str, seq: int) -> None:
        self.stats.integrity_errors += 1
        book = self.books[product]
        log.error("coinbase: %s: crossed book after #%d (bid %s >= ask %s); rebuilding",
                  product, seq, book.best_bid(), book.best_ask())
        self._lose(product)
        self._rebuild(product)

    def _rebuild(self, product: str) -> None:
        self.stats.rebuilds += 1
        self._request_rebuild(product)

    def _lose_all(self) -> None:
        for product in self.books:
            self._lose(product)

    def _lose(self, product: str) -> None:
        if self._live[product]:
            self._live[product] = False
            observer = self._observers.get(product)
            if observer is not None:
                observer.on_book_lost()
