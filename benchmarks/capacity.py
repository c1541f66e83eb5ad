"""How many USDT-M markets at BTCUSDT-like rates one depthlens process keeps live, and at what
event-to-frame latency and CPU share.

The markets are clones of the real BTCUSDT 2024-08-08 recording (about 19 depth diffs and 60
trades a second; bookTicker lines dropped, as the client never subscribes to them), renamed
CAP000USDT, CAP001USDT, ... and replayed at real speed by the local exchange in a separate
process (its own core: ``--serve``), so it does not share the client's. The client is the whole
depthlens runtime (REST snapshots, sockets, sync, features, the six detectors, one-second
frames) in this process, pointed at it as at Binance (``--source live``).

For each market count: start the exchange, start the runtime, wait until every book is live,
then measure for ``--seconds``. Event-to-frame latency has two parts, both measured: how long a
received diff waits until it is applied (every diff of every market), and how long after its
tick the last market's frame of that tick is built (every tick: frames are cut one market after
another). Their p99s add up to the reported event-to-frame p99 (a frame's own ``latency_ms``
would also count the recording's quiet moments, when no event is late). Also reported: markets
live, the client's CPU share of one core, the longest engine queue, gaps, and the exchange's CPU
share (if it nears 100 % the setup, not the client, is the limit). Usage:

    .venv/bin/python benchmarks/capacity.py [--markets 5 10 20 40 60] [--seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.runtime import Runtime  # noqa: E402
from config import Config  # noqa: E402
from marketdata.events import DepthDiff  # noqa: E402
from tests.browser_support import free_port  # noqa: E402

SOURCE = ROOT.parent / "shared/data/binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz"
CLONES = Path("/tmp/depthlens-capacity")
LATENCY_GOAL_MS = 250.0


def clone_name(i: int) -> str:
    return f"CAP{i:03d}USDT"


def make_clones(count: int) -> list[Path]:
    """The recording renamed ``count`` times (cached in /tmp; gzip level 1, bookTicker out)."""
    CLONES.mkdir(exist_ok=True)
    wanted = [CLONES / f"{clone_name(i)}.gz" for i in range(count)]
    missing = [p for p in wanted if not p.exists()]
    if missing:
        with gzip.open(SOURCE, "rb") as handle:
            lines = [line for line in handle if b"@bookTicker" not in line[:80]]
        body = b"".join(lines)
        for path in missing:
            name = path.stem
            renamed = body.replace(b'"s":"BTCUSDT"', b'"s":"' + name.encode() + b'"') \
                .replace(b"btcusdt@", name.lower().encode() + b"@")
            with gzip.open(path, "wb", compresslevel=1) as out:
                out.write(renamed)
    return wanted


def serve(port: int, files: list[str]) -> None:
    """``--serve``: the local exchange replaying ``files`` on 127.0.0.1:``port`` until killed."""
    from local_exchange import LocalExchange

    async def main() -> None:
        exchange = LocalExchange(replay_files=files, port=port)
        async with exchange:
            await asyncio.Event().wait()

    asyncio.run(main())


async def measure(count: int, seconds: float) -> dict[str, float]:
    files = make_clones(count)
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port),
                               *map(str, files)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                try:
                    if (await http.get(f"{base}/fapi/v1/ping")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        symbols = tuple(clone_name(i) for i in range(count))
        config = Config(source="live", symbols=symbols, binance_rest_url=base,
                        binance_ws_url=f"ws://127.0.0.1:{port}", snapshot_limit=100)
        runtime = Runtime(config)
        await runtime.start()
        try:
            started = time.monotonic()
            while not all(e.status() == "live" for e in runtime.engines.values()):
                if time.monotonic() - started > 120:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(5.0)  # warm-up: first frames, detector baselines
            me, exchange = psutil.Process(), psutil.Process(server.pid)
            me.cpu_percent(), exchange.cpu_percent()
            waits: list[float] = []  # receive -> applied, ms, every diff
            cuts: list[float] = []  # tick -> last frame of the tick built, ms
            clock = runtime.clock

            def applied(diff: DepthDiff) -> None:
                waits.append((clock.time_ns() - diff.receive_ts_ns) / 1e6)

            for engine in runtime.engines.values():
                engine.after_diff = applied
            on_tick = runtime.frame_clock._on_tick  # noqa: SLF001 - timing the frame cut

            def timed_tick(ts: float, now_ns: int) -> None:
                on_tick(ts, now_ns)
                cuts.append((clock.time_ns() - ts * 1e9) / 1e6)  # from the scheduled tick

            runtime.frame_clock._on_tick = timed_tick  # noqa: SLF001
            queue = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await asyncio.sleep(0.5)
                queue = max([queue, *(e.queue_depth for e in runtime.engines.values())])
            live = sum(e.status() == "live" for e in runtime.engines.values())
            gaps = sum(e.sync.stats.gaps for e in runtime.engines.values())
            cpu, exchange_cpu = me.cpu_percent(), exchange.cpu_percent()
        finally:
            await runtime.stop()
    finally:
        server.kill()
        server.wait()
    return {"markets": count, "live": live, "cpu": cpu, "exchange_cpu": exchange_cpu,
            "wait_p99": _p99(waits), "cut_p99": _p99(cuts), "cut_p50": statistics.median(cuts),
            "p99": _p99(waits) + _p99(cuts), "queue": queue, "gaps": gaps}


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")


async def run(counts: list[int], seconds: float) -> None:
    print("| markets | live | client CPU (% of a core) | diff wait p99 (ms) | frame cut p50 / p99 "
          "(ms) | event-to-frame p99 (ms) | longest queue | gaps | exchange CPU (%) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for count in counts:
        r = await measure(count, seconds)
        flag = "" if r["p99"] < LATENCY_GOAL_MS and r["live"] == count else " (over)"
        print(f"| {count} | {r['live']} | {r['cpu']:.0f} | {r['wait_p99']:.1f} | "
              f"{r['cut_p50']:.0f} / {r['cut_p99']:.0f} | {r['p99']:.0f}{flag} | {r['queue']} | "
              f"{r['gaps']} | {r['exchange_cpu']:.0f} |", flush=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--markets", type=int, nargs="+", default=[5, 10, 20, 40, 60])
    ap.add_argument("--seconds", type=float, default=40.0, help="measured seconds per count")
    args = ap.parse_args()
    asyncio.run(run(args.markets, args.seconds))


if __name__ == "__main__":
    main()
