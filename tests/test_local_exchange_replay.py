"""Replay of real recordings through the local exchange's sockets, at high speed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from local_exchange import LocalExchange
from local_exchange.recording import group_recordings, iter_messages

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance_usdm"
BTC_0808 = DATA / "hftbacktest_usdm_btcusdt_20240808.gz"
ETH_0808 = DATA / "hftbacktest_usdm_ethusdt_20240808.gz"
BTC_0718 = [DATA / "hftbacktest_usdm_btcusdt_20240718.gz",
            DATA / "hftbacktest_usdm_btcusdt_20240719.gz"]

pytestmark = pytest.mark.skipif(not BTC_0808.exists(), reason="shared recordings not present")


def apply(book: dict[str, dict[str, str]], diff: dict[str, Any]) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for price, qty in diff[key]:
            if float(qty):
                book[side][price] = qty
            else:
                book[side].pop(price, None)


def as_book(snapshot: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {"bids": dict(map(tuple, snapshot["bids"])), "asks": dict(map(tuple, snapshot["asks"]))}


async def collect(ws: Any, sink: list[dict[str, Any]]) -> None:
    async for message in ws:
        sink.append(orjson.loads(message))


async def test_replay_delivers_every_diff_and_consistent_snapshots() -> None:
    recording = group_recordings([BTC_0808])[0]
    recorded = [m.data for m in iter_messages(recording) if m.data["e"] == "depthUpdate"]
    trades = sum(1 for m in iter_messages(recording) if m.data["e"] == "trade")
    exchange = LocalExchange(replay_files=[BTC_0808], speed=1500.0)
    exchange.pause()  # hold the replay clock until the clients are connected
    async with exchange:
        depth: list[dict[str, Any]] = []
        market: list[dict[str, Any]] = []
        async with connect(f"{exchange.ws_url}/public/ws/btcusdt@depth@100ms",
                           max_queue=None) as dws, \
                connect(f"{exchange.ws_url}/market/stream?streams=btcusdt@aggTrade",
                        max_queue=None) as mws, \
                httpx.AsyncClient(base_url=exchange.rest_url) as http:
            readers = [asyncio.create_task(collect(dws, depth)),
                       asyncio.create_task(collect(mws, market))]
            before = (await http.get("/fapi/v1/depth?symbol=BTCUSDT&limit=1000")).json()
            assert recording.snapshot is not None
            assert before["lastUpdateId"] == recording.snapshot["lastUpdateId"]
            exchange.resume()
            while len(depth) < 1000:
                await asyncio.sleep(0.01)
            middle = (await http.get("/fapi/v1/depth?symbol=BTCUSDT&limit=1000")).json()
            await exchange.wait_finished()
            assert exchange.finished
            while len(depth) < len(recorded) or len(market) < trades:
                await asyncio.sleep(0.05)
            final = (await http.get("/fapi/v1/depth?symbol=BTCUSDT&limit=1000")).json()
            info = (await http.get("/fapi/v1/exchangeInfo")).json()
            for task in readers:
                task.cancel()
    assert depth == recorded  # every diff, payload and ids exactly as recorded
    assert {m["stream"] for m in market} == {"btcusdt@aggTrade"}
    assert len(market) == trades  # each recorded trade as the aggTrade of its one fill
    assert {m["data"]["e"] for m in market} == {"aggTrade"}
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT"]
    # The snapshot endpoint is the recorded snapshot advanced by the published diffs.
    assert final["lastUpdateId"] == recorded[-1]["u"]
    ids = {d["u"] for d in recorded}
    assert middle["lastUpdateId"] in ids
    book = as_book(middle)
    for diff in recorded:
        if diff["u"] > middle["lastUpdateId"]:
            apply(book, diff)
    final_book = as_book(final)
    assert {p: book["bids"][p] for p in final_book["bids"]} == final_book["bids"]
    assert {p: book["asks"][p] for p in final_book["asks"]} == final_book["asks"]
    published_id, bids, asks = exchange.published_book("BTCUSDT")
    assert published_id == recorded[-1]["u"] and bids[0][0] < asks[0][0]


async def replay_depth(files: list[Path], streams: str, expected: int) -> list[dict[str, Any]]:
    exchange = LocalExchange(replay_files=files, speed=4000.0)
    exchange.pause()
    async with exchange:
        got: list[dict[str, Any]] = []
        async with connect(f"{exchange.ws_url}/public/stream?streams={streams}",
                           max_queue=None) as ws:
            reader = asyncio.create_task(collect(ws, got))
            exchange.resume()
            await exchange.wait_finished()
            while len(got) < expected:
                await asyncio.sleep(0.05)
            reader.cancel()
    return got


def assert_pu_chains(got: list[dict[str, Any]]) -> None:
    last: dict[str, int] = {}
    for msg in got:
        data = msg["data"]
        if data["s"] in last:
            assert data["pu"] == last[data["s"]]
        last[data["s"]] = data["u"]


async def test_two_symbols_on_one_timeline() -> None:
    got = await replay_depth([ETH_0808, BTC_0808], "btcusdt@depth/ethusdt@depth@500ms",
                             6551 + 6586)
    assert_pu_chains(got)
    assert {m["stream"] for m in got} == {"btcusdt@depth", "ethusdt@depth@500ms"}
    assert sum(1 for m in got if m["data"]["s"] == "ETHUSDT") == 6586
    # Interleaved, not one symbol after the other.
    first_eth = next(i for i, m in enumerate(got) if m["data"]["s"] == "ETHUSDT")
    assert first_eth < 100


async def test_split_recording_is_one_stream() -> None:
    got = await replay_depth(BTC_0718, "btcusdt@depth@100ms", 9022)
    assert len(got) == 9022
    assert_pu_chains(got)  # unbroken across the midnight file split
