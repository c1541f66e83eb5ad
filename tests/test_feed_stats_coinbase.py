"""``scripts/feed_stats.py --venue coinbase``: the real capture's rows against counts taken
independently from the raw JSON lines, and a short simulated run in Coinbase's steps and flow.

The capture (../shared/data/README.md) is 25 s of BTC-USD and ETH-USD; each product's level2
starts with a full-book snapshot and its market_trades with 100 trades of history, which must
not count as traded in the window.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

import pytest
import zstandard

from local_exchange.coinbase_server import COINBASE_SPECS
from local_exchange.market_model import COINBASE_FLOW

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT.parent / "shared/data/coinbase_advanced_trade/cryptofeed_COINBASE.jsonl.zst"
PRODUCTS = ["BTC-USD", "ETH-USD"]


def _load_script() -> ModuleType:
    # scripts/ is not a package; load the script file itself.
    spec = importlib.util.spec_from_file_location("feed_stats", ROOT / "scripts/feed_stats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def feed_stats() -> ModuleType:
    return _load_script()


@pytest.fixture(scope="module")
def real(feed_stats: ModuleType) -> dict[str, dict[str, float]]:
    if not CAPTURE.is_file():
        pytest.fail(f"capture not found at {CAPTURE} (shared/ must sit beside the repo)")
    return feed_stats.coinbase_capture_stats(CAPTURE, PRODUCTS)


def _to_ms(stamp: str) -> tuple[str, int]:
    """``2026-08-09T21:05:48.1676Z`` -> (``2026-08-09T21:05:48``, 167): orders like time."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    return head, int((fraction + "000")[:3])


def raw_counts() -> dict[str, dict[str, float]]:
    """Per product, straight from the JSON lines: updates and level changes after its
    snapshot, trades timed at or after the snapshot's book time, and the window's length."""
    counts = {p: {"updates": 0, "changes": 0, "trades": 0, "start": 0.0, "snap": ""}
              for p in PRODUCTS}
    last = 0.0
    with open(CAPTURE, "rb") as raw:
        lines = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
        records = [json.loads(line) for line in lines if line.strip()]
    for record in records:
        if record["t"] != "recv":
            continue
        last = record["ts"]
        msg = json.loads(record["data"])
        for event in msg.get("events", []):
            if msg["channel"] == "l2_data":
                c = counts[event["product_id"]]
                if event["type"] == "snapshot":
                    c["start"], c["snap"] = record["ts"], event["updates"][0]["event_time"]
                elif c["snap"]:
                    c["updates"] += 1
                    c["changes"] += len(event["updates"])
            elif msg["channel"] == "market_trades" and event["type"] == "update":
                for trade in event["trades"]:
                    c = counts[trade["product_id"]]
                    if c["snap"] and _to_ms(trade["time"]) >= _to_ms(c["snap"]):
                        c["trades"] += 1
    for c in counts.values():
        c["seconds"] = last - c["start"]
    return counts


def test_capture_rows_match_an_independent_count(real: dict[str, dict[str, float]]) -> None:
    counts = raw_counts()
    for product in PRODUCTS:
        stats, c = real[product], counts[product]
        assert stats["seconds"] == pytest.approx(c["seconds"], abs=1e-3)
        assert 20 < stats["seconds"] < 26  # the capture is short: ~25 s
        assert round(stats["diffs/s"] * stats["seconds"]) == c["updates"]
        assert round(stats["level changes/s"] * stats["seconds"]) == c["changes"]
        # the 100-trade history snapshot is not in the window
        assert 0 < round(stats["trades/s"] * stats["seconds"]) == c["trades"] < 100
    # README: 773 level2 update messages; 74,193 level changes with the two snapshots' levels
    assert sum(c["updates"] for c in counts.values()) == 773
    assert sum(c["changes"] for c in counts.values()) == 74_193 - 46_000 - 23_334


def test_capture_rows_are_sane(real: dict[str, dict[str, float]]) -> None:
    for product in PRODUCTS:
        stats = real[product]
        assert stats["spread ticks median"] >= 1
        assert 0 < stats["share <=10 ticks"] < 1
        assert stats["touch size median"] > 0 and stats["levels 2-3 median"] > 0
        assert 0 < stats["trade size median"] <= stats["trade size mean"]
        assert stats["bid levels"] > 1000 and stats["ask levels"] > 1000  # full-depth books


def test_simulator_in_coinbase_flow(feed_stats: ModuleType,
                                    real: dict[str, dict[str, float]]) -> None:
    for product in PRODUCTS:
        stats, _ = feed_stats.simulator_stats(COINBASE_SPECS[product], COINBASE_FLOW[product],
                                              20.0, 1)
        # one l2_data update per 100 ms tick, nearly every tick
        assert 8 <= stats["diffs/s"] <= 10
        assert stats["trades/s"] > 0.2
        assert stats["spread ticks median"] >= 1
        assert stats["touch size median"] > 0
        # COINBASE_FLOW is calibrated on this capture: its activity is of the same order
        ratio = stats["level changes/s"] / real[product]["level changes/s"]
        assert 1 / 3 < ratio < 3, (product, ratio)
        ratio = stats["trades/s"] / real[product]["trades/s"]
        assert 1 / 3 < ratio < 3, (product, ratio)
