"""Hours-long soak of the app as a new user runs it: does memory stay flat?

The default app (``make run``: the embedded exchanges, the default markets, the dashboard) runs in
this process with the recorder on; 50 viewers in a child process read ``/ws/{market}`` frames the
whole time. Every ``--every`` seconds it samples RSS and the length of every container reachable
from the runtime (dicts, lists, sets, deques of depthlens's own objects, a few levels deep), and
writes them to a CSV. At the end it prints the RSS slope after the warm-up (least squares, MB/min)
and the containers that grew since the warm-up ended; with ``--tracemalloc`` also the source
lines whose allocations grew most over the same span. Usage:

    .venv/bin/python benchmarks/soak_hours.py --minutes 150 --warmup 30 [--tracemalloc]
    .venv/bin/python benchmarks/soak_hours.py --summarize soak.csv   # the README's table

Not a test: it runs for hours. The README's "Hours-long runs" has its curve.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import csv
import gc
import logging
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from config import Config  # noqa: E402

OWN = {"api", "state", "features", "insights", "orderbook", "data_ingestion", "local_exchange",
       "marketdata", "depthlens"}
CONTAINERS = (dict, list, set, collections.deque)


def container_sizes(root: object, max_depth: int = 8, limit: int = 50_000) -> dict[str, int]:
    """``path -> len`` of every container reachable from ``root`` through attributes of
    depthlens's own objects (and the items of containers holding them)."""
    sizes: dict[str, int] = {}
    seen: set[int] = {id(root)}
    # Breadth first: each object is named by its shortest path, and a long path met first
    # cannot hide what lies below it.
    queue: collections.deque[tuple[str, object, int]] = collections.deque([("runtime", root, 0)])

    def push(path: str, value: object, depth: int) -> None:
        if depth <= max_depth and id(value) not in seen:
            seen.add(id(value))
            queue.append((path, value, depth))

    while queue and len(sizes) < limit:
        path, obj, depth = queue.popleft()
        if isinstance(obj, CONTAINERS):
            sizes[path] = len(obj)  # type: ignore[arg-type]
            items = obj.items() if isinstance(obj, dict) else enumerate(obj)  # type: ignore[arg-type]
            for n, (key, value) in enumerate(items):
                if n >= 8:  # a few entries stand for the rest (keys of the same kind)
                    break
                push(f"{path}[{key!s:.20}]", value, depth + 1)
            continue
        module = type(obj).__module__.partition(".")[0]
        if module not in OWN:
            continue
        names = list(getattr(obj, "__dict__", {}))
        for cls in type(obj).__mro__:
            names += [s for s in getattr(cls, "__slots__", ()) if isinstance(s, str)]
        for name in dict.fromkeys(names):
            try:
                value = getattr(obj, name)
            except AttributeError:
                continue
            push(f"{path}.{name}", value, depth + 1)
    return sizes


def viewers(url: str, count: int) -> None:
    """The child: ``count`` viewers reading frames until killed; a dropped one reconnects."""
    import websockets

    async def one(n: int) -> None:
        while True:
            try:
                async with websockets.connect(url, max_size=2**24, open_timeout=20) as ws:
                    async for _ in ws:
                        pass
            except (OSError, TimeoutError, websockets.WebSocketException):
                await asyncio.sleep(1 + n % 5)

    async def orphaned() -> None:
        parent = os.getppid()
        while os.getppid() == parent:  # a soak killed outright takes its viewers with it
            await asyncio.sleep(2)

    async def run() -> None:
        viewing = asyncio.gather(*(one(n) for n in range(count)))
        await orphaned()
        viewing.cancel()

    asyncio.run(run())


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    den = sum((t - mt) ** 2 for t, _ in samples) or 1e-9
    return sum((t - mt) * (r - mr) for t, r in samples) / den * 60


def report(at_warm: dict[str, int], now: dict[str, int], snap_warm: Any) -> None:
    """What grew since the warm-up ended: containers, and with tracemalloc the source lines."""
    grew = sorted(((now[k] - v, k, v, now[k]) for k, v in at_warm.items()
                   if k in now and now[k] > v), reverse=True)[:20]
    print("containers that grew since the warm-up (growth, path, then -> now):")
    for growth, path, then, size in grew:
        print(f"  +{growth:<8d} {path}  {then} -> {size}")
    if snap_warm is not None:
        print("allocations that grew most since the warm-up (tracemalloc):")
        for stat in tracemalloc.take_snapshot().compare_to(snap_warm, "lineno")[:15]:
            print(f"  {stat}")
    sys.stdout.flush()


