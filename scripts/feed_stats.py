"""Side-by-side feed statistics: real recordings vs the local exchange simulator.

    .venv/bin/python scripts/feed_stats.py [--venue usdm|spot|coinbase] [--seconds 300]
                                           [--seed 1] [--files FILE ...]

``--venue spot`` compares the Spot recordings (``binance_spot/``, both files of each symbol) with
the simulator in Spot's steps and flow (``SPOT_SPECS``, ``SPOT_FLOW``).

Binance: snapshot + every diff from the snapshot on (the recordings are ``@depth@0ms``, about
19 diffs/s; the simulator publishes ``@depth@100ms``, so ~10/s is the same order). Trades are the
recording's ``trade`` events and the simulator's ``aggTrade`` events.

``--venue coinbase`` compares the Advanced Trade capture (``coinbase_advanced_trade/``, 25 s of
BTC-USD and ETH-USD, replayed through depthlens' own parser and sequence machine) with the
simulator in Coinbase's steps (``COINBASE_SPECS``) and flow (``COINBASE_FLOW``), published the
way the local Coinbase server does: one ``l2_data`` update per 100 ms tick. Real updates are
counted from each product's subscription snapshot on; its ``market_trades`` snapshot (trade
history from before the book snapshot) is skipped. A real ``market_trades`` entry is one fill,
a simulated one an aggTrade (one taker's fills at one price); they rarely differ here.

Touch and levels 2-3 sizes are sampled after every diff, both sides (in base units, e.g. BTC).
Sweeps are counted from the trades alone (``feed_metrics.SweepCounter``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_ingestion.coinbase.book_sync import CoinbaseBookSync  # noqa: E402
from data_ingestion.coinbase.parser import CoinbaseParser, instruments_from_products  # noqa: E402
from data_ingestion.coinbase.recording import read_frames, read_http_body  # noqa: E402
from local_exchange.coinbase_server import COINBASE_SPECS  # noqa: E402
from local_exchange.feed_metrics import DepthSampler, FeedMetrics, SweepCounter  # noqa: E402
from local_exchange.instruments import KNOWN_SPECS, SPOT_SPECS, SymbolSpec, infer_spec  # noqa: E402
from local_exchange.market_model import (  # noqa: E402
    COINBASE_FLOW,
    SPOT_FLOW,
    FlowParams,
    SimulatedSymbol,
)
from local_exchange.recording import Recording, group_recordings, iter_messages  # noqa: E402
from marketdata.events import DepthDiff, DepthSnapshot, Trade  # noqa: E402
from orderbook.book import L2Book  # noqa: E402
from orderbook.instrument import Instrument  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
COINBASE_CAPTURE = DATA / "coinbase_advanced_trade/cryptofeed_COINBASE.jsonl.zst"
COINBASE_PRODUCTS = ["BTC-USD", "ETH-USD"]
DEFAULT_FILES = {
    "usdm": [DATA / "binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz",
             DATA / "binance_usdm/hftbacktest_usdm_ethusdt_20240808.gz"],
    "spot": [DATA / f"binance_spot/hftbacktest_spot_{s}_2024080{d}.gz"
             for s in ("btcusdt", "ethusdt") for d in (8, 9)],
    "coinbase": [COINBASE_CAPTURE],
}
SPECS: dict[str, dict[str, SymbolSpec]] = {"usdm": KNOWN_SPECS, "spot": SPOT_SPECS,
                                           "coinbase": COINBASE_SPECS}
FLOWS: dict[str, dict[str, FlowParams]] = {"usdm": {}, "spot": SPOT_FLOW,
                                           "coinbase": COINBASE_FLOW}
Stats = dict[str, float]


def recording_stats(recording: Recording, specs: dict[str, SymbolSpec]) -> Stats:
    snapshot = recording.snapshot
    if snapshot is None:
        raise SystemExit(f"{recording.symbol}: recording has no REST snapshot")
    spec = specs.get(recording.symbol) or infer_spec(
        recording.symbol, snapshot["bids"][0][0], snapshot["bids"][0][1])
    parse_p, parse_q = spec.instrument.prices.parse, spec.instrument.quantities.parse
    metrics = FeedMetrics(spec.instrument.tick_units)
    metrics.on_snapshot([(parse_p(p), parse_q(q)) for p, q in snapshot["bids"]],
                        [(parse_p(p), parse_q(q)) for p, q in snapshot["asks"]])
    sampler, sweeps = DepthSampler(metrics, spec.instrument.qty_scale), SweepCounter()
    first_ns = last_ns = None
    for msg in iter_messages(recording):
        first_ns = first_ns or msg.local_ns
        last_ns = msg.local_ns
        data = msg.data
        if data.get("e") == "depthUpdate" and data["u"] >= snapshot["lastUpdateId"]:
            metrics.on_diff([(parse_p(p), parse_q(q)) for p, q in data["b"]],
                            [(parse_p(p), parse_q(q)) for p, q in data["a"]], data["E"])
            sampler.sample()
        elif data.get("e") in ("trade", "aggTrade"):
            metrics.on_trade(parse_q(data["q"]))
            # m: the buyer was the maker, so the seller took
            sweeps.on_trade(not data["m"], int(data["T"]), parse_p(data["p"]))
    duration_s = ((last_ns or 0) - (first_ns or 0)) / 1e9
    return metrics.summary(duration_s) | sampler.rows(sweeps, duration_s)


class CaptureProduct:
    """One product's statistics from a Coinbase capture (a ``BookObserver``): from its
    subscription snapshot on, to the capture's last frame."""

    def __init__(self, instrument: Instrument) -> None:
        self.metrics = FeedMetrics(instrument.tick_units)
        self.sampler = DepthSampler(self.metrics, instrument.qty_scale)
        self.sweeps = SweepCounter()
        self.start_ns: int | None = None
        self.start_ms = 0

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        if self.start_ns is not None:  # a resubscription would splice two windows together
            raise SystemExit(f"{snapshot.symbol}: second snapshot in the capture")
        self.start_ns, self.start_ms = snapshot.receive_ts_ns, snapshot.exchange_ts_ms
        self.metrics.on_snapshot(snapshot.bids, snapshot.asks)

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        self.metrics.on_diff(diff.bids, diff.asks, diff.exchange_ts_ms)
        self.sampler.sample()

    def on_book_lost(self) -> None:
        raise SystemExit("coinbase capture: sequence gap or crossed book; stats would be wrong")

    def on_trade(self, trade: Trade) -> None:
        # Before the book snapshot: the subscription's trade history, outside the window.
        if self.start_ns is None or trade.exchange_ts_ms < self.start_ms:
            return
        self.metrics.on_trade(trade.qty)
        self.sweeps.on_trade(trade.taker_side == "buy", trade.exchange_ts_ms, trade.price)

    def stats(self, last_ns: int) -> Stats:
        if self.start_ns is None:
            raise SystemExit("coinbase capture: a product never got its snapshot")
        duration_s = (last_ns - self.start_ns) / 1e9
        return self.metrics.summary(duration_s) | self.sampler.rows(self.sweeps, duration_s)


