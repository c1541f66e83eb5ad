"""The API over real sockets: health, book, frames (checked against the exchange's own book),
/simulate against a brute-force walk, bad input, slow clients and metrics."""

from __future__ import annotations

import asyncio
import json
import random
from fractions import Fraction

import httpx
import numpy as np
import psutil
import pytest
import websockets

from tests.app_harness import ServedApp, serve_app
from tests.client_harness import until

PRICE_SCALE, QTY_SCALE = 100, 1000  # BTCUSDT and ETHUSDT: 2 price and 3 quantity decimals


async def recv_json(ws: websockets.ClientConnection, timeout_s: float = 5.0) -> dict:  # type: ignore[type-arg]
    return json.loads(await asyncio.wait_for(ws.recv(), timeout_s))  # type: ignore[no-any-return]


async def test_health_and_book() -> None:
    async with serve_app() as served:
        await served.all_live()
        async with httpx.AsyncClient(base_url=served.http) as http:
            health = (await http.get("/health")).json()
            assert health["status"] == "ok"
            for symbol in ("BTCUSDT", "ETHUSDT"):
                entry = health["symbols"][symbol]
                assert entry["state"] == "live" and entry["gaps"] == 0
                assert isinstance(entry["last_update_id"], int) and entry["msgs_per_s"] >= 0
            book = (await http.get("/book/ethusdt", params={"depth": 5})).json()
            assert book["symbol"] == "ETHUSDT" and book["status"] == "live"
            # The venue-qualified name is the same market.
            qualified = await http.get("/book/binance-usdm:ETHUSDT", params={"depth": 5})
            assert qualified.status_code == 200 and qualified.json()["symbol"] == "ETHUSDT"
            assert (await http.get("/book/binance-spot:ETHUSDT")).status_code == 404
            assert (await http.get("/book/kraken:ETHUSDT")).status_code == 404
            listed = {m["market"]: m for m in (await http.get("/symbols")).json()["symbols"]}
            assert set(listed) == {"binance-usdm:BTCUSDT", "binance-usdm:ETHUSDT"}
            assert listed["binance-usdm:ETHUSDT"]["venue"] == "binance-usdm"
            assert listed["binance-usdm:ETHUSDT"]["state"] == "live"
            assert len(book["bids"]) == 5 and len(book["asks"]) == 5
            assert [p for p, _ in book["bids"]] == sorted((p for p, _ in book["bids"]), reverse=True)
            assert [p for p, _ in book["asks"]] == sorted(p for p, _ in book["asks"])
            assert book["bids"][0][0] < book["asks"][0][0]
            assert (await http.get("/book/BTCUSDT")).json()["bids"].__len__() == 20
            missing = await http.get("/book/DOGEUSDT")
            assert missing.status_code == 404 and "DOGEUSDT" in missing.json()["detail"]
            for depth in ("0", "1001", "ten", "-3"):
                assert (await http.get("/book/BTCUSDT", params={"depth": depth})).status_code == 422
            assert (await http.get("/docs")).status_code == 200
            paths = (await http.get("/openapi.json")).json()["paths"]
            assert {"/health", "/book/{symbol}", "/simulate", "/metrics"} <= set(paths)


def independent_features(bids: list[tuple[int, int]], asks: list[tuple[int, int]], n: int = 10,
                         ) -> dict[str, object]:
    """The frame's book values, computed separately from the exchange's own levels."""
    b = [(p / PRICE_SCALE, q / QTY_SCALE) for p, q in bids[:n]]
    a = [(p / PRICE_SCALE, q / QTY_SCALE) for p, q in asks[:n]]
    (bp, bq), (ap, aq) = b[0], a[0]
    mid = (bp + ap) / 2
    bv, av = sum(q for _, q in b), sum(q for _, q in a)

    def slope(levels: list[tuple[float, float]]) -> float:
        x = np.array([abs(p - mid) for p, _ in levels])
        y = np.cumsum([q for _, q in levels])
        return float(np.polyfit(x, y, 1)[0])

    return {
        "best_bid": bp, "best_ask": ap, "mid_price": mid, "spread": ap - bp,
        "spread_bps": (ap - bp) / mid * 1e4, "microprice": (bp * aq + ap * bq) / (bq + aq),
        "imbalance": (bv - av) / (bv + av), "imbalance_best": (bq - aq) / (bq + aq),
        "bid_volume": bv, "ask_volume": av,
        "dwp_bid": sum(p * q for p, q in b) / bv, "dwp_ask": sum(p * q for p, q in a) / av,
        "slope_bid": slope(b), "slope_ask": slope(a),
        "bid_levels": [list(x) for x in b], "ask_levels": [list(x) for x in a],
        "cum_bid": list(np.cumsum([q for _, q in b])), "cum_ask": list(np.cumsum([q for _, q in a])),
    }