async def soak(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    record = Path(args.record or tempfile.mkdtemp(prefix="depthlens-soak-"))
    config = Config(port=0, record=record, record_max_gb=args.record_max_gb, log_level="WARNING",
                    malloc_arenas=args.malloc_arenas, malloc_trim_s=args.malloc_trim_s)
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                          ws_per_message_deflate=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.1)
    port = server.servers[0].sockets[0].getsockname()[1]
    runtime = app.state.runtime
    market = next(iter(runtime.engines))
    child = subprocess.Popen([sys.executable, __file__, "--viewers-only",
                              f"ws://127.0.0.1:{port}/ws/{market}", str(args.viewers)])
    process = psutil.Process()
    if args.tracemalloc:  # from the start, so the warm-up's snapshot holds the steady state
        tracemalloc.start(1)
    started = time.monotonic()
    warm_s, end_s = args.warmup * 60, args.minutes * 60
    samples: list[tuple[float, float]] = []
    at_warm: dict[str, int] | None = None
    snap_warm = None
    out = open(args.csv, "w", newline="")  # noqa: SIM115
    writer = csv.writer(out)
    writer.writerow(["elapsed_s", "rss_mb", "viewers", "containers_total", "py_blocks",
                     "gc_objects", "traced_mb"])
    last_report = 0.0
    try:
        while (elapsed := time.monotonic() - started) < end_s:
            await asyncio.sleep(args.every)
            elapsed = time.monotonic() - started
            gc.collect()
            rss = process.memory_info().rss / 2**20
            sizes = container_sizes(runtime)
            # Python's own count of live blocks and objects: if these stay flat while RSS
            # climbs, the growth is the allocator's (fragmentation), not objects kept.
            traced = tracemalloc.get_traced_memory()[0] / 2**20 if args.tracemalloc else 0.0
            writer.writerow([round(elapsed), round(rss, 2), runtime.hub.client_count(),
                             sum(sizes.values()), sys.getallocatedblocks(),
                             len(gc.get_objects()), round(traced, 2)])
            out.flush()
            if elapsed >= warm_s:
                samples.append((elapsed, rss))
                if at_warm is None:
                    at_warm = sizes
                    if args.tracemalloc:
                        snap_warm = tracemalloc.take_snapshot()
            print(f"t={elapsed / 60:6.1f} min RSS {rss:7.1f} MB viewers "
                  f"{runtime.hub.client_count()} containers {sum(sizes.values())} "
                  f"blocks {sys.getallocatedblocks()} traced {traced:.1f} MB", flush=True)
            if at_warm is not None and elapsed - last_report >= args.report_every * 60:
                last_report = elapsed
                report(at_warm, sizes, snap_warm)
        print(f"\nRSS after warm-up ({args.warmup:g} min): {samples[0][1]:.1f} -> "
              f"{samples[-1][1]:.1f} MB, slope {slope_mb_per_min(samples):+.4f} MB/min over "
              f"{(samples[-1][0] - samples[0][0]) / 60:.0f} min" if samples else "no samples")
        report(at_warm or {}, container_sizes(runtime), snap_warm)
        status = runtime.recorder.status() if runtime.recorder is not None else {}
        print(f"recorder: {status}")
    finally:
        out.close()
        child.kill()
        child.wait()
        server.should_exit = True
        await serving


def summarize(path: str, warmup_min: float) -> None:
    """The README's table from a soak's CSV: a row every 10 minutes, and the slope after the
    warm-up of RSS and of Python's live blocks."""
    with open(path, newline="") as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    if not rows:
        raise SystemExit(f"{path}: no samples")
    print("| minute | RSS (MB) | live Python blocks | containers |\n|---|---|---|---|")
    last = rows[-1]["elapsed_s"] / 60
    marks = [m for m in [1, 5, *range(10, int(last + 0.5) + 1, 10)] if m <= last + 0.5]
    for mark in marks:
        row = min(rows, key=lambda r: abs(r["elapsed_s"] - mark * 60))
        print(f"| {row['elapsed_s'] / 60:.0f} | {row['rss_mb']:.1f} | "
              f"{row.get('py_blocks', 0):,.0f} | {row['containers_total']:,.0f} |")
    after = [r for r in rows if r["elapsed_s"] >= warmup_min * 60]
    if len(after) < 2:
        raise SystemExit("no samples after the warm-up")
    half = len(after) // 2
    rss = [(r["elapsed_s"], r["rss_mb"]) for r in after]
    print(f"\nafter {warmup_min:g} min: RSS {after[0]['rss_mb']:.1f} -> {after[-1]['rss_mb']:.1f} MB, "
          f"slope {slope_mb_per_min(rss):+.4f} MB/min (first half "
          f"{slope_mb_per_min(rss[:half]):+.4f}, second half {slope_mb_per_min(rss[half:]):+.4f})")
    if "py_blocks" in after[0]:
        blocks = [(r["elapsed_s"], r["py_blocks"]) for r in after]
        print(f"live Python blocks {after[0]['py_blocks']:,.0f} -> {after[-1]['py_blocks']:,.0f}, "
              f"slope {slope_mb_per_min(blocks):+,.0f} blocks/min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=150.0, help="total run time")
    ap.add_argument("--warmup", type=float, default=30.0, help="minutes before the slope counts")
    ap.add_argument("--viewers", type=int, default=50)
    ap.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--csv", default="soak.csv", help="samples written here")
    ap.add_argument("--record", help="recorder directory (default: a temporary one)")
    ap.add_argument("--record-max-gb", type=float, default=1.0)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="trace allocations from the warm-up on (slower, more memory)")
    ap.add_argument("--report-every", type=float, default=30.0,
                    help="minutes between reports of what grew since the warm-up")
    ap.add_argument("--malloc-arenas", type=int, default=Config().malloc_arenas,
                    help="as main.py's flag (0: glibc's default)")
    ap.add_argument("--malloc-trim-s", type=float, default=Config().malloc_trim_s,
                    help="as main.py's flag (0: never)")
    ap.add_argument("--summarize", metavar="CSV",
                    help="print the README's table and slopes from an earlier run's CSV")
    ap.add_argument("--viewers-only", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.summarize:
        summarize(args.summarize, args.warmup)
        return
    if args.viewers_only:
        viewers(args.viewers_only[0], int(args.viewers_only[1]))
        return
    os.nice(0)
    asyncio.run(soak(args))


if __name__ == "__main__":
    main()