def coinbase_capture_stats(path: Path,
                           products: list[str] = COINBASE_PRODUCTS) -> dict[str, Stats]:
    """Each product's statistics from a cryptofeed Advanced Trade capture, replayed through
    depthlens' parser and ``CoinbaseBookSync`` (so a gap or crossed book stops the script)."""
    instruments = instruments_from_products(read_http_body(path, "/market/products"), products)
    parser = CoinbaseParser(instruments)
    observers = {p: CaptureProduct(instruments[p]) for p in products}
    sync = CoinbaseBookSync({p: L2Book() for p in products}, lambda _: None, observers)
    last_ns = 0
    for frame in read_frames(path):
        sync.on_frame(parser.parse(frame.data, frame.receive_ns))
        last_ns = frame.receive_ns
    return {p: observer.stats(last_ns) for p, observer in observers.items()}


def simulator_stats(spec: SymbolSpec, flow: FlowParams | None, seconds: float,
                    seed: int) -> tuple[Stats, float]:
    """Run the model offline (no sockets, simulated clock) for ``seconds``, one publish per
    100 ms tick as both local servers do."""
    sim = SimulatedSymbol(spec, seed, flow)
    parse_p, parse_q = spec.instrument.prices.parse, spec.instrument.quantities.parse
    metrics = FeedMetrics(spec.instrument.tick_units)
    book = sim.publisher.published_book()
    metrics.on_snapshot(book.bids, book.asks)
    sampler, sweeps = DepthSampler(metrics, spec.instrument.qty_scale), SweepCounter()
    dt, now_ns = 0.1, 1_700_000_000_000_000_000
    started = time.process_time()
    for _ in range(int(seconds / dt)):
        now_ns += int(dt * 1e9)
        out = sim.step(now_ns, dt)
        if out.depth is not None:
            metrics.on_diff([(parse_p(p), parse_q(q)) for p, q in out.depth["b"]],
                            [(parse_p(p), parse_q(q)) for p, q in out.depth["a"]],
                            out.depth["E"])
            sampler.sample()
        for trade in out.agg_trades:
            metrics.on_trade(parse_q(trade["q"]))
            sweeps.on_trade(not trade["m"], int(trade["T"]), parse_p(trade["p"]))
    cpu = time.process_time() - started
    return metrics.summary(seconds) | sampler.rows(sweeps, seconds), cpu / seconds


