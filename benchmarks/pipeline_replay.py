"""Full-pipeline replay throughput: recording -> local exchange (its own thread, real sockets)
-> depthlens client (REST snapshot, WS diffs and trades, sync, features after every diff,
rolling state, one-second frames), in one process on 127.0.0.1.

Reports how many times real time the whole path sustains, and whether the book stayed exact
(gaps, coalesced bursts). Usage:

    .venv/bin/python benchmarks/pipeline_replay.py [--speed 400 1000 3000] [FILE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.runtime import Runtime  # noqa: E402
from config import Config  # noqa: E402
from data_ingestion.recordings import is_snapshot, read_lines  # noqa: E402

DATA = ROOT.parent / "shared/data/binance_usdm"
DEFAULT = [DATA / "hftbacktest_usdm_btcusdt_20240808.gz", DATA / "hftbacktest_usdm_ethusdt_20240808.gz"]


def recording_facts(paths: list[Path]) -> tuple[float, dict[str, int], int]:
    """Span in seconds, each symbol's last diff u, and the number of depth+trade messages."""
    import orjson

    first = last = None
    final: dict[str, int] = {}
    messages = 0
    for ns, raw in read_lines(paths):
        first = ns if first is None else first
        last = ns
        if is_snapshot(raw) or b"@bookTicker" in raw[:40]:
            continue
        messages += 1
        if b"@depth" in raw[:40]:
            data = orjson.loads(raw)["data"]
            final[data["s"]] = data["u"]
    assert first is not None and last is not None
    return (last - first) / 1e9, final, messages


async def run(paths: list[Path], speed: float, span_s: float, final: dict[str, int],
              messages: int) -> None:
    runtime = Runtime(Config(source="replay", replay_files=tuple(paths), speed=speed, port=0))
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await runtime.start()
    try:
        deadline = t0 + span_s / speed * 5 + 60
        while any(runtime.engines[s].sync.last_applied_u != u for s, u in final.items()):
            if time.perf_counter() > deadline:
                raise SystemExit(f"speed {speed}: did not reach the end of the recording")
            await asyncio.sleep(0.01)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        gaps = sum(e.sync.stats.gaps for e in runtime.engines.values())
        bursts = sum(e.counters.bursts_coalesced for e in runtime.engines.values())
        print(f"speed {speed:>6g}x: {span_s:.0f}s of market in {wall:6.2f}s wall = "
              f"{span_s / wall:6.0f}x real time, {messages / wall:7.0f} msgs/s, "
              f"CPU {cpu / wall * 100:3.0f}% of one core (both threads), gaps {gaps}, "
              f"coalesced bursts {bursts}")
    finally:
        await runtime.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--speed", nargs="+", type=float, default=[100, 400, 1000, 3000])
    args = ap.parse_args()
    span_s, final, messages = recording_facts(args.files)
    print(f"{', '.join(p.name for p in args.files)}: {span_s:.0f}s, {messages} depth+trade "
          f"messages, symbols {', '.join(final)}")
    for speed in args.speed:
        asyncio.run(run(args.files, speed, span_s, final, messages))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
