"""The hook through which book consumers (features, rolling state) follow a symbol's book.

The engine calls these synchronously, on the event loop that owns the book, right after the book
changed; implementations must be quick and must not keep references to the book's internals.
"""

from __future__ import annotations

from typing import Protocol

from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book


class BookObserver(Protocol):
    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        """A snapshot was loaded (first sync or resync): incremental baselines start again."""

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        """``diff`` was applied; ``book.last_update_id`` is its final update id."""

    def on_book_lost(self) -> None:
        """The book stopped being live (gap, crossed book, reconnect): until the next
        ``on_book_reset`` it is not to be judged."""

    def on_trade(self, trade: Trade) -> None:
        """A trade was received for this symbol."""
