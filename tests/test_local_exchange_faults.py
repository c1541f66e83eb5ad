"""Every fault kind, observed from plain websockets / httpx clients."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from local_exchange import LocalExchange, ServerSettings
from tests.test_local_exchange_support import RawFrames, quiesce, recv_json

DEPTH = "/public/ws/btcusdt@depth@100ms"


@pytest.fixture
async def exchange():  # type: ignore[no-untyped-def]
    settings = ServerSettings(ping_interval_s=None)
    async with LocalExchange(["BTCUSDT"], seed=9, settings=settings) as ex:
        yield ex


async def diffs(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await recv_json(ws) for _ in range(count)]


async def test_drop_is_visible_as_pu_gap(exchange: LocalExchange) -> None:
    async with connect(exchange.ws_url + DEPTH) as ws:
        first = await recv_json(ws)
        exchange.drop_diff("BTCUSDT")
        second = await recv_json(ws)
    assert second["pu"] != first["u"]


async def test_duplicate_diff(exchange: LocalExchange) -> None:
    async with connect(exchange.ws_url + DEPTH) as ws:
        await recv_json(ws)
        exchange.duplicate_diff("BTCUSDT")
        a, b, c = await diffs(ws, 3)
    assert a == b and c["pu"] == a["u"]


async def test_reorder_diffs(exchange: LocalExchange) -> None:
    async with connect(exchange.ws_url + DEPTH) as ws:
        first = await recv_json(ws)
        exchange.reorder_diffs("BTCUSDT")
        a, b = await diffs(ws, 2)
    assert a["pu"] == b["u"] and b["pu"] == first["u"]


async def test_abrupt_disconnect_has_no_close_frame(exchange: LocalExchange) -> None:
    async with connect(exchange.ws_url + DEPTH) as ws:
        await recv_json(ws)
        assert exchange.disconnect_all() == 1
        with pytest.raises(ConnectionClosedError) as info:
            while True:
                await ws.recv()
    assert info.value.rcvd is None  # no close frame received: the TCP connection just died


async def test_silent_socket_keeps_tcp_open(exchange: LocalExchange) -> None:
    assert exchange.port is not None
    raw = await RawFrames.open(exchange.port, DEPTH)
    await raw.frame()
    assert exchange.silence(1.5) == 1
    # Drain what was already handed to the socket, then nothing arrives for a while...
    with pytest.raises(asyncio.TimeoutError):
        while True:
            await raw.frame(timeout=0.5)
    # ...yet the connection is still open and data resumes afterwards.
    opcode, payload = await raw.frame(timeout=10)
    assert opcode == 0x1 and orjson.loads(payload)["e"] == "depthUpdate"
    raw.close()


async def test_rest_429_then_recovers(exchange: LocalExchange) -> None:
    exchange.rest_rate_limit(2, retry_after_s=7)
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        for _ in range(2):
            resp = await http.get("/fapi/v1/depth?symbol=BTCUSDT&limit=5")
            assert resp.status_code == 429 and resp.headers["retry-after"] == "7"
            assert resp.json()["code"] == -1003
        assert (await http.get("/fapi/v1/depth?symbol=BTCUSDT&limit=5")).status_code == 200


async def test_rest_5xx_then_recovers(exchange: LocalExchange) -> None:
    exchange.rest_server_error(1, status=502)
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        resp = await http.get("/fapi/v1/depth?symbol=BTCUSDT")
        assert resp.status_code == 502 and set(resp.json()) == {"code", "msg"}
        assert (await http.get("/fapi/v1/depth?symbol=BTCUSDT")).status_code == 200


async def test_stale_snapshot_is_older_than_published(exchange: LocalExchange) -> None:
    async with connect(exchange.ws_url + DEPTH) as ws:
        events = await diffs(ws, 15)  # > 1 s of publishing: an older state is on record
        exchange.stale_snapshot("BTCUSDT")
        async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
            stale = (await http.get("/fapi/v1/depth?symbol=BTCUSDT&limit=1000")).json()
            fresh = (await http.get("/fapi/v1/depth?symbol=BTCUSDT&limit=1000")).json()
    assert stale["lastUpdateId"] < events[-1]["u"] <= fresh["lastUpdateId"]


@pytest.mark.parametrize("combined", [False, True])
async def test_malformed_frames(exchange: LocalExchange, combined: bool) -> None:
    path = "/public/stream?streams=btcusdt@depth@100ms" if combined else DEPTH
    async with connect(exchange.ws_url + path) as ws:
        await recv_json(ws)
        assert exchange.malformed_frame("BTCUSDT", "invalid_json") == 1
        bad_seen = missing_seen = False
        assert exchange.malformed_frame("BTCUSDT", "missing_fields") == 1
        for _ in range(6):
            text = await asyncio.wait_for(ws.recv(), 10)
            try:
                msg = orjson.loads(text)
            except orjson.JSONDecodeError:
                bad_seen = True
                continue
            data = msg["data"] if combined else msg
            missing_seen |= data["e"] == "depthUpdate" and "U" not in data
    assert bad_seen and missing_seen


async def test_pause_and_resume(exchange: LocalExchange) -> None:
    async with connect(exchange.ws_url + DEPTH) as ws:
        await recv_json(ws)
        final_id = await quiesce(exchange)
        while True:  # drain what was published before the pause took effect
            try:
                event = await asyncio.wait_for(ws.recv(), 0.3)
            except asyncio.TimeoutError:
                break
            assert orjson.loads(event)["u"] <= final_id
        exchange.resume()
        assert (await recv_json(ws))["pu"] == final_id
