"""Accelerated soak: does memory stay flat?

One process runs a local exchange publishing five times faster than Binance (a diff every
20 ms per symbol), the full depthlens app pointed at it as at any Binance-compatible server,
and churn: every few seconds a fault (dropped diff, abrupt disconnect, 429, stale snapshot) and
a wave of WebSocket viewers that connect, read a little and leave (some never read at all).
RSS is sampled every 10 s; the report gives the first, last and peak values and the slope of the
second half. Usage:

    .venv/bin/python benchmarks/soak.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import random
import sys
import time
from pathlib import Path

import psutil
import uvicorn
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from config import Config  # noqa: E402
from local_exchange import LocalExchange  # noqa: E402

FAULTS = ("drop", "disconnect", "rate_limit", "stale", "duplicate", "reorder")


async def viewer(url: str, frames: int, reads: bool) -> None:
    try:
        async with websockets.connect(url, max_size=2**24, open_timeout=10) as ws:
            if not reads:
                await asyncio.sleep(frames)  # a stuck client: the server must stay bounded
                return
            for _ in range(frames + 1):
                await asyncio.wait_for(ws.recv(), 5)
    except (OSError, TimeoutError, websockets.WebSocketException):
        pass


async def churn(venue, ws_base: str, stop_at: float, rng: random.Random) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts = {f: 0 for f in FAULTS} | {"viewers": 0}
    while time.monotonic() < stop_at:
        fault = rng.choice(FAULTS)
        symbol = rng.choice(["BTCUSDT", "ETHUSDT"])
        {"drop": lambda: venue.drop_diff(symbol), "duplicate": lambda: venue.duplicate_diff(symbol),
         "reorder": lambda: venue.reorder_diffs(symbol), "disconnect": venue.disconnect_all,
         "rate_limit": lambda: venue.rest_rate_limit(count=1, retry_after_s=1),
         "stale": lambda: venue.stale_snapshot(symbol)}[fault]()
        counts[fault] += 1
        wave = [viewer(f"{ws_base}/ws/{rng.choice(['BTCUSDT', 'ETHUSDT'])}", rng.randint(1, 3),
                       rng.random() > 0.2) for _ in range(rng.randint(5, 40))]
        counts["viewers"] += len(wave)
        await asyncio.gather(*wave)
        await asyncio.sleep(rng.uniform(1, 4))
    return counts


async def main_async(minutes: float) -> None:
    logging.basicConfig(level=logging.ERROR)
    venue = LocalExchange(["BTCUSDT", "ETHUSDT"], seed=5, publish_interval_ms=20).run_in_thread()
    url = f"127.0.0.1:{venue.exchange.port}"
    config = Config(source="live", binance_rest_url=f"http://{url}",
                    binance_ws_url=f"ws://{url}", port=0, log_level="ERROR")
    app = create_app(config, with_dashboard=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    serve = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.1)
    port = server.servers[0].sockets[0].getsockname()[1]
    process = psutil.Process()
    stop_at = time.monotonic() + minutes * 60
    churner = asyncio.create_task(churn(venue, f"ws://127.0.0.1:{port}", stop_at, random.Random(1)))
    samples: list[tuple[float, float]] = []
    t0 = time.monotonic()
    while time.monotonic() < stop_at:
        await asyncio.sleep(10)
        gc.collect()
        samples.append((time.monotonic() - t0, process.memory_info().rss / 2**20))
        print(f"  t={samples[-1][0]:5.0f}s RSS {samples[-1][1]:6.1f} MB", flush=True)
    counts = await churner
    runtime = app.state.runtime
    server.should_exit = True
    await serve
    venue.stop()
    half = samples[len(samples) // 2:]
    n = len(half)
    mean_t = sum(t for t, _ in half) / n
    mean_r = sum(r for _, r in half) / n
    slope = (sum((t - mean_t) * (r - mean_r) for t, r in half)
             / max(1e-9, sum((t - mean_t) ** 2 for t, _ in half)))
    applied = sum(e.sync.stats.applied for e in runtime.engines.values())
    resyncs = sum(e.sync.stats.resyncs for e in runtime.engines.values())
    print(f"soak {minutes:g} min: RSS first {samples[0][1]:.1f} MB, last {samples[-1][1]:.1f} MB, "
          f"peak {max(r for _, r in samples):.1f} MB; second-half slope "
          f"{slope * 60:+.2f} MB/min; {applied} diffs applied, {resyncs} resyncs; churn {counts}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    asyncio.run(main_async(ap.parse_args().minutes))


if __name__ == "__main__":
    main()
