"""Driving a real recording through the client's own path in tests: parser -> sync machine ->
an observer (``SymbolState``, or any ``BookObserver``), trades to the observer's ``on_trade``;
and replaying one to compare its bookTickers with the rebuilt book (any Binance venue).

``benchmarks/replay_throughput.py`` keeps its own inline copy of this loop on purpose: it is the
timed loop, and the yardstick it is compared with is inline too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from data_ingestion.binance.parser import FuturesParser
from data_ingestion.recordings import is_snapshot, read_lines
from marketdata.events import BookTicker, DepthDiff, Trade
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.observer import BookObserver
from orderbook.sync import FUTURES_RULES, BookSync, SyncRules, SyncState


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


@dataclass
class TickerReplay:
    """A recording replayed to compare bookTickers with the rebuilt book."""


    sync: BookSync
    compared: int
    matched: int
    crossed_after_live: int
    snapshot_requests: int


def replay_book_tickers(paths: Sequence[Path], symbol: str, parser: Any,
                        rules: SyncRules = FUTURES_RULES) -> TickerReplay:
    """Replay ``paths`` through ``parser`` (the venue's) and the sync machine under ``rules``;
    every bookTicker sharing an update id with an applied diff is compared with the book's best
    levels after that diff."""
    book = L2Book()
    requests: list[int] = []
    sync = BookSync(symbol, book, lambda: requests.append(1), rules=rules)
    best_at_u: dict[int, tuple[object, object]] = {}
    tickers: dict[int, BookTicker] = {}
    crossed = 0
    for received_ns, raw in read_lines(paths):
        if is_snapshot(raw):
            assert requests, "the client asks for a snapshot once diffs are buffered"
            sync.on_snapshot(parser.parse_snapshot(symbol, raw, received_ns))
            continue
        event = parser.parse_stream(raw, received_ns)
        if type(event) is DepthDiff:
            sync.on_diff(event)
            if sync.state is SyncState.LIVE and sync.last_applied_u == event.last_update_id:
                best_at_u[event.last_update_id] = (book.best_bid(), book.best_ask())
                crossed += book.is_crossed()
        elif type(event) is BookTicker:
            tickers[event.update_id] = event
    shared = sorted(set(tickers) & set(best_at_u))
    matched = sum(
        1 for u in shared
        if best_at_u[u] == ((tickers[u].bid_price, tickers[u].bid_qty),
                            (tickers[u].ask_price, tickers[u].ask_qty))
    )
    return TickerReplay(sync, len(shared), matched, crossed, len(requests))


def spot_instruments() -> dict[str, Instrument]:
    """Binance Spot's BTCUSDT / ETHUSDT filters (tick 0.01; step 0.00001 and 0.0001) with
    quantities at baseAssetPrecision 8, as ``instruments_from_exchange_info`` builds them: the
    recordings hold a few level sizes finer than the step (e.g. ``"93.75658700"`` BTC), which a
    step-only codec would reject."""
    return {
        "BTCUSDT": Instrument.from_steps("BTCUSDT", "0.01000000", "0.00001000", qty_precision=8),
        "ETHUSDT": Instrument.from_steps("ETHUSDT", "0.01000000", "0.00010000", qty_precision=8),
    }


def final_book(paths: Sequence[Path], symbol: str, parser: Any, instrument: Instrument,
               rules: SyncRules = FUTURES_RULES, depth: int = 50,
               ) -> tuple[int, list[list[float]], list[list[float]]]:
    """A recording's last state by the in-process path (no sockets), to compare with what a
    replay served over sockets built: the last applied update id, then the top ``depth``
    levels per side as ``GET /book`` prints them."""
    sync = replay_book_tickers(paths, symbol, parser, rules).sync
    assert sync.last_applied_u is not None
    return (sync.last_applied_u,
            [[instrument.price(p), instrument.qty(q)] for p, q in sync.book.top_bids(depth)],
            [[instrument.price(p), instrument.qty(q)] for p, q in sync.book.top_asks(depth)])


def coinbase_capture_books(path: Path, products: Sequence[str],
                           ) -> tuple[dict[str, Instrument], dict[str, L2Book]]:
    """A Coinbase Advanced Trade capture's increments (its recorded products response) and the
    books its frames build offline, through the client's parser and sequence machine."""
    from data_ingestion.coinbase.book_sync import CoinbaseBookSync
    from data_ingestion.coinbase.parser import CoinbaseParser, instruments_from_products
    from data_ingestion.coinbase.recording import read_frames, read_http_body

    instruments = instruments_from_products(read_http_body(path, "/market/products"),
                                            list(products))
    offline = CoinbaseBookSync({p: L2Book() for p in products}, lambda p: None)
    parser = CoinbaseParser(instruments)
    for frame in read_frames(path):
        offline.on_frame(parser.parse(frame.data, frame.receive_ns))
    return instruments, offline.books
