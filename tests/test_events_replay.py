"""All six detectors over a real recording through the client's own path (parser, sync machine,
rolling state): the same recording gives the same events, in venue time, every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import Config
from data_ingestion.recordings import read_lines
from features.liquidity import EVENT_TYPES
from orderbook.book import L2Book
from state.symbol_state import SymbolState
from tests.conftest import futures_instruments
from tests.replay_support import drive, recording_symbol

pytestmark = pytest.mark.slow


def replay_events(path: Path) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """Every event the detectors logged over the recording, and its venue-time span (ms)."""
    instruments = futures_instruments()
    lines = list(read_lines([path]))
    book = L2Book()
    state = SymbolState.from_config(instruments[recording_symbol(lines)], book, Config())
    span = drive(lines, instruments, book, state)
    assert state.detectors is not None
    state.detectors.flush()
    return [e.to_dict() for e in state.detectors.log], span


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
