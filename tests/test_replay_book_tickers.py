"""Every real futures recording, replayed through the live client's parser and sync machine,
reproduces every bookTicker that shares an update id with a diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_ingestion.binance.parser import FuturesParser
from orderbook.sync import SyncState
from tests.conftest import futures_instruments
from tests.replay_support import replay_book_tickers


@pytest.mark.slow
@pytest.mark.parametrize("files, symbol, expected", [
    (["hftbacktest_usdm_btcusdt_20240808.gz"], "BTCUSDT", 629),
    (["hftbacktest_usdm_ethusdt_20240808.gz"], "ETHUSDT", 551),
])
def test_recording_reproduces_every_shared_book_ticker(usdm_dir: Path, files: list[str],
                                                       symbol: str, expected: int) -> None:
    result = replay_book_tickers([usdm_dir / f for f in files], symbol,
                                 FuturesParser(futures_instruments()))
    sync = result.sync
    assert sync.state is SyncState.LIVE
    assert sync.stats.gaps == 0 and sync.stats.integrity_errors == 0
    assert result.compared == expected
    assert result.matched == result.compared


@pytest.mark.slow
def test_split_recording_stays_live_across_files(usdm_dir: Path) -> None:
    paths = [usdm_dir / "hftbacktest_usdm_btcusdt_20240718.gz",
             usdm_dir / "hftbacktest_usdm_btcusdt_20240719.gz"]
    result = replay_book_tickers(paths, "BTCUSDT", FuturesParser(futures_instruments()))
    sync = result.sync
    assert sync.state is SyncState.LIVE
    assert sync.stats.gaps == 0
    assert sync.stats.applied > 9000  # 9,022 diffs, minus those before the snapshot
    assert result.matched == result.compared
