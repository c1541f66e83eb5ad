"""Done-when test of the decision layer: frames' trade-flow metrics equal an independent
computation from the aggTrades a separately started Binance-compatible server sent.

The local exchange runs on its own thread with its order flow paused, so the only trades are the
market orders this test makes. A plain websockets client records every aggTrade and depth diff
the exchange publishes; depthlens connects to it as it would to Binance (``--source live``
URLs). After each burst of orders, once the server has been quiet for a second, the next frame's
values are recomputed from the recorded messages with the frame's own ``venue_ts``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import websockets

from config import Config
from features.liquidity.params import DetectorParams
from local_exchange import LocalExchange
from tests.app_harness import serve_app
from tests.client_harness import until
from tests.test_rules import OPS

BURSTS = [
    [("buy", 2500), ("sell", 800)],
    [("sell", 4000), ("sell", 150)],
    [("buy", 300), ("buy", 6000), ("sell", 1200)],
    [("sell", 9000)],
]


async def record(ws: Any, into: list[dict[str, Any]]) -> None:
    async for raw in ws:
        message = json.loads(raw)
        if isinstance(message, dict) and "e" in message:
            into.append(message)


def independent(trades: list[dict[str, Any]], diffs: list[dict[str, Any]],
                ) -> tuple[float, dict[str, Any]]:
    """venue_ts and the trade-flow metrics, straight from the venue's messages (Decimal sums)."""
    venue_ms = max([t["T"] for t in trades] + [d["E"] for d in diffs])

    def within(ms: int) -> list[dict[str, Any]]:
        return [t for t in trades if venue_ms - ms < t["T"] <= venue_ms]

    w30 = within(30_000)
    qty = sum(Decimal(t["q"]) for t in w30)
    vwap = sum(Decimal(t["p"]) * Decimal(t["q"]) for t in w30) / qty if qty else None
    buys = sum(Decimal(t["q"]) for t in w30 if not t["m"])
    prices = np.array([float(t["p"]) for t in within(60_000)])
    returns = prices[1:] / prices[:-1] - 1
    last = float(trades[-1]["p"])
    return venue_ms / 1000, {
        "last_trade_price": last,
        "vwap_30s": None if vwap is None else float(vwap),
        "velocity_3s": len(within(3_000)) / 3,
        "buy_pressure_30s": None if not qty else float(buys / qty),
        "volatility_60s_bps": float(np.std(returns) * 1e4) if len(prices) >= 3 else None,
        "price_vs_vwap_pct": None if vwap is None else (last - float(vwap)) / float(vwap) * 100,
        "cvd": float(sum(Decimal(t["q"]) * (-1 if t["m"] else 1) for t in trades)),
    }


def _frame_after(frames: list[dict[str, Any]], ts: float) -> Callable[[], bool]:
    return lambda: bool(frames) and frames[-1]["ts"] >= ts


def check_rules(frame: dict[str, Any]) -> None:
    values = {**frame, **frame["signals"]}
    holding = {int(i) for i, c in frame["conditions"].items()
               if c["value"] is not None and values[c["metric"]] is not None
               and OPS[c["op"]](values[c["metric"]], c["value"])}
    assert holding == set(frame["rules"])


async def test_frame_metrics_equal_the_trades_the_server_sent() -> None:
    venue = LocalExchange(["BTCUSDT"], seed=4).run_in_thread()
    tasks: list[asyncio.Task[None]] = []
    try:
        venue.pause()
        await asyncio.sleep(0.5)  # whatever the flow had pending is published before we listen
        trades: list[dict[str, Any]] = []
        diffs: list[dict[str, Any]] = []
        base = venue.ws_url
        async with websockets.connect(f"{base}/market/ws/btcusdt@aggTrade") as tws, \
                websockets.connect(f"{base}/public/ws/btcusdt@depth@100ms") as dws:
            tasks += [asyncio.create_task(record(tws, trades)),
                      asyncio.create_task(record(dws, diffs))]
            config = Config(source="live", symbols=("BTCUSDT",), port=0,
                            binance_rest_url=venue.rest_url, binance_ws_url=base,
                            silence_timeout_s=300.0,
                            # The event detectors have their own tests; keep this one about flow.
                            detectors=DetectorParams(enabled=False))
            async with serve_app(config) as served:
                await _bring_live(served, venue)
                await _bursts_and_checks(served, venue, trades, diffs)
    finally:
        for task in tasks:
            task.cancel()
        venue.stop()


async def _bring_live(served: Any, venue: Any) -> None:
    """The flow is paused, so nothing changes the book: a far-away limit order now and then
    gives depthlens the diff it needs before it asks for a snapshot (no trade results)."""
    spec = venue.spec("BTCUSDT")
    _, bids, _ = venue.published_book("BTCUSDT")
    far = bids[0][0] - 2000 * spec.instrument.tick_units
    deadline = time.monotonic() + 60
    engine = None
    while time.monotonic() < deadline:
        engine = served.runtime.engines.get("BTCUSDT")
        if engine is not None and engine.status() == "live":
            return
        await asyncio.to_thread(venue.submit_limit, "BTCUSDT", "buy", far, 1)
        await asyncio.sleep(0.3)
    raise AssertionError(f"BTCUSDT never went live: {engine and engine.status()}")


async def _bursts_and_checks(served: Any, venue: Any, trades: list[dict[str, Any]],
                             diffs: list[dict[str, Any]]) -> None:
    async with websockets.connect(f"{served.ws}/ws/btcusdt", max_size=2**24) as fws:
        snapshot = json.loads(await fws.recv())
        history = snapshot["history"]
        rows = list(zip(history["trade_count"], history["mid_price"], strict=True))
        frames: list[dict[str, Any]] = []

        async def read_frames() -> None:
            async for raw in fws:
                frames.append(json.loads(raw))

        reader = asyncio.create_task(read_frames())
        try:
            assert not trades, "the paused exchange traded on its own"
            for burst in BURSTS:
                for side, qty in burst:
                    await asyncio.to_thread(venue.submit_market, "BTCUSDT", side, qty)
                    await asyncio.sleep(0.25)
                await until(_frame_after(frames, time.time() + 1.2), 10,
                            "a frame after a quiet second")
                frame = frames[-1]
                venue_ts, expected = independent(trades, diffs)
                assert frame["venue_ts"] == venue_ts
                for key, value in expected.items():
                    if value is None:
                        assert frame[key] is None, key
                    else:
                        assert frame[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
                check_rules(frame)
        finally:
            reader.cancel()
    assert len(trades) >= 8 and len({t["p"] for t in trades}) >= 3
    assert any(t["m"] for t in trades) and not all(t["m"] for t in trades)
    # Per-second series: baseline over the trade counts, 1 s volatility over mid closes.
    for frame in frames:
        rows.append((frame["trades"]["count"], frame["mid_price"]))
        window = rows[-180:]
        assert frame["velocity_baseline"] == pytest.approx(
            sum(c for c, _ in window) / len(window), rel=1e-12)
        mids = np.array([m for _, m in rows if m is not None][-60:])
        if len(mids) >= 3:
            expected_vol = float(np.std(mids[1:] / mids[:-1] - 1) * 1e4)
            assert frame["volatility_1s_60s_bps"] == pytest.approx(expected_vol, abs=1e-9)
