"""WebSocket fan-out: N clients on loopback watching /ws/{symbol} of a running depthlens.

Starts ``main.py`` (embedded local exchange) as a separate process, connects N clients from this
process (spread over the configured symbols), and for every frame records the delay between the
frame's one-second boundary (``ts``) and its arrival. Reports p50/p99 delay, frames lost, and the
server's CPU use while serving. The clients share this process's core, so at high N part of the
measured delay is the clients' own queueing: read the numbers as an upper bound. Usage:

    .venv/bin/python benchmarks/fanout.py [--clients 100 1000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def client(url: str, ready: asyncio.Event, start: asyncio.Event, seconds: float,
                 delays: list[float], counts: list[int], connected: list[int]) -> None:
    async with websockets.connect(url, max_size=2**24, open_timeout=120) as ws:
        await ws.recv()  # the history snapshot
        connected.append(1)
        ready.set()
        received = 0
        end = None
        while True:
            frame = orjson.loads(await ws.recv())
            if not start.is_set():
                continue  # the connect phase: other clients are still getting snapshots
            end = end or time.time() + seconds
            delays.append(time.time() - frame["ts"])
            received += 1
            if time.time() >= end:
                break
        counts.append(received)


def sent_histogram(metrics: str) -> dict[float, float]:
    """Cumulative bucket counts of the server's own tick-to-frame-sent histogram."""
    buckets: dict[float, float] = {}
    for line in metrics.splitlines():
        if line.startswith("depthlens_tick_to_frame_sent_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(line.split()[-1])
    return buckets


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> str:
    delta = {b: after.get(b, 0) - before.get(b, 0) for b in after}
    total = delta.get(float("inf"), 0)
    for bound in sorted(delta):
        if total and delta[bound] >= q * total:
            return f"<= {bound * 1000:g} ms"
    return "n/a"


async def measure(base: str, ws_base: str, pid: int, n: int, seconds: float) -> None:
    delays: list[float] = []
    counts: list[int] = []
    connected: list[int] = []
    server = psutil.Process(pid)
    ready, start = asyncio.Event(), asyncio.Event()
    t0 = time.time()
    tasks = [asyncio.create_task(client(f"{ws_base}/ws/{SYMBOLS[i % len(SYMBOLS)]}", ready, start,
                                        seconds, delays, counts, connected)) for i in range(n)]
    while len(connected) < n:
        await asyncio.sleep(0.1)
    connect_s = time.time() - t0
    await asyncio.sleep(2)  # let the snapshot backlog drain
    async with httpx.AsyncClient(base_url=base) as http:
        before = sent_histogram((await http.get("/metrics")).text)
    server.cpu_percent(None)
    start.set()
    await asyncio.gather(*tasks)
    cpu = server.cpu_percent(None)
    async with httpx.AsyncClient(base_url=base) as http:
        metrics = (await http.get("/metrics")).text
    dropped = sum(float(line.split()[-1]) for line in metrics.splitlines()
                  if line.startswith("depthlens_dropped_frames_total"))
    after = sent_histogram(metrics)
    delays.sort()
    p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000  # noqa: E731
    print(f"{n:5d} clients (all connected with their history in {connect_s:.1f}s), steady state "
          f"{seconds:g}s: {len(delays)} frames; delay after tick p50 {p(0.5):6.1f} ms, "
          f"p99 {p(0.99):6.1f} ms, max {delays[-1] * 1000:6.1f} ms; server CPU {cpu:.0f}% of "
          f"one core; frames dropped for lagging clients (cumulative) {dropped:.0f}\n"
          f"{'':15}server-side tick-to-sent: p50 {bucket_quantile(before, after, 0.5)}, "
          f"p99 {bucket_quantile(before, after, 0.99)}")


async def main_async(counts: list[int], seconds: float) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "main.py", "--port", str(port), "--log-level",
                             "WARNING"], cwd=ROOT)
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).json()["status"] == "ok":
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        await asyncio.sleep(5)  # some history, so snapshots have their real size
        for n in counts:
            await measure(base, ws_base, proc.pid, n, seconds)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", nargs="+", type=int, default=[100, 1000])
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))  # server inherits it
    asyncio.run(main_async(args.clients, args.seconds))


if __name__ == "__main__":
    main()
