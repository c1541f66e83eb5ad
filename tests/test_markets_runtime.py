"""Markets started and stopped while the app runs (POST /markets, DELETE /markets/{market}),
against the embedded exchange over real sockets: a started market goes live with a book equal
to the exchange's, streams frames, and a stopped one leaves no task, stream, engine or state."""

from __future__ import annotations

import asyncio
import gc
import json

import httpx
import psutil
import pytest
import websockets

from config import Config
from tests.app_harness import serve_app
from tests.client_harness import until


def _depth_streams(served) -> list[str]:  # type: ignore[no-untyped-def]
    feed = served.runtime.feed
    return feed.depth.streams + feed.trades.streams


async def test_start_a_market_live_equal_to_the_exchange_then_stop_it() -> None:
    async with serve_app(Config(port=0, symbols=("BTCUSDT",))) as served:
        await served.all_live()
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            started = await http.post("/markets", json={"market": "binance-usdm:solusdt"})
            assert started.status_code == 201, started.text
            assert started.json()["market"] == "binance-usdm:SOLUSDT"
            rt = served.runtime
            await until(lambda: rt.engines["SOLUSDT"].status() == "live", 30, "SOLUSDT live")
            assert "solusdt@depth@100ms" in _depth_streams(served)
            # Exact: with the exchange's flow paused, the client's book is the published one.
            served.exchange.pause()
            try:
                await until(lambda: rt.engines["SOLUSDT"].book.last_update_id
                            == served.exchange.published_book("SOLUSDT")[0], 10, "caught up")
                u, bids, asks = served.exchange.published_book("SOLUSDT")
                book = rt.engines["SOLUSDT"].book
                assert book.top_bids(len(bids)) == bids and book.top_asks(len(asks)) == asks
            finally:
                served.exchange.resume()
            health = (await http.get("/health")).json()
            assert health["symbols"]["SOLUSDT"]["state"] == "live"
            # Its latencies are measured like a market started with the process.
            metrics = (await http.get("/metrics")).text
            assert 'depthlens_receive_to_applied_seconds_count{symbol="SOLUSDT"}' in metrics
            listed = {m["market"] for m in (await http.get("/symbols")).json()["symbols"]}
            assert listed == {"binance-usdm:BTCUSDT", "binance-usdm:SOLUSDT"}
            async with websockets.connect(f"{served.ws}/ws/binance-usdm:SOLUSDT") as ws:
                snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert snapshot["type"] == "snapshot"
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert frame["symbol"] == "SOLUSDT"
                stopped = await http.delete("/markets/SOLUSDT")
                assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
                # The viewer is told (close 1001) rather than left waiting for frames.
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                except websockets.ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 1001
            assert "SOLUSDT" not in (await http.get("/health")).json()["symbols"]
            assert (await http.get("/book/SOLUSDT")).status_code == 404
            assert not [s for s in _depth_streams(served) if s.startswith("solusdt")]
            assert (await http.get("/book/BTCUSDT")).json()["status"] == "live"


async def test_bad_market_requests_say_why() -> None:
    async with serve_app(Config(port=0, symbols=("BTCUSDT",))) as served:
        await served.all_live()
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            cases = [({"market": "BTCUSDT"}, 409, "already running"),
                     ({"market": "NOPEUSDT"}, 404, "not listed"),
                     ({"market": "kraken:XBTUSD"}, 422, "unknown venue"),
                     ({"market": "coinbase:BNB-USD"}, 404, "not listed"),
                     ({"market": "binance-spot:DOGEUSDT"}, 404, "not listed")]
            for body, status, fragment in cases:
                reply = await http.post("/markets", json=body)
                assert reply.status_code == status and fragment in reply.json()["detail"], \
                    (body, reply.status_code, reply.text)
            assert (await http.post("/markets", json={})).status_code == 422
            reply = await http.delete("/markets/ETHUSDT")
            assert reply.status_code == 404 and "not running" in reply.json()["detail"]
            assert list(served.runtime.engines) == ["BTCUSDT"]


