"""Parse + apply throughput on a real Binance futures recording, in one process, one core.

Measures, on the same in-memory lines and in the same run (machines here are shared and noisy,
so compare the ratio rather than one absolute time):

* ``lean``: a reference loop - orjson parsing, a dict plus a sorted price list per side, top-10
  features after every diff - the yardstick of the developers' guide (about 1200x real time);
* ``depthlens``: the production path - ``FuturesParser`` (msgspec, exact integer units),
  ``BookSync`` (every update-id rule), ``L2Book`` (a dict plus a sorted price list per side)
  and ``SymbolState.on_book_update`` (top-N features and OFI after every diff), plus trades
  into the rolling state, with all six liquidity-event detectors on (the default);
* ``no-detect``: the same with the detectors off, to show what they cost.

Only the streams the live client subscribes to (depth and trades) are timed; bookTicker lines are
skipped before parsing, as the client never receives them. Usage:

    .venv/bin/python benchmarks/replay_throughput.py [FILE ...] [--rounds 7]
"""

from __future__ import annotations

import argparse
import bisect
import resource
import statistics
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import Config  # noqa: E402
from data_ingestion.binance.parser import FuturesParser  # noqa: E402
from marketdata.events import DepthDiff, Trade  # noqa: E402
from data_ingestion.recordings import is_snapshot, read_lines  # noqa: E402
from features.liquidity.params import DetectorParams  # noqa: E402
from orderbook.book import L2Book  # noqa: E402
from orderbook.instrument import Instrument  # noqa: E402
from orderbook.sync import BookSync, SyncState  # noqa: E402
from state.symbol_state import SymbolState  # noqa: E402

DEFAULT = ROOT.parent / "shared/data/binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz"
INSTRUMENTS = {
    "BTCUSDT": Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3),
    "ETHUSDT": Instrument.from_steps("ETHUSDT", "0.01", "0.001", 2, 3),
}


def load(paths: list[Path]) -> tuple[list[tuple[int, bytes]], float]:
    lines = [(ns, raw) for ns, raw in read_lines(paths) if b"@bookTicker" not in raw[:40]]
    span_s = (lines[-1][0] - lines[0][0]) / 1e9
    return lines, span_s


def run_depthlens(lines: list[tuple[int, bytes]], config: Config = Config()) -> tuple[int, int]:
    parser = FuturesParser(INSTRUMENTS)
    symbol = next(orjson.loads(r)["data"]["s"] for _, r in lines if not is_snapshot(r))
    book = L2Book()
    state = SymbolState.from_config(INSTRUMENTS[symbol], book, config)
    sync = BookSync(symbol, book, lambda: None, state)
    events = 0
    for ns, raw in lines:
        if is_snapshot(raw):
            sync.on_snapshot(parser.parse_snapshot(symbol, raw, ns))
            continue
        event = parser.parse_stream(raw, ns)
        if type(event) is DepthDiff:
            sync.on_diff(event)
        elif type(event) is Trade:
            state.on_trade(event)
        events += 1
    assert sync.state is SyncState.LIVE and sync.stats.gaps == 0
    return events, sync.stats.applied


def run_without_detectors(lines: list[tuple[int, bytes]]) -> tuple[int, int]:
    return run_depthlens(lines, Config(detectors=DetectorParams(enabled=False)))


def run_lean(lines: list[tuple[int, bytes]]) -> tuple[int, int]:
    """The yardstick: no validation, float-free string->int keys, naive sync."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    bid_prices: list[int] = []
    ask_prices: list[int] = []
    last_u = None
    applied = events = 0
    acc = 0.0

    def upd(side: dict[int, int], prices: list[int], levels: list[list[str]]) -> None:
        for p, q in levels:
            price = int(p.replace(".", ""))
            qty = int(q.replace(".", ""))
            if qty:
                if price not in side:
                    bisect.insort(prices, price)
                side[price] = qty
            elif side.pop(price, None) is not None:
                del prices[bisect.bisect_left(prices, price)]

    for _, raw in lines:
        doc = orjson.loads(raw)
        if "lastUpdateId" in doc:
            bids = {int(p.replace(".", "")): int(q.replace(".", "")) for p, q in doc["bids"]}
            asks = {int(p.replace(".", "")): int(q.replace(".", "")) for p, q in doc["asks"]}
            bid_prices, ask_prices = sorted(bids), sorted(asks)
            last_u = doc["lastUpdateId"]
            continue
        events += 1
        data = doc["data"]
        if data["e"] != "depthUpdate" or last_u is None or data["u"] < last_u:
            continue
        upd(bids, bid_prices, data["b"])
        upd(asks, ask_prices, data["a"])
        last_u = data["u"]
        applied += 1
        top_b = [(p, bids[p]) for p in bid_prices[-10:]]
        top_a = [(p, asks[p]) for p in ask_prices[:10]]
        bq, aq = sum(q for _, q in top_b), sum(q for _, q in top_a)
        acc += (bq - aq) / (bq + aq) + (top_b[-1][0] + top_a[0][0]) / 2
    return events, applied


def measure(runs: dict[str, object], lines, span_s: float, rounds: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median CPU time per loop, the loops interleaved round by round so that the machine's
    slow and fast moments fall on both alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    counts: dict[str, tuple[int, int]] = {}
    for _ in range(rounds):
        for name, fn in runs.items():
            t0 = time.process_time()
            counts[name] = fn(lines)  # type: ignore[operator]
            times[name].append(time.process_time() - t0)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, median in medians.items():
        events, applied = counts[name]
        print(f"{name:>10}: {events:7d} events ({applied} diffs applied) in {median:.3f}s CPU "
              f"(median of {rounds}) = {events / median:9.0f} events/s = "
              f"{span_s / median:7.0f}x real time")
    return medians


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", type=Path, default=[DEFAULT])
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    lines, span_s = load(args.files)
    print(f"{', '.join(p.name for p in args.files)}: {len(lines)} depth+trade lines over "
          f"{span_s:.0f}s (read and gunzip: {time.perf_counter() - t0:.2f}s, not timed below)")
    medians = measure({"lean": run_lean, "depthlens": run_depthlens,
                       "no-detect": run_without_detectors}, lines, span_s, args.rounds)
    lean = medians["lean"]
    print(f"depthlens / lean time ratio: {medians['depthlens'] / lean:.2f} "
          f"(throughput {lean / medians['depthlens']:.2f}x the lean loop, six detectors on)")
    print(f"no-detect / lean time ratio: {medians['no-detect'] / lean:.2f} "
          f"(throughput {lean / medians['no-detect']:.2f}x the lean loop, detectors off)")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {rss_mb:.0f} MB (includes the recording held in memory)")


if __name__ == "__main__":
    main()
