"""/public vs /market routing, raw vs combined framing, live SUBSCRIBE/UNSUBSCRIBE/LIST."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio.client import connect

from local_exchange import LocalExchange, ServerSettings
from local_exchange.streams import parse_target, route_of
from tests.test_local_exchange_support import RawFrames, recv_json


@pytest.fixture
async def exchange():  # type: ignore[no-untyped-def]
    async with LocalExchange(seed=2) as ex:
        yield ex


def test_parse_target_and_routes() -> None:
    t = parse_target("/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker")
    assert (t.route, t.combined, t.streams) == ("public", True,
                                                ("btcusdt@depth@100ms", "btcusdt@bookTicker"))
    t = parse_target("/market/ws/btcusdt@aggTrade/ethusdt@aggTrade")
    assert (t.route, t.combined, len(t.streams)) == ("market", False, 2)
    assert parse_target("/ws/btcusdt@depth").route == "public"
    assert route_of("btcusdt@bookTicker") == "public" and route_of("btcusdt@aggTrade") == "market"


async def test_market_streams_are_silent_on_public(exchange: LocalExchange) -> None:
    async with connect(f"{exchange.ws_url}/public/ws/btcusdt@aggTrade/btcusdt@depth@100ms") as ws:
        kinds = {(await recv_json(ws))["e"] for _ in range(10)}
    assert kinds == {"depthUpdate"}
    async with connect(f"{exchange.ws_url}/market/ws/btcusdt@depth@100ms/btcusdt@aggTrade") as ws:
        kinds = {(await recv_json(ws))["e"] for _ in range(10)}
    assert kinds == {"aggTrade"}


async def test_combined_wrapper_uses_client_spelling(exchange: LocalExchange) -> None:
    url = f"{exchange.ws_url}/public/stream?streams=ethusdt@bookTicker"
    async with connect(url) as ws:
        msg = await recv_json(ws)
    assert msg["stream"] == "ethusdt@bookTicker"
    assert set(msg["data"]) == {"e", "u", "E", "T", "s", "b", "B", "a", "A"}


async def test_subscribe_unsubscribe_list(exchange: LocalExchange) -> None:
    async with connect(f"{exchange.ws_url}/public/stream") as ws:
        await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"],
                                    "id": 1}).decode())
        assert await recv_json(ws) == {"result": None, "id": 1}
        msg = await recv_json(ws)
        assert msg["stream"] == "btcusdt@depth@100ms" and msg["data"]["e"] == "depthUpdate"
        await ws.send('{"method": "LIST_SUBSCRIPTIONS", "id": 2}')
        reply = await recv_json(ws)
        while "id" not in reply:
            reply = await recv_json(ws)
        assert reply == {"result": ["btcusdt@depth@100ms"], "id": 2}
        await ws.send('{"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 3}')
        reply = await recv_json(ws)
        while "id" not in reply:
            reply = await recv_json(ws)
        assert reply == {"result": None, "id": 3}
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)
        await ws.send("not json")  # Binance's error shape: {"error": {"code", "msg"}, "id"}
        assert (await recv_json(ws))["error"]["code"] == 3


async def test_server_ping_and_max_lifetime() -> None:
    settings = ServerSettings(ping_interval_s=0.2, pong_timeout_s=5, max_lifetime_s=1.5)
    async with LocalExchange(["BTCUSDT"], settings=settings) as ex:
        assert ex.port is not None
        raw = await RawFrames.open(ex.port, "/public/ws/btcusdt@depth@100ms")
        opcodes = []
        while True:
            opcode, payload = await raw.frame()
            opcodes.append(opcode)
            if opcode == 0x8:  # close frame at the max lifetime
                assert int.from_bytes(payload[:2], "big") == 1000
                break
        raw.close()
    assert 0x9 in opcodes and 0x1 in opcodes  # server pings and text frames
