"""The top-N book after every applied diff, for ``export --per-update``.

It listens beside each market's ``SymbolState`` (a second observer on the sync machine), so the
rows are the books the frames were computed from, update id for update id.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.observer import BookObserver

if TYPE_CHECKING:
    from depthlens.pipeline import VenueClockReplay

_LEVELS = pa.list_(pa.list_(pa.float64()))
SCHEMA = pa.schema([
    pa.field("market", pa.string()), pa.field("update_id", pa.int64()),
    pa.field("venue_ms", pa.int64()), pa.field("receive_ns", pa.int64()),
    pa.field("bids", _LEVELS), pa.field("asks", _LEVELS),
])
FLUSH_ROWS = 50_000


class _Tee:
    """Forwards to the market's state, then records the book."""

    def __init__(self, inner: BookObserver, market: str, instrument: Instrument, top_n: int,
                 rows: list[dict[str, Any]]) -> None:
        self.inner, self.market, self.instrument, self.top_n = inner, market, instrument, top_n
        self.rows = rows

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        self.inner.on_book_reset(book, snapshot)
        self._record(book, snapshot.last_update_id, snapshot.exchange_ts_ms,
                     snapshot.receive_ts_ns)

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        self.inner.on_book_update(book, diff)
        self._record(book, diff.last_update_id, diff.exchange_ts_ms, diff.receive_ts_ns)

    def on_book_lost(self) -> None:
        self.inner.on_book_lost()

    def on_trade(self, trade: Trade) -> None:
        self.inner.on_trade(trade)

    def _record(self, book: L2Book, update_id: int, venue_ms: int, receive_ns: int) -> None:
        inst = self.instrument
        self.rows.append({
            "market": self.market, "update_id": update_id, "venue_ms": venue_ms,
            "receive_ns": receive_ns,
            "bids": [[inst.price(p), inst.qty(q)] for p, q in book.top_bids(self.top_n)],
            "asks": [[inst.price(p), inst.qty(q)] for p, q in book.top_asks(self.top_n)],
        })


class BookUpdateRecorder:
    """Writes the rows to ``path`` in row groups as they come (memory stays flat)."""

    def __init__(self, replay: VenueClockReplay, top_n: int, path: Path) -> None:
        self.rows: list[dict[str, Any]] = []
        self.written = 0
        self._writer = pq.ParquetWriter(path, SCHEMA)
        states = replay.states()
        for market, sync in replay.books().items():
            state = states[market]
            sync.observer = _Tee(state, market, state.instrument, top_n, self.rows)

    def flush(self, force: bool = False) -> None:
        if self.rows and (force or len(self.rows) >= FLUSH_ROWS):
            self._writer.write_table(pa.Table.from_pylist(self.rows, schema=SCHEMA))
            self.written += len(self.rows)
            self.rows.clear()

    def close(self) -> int:
        self.flush(force=True)
        self._writer.close()
        return self.written