async def frozen_book(served: ServedApp, symbol: str) -> tuple[int, list, list]:  # type: ignore[type-arg]
    """Pause the exchange and wait until depthlens' book reached its last published id."""
    served.exchange.pause()
    await asyncio.sleep(0.3)
    published = served.exchange.published_book(symbol)
    engine = served.runtime.engines[symbol]
    await until(lambda: engine.book.last_update_id == published[0], 10, "the client to catch up")
    return published  # type: ignore[no-any-return]


async def test_frames_snapshot_first_then_each_second_with_exact_values() -> None:
    async with serve_app() as served:
        await served.all_live()
        await asyncio.sleep(2.2)  # some history
        async with websockets.connect(f"{served.ws}/ws/btcusdt", max_size=2**24) as ws:
            snapshot = await recv_json(ws)
            assert snapshot["v"] == 1 and snapshot["type"] == "snapshot"
            assert snapshot["symbol"] == "BTCUSDT" and snapshot["meta"]["top_n"] == 10
            history = snapshot["history"]
            assert len(history["ts"]) >= 2 and len(history["heatmap"]) == len(history["ts"])
            assert snapshot["latest"]["type"] == "frame"
            first, second = await recv_json(ws), await recv_json(ws)
            assert second["ts"] - first["ts"] == 1.0 and first["ts"] == int(first["ts"])
            assert first["ts"] > history["ts"][-1]
            published_id, bids, asks = await frozen_book(served, "BTCUSDT")
            try:
                for _ in range(4):
                    frame = await recv_json(ws)
                    if frame["last_update_id"] == published_id:
                        break
                assert frame["last_update_id"] == published_id
                for key, expected in independent_features(bids, asks).items():
                    if key.endswith("_levels"):
                        assert frame[key] == expected, key  # the same exact divisions
                    else:
                        assert frame[key] == pytest.approx(expected, rel=1e-9, abs=1e-12), key
                assert frame["status"] == "live" and frame["stale"] is False
                assert set(frame["integrity"]) == {"BTCUSDT", "ETHUSDT"}
                quiet = await recv_json(ws)  # a whole second without diffs: no order flow
                assert quiet["updates"] == 0 and quiet["ofi"] == 0 and quiet["ofi_best"] == 0
                heat = quiet["heatmap"]
                lo, step = heat["lo"], heat["step"]
                hi = lo + step * len(heat["sizes"])
                in_band = sum(q for p, q in bids + asks if lo <= p / PRICE_SCALE < hi) / QTY_SCALE
                assert sum(heat["sizes"]) == pytest.approx(in_band, rel=1e-6)
            finally:
                served.exchange.resume()


async def test_unknown_symbol_closes_with_1008() -> None:
    async with serve_app() as served:
        async with websockets.connect(f"{served.ws}/ws/NOPEUSDT") as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1008 and "NOPEUSDT" in ws.close_reason


async def test_stale_book_is_flagged() -> None:
    async with serve_app() as served:
        await served.all_live()
        served.exchange.pause()
        try:
            await until(lambda: served.runtime.engines["ETHUSDT"].status() == "stale", 15, "stale")
            async with httpx.AsyncClient(base_url=served.http) as http:
                health = (await http.get("/health")).json()
            assert health["status"] == "degraded"
            assert health["symbols"]["ETHUSDT"]["last_event_age_ms"] > 5000
        finally:
            served.exchange.resume()
        await served.all_live()


def brute_force(levels: list[tuple[int, int]], quantity: Fraction | None,
                notional: Fraction | None) -> tuple[Fraction, Fraction, int, int]:
    """Take one lot (0.001) at a time: filled qty, notional, levels touched, worst price."""
    filled = spent = Fraction(0)
    touched, worst = 0, 0
    lot = Fraction(1, QTY_SCALE)
    for price_units, qty_units in levels:
        price = Fraction(price_units, PRICE_SCALE)
        took = False
        for _ in range(qty_units):
            if quantity is not None and filled >= quantity:
                break
            if notional is not None and spent >= notional:
                break
            take = lot if notional is None else min(lot, (notional - spent) / price)
            filled += take
            spent += take * price
            took = True
        if took:
            touched, worst = touched + 1, price_units
        if (quantity is not None and filled >= quantity) or (
                notional is not None and spent >= notional):
            break
    return filled, spent, touched, worst


