"""Published diffs + REST snapshot reproduce the exchange's book, over real sockets."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import orjson
import pytest
from websockets.asyncio.client import connect

from local_exchange import LocalExchange
from tests.test_local_exchange_support import BookFollower, quiesce, recv_json


@pytest.fixture
async def exchange():  # type: ignore[no-untyped-def]
    async with LocalExchange(seed=11) as ex:
        yield ex


@pytest.mark.parametrize("stream", ["depth@100ms", "depth", "depth@500ms"])
async def test_snapshot_plus_diffs_equal_published_book(exchange: LocalExchange,
                                                        stream: str) -> None:
    async with BookFollower(exchange, "BTCUSDT", stream) as btc, \
            BookFollower(exchange, "ETHUSDT", stream) as eth:
        await asyncio.sleep(0.5)  # let some live flow go by, checked by pu on the way
        await quiesce(exchange)
        for follower in (btc, eth):
            final_id, bids, asks = exchange.published_book(follower.symbol)
            await follower.follow_until(final_id)
            assert follower.update_id == final_id
            assert follower.sorted_book() == (bids, asks)
            assert len(follower.events) >= 2
            assert all(b["U"] > a["u"] for a, b in zip(follower.events, follower.events[1:]))


async def test_live_snapshot_straddles_next_diff(exchange: LocalExchange) -> None:
    import httpx

    async with connect(f"{exchange.ws_url}/public/ws/btcusdt@depth@100ms") as ws:
        seen = [await recv_json(ws)]
        async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
            snap = (await http.get("/fapi/v1/depth?symbol=BTCUSDT&limit=1000")).json()
        while True:
            event = seen.pop(0) if seen else await recv_json(ws)
            if event["u"] >= snap["lastUpdateId"]:
                assert event["U"] <= snap["lastUpdateId"] <= event["u"]
                break


async def test_agg_trades_match_book_changes(exchange: LocalExchange) -> None:
    """A scripted market order: its aggTrades equal the level shrinkage in the next diff."""
    async with BookFollower(exchange, "BTCUSDT") as follower:
        final_id = await quiesce(exchange)
        await follower.follow_until(final_id)
        trades_ws = await connect(f"{exchange.ws_url}/market/ws/btcusdt@aggTrade")
        _, bids, asks = exchange.published_book("BTCUSDT")
        sweep = sum(q for _, q in asks[:3]) - 1  # three levels, the third one partly
        assert exchange.submit_market("BTCUSDT", "buy", sweep) == sweep
        trades = [await recv_json(trades_ws) for _ in range(3)]
        diff = await asyncio.wait_for(follower.queue.get(), 10)
        follower.apply_checked(diff)
        await trades_ws.close()
    spec = exchange.spec("BTCUSDT")
    parse_p, parse_q = spec.instrument.prices.parse, spec.instrument.quantities.parse
    taken: dict[int, int] = defaultdict(int)
    for trade in trades:
        assert trade["e"] == "aggTrade" and trade["m"] is False and trade["s"] == "BTCUSDT"
        taken[parse_p(trade["p"])] += parse_q(trade["q"])
    changed = {parse_p(p): parse_q(q) for p, q in diff["a"]}
    assert sorted(taken) == [p for p, _ in asks[:3]]
    for price, qty in asks[:3]:
        assert changed[price] == qty - taken[price]
    assert diff["b"] == []
    assert [t["a"] for t in trades] == sorted(t["a"] for t in trades)


async def test_pu_chain_on_all_speeds_at_once(exchange: LocalExchange) -> None:
    url = (f"{exchange.ws_url}/public/stream?streams="
           "ethusdt@depth@100ms/ethusdt@depth/ethusdt@depth@500ms")
    last: dict[str, int] = {}
    async with connect(url) as ws:
        for _ in range(25):
            msg = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            data = msg["data"]
            if msg["stream"] in last:
                assert data["pu"] == last[msg["stream"]]
            last[msg["stream"]] = data["u"]
    assert set(last) == {"ethusdt@depth@100ms", "ethusdt@depth", "ethusdt@depth@500ms"}


async def test_run_in_thread_and_thread_safe_calls() -> None:
    import httpx

    with LocalExchange(["BTCUSDT"], seed=3).run_in_thread() as ex:
        ex.pause()
        final_id, bids, _ = ex.published_book("BTCUSDT")
        async with httpx.AsyncClient(base_url=ex.rest_url) as http:
            resp = await http.get("/fapi/v1/ping")
        assert resp.status_code == 200 and resp.json() == {}
        assert bids and final_id > 0
        ex.rest_server_error(1)
        async with httpx.AsyncClient(base_url=ex.rest_url) as http:
            resp = await http.get("/fapi/v1/depth?symbol=BTCUSDT")
        assert resp.status_code == 503
