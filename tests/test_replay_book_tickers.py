"""Every real futures recording, replayed through the live client's parser and sync machine,
reproduces every bookTicker that shares an update id with a diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_ingestion.binance.parser import FuturesParser
from marketdata.events import BookTicker, DepthDiff
from data_ingestion.recordings import is_snapshot, read_lines
from orderbook.book import L2Book
from orderbook.sync import BookSync, SyncState
from tests.conftest import futures_instruments


def replay(paths: list[Path], symbol: str) -> tuple[BookSync, int, int]:
    """Returns the sync machine, bookTickers compared and bookTickers matched."""
    parser = FuturesParser(futures_instruments())
    book = L2Book()
    requests: list[int] = []
    sync = BookSync(symbol, book, lambda: requests.append(1))
    best_at_u: dict[int, tuple[object, object]] = {}
    tickers: dict[int, BookTicker] = {}
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
        elif type(event) is BookTicker:
            tickers[event.update_id] = event
    shared = sorted(set(tickers) & set(best_at_u))
    matched = sum(
        1 for u in shared
        if best_at_u[u] == ((tickers[u].bid_price, tickers[u].bid_qty),
                            (tickers[u].ask_price, tickers[u].ask_qty))
    )
    return sync, len(shared), matched


@pytest.mark.slow
@pytest.mark.parametrize("files, symbol, expected", [
    (["hftbacktest_usdm_btcusdt_20240808.gz"], "BTCUSDT", 629),
    (["hftbacktest_usdm_ethusdt_20240808.gz"], "ETHUSDT", 551),
])
def test_recording_reproduces_every_shared_book_ticker(usdm_dir: Path, files: list[str],
                                                       symbol: str, expected: int) -> None:
    sync, compared, matched = replay([usdm_dir / f for f in files], symbol)
    assert sync.state is SyncState.LIVE
    assert sync.stats.gaps == 0 and sync.stats.integrity_errors == 0
    assert compared == expected
    assert matched == compared


@pytest.mark.slow
def test_split_recording_stays_live_across_files(usdm_dir: Path) -> None:
    paths = [usdm_dir / "hftbacktest_usdm_btcusdt_20240718.gz",
             usdm_dir / "hftbacktest_usdm_btcusdt_20240719.gz"]
    sync, compared, matched = replay(paths, "BTCUSDT")
    assert sync.state is SyncState.LIVE
    assert sync.stats.gaps == 0
    assert sync.stats.applied > 9000  # 9,022 diffs, minus those before the snapshot
    assert matched == compared