async def test_simulate_equals_brute_force_and_rejects_bad_input() -> None:
    rng = random.Random(5)
    async with serve_app() as served:
        await served.all_live()
        published_id, bids, asks = await frozen_book(served, "BTCUSDT")
        try:
            async with httpx.AsyncClient(base_url=served.http) as http:
                for _ in range(25):
                    side = rng.choice(["buy", "sell"])
                    levels = asks if side == "buy" else bids
                    body: dict[str, object] = {"symbol": "btcusdt", "side": side}
                    if rng.random() < 0.5:
                        qty = Fraction(rng.randint(1, 8000), QTY_SCALE)
                        body["quantity"], want = float(qty), (qty, None)
                    else:
                        notional = Fraction(rng.randint(10, 400_000_00), 100)
                        body["notional"], want = float(notional), (None, notional)
                    result = (await http.post("/simulate", json=body)).json()
                    filled, spent, touched, worst = brute_force(levels, *want)
                    assert result["last_update_id"] == published_id
                    assert result["filled_qty"] == pytest.approx(float(filled), rel=1e-12)
                    assert result["notional"] == pytest.approx(float(spent), rel=1e-12)
                    assert result["avg_price"] == pytest.approx(float(spent / filled), rel=1e-12)
                    assert result["levels_consumed"] == touched
                    assert result["worst_price"] == worst / PRICE_SCALE
                    best = levels[0][0] / PRICE_SCALE
                    assert result["best_price"] == best
                    sign = 1 if side == "buy" else -1
                    assert result["slippage"] == pytest.approx(sign * (float(spent / filled) - best),
                                                               rel=1e-9, abs=1e-9)
                huge = await http.post("/simulate", json={"symbol": "BTCUSDT", "side": "sell",
                                                          "quantity": 1e8})
                assert huge.status_code == 200 and huge.json()["unfilled_qty"] > 0
                assert huge.json()["fully_filled"] is False
                bad_bodies = [
                    {"symbol": "BTCUSDT", "side": "buy", "quantity": -1},
                    {"symbol": "BTCUSDT", "side": "buy", "quantity": 0},
                    {"symbol": "BTCUSDT", "side": "buy", "quantity": 1e30},
                    {"symbol": "BTCUSDT", "side": "buy", "notional": 1e20},
                    {"symbol": "BTCUSDT", "side": "buy", "quantity": 1, "notional": 5},
                    {"symbol": "BTCUSDT", "side": "buy"},
                    {"symbol": "BTCUSDT", "side": "hold", "quantity": 1},
                    {"symbol": "BTCUSDT", "side": "buy", "quantity": "lots"},
                    {"symbol": "", "side": "buy", "quantity": 1},
                    {"side": "buy", "quantity": 1},
                    [1, 2, 3],
                ]
                for bad in bad_bodies:
                    response = await http.post("/simulate", json=bad)
                    assert response.status_code == 422, bad
                    assert "detail" in response.json()
                for raw in (b'{"symbol":"BTCUSDT","side":"buy","quantity":NaN}',
                            b'{"symbol":"BTCUSDT","side":"buy","quantity":Infinity}',
                            b'{"symbol": "BTCUSDT", "side": "buy", "quant', b""):
                    response = await http.post("/simulate", content=raw,
                                               headers={"content-type": "application/json"})
                    assert response.status_code == 422, raw
                unknown = await http.post("/simulate", json={"symbol": "XYZUSDT", "side": "buy",
                                                             "quantity": 1})
                assert unknown.status_code == 404
        finally:
            served.exchange.resume()


async def test_slow_client_gets_bounded_backlog_and_metrics_count_it() -> None:
    async with serve_app() as served:
        await served.all_live()
        rt = served.runtime
        # A client that never reads: TCP buffers fill, its sender blocks on the socket.
        async with websockets.connect(f"{served.ws}/ws/ETHUSDT", max_size=2**24,
                                      max_queue=1) as ws:
            await until(lambda: rt.hub.client_count("ETHUSDT") == 1, 10, "subscription")
            rss_before = psutil.Process().memory_info().rss
            big = "x" * 200_000
            for i in range(1500):  # 300 MB offered; far beyond any socket buffer
                rt.hub.publish("ETHUSDT", big, 0)
                if i % 50 == 0:
                    await asyncio.sleep(0)
            slots = list(rt.hub._clients["ETHUSDT"])
            assert all(slot.queue.qsize() <= served.runtime.config.client_queue_size
                       for slot in slots)
            assert rt.hub.dropped_frames["ETHUSDT"] > 1000
            grown_mb = (psutil.Process().memory_info().rss - rss_before) / 2**20
            assert grown_mb < 100, f"server memory grew {grown_mb:.0f} MB for one slow client"
            async with httpx.AsyncClient(base_url=served.http) as http:
                text = (await http.get("/metrics")).text
            assert 'depthlens_ws_clients{symbol="ETHUSDT"} 1.0' in text
            dropped = [line for line in text.splitlines()
                       if line.startswith('depthlens_dropped_frames_total{symbol="ETHUSDT"}')]
            assert dropped and float(dropped[0].split()[-1]) > 1000
            for name in ("depthlens_update_rate", "depthlens_gaps_total", "depthlens_resyncs_total",
                         "depthlens_queue_depth", "depthlens_coalesced_bursts_total",
                         "depthlens_exchange_to_receive_seconds_bucket",
                         "depthlens_receive_to_applied_seconds_bucket",
                         "depthlens_process_rss_bytes"):
                assert name in text, name
            del ws
        await until(lambda: rt.hub.client_count("ETHUSDT") == 0, 10, "the slot to be released")
