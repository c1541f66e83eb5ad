"""Binance Spot markets beside USDT-M in the running app, offline: each venue's embedded
exchange speaks its own dialect on its own port; spot books equal the spot exchange's own at the
same update id, and every route names them venue:symbol."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from config import parse_config
from marketdata.markets import BINANCE_SPOT
from tests.app_harness import serve_app
from tests.client_harness import until

SPOT_BTC = "binance-spot:BTCUSDT"


async def test_spot_and_usdm_markets_side_by_side() -> None:
    config = parse_config(["--symbols", f"BTCUSDT,{SPOT_BTC}", "--port", "0"], {})
    async with serve_app(config) as served:
        await served.all_live()
        rt = served.runtime
        venues = rt.source.venues  # type: ignore[union-attr]
        assert venues[BINANCE_SPOT].rest_url != venues["binance-usdm"].rest_url
        spot_exchange = venues[BINANCE_SPOT].exchange
        engine = rt.engines[SPOT_BTC]
        assert engine.sync.rules.name == "binance-spot"
        spot_exchange.pause()
        try:
            await asyncio.sleep(0.25)  # the pending batch is still published after a pause
            published_id, bids, asks = spot_exchange.published_book("BTCUSDT")
            await until(lambda: engine.sync.last_applied_u == published_id, 20, "caught up")
            assert dict(engine.book.bids) == dict(bids) and dict(engine.book.asks) == dict(asks)
        finally:
            spot_exchange.resume()
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            health = (await http.get("/health")).json()["symbols"]
            assert set(health) == {"BTCUSDT", SPOT_BTC}
            assert health[SPOT_BTC]["state"] == "live" and health[SPOT_BTC]["gaps"] == 0
            listed = {m["key"]: m for m in (await http.get("/symbols")).json()["symbols"]}
            assert listed[SPOT_BTC]["venue"] == BINANCE_SPOT and listed[SPOT_BTC]["tick_size"] == 0.01
            assert listed["BTCUSDT"]["tick_size"] == 0.1
            spot_book = (await http.get(f"/book/{SPOT_BTC}", params={"depth": 1})).json()
            assert spot_book["status"] == "live" and spot_book["symbol"] == "BTCUSDT"
            # Same symbol, two venues, two books (spot quotes in 0.01 steps).
            futures_book = (await http.get("/book/binance-usdm:BTCUSDT")).json()
            assert futures_book["last_update_id"] != spot_book["last_update_id"]
            sim = await http.post("/simulate", json={"symbol": SPOT_BTC, "side": "buy",
                                                     "quantity": 0.01})
            assert sim.status_code == 200 and sim.json()["filled_qty"] == 0.01
        async with websockets.connect(f"{served.ws}/ws/{SPOT_BTC}") as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert snapshot["market"] == frame["market"] == SPOT_BTC and frame["symbol"] == "BTCUSDT"
        # Its own state, not the USDT-M BTCUSDT's (the venue symbol alone is ambiguous).
        assert frame["status"] == "live" and frame["last_update_id"] > 0
        assert frame["best_bid"] == round(frame["best_bid"], 2)
        assert set(frame["integrity"]) == {"BTCUSDT", SPOT_BTC}
