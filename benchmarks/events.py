"""Liquidity-event scoring: recall, precision, false alarms per hour and latency per type.

Runs the real client path - ``FuturesParser`` -> ``BookSync`` -> ``SymbolState`` with
``LiquidityDetectors`` - over exact wire payloads, reads the events from the detectors' log and
scores them (``benchmarks/event_matching.py``):

* injected scenarios on the synthetic flow (several seeds) and on real recordings, each run
  twice - with and without injections, same seed - so natural background events are not
  counted as errors (needs ``local_exchange/offline.py``);
* the real recordings WITHOUT injection: events per hour per type (what a user sees).

Prints Markdown tables (pasted into the README). Usage:

    .venv/bin/python benchmarks/events.py [--quick] [--seeds N] [--minutes M]

Default: 3 seeds x 8 minutes of synthetic flow on BTCUSDT and ETHUSDT plus the three real
recordings (under 10 minutes on a 2-core machine); ``--quick``: one seed, one recording.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.event_matching import (
    MatchRule,
    TypeScore,
    combine,
    detection_from_dict,
    rate_table,
    score_run,
    scoring_table,
    truth_from_dict,
)
from config import Config
from data_ingestion.binance.parser import FuturesParser
from data_ingestion.events import DepthDiff, Trade
from data_ingestion.recordings import is_snapshot, read_lines
from features.liquidity.event import LiquidityEvent
from features.liquidity.params import DetectorParams
from local_exchange.instruments import KNOWN_SPECS
from local_exchange.offline import OfflineMarket
from local_exchange.scenarios import Scenario, parse_scenarios
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.sync import BookSync
from state.symbol_state import SymbolState

DATA = ROOT.parent / "shared/data/binance_usdm"
RECORDINGS: dict[str, list[Path]] = {
    "BTCUSDT 2024-08-08": [DATA / "hftbacktest_usdm_btcusdt_20240808.gz"],
    "ETHUSDT 2024-08-08": [DATA / "hftbacktest_usdm_ethusdt_20240808.gz"],
    "BTCUSDT 2024-07-18/19": [DATA / "hftbacktest_usdm_btcusdt_20240718.gz",
                              DATA / "hftbacktest_usdm_btcusdt_20240719.gz"],
}
# The venue's filters for the recorded symbols (what exchangeInfo says).
INSTRUMENTS = {
    "BTCUSDT": Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3),
    "ETHUSDT": Instrument.from_steps("ETHUSDT", "0.01", "0.001", 2, 3),
}


@dataclass
class RunResult:
    """What one pass of the pipeline produced."""

    symbol: str
    events: list[LiquidityEvent]
    gaps: int
    diffs_applied: int
    trades: int
    first_ts: float  # venue seconds of the first and last message
    last_ts: float

    @property
    def hours(self) -> float:
        return max(0.0, self.last_ts - self.first_ts) / 3600.0

    def counts(self) -> Counter[str]:
        return Counter(e.type for e in self.events)


@dataclass
class Pipeline:
    """One symbol's client path, fed wire payloads synchronously (no sockets, no clock: the
    exact bytes a socket would deliver, in order)."""

    instrument: Instrument
    params: DetectorParams = field(default_factory=DetectorParams)

    def __post_init__(self) -> None:
        self.parser = FuturesParser({self.instrument.symbol: self.instrument})
        self.book = L2Book()
        config = Config(detectors=self.params)
        self.state = SymbolState.from_config(self.instrument, self.book, config)
        assert self.state.detectors is not None, "detectors are disabled in the params"
        self.sync = BookSync(self.instrument.symbol, self.book, lambda: None, self.state)
        self.trades = 0
        self.first_ms: int | None = None
        self.last_ms = 0

    def snapshot(self, receive_ns: int, body: bytes) -> None:
        self.sync.on_snapshot(self.parser.parse_snapshot(self.instrument.symbol, body,
                                                         receive_ns))

    def message(self, receive_ns: int, frame: bytes) -> None:
        event = self.parser.parse_stream(frame, receive_ns)
        if type(event) is DepthDiff:
            self._saw(event.exchange_ts_ms)
            self.sync.on_diff(event)
        elif type(event) is Trade:
            self._saw(event.exchange_ts_ms)
            self.trades += 1
            self.state.on_trade(event)

    def _saw(self, ts_ms: int) -> None:
        if self.first_ms is None:
            self.first_ms = ts_ms
        self.last_ms = max(self.last_ms, ts_ms)

    def result(self) -> RunResult:
        detectors = self.state.detectors
        assert detectors is not None
        return RunResult(self.instrument.symbol, list(detectors.log), self.sync.stats.gaps,
                         self.sync.stats.applied, self.trades,
                         (self.first_ms or 0) / 1000.0, self.last_ms / 1000.0)


def symbol_of(lines: Iterable[tuple[int, bytes]]) -> str:
    """The symbol of a recording (from its first stream message)."""
    import orjson
    for _, raw in lines:
        if not is_snapshot(raw):
            return str(orjson.loads(raw)["data"]["s"])
    raise ValueError("no stream message in the recording")


def run_recording(paths: list[Path], params: DetectorParams | None = None) -> RunResult:
    """A real recording, untouched, through the pipeline (its one snapshot line in place)."""
    pipeline = Pipeline(INSTRUMENTS[symbol_of(read_lines(paths))], params or DetectorParams())
    for ns, raw in read_lines(paths):
        if is_snapshot(raw):
            pipeline.snapshot(ns, raw)
        elif b"@bookTicker" not in raw[:40]:  # the live client never subscribes to it
            pipeline.message(ns, raw)
    return pipeline.result()


# ---- injected scenarios --------------------------------------------------------------------

# "Clearly above threshold": >= 2x each default threshold's size and duration (wall k = 3 and
# 5 s; sweep 3 levels; absorption 10 s window; layering 3 layers of 3x; iceberg 3 refills;
# exhaustion depth to <= 40 %), one scenario at a time, alternating sides. Walls and layers sit
# far enough from the touch (20 and 10 ticks) that the flow rarely trades them in their life.
GENUINE: tuple[dict[str, object], ...] = (
    {"type": "wall", "distance_ticks": 20, "size_multiple": 8.0, "duration_s": 12.0},
    {"type": "sweep", "levels": 6},
    {"type": "absorption", "duration_s": 20.0, "budget_multiple": 6.0},
    {"type": "layering", "layers": 6, "distance_ticks": 10, "approach_ticks": 4,
     "size_multiple": 8.0, "duration_s": 15.0},
    {"type": "iceberg", "total_multiple": 20.0, "peak_multiple": 1.0},
    {"type": "exhaustion", "duration_s": 20.0, "thin_to": 0.2},
)
# Hard negatives (the scenarios module's presets: a 2x wall, one big print at one price, trades
# into a level that is not refilled, an honest ladder that gets filled, thinning that
# recovers), plus a 10x wall living 1 s.
DECOYS: tuple[dict[str, object], ...] = (
    {"type": "wall", "decoy": True, "distance_ticks": 20, "duration_s": 12.0},
    {"type": "wall", "decoy": True, "distance_ticks": 20, "size_multiple": 10.0,
     "duration_s": 1.0},
    {"type": "sweep", "decoy": True},
    {"type": "absorption", "decoy": True, "duration_s": 20.0},
    {"type": "layering", "decoy": True, "layers": 6, "size_multiple": 8.0},
    {"type": "iceberg", "decoy": True},
    {"type": "exhaustion", "decoy": True, "duration_s": 20.0},
)
WARMUP_S = 45.0   # the level-size baseline needs 6 samples 5 s apart first
SPACING_S = 30.0  # one scenario at a time: the longest lasts 20 s


def schedule(duration_s: float, rotate: int) -> list[Scenario]:
    """Scenarios for a run of ``duration_s``: genuine and decoy entries interleaved, the list
    rotated by ``rotate`` so that short runs still cover every type across cases."""
    mixed = [e for pair in zip(GENUINE, DECOYS, strict=False) for e in pair] + list(DECOYS[6:])
    mixed = mixed[rotate % len(mixed):] + mixed[:rotate % len(mixed)]
    entries = []
    at, i = WARMUP_S, 0
    while at + SPACING_S <= duration_s:
        entry = dict(mixed[i % len(mixed)])
        entry.update(at_s=at, side="bid" if i % 2 == 0 else "ask", id=f"s{i + 1}")
        entries.append(entry)
        at += SPACING_S
        i += 1
    return parse_scenarios(entries, "benchmarks/events.py")


@dataclass(frozen=True)
class Case:
    name: str
    symbol: str
    seed: int
    duration_s: float = 0.0                 # synthetic flow only
    files: tuple[Path, ...] = ()            # a real recording


def run_offline(case: Case, scenarios: list[Scenario],
                params: DetectorParams | None = None) -> tuple[RunResult, list[dict]]:
    """One pass of the offline market (``local_exchange/offline.py``) through the pipeline."""
    if case.files:
        market = OfflineMarket(replay_files=list(case.files), seed=case.seed,
                               scenarios=scenarios)
    else:
        market = OfflineMarket((case.symbol,), seed=case.seed, duration_s=case.duration_s,
                               scenarios=scenarios)
    pipeline = Pipeline(KNOWN_SPECS[case.symbol].instrument, params or DetectorParams())
    pipeline.snapshot(0, market.snapshot(case.symbol))
    for receive_ns, raw in market.run():
        pipeline.message(receive_ns, raw)
    truth = [t for t in market.truth() if t.get("symbol", case.symbol) == case.symbol]
    return pipeline.result(), truth


@dataclass
class CaseScore:
    scores: dict[str, TypeScore]
    background: RunResult
    not_shown: list[str]  # scenarios the market could not inject (no start time): their types


def score_case(case: Case, rotate: int) -> CaseScore:
    """The case with and without injections (same seed) and the matched scores."""
    plain, _ = run_offline(case, [])
    duration = case.duration_s or plain.hours * 3600
    injected, truth = run_offline(case, schedule(duration, rotate))
    shown = [t for t in truth if t.get("start_ts") is not None]
    tick = KNOWN_SPECS[case.symbol].instrument.tick_units / \
        KNOWN_SPECS[case.symbol].instrument.price_scale
    scores = score_run([detection_from_dict(e.to_dict()) for e in injected.events],
                       [truth_from_dict(t) for t in shown],
                       [detection_from_dict(e.to_dict()) for e in plain.events],
                       injected.hours, MatchRule(tick=tick))
    return CaseScore(scores, plain, [str(t["type"]) for t in truth
                                     if t.get("start_ts") is None])


# ---- the command ----------------------------------------------------------------------------

def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cases(quick: bool, seeds: int, minutes: float) -> tuple[list[Case], list[Case]]:
    symbols = ("BTCUSDT",) if quick else ("BTCUSDT", "ETHUSDT")
    synthetic = [Case(f"sim {sym} seed {seed}", sym, seed, duration_s=minutes * 60)
                 for seed in range(1, seeds + 1) for sym in symbols]
    names = list(RECORDINGS)[:1] if quick else list(RECORDINGS)
    real = [Case(name, "ETHUSDT" if "ETH" in name else "BTCUSDT", 1,
                 files=tuple(RECORDINGS[name])) for name in names]
    return synthetic, real


def run_all(group: list[Case], offset: int) -> tuple[dict[str, TypeScore], list[CaseScore]]:
    done = []
    for i, case in enumerate(group):
        t0 = time.perf_counter()
        result = score_case(case, offset + i)
        done.append(result)
        hits = sum(s.hits for s in result.scores.values())
        truths = sum(s.truths for s in result.scores.values())
        progress(f"{case.name}: {hits}/{truths} injected events found, "
                 f"{sum(s.false_alarms for s in result.scores.values())} false alarms "
                 f"({time.perf_counter() - t0:.0f} s)")
    return combine(r.scores for r in done), done


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 seed of 5 minutes on BTCUSDT, one recording (about a minute)")
    ap.add_argument("--seeds", type=int, default=None, help="synthetic seeds (default 3)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="synthetic run length (default 8)")
    args = ap.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    minutes = args.minutes or (5.0 if args.quick else 8.0)
    synthetic, real = cases(args.quick, seeds, minutes)
    t0 = time.perf_counter()
    progress(f"{len(synthetic)} synthetic and {len(real)} real cases, each run with and "
             "without injections")
    sim_total, sim_runs = run_all(synthetic, 0)
    real_total, real_runs = run_all(real, len(synthetic))
    print(f"### Synthetic flow with injections ({seeds} seed(s) x {minutes:g} min, "
          f"{', '.join(sorted({c.symbol for c in synthetic}))})\n")
    print(scoring_table(sim_total))
    print("\n### Real recordings with injections\n")
    print(scoring_table(real_total))
    print("\n### Real recordings without injection: events per hour (count)\n")
    print(rate_table({c.name: dict(r.background.counts()) for c, r in zip(real, real_runs)},
                     {c.name: r.background.hours for c, r in zip(real, real_runs)}))
    not_shown = Counter(t for r in sim_runs + real_runs for t in r.not_shown)
    print(f"\nMatching: same side, price within 2 ticks (range overlap for sweep and layering), "
          f"time collar 2 s; exhaustion only before its breakout. Scenarios not injected: "
          f"{dict(not_shown) or 'none'}. Wall time {time.perf_counter() - t0:.0f} s.")


if __name__ == "__main__":
    main()
