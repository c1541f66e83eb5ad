"""Binance's per-connection WebSocket limits, on both sides of the socket.

The local exchange enforces them (USDT-M: 200 streams, 10 incoming messages a second; Spot:
1024 and 5): a connection over the message rate is dropped, a URL or SUBSCRIBE over the stream
count is refused. depthlens's own client keeps under them: a burst of markets started at once
is subscribed within the rate, so the exchange drops nothing.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from data_ingestion.binance.feed import stream_url
from marketdata.clock import SystemClock
from data_ingestion.stream_set import StreamSet
from local_exchange import LocalExchange
from local_exchange.instruments import KNOWN_SPECS
from local_exchange.server import ServerSettings
from tests.test_local_exchange_support import recv_json


@pytest.fixture
async def exchange():  # type: ignore[no-untyped-def]
    async with LocalExchange(["BTCUSDT", "ETHUSDT"], seed=5) as ex:
        yield ex


async def _reply(ws, request_id: int):  # type: ignore[no-untyped-def]
    while True:
        msg = await recv_json(ws)
        if msg.get("id") == request_id:
            return msg


async def test_more_than_ten_messages_a_second_drop_the_connection(
        exchange: LocalExchange) -> None:
    async with connect(f"{exchange.ws_url}/public/ws") as ws:
        for i in range(10):  # ten in a burst: within the limit
            await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
        for i in range(10):
            assert (await _reply(ws, i))["result"] == []
        await asyncio.sleep(1.1)  # a new second
        with pytest.raises(ConnectionClosed) as closed:
            for i in range(11):
                await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
            while True:
                await recv_json(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert exchange.server.rate_limit_drops == 1


KLINES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
          "1M")
# 40 distinct valid stream names on /market.
NAMES = [f"{s}@kline_{i}" for s in ("btcusdt", "ethusdt") for i in KLINES] + [
    f"{s}@{k}" for s in ("btcusdt", "ethusdt")
    for k in ("aggTrade", "trade", "markPrice", "ticker", "miniTicker")]


async def test_stream_count_limit_on_urls_and_subscribe() -> None:
    assert ServerSettings().max_streams == 200  # USDT-M's documented (lower) value
    async with LocalExchange(["BTCUSDT", "ETHUSDT"], seed=5,
                             settings=ServerSettings(max_streams=30)) as exchange:
        async with connect(f"{exchange.ws_url}/market/ws") as ws:
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": NAMES[:20],
                                        "id": 1}).decode())
            assert (await _reply(ws, 1)) == {"result": None, "id": 1}
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": NAMES[20:40],
                                        "id": 2}).decode())
            refused = await _reply(ws, 2)
            assert refused["error"]["code"] == 2 and "40 > 30" in refused["error"]["msg"]
            await ws.send('{"method": "LIST_SUBSCRIPTIONS", "id": 3}')
            assert len((await _reply(ws, 3))["result"]) == 20  # nothing of the refused one
        url = f"{exchange.ws_url}/market/stream?streams=" + "/".join(NAMES[:31])
        async with connect(url) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await recv_json(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        async with connect(f"{exchange.ws_url}/market/stream?streams="
                           + "/".join(NAMES[:30])) as ws:
            assert "stream" in await recv_json(ws)  # at the limit: served


async def test_the_client_subscribes_a_burst_of_markets_within_the_rate() -> None:
    symbols = sorted(KNOWN_SPECS)  # seven listed symbols: 7 SUBSCRIBEs + 7 UNSUBSCRIBEs
    async with LocalExchange(symbols, seed=2) as exchange:
        frames: list[bytes] = []
        streams = StreamSet("depth", lambda s: stream_url(exchange.ws_url, "public", s), 200,
                            lambda frame, _ns: frames.append(frame), None, SystemClock(), None,
                            (0.2, 1.0), max_messages_per_s=5)
        streams.preload([["btcusdt@depth@100ms"]])
        runner = asyncio.create_task(streams.run())
        others = [s for s in symbols if s != "BTCUSDT"]
        try:
            for _ in range(100):
                if streams.sockets and streams.sockets[0].connected:
                    break
                await asyncio.sleep(0.05)
            for _ in range(2):  # 24 control messages in a burst, on one connection
                for symbol in others:
                    await streams.add([f"{symbol.lower()}@depth@100ms"])
                for symbol in others:
                    await streams.remove(symbol)
            await streams.add(["ethusdt@depth@100ms"])
            await asyncio.sleep(0.5)
            frames.clear()
            await asyncio.sleep(0.5)
            got = {orjson.loads(f)["stream"] for f in frames}
            assert got == {"btcusdt@depth@100ms", "ethusdt@depth@100ms"}
            assert len(streams.sockets) == 1 and streams.sockets[0].connects == 1
            assert exchange.server.rate_limit_drops == 0
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
