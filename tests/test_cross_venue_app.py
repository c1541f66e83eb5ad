"""The cross-venue view against the embedded exchanges over real sockets: a price dislocation
injected on one venue is reported as an arbitrage opportunity in the right direction, its net
edge and size agree with a brute-force walk of the same books, it ends when the dislocation
does, and books too far apart in venue time are not reported."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
import pytest
import websockets

from config import Config
from tests.app_harness import ServedApp, serve_app

SPOT = "binance-spot:BTCUSDT"
MARKETS = ("BTCUSDT", SPOT, "coinbase:BTC-USD")
FEES = {"BTCUSDT": 5.0, SPOT: 10.0}


def pair(body: dict[str, Any], buy: str, sell: str) -> dict[str, Any]:
    return next(p for p in body["pairs"] if (p["buy"], p["sell"]) == (buy, sell))


def brute_force(asks: list[list[float]], bids: list[list[float]], fee_buy_bps: float,
                fee_sell_bps: float, step: float) -> tuple[float, float]:
    """(net edge bps of the first unit, largest size with a positive net profit) by walking
    both ladders on a grid of sizes: independent of features.cross_venue."""
    fb, fs = fee_buy_bps / 1e4, fee_sell_bps / 1e4
    top = (bids[0][0] * (1 - fs) - asks[0][0] * (1 + fb)) / (asks[0][0] * (1 + fb)) * 1e4

    def walk(levels: list[list[float]], size: float) -> float | None:
        left, total = size, 0.0
        for price, qty in levels:
            take = min(left, qty)
            total += take * price
            left -= take
            if left <= 1e-12:
                return total
        return None

    best = 0.0
    size = step
    while True:
        cost, proceeds = walk(asks, size), walk(bids, size)
        if cost is None or proceeds is None:
            break
        if proceeds * (1 - fs) - cost * (1 + fb) > 0:
            best = size
        size += step
    return top, best


async def arbitrage(http: httpx.AsyncClient) -> dict[str, Any]:
    reply = await http.get("/arbitrage", params={"asset": "BTC"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def exchange(served: ServedApp, venue: str) -> Any:
    assert served.runtime.source is not None
    return served.runtime.source.venues[venue].exchange


async def test_a_dislocation_is_an_opportunity_until_it_ends() -> None:
    # The books are frozen one venue after the other below; on a loaded machine the second
    # pause can land over 500 ms after the first, and the default skew bound would then end the
    # opportunity ("skew") before the dislocation does. The bound has its own test below.
    config = Config(port=0, symbols=MARKETS, max_skew_ms=5_000)
    async with serve_app(config) as served:
        await served.all_live()
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            await asyncio.sleep(2.0)  # a few frames: the venues agree within the fees
            assert (await arbitrage(http))["live"] == []
            reply = await http.post("/control/dislocate",
                                    json={"market": SPOT, "bps": 60, "seconds": 10})
            assert reply.status_code == 200, reply.text
            started = time.monotonic()
            # Spot is 60 bps dear: buy the perpetual, sell Spot.
            deadline = time.monotonic() + 10
            body = await arbitrage(http)
            while not body["live"]:
                assert time.monotonic() < deadline, body
                await asyncio.sleep(0.2)
                body = await arbitrage(http)
            live = body["live"]
            assert [(o["buy"], o["sell"]) for o in live] == [("BTCUSDT", SPOT)], live

            # Freeze both books, let a frame be cut on them, and check the numbers by brute
            # force on the very levels the view walked.
            usdm, spot = exchange(served, "binance-usdm"), exchange(served, "binance-spot")
            await asyncio.gather(asyncio.to_thread(usdm.pause), asyncio.to_thread(spot.pause))
            try:
                await asyncio.sleep(1.5)
                body = await arbitrage(http)
                asks = (await http.get("/book/BTCUSDT", params={"depth": 200})).json()["asks"]
                bids = (await http.get(f"/book/{SPOT}", params={"depth": 200})).json()["bids"]
                row = pair(body, "BTCUSDT", SPOT)
                top, max_size = brute_force(asks, bids, FEES["BTCUSDT"], FEES[SPOT], 0.001)
                assert row["eligible"] and row["skew_ms"] <= config.max_skew_ms
                assert row["net_edge_bps"] == pytest.approx(top, abs=0.01)
                assert 30 < row["net_edge_bps"] < 60  # 60 bps less 15 bps of fees and spreads
                assert max_size > 0
                assert row["max_size"] == pytest.approx(max_size, abs=0.0011)
                assert not pair(body, SPOT, "BTCUSDT")["eligible"]  # the other way loses
                # The best size through POST /simulate (the walk every order quote uses), on
                # the same frozen books, makes the profit the view reports.
                walks = [(await http.post("/simulate", json={
                    "symbol": market, "side": side, "quantity": row["best_size"]})).json()
                    for market, side in (("BTCUSDT", "buy"), (SPOT, "sell"))]
                assert all(w["fully_filled"] for w in walks), walks
                profit = (walks[1]["notional"] * (1 - FEES[SPOT] / 1e4)
                          - walks[0]["notional"] * (1 + FEES["BTCUSDT"] / 1e4))
                assert profit > 0
                assert row["best_profit_usd"] == pytest.approx(profit, rel=1e-6, abs=1e-6)
            finally:
                await asyncio.to_thread(usdm.resume)
                await asyncio.to_thread(spot.resume)

            # It ends with the dislocation, because the edge is gone.
            deadline = time.monotonic() + 20
            body = await arbitrage(http)
            while body["live"]:
                assert time.monotonic() < deadline, body
                await asyncio.sleep(0.2)
                body = await arbitrage(http)
            ended = [o for o in body["recent"] if (o["buy"], o["sell"]) == ("BTCUSDT", SPOT)]
            assert len(ended) == 1 and ended[0]["end_reason"] == "edge", body["recent"]
            assert 7_000 <= ended[0]["duration_ms"] <= 13_000
            assert time.monotonic() - started >= 9
            assert ended[0]["peak_net_edge_bps"] > 0 and ended[0]["peak_size"] > 0


async def test_books_too_far_apart_in_venue_time_are_not_an_opportunity() -> None:
    config = Config(port=0, symbols=MARKETS, max_skew_ms=500)
    async with serve_app(config) as served:
        await served.all_live()
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            spot = exchange(served, "binance-spot")
            # Spot stops moving (its last book event ages); the perpetual is pushed 60 bps
            # down, its book keeps fresh times: a price gap between books a second apart.
            await asyncio.to_thread(spot.pause)
            try:
                await asyncio.sleep(1.0)
                reply = await http.post("/control/dislocate",
                                        json={"market": "BTCUSDT", "bps": -60, "seconds": 30})
                assert reply.status_code == 200, reply.text
                await asyncio.sleep(2.5)
                body = await arbitrage(http)
                row = pair(body, "BTCUSDT", SPOT)
                assert row["net_edge_bps"] > 20 and row["max_size"] > 0
                assert row["skew_ms"] > config.max_skew_ms and not row["eligible"]
                assert body["live"] == [] and body["recent"] == []
                assert body["suppressed_by_skew"] >= 1
            finally:
                await asyncio.to_thread(spot.resume)
            # Spot moves again: the same gap, now between books of the same moment, counts.
            deadline = time.monotonic() + 10
            while not (await arbitrage(http))["live"]:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
            live = (await arbitrage(http))["live"]
            assert [(o["buy"], o["sell"]) for o in live] == [("BTCUSDT", SPOT)]


async def test_asset_socket_snapshot_then_frames_and_bad_input() -> None:
    async with serve_app(Config(port=0, symbols=MARKETS)) as served:
        await served.all_live()
        await asyncio.sleep(1.5)
        async with websockets.connect(f"{served.ws}/ws/asset/btc",
                                      max_size=2**22) as ws:
            snapshot = orjson.loads(await ws.recv())
            assert snapshot["type"] == "asset_snapshot" and snapshot["asset"] == "BTC"
            assert snapshot["history"] and set(snapshot["history"][-1]["mids"]) == set(MARKETS)
            frame = orjson.loads(await ws.recv())
        assert frame["type"] == "asset_frame" and frame["usdt_usd"] == 1.0
        rows = {m["market"]: m for m in frame["markets"]}
        assert set(rows) == set(MARKETS) and all(m["live"] for m in rows.values())
        best = frame["consolidated"]
        assert best["bid"] == max(m["bid"] for m in rows.values())
        assert rows[best["bid_market"]]["bid"] == best["bid"]
        assert best["ask"] == min(m["ask"] for m in rows.values())
        curve = frame["depth_curve"]
        assert len(curve["prices"]) == 41 and set(curve["bids"]) == set(MARKETS)
        assert frame["basis"]["perp"] == "BTCUSDT" and frame["basis"]["spot"] == SPOT
        assert abs(frame["basis"]["bps"]) < 20  # the venues follow one price
        assert len(frame["arbitrage"]) == 6  # every ordered pair of three live markets
        async with httpx.AsyncClient(base_url=served.http, timeout=10) as http:
            assert (await http.get("/arbitrage", params={"asset": "DOGE"})).status_code == 404
            assert (await http.get("/arbitrage")).status_code == 422
            assert (await http.get("/stats24h", params={"market": "nope:X"})).status_code == 404
            bad = await http.post("/control/dislocate", json={"market": SPOT, "bps": 5,
                                                              "seconds": 0})
            assert bad.status_code == 422
            # Where is 0.5 BTC cheapest to buy, after fees? Each venue's walk, in USD.
            reply = await http.post("/simulate", json={
                "symbol": "BTCUSDT", "side": "buy", "quantity": 0.5,
                "venue": ["binance-usdm", "binance-spot", "coinbase"]})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            results = {r["market"]: r for r in body["results"]}
            assert set(results) == set(MARKETS) and body["asset"] == "BTC"
            for r in results.values():
                # The book moved since the frame: compare with the walk's own ends instead.
                assert r["fully_filled"] and r["levels_consumed"] >= 1
                assert abs(r["avg_price_usd"] / rows[r["market"]]["ask"] - 1) < 0.01
                assert r["all_in_price_usd"] == pytest.approx(
                    r["avg_price_usd"] * (1 + r["taker_fee_bps"] / 1e4))
            assert body["cheapest"] == min(results.values(),
                                           key=lambda r: r["all_in_price_usd"])["market"]
            unknown = await http.post("/simulate", json={
                "symbol": "BTCUSDT", "side": "buy", "quantity": 1, "venue": ["kraken"]})
            assert unknown.status_code == 422 and "kraken" in unknown.text
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            async with websockets.connect(f"{served.ws}/ws/asset/DOGE") as ws:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
