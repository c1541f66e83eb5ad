"""Side-by-side feed statistics: real Binance recordings vs the local exchange simulator.

    .venv/bin/python scripts/feed_stats.py [--venue usdm|spot] [--seconds 300] [--seed 1]
                                           [--files FILE ...]

``--venue spot`` compares the Spot recordings (``binance_spot/``, both files of each symbol) with
the simulator in Spot's steps and flow (``SPOT_SPECS``, ``SPOT_FLOW``).

Real side: snapshot + every diff from the snapshot on (the recordings are ``@depth@0ms``, about
19 diffs/s; the simulator publishes ``@depth@100ms``, so ~10/s is the same order). Trades are the
recording's ``trade`` events and the simulator's ``aggTrade`` events.

Touch and levels 2-3 sizes are sampled after every diff, both sides (in base units, e.g. BTC).
Sweeps are counted from the trades alone, independently of depthlens' detector: a burst of one
taker side's trades within ``SWEEP_WINDOW_MS`` of the burst's first trade that prints at
>= ``SWEEP_LEVELS`` distinct prices counts once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local_exchange.feed_metrics import FeedMetrics  # noqa: E402
from local_exchange.instruments import KNOWN_SPECS, SPOT_SPECS, SymbolSpec, infer_spec  # noqa: E402
from local_exchange.market_model import SPOT_FLOW, FlowParams, SimulatedSymbol  # noqa: E402
from local_exchange.recording import Recording, group_recordings, iter_messages  # noqa: E402

SWEEP_WINDOW_MS = 200
SWEEP_LEVELS = 3

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DEFAULT_FILES = {
    "usdm": [DATA / "binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz",
             DATA / "binance_usdm/hftbacktest_usdm_ethusdt_20240808.gz"],
    "spot": [DATA / f"binance_spot/hftbacktest_spot_{s}_2024080{d}.gz"
             for s in ("btcusdt", "ethusdt") for d in (8, 9)],
}
SPECS: dict[str, dict[str, SymbolSpec]] = {"usdm": KNOWN_SPECS, "spot": SPOT_SPECS}
FLOWS: dict[str, dict[str, FlowParams]] = {"usdm": {}, "spot": SPOT_FLOW}


class SweepCounter:
    """Bursts of one taker side taking >= ``SWEEP_LEVELS`` prices within ``SWEEP_WINDOW_MS``."""

    def __init__(self) -> None:
        self.sweeps = 0
        # per taker side: (burst start ms, distinct prices, already counted)
        self._burst: dict[bool, tuple[int, set[str], bool]] = {}

    def on_trade(self, data: dict) -> None:
        side, ts, price = bool(data["m"]), int(data["T"]), str(data["p"])
        burst = self._burst.get(side)
        if burst is None or ts - burst[0] > SWEEP_WINDOW_MS:
            burst = (ts, set(), False)
        start, prices, counted = burst
        prices.add(price)
        if not counted and len(prices) >= SWEEP_LEVELS:
            self.sweeps += 1
            counted = True
        self._burst[side] = (start, prices, counted)


class DepthSampler:
    """Touch and levels 2-3 sizes of the metrics' book, both sides, after every diff."""

    def __init__(self, metrics: FeedMetrics, qty_scale: int) -> None:
        self.metrics, self.scale = metrics, qty_scale
        self.touch: list[int] = []
        self.behind: list[int] = []

    def sample(self) -> None:
        bids, asks = self.metrics.bids, self.metrics.asks
        if len(bids) < 3 or len(asks) < 3:
            return
        self.touch += [bids.peekitem(-1)[1], asks.peekitem(0)[1]]
        self.behind += [bids.peekitem(-2)[1], bids.peekitem(-3)[1],
                        asks.peekitem(1)[1], asks.peekitem(2)[1]]

    def rows(self, sweeps: SweepCounter, duration_s: float) -> dict[str, float]:
        return {
            "touch size median": statistics.median(self.touch or [0]) / self.scale,
            "levels 2-3 median": statistics.median(self.behind or [0]) / self.scale,
            "sweeps/h (>=3 px 200ms)": sweeps.sweeps * 3600 / max(duration_s, 1e-9),
        }


def recording_stats(recording: Recording, specs: dict[str, SymbolSpec]) -> dict[str, float]:
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
            metrics.on_trade()
            sweeps.on_trade(data)
    duration_s = ((last_ns or 0) - (first_ns or 0)) / 1e9
    return metrics.summary(duration_s) | sampler.rows(sweeps, duration_s)


def simulator_stats(spec: SymbolSpec, flow: FlowParams | None, seconds: float,
                    seed: int) -> tuple[dict[str, float], float]:
    """Run the model offline (no sockets, simulated clock) for ``seconds``."""
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
            metrics.on_trade()
            sweeps.on_trade(trade)
    cpu = time.process_time() - started
    return metrics.summary(seconds) | sampler.rows(sweeps, seconds), cpu / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venue", choices=sorted(SPECS), default="usdm")
    parser.add_argument("--files", nargs="+", type=Path, default=None,
                        help="recordings (default: the venue's two symbols)")
    parser.add_argument("--seconds", type=float, default=300.0, help="simulated seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    specs, flows = SPECS[args.venue], FLOWS[args.venue]
    columns: dict[str, dict[str, float]] = {}
    cpu_notes = []
    for recording in group_recordings(args.files or DEFAULT_FILES[args.venue]):
        columns[f"{recording.symbol} real"] = recording_stats(recording, specs)
        if recording.symbol in specs:
            stats, cpu_share = simulator_stats(specs[recording.symbol],
                                               flows.get(recording.symbol), args.seconds,
                                               args.seed)
            columns[f"{recording.symbol} sim"] = stats
            cpu_notes.append(f"{recording.symbol}: model+publisher CPU = {cpu_share:.2%} of one "
                             "core at 1x (offline, includes stats bookkeeping)")
    names = list(columns)
    rows = list(next(iter(columns.values())))
    print(f"| {'metric':<22} | " + " | ".join(f"{n:>14}" for n in names) + " |")
    print(f"|{'-' * 24}|" + "|".join("-" * 16 for _ in names) + "|")
    for row in rows:
        cells = " | ".join(f"{columns[n][row]:>14.3f}" for n in names)
        print(f"| {row:<22} | {cells} |")
    for note in cpu_notes:
        print(note)


if __name__ == "__main__":
    main()
