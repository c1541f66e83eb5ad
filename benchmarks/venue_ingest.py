"""Ingest cost per venue on its real capture: parse, sync, book, and the rolling state with the
six detectors, per message, in one process (no sockets).

* binance-usdm: BTCUSDT 2024-08-08 (depth diffs @0ms and trades);
* binance-spot: BTCUSDT 2024-08-08/09, both files (depth diffs @100ms and trades);
* coinbase: the Advanced Trade capture, BTC-USD and ETH-USD (level2 snapshot and updates,
  market_trades, heartbeats and the other channels of the connection).

Messages differ in size per venue (the Coinbase capture is 1,030 messages of which two
snapshots hold 69,334 levels; a Binance diff carries ~70 levels), so both microseconds per
message and per level (snapshot levels included) are printed, as the median of interleaved
rounds. Usage:

    .venv/bin/python benchmarks/venue_ingest.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import Config  # noqa: E402
from data_ingestion.binance.parser import FuturesParser  # noqa: E402
from data_ingestion.binance_spot.parser import SpotParser  # noqa: E402
from data_ingestion.coinbase.book_sync import CoinbaseBookSync  # noqa: E402
from data_ingestion.coinbase.parser import CoinbaseParser, instruments_from_products  # noqa: E402
from data_ingestion.coinbase.recording import read_frames, read_http_body  # noqa: E402
from data_ingestion.recordings import is_snapshot, read_lines  # noqa: E402
from marketdata.events import DepthDiff, DepthSnapshot, Trade  # noqa: E402
from orderbook.book import L2Book  # noqa: E402
from orderbook.instrument import Instrument  # noqa: E402
from orderbook.sync import FUTURES_RULES, SPOT_RULES, BookSync, SyncRules  # noqa: E402
from state.symbol_state import SymbolState  # noqa: E402

DATA = ROOT.parent / "shared/data"
USDM = [DATA / "binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz"]
SPOT = [DATA / f"binance_spot/hftbacktest_spot_btcusdt_2024080{d}.gz" for d in (8, 9)]
CAPTURE = DATA / "coinbase_advanced_trade/cryptofeed_COINBASE.jsonl.zst"
USDM_BTC = Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3)
SPOT_BTC = Instrument.from_steps("BTCUSDT", "0.01", "0.00001", 2, 8)


def binance_run(lines: list[tuple[int, bytes]], instrument: Instrument, parser_type: type,
                rules: SyncRules) -> Callable[[], int]:
    """One pass over a Binance recording; returns the level changes applied."""
    def run() -> int:
        parser = parser_type({"BTCUSDT": instrument})
        book = L2Book()
        state = SymbolState.from_config(instrument, book, Config())
        sync = BookSync("BTCUSDT", book, lambda: None, state, rules=rules)
        levels = 0
        for ns, raw in lines:
            if is_snapshot(raw):
                snapshot = parser.parse_snapshot("BTCUSDT", raw, ns)
                sync.on_snapshot(snapshot)
                levels += len(snapshot.bids) + len(snapshot.asks)
                continue
            event = parser.parse_stream(raw, ns)
            if type(event) is DepthDiff:
                sync.on_diff(event)
                levels += len(event.bids) + len(event.asks)
            elif type(event) is Trade:
                state.on_trade(event)
        assert sync.stats.gaps == 0
        return levels
    return run


def coinbase_run(frames: list[bytes], instruments: dict[str, Instrument]) -> Callable[[], int]:
    def run() -> int:
        parser = CoinbaseParser(instruments)
        books = {p: L2Book() for p in instruments}
        states = {p: SymbolState.from_config(i, books[p], Config())
                  for p, i in instruments.items()}
        sync = CoinbaseBookSync(books, lambda _p: None, states)
        levels = 0
        for i, raw in enumerate(frames):
            parsed = parser.parse(raw, i)
            sync.on_frame(parsed)
            levels += sum(len(e.bids) + len(e.asks) for e in parsed.events
                          if type(e) in (DepthDiff, DepthSnapshot))
        assert sync.stats.gaps == 0
        return levels
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    usdm = [(ns, raw) for ns, raw in read_lines(USDM) if b"@bookTicker" not in raw[:40]]
    spot = [(ns, raw) for ns, raw in read_lines(SPOT) if b"@bookTicker" not in raw[:40]]
    captured = [f.data for f in read_frames(CAPTURE)]
    products = instruments_from_products(read_http_body(CAPTURE, "/market/products"),
                                         ["BTC-USD", "ETH-USD"])
    runs = {"binance-usdm": (binance_run(usdm, USDM_BTC, FuturesParser, FUTURES_RULES),
                             len(usdm)),
            "binance-spot": (binance_run(spot, SPOT_BTC, SpotParser, SPOT_RULES), len(spot)),
            "coinbase": (coinbase_run(captured, products), len(captured))}
    times: dict[str, list[float]] = {name: [] for name in runs}
    levels: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, (run, _count) in runs.items():
            t0 = time.process_time()
            levels[name] = run()
            times[name].append(time.process_time() - t0)
    print("| venue | messages | levels (snapshots included) | us per message | us per level |")
    print("|---|---|---|---|---|")
    for name, (_run, count) in runs.items():
        median = statistics.median(times[name])
        print(f"| {name} | {count:,} | {levels[name]:,} | {median / count * 1e6:.1f} | "
              f"{median / levels[name] * 1e6:.2f} |")


if __name__ == "__main__":
    main()
