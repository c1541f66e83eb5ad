"""What each liquidity-event detector costs on the hot path, on a real recording.

Runs the production path of ``replay_throughput.py`` (parser, sync machine, rolling state) with
all detectors, with none (the orchestrator and six no-ops), with each one replaced by a no-op,
and with the detectors off, interleaved round by round (the machine is shared and noisy), and
prints the median CPU time and the microseconds per event each variant adds or saves.

    .venv/bin/python benchmarks/detector_cost.py [FILE ...] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.replay_throughput import DEFAULT, load, run_depthlens  # noqa: E402
from config import Config  # noqa: E402
from features.liquidity import detector_set  # noqa: E402
from features.liquidity.params import DetectorParams  # noqa: E402

NAMES = ("wall", "sweep", "absorption", "layering", "iceberg", "exhaustion")


class NoOp:
    def on_reset(self, ctx: Any) -> None: ...
    def on_update(self, ctx: Any, diff: Any) -> None: ...
    def on_trade(self, ctx: Any, trade: Any) -> None: ...
    def on_second(self, ctx: Any) -> None: ...


def variants() -> dict[str, tuple[str, ...] | None]:
    """Variant name -> detectors replaced by no-ops (None: detectors off)."""
    out: dict[str, tuple[str, ...] | None] = {"all": (), "no-ops": NAMES}
    out.update({f"-{name}": (name,) for name in NAMES})
    out["off"] = None
    return out


def run(lines: Any, skip: tuple[str, ...] | None) -> float:
    build = detector_set.build_detectors
    if skip is None:
        config = Config(detectors=DetectorParams(enabled=False))
    else:
        config = Config()
        detector_set.build_detectors = lambda params: [  # type: ignore[assignment]
            NoOp() if NAMES[i] in skip else d for i, d in enumerate(build(params))]
    try:
        t0 = time.process_time()
        run_depthlens(lines, config)
        return time.process_time() - t0
    finally:
        detector_set.build_detectors = build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", type=Path, default=[DEFAULT])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    lines, span_s = load(args.files)
    cases = variants()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, skip in cases.items():
            times[name].append(run(lines, skip))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    n = len(lines)
    print(f"{n} events over {span_s:.0f} s, median of {args.rounds} interleaved rounds")
    for name, t in med.items():
        print(f"{name:>12}: {t:.3f} s CPU  {1e6 * (t - med['off']) / n:6.2f} us/event over off  "
              f"{1e6 * (med['all'] - t) / n:6.2f} us/event saved vs all")


if __name__ == "__main__":
    main()
