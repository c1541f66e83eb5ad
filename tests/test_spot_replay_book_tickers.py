"""The real Binance Spot recordings, replayed through the live client's spot parser and the sync
machine under spot's rules, reproduce every bookTicker that shares an update id with a diff.

Each symbol's two files are one recording split at midnight (the snapshot is in the first), so
they are replayed in order as one stream: the book must stay live across the split.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from data_ingestion.binance_spot.parser import SpotParser
from data_ingestion.recordings import is_snapshot, read_lines
from marketdata.events import DepthDiff
from orderbook.book import L2Book
from orderbook.sync import SPOT_RULES, BookSync, SyncState
from tests.replay_support import replay_book_tickers, spot_instruments

SPOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance_spot"


@pytest.mark.slow
@pytest.mark.parametrize("symbol, expected", [("BTCUSDT", 1072), ("ETHUSDT", 1056)])
def test_spot_recording_reproduces_every_shared_book_ticker(symbol: str, expected: int) -> None:
    paths = [SPOT / f"hftbacktest_spot_{symbol.lower()}_2024080{day}.gz" for day in (8, 9)]
    if not all(p.is_file() for p in paths):
        pytest.fail(f"real spot recordings not found under {SPOT}")
    result = replay_book_tickers(paths, symbol, SpotParser(spot_instruments()), SPOT_RULES)
    sync = result.sync
    assert sync.state is SyncState.LIVE
    assert sync.stats.snapshots_loaded == 1 and result.snapshot_requests == 1
    assert sync.stats.gaps == 0 and sync.stats.integrity_errors == 0
    assert sync.stats.resyncs == 0 and sync.stats.stale_snapshots == 0
    assert result.crossed_after_live == 0
    assert sync.stats.applied > 6000  # ~6,500 diffs over both files, minus the pre-snapshot few
    assert result.compared == expected
    assert result.matched == result.compared


def test_futures_rules_would_misjudge_the_spot_recording() -> None:
    """The counterfactual that makes the test above meaningful: spot diffs carry no ``pu``, so
    futures' chain rule sees a gap at the first diff after the snapshot and never goes live."""
    parser = SpotParser(spot_instruments())
    sync = BookSync("BTCUSDT", L2Book(), lambda: None)  # FUTURES_RULES by default
    path = SPOT / "hftbacktest_spot_btcusdt_20240808.gz"
    for number, (received_ns, raw) in enumerate(read_lines([path])):
        if number > 200:
            break
        if is_snapshot(raw):
            sync.on_snapshot(parser.parse_snapshot("BTCUSDT", raw, received_ns))
        elif type(event := parser.parse_stream(raw, received_ns)) is DepthDiff:
            sync.on_diff(event)
    assert sync.stats.gaps > 0