def _subscribed(served, market: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What the venue's feed still subscribes for ``market`` (streams, or Coinbase products)."""
    rt = served.runtime
    venue, _, symbol = market.rpartition(":")
    if venue == "coinbase":
        return [p for p in rt.feeds["coinbase"].products if p == symbol]
    if venue == "binance-spot":
        return [s for s in rt.feeds["binance-spot"].streams.streams
                if s.startswith(symbol.lower())]
    return [s for s in _depth_streams(served) if s.startswith(symbol.lower())]


# One market of each venue, started and stopped beside a market of the same venue that stays
# (so the venue's connection stays open and the cycle is the market's alone). Spot makes fewer
# cycles: its 5,000-level snapshot weighs 250 of the 6,000 a minute, so a hundred starts would
# spend four minutes waiting on the weight budget, as they should.
@pytest.mark.parametrize(("market", "stays", "cycles"), [
    ("XRPUSDT", "BTCUSDT", 100),
    ("binance-spot:SOLUSDT", "binance-spot:BTCUSDT", 10),
    ("coinbase:SOL-USD", "coinbase:BTC-USD", 100),
])
async def test_a_hundred_starts_and_stops_leak_nothing(market: str, stays: str,
                                                       cycles: int) -> None:
    async with serve_app(Config(port=0, symbols=(stays,))) as served:
        await served.all_live()
        rt = served.runtime
        proc = psutil.Process()
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            async def cycle() -> None:
                started = await http.post("/markets", json={"market": market})
                assert started.status_code == 201, started.text
                key = started.json()["symbol"]
                # Up to a minute more when a cycle finds the weight budget spent (Spot's
                # snapshots, plus any resync's): the client then waits for the next minute.
                await until(lambda: rt.engines[key].status() == "live", 90, f"{key} live")
                assert (await http.delete(f"/markets/{market}")).status_code == 200

            for _ in range(5):  # warm-up: caches, first-use allocations
                await cycle()
            gc.collect()
            tasks, sockets = len(asyncio.all_tasks()), len(proc.net_connections())
            rss = proc.memory_info().rss
            for _ in range(cycles):
                await cycle()
            gc.collect()
            await asyncio.sleep(0.5)  # closing sockets finish their handshakes
            assert len(asyncio.all_tasks()) <= tasks
            assert len(proc.net_connections()) <= sockets + 2  # keep-alive HTTP sockets
            kept, gone = (m.removeprefix("binance-usdm:") for m in (stays, market))
            assert list(rt.engines) == list(rt.states) == [kept]
            assert rt.hub.client_count() == 0 and len(rt._engine_tasks) == 1  # noqa: SLF001
            assert _subscribed(served, market) == []
            growth_mb = (proc.memory_info().rss - rss) / 2**20
            assert growth_mb < 20, growth_mb
            metrics = (await http.get("/metrics")).text  # no series of the stopped market
            assert f'symbol="{kept}"' in metrics and f'symbol="{gone}"' not in metrics


async def test_a_spot_market_started_at_runtime_opens_its_venue_and_goes_live() -> None:
    """No Spot market at startup: the first one started opens the Spot venue (its own embedded
    exchange in Spot's dialect); stopping it leaves the USDT-M market alone."""
    async with serve_app(Config(port=0, symbols=("BTCUSDT",))) as served:
        await served.all_live()
        rt = served.runtime
        assert "binance-spot" not in rt.feeds
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            started = await http.post("/markets", json={"market": "binance-spot:ETHUSDT"})
            assert started.status_code == 201, started.text
            key = started.json()["symbol"]
            assert key == "binance-spot:ETHUSDT"
            await until(lambda: rt.engines[key].status() == "live", 30, "spot ETHUSDT live")
            assert rt.engines[key].sync.rules.name == "binance-spot"
            listed = {m["key"] for m in (await http.get("/symbols")).json()["symbols"]}
            assert listed == {"BTCUSDT", key}
            assert (await http.delete(f"/markets/{key}")).status_code == 200
            assert key not in (await http.get("/health")).json()["symbols"]
            assert rt.feeds["binance-spot"].streams.streams == []
            assert (await http.get("/book/BTCUSDT")).json()["status"] == "live"


async def test_a_coinbase_market_started_at_runtime_opens_the_coinbase_venue() -> None:
    """The first Coinbase market opens the venue: the embedded Coinbase server, and one
    connection subscribed to heartbeats only, which the product then joins."""
    async with serve_app(Config(port=0, symbols=("BTCUSDT",))) as served:
        await served.all_live()
        rt = served.runtime
        async with httpx.AsyncClient(base_url=served.http, timeout=30) as http:
            started = await http.post("/markets", json={"market": "coinbase:BTC-USD"})
            assert started.status_code == 201, started.text
            key = started.json()["symbol"]
            await until(lambda: rt.engines[key].status() == "live", 30, "BTC-USD live")
            assert rt.engines[key].book.best_bid() is not None
            assert (await http.delete(f"/markets/{key}")).status_code == 200
            assert list(rt.engines) == ["BTCUSDT"] and rt.feeds["coinbase"].products == []
