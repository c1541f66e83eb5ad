"""All six detectors over a real recording through the client's own path (parser, sync machine,
rolling state): the same recording gives the same events, in venue time, every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from config import Config
from data_ingestion.binance.parser import FuturesParser
from data_ingestion.events import DepthDiff, Trade
from data_ingestion.recordings import is_snapshot, read_lines
from features.liquidity import EVENT_TYPES
from orderbook.book import L2Book
from orderbook.sync import BookSync, SyncState
from state.symbol_state import SymbolState
from tests.conftest import futures_instruments

pytestmark = pytest.mark.slow


def replay_events(path: Path) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """Every event the detectors logged over the recording, and its venue-time span (ms)."""
    instruments = futures_instruments()
    parser = FuturesParser(instruments)
    lines = list(read_lines([path]))
    symbol = next(orjson.loads(r)["data"]["s"] for _, r in lines if not is_snapshot(r))
    book = L2Book()
    state = SymbolState.from_config(instruments[symbol], book, Config())
    sync = BookSync(symbol, book, lambda: None, state)
    first_ms = last_ms = None
    for ns, raw in lines:
        if is_snapshot(raw):
            sync.on_snapshot(parser.parse_snapshot(symbol, raw, ns))
            continue
        event = parser.parse_stream(raw, ns)
        if type(event) is DepthDiff:
            sync.on_diff(event)
        elif type(event) is Trade:
            state.on_trade(event)
        else:
            continue
        first_ms = event.exchange_ts_ms if first_ms is None else first_ms
        last_ms = event.exchange_ts_ms
    assert sync.state is SyncState.LIVE and sync.stats.gaps == 0
    assert state.detectors is not None and first_ms is not None and last_ms is not None
    state.detectors.flush()
    return [e.to_dict() for e in state.detectors.log], (first_ms, last_ms)


def test_same_recording_same_events_in_venue_time(usdm_dir: Path) -> None:
    path = usdm_dir / "hftbacktest_usdm_btcusdt_20240808.gz"
    first, (start_ms, end_ms) = replay_events(path)
    second, _ = replay_events(path)
    assert first == second  # ids, times, sizes, details: byte for byte
    assert len({e["id"] for e in first}) == len(first)
    for event in first:
        assert event["type"] in EVENT_TYPES and event["side"] in ("bid", "ask")
        # Venue time (E/T of the recording), never the replaying machine's clock.
        assert start_ms / 1000 - 60 <= event["start_ts"] <= event["detected_ts"] <= end_ms / 1000
        if event["status"] == "ended":
            assert event["start_ts"] <= event["end_ts"] <= end_ms / 1000
        else:
            assert event["end_ts"] is None
        assert event["price_from"] <= event["price"] <= event["price_to"] or (
            event["type"] == "sweep" and min(event["price_from"], event["price_to"])
            <= event["price"] <= max(event["price_from"], event["price_to"]))
        assert event["size"] > 0 and 0.0 <= event["score"] <= 1.0