def real_columns(venue: str, files: list[Path]) -> dict[str, Stats]:
    """The real side, keyed by symbol (product)."""
    if venue == "coinbase":
        stats: dict[str, Stats] = {}
        for path in files:
            stats |= coinbase_capture_stats(path)
        return stats
    return {r.symbol: recording_stats(r, SPECS[venue]) for r in group_recordings(files)}


def _cell(value: float) -> str:
    # Trade sizes are often well under 0.001 BTC: keep significant digits there.
    return f"{value:>14.3f}" if value == 0 or abs(value) >= 0.1 else f"{value:>14.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venue", choices=sorted(SPECS), default="usdm")
    parser.add_argument("--files", nargs="+", type=Path, default=None,
                        help="recordings (default: the venue's two symbols)")
    parser.add_argument("--seconds", type=float, default=300.0, help="simulated seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    specs, flows = SPECS[args.venue], FLOWS[args.venue]
    columns: dict[str, Stats] = {}
    cpu_notes = []
    for symbol, stats in real_columns(args.venue, args.files or DEFAULT_FILES[args.venue]).items():
        columns[f"{symbol} real"] = stats
        if symbol in specs:
            stats, cpu_share = simulator_stats(specs[symbol], flows.get(symbol), args.seconds,
                                               args.seed)
            columns[f"{symbol} sim"] = stats
            cpu_notes.append(f"{symbol}: model+publisher CPU = {cpu_share:.2%} of one "
                             "core at 1x (offline, includes stats bookkeeping)")
    names = list(columns)
    rows = list(next(iter(columns.values())))
    print(f"| {'metric':<23} | " + " | ".join(f"{n:>14}" for n in names) + " |")
    print(f"|{'-' * 25}|" + "|".join("-" * 16 for _ in names) + "|")
    for row in rows:
        cells = " | ".join(_cell(columns[n][row]) for n in names)
        print(f"| {row:<23} | {cells} |")
    if args.venue == "coinbase":
        print(f"NOTE: the Coinbase capture is only ~25 s per product (sim: {args.seconds:g} s):"
              " its rates and medians are rough and 'mid range' covers different spans.\n"
              "NOTE: Coinbase sends ~16 l2_data updates/s per product, the local server at most"
              " 10 (one per 100 ms tick): compare level changes/s, not updates/s.")
    for note in cpu_notes:
        print(note)


if __name__ == "__main__":
    main()
