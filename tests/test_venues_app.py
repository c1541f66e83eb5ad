"""Three venues side by side in the running app, offline: USDT-M, Spot and Coinbase markets,
each from an embedded exchange speaking its own protocol on its own port and thread. The
Coinbase book equals the Coinbase server's own whenever its flow pauses."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from config import parse_config
from marketdata.markets import COINBASE
from tests.app_harness import serve_app
from tests.client_harness import until

MARKETS = ("BTCUSDT", "binance-spot:BTCUSDT", "coinbase:BTC-USD", "SOLUSDT")
CB = "coinbase:BTC-USD"


async def test_three_venues_live_offline_and_the_coinbase_book_is_exact() -> None:
    config = parse_config(["--symbols", ",".join(MARKETS), "--port", "0"], {})
    async with serve_app(config) as served:
        await served.all_live()
        rt = served.runtime
        server = rt.source.venues[COINBASE].exchange  # type: ignore[union-attr]
        market = rt.engines[CB]
        server.pause()
        try:
            await asyncio.sleep(0.3)  # heartbeats still flow; the book holds still
            published = server.book("BTC-USD")
            await until(lambda: market.book.last_update_id is not None
                        and dict(market.book.bids) == dict(published.bids)
                        and dict(market.book.asks) == dict(published.asks), 10,
                        "the Coinbase book to equal the server's")
        finally:
            server.resume()
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            health = (await http.get("/health")).json()
            assert health["status"] == "ok" and set(health["symbols"]) == set(MARKETS)
            listed = {m["key"]: m for m in (await http.get("/symbols")).json()["symbols"]}
            assert listed[CB]["venue"] == COINBASE and listed[CB]["symbol"] == "BTC-USD"
            assert listed[CB]["step_size"] == 1e-08
            book = (await http.get(f"/book/{CB}", params={"depth": 3})).json()
            assert book["status"] == "live" and len(book["bids"]) == 3
            # A second product joins the open Coinbase connection, and leaves it again.
            started = await http.post("/markets", json={"market": "coinbase:eth-usd"})
            assert started.status_code == 201, started.text
            eth = started.json()["symbol"]
            await until(lambda: rt.engines[eth].status() == "live", 20, "ETH-USD live")
            assert market.status() == "live"  # BTC-USD's book was not disturbed
            assert (await http.delete(f"/markets/{eth}")).status_code == 200
            assert eth not in (await http.get("/health")).json()["symbols"]
            assert "ETH-USD" not in rt.feeds[COINBASE].sync.books
            unlisted = await http.post("/markets", json={"market": "coinbase:BNB-USD"})
            assert unlisted.status_code == 404
        async with websockets.connect(f"{served.ws}/ws/{CB}") as ws:
            json.loads(await asyncio.wait_for(ws.recv(), 10))  # the snapshot
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(3)]
        assert all(f["market"] == CB and f["status"] == "live" for f in frames), \
            [(f["market"], f["status"]) for f in frames]
        assert sum(f["trades"]["count"] for f in frames) > 0  # market_trades reach the state
        assert set(frames[-1]["integrity"]) == set(MARKETS)
