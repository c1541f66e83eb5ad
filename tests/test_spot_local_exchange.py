"""The Binance Spot client against the local exchange speaking Spot (``dialect="binance-spot"``),
over real sockets, through gaps, duplicates, reorders, disconnects, malformed frames, silent
sockets and REST rate limits: after each its books equal the exchange's own at the same update
id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest
import websockets

from local_exchange import LocalExchange
from marketdata.markets import BINANCE_SPOT
from orderbook.sync import SPOT_RULES
from tests.client_harness import (
    RunningClient,
    assert_book_equals_exchange,
    start_client,
    until,
)

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@pytest.fixture()
async def exchange() -> AsyncIterator[LocalExchange]:
    ex = LocalExchange(SYMBOLS, seed=5, dialect="binance-spot")
    await ex.start()
    yield ex
    await ex.stop()


@pytest.fixture()
async def client(exchange: LocalExchange) -> AsyncIterator[RunningClient]:
    running = await start_client(exchange.rest_url, exchange.ws_url, SYMBOLS,
                                 venue=BINANCE_SPOT)
    yield running
    await running.stop()


async def test_the_exchange_speaks_spot_on_the_wire(exchange: LocalExchange) -> None:
    """What a Spot client sees: /api/v3 REST, no pu/T, U = previous u + 1, unrouted streams
    carrying depth and trades together, M on aggTrades, bookTicker without e/E."""
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        info = (await http.get("/api/v3/exchangeInfo")).json()
        btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
        assert btc["baseAssetPrecision"] == 8 and "contractType" not in btc
        assert {f["filterType"]: f for f in btc["filters"]}["PRICE_FILTER"]["tickSize"] == "0.01"
        depth = (await http.get("/api/v3/depth", params={"symbol": "BTCUSDT",
                                                          "limit": 5000})).json()
        assert set(depth) == {"lastUpdateId", "bids", "asks"}
        assert (await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT"})).status_code == 404
        bad = await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5001})
        assert bad.status_code == 400 and bad.json()["code"] == -1100
    streams = "btcusdt@depth@100ms/btcusdt@aggTrade/btcusdt@bookTicker"
    seen: dict[str, list[dict]] = {"depthUpdate": [], "aggTrade": [], "ticker": []}
    async with websockets.connect(f"{exchange.ws_url}/stream?streams={streams}") as ws:
        while min(len(v) for v in seen.values()) < 3:
            data = orjson.loads(await asyncio.wait_for(ws.recv(), 10))["data"]
            seen[data.get("e", "ticker")].append(data)
    diffs = seen["depthUpdate"]
    assert all("pu" not in d and "T" not in d for d in diffs)
    assert all(b["U"] == a["u"] + 1 for a, b in zip(diffs, diffs[1:]))
    assert all(t["M"] is True for t in seen["aggTrade"])
    assert all(set(t) == {"u", "s", "b", "B", "a", "A"} for t in seen["ticker"])


Fault = Callable[[LocalExchange], object]


@pytest.mark.parametrize("fault, check", [
    (lambda ex: ex.drop_diff("BTCUSDT"),
     lambda c: c.engines["BTCUSDT"].sync.stats.gaps >= 1
     and c.engines["ETHUSDT"].sync.stats.resyncs == 0),
    (lambda ex: ex.duplicate_diff("BTCUSDT"),
     lambda c: c.engines["BTCUSDT"].sync.stats.duplicates >= 1),
    (lambda ex: ex.reorder_diffs("ETHUSDT"),
     lambda c: c.engines["ETHUSDT"].sync.stats.gaps + c.engines["ETHUSDT"].sync.stats.duplicates
     >= 1),
    (lambda ex: ex.disconnect_all(),
     lambda c: c.engines["BTCUSDT"].sync.stats.resyncs >= 1),
    (lambda ex: (ex.rest_rate_limit(1, 1), ex.drop_diff("ETHUSDT")),
     lambda c: c.engines["ETHUSDT"].counters.snapshot_failures >= 1),
    (lambda ex: (ex.malformed_frame("BTCUSDT"), ex.malformed_frame("BTCUSDT", "missing_fields")),
     lambda c: c.feed.malformed_frames >= 2),
    (lambda ex: ex.silence(4.0),  # the client's watchdog drops a socket silent for 3 s
     lambda c: c.feed.sockets[0].silences >= 1),
], ids=["gap", "duplicate", "reorder", "disconnect", "rate-limited-snapshot", "malformed",
        "silent-socket"])
async def test_spot_books_equal_the_exchange_after_each_fault(
        exchange: LocalExchange, client: RunningClient, fault: Fault,
        check: Callable[[RunningClient], bool]) -> None:
    assert all(e.sync.rules is SPOT_RULES for e in client.engines.values())
    await asyncio.sleep(0.5)
    fault(exchange)
    await until(lambda: check(client), 20, "the fault to be seen")
    await asyncio.sleep(0.5)
    for symbol in SYMBOLS:
        await until(lambda s=symbol: client.live(s), 30, f"{symbol} live again")
        await assert_book_equals_exchange(exchange, client, symbol)
