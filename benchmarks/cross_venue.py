"""Cross-venue arbitrage against injected dislocations, and the cost of the cross-venue frame.

Runs the whole app offline (embedded exchanges for USDT-M, Spot and Coinbase, real sockets) on
one asset's three markets, pushes one venue's price by N bps for T seconds at a time (``POST
/control/dislocate``), and prints the opportunities ``GET /arbitrage`` logged: which pair, peak
net edge after taker fees, size and profit at the peak, skew, duration and why it ended, next to
what was injected. Every second it also times the cross-venue frame (``AssetView.cut`` on the
three live books, 200 levels a side, plus its JSON encoding). Usage:

    .venv/bin/python benchmarks/cross_venue.py [--asset BTC] [--gap-s 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx
import orjson
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from config import Config  # noqa: E402

# (venue market suffix, bps, seconds): spot dear, Coinbase dear beyond its 1.2 % fee, the
# perpetual cheap, Spot slightly cheap (inside the fees: no opportunity), Coinbase cheap.
INJECTIONS = (("binance-spot:{s}", 40.0, 6.0), ("coinbase:{c}", 200.0, 6.0),
              ("{s}", -30.0, 5.0), ("binance-spot:{s}", -10.0, 5.0),
              ("coinbase:{c}", -180.0, 5.0))


def markets(asset: str) -> tuple[str, str, str]:
    return f"{asset}USDT", f"binance-spot:{asset}USDT", f"coinbase:{asset}-USD"


async def run(asset: str, gap_s: float) -> None:
    config = Config(port=0, symbols=markets(asset), log_level="WARNING")
    app = create_app(config, with_dashboard=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    runtime = app.state.runtime
    cross = runtime.cross_venue
    costs: list[float] = []
    original = cross._on_tick  # noqa: SLF001 - timing the real per-second work

    def timed(ts: float, now_ns: int) -> None:
        start = time.perf_counter()
        original(ts, now_ns)
        costs.append(time.perf_counter() - start)

    runtime.on_tick[runtime.on_tick.index(original)] = timed
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        while (await http.get("/health")).json()["status"] != "ok":
            await asyncio.sleep(0.2)
        await asyncio.sleep(gap_s)
        injected = []
        for template, bps, seconds in INJECTIONS:
            market = template.format(s=f"{asset}USDT", c=f"{asset}-USD")
            reply = await http.post("/control/dislocate",
                                    json={"market": market, "bps": bps, "seconds": seconds})
            reply.raise_for_status()
            injected.append((market, bps, seconds))
            print(f"injected {market} {bps:+.0f} bps for {seconds:.0f} s", flush=True)
            await asyncio.sleep(seconds + gap_s)
        body = (await http.get("/arbitrage", params={"asset": asset})).json()
        frame = orjson.loads(cross.snapshot_text(asset))["frame"]
    server.should_exit = True
    await task

    print(f"\nfees (bps): {body['fees_bps']}, max skew {body['max_skew_ms']:.0f} ms, "
          f"USDT/USD {body['usdt_usd']}; suppressed by skew: {body['suppressed_by_skew']}\n")
    print("| buy | sell | peak net edge bps | top net edge bps | size at peak | profit at peak "
          "USD | skew at peak ms | duration s | end |")
    print("|---|---|---|---|---|---|---|---|---|")
    for o in body["recent"] + body["live"]:
        print(f"| {o['buy']} | {o['sell']} | {o['peak_net_edge_bps']:.1f} | "
              f"{o['peak_top_net_edge_bps']:.1f} | {o['peak_size']:.4f} | "
              f"{o['peak_profit_usd']:.2f} | {o['skew_ms_at_peak']} | "
              f"{o['duration_ms'] / 1000:.1f} | {o['end_reason'] or 'live'} |")
    costs_ms = sorted(c * 1000 for c in costs[2:])
    print(f"\ncross-venue frame ({len(frame['markets'])} markets, encoded "
          f"{len(orjson.dumps(frame)) / 1024:.1f} KiB): mean {statistics.fmean(costs_ms):.2f} ms, "
          f"median {statistics.median(costs_ms):.2f} ms, "
          f"p99 {costs_ms[int(0.99 * (len(costs_ms) - 1))]:.2f} ms over {len(costs_ms)} "
          f"seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asset", default="BTC", choices=["BTC", "ETH", "SOL"])
    parser.add_argument("--gap-s", type=float, default=4.0,
                        help="seconds between injections")
    args = parser.parse_args()
    asyncio.run(run(args.asset, args.gap_s))


if __name__ == "__main__":
    main()
