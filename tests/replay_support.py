"""Driving a real recording through the client's own path in tests: parser -> sync machine ->
an observer (``SymbolState``, or any ``BookObserver``), trades to the observer's ``on_trade``.

``benchmarks/replay_throughput.py`` keeps its own inline copy of this loop on purpose: it is the
timed loop, and the yardstick it is compared with is inline too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from data_ingestion.binance.parser import FuturesParser
from marketdata.events import DepthDiff, Trade
from data_ingestion.recordings import is_snapshot
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.observer import BookObserver
from orderbook.sync import BookSync, SyncState


def recording_symbol(lines: Sequence[tuple[int, bytes]]) -> str:
    """The symbol of a one-symbol recording (from its first stream message)."""
    return str(next(orjson.loads(r)["data"]["s"] for _, r in lines if not is_snapshot(r)))


def drive(lines: Sequence[tuple[int, bytes]], instruments: Mapping[str, Instrument],
          book: L2Book, observer: BookObserver) -> tuple[int, int]:
    """Replay ``lines`` into ``book`` (followed by ``observer``); asserts the book ends live with
    no gap. Returns the venue-time span (first and last ``E``/``T`` in ms) of the depth and trade
    messages."""
    parser = FuturesParser(instruments)
    symbol = recording_symbol(lines)
    sync = BookSync(symbol, book, lambda: None, observer)
    first_ms = last_ms = None
    for ns, raw in lines:
        if is_snapshot(raw):
            sync.on_snapshot(parser.parse_snapshot(symbol, raw, ns))
            continue
        event = parser.parse_stream(raw, ns)
        if type(event) is DepthDiff:
            sync.on_diff(event)
        elif type(event) is Trade:
            observer.on_trade(event)
        else:
            continue
        first_ms = event.exchange_ts_ms if first_ms is None else first_ms
        last_ms = event.exchange_ts_ms
    assert sync.state is SyncState.LIVE and sync.stats.gaps == 0
    assert first_ms is not None and last_ms is not None
    return first_ms, last_ms
